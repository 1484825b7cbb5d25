/**
 * When an ACK is owed, and whether it may wait: delayed ACKs (RFC 1122 §4.2.3.2, RFC 9293 §3.8.6.3; at
 * least every second full-sized segment, RFC 5681 §4.2) and ACKs owed as segments of their own: a
 * duplicate ACK per out-of-order or duplicate segment (RFC 5681 §4.2), challenge ACKs (RFC 5961), the ACK
 * of a FIN and window updates. Riding on data, a duplicate ACK is not one (RFC 5681 §2 DUPLICATE
 * ACKNOWLEDGMENT requires no data), and a peer without SACK never counts it.
 * @module
 */
import type { Micros } from '../../congestion/congestion-control.js'

/**
 * Most ACK-only segments owed at once. One is owed per out-of-order or duplicate segment, so a burst of
 * them is answered ACK for ACK, as Linux does; the bound keeps a flood of junk cheap.
 */
const MAX_PURE_ACKS_OWED = 128

/** @internal */
export class DelayedAck {
  /** An ACK is due at the next dispatch; it may ride on data. */
  now = false
  /** ACK-only segments owed, sent before any data. */
  pureOwed = 0
  /** When the delayed-ACK timer fires, or undefined. */
  at: Micros | undefined = undefined
  #unackedBytes = 0

  /**
   * `bytes` arrived in order. RFC 5681 §4.2: ACK at least every second full-sized segment, and at once
   * when they filled a hole; else start the delayed-ACK timer (`timeout` 0: no delay).
   */
  onInOrderData(now: Micros, bytes: number, filledHole: boolean, mss: number, timeout: Micros): void {
    this.#unackedBytes += bytes
    if (filledHole || this.#unackedBytes >= 2 * mss || timeout === 0) this.now = true
    else if (this.at === undefined) this.at = now + timeout
  }

  /** Owe one more ACK-only segment. */
  owePure(): void {
    if (this.pureOwed < MAX_PURE_ACKS_OWED) this.pureOwed++
  }

  /** Owe one ACK-only segment unless one is owed already (a window update: one says it all). */
  owePureOnce(): void {
    if (this.pureOwed === 0) this.pureOwed = 1
  }

  /** The delayed-ACK timer: the ACK is due once it expired. */
  runTimer(now: Micros): void {
    if (this.at !== undefined && now >= this.at) {
      this.at = undefined
      this.now = true
    }
  }

  /** A segment carrying our ACK left: what was owed (but the ACK-only ones) is paid. */
  onAckSent(): void {
    this.now = false
    this.at = undefined
    this.#unackedBytes = 0
  }

  /** The connection closed: nothing is owed. */
  clear(): void {
    this.now = false
    this.pureOwed = 0
    this.at = undefined
  }
}
