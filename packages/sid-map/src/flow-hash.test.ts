/** Tests of the 4-tuple hash: the HalfSipHash-1-3 reference vector, field and key sensitivity, spread. */
import { describe, expect, it } from 'vitest'
import { flowHash, randomHashKey } from './flow-hash.js'

describe('flowHash', () => {
  it('is HalfSipHash-1-3: matches the reference vector for the 12 bytes 00..0b under key 00..07', () => {
    // Reference 32-bit-output vector for 12-byte input (veorq/SipHash, as used by Linux's hsiphash self-test).
    expect(flowHash(0x03020100, 0x07060504, 0x03020100, 0x07060504, 0x0b0a0908)).toBe(1797785964)
  })

  it('depends on every field and on the key', () => {
    const key0 = 0x12345678
    const key1 = 0x9abcdef0
    const base = flowHash(key0, key1, 0x0a000001, 0x0a000002, (80 << 16) | 49152)
    expect(flowHash(key0, key1, 0x0a000003, 0x0a000002, (80 << 16) | 49152)).not.toBe(base) // local address
    expect(flowHash(key0, key1, 0x0a000001, 0x0a000004, (80 << 16) | 49152)).not.toBe(base) // remote address
    expect(flowHash(key0, key1, 0x0a000001, 0x0a000002, (81 << 16) | 49152)).not.toBe(base) // local port
    expect(flowHash(key0, key1, 0x0a000001, 0x0a000002, (80 << 16) | 49153)).not.toBe(base) // remote port
    expect(flowHash(key0 ^ 1, key1, 0x0a000001, 0x0a000002, (80 << 16) | 49152)).not.toBe(base)
    expect(flowHash(key0, key1 ^ 1, 0x0a000001, 0x0a000002, (80 << 16) | 49152)).not.toBe(base)
    // Swapping the two addresses is a different flow.
    expect(flowHash(key0, key1, 0x0a000002, 0x0a000001, (80 << 16) | 49152)).not.toBe(base)
  })

  it('spreads a port scan from one peer evenly over buckets', () => {
    // 65,536 flows differing only in the remote port, into 1024 buckets: about 64 each.
    const buckets = new Int32Array(1024)
    for (let port = 0; port < 65_536; port++) buckets[flowHash(1, 2, 0x0a000001, 0x0a000002, (80 << 16) | port) & 1023]!++
    expect(Math.min(...buckets)).toBeGreaterThan(20)
    expect(Math.max(...buckets)).toBeLessThan(120)
  })

  it('draws a random key', () => {
    const [a0, a1] = randomHashKey()
    const [b0, b1] = randomHashKey()
    expect(a0 >>> 0).toBe(a0)
    expect(a1 >>> 0).toBe(a1)
    expect([a0, a1]).not.toEqual([b0, b1])
  })
})
