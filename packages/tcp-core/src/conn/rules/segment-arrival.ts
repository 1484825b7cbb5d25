/**
 * SEGMENT ARRIVES (RFC 9293 §3.10.7) for a connection: SYN-SENT (§3.10.7.3) and the synchronized states
 * (§3.10.7.4) in the RFC's order — the sequence-number check with its acceptability table, the RST bit,
 * the SYN bit, the ACK field (rules/ack-processing.ts), the segment text and the FIN. RFC 7323's
 * timestamp checks come before the sequence check, RFC 5961's in place of the RST and SYN steps
 * (rules/rst-and-syn-checks.ts).
 * @module
 */
import type { Micros } from '../../congestion/congestion-control.js'
import { seqAdd, seqGt, seqLe, seqLt, seqSub } from '../../wire/seq.js'
import { TcpFlags } from '../../wire/tcp.js'
import type { ConnectionState } from '../connection-state.js'
import { TcpEvents } from '../connection-types.js'
import type { InboundSegment } from '../segment.js'
import { acknowledge, processAck } from './ack-processing.js'
import { challengeAck, resetArrived, timeWaitResetIgnored } from './rst-and-syn-checks.js'
import { enterTimeWait, establish, fail } from './state-transitions.js'
import { takeSynOptions } from './syn-options.js'
import { TimestampVerdict } from './timestamps.js'

/** SEGMENT ARRIVES (RFC 9293 §3.10.7): CLOSED and LISTEN take nothing here (the stack answers for them). @internal */
export function segmentArrives(s: ConnectionState, now: Micros, segment: InboundSegment): void {
  s.stats.segmentsIn++
  switch (s.state) {
    case 'CLOSED':
    case 'LISTEN':
      return
    case 'SYN-SENT':
      processInSynSent(s, now, segment)
      return
    default:
      processSynchronized(s, now, segment)
  }
}

/** RFC 9293 §3.10.7.3: SYN-SENT. @internal */
export function processInSynSent(s: ConnectionState, now: Micros, segment: InboundSegment): void {
  const flags = segment.flags
  const hasAck = (flags & TcpFlags.ACK) !== 0
  // First, check the ACK bit.
  if (hasAck && (seqLe(segment.ack, s.iss) || seqGt(segment.ack, s.sndNxt))) {
    if (!(flags & TcpFlags.RST)) s.resetToSend = { seq: segment.ack, ack: 0, flags: TcpFlags.RST }
    return
  }
  // Second, the RST bit (RFC 5961 §3.2 leaves SYN-SENT as RFC 793 had it: only with an acceptable ACK).
  if (flags & TcpFlags.RST) {
    if (hasAck) fail(s, 'ECONNREFUSED')
    return
  }
  // Fourth, the SYN bit.
  if (!(flags & TcpFlags.SYN)) return
  takeSynOptions(s, segment, now)
  s.lastReceivedAt = now
  if (hasAck) {
    s.ecn.onSynAck(flags) // RFC 3168 §6.1.1
    s.sndWnd = segment.window // unscaled in a SYN (RFC 7323 §2.2)
    s.maxSndWnd = segment.window
    s.sndWl1 = segment.seq
    s.sndWl2 = segment.ack
    acknowledge(s, now, segment.ack, undefined)
    establish(s)
    s.acks.now = true
    if (segment.payloadLength > 0 || flags & TcpFlags.FIN) acceptText(s, now, segment, seqAdd(segment.seq, 1))
  } else {
    // Simultaneous open (RFC 9293 §3.10.7.3, "Otherwise, enter SYN-RECEIVED").
    s.state = 'SYN-RECEIVED'
    s.sndWnd = segment.window
    s.maxSndWnd = segment.window
    s.sndWl1 = segment.seq
    s.synPending = true
  }
}

/** RFC 9293 §3.10.7.4: every state after SYN-SENT. @internal */
export function processSynchronized(s: ConnectionState, now: Micros, segment: InboundSegment): void {
  const flags = segment.flags
  const payloadLength = segment.payloadLength
  // A retransmitted SYN from the peer while our SYN-ACK is unanswered: answer again.
  if (s.state === 'SYN-RECEIVED' && flags & TcpFlags.SYN && !(flags & TcpFlags.ACK) && segment.seq === s.irs) {
    s.synPending = true
    return
  }
  // RFC 7323 §3.2 and §5.3 R1, before the sequence check (rules/timestamps.ts).
  const verdict = s.ts.check(segment, now)
  if (verdict === TimestampVerdict.Missing) {
    s.stats.missingTimestamps++
    return
  }
  if (verdict === TimestampVerdict.Paws) {
    s.stats.pawsRejected++
    s.acks.owePure() // RFC 7323 §5.3 R1: "send an acknowledgment in reply"
    return
  }
  // RFC 1337 §3 (rules/rst-and-syn-checks.ts): no TIME-WAIT assassination.
  if (timeWaitResetIgnored(s, flags)) return
  // First, check the sequence number.
  const segmentLength = payloadLength + (flags & TcpFlags.SYN ? 1 : 0) + (flags & TcpFlags.FIN ? 1 : 0)
  const window = s.rcvWindow.advertised(s.rcvNxt)
  if (!acceptable(s.rcvNxt, segment.seq, segmentLength, window)) {
    s.stats.unacceptableSegments++
    // RFC 9293 §3.10.7.4: "an acknowledgment should be sent in reply" — a duplicate ACK of its own. One
    // without data (a pure ACK, a SYN) shares RFC 5961 §7's rate limit with the challenge ACKs, so a flood
    // of them cannot make us send as many (as Linux's tcp_oow_rate_limited); a duplicate data segment is
    // always answered, its D-SACK matters to the sender.
    const duplicateData = payloadLength > 0 && !(flags & TcpFlags.SYN)
    if (!(flags & TcpFlags.RST) && (duplicateData || s.challenges.allow(now))) s.acks.owePure()
    // A whole segment received before: RFC 2883 §4 reports it in a D-SACK block of that ACK.
    const end = seqAdd(segment.seq, payloadLength)
    if (payloadLength > 0 && seqLe(end, s.rcvNxt)) s.sackReceiverIfOn()?.onDuplicate(segment.seq, end)
    // RFC 9293 §3.10.7.4: with a zero window, still take valid ACKs.
    if (!(window === 0 && segment.seq === s.rcvNxt && flags & TcpFlags.ACK && !(flags & TcpFlags.RST))) return
    processAck(s, now, segment)
    return
  }
  s.lastReceivedAt = now
  s.keepAlive.onPeerHeard()
  // RFC 7323 §4.3 and §5.5 (rules/timestamps.ts).
  s.ts.remember(segment, s.lastAckSent, now)
  // Second, the RST bit (RFC 5961 §3.2, rules/rst-and-syn-checks.ts).
  if (flags & TcpFlags.RST) {
    resetArrived(s, now, segment.seq)
    return
  }
  // Fourth, the SYN bit (RFC 5961 §4.2): a challenge ACK, whatever its sequence number.
  if (flags & TcpFlags.SYN) {
    challengeAck(s, now)
    return
  }
  // RFC 3168 §6.1.3 (rules/ecn.ts): a CWR ends our echo, a CE mark on data starts it.
  if (s.ecn.onSegment(flags, segment.ce === true, payloadLength)) s.acks.now = true
  // Fifth, the ACK field (rules/ack-processing.ts).
  if (!(flags & TcpFlags.ACK)) return
  if (!processAck(s, now, segment)) return
  // Sixth and seventh: the text and the FIN.
  if (payloadLength > 0 || flags & TcpFlags.FIN) acceptText(s, now, segment, segment.seq)
}

/**
 * RFC 9293 §3.10.7.4's acceptability test: whether a segment of `length` sequence numbers (its data,
 * plus one each for SYN and FIN) starting at `seq` falls in the receive window RCV.NXT … RCV.NXT+RCV.WND−1,
 * in sequence-number arithmetic (so across the 2^32 wrap). The table's four cases:
 * length 0, window 0: SEG.SEQ = RCV.NXT; length 0, window > 0: RCV.NXT ≤ SEG.SEQ < RCV.NXT+RCV.WND;
 * length > 0, window 0: never; length > 0, window > 0: the first or the last sequence number in the window.
 * @internal
 */
export function acceptable(rcvNxt: number, seq: number, length: number, window: number): boolean {
  if (length === 0) {
    if (window === 0) return seq === rcvNxt
    return seqLe(rcvNxt, seq) && seqLt(seq, seqAdd(rcvNxt, window))
  }
  if (window === 0) return false
  const last = seqAdd(seq, length - 1)
  const right = seqAdd(rcvNxt, window)
  return (seqLe(rcvNxt, seq) && seqLt(seq, right)) || (seqLe(rcvNxt, last) && seqLt(last, right))
}

/** Segment text and FIN (RFC 9293 §3.10.7.4 seventh and eighth). `dataSeq` is the sequence number of the first payload byte. @internal */
export function acceptText(s: ConnectionState, now: Micros, segment: InboundSegment, dataSeq: number): void {
  const state = s.state
  const flags = segment.flags
  const payloadLength = segment.payloadLength
  if (payloadLength > 0 && (state === 'ESTABLISHED' || state === 'FIN-WAIT-1' || state === 'FIN-WAIT-2')) {
    let from = segment.payloadOffset
    let length = payloadLength
    let seq = dataSeq
    const before = seqSub(s.rcvNxt, seq)
    if (before > 0) {
      // Already received, in part or whole: RFC 2883 §4 reports the duplicate in a D-SACK block.
      const duplicate = Math.min(before, length)
      s.sackReceiverIfOn()?.onDuplicate(seq, seqAdd(seq, duplicate))
      from += duplicate
      length -= duplicate
      seq = s.rcvNxt
    }
    const offset = seqSub(seq, s.rcvNxt)
    if (length > 0) {
      const hadHoles = s.receiveBuffer.rangeCount > 0
      const advance = s.receiveBuffer.insert(offset, segment.payload, from, length)
      if (advance > 0) {
        s.rcvNxt = seqAdd(s.rcvNxt, advance)
        s.sackReceiver?.onInOrder(s.rcvNxt)
        s.stats.bytesIn += advance
        s.events |= TcpEvents.READABLE
        s.acks.onInOrderData(now, advance, hadHoles, s.config.mss, s.config.delayedAckTimeout)
      } else {
        // RFC 5681 §4.2: "A TCP receiver SHOULD send an immediate duplicate ACK when an out-of-order
        // segment arrives", one per segment, with SACK blocks (RFC 2018 §4).
        if (advance === 0) s.sackReceiverIfOn()?.onSegment(seq, seqAdd(seq, length))
        else s.stats.outOfOrderDropped++
        s.stats.outOfOrderSegments++
        s.acks.owePure()
      }
    } else {
      s.acks.owePure() // a pure duplicate: a duplicate ACK (with its D-SACK block) tells the sender where we are
    }
  }
  if (flags & TcpFlags.FIN) {
    const finSeq = seqAdd(dataSeq, payloadLength)
    if (finSeq === s.rcvNxt) finArrived(s, now)
    else if (seqGt(finSeq, s.rcvNxt)) s.pendingFinSeq = finSeq
  } else if (s.pendingFinSeq >= 0 && s.pendingFinSeq === s.rcvNxt) {
    finArrived(s, now)
  }
}

/** The peer's FIN, in order (RFC 9293 §3.10.7.4 eighth). @internal */
export function finArrived(s: ConnectionState, now: Micros): void {
  if (s.finReceived) return
  s.finReceived = true
  s.pendingFinSeq = -1
  s.rcvNxt = seqAdd(s.rcvNxt, 1)
  s.rcvWindow.atLeast(s.rcvNxt)
  s.acks.owePure() // the FIN is acknowledged at once, by an ACK of its own (RFC 9293 §3.10.7.4 eighth)
  s.events |= TcpEvents.READABLE | TcpEvents.PEER_CLOSED
  switch (s.state) {
    case 'SYN-RECEIVED':
    case 'ESTABLISHED':
      s.state = 'CLOSE-WAIT'
      break
    case 'FIN-WAIT-1':
      // Our FIN not yet acknowledged: simultaneous close.
      if (s.finAcked()) enterTimeWait(s, now)
      else s.state = 'CLOSING'
      break
    case 'FIN-WAIT-2':
      enterTimeWait(s, now)
      break
  }
}
