/**
 * Errors with a stable `code`.
 * @module
 */

/** The codes {@link RecvError} carries. */
export type RecvErrorCode =
  /** A command line that cannot be run: the message names the argument or flag and what it accepts. */
  | 'ERR_USAGE'
  /** An option given to the library outside its accepted range. */
  | 'ERR_INVALID_ARG'
  /** The stream failed before the end of the transfer (the cause is attached). */
  | 'ERR_STREAM'
  /** A connection sent nothing for the idle timeout (`--idle-timeout`) and was dropped. */
  | 'ERR_IDLE_TIMEOUT'

/** An error from `@mtcp/recv` with a stable {@link RecvErrorCode}. */
export class RecvError extends Error {
  override readonly name = 'RecvError'
  constructor(
    readonly code: RecvErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}
