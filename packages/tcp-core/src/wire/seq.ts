/**
 * Sequence number arithmetic modulo 2^32 (RFC 9293 §3.4: "all arithmetic dealing with sequence
 * numbers must be performed modulo 2**32"), on uint32 `number`s, without bigint.
 *
 * Comparisons follow serial number arithmetic (RFC 1982 §3.2): `a` is before `b` when `b - a` taken
 * modulo 2^32 is in (0, 2^31]. Of two numbers exactly 2^31 apart, each is "before" the other: RFC 1982
 * leaves that case undefined, and TCP windows (at most 2^30, RFC 7323 §2.3) never reach it.
 * @module
 */

/** `a + n` modulo 2^32, as a uint32. `n` may be negative. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0
}

/** The signed distance `a - b` modulo 2^32, in [-2^31, 2^31): positive when `a` is after `b`. */
export function seqSub(a: number, b: number): number {
  return (a - b) | 0
}

/** `a` is before `b` (RFC 9293 §3.4 "=<" family, modulo 2^32). */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0
}

/** `a` is before or equal to `b`. */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0
}

/** `a` is after `b`. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0
}

/** `a` is after or equal to `b`. */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0
}

/** The later of `a` and `b`. */
export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) >= 0 ? a : b
}

/** The earlier of `a` and `b`. */
export function seqMin(a: number, b: number): number {
  return ((a - b) | 0) <= 0 ? a : b
}

/**
 * `start =< seq < start + size` modulo 2^32, as in the segment acceptability test
 * (RFC 9293 §3.10.7.4: RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND). Empty when `size` is 0.
 * @param size - window size in [0, 2^31]
 */
export function inWindow(seq: number, start: number, size: number): boolean {
  return ((seq - start) >>> 0) < size
}
