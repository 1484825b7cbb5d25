/**
 * Preallocated packet buffers, in the manner of DPDK's mempool and mbuf.
 *
 * Every buffer is a fixed slot in one `ArrayBuffer`: headroom, then room for a frame. The frame lives at
 * `buffer.data[buffer.offset .. buffer.offset + buffer.length)`. Allocation pops a free list; nothing is
 * allocated per packet. Running out is counted in {@link BufferPoolStats.allocFailures}, never thrown.
 * @module
 */
import { checkInteger, DpdkIoError } from './errors.js'

/** Offload requests carried by a buffer on transmit and results on receive (DPDK's `ol_flags`). */
export const OffloadFlags = {
  /** Tx: the IPv4 header checksum is to be computed by the port. */
  TX_IP_CHECKSUM: 1 << 0,
  /** Tx: the TCP checksum is to be completed by the port (the field holds the pseudo-header sum). */
  TX_TCP_CHECKSUM: 1 << 1,
  /** Tx: the UDP checksum is to be completed by the port. */
  TX_UDP_CHECKSUM: 1 << 2,
  /** Tx: the frame is a TCP super segment that the port cuts into `segmentSize`-byte segments. */
  TX_TCP_SEGMENTATION: 1 << 3,
  /** Rx: the port verified the IP checksum and it is good. */
  RX_IP_CHECKSUM_GOOD: 1 << 8,
  /** Rx: the port verified the L4 checksum and it is good. */
  RX_L4_CHECKSUM_GOOD: 1 << 9,
  /** Rx: the L4 checksum is incomplete (partial) and was not verified; the data is trusted (it came from this host). */
  RX_L4_CHECKSUM_PARTIAL: 1 << 10,
} as const

/** One packet buffer. Owned by exactly one party at a time: the pool, the application, or a port. */
export class PacketBuffer {
  /** The whole slot: headroom plus data room. Fixed for the buffer's life. */
  readonly data: Uint8Array
  /** A DataView over {@link data} (same offsets), for header fields. */
  readonly view: DataView
  /** Index of the frame's first byte within {@link data}. */
  offset: number
  /** Frame length in bytes. */
  length = 0
  /** {@link OffloadFlags} bits. */
  offloadFlags = 0
  /** Link-layer header length, for offloads. */
  l2Length = 0
  /** Network-layer header length, for offloads. */
  l3Length = 0
  /** Transport header length, for offloads. */
  l4Length = 0
  /** Segment payload size for `TX_TCP_SEGMENTATION`. */
  segmentSize = 0
  /** @internal whether the buffer sits in its pool's free list (or, for a device's pool, is not the application's). */
  free = false
  /** @internal the buffer's number in its pool (a DPDK pool's mbuf index). */
  index = 0

  /** @internal */
  constructor(
    /** The pool this buffer returns to. */
    readonly pool: BufferPool,
    storage: ArrayBuffer,
    slotStart: number,
    slotSize: number,
  ) {
    this.data = new Uint8Array(storage, slotStart, slotSize)
    this.view = new DataView(storage, slotStart, slotSize)
    this.offset = pool.headroom
  }

  /** Bytes available after the frame. */
  get tailroom(): number {
    return this.data.byteLength - this.offset - this.length
  }

  /** The frame as a view (not a copy). Allocates a small view object: avoid on the hot path, use `data`/`offset`/`length`. */
  frame(): Uint8Array {
    return this.data.subarray(this.offset, this.offset + this.length)
  }

  /** Reset to an empty frame at the default headroom with no offload flags. */
  reset(): void {
    this.offset = this.pool.headroom
    this.length = 0
    this.offloadFlags = 0
    this.l2Length = 0
    this.l3Length = 0
    this.l4Length = 0
    this.segmentSize = 0
  }

  /** Copy `bytes` in as the frame (for tests and tools; not the hot path). */
  setFrame(bytes: Uint8Array): this {
    if (bytes.byteLength > this.data.byteLength - this.offset) {
      throw new DpdkIoError('ERR_INVALID_CONFIG', `frame of ${bytes.byteLength} bytes does not fit a buffer with ${this.data.byteLength - this.offset} bytes of room`)
    }
    this.data.set(bytes, this.offset)
    this.length = bytes.byteLength
    return this
  }

  /** Return the buffer to its pool. */
  release(): void {
    this.pool.free(this)
  }
}

/** Sizing of a {@link BufferPool}. */
export interface BufferPoolOptions {
  /** Number of buffers. Default 8192. */
  count?: number
  /** Bytes for the frame after the headroom. Default 2048 (a 1514-byte frame plus slack); use 65536 + headers for segmentation offload. */
  dataRoom?: number
  /** Bytes reserved in front of the frame for headers prepended later. Default 128. */
  headroom?: number
}

/** Counters of a {@link BufferPool}. */
export interface BufferPoolStats {
  /** Single or bulk allocations that could not be satisfied. */
  allocFailures: number
}

/**
 * A fixed set of preallocated {@link PacketBuffer}s.
 *
 * @example
 * ```ts
 * const pool = new BufferPool({ count: 1024 })
 * const bufs: PacketBuffer[] = []
 * if (pool.allocBulk(bufs, 32)) pool.freeBulk(bufs, 32)
 * ```
 */
export class BufferPool {
  readonly count: number
  readonly dataRoom: number
  readonly headroom: number
  readonly stats: BufferPoolStats = { allocFailures: 0 }
  readonly #free: PacketBuffer[]
  #available: number

  /**
   * @param external - (for device pools) slots in memory the pool does not own (a DPDK mempool's chunks): buffer `i` is
   *   `storages[slots[4i]]` from byte `slots[4i+1]`, `slots[4i+2]` bytes long; `count` and `dataRoom` follow from them.
   */
  constructor(options: BufferPoolOptions = {}, external?: { readonly storages: readonly ArrayBuffer[]; readonly slots: Int32Array }) {
    this.headroom = checkInteger('headroom', options.headroom ?? 128, 0, 65_536)
    if (external !== undefined) {
      this.count = external.slots.length >>> 2
      this.dataRoom = (external.slots[2] ?? this.headroom) - this.headroom
    } else {
      this.count = checkInteger('count', options.count ?? 8192, 1, 16_777_216)
      this.dataRoom = checkInteger('dataRoom', options.dataRoom ?? 2048, 64, 262_144)
    }
    const slotSize = this.headroom + this.dataRoom
    const storage = external === undefined ? new ArrayBuffer(slotSize * this.count) : undefined
    this.#free = new Array<PacketBuffer>(this.count)
    for (let i = 0; i < this.count; i++) {
      const buffer =
        storage !== undefined
          ? new PacketBuffer(this, storage, i * slotSize, slotSize)
          : new PacketBuffer(this, external!.storages[external!.slots[i * 4]!]!, external!.slots[i * 4 + 1]!, external!.slots[i * 4 + 2]!)
      buffer.index = i
      buffer.free = true
      // LIFO: the most recently freed buffer is handed out next, while it is still in cache.
      this.#free[this.count - 1 - i] = buffer
    }
    this.#available = this.count
  }

  /** Buffers currently in the pool. */
  get available(): number {
    return this.#available
  }

  /** Buffers currently out of the pool. */
  get inUse(): number {
    return this.count - this.#available
  }

  /** Take one buffer, reset; `undefined` (and a counted failure) when the pool is empty. */
  alloc(): PacketBuffer | undefined {
    if (this.#available === 0) {
      this.stats.allocFailures++
      return undefined
    }
    const buffer = this.#free[--this.#available]!
    buffer.free = false
    buffer.reset()
    return buffer
  }

  /**
   * Take `count` buffers into `out[0 .. count)`, all or none (as `rte_pktmbuf_alloc_bulk`).
   * @returns `false` (and a counted failure) when fewer than `count` are available.
   */
  allocBulk(out: PacketBuffer[], count: number): boolean {
    if (this.#available < count) {
      this.stats.allocFailures++
      return false
    }
    for (let i = 0; i < count; i++) {
      const buffer = this.#free[--this.#available]!
      buffer.free = false
      buffer.reset()
      out[i] = buffer
    }
    return true
  }

  /** Return a buffer. Throws `ERR_BUFFER_STATE` on a double free or a buffer of another pool: that is a bug in the caller. */
  free(buffer: PacketBuffer): void {
    if (buffer.pool !== this) {
      throw new DpdkIoError('ERR_BUFFER_STATE', 'buffer freed into a pool it does not belong to')
    }
    if (buffer.free) throw new DpdkIoError('ERR_BUFFER_STATE', 'buffer freed twice')
    buffer.free = true
    this.#free[this.#available++] = buffer
  }

  /** Return `bufs[0 .. count)`, each to its own pool. */
  freeBulk(bufs: readonly PacketBuffer[], count: number): void {
    for (let i = 0; i < count; i++) bufs[i]!.pool.free(bufs[i]!)
  }
}
