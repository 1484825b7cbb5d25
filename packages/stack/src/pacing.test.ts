// Paced sending between two stacks on the virtual clock (@mtcp/pacer in the connection, a token bucket on the port).
import type { CaptureSink } from '@mtcp/dpdk-io'
import { describe, expect, it } from 'vitest'
import { StackError } from './errors.js'
import { PollEvents } from './socket-record.js'
import type { Stack } from './stack.js'
import { runUntil, type StackPair, stackPair } from './testing.js'

/** TCP payload bytes of each data frame a port transmits, with the time it left. */
function recordPayloads(pair: StackPair): Array<{ at: number; bytes: number }> {
  const frames: Array<{ at: number; bytes: number }> = []
  const sink: CaptureSink = {
    record(data, offset, length, at, direction) {
      if (direction !== 'tx' || data[offset + 12] !== 0x08 || data[offset + 23] !== 6) return
      const tcpHeader = (data[offset + 46]! >> 4) * 4
      const bytes = length - 14 - 20 - tcpHeader
      if (bytes > 0) frames.push({ at, bytes })
    },
  }
  pair.link.a.capture(sink)
  return frames
}

/** A greedy sender on a (client) and a reader on b; returns the bytes the reader got by each moment asked. */
function greedyFlow(pair: StackPair, configure: (stack: Stack, fd: number) => void) {
  const { a, b } = pair
  const listener = b.socket()
  b.bind(listener, '0.0.0.0', 9000)
  b.listen(listener)
  let received = 0
  const scratch = new Uint8Array(1 << 20)
  b.watch(listener, () => {
    const fd = b.accept(listener)
    b.watch(fd, () => {
      for (;;) {
        try {
          const n = b.read(fd, scratch)
          if (n === 0) return
          received += n
        } catch (error) {
          if (error instanceof StackError && error.code === 'EAGAIN') return
          throw error
        }
      }
    })
  })
  const client = a.socket()
  configure(a, client)
  const chunk = new Uint8Array(256 * 1024)
  a.watch(client, (_fd, events) => {
    if (!(events & PollEvents.OUT)) return
    for (;;) {
      try {
        a.write(client, chunk)
      } catch (error) {
        if (error instanceof StackError && error.code === 'EAGAIN') return
        throw error
      }
    }
  })
  a.connect(client, '10.0.0.2', 9000)
  return { client, received: () => received }
}

describe('pacing', () => {
  it.each([10e6, 100e6])('a flow paced at %d bit/s delivers R·t within 1% over 10 s, one quantum at most back to back', (bits) => {
    const pair = stackPair({ impairments: { rate: 1e9, delay: 1000 } })
    const frames = recordPayloads(pair)
    const rate = bits / 8
    const flow = greedyFlow(pair, (stack, fd) => stack.setsockopt(fd, 'maxPacingRate', rate))
    const { clock } = pair
    runUntil(clock, () => flow.received() > 0)
    const start = clock.now()
    const atStart = flow.received()
    runUntil(clock, () => clock.now() >= start + 10e6)
    const delivered = flow.received() - atStart
    expect(Math.abs(delivered - rate * 10) / (rate * 10)).toBeLessThan(0.01)
    // Never more than one quantum (3028 bytes, two full segments) leaves at one instant.
    const perInstant = new Map<number, number>()
    for (const frame of frames) perInstant.set(frame.at, (perInstant.get(frame.at) ?? 0) + frame.bytes)
    expect(Math.max(...perInstant.values())).toBeLessThanOrEqual(3028)
    expect(pair.a.getsockopt(flow.client, 'maxPacingRate')).toBe(rate)
  }, 60_000) // 10 s of a paced flow on the virtual clock: seconds of wall time on a busy machine

  it('native pacing (gain × cwnd / srtt) spreads a window over the RTT instead of sending it in one burst', () => {
    const pair = stackPair({ impairments: { rate: 10e9, delay: 10_000 }, stack: { tcp: { pacing: true } } })
    const frames = recordPayloads(pair)
    const flow = greedyFlow(pair, () => {})
    runUntil(pair.clock, () => flow.received() > 5_000_000)
    const perInstant = new Map<number, number>()
    for (const frame of frames) perInstant.set(frame.at, (perInstant.get(frame.at) ?? 0) + frame.bytes)
    expect(Math.max(...perInstant.values())).toBeLessThanOrEqual(3028)
    const unpaced = stackPair({ impairments: { rate: 10e9, delay: 10_000 } })
    const burstFrames = recordPayloads(unpaced)
    const burstFlow = greedyFlow(unpaced, () => {})
    runUntil(unpaced.clock, () => burstFlow.received() > 5_000_000)
    const burstInstants = new Map<number, number>()
    for (const frame of burstFrames) burstInstants.set(frame.at, (burstInstants.get(frame.at) ?? 0) + frame.bytes)
    expect(Math.max(...burstInstants.values())).toBeGreaterThan(3028) // the initial window leaves at once
  })

  it('a token bucket on the port limits everything it sends', () => {
    const rate = 20e6 / 8
    const limited = stackPair({ impairments: { rate: 1e9, delay: 1000 }, stack: { rateLimit: { rate, burst: 16_000 } } })
    const flow = greedyFlow(limited, () => {})
    runUntil(limited.clock, () => flow.received() > 0)
    const start = limited.clock.now()
    const atStart = flow.received()
    runUntil(limited.clock, () => limited.clock.now() >= start + 5e6)
    const delivered = flow.received() - atStart
    // The bucket counts whole frames (headers too), so goodput is a little under the rate.
    expect(delivered).toBeLessThanOrEqual(rate * 5 + 16_000)
    expect(delivered).toBeGreaterThan(rate * 5 * 0.9)
  })
})
