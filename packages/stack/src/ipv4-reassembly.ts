/**
 * IPv4 reassembly (RFC 791 §3.2 "An Example Reassembly Procedure", RFC 1122 §3.3.2: a host MUST
 * reassemble), built to hold under attack:
 *
 * - **Bounded memory.** At most `maxDatagrams` datagrams are in reassembly at once, at most
 *   `maxPerSource` of them from one source address, each in a slot whose buffer (65,535 bytes and a
 *   header area) is allocated on the slot's first use and reused afterwards: in steady state a fragment
 *   allocates nothing and its payload is copied once, into place. A datagram may come in at most
 *   {@link MAX_FRAGMENTS_PER_DATAGRAM} pieces. When every slot is taken, the oldest datagram is given up
 *   for the new one (as Linux evicts when over its high threshold), so a flood of fragments that never
 *   complete cannot keep a real datagram out for longer than the flood's own turnover.
 * - **A timeout.** A datagram not complete `timeout` µs after its first fragment is dropped (RFC 1122
 *   §3.3.2: a fixed value, not taken from the TTL; the RFC recommends 60–120 s; the default here is 30 s,
 *   Linux's `ipfrag_time`, configurable).
 * - **Overlaps drop the whole datagram.** A fragment that overlaps one already held discards the datagram
 *   (the policy RFC 5722 §4 set for IPv6, carried over to IPv4: overlaps only serve to evade filters, cf.
 *   RFC 1858). An exact duplicate of a fragment held is dropped alone (RFC 8200 §4.5 allows this).
 * - **Malformed fragments** are dropped and counted: a non-last fragment whose payload is not a multiple
 *   of 8 bytes (RFC 791 §3.1 Fragment Offset), a datagram that would exceed 65,535 bytes, a second "last"
 *   fragment with another end, or data past the end the last fragment set.
 *
 * The first fragment's header becomes the datagram's (RFC 791 §3.2), with the total length set, the
 * fragment fields cleared and the checksum recomputed, so the datagram reads as one that came whole.
 * @module
 */
import type { Micros } from '@mtcp/dpdk-io'
import { internetChecksum } from '@mtcp/tcp-core'
import type { StackStats } from './stats.js'

/** Reassembly limits (the stack's `reassembly` option). */
export interface ReassemblyOptions {
  /** µs a datagram may take to arrive whole, from its first fragment. Default 30 s. */
  timeout?: number | undefined
  /** Datagrams in reassembly at once (each may hold a 64 KiB buffer). Default 64. */
  maxDatagrams?: number | undefined
  /** Datagrams in reassembly at once from one source address. Default 16. */
  maxPerSource?: number | undefined
}

/** The defaults of {@link ReassemblyOptions}. */
export const REASSEMBLY_DEFAULTS = { timeout: 30_000_000, maxDatagrams: 64, maxPerSource: 16 } as const

/** Pieces one datagram may arrive in (a 65,535-byte datagram over a 576-byte MTU takes 118). */
export const MAX_FRAGMENTS_PER_DATAGRAM = 128

/** Room before the payload for the first fragment's header (IHL up to 15 words). */
const HEADER_ROOM = 60
/** The largest payload of an IPv4 datagram (65,535 less the smallest header). */
const MAX_PAYLOAD = 65_535 - 20

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0
}

/** One datagram in reassembly (RFC 791's "buffer identifier": source, destination, protocol, identification). */
class Slot {
  inUse = false
  src = 0
  dst = 0
  protocol = 0
  identification = 0
  /** When it is given up (first fragment + timeout). */
  deadline = 0
  /** The payload's end, once the last fragment (MF clear) came; -1 before. */
  end = -1
  /** Payload bytes held (no overlaps are kept, so this equals the bytes covered). */
  received = 0
  /** The first fragment's header length; 0 until it came. */
  headerLength = 0
  rangeCount = 0
  /** [start, end) of each fragment held, in arrival order. */
  readonly ranges = new Uint32Array(2 * MAX_FRAGMENTS_PER_DATAGRAM)
  /** Header room, then the payload at {@link HEADER_ROOM}; allocated at first use. */
  bytes: Uint8Array | undefined = undefined
}

/** @internal The reassembly table of a stack. */
export class Ipv4Reassembly {
  readonly timeout: number
  readonly maxPerSource: number
  readonly #slots: Slot[]
  readonly #stats: StackStats
  /** No slot's deadline is before this (Infinity when none is in use): {@link expire} has nothing to do until then. */
  #nextDeadline = Number.POSITIVE_INFINITY

  constructor(options: ReassemblyOptions | undefined, stats: StackStats) {
    this.timeout = options?.timeout ?? REASSEMBLY_DEFAULTS.timeout
    const maxDatagrams = options?.maxDatagrams ?? REASSEMBLY_DEFAULTS.maxDatagrams
    this.maxPerSource = options?.maxPerSource ?? REASSEMBLY_DEFAULTS.maxPerSource
    this.#slots = Array.from({ length: maxDatagrams }, () => new Slot())
    this.#stats = stats
  }

  /** Datagrams in reassembly now. */
  get inProgress(): number {
    let n = 0
    for (const slot of this.#slots) if (slot.inUse) n++
    return n
  }

  /** Bytes of slot buffers allocated (the memory reassembly holds, bounded by maxDatagrams × 65,575). */
  get bufferBytes(): number {
    let n = 0
    for (const slot of this.#slots) n += slot.bytes?.byteLength ?? 0
    return n
  }

  /** Give up datagrams whose time is over (RFC 1122 §3.3.2). */
  expire(now: Micros): void {
    // Called every receive phase: nothing to do (and nothing allocated) until a slot's deadline passed.
    if (now < this.#nextDeadline) return
    let next = Number.POSITIVE_INFINITY
    const slots = this.#slots
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!
      if (!slot.inUse) continue
      if (now >= slot.deadline) {
        slot.inUse = false
        this.#stats.reassembly.timeouts++
      } else if (slot.deadline < next) next = slot.deadline
    }
    this.#nextDeadline = next
  }

  /** Forget everything held. */
  clear(): void {
    for (const slot of this.#slots) slot.inUse = false
  }

  /**
   * Take the fragment at `data[ip]` (a checked IPv4 header addressed to us, with MF set or an offset).
   * @returns the whole datagram (header and payload, a view valid until the next call) when this fragment
   *   completed it; else undefined, with the frame counted: held (`rx.fragments`) or dropped by reason.
   */
  insert(now: Micros, data: Uint8Array, ip: number): Uint8Array | undefined {
    const stats = this.#stats
    const drops = stats.rx.drops
    const headerLength = (data[ip]! & 0x0f) * 4
    const totalLength = (data[ip + 2]! << 8) | data[ip + 3]!
    const flags = (data[ip + 6]! << 8) | data[ip + 7]!
    const moreFragments = (flags & 0x2000) !== 0
    const start = (flags & 0x1fff) * 8
    const length = totalLength - headerLength
    const end = start + length
    // RFC 791 §3.1: every fragment but the last carries a multiple of 8 bytes; nothing may pass 65,535.
    if ((moreFragments && (length === 0 || length % 8 !== 0)) || end > MAX_PAYLOAD) {
      drops.fragmentMalformed++
      return undefined
    }
    this.expire(now)
    const src = readUint32(data, ip + 12)
    const dst = readUint32(data, ip + 16)
    const protocol = data[ip + 9]!
    const identification = (data[ip + 4]! << 8) | data[ip + 5]!
    let slot: Slot | undefined
    let fromSource = 0
    let free: Slot | undefined
    let oldest: Slot | undefined
    for (const candidate of this.#slots) {
      if (!candidate.inUse) {
        free ??= candidate
        continue
      }
      if (candidate.src === src) {
        if (candidate.identification === identification && candidate.protocol === protocol && candidate.dst === dst) {
          slot = candidate
          break
        }
        fromSource++
      }
      if (oldest === undefined || candidate.deadline < oldest.deadline) oldest = candidate
    }
    if (slot === undefined) {
      if (fromSource >= this.maxPerSource) {
        drops.fragmentSourceLimit++
        return undefined
      }
      if (free === undefined) {
        free = oldest!
        stats.reassembly.evicted++
      }
      slot = free
      slot.inUse = true
      slot.src = src
      slot.dst = dst
      slot.protocol = protocol
      slot.identification = identification
      slot.deadline = now + this.timeout
      if (slot.deadline < this.#nextDeadline) this.#nextDeadline = slot.deadline
      slot.end = -1
      slot.received = 0
      slot.headerLength = 0
      slot.rangeCount = 0
      slot.bytes ??= new Uint8Array(HEADER_ROOM + MAX_PAYLOAD)
    }
    // The end of the datagram: one last fragment, and nothing held past it.
    if (!moreFragments) {
      if (slot.end >= 0 && slot.end !== end) return this.#discard(slot, 'malformed')
      for (let i = 0; i < slot.rangeCount; i++) if (slot.ranges[2 * i + 1]! > end) return this.#discard(slot, 'malformed')
      slot.end = end
    } else if (slot.end >= 0 && end > slot.end) {
      return this.#discard(slot, 'malformed')
    }
    const ranges = slot.ranges
    for (let i = 0; i < slot.rangeCount; i++) {
      const heldStart = ranges[2 * i]!
      const heldEnd = ranges[2 * i + 1]!
      if (start === heldStart && end === heldEnd) {
        drops.fragmentDuplicate++ // RFC 8200 §4.5: an exact duplicate goes alone
        return undefined
      }
      if (start < heldEnd && heldStart < end) return this.#discard(slot, 'overlap') // RFC 5722 §4
    }
    if (slot.rangeCount === MAX_FRAGMENTS_PER_DATAGRAM) return this.#discard(slot, 'tooMany')
    ranges[2 * slot.rangeCount] = start
    ranges[2 * slot.rangeCount + 1] = end
    slot.rangeCount++
    const bytes = slot.bytes!
    bytes.set(data.subarray(ip + headerLength, ip + totalLength), HEADER_ROOM + start)
    if (start === 0) {
      bytes.set(data.subarray(ip, ip + headerLength), HEADER_ROOM - headerLength)
      slot.headerLength = headerLength
    }
    slot.received += length
    if (slot.end < 0 || slot.received !== slot.end || slot.headerLength === 0) {
      stats.rx.fragments++
      return undefined
    }
    // Complete: the first fragment's header, made the header of a whole datagram (RFC 791 §3.2).
    slot.inUse = false
    stats.reassembly.reassembled++
    const at = HEADER_ROOM - slot.headerLength
    const total = slot.headerLength + slot.end
    bytes[at + 2] = total >>> 8
    bytes[at + 3] = total & 0xff
    bytes[at + 6] = bytes[at + 6]! & 0x40 // keep DF, clear MF and the offset
    bytes[at + 7] = 0
    bytes[at + 10] = 0
    bytes[at + 11] = 0
    const sum = internetChecksum(bytes, at, slot.headerLength)
    bytes[at + 10] = sum >>> 8
    bytes[at + 11] = sum & 0xff
    return bytes.subarray(at, at + total)
  }

  /** Drop the datagram in `slot` for the fragment just received (which is counted as the reason). */
  #discard(slot: Slot, reason: 'overlap' | 'malformed' | 'tooMany'): undefined {
    slot.inUse = false
    const drops = this.#stats.rx.drops
    if (reason === 'overlap') drops.fragmentOverlap++
    else if (reason === 'malformed') drops.fragmentMalformed++
    else drops.fragmentTooMany++
    this.#stats.reassembly.discarded++
    return undefined
  }
}
