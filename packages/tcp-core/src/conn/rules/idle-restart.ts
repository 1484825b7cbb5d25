/**
 * Restarting after idle (RFC 5681 §4.1): "if TCP has not sent data in an interval exceeding the
 * retransmission timeout", cwnd restarts from the restart window before anything is sent, as Linux's
 * tcp_slow_start_after_idle_check (nothing in flight, the last data sent longer than the RTO ago).
 * @module
 */
import type { Micros } from '../../congestion/congestion-control.js'

/** @internal */
export class IdleRestart {
  #lastDataSentAt: Micros | undefined = undefined

  /** Data left at `now`. */
  onDataSent(now: Micros): void {
    this.#lastDataSentAt = now
  }

  /** Whether sending data now follows an idle period longer than `rto` (then the period counts as ended). */
  due(now: Micros, rto: Micros, nothingInFlight: boolean): boolean {
    const last = this.#lastDataSentAt
    if (last === undefined || !nothingInFlight || now - last <= rto) return false
    this.#lastDataSentAt = now
    return true
  }
}
