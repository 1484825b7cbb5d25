/**
 * The send buffer: bytes written by the application and not yet acknowledged, in a ring.
 *
 * Offsets are relative to the first unacknowledged byte (SND.UNA, RFC 9293 §3.3.1), so the
 * connection maps a sequence number to an offset with one subtraction. Storage starts empty and
 * doubles on demand up to the capacity, so an idle connection costs no buffer memory.
 * @module
 */
import { copyBytes } from '../wire/bytes.js'
import { growRing, type RingStoragePool } from './ring.js'

/** No storage yet (shared: nothing is ever written into zero bytes). */
const EMPTY = new Uint8Array(0)

/** A fixed-capacity byte ring holding unacknowledged and unsent data. */
export class SendBuffer {
  #bytes: Uint8Array = EMPTY
  #head = 0
  #length = 0

  /**
   * @param capacity - bytes; the connection's send buffer size.
   * @param pool - where storage comes from and goes back to; without one it is allocated and collected.
   */
  constructor(
    readonly capacity: number,
    readonly pool?: RingStoragePool,
  ) {}

  /** Bytes of storage allocated now (at most the capacity). */
  get allocated(): number {
    return this.#bytes.byteLength
  }

  /** Bytes held (unacknowledged plus unsent). */
  get length(): number {
    return this.#length
  }

  /** Free space for the application. */
  get free(): number {
    return this.capacity - this.#length
  }

  /**
   * Append up to `length` bytes of `data` from `offset`.
   * @returns how many were taken (less when the buffer is full).
   */
  write(data: Uint8Array, offset = 0, length = data.byteLength - offset): number {
    const count = Math.min(length, this.capacity - this.#length)
    if (count <= 0) return 0
    if (this.#length + count > this.#bytes.byteLength) {
      this.#bytes = growRing(this.#bytes, this.#head, this.#length, this.#length + count, this.capacity, this.pool)
      this.#head = 0
    }
    const size = this.#bytes.byteLength
    const tail = (this.#head + this.#length) % size
    const first = Math.min(count, size - tail)
    copyBytes(data, offset, this.#bytes, tail, first)
    if (first < count) copyBytes(data, offset + first, this.#bytes, 0, count - first)
    this.#length += count
    return count
  }

  /** Give the storage back to the pool and empty the buffer (the connection is finished with it). */
  release(): void {
    this.pool?.give(this.#bytes)
    this.#bytes = EMPTY
    this.#head = 0
    this.#length = 0
  }

  /** Drop `count` bytes from the front (they were acknowledged). */
  consume(count: number): void {
    const n = Math.min(count, this.#length)
    this.#length -= n
    this.#head = this.#length === 0 ? 0 : (this.#head + n) % this.#bytes.byteLength
  }

  /** Copy `length` bytes starting `from` bytes after the front into `target` at `targetOffset`. */
  copyOut(from: number, length: number, target: Uint8Array, targetOffset: number): void {
    const size = this.#bytes.byteLength
    const start = (this.#head + from) % size
    const first = Math.min(length, size - start)
    copyBytes(this.#bytes, start, target, targetOffset, first)
    if (first < length) copyBytes(this.#bytes, 0, target, targetOffset + first, length - first)
  }
}
