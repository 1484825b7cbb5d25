/**
 * The TCP flow table: a 4-tuple (local address, local port, remote address, remote port) mapped to a value,
 * usually a {@link SocketId}. This is the demultiplexing step of RFC 9293 §3.10.7: an arriving segment
 * belongs to the connection named by its 4-tuple.
 *
 * An open-addressing hash table over typed arrays: linear probing, a power-of-two number of slots, and
 * backward-shift deletion (Knuth, TAOCP vol. 3, §6.4, Algorithm R), so there are no tombstones: after any
 * sequence of inserts and deletes, exactly `size` slots are occupied and probe sequences are as short as if
 * the remaining entries had been inserted into an empty table. Each slot stores its entry's hash with the
 * top bit set (0 marks an empty slot), so most mismatches are rejected on one integer compare and growth
 * never rehashes. Lookups allocate nothing and never build string keys.
 *
 * The hash is HalfSipHash-1-3 under a random per-table key (`halfSipHash13` of `@mtcp/primitives`), so remote peers cannot
 * choose tuples that collide.
 * @module
 */
import type { SocketId } from './socket-table.js'
import { checkIntegerOption, checkIpv4, checkNumberOption, checkPort, formatIpv4, SidMapError } from './errors.js'
import { halfSipHash13, randomHalfSipHashKey } from '@mtcp/primitives'

/** Sizing and hashing of a {@link FlowTable}. */
export interface FlowTableOptions {
  /** Entries to make room for before the first growth, in [0, 67108864]. Default 1024. */
  initialCapacity?: number
  /**
   * Occupied fraction of the slots above which the table doubles, in [0.25, 0.9]. Default 0.5: with linear
   * probing a hit then costs about 1.5 probes and a miss about 2.5.
   */
  maxLoadFactor?: number
  /**
   * The 64-bit hash key as two uint32 words. Default: random from `crypto.getRandomValues`, which is what
   * you want; give a fixed key only for reproducible tests.
   */
  hashKey?: readonly [number, number]
}

/** A snapshot of how well a {@link FlowTable} is hashing, from {@link FlowTable.probeStats}. */
export interface FlowTableProbeStats {
  /** Entries in the table. */
  size: number
  /** Slots in the table (a power of two). */
  capacity: number
  /** Slots found occupied by a full scan; always equal to `size` (there are no tombstones). */
  occupiedSlots: number
  /** Most slots any present entry's lookup examines (1 when every entry is in its home slot; 0 when empty). */
  maxProbeLength: number
  /** Mean slots examined to find a present entry (0 when empty). */
  meanProbeLength: number
}

/** Slots are at most 2^28: slot indices then fit below the tag bit and the key array below 2^30 elements. */
const MAX_SLOTS = 1 << 28
/** Marks a slot as occupied in its stored hash; an empty slot stores 0. */
const TAG_BIT = 0x80000000 | 0
/** Key words per slot: local address, remote address, ports. */
const WORDS = 3

/**
 * A map from TCP 4-tuples to values, with O(1) average insert, lookup and delete and no allocation on
 * lookup. Addresses are IPv4 addresses as uint32 (10.0.0.1 is `0x0a000001`); ports are integers in [0, 65535].
 *
 * @example
 * ```ts
 * const flows = new FlowTable<SocketId>()
 * flows.insert(0x0a000001, 80, 0x0a000002, 49152, id)
 * flows.get(0x0a000001, 80, 0x0a000002, 49152) // id
 * flows.delete(0x0a000001, 80, 0x0a000002, 49152) // true
 * ```
 */
export class FlowTable<T = SocketId> {
  /** Occupied fraction of the slots above which the table grows. */
  readonly maxLoadFactor: number
  readonly #key0: number
  readonly #key1: number
  #slots: number
  #mask: number
  /** Largest size allowed before the table must double. */
  #growAt: number
  /** Per slot: the entry's hash with {@link TAG_BIT} set, or 0 when empty. */
  #tags: Int32Array
  /** Per slot, {@link WORDS} words: local address, remote address, localPort << 16 | remotePort (as int32). */
  #keys: Int32Array
  #values: Array<T | undefined>
  #size = 0
  /** Count inserts and deletes, so a walk can tell what its callback changed. */
  #inserts = 0
  #deletes = 0

  constructor(options: FlowTableOptions = {}) {
    const initialCapacity = checkIntegerOption('initialCapacity', options.initialCapacity ?? 1024, 0, MAX_SLOTS / 4)
    this.maxLoadFactor = checkNumberOption('maxLoadFactor', options.maxLoadFactor ?? 0.5, 0.25, 0.9)
    const key = options.hashKey ?? randomHalfSipHashKey()
    if (!Array.isArray(key) || key.length !== 2) {
      throw new SidMapError('ERR_INVALID_CONFIG', 'hashKey must be two uint32 words [key0, key1]')
    }
    for (const [index, word] of key.entries()) {
      if (word >>> 0 !== word) {
        throw new SidMapError('ERR_INVALID_CONFIG', `hashKey[${index}] must be an integer in [0, 4294967295], got ${String(word)}`)
      }
    }
    this.#key0 = key[0]
    this.#key1 = key[1]
    let slots = 8
    while (this.#growthThreshold(slots) < initialCapacity) slots *= 2
    this.#slots = slots
    this.#mask = slots - 1
    this.#growAt = this.#growthThreshold(slots)
    this.#tags = new Int32Array(slots)
    this.#keys = new Int32Array(slots * WORDS)
    this.#values = new Array<T | undefined>(slots).fill(undefined)
  }

  /** Entries in the table. */
  get size(): number {
    return this.#size
  }

  /** Slots in the table (a power of two); the table doubles when `size` would exceed `capacity × maxLoadFactor`. */
  get capacity(): number {
    return this.#slots
  }

  /**
   * Add a flow. Throws `EADDRINUSE` if the 4-tuple is already present (the value is left as it was), and
   * `ERR_INVALID_ARG` for an address that is not a uint32 or a port outside [0, 65535]. May grow the
   * table (the one case that allocates); size it with `initialCapacity` to avoid that.
   */
  insert(localIp: number, localPort: number, remoteIp: number, remotePort: number, value: T): void {
    checkTuple(localIp, localPort, remoteIp, remotePort)
    const ports = (localPort << 16) | remotePort
    const tag = halfSipHash13(this.#key0, this.#key1, localIp, remoteIp, ports) | TAG_BIT
    let slot = this.#find(localIp | 0, remoteIp | 0, ports, tag)
    if (slot >= 0) {
      throw new SidMapError(
        'EADDRINUSE',
        `flow ${formatIpv4(localIp)}:${localPort} <-> ${formatIpv4(remoteIp)}:${remotePort} is already in the table`,
      )
    }
    if (this.#size >= this.#growAt) {
      this.#grow()
      slot = this.#find(localIp | 0, remoteIp | 0, ports, tag)
    }
    slot = ~slot
    const base = slot * WORDS
    this.#tags[slot] = tag
    this.#keys[base] = localIp
    this.#keys[base + 1] = remoteIp
    this.#keys[base + 2] = ports
    this.#values[slot] = value
    this.#size++
    this.#inserts++
  }

  /** The value of a flow, or `undefined` if the 4-tuple is not in the table. Allocates nothing. */
  get(localIp: number, localPort: number, remoteIp: number, remotePort: number): T | undefined {
    checkTuple(localIp, localPort, remoteIp, remotePort)
    const ports = (localPort << 16) | remotePort
    const tag = halfSipHash13(this.#key0, this.#key1, localIp, remoteIp, ports) | TAG_BIT
    const slot = this.#find(localIp | 0, remoteIp | 0, ports, tag)
    return slot >= 0 ? this.#values[slot] : undefined
  }

  /** Whether the 4-tuple is in the table. */
  has(localIp: number, localPort: number, remoteIp: number, remotePort: number): boolean {
    checkTuple(localIp, localPort, remoteIp, remotePort)
    const ports = (localPort << 16) | remotePort
    const tag = halfSipHash13(this.#key0, this.#key1, localIp, remoteIp, ports) | TAG_BIT
    return this.#find(localIp | 0, remoteIp | 0, ports, tag) >= 0
  }

  /** Remove a flow; `false` if it was not there. Never leaves a tombstone. */
  delete(localIp: number, localPort: number, remoteIp: number, remotePort: number): boolean {
    checkTuple(localIp, localPort, remoteIp, remotePort)
    const ports = (localPort << 16) | remotePort
    const tag = halfSipHash13(this.#key0, this.#key1, localIp, remoteIp, ports) | TAG_BIT
    const slot = this.#find(localIp | 0, remoteIp | 0, ports, tag)
    if (slot < 0) return false
    this.#removeAt(slot)
    return true
  }

  /**
   * Call `callback` for every flow, in unspecified order, without allocating per entry.
   *
   * The callback may delete the flow it is visiting; any other insert or delete during the walk throws
   * `ERR_CONCURRENT_MODIFICATION` (collect the tuples first, then change the table).
   */
  forEach(
    callback: (value: T, localIp: number, localPort: number, remoteIp: number, remotePort: number) => void,
  ): void {
    if (this.#size === 0) return
    // Start just after an empty slot (one exists: the load factor is below 1), so no cluster of entries
    // wraps around the walk's start. Backward shifts only move entries earlier within their cluster, from
    // slots not yet visited, so deleting the visited entry never makes the walk skip or repeat one.
    let slot = 0
    while (this.#tags[slot] !== 0) slot++
    for (let remaining = this.#slots; remaining > 0; remaining--) {
      slot = (slot + 1) & this.#mask
      const tag = this.#tags[slot]!
      if (tag === 0) continue
      const base = slot * WORDS
      const localIp = this.#keys[base]!
      const remoteIp = this.#keys[base + 1]!
      const ports = this.#keys[base + 2]!
      const inserts = this.#inserts
      const deletes = this.#deletes
      callback(this.#values[slot] as T, localIp >>> 0, ports >>> 16, remoteIp >>> 0, ports & 0xffff)
      if (this.#inserts === inserts && this.#deletes === deletes) continue
      if (this.#inserts === inserts && this.#deletes === deletes + 1 && this.#find(localIp, remoteIp, ports, tag) < 0) {
        // The visited entry was deleted: whatever shifted into its slot has not been visited yet.
        slot = (slot - 1) & this.#mask
        remaining++
        continue
      }
      throw new SidMapError(
        'ERR_CONCURRENT_MODIFICATION',
        'only the flow being visited may be deleted while iterating a FlowTable, and nothing inserted',
      )
    }
  }

  /** Scan every slot and report probe lengths: O(capacity), for diagnostics and tests, not the fast path. */
  probeStats(): FlowTableProbeStats {
    let occupiedSlots = 0
    let maxProbeLength = 0
    let totalProbeLength = 0
    for (let slot = 0; slot < this.#slots; slot++) {
      const tag = this.#tags[slot]!
      if (tag === 0) continue
      const probeLength = ((slot - (tag & this.#mask)) & this.#mask) + 1
      occupiedSlots++
      totalProbeLength += probeLength
      if (probeLength > maxProbeLength) maxProbeLength = probeLength
    }
    return {
      size: this.#size,
      capacity: this.#slots,
      occupiedSlots,
      maxProbeLength,
      meanProbeLength: occupiedSlots === 0 ? 0 : totalProbeLength / occupiedSlots,
    }
  }

  /**
   * The slot holding the key, or `~slot` (negative) of the empty slot that ends its probe sequence.
   * Key words are passed as int32, the way they are stored.
   */
  #find(localIp: number, remoteIp: number, ports: number, tag: number): number {
    const tags = this.#tags
    const keys = this.#keys
    const mask = this.#mask
    let slot = tag & mask
    for (;;) {
      const stored = tags[slot]!
      if (stored === 0) return ~slot
      if (stored === tag) {
        const base = slot * WORDS
        if (keys[base] === localIp && keys[base + 1] === remoteIp && keys[base + 2] === ports) return slot
      }
      slot = (slot + 1) & mask
    }
  }

  /** Backward-shift deletion: pull later entries of the cluster into the hole while that shortens their probe. */
  #removeAt(slot: number): void {
    const tags = this.#tags
    const keys = this.#keys
    const values = this.#values
    const mask = this.#mask
    let hole = slot
    let next = slot
    for (;;) {
      next = (next + 1) & mask
      const tag = tags[next]!
      if (tag === 0) break
      // The entry at `next` may fill the hole if the hole lies on its probe path, [home, next).
      const home = tag & mask
      if (((next - home) & mask) >= ((next - hole) & mask)) {
        tags[hole] = tag
        keys[hole * WORDS] = keys[next * WORDS]!
        keys[hole * WORDS + 1] = keys[next * WORDS + 1]!
        keys[hole * WORDS + 2] = keys[next * WORDS + 2]!
        values[hole] = values[next]
        hole = next
      }
    }
    tags[hole] = 0
    values[hole] = undefined
    this.#size--
    this.#deletes++
  }

  /** Double the slots and reinsert every entry by its stored hash (no rehashing). */
  #grow(): void {
    if (this.#slots >= MAX_SLOTS) {
      throw new SidMapError('ERR_CAPACITY', `the flow table cannot grow past ${MAX_SLOTS} slots (${this.#size} flows)`)
    }
    const oldTags = this.#tags
    const oldKeys = this.#keys
    const oldValues = this.#values
    const oldSlots = this.#slots
    const slots = oldSlots * 2
    const mask = slots - 1
    const tags = new Int32Array(slots)
    const keys = new Int32Array(slots * WORDS)
    const values = new Array<T | undefined>(slots).fill(undefined)
    for (let old = 0; old < oldSlots; old++) {
      const tag = oldTags[old]!
      if (tag === 0) continue
      let slot = tag & mask
      while (tags[slot] !== 0) slot = (slot + 1) & mask
      tags[slot] = tag
      keys[slot * WORDS] = oldKeys[old * WORDS]!
      keys[slot * WORDS + 1] = oldKeys[old * WORDS + 1]!
      keys[slot * WORDS + 2] = oldKeys[old * WORDS + 2]!
      values[slot] = oldValues[old]
    }
    this.#slots = slots
    this.#mask = mask
    this.#growAt = this.#growthThreshold(slots)
    this.#tags = tags
    this.#keys = keys
    this.#values = values
  }

  /** Largest size for `slots` slots at the load factor, always leaving at least one slot empty. */
  #growthThreshold(slots: number): number {
    return Math.min(Math.floor(slots * this.maxLoadFactor), slots - 1)
  }
}

/** Validate a 4-tuple; throws `ERR_INVALID_ARG` naming the bad argument. */
function checkTuple(localIp: number, localPort: number, remoteIp: number, remotePort: number): void {
  checkIpv4('localIp', localIp)
  checkPort('localPort', localPort)
  checkIpv4('remoteIp', remoteIp)
  checkPort('remotePort', remotePort)
}
