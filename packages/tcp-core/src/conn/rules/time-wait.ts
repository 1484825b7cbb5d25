/**
 * TIME-WAIT (RFC 9293 §3.3.2, §3.10.7.4 "eighth"): the active closer waits 2·MSL so that old duplicates
 * die out and a lost final ACK can be answered again; a retransmitted FIN restarts the wait. RFC 1337 §3
 * (F1): a RST does not end it early (TIME-WAIT assassination); the connection ignores it.
 *
 * Once the application has let the socket go, the stack keeps TIME-WAIT as a compact entry instead of
 * the connection ({@link TimeWaitHandoff}); {@link timeWaitVerdict} is how such an entry answers segments.
 * @module
 */
import type { Micros } from '../../congestion/congestion-control.js'
import { seqAdd, seqGe, seqGt, seqLt } from '../../wire/seq.js'
import { TcpFlags } from '../../wire/tcp.js'

/** @internal */
export class TimeWait {
  /** When TIME-WAIT ends, or undefined outside it. */
  at: Micros | undefined = undefined

  /** Enter TIME-WAIT, or restart its 2·MSL after a retransmitted FIN. */
  start(now: Micros, duration: Micros): void {
    this.at = now + duration
  }

  /** Whether TIME-WAIT is over at `now`. */
  expired(now: Micros): boolean {
    return this.at !== undefined && now >= this.at
  }
}

/**
 * What a connection in TIME-WAIT hands to the stack's compact TIME-WAIT table when its socket goes: all a
 * TIME-WAIT answer needs, without the connection.
 */
export interface TimeWaitHandoff {
  /** SND.NXT: our FIN's sequence number + 1. */
  sndNxt: number
  /** RCV.NXT: the peer's FIN's sequence number + 1. */
  rcvNxt: number
  /** The window field our ACKs carry (already scaled down). */
  window: number
  /** Whether timestamps were on (RFC 7323). */
  timestamps: boolean
  /** TS.Recent: the peer's last TSval (0 without timestamps). */
  tsRecent: number
  /** Our timestamp clock's offset (TSval = ms + offset). */
  tsOffset: number
  /** When TIME-WAIT ends (µs). */
  endsAt: Micros
}

/** What to do with a segment that arrives for a 4-tuple in TIME-WAIT ({@link timeWaitVerdict}). */
export const TimeWaitAction = {
  /** Drop it silently. */
  Drop: 0,
  /** Drop it and send an ACK (<SEQ=SND.NXT><ACK=RCV.NXT>); rate-limited by the caller. */
  Ack: 1,
  /** A retransmitted FIN: ACK it and restart the 2·MSL timer (RFC 9293 §3.10.7.4 eighth). */
  AckAndRestart: 2,
  /** A RST: ignored (RFC 1337 §3, F1). */
  IgnoreReset: 3,
  /** A SYN RFC 6191 §2 lets in: end TIME-WAIT and treat it as a new connection request. */
  Reuse: 4,
} as const

/** One of {@link TimeWaitAction}'s values. */
export type TimeWaitAction = (typeof TimeWaitAction)[keyof typeof TimeWaitAction]

/**
 * RFC 9293 §3.10.7.4 for TIME-WAIT, with RFC 1337 §3 (a RST is ignored), RFC 7323 §5.3 (PAWS: an old
 * TSval is answered with an ACK and dropped, §3.2: a non-RST segment without the option is dropped) and
 * RFC 6191 §2 (a SYN with a higher timestamp, or with no timestamps a higher sequence number, may reopen
 * the 4-tuple).
 * @param rcvNxt - the entry's RCV.NXT; `timestamps` and `tsRecent` its timestamp state (see {@link TimeWaitHandoff}).
 * @param flags - the segment's TCP flags; `tsValue` undefined when it carries no timestamps option.
 */
export function timeWaitVerdict(rcvNxt: number, timestamps: boolean, tsRecent: number, seq: number, flags: number, payloadLength: number, tsValue: number | undefined): TimeWaitAction {
  if (flags & TcpFlags.RST) return TimeWaitAction.IgnoreReset
  if (flags & TcpFlags.SYN && !(flags & TcpFlags.ACK)) {
    // RFC 6191 §2: "the last sequence number seen" for that direction is RCV.NXT − 1 (the FIN).
    const higherSeq = seqGe(seq, rcvNxt)
    if (timestamps && tsValue !== undefined) {
      if (seqGt(tsValue, tsRecent)) return TimeWaitAction.Reuse
      if (tsValue === tsRecent && higherSeq) return TimeWaitAction.Reuse
      return TimeWaitAction.Drop
    }
    // Old incarnation without timestamps, or a SYN without them: only a higher sequence number.
    return higherSeq ? TimeWaitAction.Reuse : TimeWaitAction.Drop
  }
  if (timestamps) {
    if (tsValue === undefined) return TimeWaitAction.Drop // RFC 7323 §3.2
    if (seqLt(tsValue, tsRecent)) return TimeWaitAction.Ack // RFC 7323 §5.3 R1
  }
  // The peer's FIN again (its last octet is RCV.NXT − 1): acknowledge, restart 2·MSL.
  if (flags & TcpFlags.FIN && seqAdd(seq, payloadLength + 1) === rcvNxt) return TimeWaitAction.AckAndRestart
  // Anything else is an old duplicate or out of window: RFC 9293 §3.10.7.4 first, "an acknowledgment
  // should be sent in reply" (unless it is a RST, handled above). A bare ACK at RCV.NXT is our peer's last
  // ACK duplicated: nothing to say.
  if (payloadLength === 0 && !(flags & TcpFlags.FIN) && seq === rcvNxt) return TimeWaitAction.Drop
  return TimeWaitAction.Ack
}
