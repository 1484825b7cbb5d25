/**
 * `@mtcp/pacer`: sans-I/O packet pacing for a user-level TCP stack. A "next send time" {@link Pacer} with a
 * burst quantum, an exact {@link TokenBucket}, and Linux's native pacing rate ({@link nativePacingRate}).
 * Sizes are bytes, rates bytes per second, times µs; nothing reads a clock or sets a timer.
 * This file is the public API: named re-exports only.
 * @packageDocumentation
 */
export { PacerError, type PacerErrorCode } from './errors.js'
export { MICROS_PER_SECOND, type Micros } from '@mtcp/primitives'
export {
  DEFAULT_CONGESTION_AVOIDANCE_PACING_GAIN,
  DEFAULT_SLOW_START_PACING_GAIN,
  nativePacingRate,
  type NativePacingRateInput,
} from './native-pacing-rate.js'
export { DEFAULT_PACING_QUANTUM, Pacer, type PacerOptions } from './pacer.js'
export { TokenBucket, type TokenBucketOptions } from './token-bucket.js'
