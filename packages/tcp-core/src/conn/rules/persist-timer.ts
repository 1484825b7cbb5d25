/**
 * The persist timer (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17): with a zero window and data to send, probe
 * the window at intervals that back off, so a lost window update cannot deadlock the connection.
 * @module
 */
import type { Micros } from '../../congestion/congestion-control.js'
import type { ConnectionState } from '../connection-state.js'

/** @internal */
export class PersistTimer {
  /** When the next probe is due, or undefined. */
  at: Micros | undefined = undefined
  #backoff = 0

  /** Arm it for the next probe unless armed: the RTO (or `initialRto` before any sample) doubled per unanswered probe, within [200 ms, 60 s] as Linux bounds it. */
  arm(now: Micros, rto: Micros | undefined, initialRto: Micros): void {
    if (this.at !== undefined) return
    const base = rto ?? initialRto
    this.at = now + Math.min(Math.max(base * 2 ** this.#backoff, 200_000), 60_000_000)
  }

  /** Whether a window probe is due now; when it is, the backoff grows. */
  due(now: Micros): boolean {
    if (this.at === undefined || now < this.at) return false
    this.at = undefined
    this.#backoff++
    return true
  }

  /** The window opened: stop probing, and start from the base interval next time. */
  stop(): void {
    this.at = undefined
    this.#backoff = 0
  }
}

/** Arm the persist timer (RFC 9293 §3.8.6.1) from the RTO, or the initial RTO before any RTT sample. @internal */
export function armPersist(s: ConnectionState, now: Micros): void {
  s.persist.arm(now, s.rtt.smoothedRtt === undefined ? undefined : s.rtt.rto, s.config.initialRto)
}
