import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { inWindow, seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin, seqSub } from './seq.js'

const uint32 = fc.integer({ min: 0, max: 0xffff_ffff })
/** Distances that have a defined order: (-2^31, 2^31). */
const distance = fc.integer({ min: -(2 ** 31) + 1, max: 2 ** 31 - 1 })
/** Values near the wrap, where bugs hide. */
const nearWrap = fc.oneof(uint32, fc.integer({ min: 0xffff_ff00, max: 0xffff_ffff }), fc.integer({ min: 0, max: 0xff }))

describe('sequence arithmetic modulo 2^32', () => {
  it('wraps at 2^32', () => {
    expect(seqAdd(0xffff_ffff, 1)).toBe(0)
    expect(seqAdd(0, -1)).toBe(0xffff_ffff)
    expect(seqSub(0, 0xffff_ffff)).toBe(1)
    expect(seqSub(0xffff_ffff, 0)).toBe(-1)
    expect(seqLt(0xffff_fff0, 0x10)).toBe(true)
    expect(seqGt(0x10, 0xffff_fff0)).toBe(true)
    expect(seqMax(0xffff_fff0, 0x10)).toBe(0x10)
    expect(seqMin(0xffff_fff0, 0x10)).toBe(0xffff_fff0)
  })

  it('seqAdd returns a uint32 and seqSub undoes it', () => {
    fc.assert(
      fc.property(nearWrap, distance, (a, n) => {
        const b = seqAdd(a, n)
        expect(Number.isInteger(b) && b >= 0 && b <= 0xffff_ffff).toBe(true)
        expect(seqSub(b, a)).toBe(n)
        expect(seqSub(a, b)).toBe(n === 0 ? 0 : -n)
      }),
    )
  })

  it('orders a before a + n for 0 < n < 2^31, across the wrap', () => {
    fc.assert(
      fc.property(nearWrap, fc.integer({ min: 1, max: 2 ** 31 - 1 }), (a, n) => {
        const b = seqAdd(a, n)
        expect([seqLt(a, b), seqLe(a, b), seqGt(a, b), seqGe(a, b)]).toEqual([true, true, false, false])
        expect([seqLt(b, a), seqLe(b, a), seqGt(b, a), seqGe(b, a)]).toEqual([false, false, true, true])
        expect(seqMax(a, b)).toBe(b)
        expect(seqMin(a, b)).toBe(a)
        expect(seqMax(b, a)).toBe(b)
        expect(seqMin(b, a)).toBe(a)
      }),
    )
  })

  it('is a strict order by distance: exactly one of <, =, > holds', () => {
    fc.assert(
      fc.property(nearWrap, distance, (a, n) => {
        const b = seqAdd(a, n)
        const relations = [seqLt(a, b), a === b, seqGt(a, b)].filter(Boolean)
        expect(relations).toHaveLength(1)
        expect(seqLe(a, b)).toBe(seqLt(a, b) || a === b)
        expect(seqGe(a, b)).toBe(seqGt(a, b) || a === b)
      }),
    )
  })

  it('is transitive within half the space', () => {
    fc.assert(
      fc.property(nearWrap, fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 1, max: 2 ** 30 - 1 }), (a, x, y) => {
        const b = seqAdd(a, x)
        const c = seqAdd(b, y)
        expect(seqLt(a, b) && seqLt(b, c) && seqLt(a, c)).toBe(true)
      }),
    )
  })

  it('inWindow(start + k, start, size) is k < size, across the wrap', () => {
    fc.assert(
      fc.property(nearWrap, uint32, fc.integer({ min: 0, max: 2 ** 31 }), (start, k, size) => {
        expect(inWindow(seqAdd(start, k), start, size)).toBe(k < size)
      }),
    )
    expect(inWindow(5, 0xffff_fffe, 8)).toBe(true)
    expect(inWindow(6, 0xffff_fffe, 8)).toBe(false)
    expect(inWindow(0xffff_fffd, 0xffff_fffe, 8)).toBe(false)
    expect(inWindow(7, 7, 0)).toBe(false)
  })
})
