/**
 * A connection's timers, run at the start of each `dispatch`: TIME-WAIT's 2 MSL, the pacer's hold, the
 * delayed ACK (RFC 1122 §4.2.3.2), the tail loss probe (RFC 8985 §7.2), RACK's reordering timer
 * (RFC 8985 §6.2), the retransmission timer (RFC 6298 §5), persist (RFC 9293 §3.8.6.1) and keepalive
 * (RFC 1122 §4.2.3.6); and `pollAt`, the earliest of them.
 * @module
 */
import type { Micros } from '../congestion/congestion-control.js'
import { seqGt } from '../wire/seq.js'
import type { ConnectionState } from './connection-state.js'
import { retransmitTimeout } from './rules/retransmission-timer.js'
import { enterClosed, fail } from './rules/state-transitions.js'

/** When `dispatch` must run next for a timer, or undefined. Output already due is signalled by `hasPendingOutput`. @internal */
export function pollAt(s: ConnectionState): Micros | undefined {
  return earliest(earliest(earliest(earliest(earliest(earliest(s.rto.at, s.acks.at), s.persist.at), s.keepAlive.at), s.timeWait.at), s.paceAt), earliest(s.tlp.timeoutAt, s.recovery.timerAt))
}

/** Run every timer that expired by `now`, in this order; a connection that closes or fails stops here. @internal */
export function runTimers(s: ConnectionState, now: Micros): void {
  if (s.timeWait.expired(now)) {
    enterClosed(s, undefined)
    return
  }
  if (s.paceAt !== undefined && now >= s.paceAt) s.paceAt = undefined
  s.acks.runTimer(now)
  s.tlp.runTimer(now)
  s.recovery.runTimer(now)
  // RFC 3168 §6.1.2 (rules/ecn.ts): the timer an ECE reset at a one-segment window, with nothing outstanding, only lets new data go.
  if (s.rto.expired(now) && !s.ecn.onTimerExpired(seqGt(s.sndMax, s.sndUna))) retransmitTimeout(s, now)
  if (s.persist.due(now)) s.probePending = 'window'
  if (s.config.keepAlive) {
    const keepAlive = s.keepAlive.due(now, s.config.keepAliveCount)
    if (keepAlive === 'dead') {
      fail(s, 'ETIMEDOUT')
      return
    }
    if (keepAlive === 'probe') s.probePending = 'keepalive'
  }
}

function earliest(a: Micros | undefined, b: Micros | undefined): Micros | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return a < b ? a : b
}
