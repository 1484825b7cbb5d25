/** Tests of the SACK option codec: golden bytes from a Linux capture, every error code, and properties. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SackError } from './errors.js'
import { capturedFrames, capturedTcp } from './fixtures/captured-frames.js'
import { MAX_SACK_BLOCKS, maxSackBlocks, sackOptionLength, type SackBlock } from './sack-block.js'
import { decodeSackOption, encodeSackOption } from './sack-option.js'

const hex = (bytes: Uint8Array): string => Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
const fromHex = (text: string): Uint8Array => Uint8Array.from(text.match(/../g) ?? [], (byte) => Number.parseInt(byte, 16))

describe('decodeSackOption', () => {
  it('decodes the SACK option of a captured Linux ACK (golden bytes)', () => {
    const sackAck = capturedTcp(capturedFrames.sackAck)
    expect(sackAck.ack).toBe(1425594855)
    expect(sackAck.sackAt).toBe(14) // after NOP NOP timestamps and NOP NOP
    // tshark: tcp.options.sack_le 1425594875, tcp.options.sack_re 1425594894
    expect(decodeSackOption(sackAck.options, sackAck.sackAt, sackAck.options.length - sackAck.sackAt)).toEqual([
      { left: 1425594875, right: 1425594894 },
    ])
  })

  it('decodes every block in order, and reads no byte past the option', () => {
    // RFC 2018 §7 case 3 after the 7th segment: 8000-8500, 7000-7500, 6000-6500, then trailing bytes.
    const bytes = fromHex('ff051a00001f400000213400001b5800001d4c0000177000001964ffff')
    expect(decodeSackOption(bytes, 1)).toEqual([
      { left: 8000, right: 8500 },
      { left: 7000, right: 7500 },
      { left: 6000, right: 6500 },
    ])
    expect(decodeSackOption(bytes, 1, 26)).toEqual(decodeSackOption(bytes, 1))
  })

  it('decodes four blocks (34 bytes, the most 40 option bytes hold)', () => {
    const bytes = fromHex(`0522${'00000001000000ff'.repeat(4)}`)
    const blocks = decodeSackOption(bytes)
    expect(blocks).toHaveLength(4)
  })

  it.each([
    ['no bytes', '', 0, 'TRUNCATED'],
    ['a kind byte only', '05', 0, 'TRUNCATED'],
    ['a length running past the bytes given', '050a00000001000000', 0, 'TRUNCATED'], // 10 declared, 9 given
    ['another kind', '080a00000001000000020000', 0, 'BAD_KIND'],
    ['length 2 (no block)', '0502', 0, 'BAD_LENGTH'],
    ['length 9', '0509000000010000000200', 0, 'BAD_LENGTH'],
    ['length 11', '050b000000010000000200', 0, 'BAD_LENGTH'],
    ['length 0', '0500', 0, 'BAD_LENGTH'],
    ['length 42 (5 blocks)', `052a${'0000000100000002'.repeat(5)}`, 0, 'TOO_MANY_BLOCKS'],
    ['length 250', `05fa${'00'.repeat(248)}`, 0, 'TOO_MANY_BLOCKS'],
  ])('returns an error for %s', (_name, text, offset, code) => {
    const result = decodeSackOption(fromHex(text), offset)
    expect(result).toBeInstanceOf(SackError)
    expect((result as SackError).code).toBe(code)
    expect(String(result)).toMatch(new RegExp(`^SACK ${code}: `))
  })

  it('returns TRUNCATED, never throws, for offsets and lengths outside the bytes', () => {
    const bytes = fromHex('050a0000000100000002')
    for (const [offset, length] of [
      [-1, 10],
      [11, 0],
      [0, -1],
      [0.5, 10],
      [0, Number.NaN],
      [9, 10],
    ] as const) {
      const result = decodeSackOption(bytes, offset, length)
      expect(result).toBeInstanceOf(SackError)
      expect((result as SackError).code).toBe('TRUNCATED')
    }
    expect((decodeSackOption(bytes, 0, 9) as SackError).code).toBe('TRUNCATED') // the length given is the bound
  })

  it('never throws on arbitrary bytes, offsets and lengths', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), fc.integer({ min: -4, max: 52 }), fc.integer({ min: -4, max: 52 }), (bytes, offset, length) => {
        const result = decodeSackOption(bytes, offset, length)
        if (result instanceof SackError) return
        expect(result.length).toBeGreaterThanOrEqual(1)
        expect(result.length).toBeLessThanOrEqual(MAX_SACK_BLOCKS)
        expect(bytes[offset]).toBe(5)
        expect(bytes[offset + 1]).toBe(2 + 8 * result.length)
        expect(2 + 8 * result.length).toBeLessThanOrEqual(length)
        for (const block of result) {
          expect(block.left >>> 0).toBe(block.left)
          expect(block.right >>> 0).toBe(block.right)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('decodes a valid option within arbitrary surrounding bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8 }), fc.integer({ min: 1, max: 4 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (prefix, count, body) => {
        const bytes = new Uint8Array(prefix.length + 2 + 8 * count + 3)
        bytes.set(prefix)
        bytes[prefix.length] = 5
        bytes[prefix.length + 1] = 2 + 8 * count
        bytes.set(body.subarray(0, 8 * count), prefix.length + 2)
        const blocks = decodeSackOption(bytes, prefix.length)
        expect(blocks).not.toBeInstanceOf(SackError)
        const reencoded = new Uint8Array(2 + 8 * count)
        expect(encodeSackOption(blocks as SackBlock[], reencoded, 0)).toBe(2 + 8 * count)
        expect(hex(reencoded)).toBe(hex(bytes.subarray(prefix.length, prefix.length + 2 + 8 * count)))
      }),
    )
  })
})

describe('encodeSackOption', () => {
  it('writes the bytes Linux sent (golden), touching nothing around them', () => {
    const sackAck = capturedTcp(capturedFrames.sackAck)
    const buffer = new Uint8Array(14).fill(0xa5)
    const written = encodeSackOption([{ left: 1425594875, right: 1425594894 }], buffer, 2, maxSackBlocks(true))
    expect(written).toBe(10)
    expect(hex(buffer)).toBe(`a5a5${hex(sackAck.options.subarray(sackAck.sackAt, sackAck.sackAt + 10))}a5a5`)
    expect(hex(buffer.subarray(2, 12))).toBe('050a54f8d9fb54f8da0e')
  })

  it('writes edges across 2^32 as unsigned big-endian', () => {
    const buffer = new Uint8Array(10)
    encodeSackOption([{ left: 0xfffffe0c, right: 0x000001f4 }], buffer)
    expect(hex(buffer)).toBe('050afffffe0c000001f4')
  })

  it('writes at most maxBlocks blocks, the first ones (most recent first, RFC 2018 §4)', () => {
    const blocks = [1, 2, 3, 4, 5].map((n) => ({ left: n * 1000, right: n * 1000 + 500 }))
    const buffer = new Uint8Array(40).fill(0xa5)
    expect(encodeSackOption(blocks, buffer, 0, maxSackBlocks(true))).toBe(26)
    expect(buffer[1]).toBe(26)
    expect(buffer[26]).toBe(0xa5)
    expect(decodeSackOption(buffer, 0)).toEqual(blocks.slice(0, 3))
    expect(encodeSackOption(blocks, buffer, 0, maxSackBlocks(false))).toBe(34)
    expect(decodeSackOption(buffer, 0)).toEqual(blocks.slice(0, 4))
    expect(encodeSackOption(blocks, buffer)).toBe(34) // default: 4
  })

  it('writes nothing for no blocks or maxBlocks 0', () => {
    const buffer = new Uint8Array(4).fill(0xa5)
    expect(encodeSackOption([], buffer, 0, 3)).toBe(0)
    expect(encodeSackOption([{ left: 1, right: 2 }], buffer, 0, 0)).toBe(0)
    expect(hex(buffer)).toBe('a5a5a5a5')
  })

  it('throws ERR_BUFFER_TOO_SMALL when the option does not fit', () => {
    const block = [{ left: 1, right: 2 }]
    expect(() => encodeSackOption(block, new Uint8Array(9))).toThrowError(expect.objectContaining({ code: 'ERR_BUFFER_TOO_SMALL' }))
    expect(() => encodeSackOption(block, new Uint8Array(12), 3)).toThrowError(/needs 10 bytes at offset 3, but the buffer holds 12/)
    expect(() => encodeSackOption(block, new Uint8Array(12), -1)).toThrowError(expect.objectContaining({ code: 'ERR_BUFFER_TOO_SMALL' }))
  })

  it('throws ERR_INVALID_ARG for maxBlocks out of [0, 4] and edges that are not uint32', () => {
    const buffer = new Uint8Array(40)
    for (const maxBlocks of [-1, 5, 1.5, Number.NaN]) {
      expect(() => encodeSackOption([{ left: 1, right: 2 }], buffer, 0, maxBlocks)).toThrowError(
        expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringMatching(/^maxBlocks must be an integer in \[0, 4\]/) }),
      )
    }
    for (const block of [{ left: -1, right: 2 }, { left: 1, right: 2 ** 32 }, { left: 0.5, right: 2 }]) {
      expect(() => encodeSackOption([block], buffer)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
    }
  })

  it('round-trips any 1 to 4 blocks of uint32 edges', () => {
    const block = fc.record({ left: fc.nat({ max: 0xffffffff }), right: fc.nat({ max: 0xffffffff }) })
    fc.assert(
      fc.property(fc.array(block, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 4 }), fc.nat({ max: 6 }), (blocks, maxBlocks, offset) => {
        const buffer = new Uint8Array(offset + 40).fill(0xa5)
        const written = encodeSackOption(blocks, buffer, offset, maxBlocks)
        const count = Math.min(blocks.length, maxBlocks)
        expect(written).toBe(sackOptionLength(count))
        expect(decodeSackOption(buffer, offset, written)).toEqual(blocks.slice(0, count))
        expect(buffer.subarray(offset + written).every((byte) => byte === 0xa5)).toBe(true)
        expect(buffer.subarray(0, offset).every((byte) => byte === 0xa5)).toBe(true)
      }),
    )
  })
})

describe('option space', () => {
  it('fits 3 blocks with timestamps and 4 without (RFC 2018 §3)', () => {
    expect(maxSackBlocks(true)).toBe(3)
    expect(maxSackBlocks(false)).toBe(4)
    // 40 option bytes: timestamps take 10 + 2 of padding, NOP NOP + SACK of 3 blocks take 28.
    expect(12 + 2 + sackOptionLength(maxSackBlocks(true))).toBeLessThanOrEqual(40)
    expect(12 + 2 + sackOptionLength(maxSackBlocks(true) + 1)).toBeGreaterThan(40)
    expect(sackOptionLength(maxSackBlocks(false))).toBeLessThanOrEqual(40)
    expect([0, 1, 2, 3, 4].map(sackOptionLength)).toEqual([0, 10, 18, 26, 34])
  })
})
