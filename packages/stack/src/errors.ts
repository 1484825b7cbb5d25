/**
 * Errors thrown by the stack's socket API, with POSIX/Node codes users can `switch` on.
 * @module
 */

/** The codes the stack throws. Connection failures reuse the names Node's `net` uses. */
export type StackErrorCode =
  | 'EAGAIN'
  | 'EBADF'
  | 'EINVAL'
  | 'EADDRINUSE'
  | 'EADDRNOTAVAIL'
  | 'EISCONN'
  | 'ENOTCONN'
  | 'EALREADY'
  | 'ECONNREFUSED'
  | 'ECONNRESET'
  | 'ETIMEDOUT'
  | 'EPIPE'
  | 'EMFILE'
  | 'ENOPROTOOPT'
  | 'EHOSTUNREACH'
  /** An IPv6 address given to a stack without one (the `ipv6` option). */
  | 'EAFNOSUPPORT'
  | 'ERR_INVALID_CONFIG'
  /** One of the stack's IPv6 addresses is held by another node: Duplicate Address Detection failed (RFC 4862 §5.4.5); the stack does not use it. */
  | 'ERR_DUPLICATE_ADDRESS'
  | 'ERR_STACK_CLOSED'

/** An error from the stack with a stable {@link StackErrorCode}. */
export class StackError extends Error {
  override readonly name = 'StackError'
  /** Node-style alias of {@link code}. */
  readonly errno: StackErrorCode
  constructor(
    readonly code: StackErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`)
    this.errno = code
  }
}

/**
 * The one `EAGAIN` error every would-block call throws. It is flow control, not a failure, and a busy
 * loop may see millions: sharing one instance without a stack trace keeps that free.
 * @internal
 */
export const WOULD_BLOCK: StackError = (() => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return Object.freeze(new StackError('EAGAIN', 'the operation would block; wait for readiness'))
  } finally {
    Error.stackTraceLimit = limit
  }
})()
