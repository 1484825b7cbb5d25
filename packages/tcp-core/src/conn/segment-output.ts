/**
 * What a connection sends and when (RFC 9293 §3.10.7's replies, §3.8.6 and RFC 5681 §3 windows):
 * `dispatch` emits, in order, a reset owed, the SYN or SYN-ACK, ACKs owed as segments of their own,
 * retransmissions (rules/loss-recovery/, retransmission-output.ts), new data and the FIN within the
 * windows, Nagle, SWS avoidance and the pacer, a tail loss probe, a window probe or keepalive, and a
 * bare ACK when nothing else carried it. Every segment is the connection's one reused
 * {@link OutboundSegment}: nothing is allocated per segment.
 * @module
 */
import type { Micros } from '../congestion/congestion-control.js'
import { seqAdd, seqGt, seqLt, seqSub } from '../wire/seq.js'
import { TcpFlags } from '../wire/tcp.js'
import type { ConnectionState } from './connection-state.js'
import type { OutboundSegment } from './segment.js'
import { checkApplicationLimited } from './rules/delivery-rate.js'
import { armKeepAlive } from './rules/keepalive.js'
import { paced } from './rules/pacing.js'
import { armPersist } from './rules/persist-timer.js'
import { MAX_WINDOW_FIELD } from './rules/receive-window.js'
import { sendMss, superSegmentMax } from './rules/segment-size.js'
import { senderSwsHolds } from './rules/silly-window.js'
import { offerSynOptions } from './rules/syn-options.js'
import { armProbeTimeout } from './rules/tail-loss-probe.js'
import { sendRetransmitHead, sendSackRecovery, sendTailLossProbe } from './retransmission-output.js'
import { runTimers } from './timers.js'

/**
 * Emit every segment that may be sent now, in order. `emit` must serialise the segment (and copy its
 * payload with `segment.copyPayload`) before returning: the object is reused.
 * @internal
 */
export function dispatch(s: ConnectionState, now: Micros, emit: (segment: OutboundSegment) => void): void {
  runTimers(s, now)
  // A reset owed (RFC 9293 §3.10.7.3 first check, §3.10.7.4 fifth in SYN-RECEIVED, §3.10.5 ABORT).
  if (s.resetToSend !== undefined) {
    const reset = s.resetToSend
    s.resetToSend = undefined
    const out = s.out
    out.reset()
    out.seq = reset.seq
    out.ack = reset.ack
    out.flags = reset.flags
    out.window = 0
    s.stats.segmentsOut++
    emit(out)
  }
  const state = s.state
  if (state === 'CLOSED' || state === 'LISTEN') return
  // Before the handshake completes only the SYN (or SYN-ACK) and its ACK go (RFC 9293 §3.10.7.3).
  if (state === 'SYN-SENT' || state === 'SYN-RECEIVED') {
    s.acks.pureOwed = 0
    if (s.synPending) sendSyn(s, now, emit)
    else if (s.acks.now) sendAck(s, now, emit)
    return
  }
  // ACKs owed as their own segments go first, before any data (rules/delayed-ack.ts).
  while (s.acks.pureOwed > 0) {
    s.acks.pureOwed--
    s.stats.pureAcksSent++
    sendAck(s, now, emit)
  }
  let sent = 0
  // Fast retransmit (RFC 5681 §3.2 step 4) or a NewReno partial ACK's retransmission (RFC 6582 §3.2 step 5).
  if (s.recovery.retransmitHead) {
    s.recovery.retransmitHead = false
    sent += sendRetransmitHead(s, now, emit)
  }
  s.newDataSent = false
  // RFC 6675 §5 (C) or RACK-TLP with PRR (rules/loss-recovery/): what SACK recovery picks, else new data.
  if (s.recovery.sackRecovery) sent += sendSackRecovery(s, now, emit)
  else if (state !== 'TIME-WAIT') {
    // After a timeout (RACK mode), retransmissions found lost again go before go-back-N continues.
    if (s.recovery.lostAfterTimeout) sent += sendSackRecovery(s, now, emit)
    // RFC 3168 §6.1.2 (rules/ecn.ts): after an ECE at a one-segment window, new data waits for the timer.
    if (!s.ecn.holdsNewData(s.rto.at !== undefined)) sent += sendData(s, now, emit)
  }
  if (s.tlp.due) {
    s.tlp.due = false
    // RFC 8985 §7.3: if new data just went, it is the probe's ACK trigger already.
    if (!s.newDataSent) sent += sendTailLossProbe(s, now, emit)
  }
  if (s.newDataSent) armProbeTimeout(s, now)
  // A zero-window probe (RFC 9293 §3.8.6.1) or a keepalive (RFC 1122 §4.2.3.6).
  if (s.probePending !== undefined) {
    sendProbe(s, now, emit)
    sent++
  }
  // An ACK due (rules/delayed-ack.ts) that no segment above carried goes alone.
  if (sent === 0 && s.acks.now) sendAck(s, now, emit)
  checkApplicationLimited(s)
  armKeepAlive(s, now)
}

/** Whether `dispatch` has something to send now (an ACK, a SYN, a reset, data the windows allow). @internal */
export function hasPendingOutput(s: ConnectionState): boolean {
  if (s.acks.now || s.acks.pureOwed > 0 || s.synPending || s.resetToSend !== undefined || s.recovery.retransmitHead || s.probePending !== undefined || s.tlp.due) return true
  if (s.paceAt !== undefined) return false // the pacer holds data until its timer
  if (s.recovery.sackRecovery) return s.recovery.next() !== undefined
  if (s.recovery.lostAfterTimeout && s.recovery.next() !== undefined) return true
  return s.canSendData() && nextSendLength(s) >= 0
}

/** Our SYN (SYN-SENT, RFC 9293 §3.10.1) or SYN-ACK (SYN-RECEIVED, §3.10.7.2), first or again after a timeout. @internal */
export function sendSyn(s: ConnectionState, now: Micros, emit: (segment: OutboundSegment) => void): void {
  s.synPending = false
  const out = s.out
  out.reset()
  out.seq = s.iss
  out.flags = TcpFlags.SYN
  const retransmission = s.sndMax !== s.iss
  // MSS, SACK-permitted, window scale, timestamps and ECN setup (rules/syn-options.ts).
  offerSynOptions(s, out, now, retransmission)
  if (s.state === 'SYN-RECEIVED') {
    out.flags |= TcpFlags.ACK
    out.ack = s.rcvNxt
    s.lastAckSent = s.rcvNxt
  }
  // RFC 7323 §2.2: the window in a SYN is not scaled.
  out.window = Math.min(s.receiveBuffer.window, MAX_WINDOW_FIELD)
  if (s.state === 'SYN-RECEIVED') s.rcvWindow.setRight(s.rcvNxt, out.window)
  if (!retransmission) {
    s.sndNxt = seqAdd(s.iss, 1)
    s.sndMax = s.sndNxt
  }
  out.retransmission = retransmission
  logSent(s, now, s.iss, seqAdd(s.iss, 1), retransmission)
  s.rto.restart(now, s.rtt.rto)
  s.stats.segmentsOut++
  if (retransmission) s.stats.retransmittedSegments++
  s.acks.now = false
  emit(out)
}

/** Fill the common fields of a segment that carries ACK. @internal */
export function prepare(s: ConnectionState, now: Micros, seq: number, flags: number): OutboundSegment {
  const out = s.out
  out.reset()
  out.seq = seq
  out.flags = TcpFlags.ACK | flags | s.ecn.ackFlags() // RFC 3168 §6.1.3: ECE until the peer's CWR
  out.ack = s.rcvNxt
  out.window = s.rcvWindow.field(s.rcvNxt)
  if (s.ts.on) {
    out.timestamps = true
    out.tsValue = s.ts.clock(now)
    out.tsEcho = s.ts.recent
  }
  if (s.sackOn) fillSackBlocks(s, out)
  s.lastAckSent = s.rcvNxt
  s.acks.onAckSent()
  return out
}

/** SACK blocks from the out-of-order ranges (RFC 2018 §4; the full ordering rules come with @mtcp/sack). @internal */
export function fillSackBlocks(s: ConnectionState, out: OutboundSegment): void {
  const receiver = s.sackReceiver
  if (receiver !== undefined) {
    const blocks = s.sackBlocksOut
    const n = receiver.blocks(s.rcvNxt, s.ts.on ? 3 : 4, blocks)
    for (let i = 0; i < n; i++) {
      out.sackLeft[i] = blocks[i]!.left
      out.sackRight[i] = blocks[i]!.right
    }
    out.sackCount = n
    return
  }
  const ranges = s.receiveBuffer.rangeCount
  const max = s.ts.on ? 3 : 4
  let n = 0
  for (let i = 0; i < ranges && n < max; i++) {
    const [start, end] = s.receiveBuffer.range(i)
    out.sackLeft[n] = seqAdd(s.rcvNxt, start)
    out.sackRight[n] = seqAdd(s.rcvNxt, end)
    n++
  }
  out.sackCount = n
}

/** A bare ACK: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (RFC 9293 §3.10.7.4). @internal */
export function sendAck(s: ConnectionState, now: Micros, emit: (segment: OutboundSegment) => void): void {
  const out = prepare(s, now, s.sndNxt, 0)
  s.stats.segmentsOut++
  emit(out)
}

/** Usable window: cwnd less the data in the network, and SND.WND less the bytes in flight (RFC 5681 §3, RFC 9293 §3.8.6.2.1). @internal */
export function usableWindow(s: ConnectionState): number {
  // RFC 5682 §2 step 2b: F-RTO's two new segments go whatever cwnd says (within the peer's window).
  if (s.frto.allowance > 0) return Math.min(Math.max(s.congestion.window - s.bytesInFlight, s.frto.allowance), s.sndWnd - s.bytesInFlight)
  // cwnd against the data in the network (rules/loss-recovery/: SACKed data excluded with RACK), the peer's window against all of it.
  return Math.min(s.congestion.window - s.recovery.flightForWindow, s.sndWnd - s.bytesInFlight)
}

/**
 * What {@link sendData} sends next: a payload length (1 or more), 0 for a bare FIN, or -1 for
 * nothing now (RFC 9293 §3.7.4 Nagle, §3.8.6.2.1 sender SWS avoidance, the windows).
 * @internal
 */
export function nextSendLength(s: ConnectionState): number {
  const offset = seqSub(s.sndNxt, s.sndUna)
  const unsent = s.sendBuffer.length - offset
  if (unsent <= 0) return s.finDue() ? 0 : -1
  const window = usableWindow(s)
  let length = Math.min(superSegmentMax(s), unsent, window)
  if (length <= 0) return -1
  // When the window is what cuts a segment of several MSS, cut it at a whole MSS (Linux's
  // tcp_mss_split_point): a super segment of 2.5 MSS would put a short segment on the wire for nothing.
  const mss = sendMss(s)
  if (length === window && length > mss && length < unsent) length -= length % mss
  // Full segments and retransmissions (below SND.MAX, after a timeout) are never held back.
  if (length >= mss || seqLt(s.sndNxt, s.sndMax)) return length
  const allQueued = length === unsent
  // Nagle (rules/nagle.ts), then sender SWS avoidance (rules/silly-window.ts).
  if (s.nagle.holds(s.sndUna, s.sndNxt, s.config.noDelay, s.finQueued && allQueued)) return -1
  if (senderSwsHolds(length, allQueued, s.maxSndWnd, s.bytesInFlight)) return -1
  return length
}

/** New data and the FIN. @returns the number of segments emitted. @internal */
export function sendData(s: ConnectionState, now: Micros, emit: (segment: OutboundSegment) => void): number {
  if (!s.canSendData() || s.paceAt !== undefined) return 0
  // RFC 5681 §4.1 (rules/idle-restart.ts): restart from the restart window after an idle period.
  if (s.config.slowStartAfterIdle && s.sendBuffer.length > 0 && s.idle.due(now, s.rtt.rto, s.bytesInFlight === 0)) {
    s.stats.idleRestarts++
    s.congestion.onIdleRestart(now)
  }
  let sent = 0
  for (;;) {
    const length = nextSendLength(s)
    if (length > 0 && !paced(s, now, length)) return sent
    if (length < 0) {
      // Zero window with nothing in flight: probe it (RFC 9293 §3.8.6.1).
      const unsent = s.sendBuffer.length - seqSub(s.sndNxt, s.sndUna)
      if (unsent > 0 && s.sndWnd === 0 && s.bytesInFlight === 0) armPersist(s, now)
      return sent
    }
    const offset = seqSub(s.sndNxt, s.sndUna)
    const withFin = s.finQueued && offset + length === s.sendBuffer.length
    emitData(s, now, emit, offset, length, withFin)
    if (s.pacer?.paced) s.pacer.onSend(length, now)
    sent++
    if (withFin) return sent
  }
}

/** RFC 3168 §6.1.2 and §6.1.5 (rules/ecn.ts): new data goes ECT(0), the first after a reduction with CWR; a retransmission Not-ECT. @internal */
export function markEct(s: ConnectionState, out: OutboundSegment, retransmission: boolean): void {
  const marking = s.ecn.dataSegment(retransmission)
  out.ecn = marking.ect
  out.flags |= marking.flags
}

/** One segment of new data (or data again after a go-back-N timeout) from SND.NXT, `offset` bytes into the send buffer, with the FIN if `fin`. @internal */
export function emitData(s: ConnectionState, now: Micros, emit: (segment: OutboundSegment) => void, offset: number, length: number, fin: boolean): void {
  const seq = s.sndNxt
  const allSent = offset + length >= s.sendBuffer.length
  const mss = sendMss(s) // before #prepare, which may consume a pending D-SACK block
  const out = prepare(s, now, seq, (fin ? TcpFlags.FIN : 0) | (length > 0 && allSent ? TcpFlags.PSH : 0))
  out.payloadOffset = offset
  out.payloadLength = length
  if (length > mss) out.segmentSize = mss
  const end = seqAdd(seq, length + (fin ? 1 : 0))
  if (fin) s.finSeq = seqAdd(seq, length)
  s.nagle.onSent(end, length < mss)
  const retransmission = seqLt(seq, s.sndMax)
  out.retransmission = retransmission
  if (length > 0) markEct(s, out, retransmission)
  if (retransmission) {
    s.stats.retransmittedSegments++
    s.stats.retransmittedBytes += length
    s.undo.onRetransmission(out.tsValue, length)
  } else {
    s.newDataSent = true
    s.frto.onNewDataSent(length)
  }
  if (length > 0) s.idle.onDataSent(now)
  logSent(s, now, seq, end, retransmission)
  s.sndNxt = end
  if (seqGt(end, s.sndMax)) s.sndMax = end
  s.rto.startIfStopped(now, s.rtt.rto)
  s.stats.segmentsOut++
  emit(out)
}

/** Account a sent range: bytes sent, and the sent log (RTT and delivery-rate samples) or, for a retransmission, the recovery's marks. @internal */
export function logSent(s: ConnectionState, now: Micros, start: number, end: number, retransmission: boolean): void {
  s.stats.bytesSent += seqSub(end, start)
  if (retransmission) {
    s.sentLog.markRetransmitted(start, end, now)
    s.recovery.onRetransmitted(end)
    return
  }
  s.delivery.onSent(now, start, end, seqSub(s.sndMax, s.sndUna) === 0)
}

/** A zero-window probe (RFC 9293 §3.8.6.1) or a keepalive (SND.UNA - 1, RFC 1122 §4.2.3.6). @internal */
export function sendProbe(s: ConnectionState, now: Micros, emit: (segment: OutboundSegment) => void): void {
  const kind = s.probePending
  s.probePending = undefined
  if (kind === 'window') {
    // As Linux does: an old sequence number and no data, which the peer must answer with its window.
    const out = prepare(s, now, seqAdd(s.sndUna, -1), 0)
    s.stats.windowProbes++
    s.stats.segmentsOut++
    emit(out)
    if (s.sndWnd === 0) armPersist(s, now)
    return
  }
  const out = prepare(s, now, seqAdd(s.sndUna, -1), 0)
  s.stats.keepAliveProbes++
  s.stats.segmentsOut++
  emit(out)
  s.keepAlive.onProbeSent(now, s.config.keepAliveInterval)
}
