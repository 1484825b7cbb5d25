import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { WireError } from './errors.js'
import { bytesAt, capturedFrame, filled, framesWhere, numberField } from './fixtures/frame-helpers.js'
import type { CapturedFrame } from './fixtures/captured-frames.js'
import {
  emitTcpOptions,
  MAX_SACK_BLOCKS,
  parseTcpOptions,
  type SackBlock,
  TCP_MAX_OPTIONS_LENGTH,
  type TcpOptions,
  tcpOptionsLength,
} from './tcp-options.js'

/** The options bytes of a captured TCP frame (IPv4 header of 20 bytes). */
function optionsOf(frame: CapturedFrame): Uint8Array {
  const segment = bytesAt(frame).subarray(34)
  return segment.subarray(20, (segment[12]! >>> 4) * 4)
}

/** The options as tshark decoded them. */
function tsharkOptions(frame: CapturedFrame): TcpOptions {
  const t = frame.tshark
  const lefts = t['tcp.options.sack_le']?.split(',').map(Number) ?? []
  const rights = t['tcp.options.sack_re']?.split(',').map(Number) ?? []
  return {
    mss: t['tcp.options.mss_val'] === undefined ? undefined : Number(t['tcp.options.mss_val']),
    windowScale: t['tcp.options.wscale.shift'] === undefined ? undefined : Number(t['tcp.options.wscale.shift']),
    sackPermitted: t['tcp.options.sack_perm'] !== undefined,
    sackBlocks: lefts.map((left, i) => ({ left, right: rights[i]! })),
    timestamp:
      t['tcp.options.timestamp.tsval'] === undefined
        ? undefined
        : { tsVal: Number(t['tcp.options.timestamp.tsval']), tsEcr: Number(t['tcp.options.timestamp.tsecr']) },
  }
}

function code(bytes: number[]): string | undefined {
  const result = parseTcpOptions(Uint8Array.from(bytes))
  return result instanceof WireError ? result.code : undefined
}

const tcpFrames = framesWhere((frame) => frame.tshark['tcp.srcport'] !== undefined)

describe('TCP options', () => {
  it('parses the options of every captured segment as tshark decoded them and writes the same bytes', () => {
    for (const frame of tcpFrames) {
      const bytes = optionsOf(frame)
      const options = parseTcpOptions(bytes)
      expect(options, frame.name).toEqual(tsharkOptions(frame))
      expect(tcpOptionsLength(options as TcpOptions)).toBe(bytes.length)
      const out = filled(bytes.length + 2)
      expect(emitTcpOptions(options as TcpOptions, out, 1)).toBe(bytes.length)
      expect(out.subarray(1, 1 + bytes.length), frame.name).toEqual(bytes)
      expect([out[0], out[1 + bytes.length]]).toEqual([0xa5, 0xa5])
    }
  })

  it('reads the SYN options Linux sends: MSS, SACK-permitted, timestamps, window scale', () => {
    const syn = capturedFrame('syn')
    expect(parseTcpOptions(optionsOf(syn))).toEqual({
      mss: 1460,
      windowScale: numberField(syn, 'tcp.options.wscale.shift'),
      sackPermitted: true,
      sackBlocks: [],
      timestamp: { tsVal: numberField(syn, 'tcp.options.timestamp.tsval'), tsEcr: 0 },
    })
  })

  it('reads the SACK block of the captured duplicate ACK and the D-SACK block after it (RFC 2018, RFC 2883)', () => {
    for (const name of ['sackAck', 'dsackAck']) {
      const frame = capturedFrame(name)
      const options = parseTcpOptions(optionsOf(frame)) as TcpOptions
      expect(options.sackBlocks).toEqual([
        { left: numberField(frame, 'tcp.options.sack_le'), right: numberField(frame, 'tcp.options.sack_re') },
      ])
    }
  })

  it('uses a window scale above 14 as 14 (RFC 7323 §2.3)', () => {
    expect(parseTcpOptions(Uint8Array.of(1, 3, 3, 15))).toMatchObject({ windowScale: 14 })
    expect(parseTcpOptions(Uint8Array.of(1, 3, 3, 255))).toMatchObject({ windowScale: 14 })
    expect(parseTcpOptions(Uint8Array.of(1, 3, 3, 14))).toMatchObject({ windowScale: 14 })
  })

  it('skips unknown options by their length and stops at End of Option List', () => {
    expect(parseTcpOptions(Uint8Array.of(30, 6, 9, 9, 9, 9, 2, 4, 0x05, 0xb4))).toMatchObject({ mss: 1460 })
    expect(parseTcpOptions(Uint8Array.of(254, 2, 1, 1, 4, 2))).toMatchObject({ sackPermitted: true })
    // After EOL the rest is padding, even if it looks like a broken option.
    expect(parseTcpOptions(Uint8Array.of(2, 4, 0x05, 0xb4, 0, 8, 1, 0))).toMatchObject({ mss: 1460 })
    expect(parseTcpOptions(new Uint8Array(0))).toEqual({
      mss: undefined,
      windowScale: undefined,
      sackPermitted: false,
      sackBlocks: [],
      timestamp: undefined,
    })
  })

  it('reads 1 to 4 SACK blocks', () => {
    for (let n = 1; n <= 4; n++) {
      const bytes = [5, 2 + 8 * n]
      for (let b = 0; b < n; b++) bytes.push(0, 0, 0, 2 * b, 0, 0, 0, 2 * b + 1)
      const options = parseTcpOptions(Uint8Array.from(bytes)) as TcpOptions
      expect(options.sackBlocks?.map((block) => block.left)).toEqual([0, 2, 4, 6].slice(0, n))
    }
  })

  describe('reports BAD_OPTION, never throws, for malformed options', () => {
    it.each([
      ['a kind with no length byte', [1, 1, 2]],
      ['length 0', [30, 0, 1, 1]],
      ['length 1', [30, 1, 1, 1]],
      ['an option running past the header', [8, 10, 0, 0, 0, 0]],
      ['an unknown option running past the header', [1, 30, 4, 0]],
      ['MSS of length 3', [2, 3, 5, 0]],
      ['window scale of length 4', [3, 4, 7, 0]],
      ['SACK-permitted of length 3', [4, 3, 0, 0]],
      ['timestamps of length 8', [8, 8, 0, 0, 0, 0, 0, 0]],
      ['SACK with no block', [5, 2, 1, 1]],
      ['SACK of length 6', [5, 6, 0, 0, 0, 0]],
      ['SACK of length 11', [5, 11, ...new Array<number>(9).fill(0)]],
      ['SACK of 5 blocks', [5, 42, ...new Array<number>(40).fill(0)]],
    ])('%s', (_, bytes) => {
      expect(code(bytes)).toBe('BAD_OPTION')
    })
  })

  it('lays options out on 32-bit boundaries, fitting as many SACK blocks as room allows (RFC 2018 §3)', () => {
    const blocks: SackBlock[] = [1, 2, 3, 4].map((n) => ({ left: n * 100, right: n * 100 + 50 }))
    const timestamp = { tsVal: 1, tsEcr: 2 }
    expect(tcpOptionsLength({})).toBe(0)
    expect(tcpOptionsLength({ sackPermitted: true })).toBe(4)
    expect(tcpOptionsLength({ sackBlocks: blocks })).toBe(36)
    expect(tcpOptionsLength({ timestamp, sackBlocks: blocks })).toBe(12 + 4 + 3 * 8)
    expect(tcpOptionsLength({ mss: 1460, sackPermitted: true, timestamp, windowScale: 7, sackBlocks: blocks })).toBe(20 + 4 + 2 * 8)
    expect(tcpOptionsLength({ timestamp, sackBlocks: blocks }, 24)).toBe(12 + 4 + 8)
    expect(tcpOptionsLength({ timestamp, sackBlocks: blocks }, 12)).toBe(12)
    const out = filled(40)
    const length = emitTcpOptions({ timestamp, sackBlocks: blocks }, out)
    expect((parseTcpOptions(out.subarray(0, length)) as TcpOptions).sackBlocks).toEqual(blocks.slice(0, 3))
    expect(() => emitTcpOptions({ sackBlocks: blocks }, new Uint8Array(35))).toThrowError(
      expect.objectContaining({ code: 'ERR_BUFFER_TOO_SMALL' }),
    )
  })

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 48 }), (bytes) => {
        parseTcpOptions(bytes)
      }),
      { numRuns: 2000 },
    )
    // Bytes built from plausible option kinds reach the length checks far more often.
    const plausible = fc.array(fc.constantFrom(0, 1, 2, 3, 4, 5, 8, 10, 18, 34, 30, 255), { maxLength: 40 }).map((a) => Uint8Array.from(a))
    fc.assert(
      fc.property(plausible, (bytes) => {
        parseTcpOptions(bytes)
      }),
      { numRuns: 2000 },
    )
  })

  it('round-trips arbitrary options', () => {
    const uint32 = fc.integer({ min: 0, max: 0xffff_ffff })
    const options = fc.record({
      // An MSS of 0 is written and read as no option (tcp-options.ts: as Linux, it cannot be honoured).
      mss: fc.option(fc.integer({ min: 1, max: 0xffff }), { nil: undefined }),
      windowScale: fc.option(fc.integer({ min: 0, max: 14 }), { nil: undefined }),
      sackPermitted: fc.option(fc.boolean(), { nil: undefined }),
      sackBlocks: fc.option(fc.array(fc.record({ left: uint32, right: uint32 }), { maxLength: 5 }), { nil: undefined }),
      timestamp: fc.option(fc.record({ tsVal: uint32, tsEcr: uint32 }), { nil: undefined }),
    })
    fc.assert(
      fc.property(options, fc.nat(4), (sent: TcpOptions, offset) => {
        const out = filled(offset + TCP_MAX_OPTIONS_LENGTH)
        const length = emitTcpOptions(sent, out, offset)
        expect(length % 4).toBe(0)
        expect(length).toBeLessThanOrEqual(TCP_MAX_OPTIONS_LENGTH)
        const received = parseTcpOptions(out.subarray(offset, offset + length)) as TcpOptions
        const room = (TCP_MAX_OPTIONS_LENGTH - (length - (received.sackBlocks!.length === 0 ? 0 : 4 + 8 * received.sackBlocks!.length)) - 4) >> 3
        const expectedBlocks = (sent.sackBlocks ?? []).slice(0, Math.max(0, Math.min(MAX_SACK_BLOCKS, room)))
        expect(received).toEqual({
          mss: sent.mss,
          windowScale: sent.windowScale,
          sackPermitted: sent.sackPermitted ?? false,
          sackBlocks: expectedBlocks,
          timestamp: sent.timestamp,
        })
      }),
    )
  })
})

describe('an MSS option of 0', () => {
  it('reads as no MSS, and is not written (Linux ignores it; RFC 9293 §3.7.1 then applies the default)', () => {
    expect((parseTcpOptions(Uint8Array.of(2, 4, 0, 0)) as TcpOptions).mss).toBeUndefined()
    expect(tcpOptionsLength({ mss: 0 })).toBe(0)
  })
})
