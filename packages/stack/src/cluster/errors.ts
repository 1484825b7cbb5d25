/**
 * Errors of `@mtcp/stack/cluster`, with stable codes.
 * @module
 */

/** The codes a cluster throws or rejects with. */
export type ClusterErrorCode =
  /** An option is missing or out of range (the message names it and the accepted values). */
  | 'ERR_INVALID_CONFIG'
  /** A worker failed to open its port or to start the application; the cluster was torn down. */
  | 'ERR_WORKER_START'
  /** The worker is gone (exited) and cannot answer. */
  | 'ERR_WORKER_GONE'
  /** `invoke` named a method the worker's application did not return. */
  | 'ERR_NO_SUCH_METHOD'
  /** A method of the worker's application threw; the message carries its error. */
  | 'ERR_WORKER_METHOD'
  /** The cluster is closed. */
  | 'ERR_CLUSTER_CLOSED'
  /** `ccp` was given but `@mtcp/ccp-ipc` could not be loaded in the worker. */
  | 'ERR_CCP_UNAVAILABLE'

/** An error of a cluster. */
export class ClusterError extends Error {
  override readonly name = 'ClusterError'
  constructor(
    readonly code: ClusterErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options)
  }
}
