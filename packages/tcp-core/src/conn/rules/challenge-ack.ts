/**
 * RFC 5961 §7: challenge ACKs are rate-limited per connection, so an attacker cannot make us send them
 * without bound (the answers to RST, SYN and out-of-window ACK checks of §3.2, §4.2 and §5.2).
 * @module
 */
import type { Micros } from '../../congestion/congestion-control.js'

/** Challenge ACKs per connection per second. */
const CHALLENGE_ACK_LIMIT = 10

/** @internal */
export class ChallengeAckLimit {
  #windowStart: Micros = 0
  #count = 0

  /** Whether one more challenge ACK may go now; counts it when it may. */
  allow(now: Micros): boolean {
    if (now - this.#windowStart >= 1_000_000) {
      this.#windowStart = now
      this.#count = 0
    }
    if (this.#count >= CHALLENGE_ACK_LIMIT) return false
    this.#count++
    return true
  }
}
