/**
 * DPDK ethdev ports for `@mtcp/dpdk-io`, from a Node-API addon built at install time where
 * `pkg-config libdpdk` finds DPDK (Debian/Ubuntu: `apt-get install dpdk libdpdk-dev libxdp-dev`).
 *
 * This is the low-level binding; use `openDpdkPort` from `@mtcp/dpdk-io`. Frames never cross the
 * boundary as bytes: {@link DpdkBinding.poolCreate} hands out one external `ArrayBuffer` per memory
 * chunk of an mbuf mempool, and the burst calls move mbuf indices, offsets and lengths.
 *
 * When the addon was not built every function throws an Error with code `ERR_DPDK_UNAVAILABLE`
 * naming `libdpdk-dev`; check {@link dpdkAvailable} first.
 * @module
 */
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

/** What {@link DpdkBinding.portInfo} reports. */
export interface DpdkPortInfo {
  /** The device name (`net_af_xdp0`, `0000:01:00.0`). */
  name: string
  /** The driver (`net_af_xdp`, `net_ixgbe`, …). */
  driver: string
  mac: Uint8Array
  mtu: number
  minMtu: number
  maxMtu: number
  maxRxPktLen: number
  maxRxQueues: number
  maxTxQueues: number
  /** Entries of the RSS redirection table, 0 without one. */
  retaSize: number
  /** Bytes of the RSS (Toeplitz) key the device takes, 0 without RSS. */
  hashKeySize: number
  /** The RSS hash functions the device offers (`RTE_ETH_RSS_*` bits), 0 without RSS. */
  rssHashFunctions: number
  txIpv4Checksum: boolean
  txTcpChecksum: boolean
  txUdpChecksum: boolean
  txTcpTso: boolean
  rxIpv4Checksum: boolean
  rxTcpChecksum: boolean
}

/** Options of {@link DpdkBinding.portStart}. */
export interface DpdkStartOptions {
  rxQueues: number
  txQueues: number
  rxDescriptors: number
  txDescriptors: number
  /** IP MTU to set, or 0 to keep the device's. */
  mtu: number
  /** One mempool id per RX queue. */
  pools: number[]
  /** Enable transmit checksum offloads where the device has them. */
  txChecksum: boolean
  /** Enable TCP segmentation offload where the device has it. */
  tso: boolean
  /** Spread flows over the RX queues with RSS (more than one queue). */
  rss: boolean
  /** The Toeplitz key, {@link DpdkPortInfo.hashKeySize} bytes; absent for the driver's own. */
  rssKey?: Uint8Array
}

/** What {@link DpdkBinding.portStart} enabled. */
export interface DpdkStarted {
  txIpv4Checksum: boolean
  txTcpChecksum: boolean
  txUdpChecksum: boolean
  tso: boolean
  rxChecksum: boolean
  /** RSS spreads the flows over the RX queues (asked for, more than one queue, and the device hashes). */
  rss: boolean
  /** RSS uses the key given as `rssKey`. */
  rssKey: boolean
  rxDescriptors: number
  txDescriptors: number
}

/** A mempool: its memory chunks as external `ArrayBuffer`s and where each mbuf's buffer lies in them. */
export interface DpdkPool {
  id: number
  count: number
  chunks: ArrayBuffer[]
  /** Per mbuf index `i`: `[4i]` chunk, `[4i+1]` offset of the buffer in the chunk, `[4i+2]` buffer length, `[4i+3]` default headroom. */
  slots: Int32Array
  /**
   * Bytes from one mbuf object to the next when the pool is packed (`rte_mempool_calc_obj_size`: header,
   * mbuf, private area, data room, trailer). Pools are packed back to back in one chunk when no probed device
   * DMAs (decision 0032), which DPDK 22.11's net_af_xdp needs.
   */
  objectSize: number
}

/** `rte_eth_stats` plus every extended statistic by name. */
export interface DpdkStats {
  ipackets: number
  opackets: number
  ibytes: number
  obytes: number
  /** Frames the device dropped because no RX descriptor was free. */
  imissed: number
  ierrors: number
  oerrors: number
  /** Receive allocation failures (mempool empty). */
  rxNoMbuf: number
  /** Frame bytes copied by the addon: 0, kept as a check. */
  copies: number
  xstats: Record<string, number>
}

/** Link state from {@link DpdkBinding.linkStatus}. */
export interface DpdkLinkStatus {
  up: boolean
  /** Mbit/s, 0 when unknown. */
  speed: number
  fullDuplex: boolean
}

/** Ints per frame in {@link DpdkBinding.rxBurst}'s output: mbuf index, data offset, length, flags. */
export const RX_STRIDE = 4
/** Ints per frame in {@link DpdkBinding.txBurst}'s input: mbuf index, data offset, length, offload flags, l2, l3, l4 lengths, segment size. */
export const TX_STRIDE = 8
/** Receive flag: the frame came in more than one mbuf (the tail was freed; drop the frame). */
export const RX_CHAINED = 1 << 16
/** Receive flag: the device found a bad IP or L4 checksum. */
export const RX_CHECKSUM_BAD = 1 << 17

/** The addon's functions. */
export interface DpdkBinding {
  /**
   * Initialise DPDK's EAL once per process; a second call must pass the same arguments (else
   * `ERR_EAL_ALREADY`) or `undefined` (which throws `ERR_EAL_NOT_READY` when no one initialised it).
   */
  ealInit(args: string[] | undefined): void
  /** Register the calling thread (a worker thread) with DPDK; returns its lcore id. */
  threadRegister(): number
  portCount(): number
  /** The port id of a device name, or -1. */
  portByName(name: string): number
  portInfo(port: number): DpdkPortInfo
  poolCreate(name: string, count: number, dataRoom: number, cache: number): DpdkPool
  /** The same description of an existing pool for the calling thread (its own `ArrayBuffer`s over the same memory). */
  poolAttach(pool: number): DpdkPool
  /** Allocate `count` mbufs (all or none) into `out`; returns `count` or 0. */
  poolAlloc(pool: number, count: number, out: Int32Array): number
  poolFree(pool: number, count: number, indices: Int32Array): void
  poolAvailable(pool: number): number
  portStart(port: number, options: DpdkStartOptions): DpdkStarted
  portStop(port: number): void
  rxBurst(port: number, queue: number, max: number, out: Int32Array): number
  txBurst(port: number, queue: number, pool: number, count: number, frames: Int32Array): number
  linkStatus(port: number): DpdkLinkStatus
  stats(port: number): DpdkStats
  /** Fill the RSS redirection table, entry `i` to queue `(i mod 128) mod queues` (as the cluster's flow steering); returns its size (0 without one). */
  rssReta(port: number, queues: number): number
  /**
   * DPDK's software Toeplitz hash (`rte_softrss`) of an IPv4 4-tuple with `key` (at least 16 bytes);
   * addresses are uint32s, ports uint16s. Needs no EAL: the reference for the cluster's own hash.
   */
  softRss(key: Uint8Array, srcIp: number, dstIp: number, srcPort: number, dstPort: number): number
}

let binding: DpdkBinding | undefined
let loadError: Error | undefined

function load(): DpdkBinding | undefined {
  if (binding !== undefined || loadError !== undefined) return binding
  const require = createRequire(import.meta.url)
  const root = fileURLToPath(new URL('..', import.meta.url))
  try {
    binding = require(`${root}native/build/Release/dpdk_port.node`) as DpdkBinding
  } catch (error) {
    loadError = error as Error
  }
  return binding
}

/** Whether the addon was built and loads (DPDK was found at install time and its libraries load now). */
export function dpdkAvailable(): boolean {
  return load() !== undefined
}

/** The binding; throws `ERR_DPDK_UNAVAILABLE` naming libdpdk-dev when the addon was not built. */
export function dpdkBinding(): DpdkBinding {
  const loaded = load()
  if (loaded !== undefined) return loaded
  const error = new Error(
    `the DPDK addon of @mtcp/dpdk-io-dpdk was not built: install libdpdk-dev (Debian/Ubuntu: apt-get install dpdk libdpdk-dev libxdp-dev) then build it from source with \`node node_modules/@mtcp/dpdk-io-dpdk/scripts/install.cjs --strict\` (needs node-gyp, g++, make and python3; in this repository: \`pnpm --filter @mtcp/dpdk-io-dpdk build:native\`) (${loadError?.message ?? 'not loaded'})`,
  ) as Error & { code: string }
  error.code = 'ERR_DPDK_UNAVAILABLE'
  throw error
}
