/** Tests of the sorted range set under the scoreboard, against a plain set of numbers, across 2^32. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SeqRangeSet } from './seq-range-set.js'

describe('SeqRangeSet', () => {
  it('merges ranges that overlap or touch, and counts only new octets', () => {
    const set = new SeqRangeSet()
    expect(set.add(100, 200)).toBe(100)
    expect(set.add(300, 400)).toBe(100)
    expect(set.add(200, 300)).toBe(100) // touches both: one range
    expect([set.lefts, set.rights]).toEqual([[100], [400]])
    expect(set.add(50, 450)).toBe(100)
    expect(set.bytes).toBe(400)
    expect(set.trimBelow(120)).toBe(70)
    expect([set.lefts, set.rights, set.bytes]).toEqual([[120], [450], 330])
  })

  it('behaves like a set of numbers, near 0, 2^31 and 2^32', () => {
    const operation = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), at: fc.nat({ max: 200 }), length: fc.integer({ min: 1, max: 30 }) }),
      fc.record({ kind: fc.constant('trim' as const), at: fc.nat({ max: 200 }) }),
    )
    fc.assert(
      fc.property(fc.constantFrom(0, 2 ** 31 - 100, 2 ** 32 - 100), fc.array(operation, { maxLength: 30 }), (base, operations) => {
        const set = new SeqRangeSet()
        const model = new Set<number>()
        let floor = 0 // trims only move up, as SND.UNA does
        const abs = (x: number) => (base + x) >>> 0
        for (const operation of operations) {
          if (operation.kind === 'add') {
            const from = Math.max(operation.at, floor)
            const to = Math.max(operation.at + operation.length, from + 1)
            let added = 0
            for (let x = from; x < to; x++) if (!model.has(x) && model.add(x)) added++
            expect(set.add(abs(from), abs(to))).toBe(added)
          } else {
            floor = Math.max(floor, operation.at)
            let removed = 0
            for (const x of model) if (x < floor && model.delete(x)) removed++
            expect(set.trimBelow(abs(floor))).toBe(removed)
          }
          expect(set.bytes).toBe(model.size)
          for (let x = floor - 2; x < 240; x++) expect(set.has(abs(x))).toBe(model.has(x))
          const from = floor + 5
          const to = floor + 90
          let covered = 0
          for (let x = from; x < to; x++) if (model.has(x)) covered++
          expect(set.coveredBetween(abs(from), abs(to))).toBe(covered)
          expect(set.uncoveredBetween(abs(from), abs(to))).toBe(to - from - covered)
          // Segments of 7: each gap rounded up on its own.
          let segments = 0
          let gap = 0
          for (let x = from; x <= to; x++) {
            if (x < to && !model.has(x)) gap++
            else if (gap > 0) {
              segments += Math.ceil(gap / 7)
              gap = 0
            }
          }
          expect(set.uncoveredSegmentsBetween(abs(from), abs(to), 7)).toBe(segments)
          for (let i = 0; i + 1 < set.count; i++) expect(((set.lefts[i + 1]! - set.rights[i]!) | 0) > 0).toBe(true) // sorted, apart
        }
      }),
    )
  })
})
