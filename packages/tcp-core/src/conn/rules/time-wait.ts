/**
 * TIME-WAIT (RFC 9293 §3.3.2, §3.10.7.4 "eighth"): the active closer waits 2·MSL so that old duplicates
 * die out and a lost final ACK can be answered again; a retransmitted FIN restarts the wait. RFC 1337 §3
 * (F1): a RST does not end it early (TIME-WAIT assassination); the connection ignores it.
 * @module
 */
import type { Micros } from '../../congestion/congestion-control.js'

/** @internal */
export class TimeWait {
  /** When TIME-WAIT ends, or undefined outside it. */
  at: Micros | undefined = undefined

  /** Enter TIME-WAIT, or restart its 2·MSL after a retransmitted FIN. */
  start(now: Micros, duration: Micros): void {
    this.at = now + duration
  }

  /** Whether TIME-WAIT is over at `now`. */
  expired(now: Micros): boolean {
    return this.at !== undefined && now >= this.at
  }
}
