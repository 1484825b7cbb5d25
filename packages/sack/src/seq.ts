/**
 * Sequence number arithmetic modulo 2^32 (RFC 9293 §3.4: "all arithmetic dealing with sequence numbers
 * must be performed modulo 2**32") on uint32 `number`s, without bigint.
 *
 * Comparisons are serial number arithmetic (RFC 1982 §3.2): `a` is before `b` when `b - a` modulo 2^32 is
 * in (0, 2^31). Every set of numbers this package compares lies in a window narrower than 2^31 (a send or
 * receive window, at most 2^30 by RFC 7323 §2.3), where the order is total. These are this package's own
 * helpers, and `@mtcp/tcp-core` (which depends on this package) re-exports them as its own.
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

/** The unsigned distance from `b` forward to `a`, in [0, 2^32). */
export function seqDistance(a: number, b: number): number {
  return (a - b) >>> 0
}

/** `a` is before `b`. */
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

/** `value` is a uint32: an integer in [0, 2^32). @internal */
export function isUint32(value: number): boolean {
  return typeof value === 'number' && value >>> 0 === value
}
