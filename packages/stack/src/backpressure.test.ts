// Egress backpressure (issue 16 §3): a write burst on 10,000 connections in one turn, and a close of
// 100,000 connections in one turn, leave in the iterations that follow, in turn, none dropped inside the
// stack, none retransmitted.
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

  it("100,000 connections closed in one turn: each side's FINs leave and are acknowledged within one RTO, none dropped, none retransmitted", () => {
    const pair = stackPair({ stack: { maxConnections: 120_000 }, impairments: { delay: 50 } })
    const { a, b, clock } = pair
    // 28,232 ephemeral ports per 4-tuple's remote end: four listening ports give room for 100,000.
    const ports = [5001, 5002, 5003, 5004]
    const perPort = 25_000
    const listeners = ports.map((port) => {
      const fd = b.socket()
      b.bind(fd, '0.0.0.0', port)
      b.listen(fd, perPort)
      return fd
    })
    const clients: number[] = []
    const servers: number[] = []
    for (const port of ports) {
      for (let i = 0; i < perPort; i++) {
        const fd = a.socket()
        a.connect(fd, '10.0.0.2', port)
        clients.push(fd)
      }
      runUntil(clock, () => {
        for (const listener of listeners) {
          for (;;) {
            try {
              servers.push(b.accept(listener))
            } catch {
              break
            }
          }
        }
        return servers.length === clients.length
      })
    }
    runUntil(clock, () => clients.every((fd) => a.state(fd) === 'ESTABLISHED'))
    const rto = b.tcpInfo(servers[0]!).rtoUs
    const drops = { a: { ...a.stats.tx.drops }, b: { ...b.stats.tx.drops } }
    const retransmitted = a.stats.tcp.retransmittedSegments + b.stats.tcp.retransmittedSegments
    // The servers close all at once; done when every FIN is acknowledged and every client has read it.
    let start = clock.now()
    for (const fd of servers) b.close(fd)
    runUntil(clock, () => b.connectionsByState()['FIN-WAIT-2'] === servers.length && clients.every((fd) => a.connectionOf(fd)!.readEnded))
    expect(clock.now() - start).toBeLessThan(rto)
    // Then the clients, all at once; done when every client socket is gone and every server connection is in TIME-WAIT.
    start = clock.now()
    for (const fd of clients) a.close(fd)
    runUntil(clock, () => a.socketCount === 0 && b.timeWaitCount === servers.length)
    expect(clock.now() - start).toBeLessThan(rto)
    expect(b.socketCount).toBe(listeners.length)
    expect(a.stats.tx.drops).toEqual(drops.a)
    expect(b.stats.tx.drops).toEqual(drops.b)
    expect(a.stats.tcp.retransmittedSegments + b.stats.tcp.retransmittedSegments).toBe(retransmitted)
  }, 300_000)
})
