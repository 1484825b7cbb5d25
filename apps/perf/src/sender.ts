/**
 * The sender's side of mTCP's perf protocol over one connection of an `@mtcp/stack` (the mTCP-style
 * socket calls, as the original `client` used mtcp_write/mtcp_read):
 *
 * 1. write 8192-byte chunks (0x90 × 8191, then 0x00); the timer starts at the first successful write;
 * 2. when `seconds` have passed, finish the chunk under way and write the end marker 0x96;
 * 3. read the receiver's reply (`OK\n`), stop the timer, close.
 *
 * Chunk boundaries stay at multiples of 8192 bytes of the stream however short the writes are (a write
 * the send buffer cuts short is continued, not restarted), so a receiver can find the marker by counting.
 * @module
 */
import type { Micros, Timer } from '@mtcp/dpdk-io'
import { CHUNK_SIZE, END_MARKER, perfChunk } from '@mtcp/recv'
import { PollEvents, StackError, type Stack } from '@mtcp/stack'
import { PerfError } from './errors.js'

/** Chunks per write: the stream is the same as one chunk per write, with fewer calls. */
const CHUNKS_PER_WRITE = 64
const PATTERN = ((): Uint8Array => {
  const chunk = perfChunk(CHUNK_SIZE)
  const pattern = new Uint8Array(CHUNK_SIZE * CHUNKS_PER_WRITE)
  for (let i = 0; i < CHUNKS_PER_WRITE; i++) pattern.set(chunk, i * CHUNK_SIZE)
  return pattern
})()
const MARKER = Uint8Array.of(END_MARKER)
const READ_SIZE = 4096

/** Options of {@link sendPerf}. */
export interface SendPerfOptions {
  /** Seconds to keep writing, counted from the first successful write. */
  seconds: number
  /** Called once at the first successful write, with the stack clock's time (µs). */
  onStart?: (at: Micros) => void
  /**
   * Stop early (Ctrl-C): the connection is reset (RST, so the receiver ends too) and the result
   * resolves with what was sent so far and `interrupted: true`.
   */
  signal?: AbortSignal
}

/** What {@link sendPerf} measured. */
export interface SenderResult {
  /** Data bytes written (whole chunks; the 1-byte marker not counted). */
  bytesSent: number
  /** Seconds from the first write to the reply. */
  elapsedSeconds: number
  /** bytesSent × 8 / 10^6 / elapsedSeconds. */
  mbps: number
  /** What the receiver replied (`'OK\n'`; `''` when interrupted). */
  reply: string
  /** Stack clock times (µs) of the first write and of the reply (or of the interruption). */
  startedAt: Micros
  endedAt: Micros
  /** Stack clock time (µs) the sending of data stopped: the end marker was written, or the run was interrupted. */
  stoppedAt: Micros
  /** The run was stopped by `signal` before the receiver's reply; the connection was reset. */
  interrupted: boolean
}

/**
 * Run the sender's side of the protocol on the connected socket `fd` of `stack`, then close it.
 *
 * @throws (rejects) `PerfError` `ERR_CONNECTION` when the connection fails (its `cause` is the stack's
 * `StackError`, e.g. `ECONNRESET`), `ERR_PROTOCOL` when the receiver closes without replying.
 *
 * @example
 * ```ts
 * const result = await sendPerf(stack, fd, { seconds: 10 })
 * console.log(formatSenderSummary(result).join('\n'))
 * ```
 */
export function sendPerf(stack: Stack, fd: number, options: SendPerfOptions): Promise<SenderResult> {
  const seconds = options.seconds
  if (typeof seconds !== 'number' || !(seconds > 0 && seconds <= 86400)) {
    return Promise.reject(new PerfError('ERR_INVALID_ARG', `seconds must be a number in (0, 86400], got ${String(seconds)}`))
  }
  const clock = stack.clock
  const duration = seconds * 1e6
  const readBuffer = new Uint8Array(READ_SIZE)
  let phase: 'data' | 'marker' | 'reply' | 'done' = 'data'
  let sent = 0
  let startedAt: Micros | undefined
  let reply = ''
  let deadline: Timer | undefined
  let stoppedAt: Micros | undefined

  return new Promise<SenderResult>((resolve, reject) => {
    const finish = (error: Error | undefined, result?: SenderResult): void => {
      if (phase === 'done') return
      phase = 'done'
      unwatch()
      deadline?.cancel()
      options.signal?.removeEventListener('abort', interrupt)
      if (error !== undefined) {
        try {
          stack.abort(fd)
        } catch {
          // already gone
        }
        reject(error)
        return
      }
      stack.close(fd)
      resolve(result!)
    }
    const timeUp = (): boolean => startedAt !== undefined && clock.now() - startedAt >= duration

    const writeData = (): void => {
      for (;;) {
        const inChunk = sent % CHUNK_SIZE
        if (timeUp() && inChunk === 0) {
          phase = 'marker'
          return
        }
        const offset = sent % PATTERN.byteLength
        // Past the deadline, only the rest of the chunk under way.
        const length = timeUp() ? CHUNK_SIZE - inChunk : PATTERN.byteLength - offset
        let n: number
        try {
          n = stack.write(fd, PATTERN, offset, length)
        } catch (error) {
          if (error instanceof StackError && error.code === 'EAGAIN') return
          throw error
        }
        if (startedAt === undefined) {
          startedAt = clock.now()
          options.onStart?.(startedAt)
          deadline = clock.createTimer(() => step(PollEvents.OUT))
          deadline.arm(startedAt + duration)
        }
        sent += n
      }
    }

    const writeMarker = (): void => {
      try {
        stack.write(fd, MARKER)
      } catch (error) {
        if (error instanceof StackError && error.code === 'EAGAIN') return
        throw error
      }
      phase = 'reply'
      stoppedAt = clock.now()
    }

    const readReply = (): void => {
      for (;;) {
        let n: number
        try {
          n = stack.read(fd, readBuffer)
        } catch (error) {
          if (error instanceof StackError && error.code === 'EAGAIN') return
          throw error
        }
        if (n === 0) {
          if (reply.length === 0) throw new PerfError('ERR_PROTOCOL', `the receiver closed the connection without replying OK (after ${sent} bytes)`)
          break
        }
        reply += String.fromCharCode(...readBuffer.subarray(0, n))
        if (reply.includes('\n')) break
      }
      const endedAt = clock.now()
      const elapsedSeconds = (endedAt - startedAt!) / 1e6
      finish(undefined, { bytesSent: sent, elapsedSeconds, mbps: elapsedSeconds > 0 ? (sent * 8) / 1e6 / elapsedSeconds : 0, reply, startedAt: startedAt!, endedAt, stoppedAt: stoppedAt!, interrupted: false })
    }

    // Ctrl-C: reset the connection (the receiver sees the RST and ends) and report what was sent so far.
    const interrupt = (): void => {
      if (phase === 'done') return
      const endedAt = clock.now()
      const start = startedAt ?? endedAt
      const elapsedSeconds = (endedAt - start) / 1e6
      phase = 'done'
      unwatch()
      deadline?.cancel()
      try {
        stack.abort(fd)
      } catch {
        // already gone
      }
      resolve({ bytesSent: sent, elapsedSeconds, mbps: elapsedSeconds > 0 ? (sent * 8) / 1e6 / elapsedSeconds : 0, reply: '', startedAt: start, endedAt, stoppedAt: stoppedAt ?? endedAt, interrupted: true })
    }

    const step = (events: number): void => {
      if (phase === 'done') return
      try {
        if (events & PollEvents.ERR) {
          const code = stack.connectionOf(fd)?.error ?? 'ECONNRESET'
          throw new StackError(code, `the connection failed after ${sent} bytes`)
        }
        if (phase === 'data') writeData()
        if (phase === 'marker') writeMarker()
        if (phase === 'reply') readReply()
      } catch (error) {
        finish(error instanceof PerfError ? error : new PerfError('ERR_CONNECTION', `the connection failed after ${sent} bytes: ${(error as Error).message}`, { cause: error }))
      }
    }

    const unwatch = stack.watch(fd, (_fd, events) => step(events))
    if (options.signal?.aborted === true) {
      interrupt()
      return
    }
    options.signal?.addEventListener('abort', interrupt, { once: true })
    step(stack.readiness(fd))
  })
}

/**
 * The original sender's closing lines: a blank line, `Time elapsed: <s>`, `Total bytes sent: <n>`,
 * `Throughput: <x.xxx>Mbit/sec` (bytes × 8 / 10^6 / elapsed).
 */
export function formatSenderSummary(result: Pick<SenderResult, 'bytesSent' | 'elapsedSeconds'>): string[] {
  const mbps = result.elapsedSeconds > 0 ? (result.bytesSent * 8) / 1e6 / result.elapsedSeconds : 0
  return ['', `Time elapsed: ${result.elapsedSeconds.toFixed(6)}`, `Total bytes sent: ${result.bytesSent}`, `Throughput: ${mbps.toFixed(3)}Mbit/sec`]
}
