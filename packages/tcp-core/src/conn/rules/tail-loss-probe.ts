/**
 * Tail loss probes, the TLP half of RACK-TLP (RFC 8985 §7): when a flight goes unacknowledged for about
 * two round trips, one probe (new data, else the last segment again) makes the receiver send the SACK
 * information that starts fast recovery, so a lost tail does not wait for the RTO. The episode's end
 * tells whether the probe repaired a loss (§7.4), which then gets one fast-recovery reduction.
 * @module
 */
import type { SackAckUpdate } from '@mtcp/sack'
import type { Micros } from '../../congestion/congestion-control.js'
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqSub } from '../../wire/seq.js'
import type { ConnectionState } from '../connection-state.js'

/** RFC 8985 §7.2 WCDelAckT: the worst-case delayed-ACK delay added to the PTO when one segment is in flight. */
const WORST_CASE_DELAYED_ACK: Micros = 200_000
/** The shortest PTO, as Linux's floor for its loss probe timer, so a sub-millisecond SRTT does not probe every ACK gap. */
const MIN_PROBE_TIMEOUT: Micros = 10_000

/** @internal */
export class TailLossProbe {
  /** When the probe timeout (PTO) expires, or undefined when none is armed. */
  timeoutAt: Micros | undefined = undefined
  /** The PTO expired: a probe goes at the next dispatch. */
  due = false
  /** TLP.end_seq: SND.MAX once the probe went, while its episode is open; undefined otherwise. */
  endSeq: number | undefined = undefined
  /** TLP.is_retrans: the open episode's probe was a retransmission (not new data). */
  #retransmission = false

  /** A timeout or a recovery takes over: no probe now, and the episode ends (RFC 8985 §7.2). */
  cancel(): void {
    this.timeoutAt = undefined
    this.due = false
    this.endSeq = undefined
  }

  /** The PTO timer. */
  runTimer(now: Micros): void {
    if (this.timeoutAt !== undefined && now >= this.timeoutAt) {
      this.timeoutAt = undefined
      this.due = true
    }
  }

  /**
   * RFC 8985 §7.2: (re)start the PTO, or cancel it when no probe may go (`eligible` false: no SACK, in
   * recovery or after an RTO, something SACKed, the connection closing; or an episode open, or no RTT
   * sample yet). PTO = 2·SRTT, plus WCDelAckT with one segment in flight, at least 10 ms; not armed when
   * it would not expire before the RTO (§7.2 caps the PTO at the RTO's remaining time).
   */
  arm(now: Micros, eligible: boolean, srtt: Micros | undefined, flight: number, mss: number, rtoAt: Micros | undefined): void {
    this.timeoutAt = undefined
    if (!eligible || this.endSeq !== undefined || srtt === undefined || flight <= 0) return
    let timeout = 2 * srtt
    if (flight <= mss) timeout += WORST_CASE_DELAYED_ACK
    const at = now + Math.max(timeout, MIN_PROBE_TIMEOUT)
    if (rtoAt !== undefined && at >= rtoAt) return
    this.timeoutAt = at
  }

  /** RFC 8985 §7.3: a probe went; its episode ends at SND.MAX. */
  onProbeSent(sndMax: number, retransmission: boolean): void {
    this.endSeq = sndMax
    this.#retransmission = retransmission
  }

  /**
   * RFC 8985 §7.4 TLP_process_ack(), as Linux's tcp_process_tlp_ack(). A new-data probe's episode ends
   * once it is acknowledged. For a retransmitted probe: a D-SACK for it means the original had arrived
   * (no loss); an ACK beyond TLP.end_seq without one means the probe repaired a loss; a pure duplicate ACK
   * at TLP.end_seq means both arrived.
   * @returns true when the probe repaired a loss (the caller applies the congestion response, §7.4.2).
   */
  onAck(ack: number, sndUna: number, carriesData: boolean, sack: SackAckUpdate | undefined, mss: number): boolean {
    const end = this.endSeq
    if (end === undefined || seqLt(ack, end)) return false
    if (!this.#retransmission) {
      this.endSeq = undefined
      return false
    }
    const dsack = sack?.dsackBlock
    if (dsack !== undefined && seqGe(dsack.right, seqAdd(end, -1 - mss)) && seqLe(dsack.right, end)) {
      this.endSeq = undefined
      return false
    }
    if (seqGt(ack, end)) {
      this.endSeq = undefined
      return true
    }
    if (ack === sndUna && !carriesData && (sack === undefined || sack.newlySackedBytes === 0)) this.endSeq = undefined
    return false
  }
}

/**
 * RFC 8985 §7.2 (rules/tail-loss-probe.ts): (re)start the probe timeout, or cancel it, when a probe may
 * go: with SACK, nothing SACKed, not in recovery nor after an RTO (going back from SND.UNA), the
 * connection able to send.
 * @internal
 */
export function armProbeTimeout(s: ConnectionState, now: Micros): void {
  const eligible =
    s.config.tailLossProbe &&
    s.sackOn &&
    s.synAcked &&
    !s.recovery.inRecovery &&
    s.rto.timeouts === 0 &&
    !seqLt(s.sndNxt, s.sndMax) &&
    s.canSendData() &&
    !s.ecn.holdsNewData(s.rto.at !== undefined) &&
    !(s.recovery.scoreboard !== undefined && s.recovery.scoreboard.sackedBytes > 0)
  s.tlp.arm(now, eligible, s.rtt.smoothedRtt, seqSub(s.sndMax, s.sndUna), s.payloadMax, s.rto.at)
}

/** A tail loss probe repaired a loss (RFC 8985 §7.4.2): one fast-recovery reduction, unless a recovery is under way. @internal */
export function tailLossProbeRepaired(s: ConnectionState, now: Micros): void {
  s.stats.tailLossProbeRecoveries++
  if (s.measurement !== undefined) s.measurement.lostPackets++
  // RFC 3168 §6.1.2: not when an ECN reduction already covers this window (one reduction per window of
  // data); when it reduces, the next new data segment carries CWR (a reduction "for any reason").
  if (!s.recovery.inRecovery && !s.ecn.covers(s.sndUna)) {
    const inNetwork = Math.min(s.bytesInFlight, s.congestion.window)
    s.congestion.onEnterRecovery(now, inNetwork, true)
    s.congestion.onExitRecovery(now, s.bytesInFlight)
    s.ecn.onLossReduction(s.sndMax)
  }
}
