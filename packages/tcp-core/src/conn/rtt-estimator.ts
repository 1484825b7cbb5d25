/**
 * Round-trip time estimation and the retransmission timeout, RFC 6298.
 * @module
 */
import type { Micros } from '../congestion/congestion-control.js'

/** RFC 6298 §2: alpha = 1/8, beta = 1/4, K = 4. */
const ALPHA = 1 / 8
const BETA = 1 / 4
const K = 4

/** Bounds of the retransmission timeout. */
export interface RttOptions {
  /** Lower bound of the RTO in µs. RFC 6298 §2.4 says 1 s; Linux uses 200 ms, the default here. */
  minRto: Micros
  /** Upper bound of the RTO in µs (RFC 6298 §2.5: at least 60 s). Default 60 s. */
  maxRto: Micros
  /** RTO before the first sample (RFC 6298 §2.1: 1 s). */
  initialRto: Micros
  /** Clock granularity G in µs (RFC 6298 §2.3). Default 1 ms. */
  granularity: Micros
}

/** SRTT, RTTVAR and RTO for one connection. */
export class RttEstimator {
  /** Smoothed RTT in µs, undefined before the first sample. */
  smoothedRtt: Micros | undefined = undefined
  /** RTT variation in µs. */
  rttVariation: Micros = 0
  /** The latest sample in µs. */
  latestRtt: Micros | undefined = undefined
  /** The smallest sample seen, µs. */
  minRtt: Micros = Number.POSITIVE_INFINITY
  #rto: Micros
  #backoff = 0

  constructor(readonly options: RttOptions) {
    this.#rto = options.initialRto
  }

  /** The current retransmission timeout including exponential backoff (RFC 6298 §5.5), bounded by maxRto. */
  get rto(): Micros {
    const backedOff = this.#rto * 2 ** this.#backoff
    return Math.min(backedOff, this.options.maxRto)
  }

  /** How many times the timer has backed off since the last new acknowledgment. */
  get backoffCount(): number {
    return this.#backoff
  }

  /** Take a sample (RFC 6298 §2.2–2.3). The caller applies Karn's rule (§3): no samples from retransmitted data without timestamps. */
  sample(rtt: Micros): void {
    if (!(rtt >= 0)) return
    this.latestRtt = rtt
    if (rtt < this.minRtt) this.minRtt = rtt
    if (this.smoothedRtt === undefined) {
      this.smoothedRtt = rtt
      this.rttVariation = rtt / 2
    } else {
      this.rttVariation = (1 - BETA) * this.rttVariation + BETA * Math.abs(this.smoothedRtt - rtt)
      this.smoothedRtt = (1 - ALPHA) * this.smoothedRtt + ALPHA * rtt
    }
    const rto = this.smoothedRtt + Math.max(this.options.granularity, K * this.rttVariation)
    this.#rto = Math.min(Math.max(rto, this.options.minRto), this.options.maxRto) // §2.4, §2.5
  }

  /** The timer expired: double the RTO (RFC 6298 §5.5). */
  backOff(): void {
    if (this.#rto * 2 ** this.#backoff < this.options.maxRto) this.#backoff++
  }

  /** New data was acknowledged: forget the backoff (RFC 6298 §5.7 keeps the RTO until a new sample; Linux resets on new ACK). */
  resetBackoff(): void {
    this.#backoff = 0
  }
}
