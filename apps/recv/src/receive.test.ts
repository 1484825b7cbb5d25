import { EventEmitter } from 'node:events'
import { Duplex } from 'node:stream'
import { describe, expect, it } from 'vitest'
import type { ReceiverClock } from './clock.js'
import { RecvError } from './errors.js'
import { END_MARKER, perfChunk } from './protocol.js'
import { receive, serve } from './receive.js'

/** A clock that moves only when told, with timers fired in time order. */
class ManualClock implements ReceiverClock {
  time = 0
  readonly #timers = new Set<{ at: number | undefined; callback: () => void }>()
  now(): number {
    return this.time
  }
  createTimer(callback: () => void) {
    const timer = { at: undefined as number | undefined, callback }
    this.#timers.add(timer)
    return {
      arm: (at: number) => void (timer.at = at),
      cancel: () => void (timer.at = undefined),
    }
  }
  advanceTo(time: number): void {
    for (;;) {
      let next: { at: number | undefined; callback: () => void } | undefined
      for (const timer of this.#timers) if (timer.at !== undefined && timer.at <= time && (next === undefined || timer.at < next.at!)) next = timer
      if (next === undefined) break
      this.time = next.at!
      next.at = undefined
      next.callback()
    }
    this.time = time
  }
}

/** Two ends of an in-memory connection: what one writes, the other reads; ending one side ends the other's reading. */
function duplexPair(): [Duplex, Duplex] {
  const ends: Duplex[] = []
  const end = (peer: () => Duplex): Duplex =>
    new Duplex({
      allowHalfOpen: true,
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        peer().push(chunk)
        callback()
      },
      final(callback) {
        peer().push(null)
        callback()
      },
    })
  ends.push(end(() => ends[1]!), end(() => ends[0]!))
  return [ends[0]!, ends[1]!]
}

function collect(stream: Duplex): { text: () => string } {
  let text = ''
  stream.on('data', (data: Buffer) => (text += data.toString('latin1')))
  return { text: () => text }
}

describe('receive', () => {
  it('counts a transfer, prints recv.py lines every interval, answers OK at the marker', async () => {
    const [sender, receiver] = duplexPair()
    const clock = new ManualClock()
    const lines: string[] = []
    const reply = collect(sender)
    const done = receive(receiver, { clock, host: '10.0.0.1', port: 4000, onLine: (line) => lines.push(line) })
    const chunk = perfChunk()
    // 1000 chunks per simulated half second: 8,192,000 bytes per 0.5 s = 131.072 Mbit/s.
    for (let half = 0; half < 4; half++) {
      for (let i = 0; i < 1000; i++) sender.write(chunk)
      await new Promise((resolve) => setImmediate(resolve))
      clock.advanceTo((half + 1) * 500_000)
    }
    clock.advanceTo(2_100_000)
    sender.write(new Uint8Array([END_MARKER]))
    const result = await done
    expect(result.bytes).toBe(4000 * 8192 + 1)
    expect(result.endedBy).toBe('marker')
    expect(result.mismatchedChunks).toBe(0)
    expect(result.seconds).toBe(2.1)
    expect(result.intervals.map((interval) => interval.line)).toEqual(['0.0 131.072 Mbps', '0.5 131.072 Mbps', '1.0 131.072 Mbps', '1.5 131.072 Mbps'])
    expect(lines.slice(0, 4)).toEqual(result.intervals.map((interval) => interval.line))
    expect(lines[4]).toBe('Received END from client')
    expect(lines[5]).toMatch(/^Done with 10\.0\.0\.1:4000, bytes_rcvd: 32768001, time: 2\.1, thru: 124\.83\d*Mbps$/)
    expect(result.replied).toBe(true)
    await new Promise((resolve) => setImmediate(resolve))
    expect(reply.text()).toBe('OK\n')
  })

  it('ends at end of stream when no marker comes, and still replies on a half-open stream', async () => {
    const [sender, receiver] = duplexPair()
    const reply = collect(sender)
    const done = receive(receiver, { clock: new ManualClock() })
    sender.write(perfChunk())
    sender.end()
    const result = await done
    expect(result.endedBy).toBe('eof')
    expect(result.bytes).toBe(8192)
    await new Promise((resolve) => setImmediate(resolve))
    expect(reply.text()).toBe('OK\n')
  })

  it('rejects with ERR_STREAM when the stream fails before the end, the cause attached', async () => {
    const [, receiver] = duplexPair()
    const done = receive(receiver, { clock: new ManualClock() })
    const cause = Object.assign(new Error('connection reset'), { code: 'ECONNRESET' })
    receiver.destroy(cause)
    const error = await done.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RecvError)
    expect((error as RecvError).code).toBe('ERR_STREAM')
    expect((error as RecvError).cause).toBe(cause)
  })

  it('rejects options out of range with ERR_INVALID_ARG naming them', async () => {
    const [, receiver] = duplexPair()
    await expect(receive(receiver, { intervalSeconds: 0 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG', message: expect.stringContaining('intervalSeconds') })
    await expect(receive(receiver, { chunkSize: 1 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG', message: expect.stringContaining('chunkSize') })
  })
})

describe('serve', () => {
  it("receives on every connection an emitter hands it, saying 'Connected!' first, and stops when told", async () => {
    const server = new EventEmitter()
    const lines: string[] = []
    const results: number[] = []
    const stop = serve(server, { clock: new ManualClock(), onLine: (line) => lines.push(line), onResult: (result) => results.push(result.bytes) })
    for (const chunks of [1, 3]) {
      const [sender, receiver] = duplexPair()
      server.emit('connection', receiver)
      for (let i = 0; i < chunks; i++) sender.write(perfChunk())
      sender.write(new Uint8Array([END_MARKER]))
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(results).toEqual([8193, 3 * 8192 + 1])
    expect(lines.filter((line) => line === 'Connected!')).toHaveLength(2)
    stop()
    expect(server.listenerCount('connection')).toBe(0)
  })
})
