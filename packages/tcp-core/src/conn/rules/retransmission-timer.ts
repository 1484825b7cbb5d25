/**
 * The retransmission timer (RFC 6298 §5): started when data goes out with none pending, restarted on
 * each ACK of new data, stopped when everything is acknowledged; its expiry backs off and, after
 * `maxRetransmits` (or the user timeout of RFC 9293 §3.8.4 / RFC 5482), ends the connection.
 * The RTO value itself comes from {@link RttEstimator}.
 * @module
 */
import type { Micros } from '../../congestion/congestion-control.js'
import type { ConnectionState } from '../connection-state.js'
import { fail } from './state-transitions.js'

/** @internal */
export class RetransmissionTimer {
  /** When the timer expires, or undefined when stopped. */
  at: Micros | undefined = undefined
  /** Timeouts since new data was last acknowledged (the backoff count). */
  timeouts = 0
  #firstTimeoutAt: Micros | undefined = undefined

  /** RFC 6298 §5.1: start it unless running. */
  startIfStopped(now: Micros, rto: Micros): void {
    if (this.at === undefined) this.at = now + rto
  }

  /** RFC 6298 §5.3: (re)start it. */
  restart(now: Micros, rto: Micros): void {
    this.at = now + rto
  }

  /** RFC 6298 §5.2: everything acknowledged. */
  stop(): void {
    this.at = undefined
  }

  /** Whether it expired at `now`; an expired timer is stopped. */
  expired(now: Micros): boolean {
    if (this.at === undefined || now < this.at) return false
    this.at = undefined
    return true
  }

  /** New data was acknowledged: the timeouts so far are over (RFC 6298 §5.7's backoff ends with the RTT sample). */
  onNewDataAcked(): void {
    this.timeouts = 0
    this.#firstTimeoutAt = undefined
  }

  /**
   * A timeout: 'give-up' after `limit` timeouts in a row or once the user timeout ran out since the first
   * of them, else 'retransmit' (and the count grows).
   */
  onTimeout(now: Micros, limit: number, userTimeout: Micros): 'give-up' | 'retransmit' {
    this.#firstTimeoutAt ??= now
    if (this.timeouts >= limit || (userTimeout > 0 && now - this.#firstTimeoutAt >= userTimeout)) return 'give-up'
    this.timeouts++
    return 'retransmit'
  }
}

/** RFC 6298 §5.4–5.6 and RFC 5681 §3.1: the retransmission timer expired. @internal */
export function retransmitTimeout(s: ConnectionState, now: Micros): void {
  // The RTO takes over: no probe now, and none until the timeout's recovery is over (RFC 8985 §7.2).
  s.tlp.cancel()
  const limit = s.synAcked ? s.config.maxRetransmits : s.config.synRetries
  if (s.rto.onTimeout(now, limit, s.config.userTimeout) === 'give-up') {
    fail(s, 'ETIMEDOUT')
    return
  }
  s.stats.retransmitTimeouts++
  s.rtt.backOff()
  // RFC 3522: only the first timeout of a series can be found spurious; a recovery's undo ends here.
  s.undo.onTimeout(s.rto.timeouts === 1, s.ts.on, s.congestion.onUndo !== undefined)
  if (!s.synAcked) {
    s.synPending = true
    return
  }
  s.congestion.onRetransmitTimeout(now, s.bytesInFlight)
  s.ecn.onLossReduction(s.sndMax) // RFC 3168 §6.1.2: CWR answers any echo
  // The recovery ends (rules/loss-recovery/); go back to SND.UNA (RFC 6582 §4, RFC 5681 §3.1).
  s.recovery.onTimeout()
  // RFC 5682: the first timeout of a series may prove spurious by F-RTO (Eifel's check, above, needs timestamps).
  s.frto.onTimeout(s.rto.timeouts === 1 && s.congestion.onUndo !== undefined, s.sndMax, s.sackOn)
  s.sndNxt = s.sndUna
}
