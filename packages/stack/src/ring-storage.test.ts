/** Short connections reuse the rings of the connections before them (issue 14: no per-connection buffers). */
import { describe, expect, it } from 'vitest'
import { PollEvents } from './socket-record.js'
import { runUntil, stackPair } from './testing.js'

describe('ring storage across connections', () => {
  it('100 short connections (connect, 64 B each way, close) allocate rings for the first few only, and the data is intact', () => {
    const pair = stackPair({ impairments: { delay: 100 }, stack: { tcp: { timeWaitTimeout: 1000 } } })
    const { a, b, clock } = pair
    const listener = b.socket()
    b.bind(listener, '0.0.0.0', 80)
    b.listen(listener)
    const scratch = new Uint8Array(256)
    let served = 0
    b.watch(listener, () => {
      for (let fd = b.tryAccept(listener); fd !== -1; fd = b.tryAccept(listener)) {
        b.watch(fd, (_, events) => {
          if (!(events & PollEvents.IN)) return
          const n = b.read(fd, scratch)
          if (n === 64) {
            b.write(fd, scratch.subarray(0, 64).map((byte) => byte + 1))
            b.close(fd)
            served++
          }
        })
      }
    })
    for (let i = 0; i < 100; i++) {
      const fd = a.socket()
      const request = new Uint8Array(64).fill(i)
      let reply: Uint8Array | undefined
      a.watch(fd, (_, events) => {
        if (events & PollEvents.OUT && a.state(fd) === 'ESTABLISHED' && reply === undefined) a.write(fd, request)
        if (events & PollEvents.IN) {
          const out = new Uint8Array(64)
          if (a.read(fd, out) === 64) {
            reply = out
            a.close(fd)
          }
        }
      })
      a.connect(fd, '10.0.0.2', 80)
      runUntil(clock, () => reply !== undefined)
      expect(reply!.every((byte) => byte === i + 1)).toBe(true)
      runUntil(clock, () => a.stats.tcp.closedConnections > i && b.stats.tcp.closedConnections > i)
    }
    expect(served).toBe(100)
    // Each connection needs a send and a receive ring on each side; after the first connection's rings
    // came back, every later one reused them.
    for (const stack of [a, b]) {
      expect(stack.ringStorage!.reused).toBeGreaterThanOrEqual(99 * 2)
      expect(stack.ringStorage!.allocated).toBeLessThanOrEqual(4)
    }
  })
})
