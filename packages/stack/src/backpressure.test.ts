// Egress backpressure (issue 16 §3): a write burst on 10,000 connections in one turn leaves in the
// iterations that follow, in turn, none dropped inside the stack, none retransmitted.
import { describe, expect, it } from 'vitest'
import { PollEvents } from './socket-record.js'
import { runUntil, stackPair } from './testing.js'

describe('egress backpressure', () => {
  it('100 B written on each of 10,000 connections in one turn: all delivered, no drop, no retransmission', () => {
    const pair = stackPair({ stack: { maxConnections: 30_000 } })
    const { a, b, clock } = pair
    const listener = b.socket()
    b.bind(listener, '0.0.0.0', 5001)
    b.listen(listener, 20_000)
    const count = 10_000
    const clients: number[] = []
    for (let i = 0; i < count; i++) {
      const fd = a.socket()
      a.connect(fd, '10.0.0.2', 5001)
      clients.push(fd)
    }
    const servers: number[] = []
    let received = 0
    const scratch = new Uint8Array(4096)
    b.watch(listener, () => {
      for (;;) {
        let fd: number
        try {
          fd = b.accept(listener)
        } catch {
          return
        }
        servers.push(fd)
        b.watch(fd, (_fd, events) => {
          if (events & PollEvents.IN) while (b.readiness(fd) & PollEvents.IN) received += b.read(fd, scratch)
        })
      }
    })
    runUntil(clock, () => servers.length === count && clients.every((fd) => a.state(fd) === 'ESTABLISHED'))
    const dropsBefore = { ...a.stats.tx.drops }
    const retransmittedBefore = a.stats.tcp.retransmittedSegments
    const message = new Uint8Array(100).fill(5)
    for (const fd of clients) a.write(fd, message)
    runUntil(clock, () => received === count * 100)
    expect(a.stats.tx.drops).toEqual(dropsBefore)
    expect(a.stats.tcp.retransmittedSegments).toBe(retransmittedBefore)
  }, 120_000)
})
