/**
 * NewReno's duplicate-ACK rules (RFC 5681 §2 and §3.2, RFC 6582 §3.2), for connections without SACK or
 * with `lossDetection: 'newreno'`: what counts as a duplicate ACK, and when fast retransmit starts.
 * @module
 */

/** RFC 5681 §3.2: DupThresh. */
export const DUP_THRESH = 3

/**
 * RFC 5681 §2 DUPLICATE ACKNOWLEDGMENT: an ACK that leaves SND.UNA where it is, while data is
 * outstanding, carrying no data, neither SYN nor FIN, and the same window.
 */
export function isNewRenoDuplicate(payloadLength: number, synOrFin: boolean, window: number, sndWnd: number): boolean {
  return payloadLength === 0 && !synOrFin && window === sndWnd
}

/** RFC 5681 §3.2 step 2: fast retransmit on exactly the DupThresh-th duplicate ACK. */
export function newRenoFastRetransmit(dupAcks: number): boolean {
  return dupAcks === DUP_THRESH
}
