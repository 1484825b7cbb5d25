/**
 * NewReno congestion control: RFC 5681 slow start and congestion avoidance with RFC 6582 fast recovery.
 *
 * Implements:
 * - RFC 5681 §3.1: slow start (with RFC 3465 byte counting, see `loss-based.ts`), congestion avoidance by
 *   byte counting (the RECOMMENDED way: +1 SMSS once a full cwnd of bytes is acknowledged, RFC 3465 §2.1),
 *   ssthresh = max(FlightSize/2, 2*SMSS) (eq. 4) and the one-segment loss window on a timeout;
 * - RFC 5681 §3.2 and RFC 6582 §3.2: fast retransmit and NewReno fast recovery (shared in `loss-based.ts`);
 * - RFC 5681 §4.1: the restart window after idle;
 * - RFC 6928: the initial window.
 * @module
 */
import type { AckSample, CongestionControlOptions, Micros } from './congestion-control.js'
import { LossBasedControl } from './loss-based.js'

/**
 * NewReno (RFC 5681 + RFC 6582). All sizes in bytes; no clock is read.
 *
 * @example
 * ```ts
 * const reno = new RenoControl({ mss: 1460 })
 * reno.window // 14600: the RFC 6928 initial window
 * reno.onAck(now, { bytesAcked: 1460, bytesSacked: 0, rttSample: undefined, smoothedRtt: undefined, bytesInFlight: 14600, appLimited: false })
 * reno.window // 16060
 * ```
 */
export class RenoControl extends LossBasedControl {
  readonly name = 'reno'
  /** RFC 5681 eq. 4: ssthresh = max(FlightSize / 2, 2*SMSS). */
  protected readonly multiplicativeDecrease = 0.5

  /** RFC 3465 §2.1 `bytes_acked`: bytes acknowledged in congestion avoidance not yet turned into growth. */
  #bytesAcked = 0

  /** Create a Reno controller; throws `ERR_INVALID_ARG` on an out-of-range option. */
  constructor(options?: CongestionControlOptions) {
    super(options)
  }

  /**
   * RFC 5681 §3.1 congestion avoidance by byte counting (RFC 3465 §2.1): when the bytes acknowledged
   * reach cwnd, cwnd grows by one SMSS and the count drops by the old cwnd, i.e. +1 SMSS per RTT when the
   * window is used. At most one SMSS per ACK (RFC 5681 §3.1: "cwnd can be incremented by up to SMSS"); a
   * stretch ACK keeps less than one window of credit.
   */
  protected congestionAvoidance(_now: Micros, bytesAcked: number, _sample: AckSample): void {
    this.#bytesAcked += bytesAcked
    if (this.#bytesAcked >= this.cwnd) {
      this.#bytesAcked -= this.cwnd
      this.cwnd += this.mss
      this.#bytesAcked = Math.min(this.#bytesAcked, this.cwnd - 1)
    }
  }

  /** RFC 3465 §2.1: the byte count restarts after a congestion event. */
  protected override onCongestionEvent(_now: Micros, _windowBefore: number): void {
    this.#bytesAcked = 0
  }

  /** The byte count restarts after a timeout (RFC 3465 §2.1). */
  protected override onTimeout(_now: Micros): void {
    this.#bytesAcked = 0
  }

  /** Credit earned against the old window does not carry across an idle restart. */
  protected override onRestart(_now: Micros): void {
    this.#bytesAcked = 0
  }
}
