/**
 * `mtcp-perf serve <ip> <port> [secs] --mode discard|echo|http|iperf3`: our stack listens on ip:port and
 * serves every connection, on any backend. On a TAP device or an interface the clients are real ones (a
 * browser or curl for `http`, `nc` for `echo`, a stock `iperf3 -c` for `iperf3`); on the emulated link a
 * built-in load on the far stack connects (one bulk sender for `discard`, four echo loops, four HTTP
 * clients), so the server can be studied there too.
 * @module
 */
import { request as httpRequest } from 'node:http'
import { type Clock, realClock, VirtualClock } from '@mtcp/dpdk-io'
import type { Stack, TcpSocket } from '@mtcp/stack'
import { createCcp } from './ccp.js'
import { ClockDriver } from './clock-driver.js'
import { PerfError } from './errors.js'
import { formatBitrate, formatBytes } from './format.js'
import { neighbourAddress, type PerfOptions } from './options.js'
import { checkOutputPaths, openNetwork } from './run.js'
import { serveConnections, type ServeStats } from './serve.js'

/** Callbacks of {@link runServe}. */
export interface ServeRunHooks {
  /** Every line: the server's start, a progress line per interval, iperf3 tests, the end. */
  onLine?: (line: string) => void
  /** Stop serving (Ctrl-C): the open connections are closed and the run resolves. */
  signal?: AbortSignal
}

/** What the built-in load on the emulated link did. */
export interface ServeLoadStats {
  /** Connections it opened. */
  connections: number
  /** Bytes it sent. */
  bytesSent: number
  /** Bytes it received (echoes, HTTP responses). */
  bytesReceived: number
  /** Completed exchanges: echo round trips, HTTP responses. */
  exchanges: number
}

/** What {@link runServe} measured. */
export interface ServeResult {
  stats: ServeStats
  /** The built-in load's side, on the emulated link. */
  load: ServeLoadStats | undefined
  /** Seconds served, on the stack's clock. */
  seconds: number
  /** Stopped by the signal. */
  interrupted: boolean
}

const LOAD_CLIENTS = 4
const ECHO_SIZE = 1024

/** The built-in clients on the far stack of the emulated link. */
function startLoad(peer: Stack, options: PerfOptions): { stats: ServeLoadStats; stop(): void } {
  const stats: ServeLoadStats = { connections: 0, bytesSent: 0, bytesReceived: 0, exchanges: 0 }
  const sockets = new Set<TcpSocket>()
  let running = true
  const connect = (): TcpSocket => {
    const socket = peer.connect({ host: options.ip, port: options.port, allowHalfOpen: true })
    stats.connections++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.once('close', () => sockets.delete(socket))
    return socket
  }
  if (options.serveMode === 'discard') {
    const socket = connect()
    const chunk = Buffer.alloc(64 * 1024, 0x90)
    const pump = (): void => {
      while (running) {
        stats.bytesSent += chunk.byteLength
        if (!socket.write(chunk)) return void socket.once('drain', pump)
      }
    }
    socket.once('connect', pump)
  } else if (options.serveMode === 'echo') {
    for (let i = 0; i < LOAD_CLIENTS; i++) {
      const socket = connect()
      const message = Buffer.alloc(ECHO_SIZE, 0x41 + i)
      let pending = 0
      const send = (): void => {
        if (!running) return
        pending = ECHO_SIZE
        stats.bytesSent += ECHO_SIZE
        socket.write(message)
      }
      socket.on('data', (data: Uint8Array) => {
        stats.bytesReceived += data.byteLength
        pending -= data.byteLength
        if (pending <= 0) {
          stats.exchanges++
          send()
        }
      })
      socket.once('connect', send)
    }
  } else if (options.serveMode === 'http') {
    // Each client: one request per connection, so the listener accepts many connections. The request asks
    // the server to close after its response (`connection: close`), and the client closes once the server's
    // FIN has arrived: destroying a connection the peer still holds open would reset it (as the kernel does
    // with unread data), which the server rightly counts as an error.
    const get = (client: number, n: number): void => {
      if (!running) return
      const request = httpRequest({ path: `/${client}/${n}`, headers: { host: options.ip, connection: 'close' }, createConnection: () => connect() as never }, (response) => {
        response.on('data', (data: Uint8Array) => {
          stats.bytesReceived += data.byteLength
        })
        response.on('end', () => {
          stats.exchanges++
          get(client, n + 1)
        })
      })
      request.on('socket', (socket) => socket.once('end', () => socket.destroy()))
      request.on('error', () => {})
      request.end()
    }
    for (let i = 0; i < LOAD_CLIENTS; i++) get(i, 0)
  }
  return {
    stats,
    stop() {
      running = false
      for (const socket of sockets) socket.destroy()
    },
  }
}

/**
 * Serve ip:port on our stack as `options` says (`options.mode` must be `'serve'`), for `options.seconds`
 * (0: until `hooks.signal` aborts), printing a line per interval.
 *
 * @throws (rejects) `PerfError` `ERR_INVALID_ARG` for options that are not a serve, and what opening the
 * network throws (`DpdkIoError`, `StackError` `EADDRINUSE`, …).
 *
 * @example
 * ```ts
 * const options = parsePerfArgs(['serve', '10.0.0.1', '8080', '5', '--mode', 'http'])
 * const { stats, load } = await runServe(options, { onLine: console.log })
 * ```
 */
export async function runServe(options: PerfOptions, hooks: ServeRunHooks = {}): Promise<ServeResult> {
  if (options.mode !== 'serve') throw new PerfError('ERR_INVALID_ARG', `runServe serves; '${options.mode}' is runPerf's`)
  if (options.io === 'memory' && options.seconds === 0) throw new PerfError('ERR_INVALID_ARG', 'serving on the emulated link needs a duration (its built-in load must end)')
  checkOutputPaths(options)
  const onLine = hooks.onLine ?? (() => {})
  const clock: Clock = options.io === 'memory' && options.clock === 'virtual' ? new VirtualClock() : realClock
  const cc = options.congestionControl
  const ccp = cc.kind === 'ccp' ? await createCcp({ algorithm: cc.algorithm, agent: cc.agent, dir: cc.dir, name: `mtcp-perf-${process.pid}`, clock }) : undefined
  let network
  try {
    network = await openNetwork(options, clock, ccp?.stackOptions ?? { congestionControl: cc.kind === 'native' ? cc.name : undefined })
  } catch (error) {
    await ccp?.close()
    throw error
  }
  const { stack, peer, driver } = network
  const run = <T>(promise: Promise<T>): Promise<T> => (driver === undefined ? promise : driver.race(promise))
  const server = stack.createServer({ allowHalfOpen: true })
  const handle = serveConnections(server, { mode: options.serveMode, onLine, now: () => stack.clock.now() / 1e6, congestionControl: cc.kind === 'native' ? cc.name : `ccp:${cc.algorithm}` })
  let load: ReturnType<typeof startLoad> | undefined
  const start = stack.clock.now()
  let interrupted = false
  try {
    await run(
      new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(options.port, options.ip, () => resolve())
      }),
    )
    onLine(`mtcp-perf: serving ${options.serveMode} on ${options.family === 6 ? `[${options.ip}]` : options.ip}:${options.port}${options.seconds > 0 ? ` for ${options.seconds} s` : ' until Ctrl-C'}${peer === undefined ? '' : ` (a built-in load connects from ${neighbourAddress(options.ip)})`}`)
    if (peer !== undefined) load = startLoad(peer, options)

    let lastIn = 0
    let lastOut = 0
    let ticks = 0
    const progress = stack.clock.createTimer(() => {
      ticks++
      const { stats } = handle
      const seconds = options.interval
      onLine(
        `[${(ticks * options.interval).toFixed(1).padStart(6)} s] accepted ${stats.accepted}  open ${stats.open}  in ${formatBytes(stats.bytesIn - lastIn)} (${formatBitrate(((stats.bytesIn - lastIn) * 8) / seconds)})  out ${formatBytes(stats.bytesOut - lastOut)} (${formatBitrate(((stats.bytesOut - lastOut) * 8) / seconds)})${options.serveMode === 'http' || options.serveMode === 'iperf3' ? `  ${options.serveMode === 'http' ? 'requests' : 'tests'} ${stats.requests}` : ''}`,
      )
      lastIn = stats.bytesIn
      lastOut = stats.bytesOut
      progress.arm(start + (ticks + 1) * options.interval * 1e6)
    })
    progress.arm(start + options.interval * 1e6)
    await run(
      new Promise<void>((resolve) => {
        const stop = (): void => {
          interrupted = true
          resolve()
        }
        if (hooks.signal?.aborted === true) stop()
        hooks.signal?.addEventListener('abort', stop, { once: true })
        if (options.seconds > 0) {
          const end = stack.clock.createTimer(() => resolve())
          end.arm(start + options.seconds * 1e6)
        }
      }),
    )
    progress.cancel()
  } finally {
    load?.stop()
    handle.close()
    server.close()
    network.close()
    await ccp?.close()
  }
  const seconds = (stack.clock.now() - start) / 1e6
  const { stats } = handle
  onLine(`mtcp-perf: served ${stats.accepted} connections in ${seconds.toFixed(2)} s: ${formatBytes(stats.bytesIn)} in, ${formatBytes(stats.bytesOut)} out${stats.requests > 0 ? `, ${stats.requests} ${options.serveMode === 'iperf3' ? 'tests' : 'requests'}` : ''}, ${stats.errors} errors${interrupted ? ' (interrupted)' : ''}`)
  return { stats: { ...stats }, load: load === undefined ? undefined : { ...load.stats }, seconds, interrupted }
}
