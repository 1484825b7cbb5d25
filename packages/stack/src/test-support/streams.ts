/**
 * Test support: two byte streams at once between the stacks of a {@link StackPair}, a to b and b to a,
 * written in sizes a test chooses and checked byte for byte on arrival (each stream is a fixed
 * pseudo-random pattern, compared with `Buffer.compare`, so gigabytes check in native time). Both sides
 * half-close when their stream is written, read to the end, and close. Runs on the pair's virtual clock.
 * @internal
 */
import { Buffer } from 'node:buffer'
import type { TcpConnection, TcpConnectionStats } from '@mtcp/tcp-core'
import { StackError } from '../errors.js'
import { PollEvents } from '../socket-record.js'
import type { Stack } from '../stack.js'
import { runUntil, type StackPair } from '../testing.js'

/** The pattern's period: a prime, so that it lines up with neither the MSS nor 2^32. */
const PERIOD = 1_048_573

function makePattern(seed: number): Buffer {
  const pattern = Buffer.alloc(2 * PERIOD)
  let state = seed >>> 0
  for (let i = 0; i < PERIOD; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    pattern[i] = state >>> 24
  }
  pattern.copy(pattern, PERIOD, 0, PERIOD)
  return pattern
}

const patterns = new Map<number, Buffer>()
function patternFor(seed: number): Buffer {
  let pattern = patterns.get(seed)
  if (pattern === undefined) {
    pattern = makePattern(seed)
    patterns.set(seed, pattern)
  }
  return pattern
}

/** How big the `index`-th write of a stream is, given the connection's MSS; the stream's end caps it. */
export type WriteSize = (index: number, mss: number) => number

/** Options of {@link runStreams}. */
export interface StreamsOptions {
  /** Bytes a sends to b. */
  aToB: number
  /** Bytes b sends to a. */
  bToA: number
  /** Size of each write; default 256 KiB. A write the send buffer takes in part is finished first. */
  writeSize?: WriteSize
  /** The listening port on b. Default 5001. */
  port?: number
  /**
   * Half-close only once everything written is acknowledged, as an application that waits for its last
   * write to be delivered (perf's end marker): the tail then goes out without a FIN behind it, so Nagle
   * decides when it leaves. Default false (shutdown right after the last write).
   */
  shutdownWhenAcked?: boolean
  /** Called after each read with the bytes received so far in that direction (to change the link mid-run). */
  onReceive?: (direction: 'aToB' | 'bToA', received: number) => void
  /** Virtual µs after which the run fails. Default 1 hour. */
  limit?: number
}

/** What {@link runStreams} saw. */
export interface StreamsResult {
  /** Bytes b read from a, every one checked. */
  receivedByB: number
  /** Bytes a read from b, every one checked. */
  receivedByA: number
  /** Virtual µs from connect to both streams ending. */
  elapsed: number
  /** The connections' counters at the end. */
  a: TcpConnectionStats
  b: TcpConnectionStats
  /** The connections themselves, for their sequence state. */
  connectionA: TcpConnection
  connectionB: TcpConnection
}

/** Writes, reads and checks one direction of a connection. */
class Stream {
  written = 0
  writes = 0
  #current = 0
  received = 0
  ended = false
  readonly #out: Buffer
  readonly #in: Buffer
  readonly #readBuffer = Buffer.alloc(256 * 1024)

  constructor(
    readonly stack: Stack,
    readonly fd: number,
    readonly sendBytes: number,
    readonly writeSize: WriteSize,
    readonly shutdownWhenAcked: boolean,
    readonly direction: 'aToB' | 'bToA',
    readonly onReceive: StreamsOptions['onReceive'],
    outSeed: number,
    inSeed: number,
  ) {
    this.#out = patternFor(outSeed)
    this.#in = patternFor(inSeed)
  }

  pump(): void {
    const mss = this.stack.connectionOf(this.fd)?.negotiated.mss ?? 536
    while (this.written < this.sendBytes) {
      if (this.#current === 0) {
        const size = this.writeSize(this.writes++, mss)
        if (!Number.isInteger(size) || size <= 0) throw new Error(`writeSize gave ${size}`)
        this.#current = Math.min(size, this.sendBytes - this.written)
      }
      const start = this.written % PERIOD
      const length = Math.min(this.#current, PERIOD)
      let n: number
      try {
        n = this.stack.write(this.fd, this.#out, start, length)
      } catch (error) {
        if (error instanceof StackError && error.code === 'EAGAIN') return
        throw error
      }
      if (n === 0) return
      this.written += n
      this.#current -= n
    }
    const connection = this.stack.connectionOf(this.fd)
    if (this.shutdownWhenAcked && connection !== undefined && (connection.bytesInFlight > 0 || connection.sendBuffer.length > 0)) return
    this.stack.shutdown(this.fd)
  }

  drain(): void {
    for (;;) {
      let n: number
      try {
        n = this.stack.read(this.fd, this.#readBuffer)
      } catch (error) {
        if (error instanceof StackError && error.code === 'EAGAIN') return
        throw error
      }
      if (n === 0) {
        this.ended = true
        return
      }
      const start = this.received % PERIOD
      if (this.#in.compare(this.#readBuffer, 0, n, start, start + n) !== 0) {
        throw new Error(`stream data differs in the ${n} bytes from offset ${this.received}`)
      }
      this.received += n
      this.onReceive?.(this.direction, this.received)
    }
  }
}

/**
 * Connect a to b, move `aToB` bytes one way and `bToA` the other at once, check every byte, close both.
 * Throws when the run stalls (nothing scheduled and not done), exceeds `limit`, or data differs.
 */
export function runStreams(pair: StackPair, options: StreamsOptions): StreamsResult {
  const { a, b, clock } = pair
  const port = options.port ?? 5001
  const writeSize = options.writeSize ?? (() => 256 * 1024)
  const listener = b.socket()
  b.bind(listener, '0.0.0.0', port)
  b.listen(listener)
  const client = a.socket()
  const start = clock.now()
  let end = start
  let server: Stream | undefined
  const clientStream = new Stream(a, client, options.aToB, writeSize, options.shutdownWhenAcked ?? false, 'bToA', options.onReceive, 11, 23)
  const watch = (stack: Stack, stream: Stream): void => {
    stack.watch(stream.fd, (_fd, events) => {
      if (events & PollEvents.ERR) throw new Error(`connection failed: ${stack.connectionOf(stream.fd)?.error}`)
      if (events & (PollEvents.IN | PollEvents.HUP)) stream.drain()
      if (events & PollEvents.OUT) stream.pump()
    })
  }
  b.watch(listener, () => {
    if (server !== undefined) return
    let fd: number
    try {
      fd = b.accept(listener)
    } catch {
      return
    }
    server = new Stream(b, fd, options.bToA, writeSize, options.shutdownWhenAcked ?? false, 'aToB', options.onReceive, 23, 11)
    watch(b, server)
    server.pump()
    server.drain()
  })
  watch(a, clientStream)
  a.connect(client, '10.0.0.2', port)
  const connectionA = a.connectionOf(client)!
  let connectionB: TcpConnection | undefined
  runUntil(
    clock,
    () => {
      if (server === undefined || !clientStream.ended || !server.ended) return false
      connectionB ??= b.connectionOf(server.fd)
      // Done when both ends have every byte and each side's FIN is acknowledged.
      const bothAcked = connectionA.bytesInFlight === 0 && connectionB!.bytesInFlight === 0
      if (bothAcked && end === start) end = clock.now()
      return bothAcked
    },
    options.limit,
  )
  connectionB ??= b.connectionOf(server!.fd)!
  const result: StreamsResult = {
    receivedByB: server!.received,
    receivedByA: clientStream.received,
    elapsed: end - start,
    a: { ...connectionA.stats },
    b: { ...connectionB.stats },
    connectionA,
    connectionB,
  }
  a.close(client)
  b.close(server!.fd)
  b.close(listener)
  return result
}

/** Writes of `multiple` full segments each, then one short tail of `tail` bytes, in turn. */
export function segmentMultiplesWithTails(multiple: number, tail: (index: number, mss: number) => number): WriteSize {
  return (index, mss) => (index % 2 === 0 ? multiple * mss : Math.max(1, Math.min(mss - 1, tail(index, mss))))
}
