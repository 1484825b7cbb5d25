import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { AckSample } from './congestion-control.js'
import { CubicControl } from './cubic.js'
import { MAXIMUM_WINDOW } from './loss-based.js'
import { RenoControl } from './reno.js'

/** Byte counts: mostly plausible, sometimes extreme or malformed. */
const bytes = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 1 << 20 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 2 ** 40 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(0, 1, -1, -1e9, 2 ** 31, 2 ** 53, Number.MAX_VALUE, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
  },
)

/** RTTs in µs, from none to absurd. */
const rtt = fc.oneof(
  fc.constant(undefined),
  fc.integer({ min: 0, max: 10_000_000 }),
  fc.constantFrom(-5, 1, 1e12, Number.MAX_VALUE, Number.NaN, Number.POSITIVE_INFINITY),
)

/** Steps of time in µs: usually forward, sometimes huge, sometimes backwards. */
const timeStep = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 2_000_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: -1_000_000, max: 1e12 }) },
  { weight: 1, arbitrary: fc.constantFrom(1e15, -1e15, Number.MAX_VALUE / 4) },
)

type Step =
  | { kind: 'ack'; dt: number; sample: AckSample }
  | { kind: 'enter'; dt: number; flight: number }
  | { kind: 'dup'; dt: number }
  | { kind: 'partial'; dt: number; acked: number }
  | { kind: 'exit'; dt: number; flight: number }
  | { kind: 'rto'; dt: number; flight: number }
  | { kind: 'idle'; dt: number }
  | { kind: 'mss'; dt: number; mss: number }

const sample: fc.Arbitrary<AckSample> = fc.record({
  bytesAcked: bytes,
  bytesSacked: bytes,
  rttSample: rtt,
  smoothedRtt: rtt,
  bytesInFlight: bytes,
  appLimited: fc.boolean(),
})

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('ack' as const), dt: timeStep, sample }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('enter' as const), dt: timeStep, flight: bytes }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('dup' as const), dt: timeStep }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('partial' as const), dt: timeStep, acked: bytes }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('exit' as const), dt: timeStep, flight: bytes }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rto' as const), dt: timeStep, flight: bytes }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('idle' as const), dt: timeStep }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('mss' as const), dt: timeStep, mss: fc.integer({ min: 1, max: 65535 }) }) },
)

const setup = fc.record({
  name: fc.constantFrom('reno' as const, 'cubic' as const),
  mss: fc.integer({ min: 1, max: 65535 }),
  initialWindowSegments: fc.integer({ min: 1, max: 1000 }),
  fastConvergence: fc.boolean(),
  start: fc.oneof(fc.integer({ min: 0, max: 1e12 }), fc.constantFrom(-1e9, 1e15)),
})

function apply(cc: RenoControl | CubicControl, now: number, s: Step): void {
  switch (s.kind) {
    case 'ack':
      return cc.onAck(now, s.sample)
    case 'enter':
      return cc.onEnterRecovery(now, s.flight)
    case 'dup':
      return cc.onDuplicateAck(now)
    case 'partial':
      return cc.onPartialAck(now, s.acked)
    case 'exit':
      return cc.onExitRecovery(now, s.flight)
    case 'rto':
      return cc.onRetransmitTimeout(now, s.flight)
    case 'idle':
      return cc.onIdleRestart(now)
    case 'mss':
      return cc.setMss(s.mss)
  }
}

function checkInvariants(cc: RenoControl | CubicControl, now: number, congested: boolean): void {
  const mss = cc.maxSegmentSize
  // The window: a finite whole number of bytes, at least one segment (the loss window, RFC 5681 §3.1).
  expect(Number.isInteger(cc.window)).toBe(true)
  expect(cc.window).toBeGreaterThanOrEqual(mss)
  expect(cc.window).toBeLessThanOrEqual(MAXIMUM_WINDOW)
  // ssthresh: +Infinity ("arbitrarily high", RFC 5681 §3.1) until the first congestion event, then a
  // finite value of at least 2*SMSS (RFC 5681 eq. 4).
  const ssthresh = cc.slowStartThreshold
  expect(Number.isNaN(ssthresh)).toBe(false)
  if (congested) {
    expect(Number.isFinite(ssthresh)).toBe(true)
    expect(ssthresh).toBeGreaterThanOrEqual(2 * mss)
  } else {
    expect(ssthresh).toBe(Number.POSITIVE_INFINITY)
  }
  expect(cc.pacingRate).toBeUndefined()
  if (cc instanceof CubicControl) {
    for (const value of [cc.maxWindow, cc.priorWindow, cc.renoEstimate, cc.epochWindow, cc.timeToMaxWindow]) {
      expect(Number.isFinite(value)).toBe(true)
      expect(value).toBeGreaterThanOrEqual(0)
    }
    const wCubic = cc.cubicWindowAt(now)
    if (wCubic !== undefined) expect(Number.isNaN(wCubic)).toBe(false)
  }
}

describe('native congestion controllers under arbitrary call sequences', () => {
  it('never hold a NaN, infinite, fractional or sub-segment window', () => {
    fc.assert(
      fc.property(setup, fc.array(step, { maxLength: 200 }), (config, steps) => {
        const options = { mss: config.mss, initialWindowSegments: config.initialWindowSegments }
        const cc =
          config.name === 'reno'
            ? new RenoControl(options)
            : new CubicControl({ ...options, fastConvergence: config.fastConvergence })
        let now = config.start
        let congested = false
        checkInvariants(cc, now, congested)
        for (const s of steps) {
          now += s.dt
          apply(cc, now, s)
          if (s.kind === 'enter' || s.kind === 'rto') congested = true
          checkInvariants(cc, now, congested)
        }
      }),
      { numRuns: 500 },
    )
  })

  it('are deterministic: the same calls give the same windows', () => {
    fc.assert(
      fc.property(setup, fc.array(step, { maxLength: 100 }), (config, steps) => {
        const make = (): RenoControl | CubicControl =>
          config.name === 'reno' ? new RenoControl({ mss: config.mss }) : new CubicControl({ mss: config.mss })
        const a = make()
        const b = make()
        let now = config.start
        for (const s of steps) {
          now += s.dt
          apply(a, now, s)
          apply(b, now, s)
          expect([b.window, b.slowStartThreshold]).toEqual([a.window, a.slowStartThreshold])
        }
      }),
      { numRuns: 200 },
    )
  })
})
