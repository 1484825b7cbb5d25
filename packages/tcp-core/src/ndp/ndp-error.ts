/**
 * The error thrown by the Neighbor Discovery components (neighbour cache, DAD, router discovery) on misuse.
 * @module
 */

/** Stable codes of an {@link NdpError}. */
export type NdpErrorCode =
  /** An option is outside its accepted range: the message names the setting and the range. */
  | 'ERR_INVALID_CONFIG'
  /** An argument is malformed: an address that is not 16 bytes, a MAC that is not 6. */
  | 'ERR_INVALID_ARG'
  /** A call that does not fit the state, such as queueing a packet for an address that resolves. */
  | 'ERR_INVALID_STATE'

/** An error with a stable {@link NdpErrorCode}. */
export class NdpError extends Error {
  override readonly name = 'NdpError'
  constructor(
    /** What went wrong, stable across releases. */
    readonly code: NdpErrorCode,
    message: string,
  ) {
    super(message)
  }
}
