/**
 * F-RTO (RFC 5682 §2, the basic algorithm): after a retransmission timeout, tell a spurious timeout (the
 * ACKs were only late) from a real one by sending new data instead of the rest of the flight.
 * 1. The timeout retransmits the first unacknowledged segment (the connection's go-back-N starts there).
 * 2. The first ACK after it: a duplicate, or one acknowledging everything, ends F-RTO (conventional
 *    recovery goes on); one that advances SND.UNA lets up to two segments of new data go, whatever cwnd.
 * 3. The second ACK: advancing SND.UNA again, it acknowledges data that was never retransmitted, so the
 *    timeout was spurious (the response: undo, RFC 4015 via `CongestionControl.onUndo`, and go on with new
 *    data); a duplicate means loss: back to go-back-N from SND.UNA.
 * Only the first timeout of a series is checked, and only when the controller can undo. The recovery
 * point is SND.MAX at the timeout, live only until the second ACK (decision 0010).
 *
 * With SACK, the SACK-enhanced algorithm (RFC 5682 §3, as Linux runs it): in step 2, duplicate ACKs that
 * come before the ACK of the retransmission only update the scoreboard and F-RTO waits on; in step 3, the
 * timeout is spurious when the ACK acknowledges never-retransmitted data, cumulatively or by SACK blocks
 * below the recovery point (only the head was retransmitted, and the scoreboard was cleared at the
 * timeout, so any octet SACKed below it since step 2 was sent once); a duplicate ACK that SACKs nothing
 * below it (the two new segments arrived, the flight did not) means the loss was real (decision 0053).
 * @module
 */
import { seqGe, seqGt, seqLt, seqSub } from '../../../wire/seq.js'
import type { Micros } from '../../../congestion/congestion-control.js'
import type { ConnectionState } from '../../connection-state.js'

/** What the connection does after an ACK that F-RTO looked at. */
export const FrtoStep = {
  /** Nothing (F-RTO is not running). */
  None: 0,
  /** Conventional recovery: go back to SND.UNA and resend the flight (RFC 5682 §2 step 2a / 3a). */
  Conventional: 1,
  /** Step 2b: resume at SND.MAX, two segments of new data may go beyond cwnd. */
  SendNew: 2,
  /** Step 3b: the timeout was spurious. */
  Spurious: 3,
} as const

/** @internal */
export class Frto {
  /** 0: off; 1: waiting for the first ACK; 2: waiting for the second. */
  #state = 0
  #recover = 0
  /** The SACK-enhanced algorithm (RFC 5682 §3) runs: SACK was negotiated. */
  #sack = false
  /** SACKed octets below the recovery point when step 2 ended (SACK-enhanced only). */
  #sackedAtStep2 = 0
  /** Bytes of new data step 2b still lets go beyond cwnd. */
  allowance = 0

  /** The recovery point: SND.MAX at the timeout. */
  get recover(): number {
    return this.#recover
  }

  /** Whether the SACK-enhanced algorithm runs (the connection then passes SACKed octets below {@link recover}). */
  get sack(): boolean {
    return this.#sack
  }

  get active(): boolean {
    return this.#state !== 0
  }

  /** A retransmission timeout at SND.MAX `sndMax`; `enabled` for the first of a series with an undoing controller. */
  onTimeout(enabled: boolean, sndMax: number, sack = false): void {
    this.#state = enabled ? 1 : 0
    this.#recover = sndMax
    this.#sack = sack
    this.#sackedAtStep2 = 0
    this.allowance = 0
  }

  /** Stop (another detection decided, e.g. Eifel). */
  cancel(): void {
    this.#state = 0
    this.allowance = 0
  }

  /**
   * RFC 5682 §2 steps 2 and 3 for one acceptable ACK.
   * @param advanced - it advanced SND.UNA to `ack`
   * @param newData - unsent data exists and the peer's window takes it
   * @param sackedBelowRecover - SACK-enhanced only: octets the scoreboard holds SACKed below {@link recover}
   */
  onAck(advanced: boolean, ack: number, newData: boolean, mss: number, sackedBelowRecover = 0): number {
    const state = this.#state
    if (state === 0) return FrtoStep.None
    if (state === 1) {
      // RFC 5682 §3 step 2: with SACK, duplicate ACKs before the ACK of the retransmission only update
      // the scoreboard; F-RTO waits for a new acknowledgment.
      if (!advanced && this.#sack) return FrtoStep.None
      // Step 2a (§2 and §3): a duplicate ACK, or an ACK of everything up to the recovery point: conventional recovery.
      if (!advanced || seqGe(ack, this.#recover) || !newData) {
        this.#state = 0
        return FrtoStep.None
      }
      // Step 2b: two new segments, then wait for the next ACK.
      this.#state = 2
      this.#sackedAtStep2 = sackedBelowRecover
      this.allowance = 2 * mss
      return FrtoStep.SendNew
    }
    this.#state = 0
    this.allowance = 0
    // §3 step 3b: SACK blocks newly acknowledge never-retransmitted data below the recovery point: spurious.
    if (this.#sack && sackedBelowRecover > this.#sackedAtStep2) return FrtoStep.Spurious
    // Step 3a: a duplicate ACK: the timeout was real; step 3b: SND.UNA advanced again: spurious.
    return advanced ? FrtoStep.Spurious : FrtoStep.Conventional
  }

  /** New data went (step 2b's two segments). */
  onNewDataSent(bytes: number): void {
    if (this.allowance > 0) this.allowance = Math.max(0, this.allowance - bytes)
  }
}

/** RFC 5682 §2 steps 2–3 on an ACK after a timeout. @internal */
export function frtoStep(s: ConnectionState, now: Micros, advanced: boolean, ack: number): void {
  const unsent = s.sendBuffer.length - seqSub(s.sndMax, s.sndUna)
  const newData = unsent > 0 && s.sndWnd > seqSub(s.sndMax, s.sndUna)
  switch (s.frto.onAck(advanced, ack, newData, s.payloadMax, s.frto.sack ? sackedBelow(s, s.frto.recover) : 0)) {
    case FrtoStep.SendNew:
      // Step 2b: new data instead of the rest of the flight.
      s.sndNxt = s.sndMax
      return
    case FrtoStep.Conventional:
      // Step 3a: the timeout was real: the flight goes again from SND.UNA.
      s.sndNxt = s.sndUna
      return
    case FrtoStep.Spurious:
      // Step 3b; the response of RFC 4015 §3.2: restore cwnd and ssthresh, keep sending new data.
      s.stats.spuriousTimeouts++
      s.congestion.onUndo?.(now)
      return
  }
}

/** SACKed octets between SND.UNA and `end` (F-RTO's SACK-enhanced step 3, RFC 5682 §3; only after a timeout, so the copy of the ranges is rare). @internal */
export function sackedBelow(s: ConnectionState, end: number): number {
  const scoreboard = s.recovery.scoreboard
  if (scoreboard === undefined || scoreboard.sackedBytes === 0) return 0
  let total = 0
  for (const range of scoreboard.sackedRanges()) {
    const left = seqLt(range.left, s.sndUna) ? s.sndUna : range.left
    const right = seqGt(range.right, end) ? end : range.right
    if (seqLt(left, right)) total += seqSub(right, left)
  }
  return total
}
