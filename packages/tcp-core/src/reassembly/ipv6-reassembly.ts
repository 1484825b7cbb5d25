/**
 * IPv6 fragment reassembly (RFC 8200 §4.5), sans-I/O: the driver hands it each datagram whose header walk
 * ended at a Fragment header, passes `now` (µs), and calls {@link Ipv6Reassembler.poll} at
 * {@link Ipv6Reassembler.pollAt} to expire datagrams. It sends nothing: results say what to deliver, and which
 * ICMPv6 error to send (parameter problem, time exceeded) with the fragment to quote.
 *
 * - RFC 8200 §4.5: fragments belong together when source, destination and Identification match; the
 *   unfragmentable part comes from the first fragment (offset 0) with the Next Header of the header before the
 *   Fragment header replaced by the Fragment header's own; a fragment with M set whose length is not a multiple
 *   of 8 is answered with a parameter problem, code 0, pointing at the Payload Length; one that would make the
 *   reassembled payload exceed 65535 bytes, at the Fragment Offset; reassembly is abandoned after 60 s, and a
 *   time exceeded (code 1) is owed when the first fragment had arrived. Exact duplicates are dropped alone.
 * - RFC 5722 §4: any other overlap discards the whole datagram, and the fragments of it still to come
 *   (they are dropped until the datagram's timeout), with no ICMPv6 error.
 * - RFC 6946 §4: an atomic fragment (offset 0, M 0) is processed in isolation: returned at once, never mixed
 *   with a reassembly queue of the same Identification.
 * - RFC 7112 §5: a first fragment that does not hold the whole header chain up to the upper-layer header is
 *   answered with a parameter problem, code 3.
 *
 * Memory is bounded: bytes held in all (fragment data, unfragmentable parts, the copy of each first fragment
 * kept for the time exceeded message), bytes held per source address, and datagrams in progress. A new
 * fragment that would pass the total bound evicts the oldest datagrams (as Linux does past
 * `ip6frag_high_thresh`); one that would pass its source's bound is dropped instead, so one source cannot
 * evict the others'. Every drop is counted in {@link Ipv6ReassemblyStats}.
 *
 * This is not the per-segment path: each fragment's data is copied once into the reassembler, and once more
 * into the reassembled datagram.
 * @module
 */
import type { Micros } from '@mtcp/primitives'
import { readUint16 } from '../wire/bytes.js'
import { IPV6_HEADER_LENGTH, Icmpv6ParameterProblemCode, type Ipv6HeaderChain, Ipv6NextHeader } from '../wire/ipv6.js'
import { ipv6AddressEquals, ipv6AddressHash } from '../wire/ipv6-address.js'

/** Tuning of an {@link Ipv6Reassembler}. */
export interface Ipv6ReassemblyOptions {
  /** How long a datagram may take to reassemble, from its first fragment. Default 60 s (RFC 8200 §4.5); in [1, 3600000000] µs. */
  timeout?: Micros | undefined
  /** Bytes held in all. Default 4 MiB (Linux's `ip6frag_high_thresh`); integer in [65536, 2^31]. */
  maxBytes?: number | undefined
  /** Bytes held for one source address. Default 1 MiB; integer in [65536, 2^31]. */
  maxBytesPerSource?: number | undefined
  /** Datagrams in progress (tombstones of abandoned ones included). Default 1024; integer in [1, 1048576]. */
  maxDatagrams?: number | undefined
}

/** {@link Ipv6ReassemblyOptions} with every default applied. */
export type ResolvedIpv6ReassemblyOptions = { readonly [K in keyof Ipv6ReassemblyOptions]-?: number }

/** Default {@link Ipv6ReassemblyOptions}. */
export const IPV6_REASSEMBLY_DEFAULTS: ResolvedIpv6ReassemblyOptions = Object.freeze({
  timeout: 60_000_000,
  maxBytes: 4 * 1024 * 1024,
  maxBytesPerSource: 1024 * 1024,
  maxDatagrams: 1024,
})

/** Counters of an {@link Ipv6Reassembler}. Plain numbers, updated in place. */
export interface Ipv6ReassemblyStats {
  /** Fragments accepted into a datagram in progress. */
  fragments: number
  /** Datagrams reassembled and returned. */
  reassembled: number
  /** Atomic fragments returned at once (RFC 6946). */
  atomic: number
  /** Datagrams abandoned because two fragments overlapped (RFC 5722). */
  overlaps: number
  /** Fragments dropped because their datagram had been abandoned for an overlap. */
  afterOverlap: number
  /** Exact duplicate fragments dropped (RFC 8200 §4.5). */
  duplicates: number
  /** Fragments answered with a parameter problem (length not a multiple of 8, payload over 65535, incomplete header chain). */
  parameterProblems: number
  /** Fragments inconsistent with their datagram (a second last fragment, data past the end) or empty: the datagram is abandoned. */
  malformed: number
  /** Datagrams abandoned at their timeout. */
  timeouts: number
  /** Datagrams evicted to make room under `maxBytes` or `maxDatagrams`. */
  evictions: number
  /** Fragments dropped because their source held `maxBytesPerSource`. */
  sourceLimitDrops: number
}

/** Why {@link Ipv6Reassembler.onFragment} dropped a fragment. */
export type Ipv6ReassemblyDropReason = 'overlap' | 'afterOverlap' | 'duplicate' | 'malformed' | 'sourceLimit' | 'tooLarge' | 'notFragment'

/** What {@link Ipv6Reassembler.onFragment} decided. */
export type Ipv6ReassemblyResult =
  /** The datagram is whole: an IPv6 datagram without the Fragment header, in a new array; walk its headers again. */
  | { readonly status: 'complete'; readonly datagram: Uint8Array }
  /** Kept, waiting for the other fragments. */
  | { readonly status: 'pending' }
  /** Dropped silently (counted). */
  | { readonly status: 'dropped'; readonly reason: Ipv6ReassemblyDropReason }
  /** Dropped; send an ICMPv6 parameter problem with this code and pointer about the fragment (RFC 8200 §4.5, RFC 7112 §5). */
  | { readonly status: 'parameterProblem'; readonly code: number; readonly pointer: number }

const PENDING: Ipv6ReassemblyResult = Object.freeze({ status: 'pending' })
const DROPPED: Readonly<Record<Ipv6ReassemblyDropReason, Ipv6ReassemblyResult>> = Object.freeze({
  overlap: Object.freeze({ status: 'dropped', reason: 'overlap' }),
  afterOverlap: Object.freeze({ status: 'dropped', reason: 'afterOverlap' }),
  duplicate: Object.freeze({ status: 'dropped', reason: 'duplicate' }),
  malformed: Object.freeze({ status: 'dropped', reason: 'malformed' }),
  sourceLimit: Object.freeze({ status: 'dropped', reason: 'sourceLimit' }),
  tooLarge: Object.freeze({ status: 'dropped', reason: 'tooLarge' }),
  notFragment: Object.freeze({ status: 'dropped', reason: 'notFragment' }),
})

/** One fragment's data, at `offset` in the fragmentable part. */
interface Piece {
  offset: number
  data: Uint8Array
}

/** A datagram in progress (or a tombstone after an overlap). */
class Pending {
  pieces: Piece[] = []
  received = 0
  /** The fragmentable part's length, known once the last fragment (M = 0) arrived; -1 before. */
  total = -1
  /** The unfragmentable part, copied from the first fragment, Next Header already fixed up; undefined before. */
  unfragmentable: Uint8Array | undefined = undefined
  /** The first fragment as received, kept to quote in a time exceeded message. */
  firstFragment: Uint8Array | undefined = undefined
  bytes = 0
  abandoned = false
  older: Pending | undefined = undefined
  newer: Pending | undefined = undefined
  constructor(
    readonly key: number,
    readonly src: Uint8Array,
    readonly dst: Uint8Array,
    readonly identification: number,
    readonly sourceKey: number,
    readonly deadline: Micros,
  ) {}
}

/**
 * Reassembles IPv6 datagrams from their fragments (RFC 8200 §4.5) within memory bounds. `now` must never
 * decrease from one call to the next.
 *
 * @example
 * ```ts
 * const chain = new Ipv6HeaderChain()
 * if (walkIpv6Headers(datagram, 0, chain) === Ipv6ChainStatus.FRAGMENT) {
 *   const result = reassembler.onFragment(now, datagram, chain)
 *   if (result.status === 'complete') deliver(result.datagram)            // walk its headers again
 *   else if (result.status === 'parameterProblem') sendParameterProblem(datagram, result.code, result.pointer)
 * }
 * if ((reassembler.pollAt() ?? Infinity) <= now) reassembler.poll(now, (first) => sendTimeExceeded(first))
 * ```
 */
export class Ipv6Reassembler {
  /** The options in force, defaults applied. */
  readonly options: ResolvedIpv6ReassemblyOptions
  /** Counters. */
  readonly stats: Ipv6ReassemblyStats = {
    fragments: 0,
    reassembled: 0,
    atomic: 0,
    overlaps: 0,
    afterOverlap: 0,
    duplicates: 0,
    parameterProblems: 0,
    malformed: 0,
    timeouts: 0,
    evictions: 0,
    sourceLimitDrops: 0,
  }

  readonly #buckets = new Map<number, Pending[]>()
  readonly #bytesBySource = new Map<number, number>()
  #oldest: Pending | undefined = undefined
  #newest: Pending | undefined = undefined
  #count = 0
  #bytes = 0
  /** A random hash seed, so that remote sources cannot aim datagrams at one bucket. */
  readonly #seed = (Math.random() * 0x1_0000_0000) >>> 0

  /** @throws RangeError naming the setting and its accepted range when an option is out of range. */
  constructor(options: Ipv6ReassemblyOptions = {}) {
    const d = IPV6_REASSEMBLY_DEFAULTS
    this.options = Object.freeze({
      timeout: checkOption('timeout', options.timeout ?? d.timeout, 1, 3_600_000_000),
      maxBytes: checkOption('maxBytes', options.maxBytes ?? d.maxBytes, 65_536, 2 ** 31),
      maxBytesPerSource: checkOption('maxBytesPerSource', options.maxBytesPerSource ?? d.maxBytesPerSource, 65_536, 2 ** 31),
      maxDatagrams: checkOption('maxDatagrams', options.maxDatagrams ?? d.maxDatagrams, 1, 1_048_576),
    })
  }

  /** Datagrams in progress, tombstones included. */
  get size(): number {
    return this.#count
  }

  /** Bytes held. */
  get bytesHeld(): number {
    return this.#bytes
  }

  /**
   * Take one fragment: `datagram` is the whole IPv6 packet from its fixed header (exactly 40 + payload length
   * bytes, or more with link padding) and `chain` its header walk, which ended with status FRAGMENT (an atomic
   * fragment's walk ends at the upper layer; pass it too and it comes back whole at once). The datagram's bytes
   * are copied: the caller may reuse its buffer.
   */
  onFragment(now: Micros, datagram: Uint8Array, chain: Ipv6HeaderChain): Ipv6ReassemblyResult {
    const fragmentHeader = chain.fragmentHeaderOffset
    if (fragmentHeader < 0) return DROPPED.notFragment
    const end = IPV6_HEADER_LENGTH + readUint16(datagram, 4)
    const dataStart = fragmentHeader + 8
    if (end > datagram.byteLength || dataStart > end) return this.#malformed()
    const length = end - dataStart
    const offset = chain.fragmentOffset
    const more = chain.moreFragments
    if (offset === 0 && !more) {
      // RFC 6946 §4: an atomic fragment is processed in isolation.
      this.stats.atomic++
      return { status: 'complete', datagram: assemble(datagram.subarray(0, fragmentHeader), chain.fragmentNextHeaderPointer, datagram[fragmentHeader]!, [{ offset: 0, data: datagram.subarray(dataStart, end) }], length) }
    }
    // RFC 8200 §4.5: with M set, the length must be a multiple of 8 (pointer: Payload Length, offset 4).
    if (more && (length & 7) !== 0) return this.#parameterProblem(Icmpv6ParameterProblemCode.ERRONEOUS_HEADER_FIELD, 4)
    // RFC 8200 §4.5: the reassembled payload may not exceed 65535 bytes (pointer: the Fragment Offset field).
    if (fragmentHeader - IPV6_HEADER_LENGTH + offset + length > 0xffff) return this.#parameterProblem(Icmpv6ParameterProblemCode.ERRONEOUS_HEADER_FIELD, fragmentHeader + 2)
    if (length === 0) return this.#malformed()
    // RFC 7112 §5: the first fragment holds every header up to the upper-layer one.
    if (offset === 0 && !headerChainComplete(datagram, datagram[fragmentHeader]!, dataStart, end)) {
      return this.#parameterProblem(Icmpv6ParameterProblemCode.INCOMPLETE_HEADER_CHAIN, 0)
    }

    const key = (ipv6AddressHash(datagram, 8, this.#seed) ^ Math.imul(ipv6AddressHash(datagram, 24, this.#seed), 31) ^ Math.imul(chain.fragmentIdentification, 0x9e3779b1)) >>> 0
    let entry = this.#find(key, datagram, chain.fragmentIdentification)
    if (entry?.abandoned) {
      this.stats.afterOverlap++
      return DROPPED.afterOverlap // RFC 5722 §4: the fragments still to come are discarded too
    }
    // The first fragment also costs its unfragmentable part and the copy kept for a time exceeded message.
    const cost = length + (offset === 0 ? fragmentHeader + end : 0)
    if (cost > this.options.maxBytes) return DROPPED.tooLarge
    const sourceKey = ipv6AddressHash(datagram, 8, this.#seed)
    if ((this.#bytesBySource.get(sourceKey) ?? 0) + cost > this.options.maxBytesPerSource) {
      this.stats.sourceLimitDrops++
      return DROPPED.sourceLimit
    }
    if (entry === undefined) {
      while (this.#count >= this.options.maxDatagrams) this.#evictOldest()
      entry = new Pending(key, datagram.slice(8, 24), datagram.slice(24, 40), chain.fragmentIdentification, sourceKey, now + this.options.timeout)
      this.#insert(entry)
    }

    const fragmentEnd = offset + length
    if (!more) {
      // The last fragment fixes the length: a second, different one, or data already past it, is inconsistent.
      if ((entry.total !== -1 && entry.total !== fragmentEnd) || entry.pieces.some((p) => p.offset + p.data.byteLength > fragmentEnd)) return this.#abandon(entry, 'malformed')
    } else if (entry.total !== -1 && fragmentEnd > entry.total) {
      return this.#abandon(entry, 'malformed')
    }
    // Keep the pieces sorted by offset; find where this one goes and whether it overlaps a neighbour.
    const pieces = entry.pieces
    let i = pieces.length
    while (i > 0 && pieces[i - 1]!.offset > offset) i--
    const before = pieces[i - 1]
    if (before !== undefined && before.offset === offset && before.data.byteLength === length) {
      if (bytesEqual(before.data, datagram, dataStart)) {
        this.stats.duplicates++
        return DROPPED.duplicate // RFC 8200 §4.5: an exact duplicate may be dropped alone
      }
      return this.#abandon(entry, 'overlap')
    }
    const after = pieces[i]
    // RFC 5722 §4: any overlap abandons the datagram.
    if ((before !== undefined && before.offset + before.data.byteLength > offset) || (after !== undefined && fragmentEnd > after.offset)) return this.#abandon(entry, 'overlap')

    while (this.#bytes + cost > this.options.maxBytes && this.#oldest !== undefined && this.#oldest !== entry) this.#evictOldest()
    if (this.#bytes + cost > this.options.maxBytes) return DROPPED.tooLarge
    pieces.splice(i, 0, { offset, data: datagram.slice(dataStart, end) })
    if (!more) entry.total = fragmentEnd
    if (offset === 0) {
      const unfragmentable = datagram.slice(0, fragmentHeader)
      entry.unfragmentable = unfragmentable
      entry.firstFragment = datagram.slice(0, end)
      // RFC 8200 §4.5: the Next Header of the last unfragmentable header becomes the Fragment header's.
      unfragmentable[chain.fragmentNextHeaderPointer] = datagram[fragmentHeader]!
    }
    entry.received += length
    this.#charge(entry, cost)
    this.stats.fragments++
    if (entry.total === -1 || entry.received !== entry.total || entry.unfragmentable === undefined) return PENDING

    const whole = assemble(entry.unfragmentable, -1, 0, entry.pieces, entry.total)
    this.#remove(entry)
    this.stats.reassembled++
    return { status: 'complete', datagram: whole }
  }

  /** When {@link Ipv6Reassembler.poll} has work: the oldest datagram's timeout; undefined when none is held. */
  pollAt(): Micros | undefined {
    return this.#oldest?.deadline
  }

  /**
   * Abandon the datagrams whose timeout has passed (RFC 8200 §4.5). For each one whose first fragment had
   * arrived, `timeExceeded` gets that fragment (as received, from its IPv6 header) to quote in an ICMPv6 time
   * exceeded message, code 1, to its source. The callback must not call back into the reassembler.
   */
  poll(now: Micros, timeExceeded: (firstFragment: Uint8Array) => void): void {
    for (let entry = this.#oldest; entry !== undefined && entry.deadline <= now; entry = this.#oldest) {
      const first = entry.firstFragment
      this.#remove(entry)
      if (entry.abandoned) continue
      this.stats.timeouts++
      if (first !== undefined) timeExceeded(first)
    }
  }

  /** Drop everything held (for shutdown or an address change). */
  clear(): void {
    while (this.#oldest !== undefined) this.#remove(this.#oldest)
  }

  #find(key: number, datagram: Uint8Array, identification: number): Pending | undefined {
    const bucket = this.#buckets.get(key)
    if (bucket === undefined) return undefined
    for (const entry of bucket) {
      if (entry.identification === identification && ipv6AddressEquals(entry.src, datagram, 0, 8) && ipv6AddressEquals(entry.dst, datagram, 0, 24)) return entry
    }
    return undefined
  }

  #insert(entry: Pending): void {
    const bucket = this.#buckets.get(entry.key)
    if (bucket === undefined) this.#buckets.set(entry.key, [entry])
    else bucket.push(entry)
    entry.older = this.#newest
    if (this.#newest === undefined) this.#oldest = entry
    else this.#newest.newer = entry
    this.#newest = entry
    this.#count++
  }

  #remove(entry: Pending): void {
    const bucket = this.#buckets.get(entry.key)!
    if (bucket.length === 1) this.#buckets.delete(entry.key)
    else bucket.splice(bucket.indexOf(entry), 1)
    if (entry.older === undefined) this.#oldest = entry.newer
    else entry.older.newer = entry.newer
    if (entry.newer === undefined) this.#newest = entry.older
    else entry.newer.older = entry.older
    entry.older = entry.newer = undefined
    this.#count--
    this.#release(entry)
  }

  #charge(entry: Pending, bytes: number): void {
    entry.bytes += bytes
    this.#bytes += bytes
    this.#bytesBySource.set(entry.sourceKey, (this.#bytesBySource.get(entry.sourceKey) ?? 0) + bytes)
  }

  /** Free what `entry` holds (it stays in place, e.g. as a tombstone). */
  #release(entry: Pending): void {
    if (entry.bytes === 0) return
    this.#bytes -= entry.bytes
    const left = this.#bytesBySource.get(entry.sourceKey)! - entry.bytes
    if (left === 0) this.#bytesBySource.delete(entry.sourceKey)
    else this.#bytesBySource.set(entry.sourceKey, left)
    entry.bytes = 0
    entry.pieces = []
    entry.unfragmentable = entry.firstFragment = undefined
  }

  #evictOldest(): void {
    const oldest = this.#oldest!
    if (!oldest.abandoned) this.stats.evictions++
    this.#remove(oldest)
  }

  /** Abandon a datagram: free its fragments and keep a tombstone until its timeout (RFC 5722 §4). */
  #abandon(entry: Pending, reason: 'overlap' | 'malformed'): Ipv6ReassemblyResult {
    if (reason === 'overlap') this.stats.overlaps++
    else this.stats.malformed++
    entry.abandoned = true
    this.#release(entry)
    return DROPPED[reason]
  }

  #malformed(): Ipv6ReassemblyResult {
    this.stats.malformed++
    return DROPPED.malformed
  }

  #parameterProblem(code: number, pointer: number): Ipv6ReassemblyResult {
    this.stats.parameterProblems++
    return { status: 'parameterProblem', code, pointer }
  }
}

/**
 * The reassembled datagram: `unfragmentable` (fixed header and the headers before the Fragment header), the Next
 * Header at `nextHeaderPointer` set to `nextHeader` (unless -1: already done), the payload length fixed, then the pieces.
 */
function assemble(unfragmentable: Uint8Array, nextHeaderPointer: number, nextHeader: number, pieces: readonly Piece[], total: number): Uint8Array {
  const out = new Uint8Array(unfragmentable.byteLength + total)
  out.set(unfragmentable)
  if (nextHeaderPointer >= 0) out[nextHeaderPointer] = nextHeader
  const payloadLength = out.byteLength - IPV6_HEADER_LENGTH
  out[4] = payloadLength >>> 8
  out[5] = payloadLength & 0xff
  for (const piece of pieces) out.set(piece.data, unfragmentable.byteLength + piece.offset)
  return out
}

/** Whether the extension headers starting with `next` at `bytes[from]` reach an upper-layer header before `end` (RFC 7112 §5). */
function headerChainComplete(bytes: Uint8Array, next: number, from: number, end: number): boolean {
  let at = from
  for (let hops = 0; hops < 64; hops++) {
    switch (next) {
      case Ipv6NextHeader.HOP_BY_HOP:
      case Ipv6NextHeader.ROUTING:
      case Ipv6NextHeader.DESTINATION_OPTIONS:
        if (at + 2 > end) return false
        next = bytes[at]!
        at += (bytes[at + 1]! + 1) * 8
        if (at > end) return false
        break
      case Ipv6NextHeader.FRAGMENT:
        return false // a second Fragment header in the fragmentable part: not a chain this host can follow
      case Ipv6NextHeader.NO_NEXT_HEADER:
        return true
      default:
        // An upper layer: its header must start inside the first fragment (its own length is the upper
        // layer's business once reassembled).
        return at < end
    }
  }
  return false
}

function bytesEqual(stored: Uint8Array, bytes: Uint8Array, from: number): boolean {
  for (let i = 0; i < stored.byteLength; i++) if (stored[i] !== bytes[from + i]) return false
  return true
}

function checkOption(setting: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${setting} must be an integer in [${min}, ${max}], got ${String(value)}`)
  }
  return value
}
