/**
 * The checks that keep blind in-window attacks from resetting or desynchronising a connection
 * (RFC 5961): a RST must carry exactly RCV.NXT (§3.2), a SYN in a synchronized state is never taken
 * (§4.2), an ACK must fall within SND.UNA − MAX.SND.WND … SND.NXT (§5.2); otherwise a challenge ACK
 * goes, within §7's rate limit (rules/challenge-ack.ts). Also what an acceptable RST does in each state
 * (RFC 9293 §3.10.7.4 second check), and RFC 1337's TIME-WAIT exception.
 * @module
 */
import type { Micros } from '../../congestion/congestion-control.js'
import { seqAdd, seqGt, seqLt } from '../../wire/seq.js'
import { TcpFlags } from '../../wire/tcp.js'
import type { ConnectionState } from '../connection-state.js'
import { enterClosed, fail } from './state-transitions.js'

/**
 * RFC 1337 §3 (F1): a RST in TIME-WAIT is ignored, so an old duplicate cannot end TIME-WAIT early
 * ("TIME-WAIT assassination"). Linux does the same with net.ipv4.tcp_rfc1337 = 1.
 * @returns whether the segment is such a RST (counted, to be dropped)
 * @internal
 */
export function timeWaitResetIgnored(s: ConnectionState, flags: number): boolean {
  if (s.state !== 'TIME-WAIT' || !(flags & TcpFlags.RST)) return false
  s.stats.timeWaitResetsIgnored++
  return true
}

/**
 * A RST in a synchronized state that passed the acceptability test (RFC 5961 §3.2): it resets the
 * connection only when its sequence number is exactly RCV.NXT; anywhere else in the window it gets a
 * challenge ACK, which a peer that really lost the connection answers with an exact RST.
 * @internal
 */
export function resetArrived(s: ConnectionState, now: Micros, seq: number): void {
  if (seq === s.rcvNxt) resetReceived(s)
  else challengeAck(s, now)
}

/**
 * RFC 5961 §5.2: an ACK is acceptable when SND.UNA − MAX.SND.WND ≤ SEG.ACK ≤ SND.NXT (SND.MAX here, for
 * probes and go-back-N); one outside gets a challenge ACK and the segment is dropped.
 * @returns whether the ACK is acceptable
 * @internal
 */
export function ackAcceptable(s: ConnectionState, now: Micros, ack: number): boolean {
  if (seqGt(ack, s.sndMax) || seqLt(ack, seqAdd(s.sndUna, -s.maxSndWnd))) {
    challengeAck(s, now)
    return false
  }
  return true
}

/** An acceptable RST (RFC 9293 §3.10.7.4 second check): what it does in each synchronized state. @internal */
export function resetReceived(s: ConnectionState): void {
  switch (s.state) {
    case 'SYN-RECEIVED':
      // RFC 9293 §3.10.7.4: from a passive open, back to LISTEN; the listener simply forgets us.
      fail(s, 'ECONNREFUSED')
      return
    case 'CLOSING':
    case 'LAST-ACK':
    case 'TIME-WAIT':
      enterClosed(s, undefined)
      return
    default:
      fail(s, 'ECONNRESET')
  }
}

/**
 * A challenge ACK, within RFC 5961 §7's rate limit (rules/challenge-ack.ts): the answer of §3.2 (a RST
 * not at RCV.NXT), §4.2 (a SYN in a synchronized state) and §5.2 (an ACK outside the window).
 * @internal
 */
export function challengeAck(s: ConnectionState, now: Micros): void {
  if (!s.challenges.allow(now)) return
  s.stats.challengeAcks++
  // RFC 5961 §3.2, §4.2, §5.2: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, a segment of its own.
  s.acks.owePure()
}
