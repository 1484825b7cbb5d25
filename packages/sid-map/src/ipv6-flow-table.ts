/**
 * The TCP flow table for IPv6: a 4-tuple of two 128-bit addresses and two ports mapped to a value, the
 * demultiplexing step of RFC 9293 §3.10.7 for segments over IPv6 (RFC 8200). The same design as the IPv4
 * {@link FlowTable} (open addressing, linear probing, backward-shift deletion without tombstones, the
 * entry's hash stored with a tag bit), with nine key words per slot: the local address (4 words), the
 * remote address (4 words), and the two ports in one word. Keeping IPv6 in its own table leaves the IPv4
 * table's three-word path as it was (decision 0070).
 *
 * Addresses are read in place from any byte array at an offset (a received frame's source and destination
 * fields, RFC 8200 §3), as four big-endian words: a lookup allocates nothing, builds no string and no
 * BigInt. The bucket hash is HalfSipHash-1-3 of the nine words under a random per-table key
 * (`@mtcp/primitives`' `halfSipHash13Words`), so remote peers cannot choose addresses that collide.
 * @module
 */
import type { SocketId } from './socket-table.js'
import { checkIntegerOption, checkNumberOption, checkPort, SidMapError } from './errors.js'
import type { FlowTableOptions, FlowTableProbeStats } from './flow-table.js'
import { halfSipHash13Words } from '@mtcp/primitives'
import { randomHalfSipHashKey } from '@mtcp/primitives'

/** Slots are at most 2^26: the key array (9 words per slot) then stays below 2^30 elements. */
const MAX_SLOTS = 1 << 26
/** Marks a slot as occupied in its stored hash; an empty slot stores 0. */
const TAG_BIT = 0x80000000 | 0
/** Key words per slot: local address (4), remote address (4), localPort << 16 | remotePort. */
const WORDS = 9

/** The 32-bit big-endian word at `bytes[at]`, as int32 (the way keys are stored). */
function wordAt(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!
}

/**
 * A map from TCP-over-IPv6 4-tuples to values, with O(1) average insert, lookup and delete and no
 * allocation on lookup. An address is 16 bytes in network order, given as a byte array and an offset into
 * it (0 by default): a 16-byte `Uint8Array` of its own, or a received frame with the offset of its source
 * or destination field. Ports are integers in [0, 65535].
 *
 * @example
 * ```ts
 * const flows = new Ipv6FlowTable<SocketId>()
 * flows.insert(local, 80, remote, 49152, id) // local, remote: 16-byte Uint8Arrays
 * flows.get(frame, 80, frame, 49152, dstOffset, srcOffset) // id, read from a received frame in place
 * flows.delete(local, 80, remote, 49152) // true
 * ```
 */
export class Ipv6FlowTable<T = SocketId> {
  /** Occupied fraction of the slots above which the table grows. */
  readonly maxLoadFactor: number
  readonly #key0: number
  readonly #key1: number
  #slots: number
  #mask: number
  #growAt: number
  /** Per slot: the entry's hash with {@link TAG_BIT} set, or 0 when empty. */
  #tags: Int32Array
  /** Per slot, {@link WORDS} words (see there). */
  #keys: Int32Array
  #values: Array<T | undefined>
  #size = 0
  #inserts = 0
  #deletes = 0
  /** The key being looked up, loaded once per call (a reused array: nothing is allocated per lookup). */
  readonly #probe = new Int32Array(WORDS)
  /** The addresses handed to a {@link forEach} callback, overwritten for each entry. */
  readonly #walkLocal = new Uint8Array(16)
  readonly #walkRemote = new Uint8Array(16)

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

  /** Slots in the table (a power of two). */
  get capacity(): number {
    return this.#slots
  }

  /**
   * Add a flow; the addresses are copied (the arrays may be reused afterwards). Throws `EADDRINUSE` if the
   * 4-tuple is already present (the value is left as it was), `ERR_INVALID_ARG` for an address range
   * outside its array or a port outside [0, 65535]. May grow the table (the one case that allocates).
   */
  insert(local: Uint8Array, localPort: number, remote: Uint8Array, remotePort: number, value: T, localOffset = 0, remoteOffset = 0): void {
    const tag = this.#load(local, localPort, remote, remotePort, localOffset, remoteOffset)
    let slot = this.#find(tag)
    if (slot >= 0) throw new SidMapError('EADDRINUSE', `flow [${hex(local, localOffset)}]:${localPort} <-> [${hex(remote, remoteOffset)}]:${remotePort} is already in the table`)
    if (this.#size >= this.#growAt) {
      this.#grow()
      slot = this.#find(tag)
    }
    slot = ~slot
    this.#tags[slot] = tag
    this.#keys.set(this.#probe, slot * WORDS)
    this.#values[slot] = value
    this.#size++
    this.#inserts++
  }

  /** The value of a flow, or `undefined` if the 4-tuple is not in the table. Allocates nothing. */
  get(local: Uint8Array, localPort: number, remote: Uint8Array, remotePort: number, localOffset = 0, remoteOffset = 0): T | undefined {
    const slot = this.#find(this.#load(local, localPort, remote, remotePort, localOffset, remoteOffset))
    return slot >= 0 ? this.#values[slot] : undefined
  }

  /** Whether the 4-tuple is in the table. */
  has(local: Uint8Array, localPort: number, remote: Uint8Array, remotePort: number, localOffset = 0, remoteOffset = 0): boolean {
    return this.#find(this.#load(local, localPort, remote, remotePort, localOffset, remoteOffset)) >= 0
  }

  /** Remove a flow; `false` if it was not there. Never leaves a tombstone. */
  delete(local: Uint8Array, localPort: number, remote: Uint8Array, remotePort: number, localOffset = 0, remoteOffset = 0): boolean {
    const slot = this.#find(this.#load(local, localPort, remote, remotePort, localOffset, remoteOffset))
    if (slot < 0) return false
    this.#removeAt(slot)
    return true
  }

  /**
   * Call `callback` for every flow, in unspecified order. The two address arrays it receives are reused
   * for every entry: copy them to keep them. The callback may delete the flow it is visiting; any other
   * insert or delete during the walk throws `ERR_CONCURRENT_MODIFICATION`.
   */
  forEach(callback: (value: T, local: Uint8Array, localPort: number, remote: Uint8Array, remotePort: number) => void): void {
    if (this.#size === 0) return
    // As FlowTable.forEach: start after an empty slot, step back when the visited entry was deleted.
    let slot = 0
    while (this.#tags[slot] !== 0) slot++
    const local = this.#walkLocal
    const remote = this.#walkRemote
    for (let remaining = this.#slots; remaining > 0; remaining--) {
      slot = (slot + 1) & this.#mask
      const tag = this.#tags[slot]!
      if (tag === 0) continue
      const base = slot * WORDS
      const keys = this.#keys
      const ports = keys[base + 8]!
      for (let w = 0; w < 4; w++) {
        writeWord(local, w * 4, keys[base + w]!)
        writeWord(remote, w * 4, keys[base + 4 + w]!)
      }
      const inserts = this.#inserts
      const deletes = this.#deletes
      callback(this.#values[slot] as T, local, ports >>> 16, remote, ports & 0xffff)
      if (this.#inserts === inserts && this.#deletes === deletes) continue
      if (this.#inserts === inserts && this.#deletes === deletes + 1) {
        // Reload the visited key (the callback may have looked something up) and see whether it is gone.
        for (let w = 0; w < 4; w++) {
          this.#probe[w] = wordAt(local, w * 4)
          this.#probe[4 + w] = wordAt(remote, w * 4)
        }
        this.#probe[8] = ports
        if (this.#find(tag) < 0) {
          slot = (slot - 1) & this.#mask
          remaining++
          continue
        }
      }
      throw new SidMapError('ERR_CONCURRENT_MODIFICATION', 'only the flow being visited may be deleted while iterating an Ipv6FlowTable, and nothing inserted')
    }
  }

  /** Scan every slot and report probe lengths: O(capacity), for diagnostics and tests. */
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
    return { size: this.#size, capacity: this.#slots, occupiedSlots, maxProbeLength, meanProbeLength: occupiedSlots === 0 ? 0 : totalProbeLength / occupiedSlots }
  }

  /** Check the tuple, read its nine words into {@link #probe} and return its tagged hash. */
  #load(local: Uint8Array, localPort: number, remote: Uint8Array, remotePort: number, localOffset: number, remoteOffset: number): number {
    checkAddress('local', local, localOffset)
    checkAddress('remote', remote, remoteOffset)
    checkPort('localPort', localPort)
    checkPort('remotePort', remotePort)
    const probe = this.#probe
    for (let w = 0; w < 4; w++) {
      probe[w] = wordAt(local, localOffset + w * 4)
      probe[4 + w] = wordAt(remote, remoteOffset + w * 4)
    }
    probe[8] = (localPort << 16) | remotePort
    return halfSipHash13Words(this.#key0, this.#key1, probe, WORDS) | TAG_BIT
  }

  /** The slot holding the key in {@link #probe}, or `~slot` of the empty slot that ends its probe sequence. */
  #find(tag: number): number {
    const tags = this.#tags
    const keys = this.#keys
    const probe = this.#probe
    const mask = this.#mask
    let slot = tag & mask
    for (;;) {
      const stored = tags[slot]!
      if (stored === 0) return ~slot
      if (stored === tag) {
        const base = slot * WORDS
        if (
          keys[base + 8] === probe[8] &&
          keys[base] === probe[0] &&
          keys[base + 1] === probe[1] &&
          keys[base + 2] === probe[2] &&
          keys[base + 3] === probe[3] &&
          keys[base + 4] === probe[4] &&
          keys[base + 5] === probe[5] &&
          keys[base + 6] === probe[6] &&
          keys[base + 7] === probe[7]
        ) {
          return slot
        }
      }
      slot = (slot + 1) & mask
    }
  }

  /** Backward-shift deletion (Knuth, TAOCP vol. 3, §6.4, Algorithm R), as FlowTable's. */
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
      const home = tag & mask
      if (((next - home) & mask) >= ((next - hole) & mask)) {
        tags[hole] = tag
        keys.copyWithin(hole * WORDS, next * WORDS, next * WORDS + WORDS)
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
    if (this.#slots >= MAX_SLOTS) throw new SidMapError('ERR_CAPACITY', `the IPv6 flow table cannot grow past ${MAX_SLOTS} slots (${this.#size} flows)`)
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
      keys.set(oldKeys.subarray(old * WORDS, old * WORDS + WORDS), slot * WORDS)
      values[slot] = oldValues[old]
    }
    this.#slots = slots
    this.#mask = mask
    this.#growAt = this.#growthThreshold(slots)
    this.#tags = tags
    this.#keys = keys
    this.#values = values
  }

  #growthThreshold(slots: number): number {
    return Math.min(Math.floor(slots * this.maxLoadFactor), slots - 1)
  }
}

function writeWord(bytes: Uint8Array, at: number, word: number): void {
  bytes[at] = word >>> 24
  bytes[at + 1] = (word >>> 16) & 0xff
  bytes[at + 2] = (word >>> 8) & 0xff
  bytes[at + 3] = word & 0xff
}

/** `ERR_INVALID_ARG` unless `bytes[offset, offset + 16)` is inside a Uint8Array. */
function checkAddress(argument: string, bytes: Uint8Array, offset: number): void {
  if (!(bytes instanceof Uint8Array) || !Number.isInteger(offset) || offset < 0 || offset + 16 > bytes.byteLength) {
    throw new SidMapError('ERR_INVALID_ARG', `${argument} must be a Uint8Array holding an IPv6 address (16 bytes) at offset ${String(offset)}`)
  }
}

/** The address as eight hexadecimal groups, for messages (the RFC 5952 text form is tcp-core's). */
function hex(bytes: Uint8Array, offset: number): string {
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[offset + i]! << 8) | bytes[offset + i + 1]!).toString(16))
  return groups.join(':')
}
