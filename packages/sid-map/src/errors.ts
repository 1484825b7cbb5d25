/**
 * The error class of `@mtcp/sid-map` and the argument checks that throw it.
 *
 * Only API misuse throws (a bad option, a bad address or port, a duplicate key, changing a table while
 * walking it). Looking up an id or a 4-tuple that is not there is not misuse: it returns `undefined`/`false`.
 * @module
 */

/** Stable error codes thrown by `@mtcp/sid-map`. */
export type SidMapErrorCode =
  /** The 4-tuple, or the listening address and port, is already in the table. */
  | 'EADDRINUSE'
  /** An argument is outside its accepted range; the message names the argument and the range. */
  | 'ERR_INVALID_ARG'
  /** A constructor option is outside its accepted range; the message names the option and the range. */
  | 'ERR_INVALID_CONFIG'
  /** The table was changed during `forEach` or iteration in a way the walk cannot follow. */
  | 'ERR_CONCURRENT_MODIFICATION'
  /** The flow table cannot grow any further (more than 2^28 slots would be needed). */
  | 'ERR_CAPACITY'

/** An error with a stable {@link SidMapErrorCode} that callers can `switch` on. */
export class SidMapError extends Error {
  override readonly name = 'SidMapError'
  constructor(
    readonly code: SidMapErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/**
 * Check an integer option against `[min, max]`; throws `ERR_INVALID_CONFIG` naming the option and its range.
 * @internal
 */
export function checkIntegerOption(option: string, value: number, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new SidMapError('ERR_INVALID_CONFIG', `${option} must be an integer in [${min}, ${max}], got ${String(value)}`)
  }
  return value
}

/**
 * Check a numeric option against `[min, max]`; throws `ERR_INVALID_CONFIG` naming the option and its range.
 * @internal
 */
export function checkNumberOption(option: string, value: number, min: number, max: number): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) {
    throw new SidMapError('ERR_INVALID_CONFIG', `${option} must be a number in [${min}, ${max}], got ${String(value)}`)
  }
  return value
}

/**
 * Check that `value` is an IPv4 address as an unsigned 32-bit integer (network order read as big-endian,
 * so 10.0.0.1 is `0x0a000001`); throws `ERR_INVALID_ARG` naming the argument.
 * @internal
 */
export function checkIpv4(argument: string, value: number): void {
  if (value >>> 0 !== value) {
    throw new SidMapError(
      'ERR_INVALID_ARG',
      `${argument} must be an IPv4 address as an integer in [0, 4294967295], got ${String(value)}`,
    )
  }
}

/**
 * Check that `value` is a TCP port, an integer in [0, 65535]; throws `ERR_INVALID_ARG` naming the argument.
 * @internal
 */
export function checkPort(argument: string, value: number): void {
  if ((value & 0xffff) !== value) {
    throw new SidMapError('ERR_INVALID_ARG', `${argument} must be a port, an integer in [0, 65535], got ${String(value)}`)
  }
}

/**
 * Dotted-quad text of a uint32 IPv4 address, for messages.
 * @internal
 */
export function formatIpv4(address: number): string {
  return `${address >>> 24}.${(address >>> 16) & 0xff}.${(address >>> 8) & 0xff}.${address & 0xff}`
}
