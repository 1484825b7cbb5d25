/**
 * The error thrown by the routing table and the IPv4 address helpers.
 * @module
 */

/** Stable codes of a {@link RouteError}. */
export type RouteErrorCode =
  /** An argument is malformed or out of range: the message names the argument and the value. */
  | 'ERR_INVALID_ARG'
  /** A route with the same destination, prefix length and metric is already in the table (as `ip route add` reports `File exists`). */
  | 'EEXIST'

/** An error with a stable {@link RouteErrorCode} that callers can `switch` on. */
export class RouteError extends Error {
  override readonly name = 'RouteError'
  constructor(
    /** What went wrong, stable across releases. */
    readonly code: RouteErrorCode,
    message: string,
  ) {
    super(message)
  }
}
