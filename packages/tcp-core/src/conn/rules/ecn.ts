/**
 * Explicit Congestion Notification in TCP (RFC 3168 §6.1): the handshake that turns it on, the IP ECN
 * codepoint of each outgoing segment, the receiver's ECN-Echo and the sender's once-per-window reduction
 * with its CWR flag. The connection owns the congestion window; this rule says when to reduce it and which
 * bits go in the headers. Its one stored sequence number (the end of the window a reduction covers) is
 * dropped as soon as SND.UNA passes it, so it never falls 2^31 behind (decision 0010).
 * @module
 */
import { seqGt } from '../../wire/seq.js'
import { TcpFlags } from '../../wire/tcp.js'
import type { Micros } from '../../congestion/congestion-control.js'
import type { ConnectionState } from '../connection-state.js'

/**
 * Whether a connection uses ECN ({@link TcpConfig.ecn}), after Linux's `net.ipv4.tcp_ecn`:
 * - `'off'` (0): never ask, refuse the peer's request;
 * - `'passive'` (2, the default): do not ask on an active open, accept when the peer's SYN asks;
 * - `'on'` (1): ask on an active open, accept on a passive one.
 */
export type EcnMode = 'off' | 'passive' | 'on'
/** The accepted {@link EcnMode} values. */
export const ECN_MODES: readonly EcnMode[] = ['off', 'passive', 'on']

/** The IP header's ECN field (RFC 3168 §5). */
export const IpEcn = {
  /** Not ECN-capable transport. */
  NOT_ECT: 0,
  /** ECT(1). */
  ECT1: 1,
  /** ECT(0), the codepoint RFC 3168 §5 asks senders to use. */
  ECT0: 2,
  /** Congestion Experienced. */
  CE: 3,
} as const

/** Counters of the ECN rule, kept in the connection's stats. */
export interface EcnStats {
  /** Data segments that arrived with the CE codepoint (RFC 3168 §6.1.3). */
  ceReceived: number
  /** ACKs that arrived with ECE set, after the handshake (RFC 3168 §6.1.2). */
  eceReceived: number
  /** Congestion window reductions made for ECE, at most one per window of data (RFC 3168 §6.1.2). */
  ecnReductions: number
  /** Segments sent with CWR (RFC 3168 §6.1.2). */
  cwrSent: number
  /**
   * ECEs that found the congestion window at one segment: the retransmission timer was reset and new
   * data waited for it to expire (RFC 3168 §6.1.2).
   */
  ecnTimerWaits: number
}

/** @internal */
export class Ecn {
  /** ECN was negotiated (RFC 3168 §6.1.1): data goes out ECT(0), ECE and CWR mean what §6.1 says. */
  on = false
  /** Our SYN asked for ECN (an ECN-setup SYN). */
  #requested = false
  /** Receiver: a CE mark arrived; every ACK carries ECE until a CWR arrives (§6.1.3). */
  #echo = false
  /** Sender: the window was reduced; the next new data segment carries CWR (§6.1.2). */
  #cwrOwed = false
  /** Sender: a reduction covers the window up to `#reducedUntil`; later ECEs for it are the same congestion. */
  #reducing = false
  #reducedUntil = 0
  /** Sender: an ECE found the window at one segment; no new data until the retransmission timer expires (§6.1.2). */
  #waitForTimer = false

  constructor(readonly stats: EcnStats) {}

  /**
   * RFC 3168 §6.1.1: the flags of our SYN on an active open: ECE and CWR when `mode` is `'on'` (an
   * ECN-setup SYN). A retransmitted SYN goes without them (§6.1.1.1 allows it; a middlebox may drop
   * ECN-setup SYNs), as Linux does, and then the connection does not use ECN.
   */
  synFlags(mode: EcnMode, retransmission: boolean): number {
    if (retransmission) this.#requested = false
    else if (mode === 'on') this.#requested = true
    return this.#requested ? TcpFlags.ECE | TcpFlags.CWR : 0
  }

  /**
   * RFC 3168 §6.1.1, passive open: the peer's SYN asks for ECN when it has both ECE and CWR; accepted
   * unless `mode` is `'off'`. Then our SYN-ACK carries ECE alone ({@link synAckFlags}).
   */
  onSyn(mode: EcnMode, flags: number): void {
    this.on = mode !== 'off' && (flags & (TcpFlags.ECE | TcpFlags.CWR)) === (TcpFlags.ECE | TcpFlags.CWR)
  }

  /** RFC 3168 §6.1.1: an ECN-setup SYN-ACK has ECE set and CWR clear. */
  synAckFlags(): number {
    return this.on ? TcpFlags.ECE : 0
  }

  /**
   * RFC 3168 §6.1.1, active open: ECN is on when we asked and the SYN-ACK has ECE without CWR (a SYN-ACK
   * with both is not an ECN-setup SYN-ACK, §6.1.1: a reflector of our own flags).
   */
  onSynAck(flags: number): void {
    this.on = this.#requested && (flags & (TcpFlags.ECE | TcpFlags.CWR)) === TcpFlags.ECE
  }

  /**
   * Receiver, RFC 3168 §6.1.3, for an acceptable segment: a CWR ends the echo, then a CE mark on a data
   * segment (re)starts it (a segment with both leaves ECE on: its CE is news).
   * @returns whether an echo started: its first ACK should go at once, as Linux's quick-ACK mode on CE
   */
  onSegment(flags: number, ce: boolean, payloadLength: number): boolean {
    if (!this.on) return false
    if (flags & TcpFlags.CWR) this.#echo = false
    if (!ce || payloadLength === 0) return false
    this.stats.ceReceived++
    const started = !this.#echo
    this.#echo = true
    return started
  }

  /** RFC 3168 §6.1.3: the ECE flag of every ACK we send while echoing. */
  ackFlags(): number {
    return this.#echo ? TcpFlags.ECE : 0
  }

  /**
   * RFC 3168 §6.1.2: an ACK (not the SYN-ACK) arrived with ECE, SND.UNA now `sndUna`. Returns whether
   * the window must be reduced now: not when a reduction already covers the data this ACK is about
   * (at most once per window of data); then `windowEnd` (SND.MAX, or the recovery point during a loss
   * recovery, which already reduced the window for the same round trip) bounds the new one and CWR is owed.
   * @param reduce - false during a loss recovery or after a timeout: the window was already reduced, only CWR is owed
   */
  onEce(sndUna: number, windowEnd: number, reduce: boolean): boolean {
    this.stats.eceReceived++
    if (this.#reducing && !seqGt(sndUna, this.#reducedUntil)) return false
    this.#reducing = true
    this.#reducedUntil = windowEnd
    this.#cwrOwed = true
    if (reduce) this.stats.ecnReductions++
    return reduce
  }

  /**
   * RFC 3168 §6.1.2: whether a reduction made for `seq`'s window of data already covers it ("reduced
   * only once in response to a series of dropped and/or CE packets from a single window of data"). A
   * loss found there (fast recovery or a tail loss probe's repair) then makes no second reduction.
   */
  covers(seq: number): boolean {
    return this.on && this.#reducing && !seqGt(seq, this.#reducedUntil)
  }

  /**
   * RFC 3168 §6.1.2, a window of one segment: the ECE that {@link onEce} took as new congestion found the
   * congestion window at one segment (`windowBefore` ≤ `mss`), which halving cannot reduce. Then the
   * sender "MUST reset the retransmit timer" and may send a new segment "only when the retransmit timer
   * expires". @returns whether the caller must (re)start the retransmission timer now.
   */
  onReductionAtOneSegment(windowBefore: number, mss: number): boolean {
    if (windowBefore > mss) return false
    this.#waitForTimer = true
    this.stats.ecnTimerWaits++
    return true
  }

  /** Whether a one-segment wait is on: the retransmission timer keeps running when everything is acknowledged. */
  get waitingForTimer(): boolean {
    return this.#waitForTimer
  }

  /**
   * Whether new data must wait for the retransmission timer (RFC 3168 §6.1.2, {@link onReductionAtOneSegment}).
   * A timer that something else stopped ends the wait, so the connection never stalls for good.
   */
  holdsNewData(timerRunning: boolean): boolean {
    if (this.#waitForTimer && !timerRunning) this.#waitForTimer = false
    return this.#waitForTimer
  }

  /**
   * The retransmission timer expired. With nothing outstanding and a one-segment wait on, the expiry
   * only ends the wait (RFC 3168 §6.1.2: the next new segment may go now): no timeout. With data
   * outstanding it is a retransmission timeout as ever (RFC 6298 §5.4) and ends the wait too.
   * @returns whether the expiry was the wait's alone (the caller makes no timeout of it)
   */
  onTimerExpired(outstanding: boolean): boolean {
    if (!this.#waitForTimer) return false
    this.#waitForTimer = false
    return !outstanding
  }

  /** A loss recovery or timeout reduced the window: the receiver's echo is answered with CWR too (RFC 3168 §6.1.2). */
  onLossReduction(windowEnd: number): void {
    if (!this.on) return
    this.#reducing = true
    this.#reducedUntil = windowEnd
    this.#cwrOwed = true
  }

  /** SND.UNA advanced to `ack`: once past the reduced window, the next ECE is new congestion. */
  onCumulativeAck(ack: number): void {
    if (this.#reducing && seqGt(ack, this.#reducedUntil)) this.#reducing = false
  }

  /**
   * The IP ECN codepoint and extra TCP flags of an outgoing data segment. RFC 3168 §6.1.5: a
   * retransmission is not ECT; §6.1.2: the first new data segment after a reduction carries CWR.
   * Pure ACKs (§6.1.4), SYNs (§6.1.1) and window probes (§6.1.6) never come here: they stay Not-ECT.
   */
  dataSegment(retransmission: boolean): { ect: number; flags: number } {
    const out = this.#marking
    if (!this.on || retransmission) {
      out.ect = IpEcn.NOT_ECT
      out.flags = 0
      return out
    }
    out.ect = IpEcn.ECT0
    out.flags = 0
    if (this.#cwrOwed) {
      this.#cwrOwed = false
      this.stats.cwrSent++
      out.flags = TcpFlags.CWR
    }
    return out
  }

  readonly #marking = { ect: 0, flags: 0 }
}

/**
 * RFC 3168 §6.1.2 (rules/ecn.ts): an ACK with ECE. Once per window of data, the window is reduced as
 * for a loss — ssthresh from the data in the network, cwnd to it — but nothing is retransmitted: the
 * marked segments arrived. During a loss recovery (whose PRR is already bringing the window down for
 * the same round trip) or after a timeout, no second reduction; CWR is owed either way. As Linux's
 * CWR state, the reduction cannot be undone by a later D-SACK or Eifel check: the congestion was real.
 * @internal
 */
export function ecnEchoArrived(s: ConnectionState, now: Micros): void {
  const recovery = s.recovery
  const lossReduced = recovery.inRecovery || s.rto.timeouts > 0
  const windowEnd = recovery.inRecovery ? recovery.recover : s.sndMax
  if (!s.ecn.onEce(s.sndUna, windowEnd, !lossReduced)) return
  s.undo.onCongestion()
  const windowBefore = s.congestion.window
  const inNetwork = Math.min(s.bytesInFlight, windowBefore)
  s.congestion.onEnterRecovery(now, inNetwork, true)
  s.congestion.onExitRecovery(now, s.bytesInFlight)
  // RFC 3168 §6.1.2: at a window of one segment, halving cannot slow the sender; the timer does.
  if (s.ecn.onReductionAtOneSegment(windowBefore, s.payloadMax)) s.rto.restart(now, s.rtt.rto)
}
