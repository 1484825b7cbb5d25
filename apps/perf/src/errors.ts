/**
 * Errors with a stable `code`.
 * @module
 */

/** The codes {@link PerfError} carries. */
export type PerfErrorCode =
  /** A command line that cannot be run: the message names the argument or flag and what it accepts. */
  | 'ERR_USAGE'
  /** An option given to the library outside its accepted range. */
  | 'ERR_INVALID_ARG'
  /** The connection could not be set up in time (no answer to ARP or SYN). */
  | 'ETIMEDOUT'
  /** The connection failed (`cause` holds the stack's error, with its own code such as `ECONNREFUSED`). */
  | 'ERR_CONNECTION'
  /** The receiver broke the protocol: it closed without replying `OK`. */
  | 'ERR_PROTOCOL'
  /** The run did not finish within its time limit, or the emulated network went idle before it finished. */
  | 'ERR_STALLED'
  /** The run was interrupted (Ctrl-C) before the transfer started. */
  | 'ERR_INTERRUPTED'

/** An error from `@mtcp/perf` with a stable {@link PerfErrorCode}. */
export class PerfError extends Error {
  override readonly name = 'PerfError'
  constructor(
    readonly code: PerfErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}
