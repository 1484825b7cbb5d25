/**
 * The driver's transmit queue: frames wait here until the port takes them, in bursts of at most the burst
 * size, behind the port-wide token bucket when there is one (`StackOptions.rateLimit`). What the port
 * refuses (backpressure) or the bucket holds back stays queued, in order, for the next iteration; past
 * {@link TX_BACKLOG_LIMIT} frames, new ones are dropped and counted.
 * @module
 */
import type { Clock, Micros, PacketBuffer, Port } from '@mtcp/dpdk-io'
import type { TokenBucket } from '@mtcp/pacer'
import type { StackStats } from './stats.js'

/** Most transmit frames held while the port refuses them, before new ones are dropped. */
export const TX_BACKLOG_LIMIT = 8192

/** @internal */
export class TransmitQueue {
  /** Frames waiting to be sent: `#frames[#head .. #count)`. */
  readonly #frames: PacketBuffer[] = []
  #head = 0
  #count = 0
  /** One burst handed to the port. */
  readonly #burst: PacketBuffer[] = []
  /** The port refused frames in this iteration: do not try again until the next. */
  portBusy = false
  /** When the rate limit lets the next frame go, while it holds one back. */
  rateLimitAt: Micros | undefined = undefined

  constructor(
    readonly port: Port,
    readonly clock: Clock,
    readonly burstSize: number,
    readonly rateLimit: TokenBucket | undefined,
    readonly stats: StackStats,
  ) {}

  /** Frames queued and not yet taken by the port. */
  get length(): number {
    return this.#count - this.#head
  }

  /** Queue a frame; the queue owns it from now on. @returns whether a full burst is waiting. */
  push(buffer: PacketBuffer): boolean {
    if (this.#count - this.#head >= TX_BACKLOG_LIMIT) {
      this.stats.tx.drops.backlogOverflow++
      buffer.release()
      return false
    }
    this.stats.tx.frames++
    this.stats.tx.bytes += buffer.length
    this.#frames[this.#count++] = buffer
    return this.#count - this.#head >= this.burstSize
  }

  /**
   * Transmit bursts of at most the burst size; what the port (or the rate limit) does not take waits
   * for the next iteration, without moving the rest of the backlog.
   * @returns false when the port pushed back (the caller should come back soon)
   */
  flush(): boolean {
    let head = this.#head
    let end = this.#count
    if (head === end) return true
    const bucket = this.rateLimit
    if (bucket !== undefined) {
      const now = this.clock.now()
      let allowed = head
      while (allowed < end && bucket.tryConsume(Math.min(this.#frames[allowed]!.length, bucket.burst), now)) allowed++
      this.rateLimitAt = allowed < end ? now + bucket.timeUntil(Math.min(this.#frames[allowed]!.length, bucket.burst), now) : undefined
      end = allowed
    }
    const burst = this.#burst
    let accepted = true
    while (head < end) {
      const n = Math.min(this.burstSize, end - head)
      for (let i = 0; i < n; i++) burst[i] = this.#frames[head + i]!
      const sent = this.port.txBurst(burst, n)
      head += sent
      if (sent < n) {
        // Backpressure: try again on the next iteration, soon.
        this.portBusy = true
        accepted = false
        break
      }
    }
    if (head === this.#count) {
      this.#head = 0
      this.#count = 0
    } else if (head > TX_BACKLOG_LIMIT) {
      this.#frames.copyWithin(0, head, this.#count)
      this.#count -= head
      this.#head = 0
    } else {
      this.#head = head
    }
    return accepted
  }

  /** Release every queued frame (the stack stops). */
  clear(): void {
    for (let i = this.#head; i < this.#count; i++) this.#frames[i]!.release()
    this.#head = 0
    this.#count = 0
  }
}
