/**
 * The segments that repair losses, as `dispatch` (segment-output.ts) sends them: what SACK-based
 * recovery picks (RFC 6675 §5, or RACK-TLP with PRR, RFC 8985 and RFC 6937), the first unacknowledged
 * segment again (fast retransmit, RFC 5681 §3.2, or a NewReno partial ACK, RFC 6582 §3.2), and the tail
 * loss probe (RFC 8985 §7.3).
 * @module
 */
import type { Micros } from '../congestion/congestion-control.js'
import { seqAdd, seqGt, seqLe, seqLt, seqSub } from '../wire/seq.js'
import { TcpFlags } from '../wire/tcp.js'
import type { ConnectionState } from './connection-state.js'
import type { OutboundSegment } from './segment.js'
import type { RecoverySegment } from './rules/loss-recovery/index.js'
import { paced } from './rules/pacing.js'
import { sendMss } from './rules/segment-size.js'
import { emitData, logSent, markEct, prepare } from './segment-output.js'

/**
 * Send what SACK recovery picks while it allows (rules/loss-recovery/: RFC 6675 §5 (C) cwnd − pipe, or
 * PRR's sndcnt in RACK mode): lost ranges first, then NextSeg().
 * @internal
 */
export function sendSackRecovery(s: ConnectionState, now: Micros, emit: (segment: OutboundSegment) => void): number {
  let sent = 0
  if (s.paceAt !== undefined) return 0
  const recovery = s.recovery
  for (let next: RecoverySegment | undefined = recovery.next(); next !== undefined; next = recovery.next()) {
    if (!paced(s, now, next.length)) break
    if (s.pacer?.paced) s.pacer.onSend(next.length, now)
    const offset = seqSub(next.seq, s.sndUna)
    // The scoreboard counts sequence space, and our FIN takes one number after the data: a hole that
    // reaches it is the data before it plus the FIN flag, never a byte past the send buffer.
    const length = Math.max(0, Math.min(next.length, s.sendBuffer.length - offset))
    const finInRange = s.finSeq !== undefined && seqLe(next.seq, s.finSeq) && seqGt(seqAdd(next.seq, next.length), s.finSeq)
    const fin = next.retransmission ? finInRange : s.finQueued && offset + length === s.sendBuffer.length
    const out = prepare(s, now, next.seq, (fin ? TcpFlags.FIN : 0) | (length > 0 && offset + length >= s.sendBuffer.length ? TcpFlags.PSH : 0))
    out.payloadOffset = offset
    out.payloadLength = length
    out.retransmission = next.retransmission
    if (length > 0) markEct(s, out, next.retransmission)
    const end = seqAdd(next.seq, length + (fin ? 1 : 0))
    if (next.retransmission) {
      s.stats.retransmittedSegments++
      s.stats.retransmittedBytes += length
      s.undo.onRetransmission(out.tsValue, length)
    } else {
      if (fin) s.finSeq = seqAdd(next.seq, length)
      s.sndNxt = end
      if (seqGt(end, s.sndMax)) s.sndMax = end
    }
    logSent(s, now, next.seq, end, next.retransmission)
    recovery.onSent(next, end)
    // Retransmitting the first unacknowledged segment restarts the timer (as Linux's
    // tcp_xmit_retransmit_queue rearms it for the head): its ACK cannot come sooner than a round trip
    // from now, and a timer still counting from the last cumulative ACK, which the hole held back,
    // fires before the repair can arrive whenever detecting the loss took more than RTO − RTT.
    if (next.retransmission && next.seq === s.sndUna) s.rto.restart(now, s.rtt.rto)
    else s.rto.startIfStopped(now, s.rtt.rto)
    s.stats.segmentsOut++
    sent++
    emit(out)
  }
  return sent
}

/** Retransmit the first unacknowledged segment (fast retransmit, or a NewReno partial ACK). @internal */
export function sendRetransmitHead(s: ConnectionState, now: Micros, emit: (segment: OutboundSegment) => void): number {
  const length = Math.min(sendMss(s), s.sendBuffer.length)
  const fin = s.finSeq !== undefined && length === s.sendBuffer.length
  if (length === 0 && !fin) return 0
  const out = prepare(s, now, s.sndUna, fin ? TcpFlags.FIN : 0)
  out.payloadOffset = 0
  out.payloadLength = length
  out.retransmission = true
  logSent(s, now, s.sndUna, seqAdd(s.sndUna, length + (fin ? 1 : 0)), true)
  s.stats.retransmittedSegments++
  s.stats.retransmittedBytes += length
  s.undo.onRetransmission(out.tsValue, length)
  s.stats.segmentsOut++
  s.rto.startIfStopped(now, s.rtt.rto)
  emit(out)
  return 1
}

/**
 * RFC 8985 §7.3 TLP_send_probe(): one segment of new data if there is some and the peer's window takes
 * it, else the last segment sent again; whatever cwnd says. Then the RTO is restarted, and the probe's
 * episode stays open until the ACKs close it (rules/tail-loss-probe.ts). @returns segments emitted (0 or 1).
 * @internal
 */
export function sendTailLossProbe(s: ConnectionState, now: Micros, emit: (segment: OutboundSegment) => void): number {
  if (!s.canSendData() || s.recovery.inRecovery || s.tlp.endSeq !== undefined || seqLt(s.sndNxt, s.sndMax)) return 0
  const flight = seqSub(s.sndMax, s.sndUna)
  if (flight <= 0) return 0
  const mss = sendMss(s)
  const unsent = s.sendBuffer.length - flight
  const windowLeft = s.sndWnd - flight
  if (unsent > 0 && windowLeft >= Math.min(unsent, mss)) {
    const length = Math.min(unsent, mss)
    const fin = s.finQueued && flight + length === s.sendBuffer.length
    emitData(s, now, emit, flight, length, fin)
    s.tlp.onProbeSent(s.sndMax, false)
  } else {
    // The last segment again: up to one MSS of data ending where the data sent ends, and the FIN if it went.
    const finSent = s.finSeq !== undefined && seqLt(s.finSeq, s.sndMax)
    const dataEnd = finSent ? s.finSeq! : s.sndMax
    const length = Math.min(mss, seqSub(dataEnd, s.sndUna))
    const seq = seqAdd(dataEnd, -length)
    const out = prepare(s, now, seq, (finSent ? TcpFlags.FIN : 0) | (length > 0 ? TcpFlags.PSH : 0))
    out.payloadOffset = seqSub(seq, s.sndUna)
    out.payloadLength = length
    out.retransmission = true
    logSent(s, now, seq, s.sndMax, true)
    s.stats.retransmittedSegments++
    s.stats.retransmittedBytes += length
    s.stats.segmentsOut++
    emit(out)
    s.tlp.onProbeSent(s.sndMax, true)
  }
  s.stats.tailLossProbes++
  // RFC 8985 §7.3: after the probe, the RTO timer (not another PTO) guards the flight.
  s.rto.restart(now, s.rtt.rto)
  return 1
}
