/**
 * The two ways recv.py runs, on ordinary `node:net` sockets: wait for senders, or connect to a waiting one.
 * @module
 */
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net'
import { RecvError } from './errors.js'
import { receive, type ReceiveOptions, type ReceiveResult, serve, type ServeOptions } from './receive.js'

/** Options of {@link listen}. */
export interface ListenOptions extends ServeOptions {
  /** Address to listen on, e.g. `'0.0.0.0'`, `'::'` (IPv6 and, unless {@link ListenOptions.ipv6Only}, IPv4), `'::1'`. */
  host: string
  /** Listening on an IPv6 address, take IPv6 connections only (`IPV6_V6ONLY`, RFC 3493 §5.3). Default false. */
  ipv6Only?: boolean
  /** Port to listen on (0 picks a free one; read it from `server.address()`). */
  port: number
  /** Seconds a connection may stay silent before it is destroyed (its transfer fails with `ERR_IDLE_TIMEOUT`); 0 or absent: never. */
  idleTimeoutSeconds?: number
}

/** Destroy `socket` with `ERR_IDLE_TIMEOUT` once nothing has arrived for `seconds` (0: never). */
function dropWhenIdle(socket: Socket, seconds: number | undefined): void {
  if (seconds === undefined || seconds === 0) return
  socket.setTimeout(seconds * 1000, () => {
    socket.destroy(new RecvError('ERR_IDLE_TIMEOUT', `nothing received for ${seconds} s (--idle-timeout): the sender is gone or stalled`))
  })
}

/**
 * `recv.py wait <ip> <port>`: listen and receive a transfer on every connection until closed. Prints
 * (through `onLine`) `Server ready...` once listening, as recv.py does.
 * @returns the listening `net.Server`.
 *
 * @example
 * ```ts
 * const server = await listen({ host: '0.0.0.0', port: 9000, onLine: console.log })
 * ```
 */
export function listen(options: ListenOptions): Promise<Server> {
  const { host, port, idleTimeoutSeconds, ipv6Only, ...serveOptions } = options
  // Half-open allowed: a sender that ends its side first still gets its `OK`.
  const server = createServer({ allowHalfOpen: true })
  server.on('connection', (socket: Socket) => dropWhenIdle(socket, idleTimeoutSeconds))
  serve(server, serveOptions)
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host, ipv6Only: ipv6Only === true }, () => {
      server.off('error', reject)
      options.onLine?.('Server ready...')
      resolve(server)
    })
  })
}

/** Options of {@link connect}. */
export interface ConnectOptions extends Omit<ReceiveOptions, 'host' | 'port'> {
  /** The waiting sender's address. */
  host: string
  /** The waiting sender's port. */
  port: number
  /** Called once connected, before the transfer. */
  onConnect?: () => void
  /** Seconds the connection may stay silent before it is destroyed (the transfer fails with `ERR_IDLE_TIMEOUT`); 0 or absent: never. */
  idleTimeoutSeconds?: number
}

/**
 * `recv.py send <ip> <port>`: connect to a waiting sender and receive one transfer. Prints (through
 * `onLine`) `Connected` once connected, as recv.py does.
 * @throws (rejects) the socket's error when the connection fails (`ECONNREFUSED`, …), or `RecvError`
 * `ERR_STREAM` when it fails during the transfer.
 */
export function connect(options: ConnectOptions): Promise<ReceiveResult> {
  const { host, port, onConnect, idleTimeoutSeconds, ...receiveOptions } = options
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port, allowHalfOpen: true })
    dropWhenIdle(socket, idleTimeoutSeconds)
    socket.once('error', reject)
    socket.once('connect', () => {
      socket.off('error', reject)
      options.onLine?.('Connected')
      onConnect?.()
      receive(socket, { ...receiveOptions, host, port }).then(resolve, reject)
    })
  })
}
