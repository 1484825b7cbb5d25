/**
 * Property tests of TokenBucket: for arbitrary rates, bursts, requests, pauses and rate changes the level
 * stays in [0, burst], tryConsume takes exactly what it grants and refuses only what is not there,
 * timeUntil is exact enough that waiting it out succeeds, and nothing beyond burst + ∫rate is ever granted.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { TokenBucket } from './token-bucket.js'

// A fixed number of generated cases: fast on an idle machine, several times slower on a loaded 2-core one,
// so this test sets its own time budget instead of vitest's 5 s default.
const PROPERTY_BUDGET = { timeout: 60_000 }

type Op =
  | { kind: 'consume'; bytes: number; delay: number }
  | { kind: 'wait-and-consume'; bytes: number; delay: number }
  | { kind: 'rate'; rate: number; delay: number }

/** Rates in bytes per second: 0 (never refills), tiny, usual, huge, Infinity (always full). */
const rate = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: 1e-3, max: 1e11, noNaN: true }) },
  { weight: 2, arbitrary: fc.constantFrom(1, 1000, 10e6 / 8, 1e9 / 8, 10e9 / 8, 1e9 / 7) },
  { weight: 1, arbitrary: fc.constantFrom(0, Infinity) },
)
const burst = fc.oneof(fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom(1, 1514, 3028, 65_536))
const delay = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 3, arbitrary: fc.double({ min: 0, max: 1e5, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(1e-3, 1e7, 1e9) },
)
/** Requests as a fraction of the burst (up to 120 %, so some can never be granted), rounded to whole bytes. */
const share = fc.double({ min: 0, max: 1.2, noNaN: true })

const ops = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('consume' as const), bytes: share, delay }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait-and-consume' as const), bytes: share, delay }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('rate' as const), rate, delay }) },
  ),
  { maxLength: 80 },
)

describe('TokenBucket properties', () => {
  it('stays within [0, burst], grants exactly, refuses only what is missing, and waits out timeUntil', PROPERTY_BUDGET, () => {
    fc.assert(
      fc.property(rate, burst, ops, (initialRate, burstBytes, operations) => {
        const bucket = new TokenBucket({ rate: initialRate, burst: burstBytes })
        let now = 0
        let currentRate = initialRate
        let granted = 0
        let allowance = initialRate === Infinity ? Infinity : burstBytes // burst + ∫rate so far
        const slack = (level: number) => 1e-9 * Math.max(1, level, burstBytes)
        for (const op of operations) {
          allowance += currentRate === Infinity ? (op.delay > 0 ? Infinity : 0) : (currentRate * op.delay) / 1e6
          now += op.delay
          if (op.kind === 'rate') {
            const before = bucket.available(now)
            bucket.setRate(op.rate, now)
            currentRate = op.rate
            if (op.rate === Infinity) allowance = Infinity
            expect(bucket.available(now)).toBe(op.rate === Infinity ? burstBytes : before)
          } else {
            const bytes = Math.round(op.bytes * burstBytes)
            if (op.kind === 'wait-and-consume') {
              const level = bucket.available(now)
              const wait = bucket.timeUntil(bytes, now)
              if (bytes > burstBytes || (currentRate === 0 && level < bytes)) {
                expect(wait).toBe(Infinity)
                continue
              }
              expect(wait).toBeGreaterThanOrEqual(0)
              if (level >= bytes) expect(wait).toBe(0)
              else expect(wait).toBeLessThanOrEqual(((bytes - level) * 1e6) / currentRate + 1e-9 * Math.max(1, now))
              allowance += currentRate === Infinity ? 0 : (currentRate * wait) / 1e6
              now += wait
            }
            const before = bucket.available(now)
            const ok = bucket.tryConsume(bytes, now)
            const after = bucket.available(now)
            if (op.kind === 'wait-and-consume') expect(ok).toBe(true)
            if (ok) {
              expect(bytes).toBeLessThanOrEqual(burstBytes)
              expect(before).toBeGreaterThanOrEqual(bytes - slack(before))
              expect(Math.abs(before - bytes - after)).toBeLessThanOrEqual(currentRate === Infinity ? burstBytes : slack(before))
              granted += bytes
            } else {
              expect(after).toBe(before)
              if (bytes <= burstBytes) expect(before).toBeLessThan(bytes + slack(before))
            }
          }
          const level = bucket.available(now)
          expect(level).toBeGreaterThanOrEqual(0)
          expect(level).toBeLessThanOrEqual(burstBytes)
          expect(granted).toBeLessThanOrEqual(allowance + slack(allowance))
        }
      }),
      { numRuns: 500 },
    )
  })

  it('never reports a level below 0 or above burst, even when time goes backwards', () => {
    fc.assert(
      fc.property(
        rate,
        burst,
        fc.array(fc.tuple(fc.double({ min: -1e9, max: 1e9, noNaN: true }), share), { maxLength: 50 }),
        (bucketRate, burstBytes, steps) => {
          const bucket = new TokenBucket({ rate: bucketRate, burst: burstBytes })
          for (const [now, fraction] of steps) {
            bucket.tryConsume(Math.round(fraction * burstBytes), now)
            const level = bucket.available(now)
            expect(level).toBeGreaterThanOrEqual(0)
            expect(level).toBeLessThanOrEqual(burstBytes)
          }
        },
      ),
      { numRuns: 500 },
    )
  })
})
