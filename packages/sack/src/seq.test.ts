/** Tests of the package's own sequence number helpers (RFC 1982 serial order, modulo 2^32). */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isUint32, seqAdd, seqDistance, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin, seqSub } from './seq.js'

describe('sequence numbers', () => {
  it('order across 2^32', () => {
    expect(seqLt(0xffffff00, 0x10)).toBe(true)
    expect(seqGt(0x10, 0xffffff00)).toBe(true)
    expect(seqAdd(0xffffff00, 0x110)).toBe(0x10)
    expect(seqAdd(0x10, -0x20)).toBe(0xfffffff0)
    expect(seqSub(0x10, 0xffffff00)).toBe(0x110)
    expect(seqDistance(0x10, 0xffffff00)).toBe(0x110)
    expect(seqMax(0xffffff00, 0x10)).toBe(0x10)
    expect(seqMin(0xffffff00, 0x10)).toBe(0xffffff00)
  })

  it('agree with integer order inside any window narrower than 2^31', () => {
    const uint32 = fc.nat({ max: 0xffffffff })
    fc.assert(
      fc.property(uint32, fc.nat({ max: 2 ** 31 - 1 }), fc.nat({ max: 2 ** 31 - 1 }), (base, x, y) => {
        fc.pre(Math.abs(x - y) < 2 ** 31)
        const a = seqAdd(base, x)
        const b = seqAdd(base, y)
        expect(isUint32(a)).toBe(true)
        expect(seqLt(a, b)).toBe(x < y)
        expect(seqLe(a, b)).toBe(x <= y)
        expect(seqGt(a, b)).toBe(x > y)
        expect(seqGe(a, b)).toBe(x >= y)
        expect(seqSub(a, b)).toBe(x - y)
        expect(seqMax(a, b)).toBe(seqAdd(base, Math.max(x, y)))
        expect(seqMin(a, b)).toBe(seqAdd(base, Math.min(x, y)))
        if (x >= y) expect(seqDistance(a, b)).toBe(x - y)
      }),
    )
  })

  it('recognizes uint32 values', () => {
    expect([0, 1, 0xffffffff].every(isUint32)).toBe(true)
    expect([-1, 2 ** 32, 0.5, Number.NaN].some(isUint32)).toBe(false)
  })
})
