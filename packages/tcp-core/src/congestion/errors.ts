/**
 * Errors thrown by the congestion controllers on API misuse (bad configuration, an unknown name).
 * @module
 */

/** Stable error codes thrown by the congestion controllers. */
export type CongestionControlErrorCode =
  /** An argument or setting is invalid; the message names it and the accepted values. */
  'ERR_INVALID_ARG'

/** An error with a stable {@link CongestionControlErrorCode} that callers can `switch` on. */
export class CongestionControlError extends Error {
  override readonly name = 'CongestionControlError'
  constructor(
    /** The stable error code. */
    readonly code: CongestionControlErrorCode,
    message: string,
  ) {
    super(message)
  }
}

/**
 * Check that a setting is an integer in `[min, max]`; throws `ERR_INVALID_ARG` naming the setting and its range.
 * @internal
 */
export function checkIntegerSetting(setting: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new CongestionControlError(
      'ERR_INVALID_ARG',
      `${setting} must be an integer in [${min}, ${max}], got ${String(value)}`,
    )
  }
  return value
}
