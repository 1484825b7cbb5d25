/**
 * Socket ids: small integers that name a socket, are reused, and carry a generation so that an id kept
 * after its socket was released can never reach a newer socket that got the same slot.
 *
 * ## Id layout
 *
 * An id is a positive 31-bit integer: `id = generation * 2^slotBits + slot`.
 *
 * ```
 *  bit 30                                      0
 *  [ generation (generationBits) | slot (slotBits) ]
 * ```
 *
 * - `slotBits` is the fewest bits that hold `maxSockets - 1` (16 for the default 65,536 sockets).
 * - `generationBits` defaults to the rest, `31 - slotBits` (15 by default); it can be set lower.
 * - Generations run 1, 2, …, 2^generationBits − 1 and then start again at 1; 0 is never used, so **0 is
 *   never a valid id** (a zero-filled field never names a socket) and every id is at least 2^slotBits, so a
 *   bare slot index is never mistaken for an id.
 * - 31 bits rather than 32 keep every id a positive int32: it fits an `Int32Array` or a uint32 field (libccp
 *   names flows with a u32), and V8 on 64-bit Node keeps it a small integer, so passing and storing ids
 *   never allocates.
 *
 * ## The stale-id guarantee
 *
 * The generation of a slot advances each time the slot is allocated. After `release(id)`, `id` is rejected
 * by {@link SocketTable.get}, `has`, `set`, `release` and `slotOf` until its slot has been allocated again
 * 2^generationBits − 1 times (32,767 times with the defaults). Free slots are reused first in, first out, so
 * before a released slot comes back every slot freed before it is handed out: if at least `F` slots are free
 * whenever it is released, a stale id cannot alias before (2^generationBits − 1) × `F` allocations. With
 * `onGenerationWrap: 'retire'` a slot whose generations are used up is never reused, and then no id is ever
 * issued twice: a stale id is rejected for the life of the table, at the cost of capacity shrinking by one
 * socket per (2^generationBits − 1) reuses of a slot (counted in {@link SocketTableStats.retiredSlots}).
 *
 * Every operation is O(1) and allocates nothing (iteration is O(size); `forEach` allocates nothing): all
 * state is in arrays sized at construction.
 * @module
 */
import { checkIntegerOption, SidMapError } from './errors.js'

/**
 * A socket id: a positive 31-bit integer, `generation * 2^slotBits + slot` (see the module docs).
 * Never 0. Obtain one from {@link SocketTable.allocate}.
 */
export type SocketId = number

/**
 * What a {@link SocketTable} does when a slot has used its last generation:
 * - `'reuse'`: start the slot's generations again at 1 (the table never shrinks; a stale id can alias
 *   after 2^generationBits − 1 reuses of its slot).
 * - `'retire'`: take the slot out of service (no id is ever issued twice; the table shrinks).
 */
export type GenerationWrapPolicy = 'reuse' | 'retire'

/** Sizing and id layout of a {@link SocketTable}. */
export interface SocketTableOptions {
  /** Most sockets live at once, in [1, 8388608]. Default 65,536. */
  maxSockets?: number
  /**
   * Bits of generation in an id, in [2, 31 − slotBits]. Default `31 − slotBits`, the most that keeps ids
   * within 31 bits. Fewer bits make ids smaller and stale ids alias sooner.
   */
  generationBits?: number
  /** What to do when a slot's generations are used up. Default `'reuse'`. */
  onGenerationWrap?: GenerationWrapPolicy
}

/** Counters of a {@link SocketTable}. */
export interface SocketTableStats {
  /** Calls to {@link SocketTable.allocate} that found no free slot. */
  allocFailures: number
  /** Slots taken out of service under `onGenerationWrap: 'retire'`. */
  retiredSlots: number
}

/** The largest `maxSockets`: 23 slot bits leave at least 8 generation bits. */
const MAX_SOCKETS = 1 << 23
/** Total bits of an id. */
const ID_BITS = 31

/**
 * Socket ids mapped to values (usually connection objects), with reuse and generations.
 *
 * @example
 * ```ts
 * const sockets = new SocketTable<string>({ maxSockets: 1024 })
 * const id = sockets.allocate('conn A')
 * if (id === undefined) throw new Error('out of sockets') // counted in sockets.stats.allocFailures
 * sockets.get(id) // 'conn A'
 * sockets.release(id) // true
 * sockets.get(id) // undefined, and stays undefined after the slot is reused
 * ```
 */
export class SocketTable<T> {
  /** Most sockets live at once (`maxSockets`). */
  readonly capacity: number
  /** Low bits of an id that hold the slot index. */
  readonly slotBits: number
  /** Bits of an id above the slot that hold the generation. */
  readonly generationBits: number
  /** What happens when a slot's generations are used up. */
  readonly onGenerationWrap: GenerationWrapPolicy
  /** Counters; read them, do not write. */
  readonly stats: SocketTableStats = { allocFailures: 0, retiredSlots: 0 }

  readonly #slotMask: number
  readonly #slotSpan: number
  readonly #maxGeneration: number
  /** Per slot (sized to 2^slotBits so any masked id indexes in bounds): the live id, or 0 when free. */
  readonly #ids: Int32Array
  /** Per slot: the generation last issued, 0 before the first allocation. */
  readonly #generations: Int32Array
  readonly #values: Array<T | undefined>
  /** Ring of free slots, oldest release first. */
  readonly #freeQueue: Int32Array
  #freeHead = 0
  #freeCount: number
  /** Live slots packed in `[0, size)`, for iteration in O(size). */
  readonly #dense: Int32Array
  /** Per live slot: its index in `#dense`. */
  readonly #densePosition: Int32Array
  #size = 0
  /** Counts releases, so a walk can tell what its callback released. */
  #releases = 0

  constructor(options: SocketTableOptions = {}) {
    this.capacity = checkIntegerOption('maxSockets', options.maxSockets ?? 65_536, 1, MAX_SOCKETS)
    this.slotBits = this.capacity === 1 ? 0 : 32 - Math.clz32(this.capacity - 1)
    this.generationBits = checkIntegerOption(
      'generationBits',
      options.generationBits ?? ID_BITS - this.slotBits,
      2,
      ID_BITS - this.slotBits,
    )
    const policy = options.onGenerationWrap ?? 'reuse'
    if (policy !== 'reuse' && policy !== 'retire') {
      throw new SidMapError('ERR_INVALID_CONFIG', `onGenerationWrap must be 'reuse' or 'retire', got ${String(policy)}`)
    }
    this.onGenerationWrap = policy
    this.#slotSpan = 2 ** this.slotBits
    this.#slotMask = this.#slotSpan - 1
    this.#maxGeneration = 2 ** this.generationBits - 1
    this.#ids = new Int32Array(this.#slotSpan)
    this.#generations = new Int32Array(this.capacity)
    this.#values = new Array<T | undefined>(this.capacity).fill(undefined)
    this.#freeQueue = new Int32Array(this.capacity)
    for (let slot = 0; slot < this.capacity; slot++) this.#freeQueue[slot] = slot
    this.#freeCount = this.capacity
    this.#dense = new Int32Array(this.capacity)
    this.#densePosition = new Int32Array(this.capacity)
  }

  /** Live sockets. */
  get size(): number {
    return this.#size
  }

  /** Sockets that can still be allocated (capacity − size − retired slots). */
  get available(): number {
    return this.#freeCount
  }

  /**
   * Take a free slot for `value` and return its new id, or `undefined` when every slot is in use (counted
   * in {@link SocketTableStats.allocFailures}). The id differs from every id of the same slot issued in the
   * last 2^generationBits − 2 allocations of that slot.
   */
  allocate(value: T): SocketId | undefined {
    if (this.#freeCount === 0) {
      this.stats.allocFailures++
      return undefined
    }
    const slot = this.#freeQueue[this.#freeHead]!
    this.#freeHead = this.#freeHead + 1 === this.capacity ? 0 : this.#freeHead + 1
    this.#freeCount--
    const previous = this.#generations[slot]!
    const generation = previous === this.#maxGeneration ? 1 : previous + 1
    this.#generations[slot] = generation
    const id = generation * this.#slotSpan + slot
    this.#ids[slot] = id
    this.#values[slot] = value
    this.#densePosition[slot] = this.#size
    this.#dense[this.#size++] = slot
    return id
  }

  /** The value of a live id; `undefined` for a released, stale, never-issued or malformed id. */
  get(id: SocketId): T | undefined {
    const slot = id & this.#slotMask
    return id !== 0 && this.#ids[slot] === id ? this.#values[slot] : undefined
  }

  /** Whether `id` names a live socket. */
  has(id: SocketId): boolean {
    return id !== 0 && this.#ids[id & this.#slotMask] === id
  }

  /** Replace the value of a live id (for example, once the connection that needs its own id exists). */
  set(id: SocketId, value: T): boolean {
    const slot = id & this.#slotMask
    if (id === 0 || this.#ids[slot] !== id) return false
    this.#values[slot] = value
    return true
  }

  /**
   * The slot index of a live id, in `[0, capacity)`, or -1. Slots are dense and reused, so they can index
   * side arrays (per-socket counters in a typed array, say); check liveness with the id, not the slot.
   */
  slotOf(id: SocketId): number {
    const slot = id & this.#slotMask
    return id !== 0 && this.#ids[slot] === id ? slot : -1
  }

  /**
   * Free the socket named by `id`. Returns `false`, changing nothing, if `id` is not live (already released,
   * stale, or never issued), so a double release cannot free a newer socket.
   */
  release(id: SocketId): boolean {
    const slot = id & this.#slotMask
    if (id === 0 || this.#ids[slot] !== id) return false
    this.#ids[slot] = 0
    this.#values[slot] = undefined
    const position = this.#densePosition[slot]!
    const last = this.#dense[--this.#size]!
    this.#dense[position] = last
    this.#densePosition[last] = position
    this.#releases++
    if (this.onGenerationWrap === 'retire' && this.#generations[slot] === this.#maxGeneration) {
      this.stats.retiredSlots++
    } else {
      let tail = this.#freeHead + this.#freeCount
      if (tail >= this.capacity) tail -= this.capacity
      this.#freeQueue[tail] = slot
      this.#freeCount++
    }
    return true
  }

  /**
   * Call `callback` for every live socket, without allocating. The order is unspecified.
   *
   * The callback may `set` any socket, `allocate` (new sockets are not visited), and `release` the socket
   * it is visiting. Releasing any other socket during the walk throws `ERR_CONCURRENT_MODIFICATION`.
   */
  forEach(callback: (value: T, id: SocketId) => void): void {
    for (let position = this.#size - 1; position >= 0; position--) {
      const slot = this.#dense[position]!
      const id = this.#ids[slot]!
      const releases = this.#releases
      callback(this.#values[slot] as T, id)
      if (this.#releases !== releases) this.#checkWalk(releases, slot, id)
    }
  }

  /** The live ids; same rules as {@link forEach} for changes between steps. */
  *ids(): IterableIterator<SocketId> {
    for (const slot of this.#walk()) yield this.#ids[slot]!
  }

  /** The values of live sockets; same rules as {@link forEach}. */
  *values(): IterableIterator<T> {
    for (const slot of this.#walk()) yield this.#values[slot] as T
  }

  /** `[id, value]` of every live socket (one small array per entry); same rules as {@link forEach}. */
  *entries(): IterableIterator<[SocketId, T]> {
    for (const slot of this.#walk()) yield [this.#ids[slot]!, this.#values[slot] as T]
  }

  /** Same as {@link entries}. */
  [Symbol.iterator](): IterableIterator<[SocketId, T]> {
    return this.entries()
  }

  /**
   * Walk live slots from the end of the dense array down. Releasing the visited slot swaps an
   * already-visited one into its place, so nothing is skipped or repeated; allocations land past the walk.
   */
  *#walk(): Generator<number, void, undefined> {
    for (let position = this.#size - 1; position >= 0; position--) {
      const slot = this.#dense[position]!
      const id = this.#ids[slot]!
      const releases = this.#releases
      yield slot
      if (this.#releases !== releases) this.#checkWalk(releases, slot, id)
    }
  }

  #checkWalk(releasesBefore: number, slot: number, id: SocketId): void {
    // One release, and it was the visited socket: the walk is still exact.
    if (this.#releases === releasesBefore + 1 && this.#ids[slot] !== id) return
    throw new SidMapError(
      'ERR_CONCURRENT_MODIFICATION',
      'only the socket being visited may be released while iterating a SocketTable',
    )
  }
}
