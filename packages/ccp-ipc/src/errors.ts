/**
 * The error class of `@mtcp/ccp-ipc`.
 *
 * Only opening a transport and API misuse throw. Sending never throws: it answers with a return code
 * (see {@link SendResult}); a bad datagram received is counted in the transport's stats and dropped.
 * @module
 */

/** Stable error codes thrown by `@mtcp/ccp-ipc`. */
export type CcpIpcErrorCode =
  /** `@mtcp/unix-dgram-native` (an optional dependency, a prebuilt N-API addon) is missing or its addon does not load here. */
  | 'ERR_UNIX_DGRAM_UNAVAILABLE'
  /** An option or argument is invalid; the message names it and what is accepted. */
  | 'ERR_INVALID_ARG'
  /** Another live socket is bound at the path (or, in an {@link InProcessHub}, the name is taken). */
  | 'EADDRINUSE'
  /** Something that is not a socket exists at the socket's path; it is left alone. */
  | 'EEXIST'
  /** The socket directory exists and is not a directory. */
  | 'ENOTDIR'
  /**
   * The socket directory is writable by users other than its owner, or owned by another user (not root):
   * they could replace the agent's socket and steer every flow. Fix its mode (`chmod 0755` or `0700`).
   */
  | 'ERR_UNSAFE_SOCKET_DIR'
  /** The socket path does not fit in `sockaddr_un.sun_path`. */
  | 'ENAMETOOLONG'
  /** Any other operating-system error, with its errno name as the code (`EACCES`, `EPERM`, `EMFILE`, …). */
  | `E${string}`

/** An error with a stable {@link CcpIpcErrorCode} that callers can `switch` on. */
export class CcpIpcError extends Error {
  override readonly name = 'CcpIpcError'
  constructor(
    /** The stable error code. */
    readonly code: CcpIpcErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}
