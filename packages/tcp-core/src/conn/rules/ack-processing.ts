/**
 * The ACK field of an arriving segment (RFC 9293 §3.10.7.4, fifth check): the ACK of our SYN in
 * SYN-RECEIVED, RFC 5961 §5.2's range check, new data acknowledged (SND.UNA moves, RFC 6298 §5 timer,
 * RTT samples, the controller's ACK), duplicate ACKs (RFC 5681 §2, RFC 6675 §2), the send-window update
 * with SND.WL1/SND.WL2, and what the FIN's ACK does in the closing states. Loss recovery, F-RTO, Eifel,
 * ECN and tail loss probes take their part of each ACK through their own rules.
 * @module
 */
import type { SackAckUpdate } from '@mtcp/sack'
import type { AckMeasurement, Micros } from '../../congestion/congestion-control.js'
import { seqGt, seqLe, seqLt, seqSub } from '../../wire/seq.js'
import { TcpFlags } from '../../wire/tcp.js'
import type { ConnectionState } from '../connection-state.js'
import { TcpEvents } from '../connection-types.js'
import type { InboundSegment } from '../segment.js'
import { ecnEchoArrived } from './ecn.js'
import { frtoStep } from './loss-recovery/frto.js'
import { isNewRenoDuplicate } from './loss-recovery/index.js'
import { ackAcceptable } from './rst-and-syn-checks.js'
import { eifelCheck } from './spurious-undo.js'
import { enterClosed, enterTimeWait, establish } from './state-transitions.js'
import { armProbeTimeout, tailLossProbeRepaired } from './tail-loss-probe.js'

/**
 * The ACK field (RFC 9293 §3.10.7.4 fifth, RFC 5961 §5.2).
 * @returns false when the segment must be dropped.
 * @internal
 */
export function processAck(s: ConnectionState, now: Micros, segment: InboundSegment): boolean {
  const ack = segment.ack
  // RFC 9293 §3.10.7.4 fifth, SYN-RECEIVED: an ACK of our SYN establishes; any other gets a reset.
  if (s.state === 'SYN-RECEIVED') {
    if (seqLe(ack, s.sndUna) || seqGt(ack, s.sndMax)) {
      s.resetToSend = { seq: ack, ack: 0, flags: TcpFlags.RST }
      return false
    }
    s.sndWnd = segment.window << s.sndShift
    s.sndWl1 = segment.seq
    s.sndWl2 = ack
    establish(s)
  }
  // RFC 5961 §5.2 (rules/rst-and-syn-checks.ts).
  if (!ackAcceptable(s, now, ack)) return false
  const scaledWindow = segment.window << s.sndShift
  // RFC 6675 §5: every ACK updates the scoreboard, new cumulative ACK or not (rules/loss-recovery/).
  const recovery = s.recovery
  const sack = recovery.onAck(ack, segment.sackBlocks, s.sackOn)
  const measurement = s.measurement
  if (measurement !== undefined) {
    measurement.bytesAcked = 0
    measurement.rttSample = undefined
    measurement.lostPackets = 0
  }
  const recoveryBefore = recovery.inRecovery
  if (s.tlp.onAck(ack, s.sndUna, segment.payloadLength > 0, sack, s.payloadMax)) tailLossProbeRepaired(s, now)
  recovery.afterSack(now, sack, segment.sackBlocks)
  const ackedBefore = s.stats.bytesOut
  const advanced = seqGt(ack, s.sndUna)
  // RFC 9293 §3.10.7.4 fifth: SND.UNA < SEG.ACK ≤ SND.NXT acknowledges new data; SEG.ACK = SND.UNA may be a duplicate.
  if (advanced) {
    acknowledge(s, now, ack, sack, s.ecn.on && (segment.flags & TcpFlags.ECE) !== 0)
  } else if (ack === s.sndUna && seqGt(s.sndMax, s.sndUna) && isDuplicateAck(s, segment, scaledWindow, sack)) {
    recovery.onDuplicateAck(now)
  }
  // RFC 8985 §6.2 step 5 and RFC 6937 §3 (RACK mode): mark what is lost, set what recovery may send.
  recovery.afterAck(now, sack !== undefined ? sack.deliveredBytes : s.stats.bytesOut - ackedBefore)
  if (s.undo.eifelPending && advanced) eifelCheck(s, now, segment)
  if (s.frto.active) frtoStep(s, now, advanced, ack)
  if (s.undo.recoverySpurious(s.sndUna, sack?.dsackBlock, recovery.inRecovery)) {
    s.stats.spuriousRecoveries++
    s.congestion.onUndo?.(now)
  }
  if (s.ecn.on) {
    // RFC 3168 §6.1.2: a loss recovery that began on this ACK reduced the window; the peer learns by CWR.
    if (recovery.inRecovery && !recoveryBefore && recovery.reduced) s.ecn.onLossReduction(recovery.recover)
    if (segment.flags & TcpFlags.ECE) ecnEchoArrived(s, now)
  }
  // Delivered only grows (a timeout clears the scoreboard's SACKed bytes; they were delivered all the same).
  s.delivery.onAck(now, s.stats.bytesOut + (recovery.scoreboard?.sackedBytes ?? 0))
  if (measurement !== undefined) reportMeasurement(s, now, measurement, sack?.newlySackedBytes ?? 0, s.ecn.on && (segment.flags & TcpFlags.ECE) !== 0)
  // RFC 8985 §7.2: an ACK of new data restarts the PTO; SACKed data or recovery cancels it.
  if (s.tlp.timeoutAt !== undefined || advanced) armProbeTimeout(s, now)
  updateSendWindow(s, segment.seq, ack, scaledWindow)
  // RFC 9293 §3.10.7.4 fifth, the closing states: what the ACK of our FIN does.
  const finAcked = s.finAcked()
  switch (s.state) {
    case 'FIN-WAIT-1':
      if (finAcked) s.state = 'FIN-WAIT-2'
      break
    case 'CLOSING':
      if (finAcked) enterTimeWait(s, now)
      return false
    case 'LAST-ACK':
      if (finAcked) enterClosed(s, undefined)
      return false
    case 'TIME-WAIT':
      // A retransmitted FIN: acknowledge it and restart the 2 MSL timer (RFC 9293 §3.10.7.4 eighth).
      if (segment.flags & TcpFlags.FIN) {
        s.acks.owePure()
        s.timeWait.start(now, s.config.timeWaitTimeout)
      }
      return false
  }
  return true
}

/** New data acknowledged up to `ack` (RFC 9293 §3.10.7.4, RFC 6298 §5, RFC 6582 §3.2); `ece`: the ACK carried ECN-Echo, so the window does not grow (RFC 3168 §6.1.2). @internal */
export function acknowledge(s: ConnectionState, now: Micros, ack: number, sack: SackAckUpdate | undefined, ece = false): void {
  let acked = seqSub(ack, s.sndUna)
  const flightBefore = s.bytesInFlight
  if (!s.synAcked) {
    s.synAcked = true
    acked-- // the SYN's sequence number carries no data
  }
  const dataAcked = Math.min(acked, s.sendBuffer.length)
  s.sendBuffer.consume(dataAcked)
  s.sndUna = ack
  if (seqLt(s.sndNxt, ack)) s.sndNxt = ack
  // Stored sequence numbers that SND.UNA passed are pulled up to it, so none falls 2^31 behind and
  // compares the wrong way (decision 0010): the small-segment end (Nagle) and, outside recovery, the
  // recovery point (RFC 6582 §3.2 step 1's "recover", which only gates entering recovery).
  s.nagle.onAck(ack)
  s.ecn.onCumulativeAck(ack)
  const recovery = s.recovery
  recovery.onCumulativeAck(ack)
  s.stats.bytesOut += dataAcked
  if (dataAcked > 0 && s.sendBuffer.free > 0) s.events |= TcpEvents.WRITABLE
  s.rto.onNewDataAcked()
  s.rtt.resetBackoff()
  // During recovery a cumulative ACK was held back by the hole, so its sample would measure the
  // recovery, not the path: take none (it would inflate the RTO by seconds after a burst of losses).
  const logged = s.sentLog.acknowledge(now, ack)
  const appLimited = s.sentLog.ackedAppLimited
  const rttSample = recovery.inRecovery ? undefined : logged
  if (s.measurement !== undefined) {
    s.measurement.bytesAcked = dataAcked
    s.measurement.rttSample = logged // CCP wants the path's latest sample, recovery or not
  }
  if (rttSample !== undefined) s.rtt.sample(rttSample)
  // RFC 6298 §5.2–5.3: stop the timer when everything is acknowledged, else restart it; but during
  // NewReno recovery only the first partial ACK restarts it (RFC 6582 §4.2, the "Impatient" variant),
  // so that a window with many losses falls back to a timeout instead of one repair per RTT.
  const partialAck = recovery.isPartialAck(ack)
  if (!partialAck || sack !== undefined) {
    if (seqGt(s.sndMax, s.sndUna)) s.rto.restart(now, s.rtt.rto)
    else if (!s.ecn.waitingForTimer) s.rto.stop() // RFC 3168 §6.1.2: an ECE's one-segment wait keeps it
  }
  // RFC 6582 §3.2, RFC 6675 §5, RFC 8985 (rules/loss-recovery/): the recovery's part of a new ACK.
  const grow = recovery.onNewAck(now, ack, acked, sack)
  if (recovery.restartRto) s.rto.restart(now, s.rtt.rto)
  // RFC 3168 §6.1.2: "SHOULD NOT increase the congestion window in response to" an ACK with ECN-Echo.
  if (grow && dataAcked > 0 && !ece) {
    s.congestion.onAck(now, {
      bytesAcked: dataAcked,
      bytesSacked: sack?.newlySackedBytes ?? 0,
      rttSample,
      smoothedRtt: s.rtt.smoothedRtt,
      bytesInFlight: flightBefore,
      appLimited,
    })
  }
}

/**
 * Whether an ACK that leaves SND.UNA where it was is a duplicate. Without SACK, RFC 5681 §2 DUPLICATE
 * ACKNOWLEDGMENT: no data, neither SYN nor FIN, the same window. With SACK, RFC 6675 §2 DupAck: the ACK
 * reports octets not SACKed before, "even if it carries new data, changes the advertised window, or
 * moves the cumulative acknowledgment point". When data flows both ways nearly every ACK rides on a data
 * segment, so the RFC 5681 test alone would never count one and each loss waited for the RTO.
 * @internal
 */
export function isDuplicateAck(s: ConnectionState, segment: InboundSegment, scaledWindow: number, sack: SackAckUpdate | undefined): boolean {
  if (sack !== undefined) return sack.newlySackedBytes > 0
  return isNewRenoDuplicate(segment.payloadLength, (segment.flags & (TcpFlags.SYN | TcpFlags.FIN)) !== 0, scaledWindow, s.sndWnd)
}

/** Finish this ACK's {@link AckMeasurement} and hand it to the controller. @internal */
export function reportMeasurement(s: ConnectionState, now: Micros, measurement: AckMeasurement, newlySacked: number, ece: boolean): void {
  const mss = s.payloadMax
  measurement.packetsAcked = Math.ceil(measurement.bytesAcked / mss)
  measurement.bytesSacked = newlySacked
  measurement.packetsSacked = Math.ceil(newlySacked / mss)
  // RFC 3168 §6.1.2: the data this ECN-Echo acknowledged met congestion marks (CCP's Ack.ecn_bytes/ecn_packets).
  measurement.ecnBytes = ece ? measurement.bytesAcked + newlySacked : 0
  measurement.ecnPackets = ece ? Math.max(1, Math.ceil(measurement.ecnBytes / mss)) : 0
  const inFlight = s.recovery.pipe()
  measurement.bytesInFlight = inFlight
  measurement.packetsInFlight = Math.ceil(inFlight / mss)
  measurement.bytesPending = Math.max(0, s.sendBuffer.length - seqSub(s.sndMax, s.sndUna))
  measurement.bytesSent = s.stats.bytesSent
  measurement.bytesDelivered = s.delivery.delivered
  s.delivery.sample(now, measurement)
  s.congestion.onAckMeasurement!(now, measurement)
}

/**
 * The send-window update of RFC 9293 §3.10.7.4 (fifth check, ESTABLISHED): SND.WND is taken from a
 * segment no older than the one it was last taken from — SND.WL1 < SEG.SEQ, or SND.WL1 = SEG.SEQ and
 * SND.WL2 ≤ SEG.ACK — so a reordered old segment cannot shrink the window. `scaledWindow` is SEG.WND
 * shifted by the peer's window scale (RFC 7323 §2.3). A window that opens stops the persist timer.
 * @internal
 */
export function updateSendWindow(s: ConnectionState, seq: number, ack: number, scaledWindow: number): void {
  if (!(seqLt(s.sndWl1, seq) || (s.sndWl1 === seq && seqLe(s.sndWl2, ack)))) return
  const opened = scaledWindow > s.sndWnd
  s.sndWnd = scaledWindow
  s.sndWl1 = seq
  s.sndWl2 = ack
  if (scaledWindow > s.maxSndWnd) s.maxSndWnd = scaledWindow
  if (opened && scaledWindow > 0) s.persist.stop()
}
