/** Per-transport counters. @module */

/**
 * Datagrams a transport dropped, by reason. Every `send` / `sendTo` call adds exactly one to `sent`,
 * `sendFailed`, or one of `oversized`, `malformed`, `congested`; every datagram that arrives adds exactly
 * one to `received` or one of `oversized`, `malformed`, `unaddressed`, `foreign`, `unhandled`.
 */
export interface DropCounts {
  /** Sent or received datagrams larger than their direction allows (1024 bytes to the agent, 32678 to a datapath). */
  oversized: number
  /** Sent or received datagrams shorter than the header, whose header length is not their size, or of an unknown type. */
  malformed: number
  /**
   * Sends dropped because the peer's receive queue was full (`EAGAIN`). Not retried: CCP datagrams are
   * reports and updates, and the next one supersedes the lost one.
   */
  congested: number
  /** Received by an agent from an unbound socket: there is no address to answer (portus drops these too). */
  unaddressed: number
  /**
   * Received by a datapath from anyone but its agent (another address, or an unbound socket): only the
   * agent may speak to a datapath (issue 17: a forged CHANGE_PROG could stall a flow).
   */
  foreign: number
  /** Received while no handler was set (before `onMessage`, or after `onMessage(undefined)`). */
  unhandled: number
}

/** What a transport has done since it was opened. Read it at any time; the transport updates it in place. */
export interface TransportStats {
  /** Datagrams handed to the peer's receive queue (`send` returned 0). */
  sent: number
  /** Datagrams delivered to the handler. */
  received: number
  /** Sends that failed: peer absent (`ENOENT`, `ECONNREFUSED`), transport closed (`EBADF`), or another OS error. */
  sendFailed: number
  /** Datagrams dropped, by reason. */
  dropped: DropCounts
}

/** A zeroed {@link TransportStats}. @internal */
export function createStats(): TransportStats {
  return {
    sent: 0,
    received: 0,
    sendFailed: 0,
    dropped: { oversized: 0, malformed: 0, congested: 0, unaddressed: 0, foreign: 0, unhandled: 0 },
  }
}

/**
 * Hand a received datagram to the transport's handler and count it as received, or count it as
 * unhandled when no handler is set. Shared by every transport, datapath and agent side. @internal
 */
export function deliverToHandler(stats: TransportStats, handler: ((bytes: Uint8Array, from: string) => void) | undefined, bytes: Uint8Array, from: string): void {
  if (handler === undefined) {
    stats.dropped.unhandled++
    return
  }
  stats.received++
  handler(bytes, from)
}
