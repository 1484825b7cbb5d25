/**
 * The transitions of RFC 9293 §3.3.2's state diagram that more than one event leads to: the handshake's
 * end (ESTABLISHED), TIME-WAIT, and CLOSED (normally, by reset, or by a timeout), with the timers and
 * events each one stops or raises.
 * @module
 */
import type { Micros } from '../../congestion/congestion-control.js'
import type { ConnectionState } from '../connection-state.js'
import { type TcpErrorCode, TcpEvents } from '../connection-types.js'

/** The handshake completed (RFC 9293 §3.10.7.3, §3.10.7.4 fifth): ESTABLISHED, or FIN-WAIT-1 when a close was queued (§3.10.4). @internal */
export function establish(s: ConnectionState): void {
  s.state = 'ESTABLISHED'
  s.synPending = false
  s.events |= TcpEvents.CONNECTED | TcpEvents.WRITABLE
  if (s.finQueued) s.state = 'FIN-WAIT-1'
}

/** TIME-WAIT (RFC 9293 §3.10.7.4 eighth): only the 2 MSL timer runs (rules/time-wait.ts). @internal */
export function enterTimeWait(s: ConnectionState, now: Micros): void {
  s.state = 'TIME-WAIT'
  s.rto.stop()
  s.persist.stop()
  s.keepAlive.at = undefined
  s.timeWait.start(now, s.config.timeWaitTimeout)
  s.events |= TcpEvents.PEER_CLOSED
}

/** The connection failed with `code` (a reset, RFC 9293 §3.10.7.4 second; or a timeout, RFC 9293 §3.8.3): CLOSED with an error. @internal */
export function fail(s: ConnectionState, code: TcpErrorCode): void {
  enterClosed(s, code)
}

/** CLOSED (RFC 9293 §3.3.2): every timer stops and nothing more is sent but a reset already owed. @internal */
export function enterClosed(s: ConnectionState, error: TcpErrorCode | undefined): void {
  if (s.state === 'CLOSED') return
  s.state = 'CLOSED'
  if (error !== undefined) {
    s.error = error
    s.events |= TcpEvents.ERROR
  }
  s.events |= TcpEvents.CLOSED | TcpEvents.READABLE
  s.rto.stop()
  s.acks.clear()
  s.persist.stop()
  s.keepAlive.at = undefined
  s.timeWait.at = undefined
  s.synPending = false
  s.recovery.retransmitHead = false
  s.probePending = undefined
}
