/**
 * One DPDK ethdev port shared by several threads, one RX/TX queue pair each (decision record 0031): the
 * thread that calls {@link startDpdkQueues} initialises the EAL (once per process), makes one mempool per
 * queue, configures RSS and starts the device; each worker thread then calls {@link openDpdkQueue} with
 * its {@link DpdkQueueSpec} (plain data, posted to the thread), registers itself with DPDK
 * (`rte_thread_register`: its own lcore id, so its own per-lcore mempool cache) and polls its own queue
 * pair as a {@link DpdkPort}. Nothing on the packet path is shared between the threads: each queue has its
 * own mempool, so a worker's mbufs come back to its own pool and cache.
 *
 * RSS: where the device hashes with a key we can set (NICs: `hashKeySize > 0` and RSS hash functions),
 * the key is the one given (by default the symmetric 0x6d5a key, so both directions of a flow reach one
 * queue) and the redirection table is filled as the cluster's flow steering fills its own, entry `i` to
 * queue `(i mod 128) mod queues`: a worker can compute which queue a flow comes back to and choose its
 * source ports by it ({@link DpdkQueueSpec.steering} `'toeplitz'`). Virtual devices spread flows their
 * own way (net_af_packet: the kernel's `PACKET_FANOUT_HASH`; net_tap and net_af_xdp: the kernel's queue
 * choice): flows still stay on one queue, but which one cannot be computed (`'opaque'`).
 * @module
 */
import { checkInteger, DpdkIoError } from '../errors.js'
import { type Clock } from '../clock.js'
import { symmetricRssKey } from '../rss.js'
import {
  checkDpdkOptions,
  DpdkBufferPool,
  dpdk,
  type DpdkNative,
  DpdkPort,
  type DpdkPortOptions,
  type DpdkStartedOffloads,
  loadDpdk,
  NATIVE_PACKAGE,
  poolName,
  receiveRoom,
  resolvePort,
  TSO_ROOM,
} from './dpdk-port.js'

/** Key bytes the Toeplitz hash of an IPv4 4-tuple reads: 12 input bytes plus 32 bits. */
const IPV4_KEY_BYTES = 16

/** Options of {@link startDpdkQueues}: {@link DpdkPortOptions} (per queue where it says pool) plus the queue count and the RSS key. */
export interface DpdkQueuesOptions extends Omit<DpdkPortOptions, 'clock'> {
  /** Queue pairs, one per worker thread, in [1, 128] and at most what the device has. */
  queues: number
  /**
   * The Toeplitz key for devices whose key can be set, at least 16 bytes (the first 16 bytes affect IPv4
   * 4-tuples, the first 40 IPv6 4-tuples; the key is repeated or cut to the device's key size, as
   * `RssHash` does, so `new RssHash(rssKey).frame(…)` predicts the device's hash). Default the
   * symmetric 0x6d5a key, symmetric for IPv4 and IPv6 flows.
   */
  rssKey?: Uint8Array
}

/** Everything a worker thread needs to open its queue: structured-clonable, post it to the thread. */
export interface DpdkQueueSpec {
  /** The ethdev port id. */
  readonly portId: number
  /** This queue pair's index, in [0, queues). */
  readonly queue: number
  /** How many queue pairs the device was started with. */
  readonly queues: number
  /** The device's name (`net_af_packet0`). */
  readonly deviceName: string
  /** The device's MAC address. */
  readonly deviceMac: Uint8Array
  /** The addon's ids of this queue's receive pool and transmit pool (the same pool without TSO). */
  readonly rxPool: number
  readonly txPool: number
  /** What the device enabled. */
  readonly started: DpdkStartedOffloads
  /**
   * How flows reach the queues: `'toeplitz'`, by the Toeplitz hash with {@link rssKey} and the table
   * `(i mod 128) mod queues` (computable, see the module comment); `'opaque'`, by the device's own choice
   * (one queue per flow, not computable); `'single'`, one queue.
   */
  readonly steering: 'toeplitz' | 'opaque' | 'single'
  /** The key the device hashes with when {@link steering} is `'toeplitz'`. */
  readonly rssKey: Uint8Array
  /** Checked options every queue's port uses. */
  readonly mtu: number
  readonly burst: number
  readonly idleSleepMs: number
  readonly offloads: boolean
  readonly mac?: Uint8Array
  readonly nativePackage: string
}

/** A started multi-queue device: its queues' specs, its counters, and `stop`. */
export interface DpdkQueues {
  /** One spec per queue pair, index = queue. */
  readonly specs: readonly DpdkQueueSpec[]
  /** The device's extended statistics by name (per queue: `rx_q<i>_packets`, …, as the driver names them). */
  deviceStats(): Record<string, number>
  /** Stop the device (after every queue's port was closed). */
  stop(): void
}

/** A Toeplitz key of `size` bytes from `key`: repeated when shorter, cut when longer. */
function fitKey(key: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) out[i] = key[i % key.length]!
  return out
}

/**
 * Start a DPDK port with `queues` RX/TX queue pairs, one mempool per queue, and RSS as the module comment
 * describes. Call it once, in the thread that owns the device (a cluster's main thread); hand
 * `specs[i]` to worker `i`, which calls {@link openDpdkQueue}. Throws as {@link openDpdkPort} does, and
 * `ERR_INVALID_CONFIG` when the device has fewer queues than asked for.
 *
 * @example
 * ```ts
 * const device = await startDpdkQueues({ eal: '--no-huge -m 512 --no-pci -l 0 --vdev=net_af_packet0,iface=veth1,qpairs=2', port: 'net_af_packet0', queues: 2 })
 * // in worker i: const port = await openDpdkQueue(device.specs[i])
 * ```
 */
export async function startDpdkQueues(options: DpdkQueuesOptions): Promise<DpdkQueues> {
  if (options === null || typeof options !== 'object') throw new DpdkIoError('ERR_INVALID_CONFIG', 'options must be an object')
  const queues = checkInteger('queues', options.queues, 1, 128)
  const key = options.rssKey ?? symmetricRssKey()
  if (!(key instanceof Uint8Array) || key.length < IPV4_KEY_BYTES) throw new DpdkIoError('ERR_INVALID_CONFIG', `rssKey must be a Uint8Array of at least ${IPV4_KEY_BYTES} bytes`)
  const { mtu, poolSize, tsoPoolSize, rxDescriptors, txDescriptors, burst, idleSleepMs, eal } = checkDpdkOptions(options)
  const nativePackage = options.nativePackage ?? NATIVE_PACKAGE
  const native = await loadDpdk(nativePackage)
  dpdk(() => native.ealInit(eal))
  const portId = resolvePort(native, options.port ?? 0)
  const info = dpdk(() => native.portInfo(portId))
  if (queues > info.maxRxQueues || queues > info.maxTxQueues) {
    throw new DpdkIoError(
      'ERR_INVALID_CONFIG',
      `${info.name} has ${Math.min(info.maxRxQueues, info.maxTxQueues)} queue pairs, ${queues} asked for (net_af_packet: qpairs=N, net_af_xdp: queue_count=N, net_tap: queues=N in its --vdev)`,
    )
  }
  const offloads = options.offloads ?? true
  const hashKeySize = info.hashKeySize ?? 0
  const deviceKey = hashKeySize > 0 ? fitKey(key, hashKeySize) : undefined
  // The mempools are made here, in the owning thread; each worker attaches to its own.
  const rxPools = Array.from({ length: queues }, () => dpdk(() => native.poolCreate(poolName('rx'), poolSize, receiveRoom(mtu), 256)).id)
  const started = dpdk(() =>
    native.portStart(portId, {
      rxQueues: queues,
      txQueues: queues,
      rxDescriptors,
      txDescriptors,
      mtu,
      pools: rxPools,
      txChecksum: offloads,
      // As openDpdkPort: DPDK 22.11's net_tap refuses full-sized TSO super segments.
      tso: offloads && info.driver !== 'net_tap',
      rss: queues > 1,
      ...(deviceKey === undefined ? {} : { rssKey: deviceKey }),
    }),
  )
  let steering: DpdkQueueSpec['steering'] = queues === 1 ? 'single' : 'opaque'
  if (queues > 1 && started.rss === true && started.rssKey === true && (info.retaSize ?? 0) > 0 && (info.retaSize ?? 0) % 128 === 0) {
    // The table as FlowSteering fills its own; a device whose table is not a multiple of 128 stays opaque.
    if (dpdk(() => native.rssReta(portId, queues)) > 0) steering = 'toeplitz'
  }
  const txPools = rxPools.map((rx) => (started.tso ? dpdk(() => native.poolCreate(poolName('tx'), tsoPoolSize, TSO_ROOM, 64)).id : rx))
  const specs = rxPools.map(
    (rxPool, queue): DpdkQueueSpec => ({
      portId,
      queue,
      queues,
      deviceName: info.name,
      deviceMac: Uint8Array.from(info.mac),
      rxPool,
      txPool: txPools[queue]!,
      started: { ...started },
      steering,
      rssKey: Uint8Array.from(deviceKey ?? key),
      mtu,
      burst,
      idleSleepMs,
      offloads,
      ...(options.mac === undefined ? {} : { mac: Uint8Array.from(options.mac) }),
      nativePackage,
    }),
  )
  let stopped = false
  return {
    specs,
    deviceStats: () => (stopped ? {} : dpdk(() => native.stats(portId)).xstats),
    stop() {
      if (stopped) return
      stopped = true
      dpdk(() => native.portStop(portId))
    },
  }
}

/** Options of {@link openDpdkQueue}. */
export interface DpdkQueueOptions {
  /** The clock for capture timestamps. Default the real clock. */
  clock?: Clock
  /** The stack's MAC address. Default the spec's, else the device's. */
  mac?: Uint8Array
}

/** The lcore id each thread got from `rte_thread_register`, per addon (one per thread: module state is per thread). */
let registeredLcore: number | undefined

/**
 * Open queue pair `spec.queue` of a device {@link startDpdkQueues} started, as a {@link DpdkPort}, in the
 * calling thread: the thread is registered with DPDK (its own lcore id, see {@link DpdkPort.lcore}), the
 * queue's mempools are attached (this thread's own `ArrayBuffer`s over the same memory) and the port
 * polls only its own queue. Closing the port leaves the device running: the owner stops it.
 */
export async function openDpdkQueue(spec: DpdkQueueSpec, options: DpdkQueueOptions = {}): Promise<DpdkPort> {
  if (spec === null || typeof spec !== 'object' || !Number.isInteger(spec.queue) || !Number.isInteger(spec.portId)) {
    throw new DpdkIoError('ERR_INVALID_CONFIG', 'spec must be one of startDpdkQueues().specs')
  }
  if (options.mac !== undefined && (!(options.mac instanceof Uint8Array) || options.mac.length !== 6)) throw new DpdkIoError('ERR_INVALID_CONFIG', 'mac must be 6 bytes')
  const native: DpdkNative = await loadDpdk(spec.nativePackage)
  dpdk(() => native.ealInit(undefined))
  registeredLcore ??= dpdk(() => native.threadRegister())
  const rxPool = new DpdkBufferPool(native, dpdk(() => native.poolAttach(spec.rxPool)))
  const txPool = spec.txPool === spec.rxPool ? rxPool : new DpdkBufferPool(native, dpdk(() => native.poolAttach(spec.txPool)))
  const mac = options.mac ?? spec.mac
  const port = new DpdkPort(native, spec.portId, spec.queue, spec.deviceName, spec.deviceMac, rxPool, txPool, spec.started, {
    mtu: spec.mtu,
    burst: spec.burst,
    idleSleepMs: spec.idleSleepMs,
    sharedDevice: true,
    ...(mac === undefined ? {} : { mac }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  })
  port.lcore = registeredLcore
  return port
}
