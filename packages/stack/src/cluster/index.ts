/**
 * `@mtcp/stack/cluster`: one stack per worker thread, flows spread by the kernel (AF_PACKET fanout,
 * multi-queue TAP) or by a Toeplitz hash on the memory backend. This file is the public API.
 * @module
 */
export { Cluster, type ClusterEvents, createCluster, sumStackStats, type WorkerState } from './cluster.js'
export { ClusterError, type ClusterErrorCode } from './errors.js'
export { FlowSteering, REDIRECTION_TABLE_SIZE, SYMMETRIC_RSS_KEY, ToeplitzHash } from './flow-hash.js'
export { createMultiQueueLink, HostPort, type MultiQueueLink, type MultiQueueLinkOptions, openQueuePort, type QueueCounters, type QueueEndpoint, QueuePort } from './multi-queue-link.js'
export {
  type ClusterCcpOptions,
  type ClusterOptions,
  type ClusterPortOptions,
  type ClusterStackOptions,
  type DpdkClusterPort,
  type MemoryClusterPort,
  type PacketClusterPort,
  type TapClusterPort,
  type WorkerApi,
  type WorkerContext,
  type WorkerFunction,
  workerCcpName,
} from './options.js'
export type { ClusterStats, WorkerStats, WorkerSteeringStats } from './protocol.js'
