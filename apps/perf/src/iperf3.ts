/**
 * The server side of iperf3's TCP tests, so a stock `iperf3 -c` measures whatever carries the connections
 * (our stack). iperf3's protocol, as iperf 3 speaks it on its control connection:
 *
 * 1. every connection starts with the client's 37-byte cookie (36 characters and a NUL); the first one
 *    of a test is the control connection, the ones with the same cookie that follow are its data streams;
 * 2. on the control connection, the server sends one state byte at a time: PARAM_EXCHANGE (9), then reads
 *    the client's parameters (a 4-byte big-endian length and JSON), sends CREATE_STREAMS (10), waits for the
 *    `parallel` data connections, sends TEST_START (1) and TEST_RUNNING (2);
 * 3. the data flows (client to server, or server to client with `reverse`), until the client sends
 *    TEST_END (4); the server closes the data streams, answers EXCHANGE_RESULTS (13), reads the client's
 *    results (length and JSON), sends its own, then DISPLAY_RESULTS (14), and the client ends with
 *    IPERF_DONE (16);
 * 4. a client that connects while a test runs gets ACCESS_DENIED (-1) and is closed.
 *
 * One test at a time, TCP only; UDP (`-u`) is refused with SERVER_ERROR. {@link runIperf3Client} is the
 * client side, for a stock `iperf3 -s`.
 * @module
 */
import type { Duplex } from 'node:stream'
import type { ServeStats } from './serve.js'

/** iperf3's state bytes. */
export const Iperf3State = {
  TEST_START: 1,
  TEST_RUNNING: 2,
  TEST_END: 4,
  PARAM_EXCHANGE: 9,
  CREATE_STREAMS: 10,
  SERVER_TERMINATE: 11,
  CLIENT_TERMINATE: 12,
  EXCHANGE_RESULTS: 13,
  DISPLAY_RESULTS: 14,
  IPERF_DONE: 16,
  ACCESS_DENIED: -1,
  SERVER_ERROR: -2,
} as const

/** The cookie's length on the wire: 36 characters and a NUL. */
export const IPERF3_COOKIE_LENGTH = 37

/** Reads exact byte counts from a stream's `'data'` events, in order. @internal */
export class StreamReader {
  #chunks: Buffer[] = []
  #length = 0
  #waiting: { size: number; resolve: (data: Buffer) => void; reject: (error: Error) => void } | undefined
  #ended: Error | undefined
  /** When set, data nobody asked for is handed here instead of being queued (a data stream's payload). */
  #sink: ((data: Uint8Array) => void) | undefined

  constructor(stream: Duplex) {
    stream.on('data', (data: Uint8Array) => {
      if (this.#sink !== undefined && this.#waiting === undefined && this.#length === 0) {
        this.#sink(data)
        return
      }
      this.#chunks.push(Buffer.from(data))
      this.#length += data.byteLength
      this.#deliver()
    })
    const end = (error?: Error): void => {
      this.#ended ??= error ?? new Error('the connection closed')
      const waiting = this.#waiting
      this.#waiting = undefined
      waiting?.reject(this.#ended)
    }
    stream.on('end', () => end())
    stream.on('close', () => end())
    stream.on('error', (error: Error) => end(error))
  }

  read(size: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#waiting = { size, resolve, reject }
      this.#deliver()
      if (this.#waiting !== undefined && this.#ended !== undefined) {
        this.#waiting = undefined
        reject(this.#ended)
      }
    })
  }

  #deliver(): void {
    const waiting = this.#waiting
    if (waiting === undefined || this.#length < waiting.size) return
    const all = Buffer.concat(this.#chunks)
    this.#waiting = undefined
    const rest = all.subarray(waiting.size)
    this.#chunks = rest.byteLength > 0 ? [rest] : []
    this.#length = rest.byteLength
    waiting.resolve(all.subarray(0, waiting.size))
    this.#flush()
  }

  /** From now on, hand everything not asked for to `sink` (what is queued first). */
  drainTo(sink: (data: Uint8Array) => void): void {
    this.#sink = sink
    this.#flush()
  }

  #flush(): void {
    if (this.#sink === undefined || this.#length === 0 || this.#waiting !== undefined) return
    const data = Buffer.concat(this.#chunks)
    this.#chunks = []
    this.#length = 0
    this.#sink(data)
  }
}

/** One data stream of a test. */
interface Stream {
  socket: Duplex
  bytes: number
}

interface Test {
  cookie: string
  control: Duplex
  reader: StreamReader
  params: Record<string, unknown> | undefined
  streams: Stream[]
  expected: number
  startedAt: number
  endedAt: number
  streamsReady: (() => void) | undefined
  sending: boolean
}

/** Options of {@link Iperf3Server}. */
export interface Iperf3ServerOptions {
  /** Counters to update (bytes in and out, tests completed as `requests`, errors). */
  stats: ServeStats
  /** One line when a test starts and one with its result. */
  onLine?: ((line: string) => void) | undefined
  /** Reported to the client as `congestion_used`. */
  congestionControl?: string | undefined
  /** The time in seconds, for a test's duration; default `performance.now()`. */
  now?: (() => number) | undefined
}

const PAYLOAD = Buffer.alloc(128 * 1024, 0x61)

/** JSON as iperf3 frames it: a 4-byte big-endian length, then the text. @internal */
export function frame(value: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(value))
  const length = Buffer.alloc(4)
  length.writeUInt32BE(json.byteLength)
  return Buffer.concat([length, json])
}

/**
 * The server side of iperf3 tests over connections handed to {@link Iperf3Server.accept}.
 *
 * @example
 * ```ts
 * const iperf3 = new Iperf3Server({ stats })
 * server.on('connection', (socket) => iperf3.accept(socket))
 * ```
 */
export class Iperf3Server {
  #test: Test | undefined
  readonly #options: Iperf3ServerOptions

  constructor(options: Iperf3ServerOptions) {
    this.#options = options
  }

  #now(): number {
    return this.#options.now?.() ?? performance.now() / 1000
  }

  /** Take a new connection: a test's control connection, one of its data streams, or a refused one. */
  accept(socket: Duplex): void {
    const reader = new StreamReader(socket)
    reader.read(IPERF3_COOKIE_LENGTH).then(
      (bytes) => {
        const cookie = bytes.toString('latin1')
        const test = this.#test
        if (test === undefined) {
          this.#control(socket, reader, cookie).catch((error: Error) => this.#fail(socket, error))
        } else if (cookie === test.cookie && test.streams.length < test.expected) {
          this.#addStream(test, socket, reader)
        } else {
          socket.end(Buffer.of(Iperf3State.ACCESS_DENIED & 0xff))
        }
      },
      () => socket.destroy(),
    )
  }

  /** End the test under way, if any. */
  close(): void {
    const test = this.#test
    this.#test = undefined
    if (test === undefined) return
    for (const stream of test.streams) stream.socket.destroy()
    test.control.destroy()
  }

  #fail(socket: Duplex, error: Error): void {
    this.#options.stats.errors++
    this.#options.onLine?.(`iperf3: test failed: ${error.message}`)
    if (this.#test?.control === socket) this.close()
    else socket.destroy()
  }

  #addStream(test: Test, socket: Duplex, reader: StreamReader): void {
    const stream: Stream = { socket, bytes: 0 }
    test.streams.push(stream)
    reader.drainTo((data) => {
      stream.bytes += data.byteLength
      this.#options.stats.bytesIn += data.byteLength
    })
    if (test.streams.length === test.expected) test.streamsReady?.()
  }

  async #control(control: Duplex, reader: StreamReader, cookie: string): Promise<void> {
    const test: Test = { cookie, control, reader, params: undefined, streams: [], expected: 1, startedAt: 0, endedAt: 0, streamsReady: undefined, sending: false }
    this.#test = test
    const state = (value: number): void => {
      control.write(Buffer.of(value & 0xff))
    }
    state(Iperf3State.PARAM_EXCHANGE)
    const length = (await reader.read(4)).readUInt32BE(0)
    if (length > 1 << 20) throw new Error(`parameters of ${length} bytes`)
    const params = JSON.parse((await reader.read(length)).toString('utf8')) as Record<string, unknown>
    test.params = params
    if (params.udp === true || params.sctp === true) {
      state(Iperf3State.SERVER_ERROR)
      // iperf3 then reads an errno-like pair of 4-byte integers.
      control.end(Buffer.alloc(8))
      this.#test = undefined
      this.#options.onLine?.('iperf3: refused a UDP/SCTP test: this server does TCP only')
      return
    }
    test.expected = typeof params.parallel === 'number' && params.parallel > 0 ? params.parallel : 1
    const reverse = params.reverse === true
    const ready = new Promise<void>((resolve) => {
      test.streamsReady = resolve
    })
    state(Iperf3State.CREATE_STREAMS)
    await ready
    state(Iperf3State.TEST_START)
    state(Iperf3State.TEST_RUNNING)
    test.startedAt = this.#now()
    this.#options.onLine?.(`iperf3: test from a client, ${test.expected} stream${test.expected === 1 ? '' : 's'}, ${reverse ? 'we send' : 'we receive'}${typeof params.time === 'number' ? `, ${params.time} s` : ''}`)
    if (reverse) {
      test.sending = true
      for (const stream of test.streams) this.#pump(test, stream)
    }
    // The control connection's states until the end of the test.
    for (;;) {
      const value = (await reader.read(1)).readInt8(0)
      if (value === Iperf3State.TEST_END) break
      if (value === Iperf3State.CLIENT_TERMINATE || value === Iperf3State.IPERF_DONE) {
        this.close()
        return
      }
    }
    test.sending = false
    test.endedAt = this.#now()
    // A stock server closes the data streams here, and iperf 3.12's client relies on it: after TEST_END it
    // reads them blocking, a whole block at a time, and only a close ends a short last block.
    for (const stream of test.streams) stream.socket.end()
    state(Iperf3State.EXCHANGE_RESULTS)
    const clientLength = (await reader.read(4)).readUInt32BE(0)
    const client = JSON.parse((await reader.read(clientLength)).toString('utf8')) as { streams?: { id?: number }[] }
    const seconds = test.endedAt - test.startedAt
    const results = {
      cpu_util_total: 0,
      cpu_util_user: 0,
      cpu_util_system: 0,
      sender_has_retransmits: 0,
      congestion_used: this.#options.congestionControl ?? 'unknown',
      streams: test.streams.map((stream, i) => ({
        id: client.streams?.[i]?.id ?? i + 1,
        bytes: stream.bytes,
        retransmits: -1,
        jitter: 0,
        errors: 0,
        omitted_errors: 0,
        packets: 0,
        omitted_packets: 0,
        start_time: 0,
        end_time: seconds,
      })),
    }
    control.write(frame(results))
    state(Iperf3State.DISPLAY_RESULTS)
    const bytes = test.streams.reduce((sum, stream) => sum + stream.bytes, 0)
    this.#options.stats.requests++
    this.#options.onLine?.(`iperf3: test done: ${bytes} bytes ${reverse ? 'sent' : 'received'} in ${seconds.toFixed(3)} s`)
    // IPERF_DONE, or the client just closing: either ends the test.
    await reader.read(1).catch(() => undefined)
    control.end()
    if (this.#test === test) this.#test = undefined
  }

  /** Send on a data stream while the test runs (reverse mode), as fast as the stream takes it. */
  #pump(test: Test, stream: Stream): void {
    const socket = stream.socket
    const write = (): void => {
      while (test.sending && this.#test === test && !socket.destroyed) {
        stream.bytes += PAYLOAD.byteLength
        if (!socket.write(PAYLOAD)) {
          socket.once('drain', write)
          return
        }
      }
    }
    write()
  }
}

/** Options of {@link runIperf3Client}. */
export interface Iperf3ClientOptions {
  /** Open a connection to the iperf3 server (it emits `'connect'` once established, `'error'` on failure). */
  connect: () => Duplex
  /** Seconds of data. */
  seconds: number
  /** Parallel data streams (`-P`), default 1. */
  parallel?: number
  /** The server sends, we receive (`-R`). */
  reverse?: boolean
  /** Bytes per write (`-l`), default 128 KiB. */
  blockSize?: number
  /** One line when the test starts. */
  onLine?: (line: string) => void
  /** Wait this long (the test's duration); default `setTimeout`. A stack on a virtual clock passes its own timer. */
  sleep?: (seconds: number) => Promise<void>
  /** The time in seconds, for the test's duration; default `performance.now()`. */
  now?: () => number
}

/** What {@link runIperf3Client} measured, and what the server reported. */
export interface Iperf3ClientResult {
  /** Bytes we wrote to the data streams (0 with `reverse`). */
  bytesSent: number
  /** Bytes we read from the data streams (0 without `reverse`). */
  bytesReceived: number
  /** Seconds from TEST_RUNNING to the end of sending. */
  seconds: number
  /** What the server counted on all its streams (its results' `bytes`). */
  serverBytes: number
  /** The server's results as it sent them. */
  serverResults: Record<string, unknown>
}

function cookie(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  let text = ''
  for (let i = 0; i < IPERF3_COOKIE_LENGTH - 1; i++) text += alphabet[Math.floor(Math.random() * alphabet.length)]
  return text
}

function connected(socket: Duplex): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve())
    socket.once('error', reject)
  })
}

/**
 * One iperf3 TCP test as the client, against a stock `iperf3 -s` (or {@link Iperf3Server}): the control
 * connection and its states, the data streams, the results exchange.
 *
 * @throws (rejects) `Error` when the server refuses (busy: ACCESS_DENIED; SERVER_ERROR), closes early, or a
 * connection fails.
 *
 * @example
 * ```ts
 * const result = await runIperf3Client({ connect: () => stack.connect({ host: '10.0.0.2', port: 5201 }), seconds: 10 })
 * ```
 */
export async function runIperf3Client(options: Iperf3ClientOptions): Promise<Iperf3ClientResult> {
  const now = options.now ?? (() => performance.now() / 1000)
  const sleep = options.sleep ?? ((seconds: number) => new Promise<void>((resolve) => setTimeout(resolve, seconds * 1000)))
  const parallel = options.parallel ?? 1
  const reverse = options.reverse === true
  const block = Buffer.alloc(options.blockSize ?? 128 * 1024, 0x61)
  const id = cookie()
  const control = options.connect()
  const sockets: Duplex[] = [control]
  const streams: { socket: Duplex; bytes: number }[] = []
  let sending = false
  let startedAt = 0
  let endedAt = 0
  try {
    await connected(control)
    const reader = new StreamReader(control)
    control.write(Buffer.from(`${id}\0`, 'latin1'))
    for (;;) {
      const state = (await reader.read(1)).readInt8(0)
      if (state === Iperf3State.PARAM_EXCHANGE) {
        control.write(frame({ tcp: true, omit: 0, time: options.seconds, num: 0, blockcount: 0, parallel, len: block.byteLength, ...(reverse ? { reverse: true } : {}), pacing_timer: 1000, client_version: '3.12' }))
      } else if (state === Iperf3State.CREATE_STREAMS) {
        for (let i = 0; i < parallel; i++) {
          const socket = options.connect()
          sockets.push(socket)
          await connected(socket)
          socket.write(Buffer.from(`${id}\0`, 'latin1'))
          const stream = { socket, bytes: 0 }
          streams.push(stream)
          if (reverse) socket.on('data', (data: Uint8Array) => (stream.bytes += data.byteLength))
        }
      } else if (state === Iperf3State.TEST_START) {
        // nothing to do: TEST_RUNNING follows
      } else if (state === Iperf3State.TEST_RUNNING) {
        options.onLine?.(`iperf3: test running: ${parallel} stream${parallel === 1 ? '' : 's'}, ${reverse ? 'the server sends' : 'we send'}, ${options.seconds} s`)
        startedAt = now()
        sending = !reverse
        for (const stream of streams) {
          const pump = (): void => {
            while (sending) {
              stream.bytes += block.byteLength
              if (!stream.socket.write(block)) return void stream.socket.once('drain', pump)
            }
          }
          pump()
        }
        await sleep(options.seconds)
        sending = false
        endedAt = now()
        control.write(Buffer.of(Iperf3State.TEST_END))
      } else if (state === Iperf3State.EXCHANGE_RESULTS) {
        const seconds = endedAt - startedAt
        control.write(
          frame({
            cpu_util_total: 0,
            cpu_util_user: 0,
            cpu_util_system: 0,
            sender_has_retransmits: 0,
            streams: streams.map((stream, i) => ({ id: i === 0 ? 1 : i + 2, bytes: stream.bytes, retransmits: -1, jitter: 0, errors: 0, packets: 0, start_time: 0, end_time: seconds })),
          }),
        )
        const length = (await reader.read(4)).readUInt32BE(0)
        const serverResults = JSON.parse((await reader.read(length)).toString('utf8')) as Record<string, unknown> & { streams?: { bytes?: number }[] }
        const serverBytes = (serverResults.streams ?? []).reduce((sum, stream) => sum + (stream.bytes ?? 0), 0)
        const ours = streams.reduce((sum, stream) => sum + stream.bytes, 0)
        const result: Iperf3ClientResult = { bytesSent: reverse ? 0 : ours, bytesReceived: reverse ? ours : 0, seconds, serverBytes, serverResults }
        // DISPLAY_RESULTS comes next; answer it with IPERF_DONE.
        const next = (await reader.read(1)).readInt8(0)
        if (next === Iperf3State.DISPLAY_RESULTS) control.write(Buffer.of(Iperf3State.IPERF_DONE))
        // Let IPERF_DONE reach the server before the caller tears the connection (or the stack) down: the
        // server closes the control connection once it has it (2 s at most).
        const closed = new Promise<void>((resolve) => control.once('close', () => resolve()))
        for (const socket of sockets) socket.end()
        await Promise.race([closed, sleep(2)])
        return result
      } else if (state === Iperf3State.ACCESS_DENIED) {
        throw new Error('the iperf3 server is busy with another test (ACCESS_DENIED)')
      } else if (state === Iperf3State.SERVER_ERROR) {
        throw new Error('the iperf3 server reported an error (SERVER_ERROR)')
      } else if (state === Iperf3State.SERVER_TERMINATE) {
        throw new Error('the iperf3 server ended the test (SERVER_TERMINATE)')
      } else {
        throw new Error(`unexpected iperf3 state ${state}`)
      }
    }
  } finally {
    sending = false
    for (const socket of sockets) socket.end()
  }
}
