/**
 * The receive buffer: in-order data waiting for the application, and out-of-order data waiting for
 * the hole before it (RFC 9293 §3.10.7.4, "seventh, process the segment text"), in one ring.
 *
 * Offsets are relative to RCV.NXT: offset 0 is the next byte expected. Out-of-order data is stored in
 * place and tracked as a sorted list of disjoint ranges, which is also what SACK blocks are made from.
 * Storage starts empty and doubles on demand up to the capacity.
 * @module
 */
import { copyBytes } from '../wire/bytes.js'
import { growRing, type RingStoragePool } from './ring.js'

/**
 * The fewest out-of-order ranges kept, and the bytes of capacity per further range: a segment that would
 * need more ranges is dropped (and retransmitted by the peer). A range per 1 KiB of buffer holds every
 * hole pattern of full-sized segments (a hole costs at least one segment, a range at least another), so
 * only a peer sending islands of a few bytes meets the bound, which keeps the cost of an insert (a
 * binary search and one splice) bounded. It was 64 whatever the buffer: a slow-start overshoot that
 * lost more than 64 segments of one window had every segment past the 64th hole dropped by the receiver
 * too, and the sender, seeing no SACK for them, waited for the RTO and resent the rest of the window
 * (issue 15: most of the retransmissions of the stack-emulated-100M benchmark).
 */
const MIN_RANGES = 64
const BYTES_PER_RANGE = 1024

/** No storage yet (shared: nothing is ever written into zero bytes). */
const EMPTY = new Uint8Array(0)

/** A fixed-capacity receive ring with reassembly. */
export class ReceiveBuffer {
  #bytes: Uint8Array = EMPTY
  #head = 0
  /** In-order bytes ready for the application. */
  #readable = 0
  /** Out-of-order ranges as [start, end) offsets past the readable data, sorted, disjoint, not touching. */
  readonly #starts: number[] = []
  readonly #ends: number[] = []
  readonly #maxRanges: number

  /**
   * @param capacity - bytes; the connection's receive buffer size.
   * @param pool - where storage comes from and goes back to; without one it is allocated and collected.
   */
  constructor(
    readonly capacity: number,
    readonly pool?: RingStoragePool,
  ) {
    this.#maxRanges = Math.max(MIN_RANGES, Math.floor(capacity / BYTES_PER_RANGE))
  }

  /** Give the storage back to the pool and empty the buffer (the connection is finished with it). */
  release(): void {
    this.pool?.give(this.#bytes)
    this.#bytes = EMPTY
    this.#head = 0
    this.#readable = 0
    this.#starts.length = 0
    this.#ends.length = 0
  }

  /** Bytes of storage allocated now (at most the capacity). */
  get allocated(): number {
    return this.#bytes.byteLength
  }

  /** In-order bytes the application can read. */
  get readable(): number {
    return this.#readable
  }

  /** Space after the readable data: the receive window to advertise. */
  get window(): number {
    return this.capacity - this.#readable
  }

  /** Number of out-of-order ranges held. */
  get rangeCount(): number {
    return this.#starts.length
  }

  /** Start and end (offsets past RCV.NXT) of out-of-order range `i`. */
  range(i: number): [start: number, end: number] {
    return [this.#starts[i]!, this.#ends[i]!]
  }

  /** Bytes held out of order. */
  get outOfOrderBytes(): number {
    let total = 0
    for (let i = 0; i < this.#starts.length; i++) total += this.#ends[i]! - this.#starts[i]!
    return total
  }

  /**
   * Store `length` bytes of `data` from `from`, whose first byte is `offset` bytes past RCV.NXT. The caller
   * has trimmed them to the window.
   * @returns how many bytes RCV.NXT advances (0 for out-of-order data, or -1 when it had to be dropped).
   */
  insert(offset: number, data: Uint8Array, from = 0, length = data.byteLength - from): number {
    if (length === 0) return 0
    const end = Math.min(offset + length, this.window)
    if (end <= offset) return 0
    this.#copyIn(this.#readable + offset, data, from, end - offset)
    if (offset > 0) return this.#addRange(offset, end) ? 0 : -1
    // In order: the readable region grows over any ranges it reaches.
    let advance = end
    while (this.#starts.length > 0 && this.#starts[0]! <= advance) {
      advance = Math.max(advance, this.#ends[0]!)
      this.#starts.shift()
      this.#ends.shift()
    }
    this.#readable += advance
    for (let i = 0; i < this.#starts.length; i++) {
      this.#starts[i]! -= advance
      this.#ends[i]! -= advance
    }
    return advance
  }

  /** Copy up to `length` readable bytes into `target` at `offset`, and consume them. @returns the count. */
  read(target: Uint8Array, offset = 0, length = target.byteLength - offset): number {
    const count = this.peek(target, offset, length)
    this.consume(count)
    return count
  }

  /** Copy up to `length` readable bytes without consuming them. @returns the count. */
  peek(target: Uint8Array, offset = 0, length = target.byteLength - offset): number {
    const count = Math.min(length, this.#readable)
    if (count === 0) return 0
    const first = Math.min(count, this.#bytes.byteLength - this.#head)
    copyBytes(this.#bytes, this.#head, target, offset, first)
    if (first < count) copyBytes(this.#bytes, 0, target, offset + first, count - first)
    return count
  }

  /** Consume `count` readable bytes. */
  consume(count: number): void {
    const n = Math.min(count, this.#readable)
    this.#readable -= n
    this.#head = this.#readable === 0 && this.#starts.length === 0 ? 0 : (this.#head + n) % this.#bytes.byteLength
  }

  #copyIn(position: number, data: Uint8Array, from: number, length: number): void {
    const needed = position + length
    if (needed > this.#bytes.byteLength) {
      const used = this.#starts.length > 0 ? this.#readable + this.#ends[this.#ends.length - 1]! : this.#readable
      this.#bytes = growRing(this.#bytes, this.#head, used, needed, this.capacity, this.pool)
      this.#head = 0
    }
    const size = this.#bytes.byteLength
    const start = (this.#head + position) % size
    const first = Math.min(length, size - start)
    copyBytes(data, from, this.#bytes, start, first)
    if (first < length) copyBytes(data, from + first, this.#bytes, 0, length - first)
  }

  /** Merge [start, end) into the sorted ranges. @returns false when the range table is full. */
  #addRange(start: number, end: number): boolean {
    const starts = this.#starts
    const ends = this.#ends
    // The first range that ends at or after `start` (binary search: most inserts extend the last range).
    let i = 0
    let high = starts.length
    while (i < high) {
      const middle = (i + high) >>> 1
      if (ends[middle]! < start) i = middle + 1
      else high = middle
    }
    let j = i
    let mergedStart = start
    let mergedEnd = end
    while (j < starts.length && starts[j]! <= end) {
      mergedStart = Math.min(mergedStart, starts[j]!)
      mergedEnd = Math.max(mergedEnd, ends[j]!)
      j++
    }
    if (i === j && starts.length >= this.#maxRanges) return false
    starts.splice(i, j - i, mergedStart)
    ends.splice(i, j - i, mergedEnd)
    return true
  }
}
