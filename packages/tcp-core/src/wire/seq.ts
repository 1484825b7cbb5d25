/**
 * Sequence number arithmetic modulo 2^32 (RFC 9293 §3.4: "all arithmetic dealing with sequence
 * numbers must be performed modulo 2**32"), on uint32 `number`s, without bigint.
 *
 * Comparisons follow serial number arithmetic (RFC 1982 §3.2): `a` is before `b` when `b - a` taken
 * modulo 2^32 is in (0, 2^31). TCP windows (at most 2^30, RFC 7323 §2.3) never reach the undefined case.
 * The arithmetic itself is `@mtcp/sack`'s (the lowest package that needs it); the window test is ours.
 * @module
 */
export { seqAdd, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin, seqSub } from '@mtcp/sack'

/**
 * `start =< seq < start + size` modulo 2^32, as in the segment acceptability test
 * (RFC 9293 §3.10.7.4: RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND). Empty when `size` is 0.
 * @param size - window size in [0, 2^31]
 */
export function inWindow(seq: number, start: number, size: number): boolean {
  return ((seq - start) >>> 0) < size
}
