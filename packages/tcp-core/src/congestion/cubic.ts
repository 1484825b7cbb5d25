/**
 * CUBIC congestion control (RFC 9438), on the NewReno slow start and fast recovery of `loss-based.ts`.
 *
 * Implements RFC 9438:
 * - §4.2 the window increase function W_cubic(t) = C*(t - K)^3 + W_max, K = cbrt((W_max - cwnd_epoch)/C),
 *   and the target clamped to [cwnd, 1.5*cwnd];
 * - §4.3 the Reno-friendly region (W_est with α_cubic = 3(1 - β)/(1 + β), then α = 1 once W_est ≥ cwnd_prior);
 * - §4.4–4.5 the concave and convex regions (cwnd += (target - cwnd)/cwnd per ACK);
 * - §4.6 multiplicative decrease with β_cubic = 0.7; §4.7 fast convergence; §4.8 timeout;
 * - §4.10 slow start below ssthresh: RFC 5681 slow start with RFC 3465 byte counting and HyStart++
 *   (RFC 9406), both in `loss-based.ts`;
 * - §5.8 no growth while application-limited, and t excludes such periods.
 * - §4.9 undoing a spurious congestion event: W_max, cwnd_prior, K and the epoch come back with cwnd
 *   and ssthresh ({@link LossBasedControl.onUndo}).
 * One reading to note: an epoch that starts at or above W_max starts at the plateau (W_max = cwnd_epoch,
 * K = 0, as §4.8 does after a timeout) instead of with the negative K Figure 2 would give.
 *
 * Units: the state (W_max, W_est, cwnd_prior, cwnd_epoch, cwnd) is kept in bytes. The RFC's formulas are
 * in segments and seconds, C in segments/s³: this file converts at the formula, W_cubic in bytes being
 * `W_max + C * (t - K)^3 * SMSS` with K = cbrt((W_max - cwnd_epoch) / SMSS / C) seconds. t is
 * `(now - t_epoch) / 1e6` seconds, `now` in µs as given: no clock is read.
 * @module
 */
import type { AckSample, CongestionControlOptions, Micros } from './congestion-control.js'
import { CongestionControlError } from './errors.js'
import { LossBasedControl, MAXIMUM_WINDOW } from './loss-based.js'

/** RFC 9438 §5.1: C = 0.4, in segments per second cubed. */
export const CUBIC_C = 0.4

/** RFC 9438 §4.6: the multiplicative-decrease factor β_cubic = 0.7. */
export const CUBIC_BETA = 0.7

/** RFC 9438 §4.3: α_cubic = 3 * (1 - β_cubic) / (1 + β_cubic) ≈ 0.529, the Reno-friendly additive increase. */
export const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA)

const MICROS_PER_SECOND = 1_000_000

/** Options of {@link CubicControl}: the common ones plus CUBIC's own. */
export interface CubicControlOptions extends CongestionControlOptions {
  /** RFC 9438 §4.7 fast convergence. Default true. */
  fastConvergence?: boolean
}

/**
 * CUBIC (RFC 9438). All sizes in bytes, times in µs; the window moves only with the `now` it is given.
 *
 * During fast recovery the window follows NewReno exactly as `RenoControl` does; CUBIC differs in
 * the reduction (β_cubic = 0.7 instead of 1/2, plus fast convergence) and in congestion-avoidance growth.
 */
export class CubicControl extends LossBasedControl {
  readonly name = 'cubic'
  /** RFC 9438 §4.6: ssthresh = max(flight_size * β_cubic, 2*SMSS). */
  protected readonly multiplicativeDecrease = CUBIC_BETA
  /** Whether RFC 9438 §4.7 fast convergence is on. */
  readonly fastConvergence: boolean

  /** W_max in bytes: the window before the last reduction (after fast convergence); 0 before any. */
  #wMax = 0
  /** cwnd_prior in bytes: cwnd when ssthresh was last set by a congestion event; 0 before any. */
  #cwndPrior = 0
  /** W_est in bytes (RFC 9438 §4.3). */
  #wEst = 0
  /** t_epoch in µs: when the current congestion-avoidance stage started, or undefined outside one. */
  #epochStart: Micros | undefined = undefined
  /** cwnd_epoch in bytes: cwnd when the current congestion-avoidance stage started. */
  #cwndEpoch = 0
  /** K in seconds for the current epoch. */
  #k = 0
  /** The state before the last congestion event, for §4.9's undo. */
  readonly #prior: { wMax: number; cwndPrior: number; wEst: number; epochStart: Micros | undefined; lastAckAt: Micros | undefined; cwndEpoch: number; k: number; afterTimeout: boolean } = {
    wMax: 0,
    cwndPrior: 0,
    wEst: 0,
    epochStart: undefined,
    lastAckAt: undefined,
    cwndEpoch: 0,
    k: 0,
    afterTimeout: false,
  }
  /** The next epoch is the first congestion avoidance after a timeout (RFC 9438 §4.8). */
  #afterTimeout = false
  /** When the last ACK in the current epoch was processed, for excluding application-limited time. */
  #lastAckAt: Micros | undefined = undefined

  /** Create a CUBIC controller; throws `ERR_INVALID_ARG` on an out-of-range option. */
  constructor(options?: CubicControlOptions) {
    super(options)
    const fastConvergence = options?.fastConvergence ?? true
    if (typeof fastConvergence !== 'boolean') {
      throw new CongestionControlError('ERR_INVALID_ARG', `fastConvergence must be a boolean, got ${String(fastConvergence)}`)
    }
    this.fastConvergence = fastConvergence
  }

  /** W_max in bytes (RFC 9438 §4.1.2): 0 before the first congestion event. */
  get maxWindow(): number {
    return this.#wMax
  }

  /** cwnd_prior in bytes (RFC 9438 §4.1.2): 0 before the first congestion event. */
  get priorWindow(): number {
    return this.#cwndPrior
  }

  /** W_est in bytes (RFC 9438 §4.3), the Reno-friendly estimate of the current epoch. */
  get renoEstimate(): number {
    return this.#wEst
  }

  /** t_epoch in µs: the start of the current congestion-avoidance stage, or undefined outside one. */
  get epochStart(): Micros | undefined {
    return this.#epochStart
  }

  /** cwnd_epoch in bytes: cwnd at the start of the current congestion-avoidance stage. */
  get epochWindow(): number {
    return this.#cwndEpoch
  }

  /** K in seconds (RFC 9438 §4.2 Figure 2): the time from the epoch start to reach W_max. 0 outside an epoch. */
  get timeToMaxWindow(): number {
    return this.#epochStart === undefined ? 0 : this.#k
  }

  /** W_cubic at `now` (RFC 9438 §4.2 Figure 1) in bytes, or undefined outside a congestion-avoidance epoch. */
  cubicWindowAt(now: Micros): number | undefined {
    if (this.#epochStart === undefined) return undefined
    return this.#cubicWindow(this.#elapsedSeconds(now))
  }

  /**
   * RFC 9438 §4.2–4.5 on one ACK in congestion avoidance: start the epoch if none, update W_est, then
   * follow W_est in the Reno-friendly region or grow towards W_cubic(t + RTT) in the concave/convex ones.
   */
  protected congestionAvoidance(now: Micros, bytesAcked: number, sample: AckSample): void {
    if (this.#epochStart === undefined) this.#startEpoch(now)
    const t = this.#elapsedSeconds(now)
    // §4.2: "RTT is the smoothed round-trip time"; fall back on the raw sample, then 0 (target = W_cubic(t)).
    const rtt = rttSeconds(sample.smoothedRtt ?? sample.rttSample)

    // §4.3 Figure 4: W_est = W_est + α_cubic * segments_acked / cwnd, in bytes:
    // (α * (bytes/SMSS) / (cwnd/SMSS)) segments = α * bytes * SMSS / cwnd bytes.
    // "Once W_est has grown to reach the cwnd at the time of most recently setting ssthresh -- that is,
    // W_est >= cwnd_prior -- the sender SHOULD set α_cubic to 1."
    const alpha = this.#wEst >= this.#cwndPrior ? 1 : CUBIC_ALPHA
    this.#wEst = Math.min(this.#wEst + (alpha * bytesAcked * this.mss) / this.cwnd, MAXIMUM_WINDOW)

    if (this.#cubicWindow(t) < this.#wEst) {
      // §4.3: in the Reno-friendly region cwnd SHOULD be set to W_est on each ACK (never lowered here).
      this.cwnd = Math.max(this.cwnd, this.#wEst)
    } else {
      // §4.2 Figure 3: target = W_cubic(t + RTT) clamped to [cwnd, 1.5*cwnd].
      const target = Math.min(Math.max(this.#cubicWindow(t + rtt), this.cwnd), 1.5 * this.cwnd)
      // §4.4 (concave) and §4.5 (convex): cwnd += (target - cwnd)/cwnd per ACK, counted per SMSS
      // acknowledged (bytes/SMSS ACKs' worth), so delayed or stretch ACKs do not slow the growth, as
      // segments_acked does for W_est. In bytes: (target - cwnd) * bytes / cwnd, and a stretch ACK of
      // more than a window does not carry cwnd past the target.
      this.cwnd = Math.min(target, this.cwnd + ((target - this.cwnd) * bytesAcked) / this.cwnd)
    }
    this.#lastAckAt = now
  }

  /**
   * §4.6–4.7 on a congestion event (recovery entry, or the first of a run of timeouts). ssthresh was set
   * by the base from β_cubic and FlightSize; here W_max and cwnd_prior are updated and the epoch ends.
   */
  protected override onCongestionEvent(_now: Micros, windowBefore: number): void {
    // §4.9: what a spurious event's undo restores.
    this.#prior.wMax = this.#wMax
    this.#prior.cwndPrior = this.#cwndPrior
    this.#prior.wEst = this.#wEst
    this.#prior.epochStart = this.#epochStart
    this.#prior.lastAckAt = this.#lastAckAt
    this.#prior.cwndEpoch = this.#cwndEpoch
    this.#prior.k = this.#k
    this.#prior.afterTimeout = this.#afterTimeout
    // §4.7: with fast convergence, a window that stopped short of the previous W_max releases bandwidth:
    // W_max = cwnd * (1 + β_cubic) / 2; otherwise W_max = cwnd.
    this.#wMax =
      this.fastConvergence && windowBefore < this.#wMax ? (windowBefore * (1 + CUBIC_BETA)) / 2 : windowBefore
    // §4.6: cwnd_prior = cwnd, saved for the α_cubic switch of §4.3.
    this.#cwndPrior = windowBefore
    this.#endEpoch()
  }

  /**
   * §4.9: "CUBIC implementations SHOULD restore" W_max, cwnd_prior, K and t_epoch (with W_est and
   * cwnd_epoch) to their values before the spurious event. The epoch's start moves forward by the time
   * spent since, as application-limited time does (§5.8), so the curve resumes where it was.
   */
  protected override onUndoCongestionEvent(now: Micros): void {
    const prior = this.#prior
    this.#wMax = prior.wMax
    this.#cwndPrior = prior.cwndPrior
    this.#wEst = prior.wEst
    this.#cwndEpoch = prior.cwndEpoch
    this.#k = prior.k
    this.#afterTimeout = prior.afterTimeout
    if (prior.epochStart === undefined || prior.lastAckAt === undefined) {
      this.#endEpoch()
    } else {
      this.#epochStart = prior.epochStart + Math.max(0, now - prior.lastAckAt)
      this.#lastAckAt = now
    }
  }

  /** §4.8: after a timeout the next epoch starts with K = 0 and W_max = cwnd_epoch. */
  protected override onTimeout(_now: Micros): void {
    this.#afterTimeout = true
    this.#endEpoch()
  }

  /**
   * After idle (RFC 5681 §4.1) the epoch ends: §4.2 and §5.8 exclude idle time from t, so growth restarts
   * from a new epoch at the cwnd of the next congestion-avoidance ACK, towards the same W_max.
   */
  protected override onRestart(_now: Micros): void {
    this.#endEpoch()
  }

  /** §5.8 / §4.2: t excludes application-limited time, so the epoch start moves forward by it. */
  protected override onApplicationLimited(now: Micros): void {
    if (this.#epochStart === undefined || this.#lastAckAt === undefined) return
    const idle = now - this.#lastAckAt
    if (idle > 0) this.#epochStart += idle
    this.#lastAckAt = now
  }

  /** K depends on the segment size: recompute it so W_cubic still runs from cwnd_epoch to W_max. */
  protected override onMssChange(_previous: number): void {
    if (this.#epochStart !== undefined) this.#k = this.#timeToMax()
  }

  /** Start a congestion-avoidance stage at `now` (RFC 9438 §4.1.2 t_epoch, cwnd_epoch; §4.3 W_est). */
  #startEpoch(now: Micros): void {
    this.#epochStart = now
    this.#lastAckAt = now
    this.#cwndEpoch = this.cwnd
    // §4.3: "W_est is set equal to cwnd_epoch at the start of the congestion avoidance stage."
    this.#wEst = this.cwnd
    // §4.8: in the first congestion avoidance after a timeout, W_max = cwnd_epoch (so K = 0). The same
    // when the epoch starts at or above W_max (the 2*SMSS floor on ssthresh at tiny windows, a fast-
    // convergence W_max, no congestion event yet): Figure 2 would give K < 0, i.e. start as if already
    // |K| seconds into the convex region; starting at the plateau instead, as Linux does, is the
    // conservative reading and keeps K ≥ 0.
    if (this.#afterTimeout || this.#wMax < this.cwnd) this.#wMax = this.cwnd
    this.#afterTimeout = false
    this.#k = this.#timeToMax()
  }

  #endEpoch(): void {
    this.#epochStart = undefined
    this.#lastAckAt = undefined
  }

  /**
   * §4.2 Figure 2: K = cbrt((W_max - cwnd_epoch) / C) in seconds, the window difference in segments.
   * Never negative: an epoch starts with W_max ≥ cwnd_epoch (see #startEpoch).
   */
  #timeToMax(): number {
    return Math.cbrt((this.#wMax - this.#cwndEpoch) / this.mss / CUBIC_C)
  }

  /** §4.2 Figure 1 in bytes: W_cubic(t) = W_max + C * (t - K)^3 * SMSS, t in seconds. */
  #cubicWindow(t: number): number {
    const offset = t - this.#k
    return this.#wMax + CUBIC_C * offset * offset * offset * this.mss
  }

  /** t = now - t_epoch in seconds, never negative (time that runs backwards counts as none). */
  #elapsedSeconds(now: Micros): number {
    const elapsed = (now - (this.#epochStart ?? now)) / MICROS_PER_SECOND
    return elapsed > 0 ? elapsed : 0
  }
}

/** An RTT in µs as seconds; missing, negative or NaN counts as 0. */
function rttSeconds(rtt: Micros | undefined): number {
  return rtt !== undefined && rtt > 0 ? rtt / MICROS_PER_SECOND : 0
}
