/**
 * The error thrown by this package's checked functions.
 * @module
 */

/** Codes of {@link PrimitiveError}. */
export type PrimitiveErrorCode = 'ERR_INVALID_ARG'

/** A bad argument to a checked function, with a stable `code`; the message names the argument and what it expects. */
export class PrimitiveError extends Error {
  /** Stable machine-readable code. */
  readonly code: PrimitiveErrorCode

  /** @param code - the stable code; @param message - names the argument and the accepted form. */
  constructor(code: PrimitiveErrorCode, message: string) {
    super(message)
    this.name = 'PrimitiveError'
    this.code = code
  }
}
