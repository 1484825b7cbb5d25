/**
 * The memory backend of a cluster: an in-memory link between one "host" port (a peer, in any thread)
 * and a multi-queue port whose queues live in other threads, one per worker, as a NIC with receive-side
 * scaling hands each core its own queue. Frames cross threads through {@link RingProducer} /
 * {@link RingConsumer} rings in shared memory (copied in and out, never a message per frame); the host
 * side dispatches each frame it sends by {@link FlowSteering} (Toeplitz hash, redirection table).
 *
 * Like Linux's veth, the link is lossless and trusts its own checksums: a frame whose checksums were left
 * to the port arrives flagged as checksum-good (CHECKSUM_PARTIAL), so neither end computes them. There is
 * no rate, delay or loss: that is `createMemoryLink`'s job; this one spreads flows over threads.
 * @module
 */
import {
  BufferPool,
  type CaptureSink,
  type Clock,
  createPortStats,
  DpdkIoError,
  type LinkInfo,
  type OffloadCapabilities,
  OffloadFlags,
  type PacketBuffer,
  type Port,
  type PortStats,
  realClock,
} from '@mtcp/dpdk-io'
import { FlowSteering } from './flow-hash.js'
import { createDoorbellBuffer, createRingBuffer, Doorbell, largestFrame, RingConsumer, RingProducer } from './shared-ring.js'

const ETHERNET_HEADER = 14
const TX_CHECKSUMS = OffloadFlags.TX_IP_CHECKSUM | OffloadFlags.TX_TCP_CHECKSUM
const TRUSTED = OffloadFlags.RX_IP_CHECKSUM_GOOD | OffloadFlags.RX_L4_CHECKSUM_PARTIAL

/** Options of {@link createMultiQueueLink}. */
export interface MultiQueueLinkOptions {
  /** Queues on the multi-queue side, one per worker, in [1, 128]. */
  queues: number
  /** IP MTU, in [576, 9000]. Default 1500. */
  mtu?: number
  /** Bytes of each ring (one per queue and direction), a power of two. Default 4 MiB. */
  ringBytes?: number
  /** The host port's MAC. Default 02:00:00:00:00:02. */
  hostMac?: Uint8Array
  /** The multi-queue side's MAC (every queue shares it, as the queues of one NIC do). Default 02:00:00:00:00:01. */
  queueMac?: Uint8Array
  /** The Toeplitz key. Default the symmetric key. */
  key?: Uint8Array
}

/** One queue of a {@link MultiQueueLink}, to hand to a worker (structured-clonable: shared memory and numbers). */
export interface QueueEndpoint {
  readonly index: number
  readonly queues: number
  readonly mtu: number
  readonly mac: Uint8Array
  /** Frames host → this queue. */
  readonly inbound: SharedArrayBuffer
  /** Frames this queue → host. */
  readonly outbound: SharedArrayBuffer
  /** The queue thread's doorbell. */
  readonly doorbell: SharedArrayBuffer
  /** The host's doorbell. */
  readonly hostDoorbell: SharedArrayBuffer
  /** The Toeplitz key, so the worker computes the queues as the host does. */
  readonly key: Uint8Array | undefined
}

function linkInfo(name: string, mtu: number, mac: Uint8Array): LinkInfo {
  return Object.freeze({ name, mtu, mac, maxFrameSize: mtu + ETHERNET_HEADER, speed: undefined })
}

const OFFLOADS: OffloadCapabilities = Object.freeze({
  txChecksum: Object.freeze({ ipv4: true, tcp: true, udp: false, tcp6: true }),
  rxChecksum: true,
  segmentation: Object.freeze({ tcp4: false, tcp6: false, maxSize: 0 }),
  largeReceive: false,
})

/** Frames moved by one direction of one ring pair, as the host sees them. */
export interface QueueCounters {
  /** Frames the host dispatched to this queue. */
  toQueue: number
  /** Frames the host received from this queue. */
  fromQueue: number
}

/**
 * Shared by both kinds of port here: receive from one or more rings into pool buffers, transmit into a
 * ring chosen per frame.
 */
abstract class RingPort implements Port {
  readonly stats: PortStats = createPortStats()
  readonly offloads = OFFLOADS
  busyPoll = false
  protected readonly pool: BufferPool
  protected readonly doorbell: Doorbell
  #readable: (() => void) | undefined = undefined
  #writable: (() => void) | undefined = undefined
  #capture: CaptureSink | undefined = undefined
  #next = 0
  #keepAlive: NodeJS.Timeout | undefined = undefined
  protected closed = false

  constructor(
    readonly link: LinkInfo,
    readonly clock: Clock,
    doorbell: SharedArrayBuffer,
    protected readonly consumers: readonly RingConsumer[],
    pool: BufferPool | undefined,
  ) {
    this.doorbell = new Doorbell(doorbell)
    this.pool = pool ?? new BufferPool({ count: 8192, dataRoom: Math.max(2048, link.maxFrameSize + 64) })
  }

  /** The ring a frame goes out on. */
  protected abstract producerFor(buffer: PacketBuffer): RingProducer | undefined
  /** The rings a frame goes out on all at once (a flooded frame), or undefined for one ring ({@link producerFor}). */
  protected floodTargets(_buffer: PacketBuffer): readonly RingProducer[] | undefined {
    return undefined
  }
  /** Count a frame sent on `producer` / received from consumer `index`. */
  protected countTx(_producer: RingProducer): void {}
  protected countRx(_index: number): void {}

  rxBurst(bufs: PacketBuffer[], max: number): number {
    if (this.closed) return 0
    const consumers = this.consumers
    const capture = this.#capture
    const now = capture === undefined ? 0 : this.clock.now()
    let n = 0
    // Round-robin over the rings, a frame at a time, so no queue starves another.
    let idle = 0
    while (n < max && idle < consumers.length) {
      const index = this.#next
      this.#next = index + 1 === consumers.length ? 0 : index + 1
      const consumer = consumers[index]!
      const length = consumer.peekLength()
      if (length < 0) {
        idle++
        continue
      }
      idle = 0
      const buffer = this.pool.alloc()
      if (buffer === undefined) {
        this.stats.drops.noBuffer++
        break
      }
      if (length > buffer.data.byteLength - buffer.offset) {
        consumer.skip()
        this.stats.drops.oversize++
        buffer.release()
        continue
      }
      buffer.length = consumer.read(buffer.data, buffer.offset)
      buffer.offloadFlags = consumer.flags
      this.stats.rxPackets++
      this.stats.rxBytes += buffer.length
      this.countRx(index)
      if (capture !== undefined) capture.record(buffer.data, buffer.offset, buffer.length, now, 'rx')
      bufs[n++] = buffer
    }
    for (const consumer of consumers) consumer.release()
    if (n < max) this.#armReadable()
    return n
  }

  txBurst(bufs: PacketBuffer[], count: number): number {
    if (this.closed) throw new DpdkIoError('ERR_PORT_CLOSED', `port ${this.link.name} is closed`)
    const capture = this.#capture
    const now = capture === undefined ? 0 : this.clock.now()
    let i = 0
    let blocked: RingProducer | undefined
    const touched = this.touched
    touched.length = 0
    for (; i < count; i++) {
      const buffer = bufs[i]!
      if (buffer.length < ETHERNET_HEADER || buffer.length > this.link.maxFrameSize) {
        this.stats.drops[buffer.length < ETHERNET_HEADER ? 'runt' : 'oversize']++
        buffer.release()
        continue
      }
      const flood = this.floodTargets(buffer)
      if (flood !== undefined) {
        // Every live queue gets a copy (see HostPort.floodTargets); a full ring loses its copy (ND retransmits).
        const flags = buffer.offloadFlags & TX_CHECKSUMS ? TRUSTED : 0
        for (const target of flood) {
          if (target.write(buffer.data, buffer.offset, buffer.length, flags)) {
            if (!touched.includes(target)) touched.push(target)
            this.countTx(target)
          } else this.stats.drops.queueFull++
        }
        this.stats.txPackets++
        this.stats.txBytes += buffer.length
        if (capture !== undefined) capture.record(buffer.data, buffer.offset, buffer.length, now, 'tx')
        buffer.release()
        continue
      }
      const producer = this.producerFor(buffer)
      if (producer === undefined) {
        // The queue is gone (its worker died): as a frame on a dead link.
        this.stats.drops.linkDown++
        buffer.release()
        continue
      }
      const flags = buffer.offloadFlags & TX_CHECKSUMS ? TRUSTED : 0
      if (!producer.write(buffer.data, buffer.offset, buffer.length, flags)) {
        blocked = producer
        break
      }
      if (!touched.includes(producer)) touched.push(producer)
      this.stats.txPackets++
      this.stats.txBytes += buffer.length
      this.countTx(producer)
      if (capture !== undefined) capture.record(buffer.data, buffer.offset, buffer.length, now, 'tx')
      buffer.release()
    }
    for (const producer of touched) producer.publish()
    if (blocked !== undefined) {
      blocked.publish()
      if (this.#writable !== undefined && !this.busyPoll) blocked.waitForSpace(() => this.#writable?.())
    }
    return i
  }

  /** Producers written in the current burst, published once at its end. */
  private readonly touched: RingProducer[] = []

  #armReadable(): void {
    if (this.#readable === undefined || this.busyPoll || this.closed) return
    this.doorbell.sleep(
      () => this.consumers.every((consumer) => consumer.isEmpty()),
      () => this.#readable?.(),
    )
  }

  onReadable(listener: (() => void) | undefined): void {
    this.#readable = listener
    // A pending Atomics.waitAsync does not keep a thread's event loop alive; a port someone listens to
    // should, as a socket does.
    if (listener !== undefined && this.#keepAlive === undefined && !this.closed) this.#keepAlive = setInterval(() => {}, 1 << 30)
    if (listener === undefined && this.#keepAlive !== undefined) {
      clearInterval(this.#keepAlive)
      this.#keepAlive = undefined
    }
    this.#armReadable()
  }

  onWritable(listener: (() => void) | undefined): void {
    this.#writable = listener
  }

  capture(sink: CaptureSink | undefined): void {
    this.#capture = sink
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.onReadable(undefined)
    this.#writable = undefined
    this.doorbell.close()
  }
}

/**
 * The single-queue end of a {@link MultiQueueLink}: what it sends is spread over the queues by flow;
 * what the queues send arrives here.
 */
export class HostPort extends RingPort {
  /** Per queue: frames dispatched to it and received from it. */
  readonly queueCounters: QueueCounters[]
  readonly #producers: RingProducer[]
  readonly #steering: FlowSteering
  /** The queue {@link producerFor} chose last. */
  #lastQueue = 0

  /** @internal */
  constructor(link: LinkInfo, clock: Clock, doorbell: SharedArrayBuffer, consumers: RingConsumer[], producers: RingProducer[], steering: FlowSteering, pool: BufferPool | undefined) {
    super(link, clock, doorbell, consumers, pool)
    this.#producers = producers
    this.#steering = steering
    this.queueCounters = producers.map(() => ({ toQueue: 0, fromQueue: 0 }))
  }

  protected producerFor(buffer: PacketBuffer): RingProducer | undefined {
    const queue = this.#steering.queueOfFrame(buffer.data, buffer.offset, buffer.length)
    this.#lastQueue = queue
    return this.#steering.isAlive(queue) ? this.#producers[queue] : undefined
  }

  /**
   * IPv6 Neighbor Discovery (ICMPv6 types 133 to 137, RFC 4861 §4) goes to every live queue. The workers are
   * hosts that share one address and one MAC: a neighbour's advertisement answers whichever worker
   * solicited (RFC 4861 §7.2.5: one with no entry for the target ignores it), and its solicitation teaches
   * every worker its link-layer address (§7.2.3) and is answered by each (duplicate advertisements are
   * harmless, §7.2.6). By the address pair alone, as RSS would place it, only one worker would ever learn
   * a neighbour (IPv4 shares ARP entries between the workers instead: worker-hooks.ts).
   */
  protected override floodTargets(buffer: PacketBuffer): readonly RingProducer[] | undefined {
    const data = buffer.data
    const at = buffer.offset
    if (buffer.length < 14 + 40 + 4 || data[at + 12] !== 0x86 || data[at + 13] !== 0xdd || data[at + 14 + 6] !== 58) return undefined
    const type = data[at + 54]!
    if (type < 133 || type > 137) return undefined
    const live = this.#live
    live.length = 0
    for (let i = 0; i < this.#producers.length; i++) if (this.#steering.isAlive(i)) live.push(this.#producers[i]!)
    return live
  }

  /** The live queues' producers, for {@link floodTargets} (reused). */
  readonly #live: RingProducer[] = []

  protected override countTx(producer: RingProducer): void {
    const index = this.#producers[this.#lastQueue] === producer ? this.#lastQueue : this.#producers.indexOf(producer)
    this.queueCounters[index]!.toQueue++
  }

  protected override countRx(index: number): void {
    this.queueCounters[index]!.fromQueue++
  }
}

/** One queue of the multi-queue end of a {@link MultiQueueLink}, opened in its worker by {@link openQueuePort}. */
export class QueuePort extends RingPort {
  readonly index: number
  readonly #producer: RingProducer

  /** @internal */
  constructor(link: LinkInfo, clock: Clock, endpoint: QueueEndpoint, pool: BufferPool | undefined) {
    super(link, clock, endpoint.doorbell, [new RingConsumer(endpoint.inbound)], pool)
    this.index = endpoint.index
    this.#producer = new RingProducer(endpoint.outbound, new Doorbell(endpoint.hostDoorbell))
  }

  protected producerFor(): RingProducer {
    return this.#producer
  }
}

/** A link between one {@link HostPort} and N {@link QueuePort}s. Create with {@link createMultiQueueLink}. */
export interface MultiQueueLink {
  /** The single-queue end (a peer). Use it in the thread that created the link. */
  readonly host: HostPort
  /** One endpoint per queue: post each to its worker and open it there with {@link openQueuePort}. */
  readonly endpoints: readonly QueueEndpoint[]
  /** The flow steering the host dispatches with. */
  readonly steering: FlowSteering
  /** Stop dispatching to queue `index` (its worker died): its flows go to the live queues, which reset them. */
  markDead(index: number): void
}

function checkMac(name: string, mac: Uint8Array | undefined, fallback: number): Uint8Array {
  if (mac === undefined) return Uint8Array.of(0x02, 0, 0, 0, 0, fallback)
  if (!(mac instanceof Uint8Array) || mac.byteLength !== 6) throw new DpdkIoError('ERR_INVALID_CONFIG', `${name} must be a 6-byte Uint8Array`)
  return Uint8Array.from(mac)
}

/** Create a {@link MultiQueueLink}. */
export function createMultiQueueLink(options: MultiQueueLinkOptions, host: { clock?: Clock; pool?: BufferPool } = {}): MultiQueueLink {
  const queues = options.queues
  if (!Number.isInteger(queues) || queues < 1 || queues > 128) throw new DpdkIoError('ERR_INVALID_CONFIG', `queues must be an integer in [1, 128], got ${String(queues)}`)
  const mtu = options.mtu ?? 1500
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 9000) throw new DpdkIoError('ERR_INVALID_CONFIG', `mtu must be an integer in [576, 9000], got ${String(mtu)}`)
  const ringBytes = options.ringBytes ?? 4 << 20
  let probe: SharedArrayBuffer
  try {
    probe = createRingBuffer(ringBytes)
  } catch (error) {
    throw new DpdkIoError('ERR_INVALID_CONFIG', `ringBytes: ${(error as Error).message}`)
  }
  if (largestFrame(ringBytes) < mtu + ETHERNET_HEADER) throw new DpdkIoError('ERR_INVALID_CONFIG', `ringBytes ${ringBytes} is too small for ${mtu + ETHERNET_HEADER}-byte frames`)
  const hostMac = checkMac('hostMac', options.hostMac, 2)
  const queueMac = checkMac('queueMac', options.queueMac, 1)
  const steering = new FlowSteering(queues, options.key)
  const hostDoorbell = createDoorbellBuffer()
  const endpoints: QueueEndpoint[] = []
  for (let index = 0; index < queues; index++) {
    endpoints.push(
      Object.freeze({
        index,
        queues,
        mtu,
        mac: queueMac,
        inbound: index === 0 ? probe : createRingBuffer(ringBytes),
        outbound: createRingBuffer(ringBytes),
        doorbell: createDoorbellBuffer(),
        hostDoorbell,
        key: options.key === undefined ? undefined : Uint8Array.from(options.key),
      }),
    )
  }
  const producers = endpoints.map((endpoint) => new RingProducer(endpoint.inbound, new Doorbell(endpoint.doorbell)))
  const consumers = endpoints.map((endpoint) => new RingConsumer(endpoint.outbound))
  const hostPort = new HostPort(linkInfo('mq.host', mtu, hostMac), host.clock ?? realClock, hostDoorbell, consumers, producers, steering, host.pool)
  return {
    host: hostPort,
    endpoints,
    steering,
    markDead(index: number) {
      steering.markDead(index)
    },
  }
}

/** Open one queue of a {@link MultiQueueLink} as a {@link Port}, in the thread that will use it. */
export function openQueuePort(endpoint: QueueEndpoint, options: { clock?: Clock; pool?: BufferPool } = {}): QueuePort {
  return new QueuePort(linkInfo(`mq.q${endpoint.index}`, endpoint.mtu, endpoint.mac), options.clock ?? realClock, endpoint, options.pool)
}
