/**
 * The receiver's side of the perf protocol over any `Duplex`: count what arrives, report every half
 * second, find the end, answer `OK\n`. Works over `node:net` sockets and over any other stream (the
 * `@mtcp/stack` sockets in the perf demo).
 * @module
 */
import type { Duplex } from 'node:stream'
import { formatAddress } from './address.js'
import { type ReceiverClock, wallClock } from './clock.js'
import { RecvError } from './errors.js'
import { END_LINE, formatDoneLine, formatIntervalLine, megabitsPerSecond } from './format.js'
import { CHUNK_SIZE, EndDetector, type EndReason, REPLY } from './protocol.js'

/** Options of {@link receive}. */
export interface ReceiveOptions {
  /** The peer's address in the last line. Default the stream's `remoteAddress`. */
  host?: string
  /** The peer's port in the last line. Default the stream's `remotePort`. */
  port?: number
  /** The clock intervals and times are measured on. Default the wall clock. */
  clock?: ReceiverClock
  /** Seconds between progress lines, in [0.001, 3600]. Default 0.5, as recv.py. */
  intervalSeconds?: number
  /** The sender's chunk size, in [2, 16777216]. Default 8192. */
  chunkSize?: number
  /** Each output line as recv.py would print it (progress, `Received END from client`, `Done with …`). */
  onLine?: (line: string) => void
  /** Each progress interval, as numbers. */
  onInterval?: (report: IntervalReport) => void
}

/** One progress interval. */
export interface IntervalReport {
  /** 0 for the first interval. */
  index: number
  /** Its nominal start, seconds from the connection (index × interval): the number the line starts with. */
  start: number
  /** Its measured length in seconds. */
  seconds: number
  /** Bytes received in it. */
  bytes: number
  /** Mbit/s over it. */
  mbps: number
  /** The line, as recv.py printed it. */
  line: string
}

/** What {@link receive} found. */
export interface ReceiveResult {
  /** The peer's address; IPv6 in RFC 5952 form, without brackets (an IPv4 peer of a dual-stack listener: `::ffff:192.0.2.1`). */
  host: string
  port: number
  /** Bytes of the transfer, the end marker included (recv.py's `bytes_rcvd`). */
  bytes: number
  /** Seconds from the start of the call to the end of the transfer. */
  seconds: number
  /** bytes × 8 / 10^6 / seconds. */
  mbps: number
  /** How the end was found. */
  endedBy: EndReason
  /** Pieces of data that did not match the chunk pattern (0 for a sender that follows the protocol). */
  mismatchedChunks: number
  /** Whether `OK\n` was written back. */
  replied: boolean
  intervals: IntervalReport[]
}

/**
 * Receive one transfer from `stream`: count bytes until the end marker (or the end of the stream), write
 * `OK\n`, and resolve with the totals. The stream is not closed by the reply (as recv.py); once the peer
 * ends its side, this side is ended too.
 *
 * @throws (rejects) `RecvError` `ERR_STREAM` when the stream fails before the end, with the stream's
 * error as `cause`; `ERR_INVALID_ARG` for options out of range.
 *
 * @example
 * ```ts
 * const result = await receive(socket, { onLine: console.log })
 * console.log(result.bytes, result.endedBy)
 * ```
 */
export function receive(stream: Duplex, options: ReceiveOptions = {}): Promise<ReceiveResult> {
  const intervalSeconds = options.intervalSeconds ?? 0.5
  if (typeof intervalSeconds !== 'number' || !(intervalSeconds >= 0.001 && intervalSeconds <= 3600)) {
    return Promise.reject(new RecvError('ERR_INVALID_ARG', `intervalSeconds must be a number in [0.001, 3600], got ${String(intervalSeconds)}`))
  }
  let detector: EndDetector
  try {
    detector = new EndDetector(options.chunkSize ?? CHUNK_SIZE)
  } catch (error) {
    return Promise.reject(new RecvError('ERR_INVALID_ARG', (error as Error).message))
  }
  const clock = options.clock ?? wallClock
  const onLine = options.onLine
  const start = clock.now()
  const intervalUs = intervalSeconds * 1e6
  const intervals: IntervalReport[] = []
  let lastTime = start
  let lastBytes = 0
  let done = false

  const timer = clock.createTimer(() => {
    if (done) return
    const now = clock.now()
    const index = intervals.length
    const seconds = (now - lastTime) / 1e6
    const bytes = detector.bytes - lastBytes
    const mbps = megabitsPerSecond(bytes, seconds)
    const report: IntervalReport = { index, start: index * intervalSeconds, seconds, bytes, mbps, line: formatIntervalLine(index, mbps, intervalSeconds) }
    intervals.push(report)
    lastTime = now
    lastBytes = detector.bytes
    options.onInterval?.(report)
    onLine?.(report.line)
    timer.arm(start + (index + 2) * intervalUs)
  })
  timer.arm(start + intervalUs)

  return new Promise<ReceiveResult>((resolve, reject) => {
    const discard = (): void => {}
    const onData = (data: Uint8Array): void => {
      detector.push(data)
      if (detector.ended) finish()
    }
    const onEnd = (): void => {
      detector.endOfStream()
      finish()
    }
    const onError = (error: Error): void => {
      if (done) return
      done = true
      timer.cancel()
      stream.off('data', onData)
      stream.off('end', onEnd)
      reject(new RecvError('ERR_STREAM', `the stream failed after ${detector.bytes} bytes, before the end of the transfer: ${error.message}`, { cause: error }))
    }
    const finish = (): void => {
      if (done) return
      done = true
      timer.cancel()
      stream.off('data', onData)
      stream.on('data', discard) // keep reading, so the peer's FIN arrives
      stream.off('end', onEnd)
      onLine?.(END_LINE)
      let replied = false
      if (stream.writable && !stream.writableEnded) {
        stream.write(REPLY)
        replied = true
      }
      const seconds = (clock.now() - start) / 1e6
      // RFC 5952 form for an IPv6 peer (Node gives the platform's text).
      const host = formatAddress(options.host ?? (stream as { remoteAddress?: string }).remoteAddress ?? '?')
      const port = options.port ?? (stream as { remotePort?: number }).remotePort ?? 0
      const mbps = megabitsPerSecond(detector.bytes, seconds)
      onLine?.(formatDoneLine(host, port, detector.bytes, seconds, mbps))
      // Close our side once the sender has closed its own (recv.py left that to the garbage collector).
      if (stream.readableEnded) stream.end()
      else stream.once('end', () => stream.end())
      resolve({
        host,
        port,
        bytes: detector.bytes,
        seconds,
        mbps,
        endedBy: detector.endedBy!,
        mismatchedChunks: detector.mismatchedChunks,
        replied,
        intervals,
      })
    }
    // Late failures (a reset after the reply) end nothing that matters: swallow them, never crash.
    stream.on('error', onError)
    stream.on('data', onData)
    stream.on('end', onEnd)
  })
}

/** Something that emits `'connection'` with a stream: a `net.Server`, an `@mtcp/stack` `TcpServer`, … */
export interface ConnectionSource {
  /** Call `listener` with each new connection's stream. */
  on(event: 'connection', listener: (socket: Duplex) => void): unknown
  /** Stop calling `listener`. */
  off(event: 'connection', listener: (socket: Duplex) => void): unknown
}

/** Options of {@link serve}. */
export interface ServeOptions extends Omit<ReceiveOptions, 'host' | 'port'> {
  /** Each transfer's result. */
  onResult?: (result: ReceiveResult, socket: Duplex) => void
  /** A transfer that failed (its connection is destroyed). */
  onError?: (error: RecvError, socket: Duplex) => void
}

/**
 * Receive a transfer on every connection `server` emits, as `recv.py wait` does (printing `Connected!`
 * through `onLine` on each). @returns a function that stops serving new connections.
 */
export function serve(server: ConnectionSource, options: ServeOptions = {}): () => void {
  const { onResult, onError, ...receiveOptions } = options
  const listener = (socket: Duplex): void => {
    options.onLine?.('Connected!')
    receive(socket, receiveOptions).then(
      (result) => onResult?.(result, socket),
      (error: RecvError) => {
        socket.destroy()
        onError?.(error, socket)
      },
    )
  }
  server.on('connection', listener)
  return () => {
    server.off('connection', listener)
  }
}
