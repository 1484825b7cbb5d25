/**
 * The log of sent segments that RTT and delivery-rate samples come from: per segment its sequence range,
 * when it was sent (µs), whether any of it was retransmitted (Karn's rule, RFC 6298 §3), whether it was
 * sent while the application limited the connection (draft-cheng-iccrg-delivery-rate-estimation §3.4
 * P.is_app_limited), and the
 * connection's delivery state when it left (draft-cheng-iccrg-delivery-rate-estimation §3.2: delivered,
 * delivered time, first sent time). A ring in one Float64Array that starts empty and doubles on demand,
 * so idle connections cost nothing.
 * @module
 */
import type { Micros } from '../congestion/congestion-control.js'
import { seqGt, seqLt } from '../wire/seq.js'

/** Fields per entry: start, end, time, flags; with delivery state also delivered, deliveredTime, firstSentTime. */
const BASE_FIELDS = 4
const DELIVERY_FIELDS = 7
const FIRST_CAPACITY = 16
/** Beyond this many segments in flight the oldest entries are dropped (they just give no sample). */
const MAX_CAPACITY = 8192
/** Flag bits of an entry. */
const RETRANSMITTED = 1
const APP_LIMITED = 2
/** RACK (rules/loss-recovery/rack.ts): the entry was found delivered (SACKed) already. */
export const SENT_SACKED = 4
/** RACK: the entry was marked lost and waits in the lost queue for its retransmission. */
export const SENT_LOST = 8

/** The slots of every log that has not grown yet: one shared empty array, not one per connection. */
const NO_SLOTS = new Float64Array(0)

/** @internal */
export class SentLog {
  #slots = NO_SLOTS
  #capacity = 0
  #head = 0
  #size = 0
  readonly #fields: number
  /** The delivery state of the newest entry the last {@link acknowledge} removed (-1: none removed). */
  ackedSentAt: Micros = -1
  ackedDelivered = 0
  ackedDeliveredTime: Micros = 0
  ackedFirstSentTime: Micros = 0
  /** Whether the newest entry the last {@link acknowledge} removed was sent while application-limited. */
  ackedAppLimited = false
  /** RACK (RFC 8985 §6.2 step 2): the latest transmission time among the entries the last {@link acknowledge} removed, -1 for none. */
  ackedNewestTime: Micros = -1
  /** That entry's end and whether it was retransmitted. */
  ackedNewestEnd = 0
  ackedNewestRetransmitted = false

  /** @param withDelivery - keep the delivery state per entry (for rate samples); idle connections without it stay smaller. */
  constructor(withDelivery = false) {
    this.#fields = withDelivery ? DELIVERY_FIELDS : BASE_FIELDS
  }

  /** Entries held. */
  get size(): number {
    return this.#size
  }

  /** Record a first transmission of [start, end) at `now`, with the connection's delivery state then. */
  add(now: Micros, start: number, end: number, appLimited: boolean, delivered = 0, deliveredTime: Micros = 0, firstSentTime: Micros = 0): void {
    if (this.#size === this.#capacity) {
      if (this.#capacity < MAX_CAPACITY) this.#grow()
      else {
        this.#head = (this.#head + 1) % this.#capacity
        this.#size--
      }
    }
    const at = ((this.#head + this.#size) % this.#capacity) * this.#fields
    const slots = this.#slots
    slots[at] = start
    slots[at + 1] = end
    slots[at + 2] = now
    slots[at + 3] = appLimited ? APP_LIMITED : 0
    if (this.#fields === DELIVERY_FIELDS) {
      slots[at + 4] = delivered
      slots[at + 5] = deliveredTime
      slots[at + 6] = firstSentTime
    }
    this.#size++
  }

  /**
   * Mark every entry overlapping [start, end) as retransmitted at `now`: none of them may give an RTT
   * sample (Karn), and RACK (RFC 8985 §6.1) takes `now` as their transmission time; a lost mark ends.
   */
  markRetransmitted(start: number, end: number, now: Micros): void {
    const slots = this.#slots
    for (let i = this.indexAt(start); i < this.#size; i++) {
      const at = this.#slot(i)
      if (!seqLt(slots[at]!, end)) break
      if (seqGt(slots[at + 1]!, start)) {
        slots[at + 2] = now
        slots[at + 3] = (slots[at + 3]! | RETRANSMITTED) & ~SENT_LOST
      }
    }
  }

  /** The index (0 = oldest) of the first entry whose end is after `seq`, by binary search: entries are in sequence order. */
  indexAt(seq: number): number {
    let low = 0
    let high = this.#size
    const slots = this.#slots
    while (low < high) {
      const mid = (low + high) >>> 1
      if (seqGt(slots[this.#slot(mid) + 1]!, seq)) high = mid
      else low = mid + 1
    }
    return low
  }

  /** Entry `i`'s first sequence number. */
  startOf(i: number): number {
    return this.#slots[this.#slot(i)]!
  }

  /** Entry `i`'s end (one past its last sequence number). */
  endOf(i: number): number {
    return this.#slots[this.#slot(i) + 1]!
  }

  /** When entry `i` was last (re)transmitted. */
  timeOf(i: number): Micros {
    return this.#slots[this.#slot(i) + 2]!
  }

  /** Entry `i`'s flag bits ({@link SENT_SACKED}, {@link SENT_LOST}, retransmitted = 1). */
  flagsOf(i: number): number {
    return this.#slots[this.#slot(i) + 3]!
  }

  /** Set flag bits on entry `i`. */
  setFlags(i: number, flags: number): void {
    const at = this.#slot(i) + 3
    this.#slots[at] = this.#slots[at]! | flags
  }

  /** Whether entry `i` was retransmitted. */
  retransmitted(i: number): boolean {
    return (this.flagsOf(i) & RETRANSMITTED) !== 0
  }

  #slot(i: number): number {
    return ((this.#head + i) % this.#capacity) * this.#fields
  }

  /** Drop entries wholly acknowledged by `ack`; the newest never retransmitted gives the RTT sample. */
  acknowledge(now: Micros, ack: number): Micros | undefined {
    let sample: Micros | undefined
    const slots = this.#slots
    this.ackedSentAt = -1
    this.ackedAppLimited = false
    this.ackedNewestTime = -1
    while (this.#size > 0) {
      const at = this.#head * this.#fields
      if (seqGt(slots[at + 1]!, ack)) break
      const flags = slots[at + 3]!
      if ((flags & SENT_SACKED) === 0 && slots[at + 2]! >= this.ackedNewestTime) {
        this.ackedNewestTime = slots[at + 2]!
        this.ackedNewestEnd = slots[at + 1]!
        this.ackedNewestRetransmitted = (flags & RETRANSMITTED) !== 0
      }
      if ((flags & RETRANSMITTED) === 0) sample = now - slots[at + 2]!
      this.ackedAppLimited = (flags & APP_LIMITED) !== 0
      if (this.#fields === DELIVERY_FIELDS) {
        this.ackedSentAt = slots[at + 2]!
        this.ackedDelivered = slots[at + 4]!
        this.ackedDeliveredTime = slots[at + 5]!
        this.ackedFirstSentTime = slots[at + 6]!
      }
      this.#head = (this.#head + 1) % this.#capacity
      this.#size--
    }
    return sample
  }

  /** Forget everything (after a timeout, nothing outstanding may give a sample). */
  clear(): void {
    this.#head = 0
    this.#size = 0
  }

  #grow(): void {
    const capacity = this.#capacity === 0 ? FIRST_CAPACITY : this.#capacity * 2
    const slots = new Float64Array(capacity * this.#fields)
    for (let i = 0; i < this.#size; i++) {
      const from = ((this.#head + i) % this.#capacity) * this.#fields
      slots.set(this.#slots.subarray(from, from + this.#fields), i * this.#fields)
    }
    this.#slots = slots
    this.#capacity = capacity
    this.#head = 0
  }
}
