/**
 * Storage of the byte rings behind the send and receive buffers: growth, and a pool that recycles the
 * storage of finished connections. A short connection (connect, a request, a response, close) otherwise
 * allocates two new `ArrayBuffer`s (2 KiB each at least) and leaves them to the collector; with the pool
 * the next connection takes them back.
 * @module
 */

/** Smallest storage a ring grows to at first. */
const MIN_STORAGE = 2048

/** The largest storage the pool keeps (bigger rings are left to the collector). */
const LARGEST_POOLED = 1 << 22

/** Options of a {@link RingStoragePool}. */
export interface RingStoragePoolOptions {
  /** Most bytes of free storage kept for reuse, over all sizes; the rest goes to the collector. Default 64 MiB. */
  maxBytes?: number
}

/** Counters of a {@link RingStoragePool}, updated in place. */
export interface RingStoragePoolStats {
  /** Storage handed out from the pool. */
  reused: number
  /** Storage that had to be allocated (the pool had none of that size). */
  allocated: number
  /** Storage given back and kept. */
  returned: number
  /** Storage given back but not kept (the pool was at `maxBytes`, or the size is not pooled). */
  discarded: number
  /** Bytes of free storage held now. */
  bytesHeld: number
}

/**
 * Free ring storage by size, for reuse across connections. Sizes are powers of two from 2 KiB to 4 MiB
 * (what rings grow through); other sizes are neither kept nor handed out. Storage handed out still holds
 * the bytes of its earlier connection: a ring only ever reads what it wrote.
 */
export class RingStoragePool {
  readonly #free = new Map<number, Uint8Array[]>()
  readonly #maxBytes: number
  /** Counters. */
  readonly stats: RingStoragePoolStats = { reused: 0, allocated: 0, returned: 0, discarded: 0, bytesHeld: 0 }

  constructor(options: RingStoragePoolOptions = {}) {
    const maxBytes = options.maxBytes ?? 64 << 20
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`maxBytes must be a non-negative integer, got ${String(maxBytes)}`)
    this.#maxBytes = maxBytes
  }

  /** Storage of exactly `size` bytes: reused when the pool holds some, else new. */
  take(size: number): Uint8Array {
    const list = this.#free.get(size)
    const reused = list?.pop()
    if (reused !== undefined) {
      this.stats.reused++
      this.stats.bytesHeld -= size
      return reused
    }
    this.stats.allocated++
    return new Uint8Array(size)
  }

  /** Give storage back once no ring uses it. */
  give(bytes: Uint8Array): void {
    const size = bytes.byteLength
    if (!pooledSize(size) || bytes.byteOffset !== 0 || bytes.buffer.byteLength !== size || this.stats.bytesHeld + size > this.#maxBytes) {
      if (size > 0) this.stats.discarded++
      return
    }
    let list = this.#free.get(size)
    if (list === undefined) {
      list = []
      this.#free.set(size, list)
    }
    list.push(bytes)
    this.stats.returned++
    this.stats.bytesHeld += size
  }
}

function pooledSize(size: number): boolean {
  return size >= MIN_STORAGE && size <= LARGEST_POOLED && (size & (size - 1)) === 0
}

/**
 * A larger ring holding the `used` bytes of `bytes` that start at `head`, now starting at 0.
 * The new size doubles until it holds `needed` bytes, capped at `capacity`. With a `pool`, the new
 * storage comes from it and the old goes back to it.
 * @internal
 */
export function growRing(bytes: Uint8Array, head: number, used: number, needed: number, capacity: number, pool?: RingStoragePool): Uint8Array {
  let size = Math.max(bytes.byteLength, MIN_STORAGE)
  while (size < needed) size *= 2
  size = Math.min(size, capacity)
  const grown = pool === undefined ? new Uint8Array(size) : pool.take(size)
  const old = bytes.byteLength
  if (used > 0) {
    const first = Math.min(used, old - head)
    grown.set(bytes.subarray(head, head + first), 0)
    if (first < used) grown.set(bytes.subarray(0, used - first), first)
  }
  pool?.give(bytes)
  return grown
}
