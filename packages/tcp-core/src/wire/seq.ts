/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 §3.4): numbers are uint32 JavaScript numbers and
 * comparisons hold while the two values are less than 2^31 apart.
 * @module
 */

/** `a + n` modulo 2^32 (`n` may be negative). */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0
}

/** The signed distance `a - b`, in (-2^31, 2^31]. */
export function seqSub(a: number, b: number): number {
  return (a - b) | 0
}

/** `a < b` modulo 2^32. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0
}

/** `a <= b` modulo 2^32. */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0
}

/** `a > b` modulo 2^32. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0
}

/** `a >= b` modulo 2^32. */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0
}

/** The later of two sequence numbers. */
export function seqMax(a: number, b: number): number {
  return seqGt(a, b) ? a : b
}

/** The earlier of two sequence numbers. */
export function seqMin(a: number, b: number): number {
  return seqLt(a, b) ? a : b
}

/** `left <= x < left + size` modulo 2^32. */
export function inWindow(x: number, left: number, size: number): boolean {
  return ((x - left) >>> 0) < size
}
