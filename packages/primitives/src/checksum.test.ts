import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { foldChecksum, internetChecksum, ipv4PseudoHeaderSum, onesComplementSum, updateChecksum } from './checksum.js'

/** Reference: RFC 1071 §4.1 word by word, folding as it goes. */
function referenceChecksum(bytes: Uint8Array): number {
  let sum = 0
  for (let i = 0; i < bytes.length; i += 2) {
    sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0)
    sum = (sum & 0xffff) + (sum >>> 16)
  }
  return ~sum & 0xffff
}

describe('Internet checksum (RFC 1071)', () => {
  it('matches the RFC 1071 §3 numerical example', () => {
    const bytes = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7)
    expect(onesComplementSum(bytes)).toBe(0x2ddf0)
    expect(foldChecksum(0x2ddf0)).toBe(0xddf2)
    expect(internetChecksum(bytes)).toBe(0x220d)
  })

  it('pads an odd last byte with zero on the right', () => {
    expect(onesComplementSum(Uint8Array.of(0x12, 0x34, 0x56))).toBe(0x1234 + 0x5600)
  })

  it('agrees with a word-by-word reference on arbitrary bytes and offsets', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const offset = bytes.length === 0 ? 0 : a % bytes.length
        const length = (bytes.length - offset === 0 ? 0 : b % (bytes.length - offset + 1))
        const expected = referenceChecksum(bytes.subarray(offset, offset + length))
        expect(internetChecksum(bytes, offset, length)).toBe(expected)
        expect(internetChecksum(bytes.subarray(offset), 0, length)).toBe(expected)
      }),
    )
  })

  it('is incremental: sums of even-length ranges add up to the sum of the whole', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), (bytes, cut) => {
        const split = (cut % (bytes.length + 1)) & ~1
        const first = onesComplementSum(bytes, 0, split)
        const both = onesComplementSum(bytes, split, bytes.length - split, first)
        expect(foldChecksum(both)).toBe(foldChecksum(onesComplementSum(bytes)))
      }),
    )
  })

  it('folds sums far beyond 32 bits exactly', () => {
    const big = new Uint8Array(1 << 20).fill(0xff)
    expect(internetChecksum(big)).toBe(0) // 0xffff words: the folded sum is 0xffff
    expect(foldChecksum(0xffff * 2 ** 33)).toBe(0xffff)
  })

  it('updates a checksum for one changed word as recomputing would (RFC 1624)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 64 }), fc.nat(), fc.integer({ min: 0, max: 0xffff }), (data, at, word) => {
        const bytes = data.length % 2 === 0 ? data : data.subarray(0, data.length - 1)
        const i = (at % (bytes.length / 2)) * 2
        const before = internetChecksum(bytes)
        const oldWord = (bytes[i]! << 8) | bytes[i + 1]!
        bytes[i] = word >>> 8
        bytes[i + 1] = word & 0xff
        const after = internetChecksum(bytes)
        // 0x0000 and 0xffff are the two zeros of one's complement: compare modulo 0xffff.
        expect(updateChecksum(before, oldWord, word) % 0xffff).toBe(after % 0xffff)
      }),
    )
  })
})
