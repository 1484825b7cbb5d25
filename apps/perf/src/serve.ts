/**
 * A many-connection server for any `'connection'` source (an `@mtcp/stack` `TcpServer`, a `net.Server`):
 * `discard` (read and count), `echo` (send back what arrives), `http` (a small HTTP/1.1 responder through
 * `node:http`, keep-alive), and `iperf3` (the server side of iperf3's control protocol and TCP tests, so a
 * stock `iperf3 -c` can measure the stack).
 * @module
 */
import { createServer as createHttpServer } from 'node:http'
import type { Duplex } from 'node:stream'
import type { ConnectionSource } from '@mtcp/recv'
import { Iperf3Server } from './iperf3.js'

/** What `mtcp-perf serve` does with each connection. */
export type ServeMode = 'discard' | 'echo' | 'http' | 'iperf3'

/** Counters of a server, since it started. */
export interface ServeStats {
  /** Connections accepted. */
  accepted: number
  /** Connections open now. */
  open: number
  /** Bytes read from the connections. */
  bytesIn: number
  /** Bytes written to the connections. */
  bytesOut: number
  /** HTTP requests answered (`http`), tests completed (`iperf3`), 0 otherwise. */
  requests: number
  /** Connections that ended with an error (reset, idle, protocol). */
  errors: number
}

/** A running server. */
export interface ServeHandle {
  readonly stats: ServeStats
  /** Stop serving new connections and destroy the open ones. */
  close(): void
}

/** Options of {@link serveConnections}. */
export interface ServeConnectionsOptions {
  mode: ServeMode
  /** Lines worth printing (an iperf3 test's start and result). */
  onLine?: (line: string) => void
  /** The congestion control to report to iperf3 clients. */
  congestionControl?: string
  /** The time in seconds (iperf3 test durations); default `performance.now()`. */
  now?: () => number
}

/**
 * Serve every connection `source` emits as `options.mode` says.
 *
 * @example
 * ```ts
 * const server = stack.createServer({ allowHalfOpen: true })
 * const handle = serveConnections(server, { mode: 'echo' })
 * server.listen(7, '10.0.0.1')
 * ```
 */
export function serveConnections(source: ConnectionSource, options: ServeConnectionsOptions): ServeHandle {
  const stats: ServeStats = { accepted: 0, open: 0, bytesIn: 0, bytesOut: 0, requests: 0, errors: 0 }
  const sockets = new Set<Duplex>()
  const http =
    options.mode === 'http'
      ? createHttpServer({ keepAlive: true }, (request, response) => {
          stats.requests++
          const body = `mtcp-perf serve: ${request.method} ${request.url}\n`
          response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) })
          response.end(body)
        })
      : undefined
  const iperf3 = options.mode === 'iperf3' ? new Iperf3Server({ stats, onLine: options.onLine, congestionControl: options.congestionControl, now: options.now }) : undefined

  const listener = (socket: Duplex): void => {
    stats.accepted++
    stats.open++
    sockets.add(socket)
    socket.once('close', () => {
      stats.open--
      sockets.delete(socket)
    })
    // A connection's errors are its own: count them, never let them reach the process.
    socket.on('error', () => stats.errors++)
    // What goes out, whoever writes it.
    const write = socket.write.bind(socket) as (chunk: unknown, ...rest: unknown[]) => boolean
    socket.write = ((chunk: unknown, ...rest: unknown[]) => {
      stats.bytesOut += typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Uint8Array).byteLength
      return write(chunk, ...rest)
    }) as typeof socket.write
    switch (options.mode) {
      case 'discard':
        socket.on('data', (data: Uint8Array) => {
          stats.bytesIn += data.byteLength
        })
        socket.on('end', () => socket.end())
        break
      case 'echo':
        socket.on('data', (data: Uint8Array) => {
          stats.bytesIn += data.byteLength
          // A copy: the chunk's memory may be reused once this handler returns.
          if (!socket.write(Buffer.from(data))) {
            socket.pause()
            socket.once('drain', () => socket.resume())
          }
        })
        socket.on('end', () => socket.end())
        break
      case 'http':
        socket.on('data', (data: Uint8Array) => {
          stats.bytesIn += data.byteLength
        })
        http!.emit('connection', socket)
        break
      case 'iperf3':
        iperf3!.accept(socket)
        break
    }
  }
  source.on('connection', listener)
  return {
    stats,
    close() {
      source.off('connection', listener)
      iperf3?.close()
      for (const socket of sockets) socket.destroy()
    },
  }
}
