/**
 * Silly window syndrome avoidance (RFC 9293 §3.8.6.2): the sender side (§3.8.6.2.1) holds small
 * window-limited segments; the receiver side (§3.8.6.2.2) lives in {@link ReceiveWindow}.
 * @module
 */

/**
 * RFC 9293 §3.8.6.2.1: a segment shorter than the MSS that the window cut (more data is queued) waits,
 * unless it is at least half the largest window the peer ever offered, or nothing is in flight to bring
 * a window update.
 * @internal
 */
export function senderSwsHolds(length: number, allQueued: boolean, maxSendWindow: number, inFlight: number): boolean {
  return !allQueued && length < maxSendWindow / 2 && inFlight > 0
}
