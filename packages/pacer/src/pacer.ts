/**
 * A "next send time" pacer with a burst quantum, in the manner of the per-flow `time_next_packet` of Linux's
 * fq qdisc and TCP's internal pacing (`tcp_wstamp_ns`, net/ipv4/tcp_output.c `tcp_update_skb_after_send`).
 *
 * ## Model
 *
 * The pacer keeps the schedule position `next`: the time at which every byte sent so far would have left if
 * sent at exactly `rate`. Sending `bytes` at `now` moves it to `max(now, next) + bytes / rate`. At `now` the
 * sender is `ahead = max(0, next − now) × rate` bytes ahead of the rate. A send of `bytes` may start at `now`
 * when
 *
 * - `ahead + bytes ≤ quantum`: up to one quantum leaves back to back at one instant; or
 * - `ahead = 0` (the schedule has caught up): a segmentation-offload super segment larger than the quantum
 *   may go, and it spends its whole size, so the next send waits `bytes / rate`.
 *
 * Idle time adds no credit beyond one quantum: once the schedule has caught up, `ahead` stays 0 however long
 * the pause, so at most one quantum goes at once afterwards. Over any interval `[s, t]` the bytes sent by a
 * sender that obeys {@link Pacer.canSend} are at most `rate × (t − s) + max(quantum, size of the last send)`
 * (with `∫ rate dt` for `rate × (t − s)` when the rate changes).
 *
 * ## Exact arithmetic
 *
 * `next` is never accumulated packet by packet. The pacer stores an anchor time and the integer count of
 * bytes sent since it, and computes `next = anchor + bytesSinceAnchor × 10^6 / rate` in one step. Sums of
 * whole bytes are exact below 2^53, so `next` is within a few ulps of its true value however many packets
 * were sent, and fractions of a µs are kept (a 1514-byte frame at 10 Gbit/s lasts 1.2112 µs, not a binary
 * fraction: adding it up per packet drifts, rounding it to a whole µs per packet would send 21% too fast). The
 * anchor moves only when a send starts after the schedule has caught up (an idle period: to `now`, exact),
 * when the rate changes (one rounding per change), and after 2^52 bytes without a pause (one rounding per 4.5 PB).
 * When a send of `bytes` may start is computed the same way from the integer
 * `bytesSinceAnchor + min(bytes, quantum) − quantum`, so a sender that wakes at the returned time is exactly
 * on schedule, and a quantum allowed at `t` is allowed at `t` in any split into packets.
 * @module
 */
import { checkBytes, checkRate, checkSizeSetting, checkTime } from './errors.js'
import { MICROS_PER_SECOND, type Micros } from '@mtcp/primitives'

/**
 * The default burst quantum in bytes: two full-size Ethernet frames (2 × 1514), the default `quantum` of
 * Linux's fq qdisc (2 × the device MTU with its link header). Two MSS-size segments fit whether the caller
 * counts frames, IP packets or TCP payload.
 */
export const DEFAULT_PACING_QUANTUM = 3028

/** Above this many bytes since the anchor, the anchor moves forward, keeping the byte sum exact. */
const REBASE_BYTES = 2 ** 52

/** Settings of a {@link Pacer}. */
export interface PacerOptions {
  /**
   * Pacing rate in bytes per second (bytes, not bits: 10 Mbit/s is `10e6 / 8`), in [0, Infinity].
   * 0 or Infinity send unpaced.
   */
  rate: number
  /**
   * The largest burst in bytes that may leave back to back at one instant, an integer in [1, 2^52].
   * A larger super segment may still go once the schedule has caught up. Default {@link DEFAULT_PACING_QUANTUM}.
   */
  quantum?: number | undefined
}

/**
 * A sans-I/O pacer: it answers when bytes may be sent and accounts for what was sent. It never reads a clock
 * or sets a timer; every call takes `now` in µs (any finite number, fractions allowed; it should not go
 * backwards, and if it does the pacer grants no extra credit). Bytes are whatever the caller counts (frames,
 * IP packets or TCP payload), consistently with the rate.
 *
 * The pacer never computes its own rate: it keeps the last {@link Pacer.setRate} until told otherwise, so a
 * rate set by CCP is never overwritten by a per-packet cwnd/RTT estimate (see `nativePacingRate` for
 * the native rate, which the caller applies only when no controller sets one).
 *
 * Waking up: arm the timer for `nextSendAt(now)` to wake once per quantum (the fewest wake-ups; but the
 * schedule has caught up by then, so time the timer is late is idle time and is lost), or for
 * `nextSendAt(now, size)` to wake as soon as one packet fits (a timer late by up to
 * `(quantum − size) / rate` loses nothing).
 *
 * @example
 * ```ts
 * const pacer = new Pacer({ rate: 1e9 / 8, quantum: 2 * 1448 }) // 1 Gbit/s
 * let now = 0
 * while (pacer.canSend(now, 1448)) pacer.onSend(1448, now) // two segments back to back at t = 0
 * now = pacer.nextSendAt(now) // 23.168 µs: the next quantum may start
 * ```
 */
export class Pacer {
  /** The largest burst in bytes that may leave back to back at one instant. */
  readonly quantum: number

  /** Bytes per second; only meaningful while `#paced`. */
  #rate: number
  /** Whether the rate is finite and positive. */
  #paced: boolean
  /** Anchor of the schedule in µs; -Infinity when the schedule has caught up and nothing is owed. */
  #anchor: Micros = Number.NEGATIVE_INFINITY
  /** Whole bytes sent since `#anchor`, below 2^53 so the sum stays exact. */
  #bytesSinceAnchor = 0

  constructor(options: PacerOptions) {
    this.#rate = checkRate('rate', options.rate, '0 or Infinity: unpaced')
    this.#paced = isPaced(this.#rate)
    this.quantum = checkSizeSetting('quantum', options.quantum ?? DEFAULT_PACING_QUANTUM)
  }

  /** The pacing rate in bytes per second; 0 or Infinity when unpaced. */
  get rate(): number {
    return this.#rate
  }

  /** Whether sends are paced: the rate is finite and positive. */
  get paced(): boolean {
    return this.#paced
  }

  /**
   * Change the rate at `now` (bytes per second, in [0, Infinity]; 0 or Infinity: unpaced).
   *
   * The bytes already sent ahead of the old rate stay owed and drain at the new rate: the wait left at `now`
   * is scaled by `oldRate / newRate`. So a lower rate releases no burst, and a higher rate does not keep the
   * sender waiting out a delay computed at the old one. Setting the same rate again changes nothing. Turning
   * pacing on starts with the schedule caught up (one quantum may go at once); turning it off forgets the schedule.
   */
  setRate(bytesPerSecond: number, now: Micros): void {
    checkRate('rate', bytesPerSecond, '0 or Infinity: unpaced')
    checkTime('now', now)
    if (bytesPerSecond === this.#rate) return
    const paced = isPaced(bytesPerSecond)
    if (this.#paced && paced) {
      const next = this.#next()
      this.#anchor = next > now ? now + ((next - now) * this.#rate) / bytesPerSecond : Number.NEGATIVE_INFINITY
    } else {
      this.#anchor = Number.NEGATIVE_INFINITY
    }
    this.#bytesSinceAnchor = 0
    this.#rate = bytesPerSecond
    this.#paced = paced
  }

  /**
   * Whether a send of `bytes` may start at `now`: the bytes already ahead of the rate plus `bytes` fit in one
   * quantum, or (for a super segment larger than the quantum) the schedule has caught up. Always true when unpaced.
   * @param bytes - Size of the send in bytes. Default: one quantum, so `canSend(now)` asks whether a whole
   *   quantum may start.
   */
  canSend(now: Micros, bytes: number = this.quantum): boolean {
    checkTime('now', now)
    checkBytes('bytes', bytes)
    return !this.#paced || now >= this.#earliest(bytes)
  }

  /**
   * The earliest time, at or after `now`, at which a send of `bytes` may start; `now` itself when it may
   * already. {@link Pacer.canSend} is true at the returned time, exactly (not only up to rounding).
   * @param bytes - Size of the send in bytes. Default: one quantum, so `nextSendAt(now)` is when the next
   *   whole quantum may start (the time to arm a timer for).
   */
  nextSendAt(now: Micros, bytes: number = this.quantum): Micros {
    checkTime('now', now)
    checkBytes('bytes', bytes)
    if (!this.#paced) return now
    const earliest = this.#earliest(bytes)
    return earliest > now ? earliest : now
  }

  /**
   * Account for `bytes` sent at `now`: the schedule moves to `max(now, next) + bytes / rate`. A super segment
   * spends its whole size, even beyond the quantum. Accounting happens even if the send was not allowed.
   */
  onSend(bytes: number, now: Micros): void {
    checkBytes('bytes', bytes)
    checkTime('now', now)
    if (!this.#paced) return
    const next = this.#next()
    if (next < now) {
      // Idle: the schedule restarts at `now`, so idle time leaves no credit behind. (At `next === now`
      // the schedule simply continues, so a sender that wakes exactly on time never moves the anchor.)
      this.#anchor = now
      this.#bytesSinceAnchor = bytes
    } else if (this.#bytesSinceAnchor + bytes > REBASE_BYTES) {
      this.#anchor = next
      this.#bytesSinceAnchor = bytes
    } else {
      this.#bytesSinceAnchor += bytes
    }
  }

  /** The schedule position: when every byte sent so far would have left at `rate`. */
  #next(): Micros {
    return this.#anchor + (this.#bytesSinceAnchor * MICROS_PER_SECOND) / this.#rate
  }

  /**
   * When a send of `bytes` may start: when the bytes ahead of the rate, plus `bytes` (at most a quantum's
   * worth for a super segment), fit in one quantum. The quantum is taken off the integer byte count before
   * the one conversion to time, so equal byte counts give the same time to the last bit: after a whole
   * quantum may start at `t`, every split of it into packets may go at `t`, and waking at `next` is exactly
   * on schedule. A deterministic function of the state, so canSend and nextSendAt agree.
   */
  #earliest(bytes: number): Micros {
    const owed = this.#bytesSinceAnchor + Math.min(bytes, this.quantum) - this.quantum
    return this.#anchor + (owed * MICROS_PER_SECOND) / this.#rate
  }
}

function isPaced(rate: number): boolean {
  return rate > 0 && rate < Number.POSITIVE_INFINITY
}
