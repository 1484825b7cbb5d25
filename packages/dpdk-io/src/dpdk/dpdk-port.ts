/**
 * The `dpdk` backend: an ethdev port of DPDK (a NIC bound to vfio-pci, or a virtual device such as
 * `net_af_xdp`, `net_af_packet`, `net_tap`) through the optional addon `@mtcp/dpdk-io-dpdk`.
 *
 * Zero copy (decision record 0030): the port's {@link BufferPool}s are DPDK mempools. JavaScript sees
 * each mbuf's buffer through a view onto one external `ArrayBuffer` per memory chunk of the mempool;
 * `rxBurst` hands the received mbufs themselves to the caller and `txBurst` gives the caller's mbufs to
 * the device. Buffer ownership follows decision record 0002: a buffer the device holds is not the
 * application's, and freeing it then is a double free.
 * @module
 */
import { BufferPool, OffloadFlags, type PacketBuffer } from '../buffer-pool.js'
import { type Clock, realClock } from '../clock.js'
import { checkInteger, DpdkIoError } from '../errors.js'
import { type CaptureSink, createPortStats, type LinkInfo, type OffloadCapabilities, type Port, type PortStats } from '../port.js'

/** The calls this backend needs from `@mtcp/dpdk-io-dpdk` (its `DpdkBinding`). @internal */
export interface DpdkNative {
  ealInit(args: string[] | undefined): void
  threadRegister(): number
  portCount(): number
  portByName(name: string): number
  portInfo(port: number): {
    name: string
    driver: string
    mac: Uint8Array
    mtu: number
    maxRxPktLen: number
    maxRxQueues: number
    maxTxQueues: number
    txTcpTso: boolean
    retaSize?: number
    hashKeySize?: number
  }
  poolCreate(name: string, count: number, dataRoom: number, cache: number): { id: number; count: number; chunks: ArrayBuffer[]; slots: Int32Array }
  poolAttach(pool: number): { id: number; count: number; chunks: ArrayBuffer[]; slots: Int32Array }
  poolAlloc(pool: number, count: number, out: Int32Array): number
  poolFree(pool: number, count: number, indices: Int32Array): void
  poolAvailable(pool: number): number
  portStart(
    port: number,
    options: { rxQueues: number; txQueues: number; rxDescriptors: number; txDescriptors: number; mtu: number; pools: number[]; txChecksum: boolean; tso: boolean; rss: boolean; rssKey?: Uint8Array },
  ): DpdkStartedOffloads
  portStop(port: number): void
  rxBurst(port: number, queue: number, max: number, out: Int32Array): number
  txBurst(port: number, queue: number, pool: number, count: number, frames: Int32Array): number
  linkStatus(port: number): { up: boolean; speed: number; fullDuplex: boolean }
  stats(port: number): { imissed: number; ierrors: number; oerrors: number; rxNoMbuf: number; copies: number; xstats: Record<string, number> } & Record<string, unknown>
  rssReta(port: number, queues: number): number
}

/** What the device enabled when it was started (the offloads, and RSS). */
export interface DpdkStartedOffloads {
  /** Transmit checksum offloads: IPv4 header, TCP, UDP. */
  txIpv4Checksum: boolean
  txTcpChecksum: boolean
  txUdpChecksum: boolean
  /** TCP segmentation offload. */
  tso: boolean
  /** The device checks received checksums. */
  rxChecksum: boolean
  /** RSS spreads flows over the queues (older addons leave it out: false). */
  rss?: boolean
  /** RSS hashes with the key given. */
  rssKey?: boolean
}

/** Options of {@link openDpdkPort}. */
export interface DpdkPortOptions {
  /**
   * EAL arguments, as one string split at white space or as an array (`--no-huge -m 256 --no-pci -l 0
   * --vdev=net_af_xdp0,iface=veth1`). The EAL is initialised once per process: later opens may omit
   * them or must pass the same (else `ERR_DPDK`).
   */
  eal?: string | readonly string[]
  /** The ethdev port: its id, or its device name (`net_af_xdp0`, `0000:01:00.0`). Default 0. */
  port?: number | string
  /** The stack's MAC address. Default the device's. */
  mac?: Uint8Array
  /** IP MTU, in [68, 9000]. Default 1500 (set on the device where it allows). */
  mtu?: number
  /** Use the checksum and segmentation offloads the device reports. Default true. Checksums the device cannot do are completed in C. */
  offloads?: boolean
  /** mbufs in the receive pool, in [256, 1048576]. Default 4096. */
  poolSize?: number
  /** mbufs in the transmit pool when the device has TSO (64 KB each), in [64, 65536]. Default 512. */
  tsoPoolSize?: number
  /** RX descriptors, default 1024; TX descriptors, default 1024 (the driver may adjust both). */
  rxDescriptors?: number
  txDescriptors?: number
  /** Most frames per receive call, in [1, 512]. Default 64. */
  burst?: number
  /**
   * Without busy polling, how long the port sleeps once it found nothing for a while, in ms [0, 1000].
   * DPDK devices have no wake-up the event loop can wait on, so the port polls: every turn of the event
   * loop while frames come, then every `idleSleepMs`. Default 1.
   */
  idleSleepMs?: number
  /** The clock for capture timestamps. Default the real clock. */
  clock?: Clock
  /** The package that holds the addon. Default `@mtcp/dpdk-io-dpdk`. */
  nativePackage?: string
}

const ETHERNET_HEADER = 14
const RX_STRIDE = 4
const TX_STRIDE = 8
const RX_CHAINED = 1 << 16
const RX_CHECKSUM_BAD = 1 << 17
/** DPDK's default headroom in front of a received frame (RTE_PKTMBUF_HEADROOM). */
const MBUF_HEADROOM = 128
/** Largest mbuf buffer: `buf_len` is 16 bits. */
const MBUF_MAX = 65_535
/** Empty polls in a row before the port stops polling every event-loop turn. */
const IDLE_TURNS = 256
/** @internal */
export const NATIVE_PACKAGE = '@mtcp/dpdk-io-dpdk'

let poolSerial = 0

/** @internal */
export async function loadDpdk(packageName: string): Promise<DpdkNative> {
  let module: { dpdkBinding(): DpdkNative }
  try {
    // A variable, so bundlers leave the optional package to run time.
    module = (await import(packageName)) as { dpdkBinding(): DpdkNative }
  } catch (error) {
    throw new DpdkIoError(
      'ERR_DPDK_UNAVAILABLE',
      `the dpdk backend needs the optional package ${packageName} (Linux only), built where libdpdk is found: install libdpdk-dev (apt-get install dpdk libdpdk-dev libxdp-dev), then \`npm i ${packageName}\` (${(error as Error).message})`,
      { cause: error },
    )
  }
  try {
    return module.dpdkBinding()
  } catch (error) {
    throw new DpdkIoError('ERR_DPDK_UNAVAILABLE', (error as Error).message, { cause: error })
  }
}

/** Split an EAL argument string at white space (no quoting: EAL arguments have no spaces). */
export function parseEalArgs(eal: string | readonly string[]): string[] {
  if (typeof eal === 'string') return eal.split(/\s+/).filter((arg) => arg.length > 0)
  if (!Array.isArray(eal) || !eal.every((arg) => typeof arg === 'string')) throw new DpdkIoError('ERR_INVALID_CONFIG', 'eal must be a string or an array of strings')
  return [...eal]
}

/** @internal Call the addon, turning its errors into `DpdkIoError`s with code `ERR_DPDK` (argument errors stay `ERR_INVALID_CONFIG`). */
export function dpdk<T>(call: () => T): T {
  try {
    return call()
  } catch (error) {
    const code = (error as { code?: string }).code
    throw new DpdkIoError(code === 'ERR_INVALID_ARG' ? 'ERR_INVALID_CONFIG' : 'ERR_DPDK', (error as Error).message, { cause: error })
  }
}

/** @internal The numeric options of {@link openDpdkPort} (and of `startDpdkQueues`), checked, with their defaults. */
export function checkDpdkOptions(options: DpdkPortOptions) {
  const mtu = checkInteger('mtu', options.mtu ?? 1500, 68, 9000)
  const poolSize = checkInteger('poolSize', options.poolSize ?? 4096, 256, 1_048_576)
  const tsoPoolSize = checkInteger('tsoPoolSize', options.tsoPoolSize ?? 512, 64, 65_536)
  const rxDescriptors = checkInteger('rxDescriptors', options.rxDescriptors ?? 1024, 32, 65_535)
  const txDescriptors = checkInteger('txDescriptors', options.txDescriptors ?? 1024, 32, 65_535)
  const burst = checkInteger('burst', options.burst ?? 64, 1, 512)
  const idleSleepMs = checkInteger('idleSleepMs', options.idleSleepMs ?? 1, 0, 1000)
  if (options.mac !== undefined && (!(options.mac instanceof Uint8Array) || options.mac.length !== 6)) throw new DpdkIoError('ERR_INVALID_CONFIG', 'mac must be 6 bytes')
  const eal = options.eal === undefined ? undefined : parseEalArgs(options.eal)
  return { mtu, poolSize, tsoPoolSize, rxDescriptors, txDescriptors, burst, idleSleepMs, eal }
}

/** @internal Receive mbufs hold one MTU-sized frame after DPDK's headroom. */
export function receiveRoom(mtu: number): number {
  return MBUF_HEADROOM + Math.max(2048, mtu + ETHERNET_HEADER + 64)
}

/** @internal Bytes of a transmit mbuf that holds a TSO super segment (`buf_len` is 16 bits). */
export const TSO_ROOM = MBUF_MAX

/** @internal A mempool name unique in the process. */
export function poolName(kind: string): string {
  return `mtcp_${kind}${process.pid % 100000}_${poolSerial++}`
}

/**
 * Open a DPDK ethdev port as a {@link Port}: initialise the EAL (once per process), configure one RX and
 * one TX queue, enable the offloads the device has, start it, and hand out its mbufs as the port's
 * {@link Port.devicePool}. Throws `ERR_DPDK_UNAVAILABLE` where the addon was not built (no libdpdk-dev), `ERR_DPDK`
 * with DPDK's reason when the EAL or the device refuses, and `ERR_INVALID_CONFIG` for bad options.
 *
 * @example
 * ```ts
 * const port = await openDpdkPort({ eal: '--no-huge -m 256 --no-pci -l 0 --vdev=net_af_xdp0,iface=veth1', port: 'net_af_xdp0' })
 * ```
 */
export async function openDpdkPort(options: DpdkPortOptions = {}): Promise<DpdkPort> {
  const { mtu, poolSize, tsoPoolSize, rxDescriptors, txDescriptors, burst, idleSleepMs, eal } = checkDpdkOptions(options)
  const native = await loadDpdk(options.nativePackage ?? NATIVE_PACKAGE)
  dpdk(() => native.ealInit(eal))
  const portId = resolvePort(native, options.port ?? 0)
  const info = dpdk(() => native.portInfo(portId))
  const offloads = options.offloads ?? true
  const tag = `${process.pid % 100000}_${poolSerial++}`
  // Receive mbufs hold one MTU-sized frame; with TSO, transmit mbufs hold a 64 KB super segment.
  const rxRoom = MBUF_HEADROOM + Math.max(2048, mtu + ETHERNET_HEADER + 64)
  // Mempools live as long as the process (JavaScript holds views onto them): a port opened again reuses its pools.
  const rxPool = reusePool(`${portId}/rx/${poolSize}/${rxRoom}`, () => new DpdkBufferPool(native, dpdk(() => native.poolCreate(`mtcp_rx${tag}`, poolSize, rxRoom, 256))))
  const started = dpdk(() =>
    native.portStart(portId, {
      rxQueues: 1,
      txQueues: 1,
      rxDescriptors,
      txDescriptors,
      mtu,
      pools: [rxPool.id],
      txChecksum: offloads,
      // DPDK 22.11's net_tap reports TSO but refuses (tx_errors) a super segment whose MSS plus all headers,
      // Ethernet's included, exceeds its IP MTU, so full-sized segments never leave: not used there.
      tso: offloads && info.driver !== 'net_tap',
      rss: false,
    }),
  )
  const txPool = started.tso
    ? reusePool(`${portId}/tx/${tsoPoolSize}`, () => new DpdkBufferPool(native, dpdk(() => native.poolCreate(`mtcp_tx${tag}`, tsoPoolSize, MBUF_MAX, 64))))
    : rxPool
  return new DpdkPort(native, portId, 0, info.name, info.mac, rxPool, txPool, started, { ...options, mtu, burst, idleSleepMs })
}

const pools = new Map<string, DpdkBufferPool>()

/** @internal */
export function reusePool(key: string, create: () => DpdkBufferPool): DpdkBufferPool {
  let pool = pools.get(key)
  if (pool === undefined) {
    pool = create()
    pools.set(key, pool)
  }
  return pool
}

/** @internal */
export function resolvePort(native: DpdkNative, port: number | string): number {
  if (typeof port === 'string') {
    const id = native.portByName(port)
    if (id < 0) throw new DpdkIoError('ERR_INVALID_CONFIG', `no DPDK port named ${JSON.stringify(port).slice(0, 80)} (${native.portCount()} ports; check the EAL's --vdev or -a arguments)`)
    return id
  }
  const count = native.portCount()
  if (!Number.isInteger(port) || port < 0 || port >= count) throw new DpdkIoError('ERR_INVALID_CONFIG', `port must be an integer in [0, ${count - 1}] or a device name, got ${String(port)}`)
  return port
}

/**
 * A {@link BufferPool} whose buffers are the mbufs of a DPDK mempool (zero copy). It keeps a small cache
 * of mbufs taken from the mempool in bulk, as DPDK's per-lcore cache does, so `alloc` and `free` cross
 * into C once per 64 buffers.
 */
export class DpdkBufferPool extends BufferPool {
  /** The mempool's id in the addon. */
  readonly id: number
  /** The external `ArrayBuffer`s over the mempool's memory chunks: every buffer's `data` is a view onto one. */
  readonly chunks: readonly ArrayBuffer[]
  readonly #native: DpdkNative
  readonly #buffers: PacketBuffer[] = []
  readonly #cache = new Int32Array(1024)
  #cached = 0
  readonly #transfer = new Int32Array(512)

  /** @internal */
  constructor(native: DpdkNative, pool: { id: number; chunks: ArrayBuffer[]; slots: Int32Array }) {
    super({ headroom: MBUF_HEADROOM }, { storages: pool.chunks, slots: pool.slots })
    this.#native = native
    this.id = pool.id
    this.chunks = pool.chunks
    // The base class made one PacketBuffer per mbuf; keep them by index (its own free list goes unused).
    this.#buffers = collectBuffers(this)
  }

  override get available(): number {
    return this.#native.poolAvailable(this.id) + this.#cached
  }

  override get inUse(): number {
    return this.count - this.available
  }

  override alloc(): PacketBuffer | undefined {
    if (this.#cached === 0 && !this.#refill(1)) {
      this.stats.allocFailures++
      return undefined
    }
    const buffer = this.#buffers[this.#cache[--this.#cached]!]!
    buffer.free = false
    buffer.reset()
    return buffer
  }

  override allocBulk(out: PacketBuffer[], count: number): boolean {
    if (this.#cached < count && !this.#refill(count - this.#cached)) {
      // More than the cache holds: straight from the mempool, all or none.
      if (count <= this.#cache.length - this.#cached || !this.#allocDirect(out, count)) {
        this.stats.allocFailures++
        return false
      }
      return true
    }
    for (let i = 0; i < count; i++) {
      const buffer = this.#buffers[this.#cache[--this.#cached]!]!
      buffer.free = false
      buffer.reset()
      out[i] = buffer
    }
    return true
  }

  override free(buffer: PacketBuffer): void {
    if (buffer.pool !== this) throw new DpdkIoError('ERR_BUFFER_STATE', 'buffer freed into a pool it does not belong to')
    if (buffer.free) throw new DpdkIoError('ERR_BUFFER_STATE', 'buffer freed twice (or while the device holds it)')
    buffer.free = true
    if (this.#cached === this.#cache.length) this.#flush(this.#cache.length >>> 1)
    this.#cache[this.#cached++] = buffer.index
  }

  /** @internal the device handed mbuf `index` over (received): the application owns it now. */
  fromDevice(index: number, offset: number, length: number): PacketBuffer {
    const buffer = this.#buffers[index]!
    buffer.reset()
    buffer.free = false
    buffer.offset = offset
    buffer.length = length
    return buffer
  }

  /** @internal the device took `buffer` (transmitted): it is not the application's until received again. */
  toDevice(buffer: PacketBuffer): void {
    buffer.free = true
  }

  /** Take at least `need` mbufs from the mempool into the cache, 64 at a time when it has them. */
  #refill(need: number): boolean {
    let want = Math.max(need, 64)
    if (this.#cached + want > this.#cache.length) want = this.#cache.length - this.#cached
    while (want >= need && want > 0) {
      const chunk = Math.min(want, 512)
      if (this.#native.poolAlloc(this.id, chunk, this.#transfer) === chunk) {
        this.#cache.set(this.#transfer.subarray(0, chunk), this.#cached)
        this.#cached += chunk
        if (chunk >= need) return true
        need -= chunk
        want -= chunk
        continue
      }
      want >>>= 1
    }
    return need <= 0
  }

  /** Allocate `count` mbufs into `out` from the mempool directly, 512 at a time; on a shortfall return them all. */
  #allocDirect(out: PacketBuffer[], count: number): boolean {
    let taken = 0
    while (taken < count) {
      const chunk = Math.min(512, count - taken)
      if (this.#native.poolAlloc(this.id, chunk, this.#transfer) !== chunk) break
      for (let i = 0; i < chunk; i++) {
        const buffer = this.#buffers[this.#transfer[i]!]!
        buffer.free = false
        buffer.reset()
        out[taken + i] = buffer
      }
      taken += chunk
    }
    if (taken === count) return true
    for (let done = 0; done < taken; ) {
      const chunk = Math.min(512, taken - done)
      for (let i = 0; i < chunk; i++) {
        const buffer = out[done + i]!
        buffer.free = true
        this.#transfer[i] = buffer.index
      }
      this.#native.poolFree(this.id, chunk, this.#transfer)
      done += chunk
    }
    return false
  }

  /** Give `count` cached mbufs back to the mempool. */
  #flush(count: number): void {
    this.#cached -= count
    this.#native.poolFree(this.id, count, this.#cache.subarray(this.#cached, this.#cached + count))
  }

  /** @internal return every cached mbuf to the mempool (on close). */
  drain(): void {
    while (this.#cached > 0) this.#flush(Math.min(this.#cached, 512))
  }
}

/** Every buffer of a fresh pool, by index (all are in its free list). */
function collectBuffers(pool: BufferPool): PacketBuffer[] {
  const all: PacketBuffer[] = []
  // The base pool's free list holds every buffer once; allocBulk of the base class hands them out.
  const out: PacketBuffer[] = []
  if (!BufferPool.prototype.allocBulk.call(pool, out, pool.count)) throw new DpdkIoError('ERR_DPDK', 'empty mempool')
  for (const buffer of out) all[buffer.index] = buffer
  for (const buffer of out) buffer.free = true
  return all
}

/** A DPDK ethdev queue pair as a {@link Port}. */
export class DpdkPort implements Port {
  readonly link: LinkInfo
  readonly offloads: OffloadCapabilities
  readonly clock: Clock
  /** The transmit pool: allocate frames here and they go to the device without a copy. */
  readonly devicePool: DpdkBufferPool
  /** The receive pool (the same as {@link devicePool} unless the device has TSO). */
  readonly rxPool: DpdkBufferPool
  /** The ethdev port id and the queue this object uses. */
  readonly portId: number
  readonly queue: number
  /** The driver's name for the device (`net_af_xdp0`). */
  readonly deviceName: string
  busyPoll = false
  /** Frame bytes copied on receive or transmit by this port: 0 by construction, counted so tests and benchmarks can check. */
  copies = 0
  /** The DPDK lcore id of the thread polling this queue when `openDpdkQueue` registered it (`rte_thread_register`), else undefined. */
  lcore: number | undefined = undefined
  readonly #stats: PortStats = createPortStats()
  readonly #native: DpdkNative
  readonly #burst: number
  readonly #rx: Int32Array
  readonly #tx: Int32Array
  readonly #idleSleepMs: number
  #readable: (() => void) | undefined = undefined
  #idle = 0
  #timer: NodeJS.Timeout | NodeJS.Immediate | undefined = undefined
  #capture: CaptureSink | undefined = undefined
  #closed = false
  /** One queue of a device others share (a cluster worker's): closing it leaves the device running. */
  readonly #sharedDevice: boolean

  /** @internal */
  constructor(
    native: DpdkNative,
    portId: number,
    queue: number,
    deviceName: string,
    deviceMac: Uint8Array,
    rxPool: DpdkBufferPool,
    txPool: DpdkBufferPool,
    started: DpdkStartedOffloads,
    options: DpdkPortOptions & { mtu: number; burst: number; idleSleepMs: number; sharedDevice?: boolean },
  ) {
    this.#native = native
    this.#sharedDevice = options.sharedDevice === true
    this.portId = portId
    this.queue = queue
    this.deviceName = deviceName
    this.rxPool = rxPool
    this.devicePool = txPool
    this.clock = options.clock ?? realClock
    this.#burst = options.burst
    this.#idleSleepMs = options.idleSleepMs
    this.#rx = new Int32Array(this.#burst * RX_STRIDE)
    this.#tx = new Int32Array(this.#burst * TX_STRIDE)
    const status = native.linkStatus(portId)
    const mtu = options.mtu
    this.link = Object.freeze({
      name: deviceName,
      mtu,
      mac: options.mac ?? Uint8Array.from(deviceMac),
      maxFrameSize: mtu + ETHERNET_HEADER,
      speed: status.speed > 0 ? status.speed * 1e6 : undefined,
    })
    // Checksums the device cannot complete are completed in C before the burst (never in JavaScript). The C
    // side prepares IPv4 headers only (RTE_MBUF_F_TX_IPV4): no checksum or TSO offload for IPv6 yet.
    this.offloads = Object.freeze({
      txChecksum: Object.freeze({ ipv4: true, tcp: true, udp: true, tcp6: false }),
      rxChecksum: started.rxChecksum,
      segmentation: Object.freeze({ tcp4: started.tso, tcp6: false, maxSize: started.tso ? MBUF_MAX - MBUF_HEADROOM - ETHERNET_HEADER : 0 }),
      largeReceive: false,
    })
  }

  rxBurst(bufs: PacketBuffer[], max: number): number {
    if (this.#closed) return 0
    const rx = this.#rx
    const n = this.#native.rxBurst(this.portId, this.queue, Math.min(max, this.#burst), rx)
    if (n === 0) {
      this.#idle++
      return 0
    }
    this.#idle = 0
    const now = this.#capture === undefined ? 0 : this.clock.now()
    const pool = this.rxPool
    let delivered = 0
    for (let i = 0; i < n; i++) {
      const at = i * RX_STRIDE
      const flags = rx[at + 3]!
      const buffer = pool.fromDevice(rx[at]!, rx[at + 1]!, rx[at + 2]!)
      if (flags & RX_CHAINED) {
        // Larger than one mbuf (only with an MTU above the pool's room): counted and dropped.
        this.#stats.drops.oversize++
        buffer.release()
        continue
      }
      // A bad checksum is left to the stack, which verifies and counts it; a good one spares it the work.
      if ((flags & RX_CHECKSUM_BAD) === 0) buffer.offloadFlags = flags & (OffloadFlags.RX_IP_CHECKSUM_GOOD | OffloadFlags.RX_L4_CHECKSUM_GOOD)
      this.#stats.rxPackets++
      this.#stats.rxBytes += buffer.length
      this.#capture?.record(buffer.data, buffer.offset, buffer.length, now, 'rx')
      bufs[delivered++] = buffer
    }
    return delivered
  }

  txBurst(bufs: PacketBuffer[], count: number): number {
    if (this.#closed) throw new DpdkIoError('ERR_PORT_CLOSED', `port ${this.link.name} is closed`)
    const pool = this.devicePool
    // Invalid frames at the front are dropped (counted); the valid run after them goes in one call.
    let dropped = 0
    while (dropped < count && !this.#sendable(bufs[dropped]!)) {
      const buffer = bufs[dropped]!
      if (buffer.pool !== pool && buffer.length >= ETHERNET_HEADER && this.#adopt(bufs, dropped)) break
      this.#stats.drops[buffer.length < ETHERNET_HEADER ? 'runt' : buffer.pool === pool ? 'oversize' : 'noBuffer']++
      buffer.release()
      dropped++
    }
    const tx = this.#tx
    let ready = 0
    while (dropped + ready < count && ready < this.#burst && this.#sendable(bufs[dropped + ready]!)) {
      const buffer = bufs[dropped + ready]!
      const at = ready * TX_STRIDE
      tx[at] = buffer.index
      tx[at + 1] = buffer.offset
      tx[at + 2] = buffer.length
      tx[at + 3] = buffer.offloadFlags
      tx[at + 4] = buffer.l2Length
      tx[at + 5] = buffer.l3Length
      tx[at + 6] = buffer.l4Length
      tx[at + 7] = buffer.segmentSize
      ready++
    }
    if (ready === 0) return dropped
    const sent = this.#native.txBurst(this.portId, this.queue, pool.id, ready, tx)
    const now = this.#capture === undefined ? 0 : this.clock.now()
    for (let i = 0; i < sent; i++) {
      const buffer = bufs[dropped + i]!
      this.#stats.txPackets++
      this.#stats.txBytes += buffer.length
      this.#capture?.record(buffer.data, buffer.offset, buffer.length, now, 'tx')
      pool.toDevice(buffer) // the device frees the mbuf once sent
    }
    return dropped + sent
  }

  /**
   * A buffer of another pool (not device memory): copy it into an mbuf of the transmit pool, counted in
   * {@link copies}, and put the mbuf in its place. The stack allocates from {@link devicePool}, so it never gets here.
   */
  #adopt(bufs: PacketBuffer[], at: number): boolean {
    const foreign = bufs[at]!
    const mbuf = this.devicePool.alloc()
    if (mbuf === undefined) return false
    if (foreign.length > mbuf.data.byteLength - mbuf.offset) {
      mbuf.release()
      return false
    }
    mbuf.data.set(foreign.data.subarray(foreign.offset, foreign.offset + foreign.length), mbuf.offset)
    mbuf.length = foreign.length
    mbuf.offloadFlags = foreign.offloadFlags
    mbuf.l2Length = foreign.l2Length
    mbuf.l3Length = foreign.l3Length
    mbuf.l4Length = foreign.l4Length
    mbuf.segmentSize = foreign.segmentSize
    this.copies++
    foreign.release()
    bufs[at] = mbuf
    return this.#sendable(mbuf)
  }

  /** A frame the device can take: an mbuf of this port's transmit pool, within the MTU or a TSO super segment. */
  #sendable(buffer: PacketBuffer): boolean {
    // A buffer of another pool would need a copy; the stack allocates from `port.devicePool`, so it never does.
    if (buffer.pool !== this.devicePool || buffer.length < ETHERNET_HEADER) return false
    if (buffer.length <= this.link.maxFrameSize) return true
    return this.offloads.segmentation.tcp4 && (buffer.offloadFlags & OffloadFlags.TX_TCP_SEGMENTATION) !== 0
  }

  onReadable(listener: (() => void) | undefined): void {
    this.#readable = listener
    if (listener !== undefined && !this.#closed) this.#schedule()
  }

  /** Poll for the listener: every event-loop turn while frames come, every `idleSleepMs` once idle. */
  #schedule(): void {
    if (this.#timer !== undefined || this.busyPoll) return
    const tick = (): void => {
      this.#timer = undefined
      if (this.#readable === undefined || this.#closed || this.busyPoll) return
      this.#readable()
      this.#schedule()
    }
    this.#timer = this.#idle < IDLE_TURNS ? setImmediate(tick) : setTimeout(tick, this.#idleSleepMs)
  }

  onWritable(_listener: (() => void) | undefined): void {
    // A refused burst is retried on the next poll.
  }

  capture(sink: CaptureSink | undefined): void {
    this.#capture = sink
  }

  /**
   * The counters. Reading them asks the device: `drops.kernel` is what it dropped before we read it
   * (`imissed`: RX descriptors full), `drops.noBuffer` what it could not receive for want of mbufs
   * (`rx_nombuf`), `drops.deviceError` its `ierrors + oerrors`.
   */
  get stats(): PortStats {
    if (!this.#closed) {
      const device = this.#native.stats(this.portId)
      this.#stats.drops.kernel = device.imissed
      this.#stats.drops.noBuffer = device.rxNoMbuf
      this.#stats.drops.deviceError = device.ierrors + device.oerrors
    }
    return this.#stats
  }

  /** The device's extended statistics (`rte_eth_xstats`) by name, as the driver names them. */
  deviceStats(): Record<string, number> {
    if (this.#closed) return {}
    return this.#native.stats(this.portId).xstats
  }

  /** The link as the device reports it now. */
  linkStatus(): { up: boolean; speed: number; fullDuplex: boolean } {
    return this.#native.linkStatus(this.portId)
  }

  /** Stop the device (unless this is one queue of a shared device, see `openDpdkQueue`) and return the cached mbufs. Buffers the application still holds stay valid views (the mempool lives on). */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#readable = undefined
    if (this.#timer !== undefined) {
      clearImmediate(this.#timer as NodeJS.Immediate)
      clearTimeout(this.#timer as NodeJS.Timeout)
      this.#timer = undefined
    }
    if (!this.#sharedDevice) this.#native.portStop(this.portId)
    this.devicePool.drain()
    if (this.rxPool !== this.devicePool) this.rxPool.drain()
  }
}
