/**
 * Time in the mtcp packages: a `number` of microseconds, fractions allowed (serialising a 1514-byte frame
 * at 10 Gbit/s takes 1.2 µs, and rounding would make emulated rates drift). Clocks (`@mtcp/dpdk-io`),
 * timers and RTTs (`@mtcp/tcp-core`), the pacer and token bucket (`@mtcp/pacer`) all use it.
 * @module
 */

/** A time or a duration in microseconds (µs). Any finite number: fractions of a µs are kept, never rounded. */
export type Micros = number

/** Microseconds in one second: a rate in bytes per second moves `rate / MICROS_PER_SECOND` bytes per µs. */
export const MICROS_PER_SECOND = 1_000_000

/** Microseconds in one millisecond. */
export const MICROS_PER_MILLISECOND = 1_000
