/**
 * What the stack keeps per socket id: addresses, the connection or the listening state, and who to
 * tell about events.
 * @module
 */
import type { Micros, TcpConnection } from '@mtcp/tcp-core'
import type { CongestionControlChoice } from './config.js'
import type { SynQueue } from './syn-queue.js'
import type { Tcp6HeaderTemplate, TcpHeaderTemplate } from './tcp-header-template.js'

/** Readiness bits, as epoll's (IN, OUT, ERR, HUP, RDHUP). */
export const PollEvents = {
  IN: 0x001,
  OUT: 0x004,
  ERR: 0x008,
  HUP: 0x010,
  RDHUP: 0x2000,
  /** Edge-triggered: report a readiness change once. */
  ET: 1 << 31,
  /** Report once, then disable until re-armed with `modify`. */
  ONESHOT: 1 << 30,
} as const

/** @internal A listening socket's queues. */
export interface ListenState {
  /** Bounds {@link accepted} only (listen's backlog); half-open connections are the SYN queue's. */
  backlog: number
  /** Connections in SYN-RECEIVED for this listener (syn-queue.ts). */
  synQueue: SynQueue
  /** Established connections waiting for accept, oldest first. */
  accepted: number[]
}

/** @internal */
export class SocketRecord {
  localIp = 0
  localPort = 0
  remoteIp = 0
  remotePort = 0
  /** The headers of this connection's segments, made at its first segment (tcp-header-template.ts). */
  template: TcpHeaderTemplate | undefined = undefined
  /** The same for a connection over IPv6 (family 6). */
  template6: Tcp6HeaderTemplate | undefined = undefined
  bound = false
  /**
   * 6 for a connection over IPv6: its addresses are then {@link localIp6} and {@link remoteIp6}, and
   * {@link localIp}, {@link remoteIp} hold keyed 32-bit digests of them, for the functions of the 4-tuple
   * that take IPv4-sized words (ISN, ports, timestamp offsets, SYN cookies, cluster hooks). Lookups never
   * use them: the flow and TIME-WAIT tables key the full addresses.
   */
  family: 4 | 6 = 4
  /** The local and remote IPv6 addresses (16 bytes each), made once at connect or accept. */
  localIp6: Uint8Array | undefined = undefined
  remoteIp6: Uint8Array | undefined = undefined
  /** Over IPv6: the TCP pseudo-header sum of the two addresses and Next Header 6, without the length (RFC 8200 §8.1), computed once. */
  addressSum = 0
  /** Over IPv6: the flow label of every packet of the connection (RFC 6437 §3). */
  flowLabel = 0
  /** A listener's families: 4 (bound to 0.0.0.0 or the IPv4 address), 6 (the IPv6 address), or 46 (`::`, both, as a dual-stack socket). */
  listenFamilies: 4 | 6 | 46 = 4
  /** An IPv4 connection accepted by a dual-stack listener: Node-style APIs show its addresses as IPv4-mapped IPv6 (RFC 4291 §2.5.5.2). */
  mapped = false
  connection: TcpConnection | undefined = undefined
  listen: ListenState | undefined = undefined
  /** The listener a passive connection came from, until it is accepted; -1 otherwise. */
  parent = -1
  /** The application closed the socket; the id is released when the connection ends. */
  appClosed = false
  /** Queued for dispatch in this loop iteration. */
  dirty = false
  /** Readiness bits raised during this loop iteration, delivered to the watchers after it (0: none). */
  pendingEvents = 0
  /** Released while a notification was pending: the watchers go once it is delivered. */
  releasedWithPending = false
  /** The deadline registered in the timer queue, or undefined. */
  timerAt: Micros | undefined = undefined
  /** Called with {@link PollEvents} bits whenever the socket's state changes. */
  readonly watchers: Array<(id: number, events: number) => void> = []
  /** Options set with setsockopt before the connection exists. */
  noDelay: boolean | undefined = undefined
  keepAlive: boolean | undefined = undefined
  keepAliveIdle: Micros | undefined = undefined
  sendBufferSize: number | undefined = undefined
  receiveBufferSize: number | undefined = undefined
  congestionControl: CongestionControlChoice | undefined = undefined
  pacing: boolean | undefined = undefined
  maxPacingRate: number | undefined = undefined

  constructor(readonly id: number) {}
}

/** @internal The readiness of a socket as {@link PollEvents} bits. */
export function readinessOf(record: SocketRecord): number {
  if (record.listen !== undefined) return record.listen.accepted.length > 0 ? PollEvents.IN : 0
  const connection = record.connection
  if (connection === undefined) return PollEvents.OUT | PollEvents.HUP
  let events = 0
  const state = connection.state
  if (connection.readableBytes > 0 || connection.readEnded || state === 'CLOSED') events |= PollEvents.IN
  if (connection.writable && state !== 'SYN-SENT' && state !== 'SYN-RECEIVED' && connection.sendBuffer.free > 0) events |= PollEvents.OUT
  if (connection.error !== undefined) events |= PollEvents.ERR
  if (connection.readEnded) events |= PollEvents.RDHUP
  if (state === 'CLOSED' || state === 'TIME-WAIT') events |= PollEvents.HUP
  return events
}
