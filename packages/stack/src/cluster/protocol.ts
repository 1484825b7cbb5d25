/**
 * Messages between the main thread and the workers, and between workers. All structured-clonable.
 * @module
 */
import type { MessagePort } from 'node:worker_threads'
import type { DpdkQueueSpec, PortStats } from '@mtcp/dpdk-io'
import type { TcpState } from '@mtcp/tcp-core'
import type { StackStats } from '../stats.js'
import type { QueueEndpoint } from './multi-queue-link.js'
import type { ClusterCcpOptions, ClusterStackOptions, PacketClusterPort, TapClusterPort } from './options.js'

/** @internal The port a worker opens. */
export type WorkerPortInit = { type: 'memory'; endpoint: QueueEndpoint } | (PacketClusterPort & { fanoutGroup: number }) | TapClusterPort | { type: 'dpdk'; spec: DpdkQueueSpec }

/** @internal `workerData` of a worker thread. */
export interface WorkerInit {
  index: number
  workers: number
  port: WorkerPortInit
  stack: ClusterStackOptions
  mac: Uint8Array
  workerUrl: string
  workerData: unknown
  ccp: ClusterCcpOptions | undefined
  /** The relay of this worker's CCP socket, opened by the main thread (ccp-relay.ts). */
  ccpPort: MessagePort | undefined
  ephemeralPorts: readonly [number, number]
  /** `peers[j]`: a channel to worker j (undefined for this worker). */
  peers: (MessagePort | undefined)[]
}

/** An error as it crosses threads. */
export interface SerializedError {
  name: string
  message: string
  code?: string
  stack?: string
}

/** @internal main → worker. */
export type ToWorker =
  /** Open the port; on AF_PACKET, join the fanout group in this mode (the first worker's, once it has joined). */
  | { type: 'open'; fanoutMode?: 'hash' | 'ports' }
  | { type: 'start' }
  | { type: 'request'; id: number; op: 'stats' }
  | { type: 'request'; id: number; op: 'invoke'; method: string; args: unknown[] }
  | { type: 'request'; id: number; op: 'close' }
  | { type: 'peer-dead'; index: number }

/** @internal worker → main. */
export type FromWorker =
  /** The port is open; on AF_PACKET, in this fanout mode (`fallback`: why 'ports' was refused). */
  | { type: 'opened'; fanoutMode?: 'hash' | 'ports'; fallback?: string }
  | { type: 'started' }
  | { type: 'failed'; stage: 'open' | 'start'; error: SerializedError }
  | { type: 'response'; id: number; ok: true; value: unknown }
  | { type: 'response'; id: number; ok: false; error: SerializedError }
  | { type: 'crashed'; error: SerializedError }

/** @internal worker → worker. */
export type PeerMessage =
  /** A frame of a flow the receiver owns (software steering). */
  | { type: 'frame'; bytes: Uint8Array; flags: number }
  /** A neighbour learned from ARP. */
  | { type: 'arp'; ip: number; mac: Uint8Array }

/** Counters of a worker's share in the cluster's plumbing. */
export interface WorkerSteeringStats {
  /** Segments of another worker's flow this worker forwarded to it. */
  forwarded: number
  /** Segments other workers forwarded to this one. */
  received: number
  /** Segments that could not be forwarded (their owner is dead), answered with a reset instead. */
  ownerDead: number
  /** Neighbours this worker told the others about. */
  arpShared: number
  /** Neighbours the others told this worker about. */
  arpMerged: number
  /** Malformed messages from other workers, dropped. */
  malformed: number
}

/** One worker in {@link ClusterStats}. */
export interface WorkerStats {
  index: number
  /** `running`; `crashed` (its application threw: a stack with no sockets answers for it, resetting its flows); `exited` (the thread is gone). */
  state: 'running' | 'crashed' | 'exited'
  /** The counters of the worker's stack (after a crash: of the stack that answers for it). */
  stack: StackStats
  /** Sockets open on the worker. */
  sockets: number
  /** Connections by TCP state. */
  connections: Partial<Record<TcpState, number>>
  /** The worker's port counters. */
  port: PortStats
  steering: WorkerSteeringStats
  /**
   * AF_PACKET only: the fanout mode the worker's socket joined with. `'ports'`: the addon's BPF program,
   * so the worker's own connections need no forwarding; `'hash'`: the kernel's hash (asked for, or the
   * kernel refused `'ports'`), so replies to them are forwarded between workers (`steering.forwarded`).
   */
  fanoutMode?: 'hash' | 'ports'
  /**
   * DPDK only: the device queue pair the worker polls, the lcore id its thread got from
   * `rte_thread_register`, and how flows reach it (`'toeplitz'`: by a hash the workers compute, no
   * forwarding; `'opaque'`: the device's own spreading, replies to own connections forwarded).
   */
  dpdk?: { queue: number; lcore: number | undefined; steering: 'toeplitz' | 'opaque' | 'single' }
  /**
   * The worker thread's event loop since it started (`performance.eventLoopUtilization()`): ms busy, ms
   * idle, and the busy fraction. Diff two snapshots for a window; near 1, the worker is saturated.
   */
  eventLoop: { active: number; idle: number; utilization: number }
}

/** {@link Cluster.stats}: every worker, and the sums. */
export interface ClusterStats {
  workers: WorkerStats[]
  /** The stacks' counters summed over the workers that answered. */
  totals: StackStats
  /** Sockets summed over the workers. */
  sockets: number
}

/** @internal */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const out: SerializedError = { name: error.name, message: error.message }
    const code = (error as { code?: unknown }).code
    if (typeof code === 'string') out.code = code
    if (error.stack !== undefined) out.stack = error.stack
    return out
  }
  return { name: 'Error', message: String(error) }
}

/** @internal */
export function deserializeError(serialized: SerializedError): Error & { code?: string } {
  const error = new Error(serialized.message) as Error & { code?: string }
  error.name = serialized.name
  if (serialized.code !== undefined) error.code = serialized.code
  if (serialized.stack !== undefined) error.stack = serialized.stack
  return error
}
