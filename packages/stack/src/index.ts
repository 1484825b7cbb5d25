export { type CcpControl, type CcpControlEvent, type CcpFlowAddress, type CcpLimits, type CcpOptions, type CcpTransport, type StackCcpStats } from './ccp.js'
export { type CongestionControlChoice, type StackOptions, type TcpOptions } from './config.js'
export { Epoll, type EpollEvent } from './epoll.js'
export { StackError, type StackErrorCode } from './errors.js'
export { type TcpConnectOptions, TcpServer, type TcpServerOptions, TcpSocket } from './node-socket.js'
export { PollEvents } from './socket-record.js'
export { createStack, type SocketAddress, type SocketOption, Stack } from './stack.js'
export { type StackHooks } from './stack-hooks.js'
export { type TcpInfo } from './tcp-info.js'
export {
  createStackStats,
  type DadCounters,
  type Icmpv6ErrorOutCounters,
  type IcmpErrorCounters,
  type IcmpInCounters,
  type ReassemblyCounters,
  type RouterDiscoveryCounters,
  type RxDrops,
  rxDropTotal,
  rxFramesAccounted,
  type StackStats,
  type SynCookieStats,
  type TxDrops,
} from './stats.js'
export { MAX_FRAGMENTS_PER_DATAGRAM, REASSEMBLY_DEFAULTS, type ReassemblyOptions } from './ipv4-reassembly.js'
export { type SynCookieMode } from './syn-queue.js'
export { type TimeWaitStats } from './time-wait-table.js'
