/**
 * The error thrown by the ARP cache and the MAC address helpers.
 * @module
 */

/** Stable codes of an {@link ArpError}. */
export type ArpErrorCode =
  /** An option is outside its accepted range: the message names the setting and the range. */
  | 'ERR_INVALID_CONFIG'
  /** An argument is malformed: a MAC that is not 6 bytes, an address that is not a uint32. */
  | 'ERR_INVALID_ARG'
  /** A call that does not fit the entry's state, such as queueing a packet for an address that resolves. */
  | 'ERR_INVALID_STATE'

/** An error with a stable {@link ArpErrorCode} that callers can `switch` on. */
export class ArpError extends Error {
  override readonly name = 'ArpError'
  constructor(
    /** What went wrong, stable across releases. */
    readonly code: ArpErrorCode,
    message: string,
  ) {
    super(message)
  }
}
