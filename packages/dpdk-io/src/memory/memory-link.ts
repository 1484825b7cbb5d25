/**
 * The `memory` backend: two ports joined by an emulated link.
 *
 * Each direction models a drop-tail queue in front of a serialising transmitter (rate), then the wire:
 * propagation delay with jitter, random and bursty loss, reordering, duplication and bit corruption.
 * Frames pass from one port to the other without copying (only a duplicate is copied). All randomness
 * comes from a seed, one independent stream per impairment, so the same seed and the same traffic give
 * the same drops; on a {@link VirtualClock} the whole timeline is reproducible.
 * @module
 */
import { OffloadFlags, type PacketBuffer } from '../buffer-pool.js'
import { type Clock, type Micros, type Timer, realClock } from '../clock.js'
import { checkInteger, DpdkIoError } from '../errors.js'
import {
  type CaptureSink,
  createPortStats,
  type DropReason,
  type LinkInfo,
  type OffloadCapabilities,
  type Port,
  type PortStats,
} from '../port.js'
import { internetChecksum } from '@mtcp/primitives'
import { SeededRandom } from '../random.js'
import { type LinkImpairments, type ResolvedImpairments, resolveImpairments } from './impairments.js'
import { completeChecksums, segmentTcp4, segmentTcp6 } from '../offload/software-offload.js'
import { TimedQueue } from './timed-queue.js'

/** Which way frames travel on a {@link MemoryLink}. */
export type LinkDirectionName = 'aToB' | 'bToA'

/** Counters of one direction of a {@link MemoryLink}. */
export interface LinkDirectionStats {
  /** Frames accepted into the queue. */
  enqueued: number
  /** Frames handed to the receiving port. */
  delivered: number
  /** Bytes handed to the receiving port. */
  deliveredBytes: number
  queueDrops: number
  randomLosses: number
  burstLosses: number
  reordered: number
  duplicated: number
  /** Duplicates that could not be made because the pool was empty. */
  duplicateFailures: number
  corrupted: number
  /** Frames refused by backpressure (left with the sender). */
  refused: number
  /** ECN-capable frames marked CE by the queue (`ecnMarkPackets`, RFC 3168 §5). */
  ceMarked: number
  /** Frames that were not ECN-capable, dropped where an ECN-capable one would have been marked (`ecnMarkPackets`). */
  aqmDrops: number
}

/** Options of {@link createMemoryLink}. */
export interface MemoryLinkOptions {
  /** The clock the link keeps time with. Default: the real clock. Use a {@link VirtualClock} for simulations. */
  clock?: Clock
  /** Seed of every random impairment (a 32-bit integer). Default 1. */
  seed?: number
  /** IP MTU of both ports, in [68, 65535]. Default 1500. */
  mtu?: number
  /** Port names. Default `memoryN.a` / `memoryN.b`. */
  names?: readonly [string, string]
  /** MAC addresses of the two ports. Default locally administered `02:00:00:NN:00:01` / `…:02`. */
  macs?: readonly [Uint8Array, Uint8Array]
  /** Transmit offloads both ports emulate. Default none. */
  offloads?: MemoryOffloadOptions
  /** Impairments of both directions. */
  impairments?: LinkImpairments
  /** Impairments from a to b, merged over `impairments`. */
  aToB?: LinkImpairments
  /** Impairments from b to a, merged over `impairments`. */
  bToA?: LinkImpairments
}

const ETHERNET_HEADER = 14

/** Offloads the memory link emulates in software, as a NIC would do them in hardware. */
export interface MemoryOffloadOptions {
  /**
   * Transmit checksum offload for buffers that ask (`OffloadFlags.TX_*_CHECKSUM`). As on Linux's veth,
   * the checksums are then not computed at all and the frames arrive flagged as trusted
   * (`RX_IP_CHECKSUM_GOOD | RX_L4_CHECKSUM_PARTIAL`); on a direction that corrupts frames they are
   * completed in software instead, so damage stays detectable. Default false.
   */
  checksum?: boolean
  /** Cut IPv4/TCP and IPv6/TCP super segments flagged `TX_TCP_SEGMENTATION`; `maxSize` bounds the IP packet, in [1280, 65535] (default 65535). Default false. */
  segmentation?: boolean | { maxSize?: number }
}

function offloadCapabilities(options: MemoryOffloadOptions | undefined): OffloadCapabilities {
  const checksum = Boolean(options?.checksum)
  const segmentation = options?.segmentation ?? false
  const maxSize =
    segmentation === false ? 0 : checkInteger('offloads.segmentation.maxSize', (segmentation === true ? undefined : segmentation.maxSize) ?? 65535, 1280, 65535)
  return Object.freeze({
    txChecksum: Object.freeze({ ipv4: checksum, tcp: checksum, udp: checksum, tcp6: checksum }),
    rxChecksum: checksum,
    segmentation: Object.freeze({ tcp4: segmentation !== false, tcp6: segmentation !== false, maxSize }),
    largeReceive: false,
  })
}

let linkCounter = 0

/** What became of a frame handed to the transmit path. */
type TxResult = 0 | 1 | 2
/** The port took the frame (queued, or dropped and counted). */
const Consumed = 0
/** Backpressure: the caller keeps the frame. */
const Refused = 1
/** Offload step only: go on with the normal transmit path. */
const Continue = 2

const CHECKSUM_FLAGS = OffloadFlags.TX_IP_CHECKSUM | OffloadFlags.TX_TCP_CHECKSUM | OffloadFlags.TX_UDP_CHECKSUM

/** Random streams, one per impairment, so that enabling one does not change the draws of another. */
const enum Stream {
  Loss = 1,
  BurstState,
  BurstLoss,
  Jitter,
  Reorder,
  Duplicate,
  Corrupt,
  CorruptBit,
}

/** EtherType of IPv4 (RFC 894) and of IPv6 (RFC 2464 §3). */
const ETHERTYPE_IPV4 = 0x0800
const ETHERTYPE_IPV6 = 0x86dd
/** The fixed IPv6 header (RFC 8200 §3). */
const IPV6_HEADER = 40

/**
 * RFC 3168 §5: set the CE codepoint of an untagged IP frame whose ECN field is ECT(0), ECT(1) or CE
 * already. IPv4: the ECN field is the low two bits of the TOS octet, and the header checksum is fixed
 * unless it is left to offload or trusted. IPv6: the ECN field is the low two bits of the Traffic Class
 * (RFC 8200 §7, RFC 3168 §5), which straddles the first two octets (version 4 bits, Traffic Class 8 bits,
 * flow label 20 bits, RFC 8200 §3), so it is bits 5..4 of octet 1; IPv6 has no header checksum and the
 * Traffic Class is not in the TCP/UDP pseudo-header (RFC 8200 §8.1), so nothing else changes.
 * @returns false for a frame that is not ECN-capable or not IP (which the queue then drops instead).
 */
function markCongestion(buffer: PacketBuffer): boolean {
  const data = buffer.data
  const start = buffer.offset
  if (buffer.length < ETHERNET_HEADER + 20) return false
  const etherType = (data[start + 12]! << 8) | data[start + 13]!
  const ip = start + ETHERNET_HEADER
  if (etherType === ETHERTYPE_IPV6) {
    if (buffer.length < ETHERNET_HEADER + IPV6_HEADER || data[ip]! >>> 4 !== 6 || (data[ip + 1]! & 0x30) === 0) return false
    data[ip + 1] = data[ip + 1]! | 0x30
    return true
  }
  if (etherType !== ETHERTYPE_IPV4 || data[ip]! >>> 4 !== 4 || (data[ip + 1]! & 3) === 0) return false
  data[ip + 1] = data[ip + 1]! | 3
  if ((buffer.offloadFlags & (OffloadFlags.TX_IP_CHECKSUM | OffloadFlags.RX_IP_CHECKSUM_GOOD)) === 0) {
    // RFC 791 §3.1: the header checksum covers the TOS octet.
    const headerLength = (data[ip]! & 0x0f) * 4
    data[ip + 10] = 0
    data[ip + 11] = 0
    const sum = internetChecksum(data, ip, headerLength)
    data[ip + 10] = sum >>> 8
    data[ip + 11] = sum & 0xff
  }
  return true
}

/** One direction of the link: queue, transmitter, wire. @internal */
class LinkDirection {
  settings!: ResolvedImpairments
  /** No random impairment and no jitter: skip every draw. */
  plain = true
  readonly stats: LinkDirectionStats = {
    enqueued: 0,
    delivered: 0,
    deliveredBytes: 0,
    queueDrops: 0,
    randomLosses: 0,
    burstLosses: 0,
    reordered: 0,
    duplicated: 0,
    duplicateFailures: 0,
    corrupted: 0,
    refused: 0,
    ceMarked: 0,
    aqmDrops: 0,
  }
  readonly inFlight = new TimedQueue()
  // Transmitter: when it is free again, and the frames still queued or serialising (txEnd, bytes).
  busyUntil = Number.NEGATIVE_INFINITY
  #departTimes = new Float64Array(64)
  #departBytes = new Float64Array(64)
  #departHead = 0
  #departSize = 0
  #departMask = 63
  queuedBytes = 0
  lastDelivery = Number.NEGATIVE_INFINITY
  burstBad = false

  readonly #rngLoss: SeededRandom
  readonly #rngBurstState: SeededRandom
  readonly #rngBurstLoss: SeededRandom
  readonly #rngJitter: SeededRandom
  readonly #rngReorder: SeededRandom
  readonly #rngDuplicate: SeededRandom
  readonly #rngCorrupt: SeededRandom
  readonly #rngCorruptBit: SeededRandom

  readableListener: (() => void) | undefined = undefined
  writableListener: (() => void) | undefined = undefined
  wantWritable = false
  readonly rxTimer: Timer
  readonly txTimer: Timer

  constructor(
    readonly clock: Clock,
    seed: number,
    directionIndex: number,
  ) {
    const stream = (s: Stream): SeededRandom => new SeededRandom(seed, directionIndex * 16 + s)
    this.#rngLoss = stream(Stream.Loss)
    this.#rngBurstState = stream(Stream.BurstState)
    this.#rngBurstLoss = stream(Stream.BurstLoss)
    this.#rngJitter = stream(Stream.Jitter)
    this.#rngReorder = stream(Stream.Reorder)
    this.#rngDuplicate = stream(Stream.Duplicate)
    this.#rngCorrupt = stream(Stream.Corrupt)
    this.#rngCorruptBit = stream(Stream.CorruptBit)
    this.rxTimer = clock.createTimer(() => this.readableListener?.())
    this.txTimer = clock.createTimer(() => {
      this.wantWritable = false
      this.writableListener?.()
    })
  }

  configure(settings: ResolvedImpairments): void {
    this.settings = settings
    this.plain =
      settings.loss === 0 &&
      settings.burstLoss === undefined &&
      settings.jitter === 0 &&
      settings.reorder === 0 &&
      settings.duplicate === 0 &&
      settings.corrupt === 0
  }

  get queuedPackets(): number {
    return this.#departSize
  }

  /** Forget frames whose serialisation ended by `now`. */
  drainDepartures(now: Micros): void {
    while (this.#departSize > 0 && this.#departTimes[this.#departHead]! <= now) {
      this.queuedBytes -= this.#departBytes[this.#departHead]!
      this.#departHead = (this.#departHead + 1) & this.#departMask
      this.#departSize--
    }
  }

  /** When the oldest queued frame leaves the transmitter, or +Infinity. */
  nextDeparture(): Micros {
    return this.#departSize > 0 ? this.#departTimes[this.#departHead]! : Number.POSITIVE_INFINITY
  }

  /**
   * Queue a frame for serialisation.
   * @returns the time its last bit leaves the transmitter.
   */
  serialise(now: Micros, bytes: number): Micros {
    const start = this.busyUntil > now ? this.busyUntil : now
    const txEnd = start + ((bytes + this.settings.overhead) * 8e6) / this.settings.rate
    this.busyUntil = txEnd
    if (this.#departSize === this.#departMask + 1) this.#growDepartures()
    const index = (this.#departHead + this.#departSize) & this.#departMask
    this.#departTimes[index] = txEnd
    this.#departBytes[index] = bytes
    this.#departSize++
    this.queuedBytes += bytes
    return txEnd
  }

  /** Decide the fate of a frame that has left the transmitter. @returns false when it is lost. */
  lost(): 'randomLoss' | 'burstLoss' | undefined {
    const s = this.settings
    if (s.loss > 0 && this.#rngLoss.next() < s.loss) {
      this.stats.randomLosses++
      return 'randomLoss'
    }
    const ge = s.burstLoss
    if (ge !== undefined) {
      const lossProbability = this.burstBad ? ge.lossBad : ge.lossGood
      const isLost = lossProbability > 0 && this.#rngBurstLoss.next() < lossProbability
      const flip = this.#rngBurstState.next() < (this.burstBad ? ge.r : ge.p)
      if (flip) this.burstBad = !this.burstBad
      if (isLost) {
        this.stats.burstLosses++
        return 'burstLoss'
      }
    }
    return undefined
  }

  maybeCorrupt(buffer: PacketBuffer): void {
    const s = this.settings
    if (s.corrupt > 0 && this.#rngCorrupt.next() < s.corrupt && buffer.length > 0) {
      const bit = this.#rngCorruptBit.below(buffer.length * 8)
      buffer.data[buffer.offset + (bit >> 3)]! ^= 1 << (bit & 7)
      this.stats.corrupted++
    }
  }

  /** Arrival time for a frame whose last bit left at `txEnd`, with jitter (order kept) and reordering. */
  arrival(txEnd: Micros): Micros {
    const s = this.settings
    let at = txEnd + s.delay
    if (s.jitter > 0) {
      at += (this.#rngJitter.next() * 2 - 1) * s.jitter
      if (at < txEnd) at = txEnd
    }
    if (at < this.lastDelivery) at = this.lastDelivery
    if (s.reorder > 0 && this.#rngReorder.next() < s.reorder) {
      this.stats.reordered++
      return at + s.reorderDelay
    }
    this.lastDelivery = at
    return at
  }

  duplicateOf(buffer: PacketBuffer): PacketBuffer | undefined {
    const s = this.settings
    if (s.duplicate === 0 || this.#rngDuplicate.next() >= s.duplicate) return undefined
    const copy = buffer.pool.alloc()
    if (copy === undefined) {
      this.stats.duplicateFailures++
      return undefined
    }
    copy.data.set(buffer.data.subarray(buffer.offset, buffer.offset + buffer.length), copy.offset)
    copy.length = buffer.length
    copy.offloadFlags = buffer.offloadFlags
    copy.l2Length = buffer.l2Length
    copy.l3Length = buffer.l3Length
    copy.l4Length = buffer.l4Length
    copy.segmentSize = buffer.segmentSize
    this.stats.duplicated++
    return copy
  }

  /** Keep the receiver's wake-up at the earliest arrival. */
  armReadable(busyPoll: boolean): void {
    if (this.readableListener === undefined || busyPoll || this.inFlight.size === 0) {
      if (this.rxTimer.armed) this.rxTimer.cancel()
      return
    }
    const at = this.inFlight.headTime()
    if (this.rxTimer.at !== at) this.rxTimer.arm(at)
  }

  /** After a refusal, wake the sender when the oldest queued frame has left. */
  armWritable(busyPoll: boolean): void {
    if (this.writableListener === undefined || busyPoll || !this.wantWritable) {
      if (this.txTimer.armed) this.txTimer.cancel()
      return
    }
    const at = this.nextDeparture()
    if (at !== Number.POSITIVE_INFINITY && this.txTimer.at !== at) this.txTimer.arm(at)
  }

  close(): void {
    this.rxTimer.cancel()
    this.txTimer.cancel()
    this.inFlight.clear((buffer) => buffer.pool.free(buffer))
  }

  #growDepartures(): void {
    const capacity = (this.#departMask + 1) * 2
    const times = new Float64Array(capacity)
    const bytes = new Float64Array(capacity)
    for (let i = 0; i < this.#departSize; i++) {
      const from = (this.#departHead + i) & this.#departMask
      times[i] = this.#departTimes[from]!
      bytes[i] = this.#departBytes[from]!
    }
    this.#departTimes = times
    this.#departBytes = bytes
    this.#departHead = 0
    this.#departMask = capacity - 1
  }
}

/** One end of a {@link MemoryLink}. */
export class MemoryPort implements Port {
  readonly stats: PortStats = createPortStats()
  #busyPoll = false
  /** Whether any transmit offload is emulated, so buffers' flags need a look. */
  readonly #offloading: boolean
  /** Scratch array for the segments of one super segment. */
  readonly #segments: PacketBuffer[] = []
  #capture: CaptureSink | undefined = undefined
  #closed = false

  /** @internal */
  constructor(
    readonly link: LinkInfo,
    readonly offloads: OffloadCapabilities,
    readonly clock: Clock,
    private readonly owner: MemoryLink,
    private readonly outbound: LinkDirection,
    private readonly inbound: LinkDirection,
  ) {
    this.#offloading = offloads.txChecksum.tcp || offloads.txChecksum.tcp6 || offloads.segmentation.tcp4 || offloads.segmentation.tcp6
  }

  get busyPoll(): boolean {
    return this.#busyPoll
  }
  set busyPoll(on: boolean) {
    this.#busyPoll = on
    this.inbound.armReadable(on)
    this.outbound.armWritable(on)
  }

  /** The port at the other end of the link. */
  get peer(): MemoryPort {
    return this.owner.a === this ? this.owner.b : this.owner.a
  }

  rxBurst(bufs: PacketBuffer[], max: number): number {
    const inbound = this.inbound
    if (inbound.inFlight.size === 0 || this.#closed) return 0
    const now = this.clock.now()
    const stats = this.stats
    const capture = this.#capture
    let n = 0
    while (n < max) {
      const buffer = inbound.inFlight.popDue(now)
      if (buffer === undefined) break
      bufs[n++] = buffer
      stats.rxPackets++
      stats.rxBytes += buffer.length
      inbound.stats.delivered++
      inbound.stats.deliveredBytes += buffer.length
      if (capture !== undefined) capture.record(buffer.data, buffer.offset, buffer.length, now, 'rx')
    }
    inbound.armReadable(this.#busyPoll)
    return n
  }

  txBurst(bufs: PacketBuffer[], count: number): number {
    if (this.#closed) throw new DpdkIoError('ERR_PORT_CLOSED', `port ${this.link.name} is closed`)
    const out = this.outbound
    const now = this.clock.now()
    const headBefore = out.inFlight.size === 0 ? Number.POSITIVE_INFINITY : out.inFlight.headTime()
    if (out.settings.rate !== Number.POSITIVE_INFINITY) out.drainDepartures(now)
    const offloading = this.#offloading
    let i = 0
    for (; i < count; i++) {
      const buffer = bufs[i]!
      if (offloading && buffer.offloadFlags !== 0) {
        const result = this.#offload(buffer, now)
        if (result === Refused) break
        if (result === Consumed) continue
      }
      if (this.#transmit(buffer, now) === Refused) break
    }
    if (i < count) {
      out.stats.refused += count - i
      out.wantWritable = true
    }
    if (out.inFlight.size > 0 && out.inFlight.headTime() < headBefore) out.armReadable(this.peer.busyPoll)
    if (out.wantWritable) out.armWritable(this.#busyPoll)
    return i
  }

  /** Queue one frame and decide its fate on the wire. The frame is consumed unless the result is {@link Refused}. */
  #transmit(buffer: PacketBuffer, now: Micros): TxResult {
    const out = this.outbound
    const settings = out.settings
    const drops = this.stats.drops
    const length = buffer.length
    if (length > this.link.maxFrameSize) return this.#drop(buffer, 'oversize')
    if (length < ETHERNET_HEADER) return this.#drop(buffer, 'runt')
    if (!this.owner.up) return this.#drop(buffer, 'linkDown')
    let txEnd = now
    if (settings.rate !== Number.POSITIVE_INFINITY) {
      if (out.queuedPackets >= settings.queuePackets || out.queuedBytes + length > settings.queueBytes) {
        if (settings.backpressure) return Refused
        out.stats.queueDrops++
        return this.#drop(buffer, 'queueFull')
      }
      if (out.queuedPackets >= settings.ecnMarkPackets && !markCongestion(buffer)) {
        out.stats.aqmDrops++
        return this.#drop(buffer, 'queueFull')
      }
      if (out.queuedPackets >= settings.ecnMarkPackets) out.stats.ceMarked++
      txEnd = out.serialise(now, length)
    }
    this.stats.txPackets++
    this.stats.txBytes += length
    out.stats.enqueued++
    if (this.#capture !== undefined) this.#capture.record(buffer.data, buffer.offset, length, now, 'tx')
    if (out.plain) {
      out.inFlight.push(buffer, txEnd + settings.delay)
      return Consumed
    }
    const lostReason = out.lost()
    if (lostReason !== undefined) {
      drops[lostReason]++
      buffer.pool.free(buffer)
      return Consumed
    }
    out.maybeCorrupt(buffer)
    const copy = out.duplicateOf(buffer)
    const at = out.arrival(txEnd)
    out.inFlight.push(buffer, at)
    if (copy !== undefined) out.inFlight.push(copy, at)
    return Consumed
  }

  /**
   * Do what the emulated NIC does with a buffer's offload flags: complete checksums in place
   * ({@link Continue}), or cut a super segment and transmit the pieces ({@link Consumed}).
   */
  #offload(buffer: PacketBuffer, now: Micros): TxResult {
    const flags = buffer.offloadFlags
    const segmentation = this.offloads.segmentation
    // The IP version nibble picks the cut (RFC 791 §3.1, RFC 8200 §3); a family the port does not offer falls through.
    const ipv6 = buffer.data[buffer.offset + buffer.l2Length]! >>> 4 === 6
    if (flags & OffloadFlags.TX_TCP_SEGMENTATION && (ipv6 ? segmentation.tcp6 : segmentation.tcp4)) {
      const headers = buffer.l2Length + buffer.l3Length + buffer.l4Length
      if (buffer.length - buffer.l2Length > segmentation.maxSize || headers + buffer.segmentSize > this.link.maxFrameSize || buffer.segmentSize <= 0) {
        return this.#drop(buffer, 'oversize')
      }
      const out = this.outbound
      const pieces = Math.max(1, Math.ceil((buffer.length - headers) / buffer.segmentSize))
      if (out.settings.backpressure && out.settings.rate !== Number.POSITIVE_INFINITY && out.queuedPackets + pieces > out.settings.queuePackets) {
        return Refused
      }
      const segments = this.#segments
      const n = ipv6 ? segmentTcp6(buffer, segments) : segmentTcp4(buffer, segments)
      buffer.pool.free(buffer)
      if (n < 0) {
        this.stats.drops.noBuffer++
        return Consumed
      }
      for (let k = 0; k < n; k++) {
        const segment = segments[k]!
        segments[k] = undefined as never
        // Refusal is impossible here with backpressure (room was checked); without it a full queue drops.
        this.#transmit(segment, now)
      }
      return Consumed
    }
    if (flags & CHECKSUM_FLAGS && (ipv6 ? this.offloads.txChecksum.tcp6 : this.offloads.txChecksum.tcp)) {
      if (this.outbound.settings.corrupt > 0) {
        // The wire may damage the frame: complete the checksums so the receiver can tell.
        completeChecksums(buffer)
      } else {
        // A lossless software link, as Linux's veth and loopback: the checksums are never computed and
        // the frame arrives flagged as trusted (CHECKSUM_PARTIAL), so neither end spends time on them.
        buffer.offloadFlags = (flags & ~CHECKSUM_FLAGS) | OffloadFlags.RX_IP_CHECKSUM_GOOD | OffloadFlags.RX_L4_CHECKSUM_PARTIAL
      }
    }
    return Continue
  }

  #drop(buffer: PacketBuffer, reason: DropReason): TxResult {
    this.stats.drops[reason]++
    buffer.pool.free(buffer)
    return Consumed
  }

  onReadable(listener: (() => void) | undefined): void {
    this.inbound.readableListener = listener
    this.inbound.armReadable(this.#busyPoll)
  }

  onWritable(listener: (() => void) | undefined): void {
    this.outbound.writableListener = listener
    this.outbound.armWritable(this.#busyPoll)
  }

  capture(sink: CaptureSink | undefined): void {
    this.#capture = sink
  }

  /** Frames on their way to this port. */
  get pendingRx(): number {
    return this.inbound.inFlight.size
  }

  /** When the next frame becomes receivable, or `undefined` when none is in flight. */
  nextRxAt(): Micros | undefined {
    return this.inbound.inFlight.size > 0 ? this.inbound.inFlight.headTime() : undefined
  }

  close(): void {
    this.owner.close()
  }

  /** @internal */
  markClosed(): void {
    this.#closed = true
  }
}

/**
 * Two {@link MemoryPort}s joined by an emulated link. Create with {@link createMemoryLink}.
 */
export class MemoryLink {
  readonly a: MemoryPort
  readonly b: MemoryPort
  readonly clock: Clock
  /** Whether the link carries frames; a down link drops every transmitted frame (`linkDown`). */
  up = true
  readonly #aToB: LinkDirection
  readonly #bToA: LinkDirection
  readonly #base: LinkImpairments
  #closed = false

  /** @internal */
  constructor(options: MemoryLinkOptions = {}) {
    const index = linkCounter++
    this.clock = options.clock ?? realClock
    const seed = checkInteger('seed', options.seed ?? 1, -2147483648, 4294967295) >>> 0
    const mtu = checkInteger('mtu', options.mtu ?? 1500, 68, 65535)
    const names = options.names ?? [`memory${index}.a`, `memory${index}.b`]
    const macs = options.macs ?? [defaultMac(index, 1), defaultMac(index, 2)]
    for (const mac of macs) {
      if (!(mac instanceof Uint8Array) || mac.byteLength !== 6) {
        throw new DpdkIoError('ERR_INVALID_CONFIG', 'macs must be two 6-byte Uint8Arrays')
      }
    }
    this.#base = options.impairments ?? {}
    this.#aToB = new LinkDirection(this.clock, seed, 0)
    this.#bToA = new LinkDirection(this.clock, seed, 1)
    this.#aToB.configure(resolveImpairments({ ...this.#base, ...options.aToB }, 'aToB'))
    this.#bToA.configure(resolveImpairments({ ...this.#base, ...options.bToA }, 'bToA'))
    const info = (name: string, mac: Uint8Array, speed: number): LinkInfo =>
      Object.freeze({
        name,
        mtu,
        mac: Uint8Array.from(mac),
        maxFrameSize: mtu + ETHERNET_HEADER,
        speed: speed === Number.POSITIVE_INFINITY ? undefined : speed,
      })
    const offloads = offloadCapabilities(options.offloads)
    this.a = new MemoryPort(info(names[0], macs[0], this.#aToB.settings.rate), offloads, this.clock, this, this.#aToB, this.#bToA)
    this.b = new MemoryPort(info(names[1], macs[1], this.#bToA.settings.rate), offloads, this.clock, this, this.#bToA, this.#aToB)
  }

  /**
   * Change the impairments of one or both directions at run time; frames already in flight keep their fate.
   * Unset fields take their defaults (not the previous values).
   */
  configure(direction: LinkDirectionName | 'both', impairments: LinkImpairments): void {
    if (direction !== 'bToA') this.#aToB.configure(resolveImpairments(impairments, 'aToB'))
    if (direction !== 'aToB') this.#bToA.configure(resolveImpairments(impairments, 'bToA'))
  }

  /** The validated settings of one direction, defaults filled in. */
  settings(direction: LinkDirectionName): Readonly<ResolvedImpairments> {
    return this.#direction(direction).settings
  }

  /** Counters of one direction. */
  stats(direction: LinkDirectionName): Readonly<LinkDirectionStats> {
    return this.#direction(direction).stats
  }

  /** Frames queued or serialising in one direction's transmitter. */
  queued(direction: LinkDirectionName): { packets: number; bytes: number } {
    const d = this.#direction(direction)
    d.drainDepartures(this.clock.now())
    return { packets: d.queuedPackets, bytes: d.queuedBytes }
  }

  /** Free every frame in flight, cancel wake-ups; both ports refuse further transmits. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#aToB.close()
    this.#bToA.close()
    this.a.markClosed()
    this.b.markClosed()
  }

  #direction(direction: LinkDirectionName): LinkDirection {
    return direction === 'aToB' ? this.#aToB : this.#bToA
  }
}

/**
 * Two ports joined by an emulated link.
 *
 * @example
 * ```ts
 * import { BufferPool, VirtualClock, createMemoryLink } from '@mtcp/dpdk-io'
 * const clock = new VirtualClock()
 * const link = createMemoryLink({ clock, seed: 7, impairments: { rate: 100e6, delay: 10_000, loss: 0.01 } })
 * const pool = new BufferPool({ count: 64 })
 * const frame = pool.alloc()!.setFrame(new Uint8Array(60))
 * link.a.txBurst([frame], 1)
 * clock.advanceBy(20_000)
 * const received: PacketBuffer[] = []
 * link.b.rxBurst(received, 32) // 1 (or 0 if the 1% loss hit it)
 * ```
 */
export function createMemoryLink(options: MemoryLinkOptions = {}): MemoryLink {
  return new MemoryLink(options)
}

function defaultMac(index: number, end: number): Uint8Array {
  return Uint8Array.of(0x02, 0x00, (index >>> 16) & 0xff, (index >>> 8) & 0xff, index & 0xff, end)
}
