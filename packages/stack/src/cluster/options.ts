/**
 * Cluster options: how many workers, which port backend spreads flows over them, the stack options each
 * worker's stack gets, and the application that runs in every worker. Validated in the main thread.
 * @module
 */
import type { DpdkQueuesOptions, PacketPortOptions, TapPortOptions } from '@mtcp/dpdk-io'
import { parseCidr, parseIpv4Address } from '@mtcp/tcp-core'
import type { StackOptions } from '../config.js'
import type { Stack } from '../stack.js'
import { ClusterError } from './errors.js'

/** The memory backend: an in-memory link whose far end ({@link Cluster.host}) a peer in the main thread uses; frames spread by a Toeplitz hash. */
export interface MemoryClusterPort {
  type: 'memory'
  /** IP MTU. Default 1500. */
  mtu?: number
  /** Bytes of each ring (per worker and direction), a power of two. Default 4 MiB. */
  ringBytes?: number
  /** Toeplitz key (at least 16 bytes). Default the symmetric key 0x6d5a…, so both directions of a flow meet one worker. */
  key?: Uint8Array
  /** MAC of the host end. Default 02:00:00:00:00:02. */
  hostMac?: Uint8Array
}

/**
 * AF_PACKET on an existing interface: one socket per worker in one fanout group, joined in worker order.
 * `fanoutMode` `'ports'` (default) spreads TCP flows by the addon's BPF program, `(a ^ b) % workers` for
 * ports `a` and `b`, so a worker's `connect` picks ports whose replies come back to it; if the kernel
 * refuses the program (before Linux 4.6) the group falls back to `'hash'` with a `MTCP_CLUSTER_FANOUT_HASH`
 * process warning. `'hash'` is the kernel's `PACKET_FANOUT_HASH`: replies to the workers' own
 * connections are then forwarded to their owner between workers. The other fields are
 * `openPacketPort`'s (offloads, MTU, rings, …), given to every worker's socket.
 */
export type PacketClusterPort = { type: 'af-packet'; fanoutGroup?: number } & Omit<PacketPortOptions, 'fanoutGroup' | 'mac' | 'clock' | 'pool'>

/**
 * A multi-queue TAP (`IFF_MULTI_QUEUE`): one queue per worker. The other fields are `openTapPort`'s
 * (name, offloads, MTU, …), the same for every queue.
 */
export type TapClusterPort = { type: 'tap' } & Omit<TapPortOptions, 'multiQueue' | 'mac' | 'clock' | 'pool'>

/**
 * A DPDK ethdev port (`@mtcp/dpdk-io-dpdk`): the main thread initialises the EAL once and starts the
 * device with one RX/TX queue pair and one mempool per worker; each worker registers its thread with
 * DPDK (its own lcore id and mempool cache) and polls its own queue pair. Where the device's RSS key can
 * be set (NICs), it hashes with `rssKey` (default the symmetric 0x6d5a key, `SYMMETRIC_RSS_KEY`) and a redirection table the
 * workers compute too, so a worker's `connect` picks ports whose replies come back to it; on virtual
 * devices (net_af_packet `qpairs=N`, net_tap `queues=N`, net_af_xdp `queue_count=N`) the device spreads
 * flows its own way, and replies to the workers' own connections are forwarded between workers as on
 * AF_PACKET's `'hash'` mode. The other fields are `startDpdkQueues`' (EAL arguments, device, pool sizes, …).
 * `mac` defaults to the device's.
 */
export type DpdkClusterPort = { type: 'dpdk' } & Omit<DpdkQueuesOptions, 'queues' | 'mac'>

/** Where the workers' frames come from. */
export type ClusterPortOptions = MemoryClusterPort | PacketClusterPort | TapClusterPort | DpdkClusterPort

/**
 * CCP for the workers: each worker's stack gets its own datapath with its own IPC address,
 * `<dir>/<name>-w<index>` (see {@link workerCcpName}), and its index as the datapath id. The main
 * thread binds those sockets with `@mtcp/ccp-ipc`
 * and relays each to its worker; an application module that exports `ccpTransport(context)` makes its
 * own transport instead (e.g. an in-process agent).
 */
export interface ClusterCcpOptions {
  /** Socket directory. Default `/tmp/ccp` (ccp-ipc's). */
  dir?: string
  /** Base name of the datapaths' sockets. Default `'mtcp'`. */
  name?: string
  /** The agent's socket name. Default `'portus'`. */
  agent?: string
  /** The algorithm named in CREATE when a socket names none. */
  algorithm?: string
  /** Interpret the agent's programs instead of compiling them. */
  interpret?: boolean
}

/**
 * The stack options of every worker's stack: all of {@link StackOptions} that can cross to a thread
 * (no port, pool, hooks or transport: the worker makes those). Addresses are the same on every worker.
 */
export type ClusterStackOptions = Omit<StackOptions, 'port' | 'pool' | 'hooks' | 'ccp' | 'mac'>

/** What the application function gets besides its stack. */
export interface WorkerContext {
  /** This worker's index, in [0, workers). */
  readonly index: number
  /** How many workers the cluster has. */
  readonly workers: number
  /** `ClusterOptions.workerData`, cloned. */
  readonly workerData: unknown
  /** Run `callback` (awaited) when the cluster closes, before the stack stops. */
  onClose(callback: () => void | Promise<void>): void
}

/** Methods an application may return; `Cluster.invoke(name, …args)` calls them in every worker. Arguments and results must be structured-clonable. */
export type WorkerApi = Record<string, (...args: never[]) => unknown>

/**
 * The application of a worker: gets the worker's own stack. What it returns (optionally a promise of
 * an object of methods) is the worker's API for `Cluster.invoke`.
 */
export type WorkerFunction = (stack: Stack, context: WorkerContext) => void | WorkerApi | Promise<void | WorkerApi>

/** Options of {@link createCluster}. */
export interface ClusterOptions {
  /** Worker threads, in [1, 128]. More than the machine's cores is allowed, with a warning. */
  workers: number
  /** The port backend. */
  port: ClusterPortOptions
  /** Options of each worker's stack (the address is shared: the workers are one host). */
  stack: ClusterStackOptions
  /**
   * The application: a module path or URL whose default export is a {@link WorkerFunction}, or such a
   * function itself (then it must be self-contained: it is sent as source, so it can use its arguments,
   * globals and `import()` of absolute specifiers, not variables of the enclosing scope).
   */
  worker: string | URL | WorkerFunction
  /** Passed (cloned) to every worker as `context.workerData`. */
  workerData?: unknown
  /** The stack's MAC on the link, shared by all workers. Default: a random locally administered one (memory: 02:00:00:00:00:01; dpdk: the device's). */
  mac?: Uint8Array
  /** CCP, one datapath per worker. Default none. */
  ccp?: ClusterCcpOptions
  /** Per-worker overrides of {@link stack}, computed in the main thread (e.g. different buffer sizes per worker). */
  perWorker?: (index: number) => Partial<ClusterStackOptions>
  /** `resourceLimits` of each worker thread. */
  resourceLimits?: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number; stackSizeMb?: number }
}

/** The name of worker `index`'s CCP datapath socket: `<base>-w<index>`. */
export function workerCcpName(base: string | undefined, index: number): string {
  return `${base ?? 'mtcp'}-w${index}`
}

/** @internal The validated options. */
export interface ResolvedClusterOptions {
  workers: number
  port: ClusterPortOptions
  stack: ClusterStackOptions
  /** A module URL (a function becomes a data: URL). */
  workerUrl: string
  mac: Uint8Array
  ephemeralPorts: readonly [number, number]
}

function fail(message: string): never {
  throw new ClusterError('ERR_INVALID_CONFIG', message)
}

function randomMac(): Uint8Array {
  const mac = new Uint8Array(6)
  crypto.getRandomValues(mac)
  mac[0] = (mac[0]! & 0xfe) | 0x02 // unicast, locally administered
  return mac
}

/** @internal */
export function resolveClusterOptions(options: ClusterOptions): ResolvedClusterOptions {
  if (options === null || typeof options !== 'object') fail('options must be an object')
  const { workers, port, stack, worker } = options
  if (!Number.isInteger(workers) || workers < 1 || workers > 128) fail(`workers must be an integer in [1, 128], got ${String(workers)}`)
  if (port === null || typeof port !== 'object') fail("port is required: { type: 'memory' | 'af-packet' | 'tap' | 'dpdk', … }")
  switch (port.type) {
    case 'memory':
      break
    case 'af-packet':
      if (typeof port.interface !== 'string' || port.interface === '') fail("port.interface must name the interface for type 'af-packet'")
      if (port.fanoutGroup !== undefined && (!Number.isInteger(port.fanoutGroup) || port.fanoutGroup < 0 || port.fanoutGroup > 0xffff)) {
        fail(`port.fanoutGroup must be an integer in [0, 65535], got ${String(port.fanoutGroup)}`)
      }
      if (port.fanoutMode !== undefined && port.fanoutMode !== 'hash' && port.fanoutMode !== 'ports') {
        fail(`port.fanoutMode must be 'hash' or 'ports', got ${JSON.stringify(String(port.fanoutMode)).slice(0, 60)}`)
      }
      break
    case 'tap':
      if (typeof port.name !== 'string' || port.name === '') fail("port.name must name the TAP device for type 'tap'")
      break
    case 'dpdk':
      if (port.rssKey !== undefined && (!(port.rssKey instanceof Uint8Array) || port.rssKey.byteLength < 16)) fail('port.rssKey must be a Uint8Array of at least 16 bytes')
      if ((port as { clock?: unknown }).clock !== undefined) fail('port.clock cannot cross to a worker')
      break
    default:
      fail(`port.type must be 'memory', 'af-packet', 'tap' or 'dpdk', got ${JSON.stringify((port as { type?: unknown }).type)}`)
  }
  if (stack === null || typeof stack !== 'object' || typeof stack.address !== 'string') fail("stack.address is required, e.g. { address: '10.0.0.1/24' }")
  try {
    if (stack.address.includes('/')) parseCidr(stack.address)
    else parseIpv4Address(stack.address)
  } catch {
    fail(`stack.address must be an IPv4 address with an optional prefix length, like '10.0.0.1/24', got ${JSON.stringify(stack.address)}`)
  }
  // IPv6 on the memory backend: its dispatcher hashes IPv6 4-tuples as RSS does, the workers choose their
  // ephemeral ports by the same hash, and Neighbor Discovery reaches every worker (multi-queue-link.ts,
  // decision 0106). The kernel and DPDK backends neither share neighbours between workers nor forward IPv6
  // segments to their owner yet: refused there.
  if ((stack as Record<string, unknown>).ipv6 !== undefined && port.type !== 'memory') {
    fail(`stack.ipv6 is supported in a cluster on port type 'memory' only, got ${JSON.stringify(port.type)}: the workers of the kernel and DPDK backends do not share IPv6 neighbours yet (use a single stack for IPv6)`)
  }
  for (const key of ['port', 'pool', 'hooks', 'mac'] as const) {
    if ((stack as Record<string, unknown>)[key] !== undefined) fail(`stack.${key} cannot be given to a cluster: each worker makes its own (use the cluster's port and mac options)`)
  }
  if ((stack as Record<string, unknown>).ccp !== undefined) fail('stack.ccp cannot cross to a worker (a transport is not clonable): use the cluster option ccp')
  let workerUrl: string
  if (typeof worker === 'function') {
    const source = worker.toString()
    workerUrl = `data:text/javascript;base64,${Buffer.from(`export default (${source})\n`).toString('base64')}`
  } else if (worker instanceof URL) {
    workerUrl = worker.href
  } else if (typeof worker === 'string' && worker !== '') {
    workerUrl = /^[a-z][a-z0-9+.-]*:/i.test(worker) && !/^[a-z]:[\\/]/i.test(worker) ? worker : new URL(`file://${worker.startsWith('/') ? '' : `${process.cwd()}/`}${worker}`).href
  } else {
    fail('worker must be a module path, a URL, or a function')
  }
  const mac = options.mac ?? (port.type === 'memory' ? Uint8Array.of(0x02, 0, 0, 0, 0, 1) : randomMac())
  if (!(mac instanceof Uint8Array) || mac.byteLength !== 6) fail('mac must be a 6-byte Uint8Array')
  const ephemeralPorts = stack.ephemeralPorts ?? [32768, 60999]
  if (!Array.isArray(ephemeralPorts) || ephemeralPorts.length !== 2 || !Number.isInteger(ephemeralPorts[0]) || !Number.isInteger(ephemeralPorts[1]) || ephemeralPorts[0] < 1 || ephemeralPorts[1] > 65535 || ephemeralPorts[1] < ephemeralPorts[0]) {
    fail(`stack.ephemeralPorts must be [low, high] within [1, 65535], got ${JSON.stringify(ephemeralPorts)}`)
  }
  if (ephemeralPorts[1] - ephemeralPorts[0] + 1 < workers) fail(`stack.ephemeralPorts must hold at least one port per worker (${workers})`)
  return { workers, port, stack, workerUrl, mac: Uint8Array.from(mac), ephemeralPorts }
}
