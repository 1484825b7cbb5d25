/** HalfSipHash against the reference implementation's published vectors (veorq/SipHash vectors.h, 12-byte input). */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { halfSipHash, halfSipHash13, halfSipHash13Words, halfSipHash24, halfSipHash24x4, randomHalfSipHashKey } from './half-siphash.js'

// The reference vectors use key 00 01 .. 07 and message 00 01 .. 0b: as little-endian words,
const KEY0 = 0x03020100
const KEY1 = 0x07060504
const WORDS = [0x03020100, 0x07060504, 0x0b0a0908] as const

describe('halfSipHash', () => {
  it('is HalfSipHash-2-4: vectors_hsip32[12] of the reference implementation is 57 f0 87 2f', () => {
    expect(halfSipHash24(KEY0, KEY1, ...WORDS)).toBe(0x2f87f057)
  })

  it('is HalfSipHash-2-4 on 16 bytes too: vectors_hsip32[16] is d9 b5 ac 84', () => {
    expect(halfSipHash24x4(KEY0, KEY1, ...WORDS, 0x0f0e0d0c)).toBe(0x84acb5d9)
  })

  it('is HalfSipHash-1-3: the 12-byte vector of Linux hsiphash self-test', () => {
    expect(halfSipHash13(KEY0, KEY1, ...WORDS)).toBe(1797785964)
  })

  it('takes its rounds as arguments: 2-4 and 1-3 are the named variants, other counts differ', () => {
    expect(halfSipHash(KEY0, KEY1, ...WORDS, 2, 4)).toBe(halfSipHash24(KEY0, KEY1, ...WORDS))
    expect(halfSipHash(KEY0, KEY1, ...WORDS, 1, 3)).toBe(halfSipHash13(KEY0, KEY1, ...WORDS))
    expect(halfSipHash(KEY0, KEY1, ...WORDS, 2, 3)).not.toBe(halfSipHash24(KEY0, KEY1, ...WORDS))
  })

  it('depends on every word and on both key halves', () => {
    const base = halfSipHash24(1, 2, 3, 4, 5)
    for (const changed of [halfSipHash24(0, 2, 3, 4, 5), halfSipHash24(1, 0, 3, 4, 5), halfSipHash24(1, 2, 0, 4, 5), halfSipHash24(1, 2, 3, 0, 5), halfSipHash24(1, 2, 3, 4, 0)]) {
      expect(changed).not.toBe(base)
    }
    expect(base >>> 0).toBe(base)
  })

  it('draws different random keys', () => {
    expect(randomHalfSipHashKey()).not.toEqual(randomHalfSipHashKey())
  })

  it('spreads a port scan from one peer evenly over hash-table buckets (the 1-3 variant, as the flow table uses it)', () => {
    // 65,536 flows differing only in the remote port, into 1024 buckets: about 64 each.
    const buckets = new Int32Array(1024)
    for (let port = 0; port < 65_536; port++) buckets[halfSipHash13(1, 2, 0x0a000001, 0x0a000002, (80 << 16) | port) & 1023]!++
    expect(Math.min(...buckets)).toBeGreaterThan(20)
    expect(Math.max(...buckets)).toBeLessThan(120)
  })
})

describe('HalfSipHash-1-3 over any number of words (halfSipHash13Words)', () => {
  it('hashes a three-word message exactly as halfSipHash13', () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), (k0, k1, a, b, c) => {
        expect(halfSipHash13Words(k0, k1, Uint32Array.of(a, b, c), 3)).toBe(halfSipHash13(k0, k1, a, b, c))
      }),
    )
  })

  it('depends on the key and on the length, and reads only `count` words', () => {
    const words = new Int32Array(9)
    const one = halfSipHash13Words(1, 2, words, 1)
    expect(halfSipHash13Words(1, 2, words, 2)).not.toBe(one)
    expect(halfSipHash13Words(1, 3, words, 1)).not.toBe(one)
    words[1] = 7
    expect(halfSipHash13Words(1, 2, words, 1)).toBe(one)
  })
})
