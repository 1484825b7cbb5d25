/**
 * The public `Stack`: the mTCP-style socket API (socket, bind, listen, accept, connect, read, write,
 * close, setsockopt, …) over one `@mtcp/dpdk-io` port. The work behind it lives in files named after it:
 * the driver loop (driver.ts), the receive-side flow lookup for both families (demultiplexer.ts), the
 * state they share (stack-state.ts), the IPv4 and IPv6 hosts (ipv4-host.ts, ipv6-host.ts), the transmit
 * queue (transmit-queue.ts), the socket table (socket-table.ts) and the CCP glue (ccp.ts).
 * @module
 */
import type { BufferPool, Clock, Port } from '@mtcp/dpdk-io'
import { formatIpv4Address, formatIpv6Address, parseIpv4Address, parseIpv6Address, type RingStoragePoolStats, TcpConnection, type TcpState } from '@mtcp/tcp-core'
import { CcpControl, type StackCcp } from './ccp.js'
import { type CongestionControlChoice, congestionControlProblem, type ResolvedStackOptions, type StackOptions } from './config.js'
import { Driver } from './driver.js'
import { StackError, WOULD_BLOCK } from './errors.js'
import { type TcpConnectOptions, TcpServer, type TcpServerOptions, TcpSocket } from './node-socket.js'
import { ipv6AddressDigest } from './secrets.js'
import { type ListenState, PollEvents, readinessOf, type SocketRecord } from './socket-record.js'
import { StackState } from './stack-state.js'
import type { StackStats } from './stats.js'
import { readTcpInfo, type TcpInfo } from './tcp-info.js'
import { SynQueue } from './syn-queue.js'

/** Socket options for {@link Stack.setsockopt}. */
export type SocketOption =
  | 'noDelay'
  | 'keepAlive'
  | 'keepAliveIdle'
  | 'sendBufferSize'
  | 'receiveBufferSize'
  | 'congestionControl'
  /** Pace at the native rate (gain × cwnd / srtt). */
  | 'pacing'
  /** Cap the sending rate, bytes/s (SO_MAX_PACING_RATE); Infinity for none. */
  | 'maxPacingRate'

/** An address as `getsockname`/`getpeername` return it. */
export interface SocketAddress {
  address: string
  port: number
  /** `'IPv6'` for a connection over IPv6, and (as Node) for an IPv4 one accepted by a dual-stack listener (its address then IPv4-mapped, `::ffff:10.0.0.2`). */
  family: 'IPv4' | 'IPv6'
}

/**
 * A user-level TCP/IPv4 stack over one port. Create with {@link createStack}.
 *
 * Sockets are small integers (socket ids with a generation: a closed id never reaches a newer socket).
 * Calls never block: where POSIX would block they throw `EAGAIN`; readiness comes from
 * {@link Stack.watch} or from an {@link Epoll}.
 */
export class Stack {
  readonly stats: StackStats
  readonly port: Port
  readonly clock: Clock
  readonly pool: BufferPool
  readonly address: number
  readonly options: ResolvedStackOptions
  /** What the driver, the demultiplexer and the socket API share (stack-state.ts). */
  readonly #state: StackState
  /** The driver loop (driver.ts). */
  readonly #driver: Driver
  /** The text and value of the last IPv4 and IPv6 remote addresses `connect` parsed. */
  #lastRemote4Text: string | undefined = undefined
  #lastRemote4 = 0
  #lastRemote6Text: string | undefined = undefined
  #lastRemote6: Uint8Array | undefined = undefined

  /** @internal */
  constructor(options: StackOptions) {
    const state = new StackState(options)
    this.#state = state
    this.stats = state.stats
    this.options = state.options
    this.port = state.port
    this.clock = state.clock
    this.pool = state.pool
    this.address = state.address
    this.#driver = new Driver(state)
  }

  /**
   * Run one iteration of the loop (driver.ts): receive bursts, process, dispatch every connection with
   * work, transmit, and arm the next wake-up. Ports and timers call it; call it yourself only in busy-poll mode.
   */
  poll(): void {
    this.#driver.poll()
  }

  // ------------------------------------------------------------------ sockets

  #record(fd: number): SocketRecord {
    const record = this.#state.table.get(fd)
    if (record === undefined || (record.appClosed && record.parent < 0)) throw new StackError('EBADF', `socket ${fd} is not open`)
    return record
  }

  /** Create a TCP socket. @returns its id. @throws `EMFILE` when {@link StackOptions.maxConnections} sockets exist. */
  socket(): number {
    this.#checkOpen()
    const record = this.#state.table.allocate()
    if (record === undefined) throw new StackError('EMFILE', `no more than ${this.options.maxConnections} sockets (maxConnections)`)
    return record.id
  }

  /** Bind to a local port (address `'0.0.0.0'` or the stack's own). Port 0 picks an ephemeral port. */
  bind(fd: number, address: string, port: number): void {
    const record = this.#record(fd)
    if (record.bound) throw new StackError('EINVAL', `socket ${fd} is already bound`)
    checkPort('port', port)
    const families = this.#bindFamilies(address)
    const chosen = port === 0 ? this.#state.table.ephemeralListenPort() : port
    if (this.#state.table.portInUse(chosen)) {
      throw new StackError('EADDRINUSE', `port ${chosen} is in use`)
    }
    record.localIp = this.address
    record.localPort = chosen
    record.listenFamilies = families
    record.bound = true
  }

  /**
   * The families a bind address stands for: 4 for 0.0.0.0 or the IPv4 address, 6 for the IPv6 address,
   * 46 for `::` (dual-stack, as Linux with `IPV6_V6ONLY` off; 4 alone on a stack without IPv6).
   */
  #bindFamilies(address: string): 4 | 6 | 46 {
    if (typeof address === 'string' && address.includes(':')) {
      const ip6 = parseIpv6Address(address)
      if (ip6 === undefined) throw new StackError('EINVAL', `not an IP address: ${JSON.stringify(address)}`)
      if (ip6.every((byte) => byte === 0)) return this.#state.host6 === undefined ? 4 : 46
      if (this.#state.host6 !== undefined && this.#state.host6.isOurs(ip6, 0)) return 6
      throw new StackError('EADDRNOTAVAIL', `${address} is not this stack's address`)
    }
    const ip = parseAddress(address)
    if (ip !== 0 && ip !== this.address) throw new StackError('EADDRNOTAVAIL', `${address} is not this stack's address (${formatIpv4Address(this.address)})`)
    return 4
  }

  /**
   * Listen for connections; `backlog` bounds the established connections waiting for `accept` (the accept
   * queue). Connections still being set up are the SYN queue's (syn-queue.ts), bounded by `backlog` too, as
   * Linux bounds its request queue by the listen backlog, but never below the `synBacklog` option.
   */
  listen(fd: number, backlog = 511): void {
    const record = this.#record(fd)
    if (!record.bound) throw new StackError('EINVAL', `socket ${fd} must be bound before listen`)
    if (record.connection !== undefined) throw new StackError('EISCONN', `socket ${fd} is connected`)
    if (!Number.isInteger(backlog) || backlog < 1) throw new StackError('EINVAL', `backlog must be a positive integer, got ${backlog}`)
    const synLimit = Math.max(this.options.synBacklog, backlog)
    if (record.listen !== undefined) {
      record.listen.backlog = backlog
      record.listen.synQueue.limit = synLimit
      return
    }
    const listen: ListenState = { backlog, synQueue: new SynQueue(synLimit), accepted: [] }
    if (record.listenFamilies !== 6) this.#state.table.listeners.insert(this.address, record.localPort, record.id)
    if (record.listenFamilies !== 4) {
      try {
        this.#state.table.listeners6.insert(0, record.localPort, record.id)
      } catch (error) {
        if (record.listenFamilies !== 6) this.#state.table.listeners.delete(this.address, record.localPort)
        if (error instanceof Error && 'code' in error && error.code === 'EADDRINUSE') throw new StackError('EADDRINUSE', `port ${record.localPort} is already listened on over IPv6`)
        throw error
      }
    }
    record.listen = listen
  }

  /** Take an established connection. @throws `EAGAIN` when none is waiting, `EINVAL` when `fd` is not listening. */
  accept(fd: number): number {
    const id = this.tryAccept(fd)
    if (id === -1) throw WOULD_BLOCK
    return id
  }

  /**
   * Take an established connection, or -1 when none is waiting: {@link accept} without the exception, for
   * a loop that drains the queue on every readiness event.
   * @throws `EINVAL` when `fd` is not listening (a bug, not a condition to poll for).
   */
  tryAccept(fd: number): number {
    const record = this.#record(fd)
    if (record.listen === undefined) throw new StackError('EINVAL', `socket ${fd} is not listening`)
    const id = record.listen.accepted.shift()
    if (id === undefined) return -1
    const accepted = this.#state.table.get(id)!
    accepted.parent = -1
    return id
  }

  /**
   * mTCP style, `connect(fd, address, port)`: start connecting a socket (non-blocking); completion
   * shows as OUT (or ERR) readiness and in {@link state}.
   * @throws `EISCONN`, `EADDRINUSE` (no free ephemeral port), `EHOSTUNREACH` (no route).
   */
  connect(fd: number, address: string, port: number): void
  /**
   * Node style, `connect({ host, port }, listener?)`: a {@link TcpSocket} (a `Duplex` like
   * `net.Socket`) that emits `'connect'` once established; failures arrive as `'error'`.
   */
  connect(options: TcpConnectOptions, connectListener?: () => void): TcpSocket
  connect(first: number | TcpConnectOptions, second?: string | (() => void), port?: number): void | TcpSocket {
    if (typeof first === 'number') {
      this.#connectSocket(first, second as string, port as number)
      return
    }
    return this.createConnection(first, second as (() => void) | undefined)
  }

  /** Node style: the same as `connect(options, listener)`, under the name `http.request({ createConnection })` uses. */
  createConnection(options: TcpConnectOptions, connectListener?: () => void): TcpSocket {
    const fd = this.socket()
    const socket = new TcpSocket(this, fd, { connecting: true, allowHalfOpen: options.allowHalfOpen ?? false })
    if (connectListener !== undefined) socket.once('connect', connectListener)
    try {
      socket.startConnect(options)
    } catch (error) {
      queueMicrotask(() => socket.destroy(error as Error))
    }
    return socket
  }

  /** Node style: a {@link TcpServer} (like `net.Server`); call `listen(port)` on it. */
  createServer(options?: TcpServerOptions | ((socket: TcpSocket) => void), connectionListener?: (socket: TcpSocket) => void): TcpServer {
    if (typeof options === 'function') return new TcpServer(this, {}, options)
    return new TcpServer(this, options ?? {}, connectionListener)
  }

  #connectSocket(fd: number, address: string, port: number): void {
    const record = this.#record(fd)
    if (record.connection !== undefined) throw new StackError(record.connection.state === 'SYN-SENT' ? 'EALREADY' : 'EISCONN', `socket ${fd} is already connecting or connected`)
    if (record.listen !== undefined) throw new StackError('EINVAL', `socket ${fd} is listening`)
    checkPort('port', port)
    if (typeof address === 'string' && address.includes(':') && !address.toLowerCase().startsWith('::ffff:')) {
      this.#connectSocket6(record, address, port)
      return
    }
    // A client connects to the same peer again and again: the last address parsed is kept.
    let remoteIp = this.#lastRemote4
    if (address !== this.#lastRemote4Text) {
      remoteIp = parseAddress(address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address)
      this.#lastRemote4 = remoteIp
      this.#lastRemote4Text = address
    }
    if (this.#state.host.routes.lookupRoute(remoteIp) === undefined) throw new StackError('EHOSTUNREACH', `no route to ${address}`)
    record.localIp = this.address
    record.remoteIp = remoteIp
    record.remotePort = port
    if (!record.bound) {
      record.localPort = this.#state.table.ephemeralPortFor(remoteIp, port)
      record.bound = true
    } else if (this.#state.table.flows.has(record.localIp, record.localPort, remoteIp, port) || !this.#state.table.timeWaitAllows(record.localPort, remoteIp, port)) {
      throw new StackError('EADDRINUSE', `${formatIpv4Address(this.address)}:${record.localPort} is already connected to ${address}:${port}`)
    }
    const now = this.clock.now()
    const iss = this.#state.initialSequence(now, record.localIp, record.localPort, remoteIp, port)
    record.connection = TcpConnection.connect(this.#state.configFor(record), now, iss, this.#state.timestampOffset(record.localPort, remoteIp, port))
    this.#state.table.addFlow(record)
    this.stats.tcp.activeOpens++
    this.#driver.touch(record)
  }

  /** connect over IPv6 (the address has a colon and is not IPv4-mapped). */
  #connectSocket6(record: SocketRecord, address: string, port: number): void {
    const host = this.#state.host6
    if (host === undefined) throw new StackError('EAFNOSUPPORT', `connect to ${address}: the stack has no IPv6 address (the ipv6 option)`)
    // As over IPv4, the last unicast address parsed is kept (a copy per connection: the record keeps it).
    let remote: Uint8Array | undefined
    if (address === this.#lastRemote6Text) remote = this.#lastRemote6!.slice()
    else {
      remote = parseIpv6Address(address)
      if (remote === undefined || remote[0] === 0xff || remote.every((byte) => byte === 0)) throw new StackError('EINVAL', `not a unicast IPv6 address: ${JSON.stringify(address)}`)
      this.#lastRemote6 = remote.slice()
      this.#lastRemote6Text = address
    }
    if (host.nextHop(remote) === undefined) throw new StackError('EHOSTUNREACH', `no route to ${address}`)
    const local = remote[0] === 0xfe && (remote[1]! & 0xc0) === 0x80 ? host.linkLocal : host.address
    if (!host.usable(local)) throw new StackError('EADDRNOTAVAIL', `${formatIpv6Address(local)} is held by another node (Duplicate Address Detection, RFC 4862 §5.4.5)`)
    const localDigest = ipv6AddressDigest(this.#state.secrets, local)
    const remoteDigest = ipv6AddressDigest(this.#state.secrets, remote)
    let localPort = record.localPort
    if (!record.bound) localPort = this.#state.table.ephemeralPortFor6(local, localDigest, remote, remoteDigest, port)
    else if (this.#state.table.flows6.has(local, localPort, remote, port) || !this.#state.table.timeWaitAllows6(local, localPort, remote, port)) throw new StackError('EADDRINUSE', `[${formatIpv6Address(local)}]:${localPort} is already connected to [${address}]:${port}`)
    this.#state.setIpv6Addresses(record, local, remote, localPort, port)
    const now = this.clock.now()
    const iss = this.#state.initialSequence(now, record.localIp, record.localPort, record.remoteIp, record.remotePort)
    record.connection = TcpConnection.connect(this.#state.configFor(record), now, iss, this.#state.timestampOffset6(record.localIp, record.localPort, record.remoteIp, record.remotePort))
    this.#state.table.addFlow(record)
    this.stats.tcp.activeOpens++
    this.#driver.touch(record)
  }

  /**
   * Read up to `length` bytes into `buffer` at `offset`.
   * @returns the count, or 0 at the end of the stream.
   * @throws `EAGAIN` when nothing is buffered yet, or the connection's error (`ECONNRESET`, …).
   */
  read(fd: number, buffer: Uint8Array, offset = 0, length = buffer.byteLength - offset): number {
    checkRange('buffer', buffer, offset, length)
    const connection = this.#connection(fd)
    const n = connection.read(buffer, offset, length)
    if (n > 0) {
      this.#driver.touch(this.#record(fd))
      return n
    }
    if (connection.error !== undefined) throw new StackError(connection.error, `socket ${fd}: ${connection.error}`)
    if (connection.readEnded || connection.state === 'CLOSED') return 0
    throw WOULD_BLOCK
  }

  /** Read into several buffers in order (scatter). @returns the total count. */
  readv(fd: number, buffers: readonly Uint8Array[]): number {
    return vectored(buffers, (buffer) => this.read(fd, buffer))
  }

  /**
   * Queue bytes for sending.
   * @returns how many were taken; fewer than asked when the send buffer is full.
   * @throws `EAGAIN` when nothing fits, `EPIPE` after `shutdown`, or the connection's error.
   */
  write(fd: number, data: Uint8Array, offset = 0, length = data.byteLength - offset): number {
    checkRange('data', data, offset, length)
    const record = this.#record(fd)
    const connection = this.#connection(fd)
    if (connection.error !== undefined) throw new StackError(connection.error, `socket ${fd}: ${connection.error}`)
    if (!connection.writable) throw new StackError('EPIPE', `socket ${fd} cannot send any more (state ${connection.state})`)
    const n = connection.write(data, offset, length)
    if (n === 0 && length > 0) throw WOULD_BLOCK
    this.#driver.touch(record)
    return n
  }

  /** Write several buffers in order (gather). @returns the total count. */
  writev(fd: number, buffers: readonly Uint8Array[]): number {
    return vectored(buffers, (buffer) => this.write(fd, buffer))
  }

  /** Close the sending side: a FIN follows the queued data. */
  shutdown(fd: number): void {
    const record = this.#record(fd)
    record.connection?.shutdown()
    if (record.connection !== undefined) this.#driver.touch(record)
  }

  /**
   * Close the socket. A connection closes gracefully (FIN after the queued data) unless unread data
   * is left, in which case it is reset (as Linux does, RFC 9293 §3.10.4 / RFC 2525 §2.17).
   * The id stays reserved until the connection is over.
   */
  close(fd: number): void {
    const record = this.#record(fd)
    record.appClosed = true
    record.watchers.length = 0
    if (record.listen !== undefined) {
      for (const id of record.listen.accepted) {
        const child = this.#state.table.get(id)
        if (child?.connection !== undefined) {
          child.connection.abort()
          child.appClosed = true
          this.#driver.touch(child)
        }
      }
      record.listen.accepted.length = 0
      this.#state.unlisten(record)
      record.listen = undefined
    }
    const connection = record.connection
    if (connection === undefined) {
      this.#state.table.release(record.id)
      return
    }
    if (connection.readableBytes > 0) connection.abort()
    else connection.shutdown()
    this.#driver.touch(record)
    this.#driver.maybeRelease(record)
  }

  /** Reset the connection at once (RST) and close the socket. */
  abort(fd: number): void {
    const record = this.#record(fd)
    record.connection?.abort()
    record.appClosed = true
    record.watchers.length = 0
    if (record.connection === undefined) this.close(fd)
    else this.#driver.touch(record)
    this.#driver.maybeRelease(record)
  }

  /** The local address of a socket. */
  getsockname(fd: number): SocketAddress {
    const record = this.#record(fd)
    if (record.family === 6) return { address: formatIpv6Address(record.localIp6!), port: record.localPort, family: 'IPv6' }
    if (record.listenFamilies === 46 && record.connection === undefined) return { address: '::', port: record.localPort, family: 'IPv6' }
    if (record.listenFamilies === 6 && record.connection === undefined) return { address: formatIpv6Address(this.#state.host6!.address), port: record.localPort, family: 'IPv6' }
    const ip = formatIpv4Address(record.bound ? record.localIp : 0)
    if (record.mapped) return { address: `::ffff:${ip}`, port: record.localPort, family: 'IPv6' }
    return { address: ip, port: record.localPort, family: 'IPv4' }
  }

  /** The remote address of a connected socket. @throws `ENOTCONN`. */
  getpeername(fd: number): SocketAddress {
    const record = this.#record(fd)
    if (record.connection === undefined) throw new StackError('ENOTCONN', `socket ${fd} is not connected`)
    if (record.family === 6) return { address: formatIpv6Address(record.remoteIp6!), port: record.remotePort, family: 'IPv6' }
    const ip = formatIpv4Address(record.remoteIp)
    if (record.mapped) return { address: `::ffff:${ip}`, port: record.remotePort, family: 'IPv6' }
    return { address: ip, port: record.remotePort, family: 'IPv4' }
  }

  /**
   * Set an option. Before `connect`/`listen` it applies to the connection to come (and to accepted
   * connections of a listener); on a live connection `noDelay` and keep-alive apply at once.
   */
  setsockopt(fd: number, option: SocketOption, value: boolean | number | string): void {
    const record = this.#record(fd)
    switch (option) {
      case 'noDelay':
        record.noDelay = Boolean(value)
        break
      case 'keepAlive':
        record.keepAlive = Boolean(value)
        break
      case 'keepAliveIdle':
        if (typeof value !== 'number' || !(value >= 1_000_000)) throw new StackError('EINVAL', `keepAliveIdle must be at least 1,000,000 µs, got ${String(value)}`)
        record.keepAliveIdle = value
        break
      case 'sendBufferSize':
      case 'receiveBufferSize':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 1 << 30) throw new StackError('EINVAL', `${option} must be an integer in [1, 1073741824], got ${String(value)}`)
        if (record.connection !== undefined) throw new StackError('EISCONN', `${option} must be set before connect or listen`)
        record[option] = value
        break
      case 'pacing':
        record.pacing = Boolean(value)
        break
      case 'maxPacingRate':
        if (typeof value !== 'number' || !(value >= 1)) throw new StackError('EINVAL', `maxPacingRate must be a number of bytes/s in [1, Infinity], got ${String(value)}`)
        record.maxPacingRate = value
        break
      case 'congestionControl': {
        const problem = congestionControlProblem(value, this.#state.ccp !== undefined)
        if (problem !== undefined) throw new StackError('EINVAL', problem)
        if (record.connection !== undefined) throw new StackError('EISCONN', 'congestionControl must be set before connect or listen')
        record.congestionControl = value as CongestionControlChoice
        break
      }
      default:
        throw new StackError('ENOPROTOOPT', `unknown socket option ${String(option)}`)
    }
    if (record.connection !== undefined && (option === 'noDelay' || option === 'keepAlive' || option === 'keepAliveIdle' || option === 'pacing' || option === 'maxPacingRate')) {
      record.connection.setOptions({
        noDelay: record.noDelay,
        keepAlive: record.keepAlive,
        keepAliveIdle: record.keepAliveIdle,
        pacing: record.pacing,
        maxPacingRate: record.maxPacingRate,
      })
      this.#driver.touch(record)
    }
  }

  /** Read an option back. */
  getsockopt(fd: number, option: SocketOption): boolean | number | string {
    const record = this.#record(fd)
    const config = record.connection?.config ?? this.#state.configFor(record)
    switch (option) {
      case 'noDelay':
        return config.noDelay
      case 'keepAlive':
        return config.keepAlive
      case 'keepAliveIdle':
        return config.keepAliveIdle
      case 'sendBufferSize':
        return config.sendBufferSize
      case 'receiveBufferSize':
        return config.receiveBufferSize
      case 'pacing':
        return config.pacing
      case 'maxPacingRate':
        return config.maxPacingRate
      case 'congestionControl':
        return record.connection?.congestion.name ?? record.congestionControl ?? this.options.congestionControl
      default:
        throw new StackError('ENOPROTOOPT', `unknown socket option ${String(option)}`)
    }
  }

  /** The TCP state of a socket (`'LISTEN'` for a listener, `'CLOSED'` before connect). */
  state(fd: number): TcpState {
    const record = this.#record(fd)
    if (record.listen !== undefined) return 'LISTEN'
    return record.connection?.state ?? 'CLOSED'
  }

  /**
   * A snapshot of a connection's TCP state (windows, RTT, counters, pacing), like Linux's `TCP_INFO`.
   * Throws `ENOTCONN` for a socket with no connection (a listener, or before connect).
   */
  tcpInfo(fd: number): TcpInfo {
    const connection = this.#record(fd).connection
    if (connection === undefined) throw new StackError('ENOTCONN', `socket ${fd} has no connection`)
    return readTcpInfo(connection)
  }

  /**
   * @internal Count an application callback's error and hand it to `onCallbackError`: for the Node-style
   * sockets, whose event listeners run inside the stack's callback phase.
   */
  reportCallbackError(error: unknown): void {
    this.#state.reportCallbackError(error)
  }

  /** The connection behind a socket, for inspection (stats, RTT, windows). */
  connectionOf(fd: number): TcpConnection | undefined {
    return this.#record(fd).connection
  }

  /** Current readiness of a socket as {@link PollEvents} bits. */
  readiness(fd: number): number {
    return readinessOf(this.#record(fd))
  }

  /**
   * Be told of a socket's readiness whenever its state changes (as {@link PollEvents} bits), after the
   * loop iteration that changed it. A socket that is already readable, failed or closed is reported at the
   * next delivery too (level-triggered, as epoll).
   * @returns a function that stops watching.
   */
  watch(fd: number, watcher: (fd: number, events: number) => void): () => void {
    const record = this.#record(fd)
    record.watchers.push(watcher)
    // Level-triggered, as epoll: a socket that is already readable (data that arrived before anyone
    // watched, as on a connection accepted in the iteration that brought its first data), failed or closed
    // is reported to its watchers at the next delivery, not only at its next change.
    const ready = (record.connection !== undefined || record.listen !== undefined ? readinessOf(record) : 0) & (PollEvents.IN | PollEvents.ERR | PollEvents.HUP | PollEvents.RDHUP)
    if (ready !== 0) {
      this.#driver.queueEvents(record, ready)
      if (!this.#state.polling) this.#driver.scheduleSoon()
    }
    return () => {
      const index = record.watchers.indexOf(watcher)
      if (index >= 0) record.watchers.splice(index, 1)
    }
  }

  /**
   * Merge a neighbour learned elsewhere (by another worker of a cluster) into the ARP cache, as an ARP
   * reply addressed to this stack would be (RFC 826 merge); frames waiting for it are sent. Does not call
   * `hooks.arpLearned`. @throws `EINVAL` for a bad address or a MAC that is not 6 bytes.
   */
  addArpEntry(ip: string | number, mac: Uint8Array): void {
    const address = typeof ip === 'number' ? ip : parseAddress(ip)
    if (!Number.isInteger(address) || address < 0 || address > 0xffffffff) throw new StackError('EINVAL', `ip must be an IPv4 address, got ${String(ip)}`)
    if (!(mac instanceof Uint8Array) || mac.byteLength !== 6) throw new StackError('EINVAL', 'mac must be a 6-byte Uint8Array')
    if (this.#state.closed) return
    const result = this.#state.host.arp.onArpPacket(this.clock.now(), { operation: 2, senderMac: mac, senderIp: address, targetIp: this.address }, this.address)
    this.#state.host.releaseResolved(result.ready, result.mac!)
    if (result.ready.length > 0) this.#driver.scheduleSoon()
  }

  /** Connections by TCP state, for monitoring. */
  connectionsByState(): Partial<Record<TcpState, number>> {
    const counts: Partial<Record<TcpState, number>> = {}
    this.#state.table.ids.forEach((record) => {
      const state: TcpState = record.listen !== undefined ? 'LISTEN' : (record.connection?.state ?? 'CLOSED')
      counts[state] = (counts[state] ?? 0) + 1
    })
    if (this.#state.table.timeWait.size > 0) counts['TIME-WAIT'] = (counts['TIME-WAIT'] ?? 0) + this.#state.table.timeWait.size
    return counts
  }

  /**
   * Sockets in use (including closing connections the application let go, and connections in TIME-WAIT
   * the application has not closed; closed ones in TIME-WAIT are entries of the TIME-WAIT table instead,
   * counted in {@link connectionsByState} and {@link timeWaitCount}).
   */
  get socketCount(): number {
    return this.#state.table.ids.size
  }

  /**
   * Counters of the pool that recycles the send and receive rings of finished connections (the stack's
   * own, or the `tcp.ringStorage` it was given): how much storage was reused, allocated, and held now.
   */
  get ringStorage(): RingStoragePoolStats | undefined {
    return this.#state.tcpConfig.ringStorage?.stats
  }

  /** Connections in TIME-WAIT kept as compact entries after their sockets were closed (at most the `timeWaitLimit` option). */
  get timeWaitCount(): number {
    return this.#state.table.timeWait.size
  }

  /** Stop the stack: cancel the wake-up, stop listening to the port, free queued frames. Connections are abandoned without resets. Idempotent. */
  stop(): void {
    if (this.#state.closed) return
    this.#state.closed = true
    this.#driver.cancelWake()
    this.port.onReadable(undefined)
    this.port.onWritable(undefined)
    this.#state.txQueue.clear()
    this.#state.host.arp.clear((buffer) => buffer.release())
    this.#state.host.reassembly.clear()
    this.#state.host6?.neighbors.clear((buffer) => buffer.release())
    if (this.#state.ccp !== undefined) {
      this.#state.table.ids.forEach((record) => {
        if (record.connection?.congestion instanceof CcpControl) record.connection.congestion.free()
      })
      this.#state.ccp.close()
    }
  }

  /** The stack's CCP datapath (libccp's `Datapath`), when it was created with the `ccp` option: stats, agent presence. */
  get ccpDatapath(): StackCcp['datapath'] | undefined {
    return this.#state.ccp?.datapath
  }

  #connection(fd: number) {
    const connection = this.#record(fd).connection
    if (connection === undefined) throw new StackError('ENOTCONN', `socket ${fd} is not connected`)
    return connection
  }

  #checkOpen(): void {
    if (this.#state.closed) throw new StackError('ERR_STACK_CLOSED', 'the stack is closed')
  }
}

/**
 * Scatter/gather: apply `transfer` to each buffer in order until one is not filled (or emptied) whole.
 * `EAGAIN` after some bytes moved ends the call with that count, as readv/writev do.
 */
function vectored(buffers: readonly Uint8Array[], transfer: (buffer: Uint8Array) => number): number {
  let total = 0
  for (const buffer of buffers) {
    let n: number
    try {
      n = transfer(buffer)
    } catch (error) {
      if (total > 0 && error === WOULD_BLOCK) return total
      throw error
    }
    total += n
    if (n < buffer.byteLength) break
  }
  return total
}


function checkPort(name: string, port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new StackError('EINVAL', `${name} must be an integer in [0, 65535], got ${String(port)}`)
}

function parseAddress(address: string): number {
  try {
    return parseIpv4Address(address)
  } catch {
    throw new StackError('EINVAL', `not an IPv4 address: ${JSON.stringify(address)}`)
  }
}

/**
 * Create a stack over a port.
 *
 * @example
 * ```ts
 * const link = createMemoryLink()
 * const server = createStack({ port: link.a, address: '10.0.0.1/24' })
 * const client = createStack({ port: link.b, address: '10.0.0.2/24' })
 * ```
 */
export function createStack(options: StackOptions): Stack {
  return new Stack(options)
}

/**
 * `EINVAL` unless `bytes` is a Uint8Array and `offset`, `length` are integers with the range inside it: a
 * length past the end would send bytes that were never written, or read into nowhere.
 */
function checkRange(name: string, bytes: Uint8Array, offset: number, length: number): void {
  if (!(bytes instanceof Uint8Array)) throw new StackError('EINVAL', `${name} must be a Uint8Array, got ${typeof bytes}`)
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > bytes.byteLength) {
    throw new StackError('EINVAL', `offset and length must be integers with offset + length within the ${bytes.byteLength}-byte ${name}, got offset ${String(offset)}, length ${String(length)}`)
  }
}
