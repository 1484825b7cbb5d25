/**
 * Errors of `@mtcp/sack`.
 *
 * - Malformed input from the network (a SACK option, the blocks in it) is never thrown: the codec and the
 *   validator return or count a {@link SackError} with a stable code, so the receive path can count the
 *   drop and go on.
 * - API misuse (a bad option, an argument out of range, a buffer too small to write into) throws a
 *   {@link SackUsageError} whose message names the setting or argument and its accepted range.
 * @module
 */

/** Stable codes of a {@link SackError}: what was wrong with a received SACK option or block. */
export type SackErrorCode =
  /** Fewer bytes than the option needs: no kind and length bytes, or the length runs past the bytes given. */
  | 'TRUNCATED'
  /** The option kind is not 5 (SACK, RFC 2018 §3). */
  | 'BAD_KIND'
  /** The option length is not 8n + 2 with n ≥ 1 (RFC 2018 §3). */
  | 'BAD_LENGTH'
  /** The option length is 8n + 2 with n > 4: more blocks than 40 bytes of options can hold (RFC 2018 §3). */
  | 'TOO_MANY_BLOCKS'
  /** A block whose left edge equals its right edge: it covers no data. */
  | 'EMPTY_BLOCK'
  /** A block whose left edge is after its right edge (modulo 2^32). */
  | 'INVERTED_BLOCK'
  /** A block that runs past SND.NXT: it acknowledges data that was never sent. */
  | 'BEYOND_SENT'
  /** A block whose left edge is more than 2^31 − 1 before the cumulative ACK: no sequence number that old can be compared. */
  | 'TOO_OLD'

/**
 * Why a SACK option or block was rejected. Returned or counted, never thrown: test with
 * `instanceof SackError`. Deliberately not an `Error` (no stack trace is captured), so a flood of bad
 * options stays cheap to drop.
 *
 * @example
 * ```ts
 * const blocks = decodeSackOption(options, at, length)
 * if (blocks instanceof SackError) { stats.sack[blocks.code]++; return }
 * ```
 */
export class SackError {
  constructor(
    /** What was wrong; stable, for `switch` and counters. */
    readonly code: SackErrorCode,
    /** A human-readable detail for logs; not stable. */
    readonly message: string,
  ) {}

  /** `"SACK BAD_LENGTH: …"`, for logs. */
  toString(): string {
    return `SACK ${this.code}: ${this.message}`
  }
}

/** Stable codes of a {@link SackUsageError}. */
export type SackUsageErrorCode =
  /** A constructor option is outside its accepted range; the message names the option and the range. */
  | 'ERR_INVALID_CONFIG'
  /** An argument is outside its accepted range; the message names the argument and the range. */
  | 'ERR_INVALID_ARG'
  /** The destination buffer has no room for what the encoder was asked to write at that offset. */
  | 'ERR_BUFFER_TOO_SMALL'

/** Thrown on API misuse; its {@link SackUsageError.code} is stable, so callers can `switch` on it. */
export class SackUsageError extends Error {
  override readonly name = 'SackUsageError'
  constructor(
    readonly code: SackUsageErrorCode,
    message: string,
  ) {
    super(message)
  }
}

/**
 * Check an integer option against `[min, max]`; throws `ERR_INVALID_CONFIG` naming the option and its range.
 * @internal
 */
export function checkIntegerOption(option: string, value: number, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new SackUsageError('ERR_INVALID_CONFIG', `${option} must be an integer in [${min}, ${max}], got ${String(value)}`)
  }
  return value
}

/**
 * Check an integer argument against `[min, max]`; throws `ERR_INVALID_ARG` naming the argument and its range.
 * @internal
 */
export function checkIntegerArgument(argument: string, value: number, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new SackUsageError('ERR_INVALID_ARG', `${argument} must be an integer in [${min}, ${max}], got ${String(value)}`)
  }
  return value
}

/**
 * Check that `value` is a sequence number, a uint32; throws `ERR_INVALID_ARG` naming the argument.
 * @internal
 */
export function checkSequenceNumber(argument: string, value: number): number {
  if (typeof value !== 'number' || value >>> 0 !== value) {
    throw new SackUsageError(
      'ERR_INVALID_ARG',
      `${argument} must be a sequence number, an integer in [0, 4294967295], got ${String(value)}`,
    )
  }
  return value
}
