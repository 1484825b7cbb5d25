/**
 * Units shared by the pacer and the token bucket: times are µs, sizes are bytes, rates are bytes per second.
 * @module
 */

/** A time or a duration in microseconds (µs). Any finite number: fractions of a µs are kept, never rounded. */
export type Micros = number

/** Microseconds in one second: a rate in bytes per second moves `rate / MICROS_PER_SECOND` bytes per µs. */
export const MICROS_PER_SECOND = 1_000_000
