/**
 * `@mtcp/sid-map`: socket ids with generations ({@link SocketTable}), the TCP flow tables ({@link FlowTable}, {@link Ipv6FlowTable} for IPv6),
 * listeners with wildcard lookup ({@link ListenerTable}) and the demultiplexing order ({@link demultiplex}).
 * This file is the public API: named re-exports only.
 * @packageDocumentation
 */
export { demultiplex } from './demultiplex.js'
export { SidMapError, type SidMapErrorCode } from './errors.js'
export { FlowTable, type FlowTableOptions, type FlowTableProbeStats } from './flow-table.js'
export { Ipv6FlowTable } from './ipv6-flow-table.js'
export { INADDR_ANY, ListenerTable, type ListenerTableOptions } from './listener-table.js'
export {
  type GenerationWrapPolicy,
  type SocketId,
  SocketTable,
  type SocketTableOptions,
  type SocketTableStats,
} from './socket-table.js'
