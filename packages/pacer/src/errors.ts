/**
 * The error class of `@mtcp/pacer` and the checks that throw it.
 *
 * Only API misuse throws: a setting outside its range (`ERR_INVALID_CONFIG`), or a per-call argument that is
 * not a byte count or a time (`ERR_INVALID_ARG`). A send that pacing does not allow yet is not misuse: it is
 * answered with `false` or a time to wait.
 * @module
 */

/** Stable error codes thrown by `@mtcp/pacer`. */
export type PacerErrorCode =
  /** A setting (rate, quantum, burst, gain) is outside its accepted range; the message names it and the range. */
  | 'ERR_INVALID_CONFIG'
  /** A per-call argument (a byte count, a time, a window, an RTT) is invalid; the message names it and the range. */
  | 'ERR_INVALID_ARG'

/** An error with a stable {@link PacerErrorCode} that callers can `switch` on. */
export class PacerError extends Error {
  override readonly name = 'PacerError'
  constructor(
    /** The stable error code. */
    readonly code: PacerErrorCode,
    message: string,
  ) {
    super(message)
  }
}

/**
 * Check a rate setting in bytes per second: a number in [0, Infinity] (not NaN, not negative).
 * Throws `ERR_INVALID_CONFIG` naming the setting, the range and what 0 and Infinity mean.
 * @internal
 */
export function checkRate(setting: string, value: number, meaning: string): number {
  if (typeof value !== 'number' || !(value >= 0)) {
    throw new PacerError(
      'ERR_INVALID_CONFIG',
      `${setting} must be a number of bytes per second in [0, Infinity] (${meaning}), got ${String(value)}`,
    )
  }
  return value
}

/**
 * The largest quantum or burst, 2^52 bytes: byte sums of two such sizes stay exact integers.
 * @internal
 */
export const MAX_SIZE_SETTING = 2 ** 52

/**
 * Check a size setting in bytes: an integer in [1, 2^52]. Throws `ERR_INVALID_CONFIG` naming the setting.
 * @internal
 */
export function checkSizeSetting(setting: string, value: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_SIZE_SETTING) {
    throw new PacerError(
      'ERR_INVALID_CONFIG',
      `${setting} must be an integer number of bytes in [1, ${MAX_SIZE_SETTING}], got ${String(value)}`,
    )
  }
  return value
}

/**
 * Check a byte count argument: an integer in [0, 2^53 − 1]. Throws `ERR_INVALID_ARG` naming the argument.
 * @internal
 */
export function checkBytes(argument: string, value: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new PacerError(
      'ERR_INVALID_ARG',
      `${argument} must be an integer number of bytes in [0, ${Number.MAX_SAFE_INTEGER}], got ${String(value)}`,
    )
  }
}

/**
 * Check a time argument in µs: a finite number (fractions allowed). Throws `ERR_INVALID_ARG` naming the argument.
 * @internal
 */
export function checkTime(argument: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new PacerError('ERR_INVALID_ARG', `${argument} must be a finite time in µs, got ${String(value)}`)
  }
}
