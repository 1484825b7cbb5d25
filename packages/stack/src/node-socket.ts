/**
 * Node-style sockets over the stack: {@link TcpSocket} is a `Duplex` that behaves like `net.Socket`
 * (events, backpressure, half-close, timeouts), and {@link TcpServer} like `net.Server`, so code
 * written for `node:net` (and `node:http` through `createConnection` and the `'connection'` event)
 * runs over the user-level stack.
 * @module
 */
import { EventEmitter } from 'node:events'
import { Duplex } from 'node:stream'
import type { Timer } from '@mtcp/dpdk-io'
import type { CongestionControlChoice } from './config.js'
import { formatIpv6Address, parseIpv6Address } from '@mtcp/tcp-core'
import { StackError } from './errors.js'
import { PollEvents } from './socket-record.js'
import type { SocketAddress, Stack } from './stack.js'
import type { TcpInfo } from './tcp-info.js'

/** Options of {@link Stack.connect} in its Node form. */
export interface TcpConnectOptions {
  port: number
  /** IPv4 or IPv6 address of the peer (IPv6 needs the stack's `ipv6` option). Default `'127.0.0.1'` is not reachable on a user-level stack: give one. */
  host: string
  /** Keep the writable side open after the peer ends (as `net`'s `allowHalfOpen`). Default false. */
  allowHalfOpen?: boolean
  /** Disable Nagle. Default false. */
  noDelay?: boolean
  /** Enable keepalive. Default false. */
  keepAlive?: boolean
  /** Idle time before the first keepalive probe, ms. */
  keepAliveInitialDelay?: number
  /** Local port to bind first (0 or absent: ephemeral). */
  localPort?: number
  /** Congestion control of this connection (`'reno'`, `'cubic'`, `'ccp'`, `'ccp:bbr'`…). Default the stack's. */
  congestionControl?: CongestionControlChoice
}

const READ_CHUNK = 64 * 1024

/** A TCP connection on the stack with the `net.Socket` interface. */
export class TcpSocket extends Duplex {
  readonly #stack: Stack
  #fd: number
  #unwatch: (() => void) | undefined
  #connecting: boolean
  #pendingWrite: { chunk: Uint8Array; offset: number; callback: (error?: Error | null) => void } | undefined
  #timeout = 0
  #timeoutTimer: Timer | undefined
  #lastActivity = 0
  #bytesRead = 0
  #bytesWritten = 0
  #ended = false
  #remote: SocketAddress | undefined
  #local: SocketAddress | undefined

  /** @internal Wrap an existing socket id (accepted, or connecting). */
  constructor(stack: Stack, fd: number, options: { connecting: boolean; allowHalfOpen?: boolean }) {
    super({ allowHalfOpen: options.allowHalfOpen ?? false, decodeStrings: true })
    this.#stack = stack
    this.#fd = fd
    this.#connecting = options.connecting
    this.#unwatch = stack.watch(fd, (_id, events) => this.#onEvents(events))
    if (!this.#connecting) this.#rememberAddresses()
  }

  /**
   * As `EventEmitter#emit`, except that a listener that throws (other than for `'error'`) is counted and
   * handed to the stack's `onCallbackError` and the emit returns as if it had not (issue 16 §8). So a
   * throwing `'data'` handler loses nothing: the chunk was delivered, the socket reads on to the end of
   * the stream, and the stack, and Node's stream machinery around the emit, go on with their work. With
   * the default `onCallbackError` the error is still thrown again from a microtask, as Node would report it.
   */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    return emitReporting(this, this.#stack, event, args)
  }

  /**
   * As `Writable#end`, but a bare `end()` on a socket already ending (or errored) returns at once. Node's
   * would build an `ERR_STREAM_ALREADY_FINISHED` (or `ERR_STREAM_DESTROYED`) error, stack trace and all,
   * and drop it, having no callback to give it to; node:http's server does exactly that once per
   * connection (its `socketOnEnd` calls `socket.end()` after the response has already ended the socket),
   * which cost about 7% of the CPU of a short HTTP connection. With a chunk or a callback, `end` is Node's.
   */
  override end(cb?: () => void): this
  override end(chunk: unknown, cb?: () => void): this
  override end(chunk: unknown, encoding?: BufferEncoding, cb?: () => void): this
  override end(...args: unknown[]): this {
    if (args.length === 0 && (this.writableEnded || this.errored !== null)) return this
    return (super.end as (...all: unknown[]) => this)(...args)
  }

  /** A snapshot of the connection's TCP state (cwnd, RTT, retransmissions, pacing rate…), as Linux's `TCP_INFO`. */
  tcpInfo(): TcpInfo {
    return this.#stack.tcpInfo(this.#fd)
  }

  /** The socket id on the stack. */
  get fd(): number {
    return this.#fd
  }

  /** Whether the handshake is still under way (as `net.Socket#connecting`). */
  get connecting(): boolean {
    return this.#connecting
  }

  /** True before the connection is established (as `net.Socket#pending`). */
  get pending(): boolean {
    return this.#connecting
  }

  /** `'opening'`, `'open'`, `'readOnly'`, `'writeOnly'` or `'closed'`, as `net.Socket#readyState`. */
  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.#connecting) return 'opening'
    if (this.destroyed) return 'closed'
    if (this.readable && this.writable) return 'open'
    if (this.readable) return 'readOnly'
    if (this.writable) return 'writeOnly'
    return 'closed'
  }

  get remoteAddress(): string | undefined {
    return this.#remote?.address
  }
  get remotePort(): number | undefined {
    return this.#remote?.port
  }
  get remoteFamily(): string | undefined {
    return this.#remote?.family
  }
  get localAddress(): string | undefined {
    return this.#local?.address
  }
  get localPort(): number | undefined {
    return this.#local?.port
  }

  /** Bytes received. */
  get bytesRead(): number {
    return this.#bytesRead
  }

  /** Bytes handed to the stack for sending. */
  get bytesWritten(): number {
    return this.#bytesWritten
  }

  /** The local address, as `net.Socket#address()`. */
  address(): SocketAddress | Record<string, never> {
    return this.#local ?? {}
  }

  /** Disable (or re-enable) Nagle's algorithm. */
  setNoDelay(noDelay = true): this {
    if (!this.destroyed) this.#stack.setsockopt(this.#fd, 'noDelay', noDelay)
    return this
  }

  /** Enable keepalive; `initialDelay` in ms (0 keeps the current idle time). */
  setKeepAlive(enable = false, initialDelay = 0): this {
    if (this.destroyed) return this
    if (initialDelay > 0) this.#stack.setsockopt(this.#fd, 'keepAliveIdle', Math.max(1000, initialDelay) * 1000)
    this.#stack.setsockopt(this.#fd, 'keepAlive', enable)
    return this
  }

  /** Emit `'timeout'` after `ms` of inactivity (0 disables), as `net.Socket#setTimeout`. */
  setTimeout(ms: number, callback?: () => void): this {
    if (callback !== undefined) {
      if (ms === 0) this.removeListener('timeout', callback)
      else this.once('timeout', callback)
    }
    this.#timeout = ms
    this.#lastActivity = this.#stack.clock.now()
    if (ms === 0) {
      this.#timeoutTimer?.cancel()
      return this
    }
    this.#timeoutTimer ??= this.#stack.clock.createTimer(() => this.#checkTimeout())
    this.#timeoutTimer.arm(this.#lastActivity + ms * 1000)
    return this
  }

  /** For `net.Socket` compatibility; the stack's timers do not hold the process open by themselves. */
  ref(): this {
    return this
  }

  /** For `net.Socket` compatibility. */
  unref(): this {
    return this
  }

  /** @internal Start an active open; the `'connect'` event follows. */
  startConnect(options: TcpConnectOptions): void {
    const stack = this.#stack
    if (options.noDelay) stack.setsockopt(this.#fd, 'noDelay', true)
    if (options.congestionControl !== undefined) stack.setsockopt(this.#fd, 'congestionControl', options.congestionControl)
    if (options.keepAlive) this.setKeepAlive(true, options.keepAliveInitialDelay ?? 0)
    const six = typeof options.host === 'string' && options.host.includes(':') && !options.host.toLowerCase().startsWith('::ffff:')
    if (options.localPort !== undefined && options.localPort !== 0) stack.bind(this.#fd, six ? '::' : '0.0.0.0', options.localPort)
    // As net.Socket: the peer's address in its canonical text (RFC 5952 for IPv6) and its family.
    const parsed = six ? parseIpv6Address(options.host) : undefined
    this.#remote = { address: parsed === undefined ? options.host : formatIpv6Address(parsed), port: options.port, family: six ? 'IPv6' : 'IPv4' }
    stack.connect(this.#fd, options.host, options.port)
  }

  override _read(): void {
    this.#pull()
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#pendingWrite = { chunk, offset: 0, callback }
    if (!this.#connecting) this.#pushWrite()
  }

  override _final(callback: (error?: Error | null) => void): void {
    const finish = (): void => {
      try {
        this.#stack.shutdown(this.#fd)
        callback()
      } catch (error) {
        callback(error as Error)
      }
    }
    if (this.#connecting) this.once('connect', finish)
    else finish()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#timeoutTimer?.cancel()
    this.#unwatch?.()
    this.#unwatch = undefined
    try {
      if (error !== null || !this.#ended) this.#stack.abort(this.#fd)
      else this.#stack.close(this.#fd)
    } catch {
      // already closed on the stack
    }
    callback(error)
  }

  #rememberAddresses(): void {
    try {
      this.#local = this.#stack.getsockname(this.#fd)
      this.#remote = this.#stack.getpeername(this.#fd)
    } catch {
      // not connected (yet)
    }
  }

  #onEvents(events: number): void {
    if (this.destroyed) return
    const stack = this.#stack
    if (events & PollEvents.ERR) {
      const connection = stack.connectionOf(this.#fd)
      const code = connection?.error ?? 'ECONNRESET'
      this.destroy(new StackError(code, `${code} on ${this.#remote?.address ?? '?'}:${this.#remote?.port ?? '?'}`))
      return
    }
    if (this.#connecting) {
      const state = stack.state(this.#fd)
      if (state === 'SYN-SENT' || state === 'SYN-RECEIVED') return
      this.#connecting = false
      this.#rememberAddresses()
      this.#touch()
      this.emit('connect')
      this.emit('ready')
      this.#pushWrite()
    }
    if (events & PollEvents.IN) this.#pull()
    if (events & PollEvents.OUT) this.#pushWrite()
  }

  #pull(): void {
    if (this.#connecting || this.destroyed || this.#ended) return
    const stack = this.#stack
    const connection = stack.connectionOf(this.#fd)
    if (connection === undefined) return
    for (;;) {
      const available = connection.readableBytes
      if (available === 0) break
      const chunk = Buffer.allocUnsafe(Math.min(available, READ_CHUNK))
      const n = stack.read(this.#fd, chunk)
      this.#bytesRead += n
      this.#touch()
      if (!this.push(chunk)) return
    }
    if (connection.readEnded || connection.state === 'CLOSED') {
      this.#ended = true
      this.push(null)
    }
  }

  #pushWrite(): void {
    const pending = this.#pendingWrite
    if (pending === undefined || this.destroyed) return
    const stack = this.#stack
    while (pending.offset < pending.chunk.byteLength) {
      let n: number
      try {
        n = stack.write(this.#fd, pending.chunk, pending.offset)
      } catch (error) {
        if (error instanceof StackError && error.code === 'EAGAIN') return // wait for OUT
        this.#pendingWrite = undefined
        pending.callback(error as Error)
        return
      }
      pending.offset += n
      this.#bytesWritten += n
      this.#touch()
    }
    this.#pendingWrite = undefined
    pending.callback()
  }

  #touch(): void {
    if (this.#timeout > 0) this.#lastActivity = this.#stack.clock.now()
  }

  #checkTimeout(): void {
    if (this.#timeout === 0 || this.destroyed) return
    const due = this.#lastActivity + this.#timeout * 1000
    const now = this.#stack.clock.now()
    if (now >= due) {
      this.#lastActivity = now
      this.#timeoutTimer!.arm(now + this.#timeout * 1000)
      this.emit('timeout')
    } else {
      this.#timeoutTimer!.arm(due)
    }
  }
}

/** Options of {@link Stack.createServer}. */
export interface TcpServerOptions {
  /** Keep accepted sockets' writable side open after the peer ends. Default false. */
  allowHalfOpen?: boolean
  /** Disable Nagle on accepted sockets. Default false. */
  noDelay?: boolean
  /** Enable keepalive on accepted sockets. Default false. */
  keepAlive?: boolean
  /** Congestion control of accepted connections. Default the stack's. */
  congestionControl?: CongestionControlChoice
}

/** A listening socket with the `net.Server` interface: `'listening'`, `'connection'`, `'close'`, `'error'`. */
export class TcpServer extends EventEmitter {
  readonly #stack: Stack
  readonly #options: TcpServerOptions
  #fd: number | undefined
  #unwatch: (() => void) | undefined
  readonly #sockets = new Set<TcpSocket>()
  #closing = false

  /** @internal */
  constructor(stack: Stack, options: TcpServerOptions = {}, connectionListener?: (socket: TcpSocket) => void) {
    super()
    this.#stack = stack
    this.#options = options
    if (connectionListener !== undefined) this.on('connection', connectionListener)
  }

  /**
   * As `EventEmitter#emit`, except that a listener that throws (other than for `'error'`) is counted and
   * handed to the stack's `onCallbackError` (issue 16 §8): a throwing `'connection'` listener does not
   * leave the other connections waiting in the accept queue.
   */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    return emitReporting(this, this.#stack, event, args)
  }

  /** Whether the server is listening. */
  get listening(): boolean {
    return this.#fd !== undefined
  }

  /**
   * Start listening: `listen(port, host?, backlog?, callback?)` or `listen({ port, host, backlog }, callback?)`.
   * Errors (`EADDRINUSE`, …) are emitted as `'error'`, as `net.Server` does.
   */
  listen(port: number | { port?: number; host?: string; backlog?: number }, ...rest: unknown[]): this {
    const options = typeof port === 'object' ? port : { port }
    let host = typeof port === 'object' ? port.host : undefined
    let backlog = typeof port === 'object' ? port.backlog : undefined
    let callback: (() => void) | undefined
    for (const arg of rest) {
      if (typeof arg === 'function') callback = arg as () => void
      else if (typeof arg === 'string') host = arg
      else if (typeof arg === 'number') backlog = arg
    }
    if (callback !== undefined) this.once('listening', callback)
    const stack = this.#stack
    let fd: number | undefined
    try {
      fd = stack.socket()
      if (this.#options.noDelay) stack.setsockopt(fd, 'noDelay', true)
      if (this.#options.keepAlive) stack.setsockopt(fd, 'keepAlive', true)
      if (this.#options.congestionControl !== undefined) stack.setsockopt(fd, 'congestionControl', this.#options.congestionControl)
      // As net.Server: with no host, every address, both families when the stack has IPv6 (`::`, dual-stack).
      stack.bind(fd, host ?? (stack.options.ipv6 === undefined ? '0.0.0.0' : '::'), options.port ?? 0)
      stack.listen(fd, backlog ?? 511)
    } catch (error) {
      if (fd !== undefined) stack.close(fd)
      queueMicrotask(() => this.emit('error', error))
      return this
    }
    this.#fd = fd
    this.#unwatch = stack.watch(fd, (_id, events) => {
      if (events & PollEvents.IN) this.#acceptAll()
    })
    queueMicrotask(() => this.emit('listening'))
    return this
  }

  /** The bound address, as `net.Server#address()`; null when not listening. */
  address(): SocketAddress | null {
    return this.#fd === undefined ? null : this.#stack.getsockname(this.#fd)
  }

  /** Stop accepting; `'close'` follows once every accepted socket has closed. */
  close(callback?: (error?: Error) => void): this {
    if (this.#fd === undefined) {
      if (callback !== undefined) queueMicrotask(() => callback(new StackError('ENOTCONN', 'server is not running')))
      return this
    }
    if (callback !== undefined) this.once('close', callback)
    this.#unwatch?.()
    this.#stack.close(this.#fd)
    this.#fd = undefined
    this.#closing = true
    this.#maybeClosed()
    return this
  }

  /** The number of open accepted sockets. */
  getConnections(callback: (error: Error | null, count: number) => void): this {
    queueMicrotask(() => callback(null, this.#sockets.size))
    return this
  }

  /** For `net.Server` compatibility. */
  ref(): this {
    return this
  }

  /** For `net.Server` compatibility. */
  unref(): this {
    return this
  }

  #acceptAll(): void {
    const stack = this.#stack
    for (let fd = stack.tryAccept(this.#fd!); fd !== -1; fd = stack.tryAccept(this.#fd!)) {
      const socket = new TcpSocket(stack, fd, { connecting: false, allowHalfOpen: this.#options.allowHalfOpen ?? false })
      this.#sockets.add(socket)
      socket.once('close', () => {
        this.#sockets.delete(socket)
        this.#maybeClosed()
      })
      this.emit('connection', socket)
      // Data that arrived with the handshake is waiting: let the socket see it.
      queueMicrotask(() => socket.read(0))
    }
  }

  #maybeClosed(): void {
    if (this.#closing && this.#sockets.size === 0) {
      this.#closing = false
      queueMicrotask(() => this.emit('close'))
    }
  }
}

/**
 * `EventEmitter#emit` for the stack's sockets and servers: a listener that throws, for any event but
 * `'error'`, is counted and handed to `onCallbackError` (issue 16 §8), and the emit returns as if it had
 * not, so that the work around it (the stack's, or Node's stream machinery) goes on.
 */
function emitReporting(emitter: EventEmitter, stack: Stack, event: string | symbol, args: unknown[]): boolean {
  if (event === 'error') return EventEmitter.prototype.emit.call(emitter, event, ...args)
  try {
    return EventEmitter.prototype.emit.call(emitter, event, ...args)
  } catch (error) {
    stack.reportCallbackError(error)
    return true
  }
}
