/**
 * Property tests of Pacer: for arbitrary rates, quanta, send sizes (super segments included), pauses and rate
 * changes, a sender that obeys the pacer never exceeds `∫rate + max(quantum, last send)` over any interval,
 * an always-backlogged one never falls behind `∫rate`, and canSend / nextSendAt always agree.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Pacer } from './pacer.js'

type Op = { kind: 'send'; bytes: number; delay: number } | { kind: 'rate'; rate: number; delay: number }

/** Positive finite rates in bytes per second, from 1 byte/s to 800 Gbit/s, with the usual ones weighted in. */
const pacedRate = fc.oneof(
  fc.double({ min: 1, max: 1e11, noNaN: true }),
  fc.constantFrom(1, 1000, 10e6 / 8, 1e9 / 8, 10e9 / 8, 4e9 / 3, 31_415_926.535),
)
/** Send sizes: mostly up to a jumbo frame, sometimes super segments up to 256 KiB, sometimes 0. */
const sendBytes = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 9000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 262_144 }) },
)
/** Pauses in µs before an operation: none, fractional, or long idle periods. */
const delay = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 3, arbitrary: fc.double({ min: 0, max: 1e5, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(0.001, 1e7, 1e9) },
)
const quantum = fc.oneof(fc.integer({ min: 1, max: 100_000 }), fc.constantFrom(1, 1448, 2896, 3028))

const ops = (rate: fc.Arbitrary<number>, pause: fc.Arbitrary<number>) =>
  fc.array(
    fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('send' as const), bytes: sendBytes, delay: pause }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('rate' as const), rate, delay: pause }) },
    ),
    { maxLength: 60 },
  )

interface Trace {
  sends: Array<{ time: number; bytes: number }>
  /** [time from which it applies, rate], in time order. */
  rates: Array<[number, number]>
}

/** Drive a pacer with an obedient sender: each send waits for nextSendAt and checks canSend agrees. */
function drive(initialRate: number, quantumBytes: number, operations: Op[]): Trace {
  const pacer = new Pacer({ rate: initialRate, quantum: quantumBytes })
  const trace: Trace = { sends: [], rates: [[0, initialRate]] }
  let now = 0
  for (const op of operations) {
    const wanted = now + op.delay
    if (op.kind === 'rate') {
      now = wanted
      pacer.setRate(op.rate, now)
      trace.rates.push([now, op.rate])
      continue
    }
    const at = pacer.nextSendAt(wanted, op.bytes)
    expect(at).toBeGreaterThanOrEqual(wanted)
    expect(pacer.canSend(wanted, op.bytes)).toBe(at === wanted)
    expect(pacer.canSend(at, op.bytes)).toBe(true)
    now = at
    pacer.onSend(op.bytes, now)
    trace.sends.push({ time: now, bytes: op.bytes })
  }
  return trace
}

/** ∫ rate dt over [from, to] in bytes. */
function integral(rates: Trace['rates'], from: number, to: number): number {
  let bytes = 0
  for (let k = 0; k < rates.length; k++) {
    const start = Math.max(from, rates[k]![0])
    const end = Math.min(to, k + 1 < rates.length ? rates[k + 1]![0] : Number.POSITIVE_INFINITY)
    if (end > start) bytes += (rates[k]![1] * (end - start)) / 1e6
  }
  return bytes
}

/** Room for rounding: the time line near `time` has a resolution of about time × 2^-52 µs. */
function tolerance(rates: Trace['rates'], time: number): number {
  const fastest = Math.max(...rates.map(([, rate]) => rate))
  return 1e-6 + (64 * fastest * Math.abs(time) * Number.EPSILON) / 1e6
}

describe('Pacer properties', () => {
  it('bytes sent over any interval never exceed ∫rate + max(quantum, the last send)', () => {
    fc.assert(
      fc.property(pacedRate, quantum, ops(pacedRate, delay), (initialRate, quantumBytes, operations) => {
        const { sends, rates } = drive(initialRate, quantumBytes, operations)
        for (let j = 0; j < sends.length; j++) {
          const last = sends[j]!
          let sum = 0
          for (let i = j; i >= 0; i--) {
            sum += sends[i]!.bytes
            const bound = integral(rates, sends[i]!.time, last.time) + Math.max(quantumBytes, last.bytes)
            expect(sum).toBeLessThanOrEqual(bound + tolerance(rates, last.time))
          }
        }
      }),
      { numRuns: 300 },
    )
  })

  it('an always-backlogged sender is never held below ∫rate: no stall, even across rate changes', () => {
    fc.assert(
      fc.property(pacedRate, quantum, ops(pacedRate, fc.constant(0)), (initialRate, quantumBytes, operations) => {
        const { sends, rates } = drive(initialRate, quantumBytes, operations)
        let before = 0
        for (const send of sends) {
          const allowed = integral(rates, 0, send.time)
          expect(before).toBeGreaterThanOrEqual(allowed - tolerance(rates, send.time))
          before += send.bytes
        }
      }),
      { numRuns: 300 },
    )
  })

  it('canSend and nextSendAt agree with any rate, including unpaced ones', () => {
    const anyRate = fc.oneof(pacedRate, fc.constantFrom(0, Infinity))
    fc.assert(
      fc.property(anyRate, quantum, ops(anyRate, delay), (initialRate, quantumBytes, operations) => {
        drive(initialRate, quantumBytes, operations) // drive() asserts the agreement at every send
      }),
      { numRuns: 300 },
    )
  })

  it('when a whole quantum may start, every split of it into packets may go at that instant', () => {
    fc.assert(
      fc.property(
        pacedRate,
        quantum,
        ops(pacedRate, delay),
        fc.array(fc.integer({ min: 1, max: 1 << 30 }), { minLength: 1, maxLength: 12 }),
        (initialRate, quantumBytes, operations, weights) => {
          const pacer = new Pacer({ rate: initialRate, quantum: quantumBytes })
          let now = 0
          for (const op of operations) {
            now += op.delay
            if (op.kind === 'rate') pacer.setRate(op.rate, now)
            else {
              now = pacer.nextSendAt(now, op.bytes)
              pacer.onSend(op.bytes, now)
            }
          }
          // Cut the quantum into packets in proportion to the weights (whole bytes, summing to the quantum).
          const total = weights.reduce((sum, weight) => sum + weight, 0)
          const cuts = weights.map((_, k) => Math.round((quantumBytes * weights.slice(0, k + 1).reduce((a, b) => a + b, 0)) / total))
          const at = pacer.nextSendAt(now)
          let previous = 0
          for (const cut of cuts) {
            const size = cut - previous
            previous = cut
            expect(pacer.canSend(at, size)).toBe(true)
            pacer.onSend(size, at)
          }
          expect(previous).toBe(quantumBytes)
          // One byte more is refused, wherever the time line can tell one byte's time apart (at 300 Gbit/s and
          // 38 hours into a run, one byte lasts less than two ulps of the clock).
          if (1e6 / pacer.rate > 4 * Math.abs(at) * Number.EPSILON) expect(pacer.canSend(at, 1)).toBe(false)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('a whole quantum may start exactly when the schedule has caught up, and no earlier', () => {
    fc.assert(
      fc.property(pacedRate, quantum, fc.array(sendBytes, { minLength: 1, maxLength: 20 }), (rate, quantumBytes, sizes) => {
        const pacer = new Pacer({ rate, quantum: quantumBytes })
        for (const bytes of sizes) pacer.onSend(bytes, 0)
        const total = sizes.reduce((sum, bytes) => sum + bytes, 0)
        const caughtUp = pacer.nextSendAt(0)
        expect(caughtUp).toBeCloseTo((total * 1e6) / rate, 6)
        if (caughtUp > 0) expect(pacer.canSend(caughtUp * (1 - 1e-9))).toBe(false)
        expect(pacer.canSend(caughtUp)).toBe(true)
      }),
      { numRuns: 300 },
    )
  })
})
