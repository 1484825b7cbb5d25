// The sender's side of the protocol against a receiver written here with the stack's socket calls:
// what goes on the wire, byte by byte, and the closing lines.
import { PollEvents, type Stack, StackError } from '@mtcp/stack'
import { runUntilAsync, stackPair } from '@mtcp/stack/testing'
import { describe, expect, it } from 'vitest'
import { PerfError } from './errors.js'
import { formatSenderSummary, type SenderResult, sendPerf } from './sender.js'

interface Received {
  bytes: number
  /** Offsets of bytes that broke the layout: 0x90 × 8191 then 0x00 per 8192-byte chunk, then 0x96. */
  wrong: number[]
  markerAt: number
  /** The error a read failed with (the connection was reset). */
  error?: string
}

/**
 * Accept one connection on b:5001 and read it the way recv.py does (end when a read ends with 0x96),
 * checking every byte against the protocol; reply `OK\n` unless `reply` is false (then close instead).
 */
function receiver(b: Stack, reply: boolean): Received {
  const state: Received = { bytes: 0, wrong: [], markerAt: -1 }
  const listener = b.socket()
  b.bind(listener, '0.0.0.0', 5001)
  b.listen(listener)
  const buffer = new Uint8Array(65536)
  b.watch(listener, () => {
    let fd: number
    try {
      fd = b.accept(listener)
    } catch {
      return
    }
    b.watch(fd, (_fd, events) => {
      if (!(events & PollEvents.IN) || state.markerAt >= 0) return
      for (;;) {
        let n: number
        try {
          n = b.read(fd, buffer)
        } catch (error) {
          if (error instanceof StackError && error.code === 'EAGAIN') return
          if (error instanceof StackError) {
            state.error = error.code
            return
          }
          throw error
        }
        if (n === 0) return
        for (let i = 0; i < n; i++) {
          const offset = state.bytes + i
          const expected = offset % 8192 === 8191 ? 0x00 : 0x90
          if (buffer[i] !== expected && !(buffer[i] === 0x96 && i === n - 1 && offset % 8192 === 0)) state.wrong.push(offset)
        }
        state.bytes += n
        if (buffer[n - 1] === 0x96) {
          state.markerAt = state.bytes - 1
          if (reply) b.write(fd, new TextEncoder().encode('OK\n'))
          else b.close(fd)
          return
        }
      }
    })
  })
  return state
}

describe('sendPerf', () => {
  it('writes whole chunks for the time asked, then the marker at a chunk boundary, and stops at the OK', async () => {
    const pair = stackPair({ impairments: { rate: 50e6, delay: 5_000, loss: 0.002 }, stack: { tcp: { sendBufferSize: 1 << 20, receiveBufferSize: 1 << 20 } } })
    const received = receiver(pair.b, true)
    const fd = pair.a.socket()
    pair.a.connect(fd, '10.0.0.2', 5001)
    let result: SenderResult | undefined
    let startedAt = -1
    sendPerf(pair.a, fd, { seconds: 0.5, onStart: (at) => (startedAt = at) }).then((r) => (result = r))
    await runUntilAsync(pair.clock, () => result !== undefined)
    expect(received.wrong).toEqual([])
    expect(received.markerAt).toBe(result!.bytesSent)
    expect(result!.bytesSent % 8192).toBe(0)
    expect(result!.bytesSent).toBeGreaterThan(0)
    expect(result!.reply).toBe('OK\n')
    expect(result!.startedAt).toBe(startedAt)
    // The marker goes once the time is up; the reply comes after the data ahead of it has drained.
    expect(result!.elapsedSeconds).toBeGreaterThanOrEqual(0.5)
    expect(result!.mbps).toBeCloseTo((result!.bytesSent * 8) / 1e6 / result!.elapsedSeconds, 9)
    expect(() => pair.a.tcpInfo(fd)).toThrow(/EBADF/) // closed once the reply is in
  })

  it('rejects with ERR_PROTOCOL when the receiver closes without replying', async () => {
    const pair = stackPair({ impairments: { rate: 50e6, delay: 1_000 } })
    receiver(pair.b, false)
    const fd = pair.a.socket()
    pair.a.connect(fd, '10.0.0.2', 5001)
    let error: unknown
    sendPerf(pair.a, fd, { seconds: 0.05 }).catch((e: unknown) => (error = e))
    await runUntilAsync(pair.clock, () => error !== undefined)
    expect(error).toBeInstanceOf(PerfError)
    expect((error as PerfError).code).toBe('ERR_PROTOCOL')
  })

  it('rejects with ERR_CONNECTION, the stack error as cause, when the connection is refused', async () => {
    const pair = stackPair()
    const fd = pair.a.socket()
    pair.a.connect(fd, '10.0.0.2', 5999) // nothing listens
    let error: unknown
    sendPerf(pair.a, fd, { seconds: 1 }).catch((e: unknown) => (error = e))
    await runUntilAsync(pair.clock, () => error !== undefined)
    expect((error as PerfError).code).toBe('ERR_CONNECTION')
    expect(((error as PerfError).cause as StackError).code).toBe('ECONNREFUSED')
  })

  it('on abort, resets the connection (the receiver sees ECONNRESET) and resolves with the partial count', async () => {
    const pair = stackPair({ impairments: { rate: 50e6, delay: 5_000 }, stack: { tcp: { sendBufferSize: 1 << 20, receiveBufferSize: 1 << 20 } } })
    const received = receiver(pair.b, true)
    const fd = pair.a.socket()
    pair.a.connect(fd, '10.0.0.2', 5001)
    const controller = new AbortController()
    let result: SenderResult | undefined
    sendPerf(pair.a, fd, { seconds: 10, signal: controller.signal }).then((r) => (result = r))
    await runUntilAsync(pair.clock, () => received.bytes > 200_000)
    expect(pair.b.connectionsByState().ESTABLISHED).toBe(1)
    controller.abort()
    await runUntilAsync(pair.clock, () => result !== undefined)
    expect(result!.interrupted).toBe(true)
    expect(result!.reply).toBe('')
    expect(result!.bytesSent).toBeGreaterThanOrEqual(received.bytes)
    expect(result!.stoppedAt).toBe(result!.endedAt)
    expect(result!.elapsedSeconds).toBeLessThan(10)
    expect(() => pair.a.tcpInfo(fd)).toThrow(/EBADF/)
    // The RST reaches the receiver: its connection is gone, not left waiting.
    await runUntilAsync(pair.clock, () => received.error !== undefined)
    expect(received.error).toBe('ECONNRESET')
    expect(pair.b.connectionsByState().ESTABLISHED ?? 0).toBe(0)
  })

  it('rejects a duration out of range', async () => {
    const pair = stackPair()
    await expect(sendPerf(pair.a, pair.a.socket(), { seconds: 0 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' })
  })
})

describe('formatSenderSummary', () => {
  it("prints the original's closing lines", () => {
    expect(formatSenderSummary({ bytesSent: 125_000_000, elapsedSeconds: 10.0625 })).toEqual(['', 'Time elapsed: 10.062500', 'Total bytes sent: 125000000', 'Throughput: 99.379Mbit/sec'])
  })
})
