import { afterEach, describe, expect, it, vi } from 'vitest'
import type { AckSample, Micros } from './congestion-control.js'
import { CubicControl, type CubicControlOptions } from './cubic.js'
import { RenoControl } from './reno.js'

// The RFC 9438 constants, written out here rather than imported, so the tests check the code against the RFC.
const C = 0.4 // §5.1
const BETA = 0.7 // §4.6
const ALPHA = (3 * (1 - BETA)) / (1 + BETA) // §4.3
const MSS = 1000
const SECOND = 1_000_000

function ack(bytesAcked: number, extra: Partial<AckSample> = {}): AckSample {
  return {
    bytesAcked,
    bytesSacked: 0,
    rttSample: undefined,
    smoothedRtt: undefined,
    bytesInFlight: 0,
    appLimited: false,
    ...extra,
  }
}

/** A CUBIC in slow start grown to exactly `segments` segments of 1000 bytes. */
function grownTo(segments: number, options: CubicControlOptions = {}): CubicControl {
  const cc = new CubicControl({ mss: MSS, ...options })
  while (cc.window < segments * MSS) cc.onAck(0, ack(MSS))
  expect(cc.window).toBe(segments * MSS)
  return cc
}

/** A loss at `segments` segments with a full pipe, then a full ACK: cwnd = ssthresh = β * W_max. */
function reducedFrom(segments: number, options: CubicControlOptions = {}, now: Micros = 0): CubicControl {
  const cc = grownTo(segments, options)
  cc.onEnterRecovery(now, segments * MSS)
  cc.onExitRecovery(now, segments * MSS)
  return cc
}

/** One RTT at `now`: the window in flight at the round's start is acknowledged one segment per ACK. */
function ackRound(cc: CubicControl, now: Micros, rtt: Micros): void {
  let remaining = cc.window
  while (remaining > 0) {
    const bytes = Math.min(remaining, MSS)
    cc.onAck(now, ack(bytes, { smoothedRtt: rtt, rttSample: rtt }))
    remaining -= bytes
  }
}

describe('CubicControl multiplicative decrease (RFC 9438 §4.6)', () => {
  it('reduces to 0.7 * W_max and records W_max and cwnd_prior', () => {
    const cc = grownTo(100)
    cc.onEnterRecovery(0, 100 * MSS)
    expect(cc.slowStartThreshold).toBe(BETA * 100 * MSS)
    expect(cc.maxWindow).toBe(100 * MSS)
    expect(cc.priorWindow).toBe(100 * MSS)
    // NewReno inflation on entry, as in Reno: ssthresh + 3*SMSS.
    expect(cc.window).toBe(70_000 + 3 * MSS)
    cc.onExitRecovery(0, 100 * MSS)
    expect(cc.window).toBe(BETA * 100 * MSS)
  })

  it('takes ssthresh from FlightSize, floored at 2*SMSS', () => {
    const cc = grownTo(100)
    cc.onEnterRecovery(0, 40 * MSS)
    expect(cc.slowStartThreshold).toBe(28 * MSS)
    expect(cc.maxWindow).toBe(100 * MSS) // W_max is the window, not the flight
    const small = grownTo(100)
    small.onEnterRecovery(0, 2 * MSS)
    expect(small.slowStartThreshold).toBe(2 * MSS)
  })

  it('runs the same NewReno recovery steps as Reno, only from a different ssthresh', () => {
    const cubic = grownTo(40)
    const reno = new RenoControl({ mss: MSS })
    while (reno.window < 40 * MSS) reno.onAck(0, ack(MSS))
    const steps: Array<(cc: CubicControl | RenoControl) => void> = [
      (cc) => cc.onEnterRecovery(0, 40 * MSS),
      (cc) => cc.onDuplicateAck(0),
      (cc) => cc.onDuplicateAck(0),
      (cc) => cc.onPartialAck(0, 3 * MSS),
      (cc) => cc.onPartialAck(0, 500),
      (cc) => cc.onDuplicateAck(0),
    ]
    for (const step of steps) {
      step(cubic)
      step(reno)
      expect(cubic.window - cubic.slowStartThreshold).toBe(reno.window - reno.slowStartThreshold)
    }
    expect(cubic.slowStartThreshold).toBe(28 * MSS)
    expect(reno.slowStartThreshold).toBe(20 * MSS)
    cubic.onExitRecovery(0, 10 * MSS)
    reno.onExitRecovery(0, 10 * MSS)
    expect(cubic.window).toBe(11 * MSS) // min(ssthresh, FlightSize + SMSS)
    expect(reno.window).toBe(11 * MSS)
  })
})

describe('CubicControl fast convergence (RFC 9438 §4.7)', () => {
  it('releases bandwidth when a loss comes below the previous W_max: W_max = cwnd * (1 + β) / 2', () => {
    const cc = reducedFrom(100) // W_max 100000, cwnd 70000
    cc.onEnterRecovery(0, 70 * MSS)
    expect(cc.maxWindow).toBeCloseTo((70 * MSS * (1 + BETA)) / 2, 9)
    expect(cc.maxWindow).toBe(59_500)
    expect(cc.priorWindow).toBe(70 * MSS)
    expect(cc.slowStartThreshold).toBe(49 * MSS)
  })

  it('keeps W_max = cwnd when fast convergence is off', () => {
    const cc = reducedFrom(100, { fastConvergence: false })
    cc.onEnterRecovery(0, 70 * MSS)
    expect(cc.maxWindow).toBe(70 * MSS)
  })

  it('takes W_max = cwnd when the loss comes at or above the previous W_max', () => {
    const cc = reducedFrom(20) // W_max 20000
    while (cc.window < 30 * MSS) cc.onAck(0, ack(MSS, { smoothedRtt: 10_000 }))
    const before = cc.window
    cc.onEnterRecovery(0, before)
    expect(cc.maxWindow).toBeGreaterThanOrEqual(30 * MSS)
    expect(cc.maxWindow).toBeLessThan(30 * MSS + MSS)
  })
})

describe('CubicControl window increase function (RFC 9438 §4.2)', () => {
  const wMax = 100 // segments
  // Figure 2 with cwnd_epoch = β * W_max: K = cbrt(W_max * (1 - β) / C), in seconds.
  const K = Math.cbrt((wMax * (1 - BETA)) / C)
  const wCubic = (t: number): number => (C * (t - K) ** 3 + wMax) * MSS // Figure 1, in bytes

  it('starts the epoch at the first congestion-avoidance ACK with the RFC K', () => {
    expect(K).toBeCloseTo(Math.cbrt(75), 12)
    const cc = reducedFrom(100)
    expect(cc.epochStart).toBeUndefined()
    const t0 = 5 * SECOND
    cc.onAck(t0, ack(MSS, { smoothedRtt: 100_000 }))
    expect(cc.epochStart).toBe(t0)
    expect(cc.epochWindow).toBe(70 * MSS)
    expect(cc.timeToMaxWindow).toBeCloseTo(K, 12)
    // W_cubic passes through cwnd_epoch at t = 0, W_max at t = K, and W_max + C*K^3 at 2K.
    expect(cc.cubicWindowAt(t0)).toBeCloseTo(70 * MSS, 6)
    expect(cc.cubicWindowAt(t0 + K * SECOND)).toBeCloseTo(100 * MSS, 6)
    expect(cc.cubicWindowAt(t0 + 2 * K * SECOND)).toBeCloseTo(130 * MSS, 6)
    for (const t of [0.5, 1, 2, 3.3, 4.2, 7, 12]) {
      expect(cc.cubicWindowAt(t0 + t * SECOND)).toBeCloseTo(wCubic(t), 6)
    }
  })

  it('grows each ACK by (target - cwnd)/cwnd with target = W_cubic(t + RTT) (§4.4)', () => {
    const cc = reducedFrom(100)
    const t0 = 5 * SECOND
    const rtt = 0.1
    // At t = 0, W_cubic(0) = cwnd_epoch = W_est, and W_est grows first: the Reno-friendly region (§4.3).
    cc.onAck(t0, ack(MSS, { smoothedRtt: rtt * SECOND }))
    let wEst = 70 * MSS + (ALPHA * MSS * MSS) / (70 * MSS)
    let cwnd = wEst
    expect(cc.renoEstimate).toBeCloseTo(wEst, 9)
    expect(cc.window).toBe(Math.floor(cwnd))
    // At t = 1 s the cubic function is far above W_est: the concave region.
    cc.onAck(t0 + 1 * SECOND, ack(MSS, { smoothedRtt: rtt * SECOND }))
    wEst += (ALPHA * MSS * MSS) / cwnd
    expect(wCubic(1)).toBeGreaterThan(wEst)
    const target = Math.min(Math.max(wCubic(1 + rtt), cwnd), 1.5 * cwnd)
    expect(target).toBe(wCubic(1 + rtt)) // inside the clamp here
    cwnd += ((target - cwnd) * MSS) / cwnd
    expect(cc.renoEstimate).toBeCloseTo(wEst, 9)
    expect(cc.window).toBe(Math.floor(cwnd))
  })

  it('clamps the target to 1.5 * cwnd (§4.2 Figure 3)', () => {
    const cc = reducedFrom(100)
    const t0 = 5 * SECOND
    cc.onAck(t0, ack(MSS, { smoothedRtt: 100_000 }))
    const cwnd = cc.window
    // Far in the convex region W_cubic(t + RTT) is huge; an ACK of a whole window adds at most half a window.
    cc.onAck(t0 + 60 * SECOND, ack(cwnd, { smoothedRtt: 100_000 }))
    expect(cc.window).toBeGreaterThan(1.49 * cwnd)
    expect(cc.window).toBeLessThanOrEqual(1.5 * cwnd + 1)
  })

  it('does not carry cwnd past the target on a stretch ACK', () => {
    const cc = reducedFrom(100)
    cc.onAck(0, ack(MSS, { smoothedRtt: 100_000 }))
    cc.onAck(1 * SECOND, ack(10 * cc.window, { smoothedRtt: 100_000 }))
    expect(cc.window).toBe(Math.floor(wCubic(1.1)))
  })

  it('approaches W_max in the concave region, plateaus around K, then grows convexly beyond it', () => {
    const segments = 1000
    const wMaxBytes = segments * MSS
    const cc = reducedFrom(segments)
    const rtt = 100_000
    const k = Math.cbrt((segments * (1 - BETA)) / C) // ≈ 9.09 s
    const t0 = SECOND
    const windows: number[] = []
    for (let round = 0; round <= 150; round++) {
      ackRound(cc, t0 + round * rtt, rtt)
      windows.push(cc.window)
    }
    const w = (round: number): number => windows[round] ?? Number.NaN
    const growth = (from: number, to: number): number => w(to) - w(from)
    for (let round = 1; round <= 150; round++) expect(w(round)).toBeGreaterThan(w(round - 1))
    // Concave: below W_max while t + RTT ≤ K, and slowing down as it nears it.
    for (let round = 0; (round + 1) * 0.1 <= k; round++) expect(w(round)).toBeLessThanOrEqual(wMaxBytes)
    expect(growth(20, 40)).toBeGreaterThan(growth(40, 60))
    expect(growth(40, 60)).toBeGreaterThan(growth(60, 80))
    expect(w(85)).toBeGreaterThan(0.99 * wMaxBytes)
    // Plateau: around t = K the window sits at W_max and hardly moves.
    const roundAtK = Math.round(k * 10)
    expect(Math.abs(w(roundAtK) - wMaxBytes)).toBeLessThan(0.005 * wMaxBytes)
    expect(growth(roundAtK - 5, roundAtK + 5)).toBeLessThan(0.01 * growth(10, 20))
    // Convex: beyond W_max, and accelerating.
    expect(w(120)).toBeGreaterThan(wMaxBytes)
    expect(growth(140, 150)).toBeGreaterThan(growth(120, 130))
    expect(growth(120, 130)).toBeGreaterThan(growth(100, 110))
    // The cubic function, not W_est, set the pace all along.
    expect(cc.renoEstimate).toBeLessThan(cc.window)
  })
})

describe('CubicControl Reno-friendly region (RFC 9438 §4.3)', () => {
  it('follows W_est at a small window and a short RTT, at α_cubic, then at 1 once W_est ≥ cwnd_prior', () => {
    const cc = reducedFrom(10) // W_max = cwnd_prior = 10000, cwnd = 7000
    const rtt = 1000 // 1 ms
    const perRound: number[] = []
    for (let round = 0; round < 200; round++) {
      const now = SECOND + round * rtt
      const before = cc.window
      ackRound(cc, now, rtt)
      perRound.push(cc.window - before)
      // In the Reno-friendly region cwnd is W_est, and W_cubic lags behind it.
      expect(cc.window).toBe(Math.floor(cc.renoEstimate))
      expect(cc.cubicWindowAt(now)).toBeLessThan(cc.renoEstimate)
    }
    // Below cwnd_prior: about α_cubic ≈ 0.53 segment per RTT.
    expect((perRound[0] ?? 0) / MSS).toBeGreaterThan(ALPHA - 0.05)
    expect((perRound[0] ?? 0) / MSS).toBeLessThan(ALPHA + 0.05)
    // Above cwnd_prior: one segment per RTT, as Reno.
    expect((perRound[150] ?? 0) / MSS).toBeGreaterThan(0.95)
    expect((perRound[150] ?? 0) / MSS).toBeLessThan(1.05)
    expect(cc.renoEstimate).toBeGreaterThan(cc.priorWindow)
  })
})

describe('CubicControl epoch above W_max', () => {
  it('starts at the plateau (W_max = cwnd_epoch, K = 0) rather than with a negative K', () => {
    // One-segment IW: the 2*SMSS floor on ssthresh exceeds β * W_max.
    const cc = new CubicControl({ mss: MSS, initialWindowSegments: 1 })
    cc.onEnterRecovery(0, MSS)
    expect(cc.maxWindow).toBe(MSS)
    cc.onExitRecovery(0, 10 * MSS)
    expect(cc.window).toBe(2 * MSS)
    cc.onAck(SECOND, ack(MSS, { smoothedRtt: 10_000 }))
    expect(cc.maxWindow).toBe(2 * MSS)
    expect(cc.timeToMaxWindow).toBe(0)
    expect(cc.cubicWindowAt(2 * SECOND)).toBeCloseTo(2 * MSS + C * MSS, 9)
  })
})

describe('CubicControl retransmission timeout (RFC 9438 §4.8)', () => {
  it('sets cwnd to one segment and ssthresh from β, then restarts with K = 0 and W_max = cwnd_epoch', () => {
    const cc = grownTo(100)
    cc.onRetransmitTimeout(0, 100 * MSS)
    expect(cc.window).toBe(MSS)
    expect(cc.slowStartThreshold).toBe(70 * MSS)
    expect(cc.priorWindow).toBe(100 * MSS)
    expect(cc.epochStart).toBeUndefined()
    // Slow start after a timeout: one SMSS per ACK however much it covers (RFC 3465 §2.3).
    cc.onAck(0, ack(3 * MSS))
    expect(cc.window).toBe(2 * MSS)
    while (cc.inSlowStart) cc.onAck(0, ack(MSS))
    expect(cc.window).toBe(70 * MSS)
    expect(cc.epochStart).toBeUndefined()
    const t0 = 3 * SECOND
    cc.onAck(t0, ack(MSS, { smoothedRtt: 50_000 }))
    expect(cc.epochWindow).toBe(70 * MSS)
    expect(cc.maxWindow).toBe(70 * MSS)
    expect(cc.timeToMaxWindow).toBe(0)
    // Convex from the start: W_cubic(t) = W_max + C * t^3 segments.
    expect(cc.cubicWindowAt(t0 + 2 * SECOND)).toBeCloseTo(70 * MSS + C * 8 * MSS, 6)
  })

  it('holds ssthresh and cwnd_prior on a repeated timeout', () => {
    const cc = grownTo(100)
    cc.onRetransmitTimeout(0, 100 * MSS)
    cc.onRetransmitTimeout(0, 100 * MSS)
    expect(cc.slowStartThreshold).toBe(70 * MSS)
    expect(cc.priorWindow).toBe(100 * MSS)
  })
})

describe('CubicControl and time', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  /** A scripted run: slow start, a loss, recovery, then congestion avoidance at the given times. */
  function script(cc: CubicControl, offset: Micros): number[] {
    const trace: number[] = []
    for (let i = 0; i < 40; i++) cc.onAck(offset + i * 1000, ack(MSS, { smoothedRtt: 20_000 }))
    trace.push(cc.window)
    cc.onEnterRecovery(offset + 50_000, cc.window)
    cc.onDuplicateAck(offset + 51_000)
    cc.onPartialAck(offset + 60_000, 2 * MSS)
    cc.onExitRecovery(offset + 70_000, cc.window)
    trace.push(cc.window)
    for (let round = 0; round < 60; round++) {
      ackRound(cc, offset + 100_000 + round * 20_000, 20_000)
      trace.push(cc.window, cc.renoEstimate, cc.cubicWindowAt(offset + 100_000 + round * 20_000) ?? -1)
    }
    return trace
  }

  it('gives the same outputs for the same inputs, and reads no clock', () => {
    const dateNow = vi.spyOn(Date, 'now')
    const performanceNow = vi.spyOn(performance, 'now')
    const first = script(new CubicControl({ mss: MSS }), 0)
    const second = script(new CubicControl({ mss: MSS }), 0)
    expect(second).toEqual(first)
    expect(dateNow).not.toHaveBeenCalled()
    expect(performanceNow).not.toHaveBeenCalled()
  })

  it('depends only on the differences between the nows it is given', () => {
    const base = script(new CubicControl({ mss: MSS }), 0)
    const shifted = script(new CubicControl({ mss: MSS }), 3_600 * SECOND)
    expect(shifted).toEqual(base)
  })

  it('grows more for an ACK that comes later in the epoch', () => {
    const early = reducedFrom(100)
    const late = reducedFrom(100)
    early.onAck(0, ack(MSS, { smoothedRtt: 100_000 }))
    late.onAck(0, ack(MSS, { smoothedRtt: 100_000 }))
    early.onAck(1 * SECOND, ack(MSS, { smoothedRtt: 100_000 }))
    late.onAck(2 * SECOND, ack(MSS, { smoothedRtt: 100_000 }))
    expect(late.window).toBeGreaterThan(early.window)
  })

  it('does not count application-limited time in t (§5.8), nor grow on such ACKs', () => {
    const cc = reducedFrom(100)
    cc.onAck(0, ack(MSS, { smoothedRtt: 100_000 }))
    const window = cc.window
    cc.onAck(2 * SECOND, ack(MSS, { smoothedRtt: 100_000, appLimited: true }))
    expect(cc.window).toBe(window)
    expect(cc.epochStart).toBe(2 * SECOND)
    // An epoch that had 1 s of useful time behaves like one that started 1 s ago.
    const reference = reducedFrom(100)
    reference.onAck(2 * SECOND, ack(MSS, { smoothedRtt: 100_000 }))
    expect(cc.cubicWindowAt(3 * SECOND)).toBeCloseTo(reference.cubicWindowAt(3 * SECOND) ?? Number.NaN, 9)
  })

  it('ends the epoch on an idle restart and restarts below W_max from the restart window', () => {
    const cc = reducedFrom(100)
    cc.onAck(0, ack(MSS, { smoothedRtt: 100_000 }))
    cc.onIdleRestart(10 * SECOND)
    expect(cc.window).toBe(10 * MSS) // the initial window for a 1000-byte MSS
    expect(cc.epochStart).toBeUndefined()
    expect(cc.slowStartThreshold).toBe(70 * MSS)
    expect(cc.maxWindow).toBe(100 * MSS)
  })

  it('keeps W_cubic through cwnd_epoch and W_max when the MSS changes mid-epoch', () => {
    const cc = reducedFrom(100)
    const t0 = SECOND
    cc.onAck(t0, ack(MSS, { smoothedRtt: 100_000 }))
    cc.setMss(500)
    const k = Math.cbrt((100 * MSS - 70 * MSS) / 500 / C)
    expect(cc.timeToMaxWindow).toBeCloseTo(k, 12)
    expect(cc.cubicWindowAt(t0)).toBeCloseTo(70 * MSS, 6)
    expect(cc.cubicWindowAt(t0 + k * SECOND)).toBeCloseTo(100 * MSS, 6)
  })
})

describe('CubicControl options', () => {
  it('has a name, no pacing rate, fast convergence on by default', () => {
    const cc = new CubicControl()
    expect(cc.name).toBe('cubic')
    expect(cc.pacingRate).toBeUndefined()
    expect(cc.fastConvergence).toBe(true)
    expect(cc.window).toBe(5360)
  })

  it('rejects a non-boolean fastConvergence', () => {
    expect(() => new CubicControl({ fastConvergence: 'yes' as never })).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringMatching(/fastConvergence/) }),
    )
  })
})

describe('undoing a spurious congestion event (RFC 9438 §4.9)', () => {
  it('restores cwnd, ssthresh, W_max and cwnd_prior from before the event', () => {
    const cc = grownTo(100)
    cc.onEnterRecovery(0, 100 * MSS, true) // the first event: ssthresh = 70 segments
    cc.onExitRecovery(1000, 70 * MSS)
    for (let t = 1; t <= 20; t++) cc.onAck(t * 10_000, ack(10 * MSS, { bytesInFlight: 70 * MSS }))
    const state = { window: cc.window, ssthresh: cc.slowStartThreshold, wMax: cc.maxWindow, prior: cc.priorWindow }
    cc.onEnterRecovery(300_000, cc.window, true) // a second, spurious event
    cc.onExitRecovery(310_000, cc.window)
    expect(cc.window).toBeLessThan(state.window)
    cc.onUndo(320_000)
    expect(cc.window).toBe(state.window)
    expect(cc.slowStartThreshold).toBe(state.ssthresh)
    expect(cc.maxWindow).toBe(state.wMax)
    expect(cc.priorWindow).toBe(state.prior)
    // Only once: a second undo changes nothing.
    cc.onEnterRecovery(400_000, cc.window, true)
    const reduced = cc.window
    cc.onUndo(410_000)
    cc.onUndo(420_000)
    expect(cc.window).toBeGreaterThan(reduced)
  })

  it('Reno: the window and threshold come back, never lower than they are', () => {
    const reno = new RenoControl({ mss: MSS })
    while (reno.window < 40 * MSS) reno.onAck(0, ack(MSS))
    reno.onRetransmitTimeout(0, 40 * MSS)
    expect(reno.window).toBe(MSS)
    reno.onUndo(1000)
    expect(reno.window).toBe(40 * MSS)
    expect(reno.slowStartThreshold).toBe(Number.POSITIVE_INFINITY)
  })
})
