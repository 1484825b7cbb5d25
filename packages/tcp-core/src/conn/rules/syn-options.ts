/**
 * The options of the SYN exchange: what our SYN or SYN-ACK offers, and what the peer's SYN settles —
 * window scaling (RFC 7323 §2.2–§2.3), timestamps (RFC 7323 §3.2), SACK-permitted (RFC 2018 §2), the
 * MSS (RFC 9293 §3.7.1) and, with rules/ecn.ts, ECN setup (RFC 3168 §6.1.1).
 * @module
 */
import type { Micros } from '../../congestion/congestion-control.js'
import { seqAdd } from '../../wire/seq.js'
import type { ConnectionState } from '../connection-state.js'
import type { InboundSegment, OutboundSegment } from '../segment.js'
import { MAX_WINDOW_SHIFT } from './receive-window.js'
import { DEFAULT_PEER_MSS, TIMESTAMPS_OPTION_LENGTH } from './segment-size.js'

/**
 * The peer's SYN (or SYN-ACK) arrived: IRS and RCV.NXT (RFC 9293 §3.10.7.2–§3.10.7.3), and what the
 * options of both SYNs settle. ECN setup is rules/ecn.ts's (`onSyn`, `onSynAck`).
 * @internal
 */
export function takeSynOptions(s: ConnectionState, syn: InboundSegment, now: Micros): void {
  s.irs = syn.seq
  s.rcvNxt = seqAdd(syn.seq, 1)
  s.lastAckSent = s.rcvNxt
  // RFC 7323 §2.2: scaling only when both sides sent the option; §2.3: shifts above 14 are taken as 14.
  if (s.offerWindowScale >= 0 && syn.windowScale !== undefined) {
    s.sndShift = Math.min(syn.windowScale, MAX_WINDOW_SHIFT)
    s.rcvWindow.shift = s.offerWindowScale
  } else {
    s.sndShift = 0
    s.rcvWindow.shift = 0
    s.offerWindowScale = -1
  }
  // RFC 7323 §3.2: timestamps only when both SYNs carried the option (rules/timestamps.ts).
  s.ts.negotiate(s.config.timestamps, syn.tsValue, now)
  // RFC 2018 §2: SACK only when both SYNs carried SACK-permitted.
  s.sackOn = s.config.sack && syn.sackPermitted
  // RFC 9293 §3.7.1: send no more than the peer's MSS (536 without the option), nor more than our own.
  const peerMss = syn.mss ?? DEFAULT_PEER_MSS
  s.payloadMax = Math.max(1, Math.min(peerMss, s.config.mss) - (s.ts.on ? TIMESTAMPS_OPTION_LENGTH : 0))
  s.congestion.setMss(s.payloadMax)
  // The scoreboard and the receiver's block list are made when first needed (the first SACK block, the
  // first out-of-order segment), so an idle connection does not pay for them.
  s.rcvWindow.setRight(s.rcvNxt, s.receiveBuffer.window)
}

/**
 * The options of our SYN (in SYN-SENT) or SYN-ACK (in SYN-RECEIVED), into `out`. A SYN offers what the
 * configuration allows; a SYN-ACK only what the peer's SYN offered too.
 * @internal
 */
export function offerSynOptions(s: ConnectionState, out: OutboundSegment, now: Micros, retransmission: boolean): void {
  const active = s.state === 'SYN-SENT'
  // RFC 9293 §3.7.1: the largest segment we take.
  out.mss = s.config.mss
  // RFC 3168 §6.1.1: an ECN-setup SYN (ECE and CWR) or SYN-ACK (ECE); either is Not-ECT (rules/ecn.ts).
  out.flags |= active ? s.ecn.synFlags(s.config.ecn, retransmission) : s.ecn.synAckFlags()
  // RFC 2018 §2: SACK-permitted, in a SYN-ACK only when the SYN carried it.
  out.sackPermitted = s.config.sack && (active || s.sackOn)
  // RFC 7323 §2.2: the window scale option, in a SYN-ACK only when the SYN carried one.
  out.windowScale = active ? s.offerWindowScale : s.offerWindowScale >= 0 ? s.rcvWindow.shift : -1
  // RFC 7323 §3.2: timestamps, in a SYN-ACK only when the SYN carried them, echoing its TSval.
  if (active ? s.config.timestamps : s.ts.on) {
    out.timestamps = true
    out.tsValue = s.ts.clock(now)
    out.tsEcho = active ? 0 : s.ts.recent
  }
}
