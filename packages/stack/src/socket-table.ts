/**
 * The stack's socket table: socket ids and their records, the flow table (4-tuple → id), the listeners
 * (local address and port → id), the TIME-WAIT entries whose sockets are gone, the count of flows per
 * local port, and the choice of ephemeral ports (RFC 6056 §3.3.4). The lookups are sid-map's tables, the
 * one flow demultiplexer of the packages (decision 0012); the demultiplexer (demultiplexer.ts) asks in the order of
 * RFC 9293 §3.10.7: the exact 4-tuple, then TIME-WAIT, then the listeners.
 * @internal
 * @module
 */
import type { Clock } from '@mtcp/dpdk-io'
import { FlowTable, Ipv6FlowTable, ListenerTable, SocketTable } from '@mtcp/sid-map'
import { formatIpv4Address, formatIpv6Address } from '@mtcp/tcp-core'
import { StackError } from './errors.js'
import { PortSelector } from './port-selection.js'
import type { StackSecrets } from './secrets.js'
import { SocketRecord } from './socket-record.js'
import type { StackStats } from './stats.js'
import { TimeWaitTable } from './time-wait-table.js'

/**
 * How old a TIME-WAIT entry with timestamps must be before a new connection may take its 4-tuple
 * (as Linux's `tcp_tw_reuse`, whose default wait is 1 s).
 */
const TIME_WAIT_REUSE_AFTER = 1_000_000

/** @internal What the table needs from the stack. */
export interface SocketTableOptions {
  /** The stack's address: every flow and listener is on it (or, for listeners, on 0.0.0.0). */
  address: number
  maxConnections: number
  timeWaitLimit: number
  timeWaitTimeout: number
  ephemeralPorts: readonly [number, number]
  secrets: StackSecrets
  clock: Clock
  stats: StackStats
  /** A cluster worker's say on which ephemeral ports are its own (stack-hooks.ts). */
  acceptEphemeralPort: ((port: number, remoteIp: number, remotePort: number, remote6?: Uint8Array, local6?: Uint8Array) => boolean) | undefined
}

/** @internal The socket table (see the module). */
export class StackSocketTable {
  /** Socket ids with generations, and their records. */
  readonly ids: SocketTable<SocketRecord>
  /** 4-tuple → socket id. */
  readonly flows = new FlowTable<number>()
  /** Local address and port → listening socket id. */
  readonly listeners = new ListenerTable<number>()
  /** IPv6 4-tuple → socket id (decision 0070: a table of its own, the IPv4 one keeps its three-word keys). */
  readonly flows6 = new Ipv6FlowTable<number>()
  /** Local port → listening socket id over IPv6 (the stack has one IPv6 address besides its link-local one: a listener takes every address of it, under the key 0). */
  readonly listeners6 = new ListenerTable<number>()
  /** Connections in TIME-WAIT whose sockets are gone (time-wait-table.ts). */
  readonly timeWait: TimeWaitTable
  /** Connections in the flow table per local port: `bind` asks in O(1), not by walking every flow. */
  readonly #flowsOnPort = new Uint32Array(65536)
  /** RFC 6056 §3.3.4 ephemeral ports (port-selection.ts). */
  readonly #ports: PortSelector
  readonly #options: SocketTableOptions

  constructor(options: SocketTableOptions) {
    this.#options = options
    this.ids = new SocketTable<SocketRecord>({ maxSockets: options.maxConnections })
    this.timeWait = new TimeWaitTable(options.timeWaitLimit, options.stats.timeWait)
    this.#ports = new PortSelector(options.secrets, options.ephemeralPorts)
  }

  /** A new socket's record, or undefined when all ids are taken. */
  allocate(): SocketRecord | undefined {
    const id = this.ids.allocate(undefined as never)
    if (id === undefined) return undefined
    const record = new SocketRecord(id)
    this.ids.set(id, record)
    return record
  }

  /** The record of socket `id`, if it is open. */
  get(id: number): SocketRecord | undefined {
    return this.ids.get(id)
  }

  /** Whether socket `id` is open. */
  has(id: number): boolean {
    return this.ids.has(id)
  }

  /** Let the id go (a later socket may take its slot, with a new generation). */
  release(id: number): void {
    this.ids.release(id)
  }

  /** Enter `record`'s 4-tuple in the flow table. */
  addFlow(record: SocketRecord): void {
    if (record.family === 6) this.flows6.insert(record.localIp6!, record.localPort, record.remoteIp6!, record.remotePort, record.id)
    else this.flows.insert(record.localIp, record.localPort, record.remoteIp, record.remotePort, record.id)
    this.#flowsOnPort[record.localPort]!++
  }

  /** Take `record`'s 4-tuple out of the flow table (if it is there). */
  removeFlow(record: SocketRecord): void {
    if (record.family === 6) {
      if (this.flows6.delete(record.localIp6!, record.localPort, record.remoteIp6!, record.remotePort)) this.#flowsOnPort[record.localPort]!--
      return
    }
    if (this.flows.delete(record.localIp, record.localPort, record.remoteIp, record.remotePort)) this.#flowsOnPort[record.localPort]!--
  }

  /** Whether a listener or a connection uses local `port` (TIME-WAIT entries do not count, as with SO_REUSEADDR). */
  portInUse(port: number): boolean {
    const address = this.#options.address
    return this.listeners.has(address, port) || this.listeners.has(0, port) || this.listeners6.has(0, port) || this.#flowsOnPort[port]! > 0
  }

  /** Port 0 for a listener: RFC 6056 §3.3.4 with no remote end (port-selection.ts). */
  ephemeralListenPort(): number {
    const address = this.#options.address
    const port = this.#ports.select(address, 0, 0, (candidate) => !this.listeners.has(address, candidate) && !this.listeners.has(0, candidate) && !this.listeners6.has(0, candidate))
    if (port < 0) throw new StackError('EADDRINUSE', 'no free ephemeral port')
    return port
  }

  /** A local port for a connection to `remoteIp:remotePort`: RFC 6056 §3.3.4 (port-selection.ts). */
  ephemeralPortFor(remoteIp: number, remotePort: number): number {
    const address = this.#options.address
    const accept = this.#options.acceptEphemeralPort
    const port = this.#ports.select(
      address,
      remoteIp,
      remotePort,
      (candidate) =>
        !this.flows.has(address, candidate, remoteIp, remotePort) &&
        !this.listeners.has(address, candidate) &&
        !this.listeners.has(0, candidate) &&
        (accept?.(candidate, remoteIp, remotePort) ?? true) &&
        this.timeWaitAllows(candidate, remoteIp, remotePort),
    )
    if (port < 0) throw new StackError('EADDRINUSE', `no free ephemeral port towards ${formatIpv4Address(remoteIp)}:${remotePort}`)
    return port
  }

  /**
   * A local port for a connection over IPv6 to `remote` (16 bytes) port `remotePort`: RFC 6056 §3.3.4 over
   * the keyed digests of the addresses (`localDigest`, `remoteDigest`, see SocketRecord.family).
   */
  ephemeralPortFor6(local: Uint8Array, localDigest: number, remote: Uint8Array, remoteDigest: number, remotePort: number): number {
    const accept = this.#options.acceptEphemeralPort
    const port = this.#ports.select(
      localDigest,
      remoteDigest,
      remotePort,
      (candidate) =>
        !this.flows6.has(local, candidate, remote, remotePort) &&
        !this.listeners6.has(0, candidate) &&
        !this.listeners.has(0, candidate) &&
        (accept?.(candidate, remoteDigest, remotePort, remote, local) ?? true) &&
        this.timeWaitAllows6(local, candidate, remote, remotePort),
    )
    if (port < 0) throw new StackError('EADDRINUSE', `no free ephemeral port towards [${formatIpv6Address(remote)}]:${remotePort}`)
    return port
  }

  /**
   * Whether a connect may use a 4-tuple as far as the TIME-WAIT table goes: no entry, or one that had
   * timestamps and began at least 1 s ago, which is then ended (as Linux's `tcp_tw_reuse`: our new SYN's
   * TSval, on the same per-4-tuple offset, is above anything the old incarnation sent, so the peer's
   * PAWS, RFC 7323 §5, and RFC 6191 tell the incarnations apart).
   */
  timeWaitAllows(localPort: number, remoteIp: number, remotePort: number): boolean {
    const table = this.timeWait
    if (table.size === 0) return true
    const slot = table.find(this.#options.address, localPort, remoteIp, remotePort)
    if (slot < 0) return true
    return this.#reuseTimeWait(slot)
  }

  /** {@link timeWaitAllows} for an IPv6 4-tuple (`local` and `remote` 16 bytes each). */
  timeWaitAllows6(local: Uint8Array, localPort: number, remote: Uint8Array, remotePort: number): boolean {
    const table = this.timeWait
    if (table.size === 0) return true
    const slot = table.find6(local, 0, localPort, remote, 0, remotePort)
    if (slot < 0) return true
    return this.#reuseTimeWait(slot)
  }

  /** End the entry in `slot` for a connect if it had timestamps and began at least 1 s ago (see {@link timeWaitAllows}); false otherwise. */
  #reuseTimeWait(slot: number): boolean {
    const table = this.timeWait
    if (!table.hadTimestamps(slot) || this.#options.clock.now() - table.startedAt(slot, this.#options.timeWaitTimeout) < TIME_WAIT_REUSE_AFTER) return false
    table.reuse(slot)
    return true
  }
}
