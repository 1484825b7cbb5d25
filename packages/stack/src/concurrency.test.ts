// Many connections at once, through the epoll interface.
import { describe, expect, it } from 'vitest'
import { Epoll } from './epoll.js'
import { StackError } from './errors.js'
import { PollEvents } from './socket-record.js'
import { runUntil, stackPair } from './testing.js'

describe('1,000 concurrent connections', () => {
  it('each moves its own data, driven by epoll on both sides, and every socket is released', () => {
    const { clock, a, b } = stackPair({ impairments: { rate: 1e9, delay: 200 }, stack: { tcp: { timeWaitTimeout: 1_000_000 } } })
    const COUNT = 1000
    const BYTES = 20_000
    const listener = b.socket()
    b.bind(listener, '0.0.0.0', 8080)
    b.listen(listener, 2048)
    const serverEpoll = new Epoll(b)
    serverEpoll.add(listener, PollEvents.IN)
    const clientEpoll = new Epoll(a)
    const received = new Map<number, number>() // server fd -> bytes
    const checksums = new Map<number, number>()
    const scratch = new Uint8Array(65536)
    let completed = 0

    const clients = new Map<number, { index: number; sent: number }>()
    for (let i = 0; i < COUNT; i++) {
      const fd = a.socket()
      a.connect(fd, '10.0.0.2', 8080)
      clients.set(fd, { index: i, sent: 0 })
      clientEpoll.add(fd, PollEvents.OUT | PollEvents.ET)
    }
    const payloadFor = (index: number) => new Uint8Array(BYTES).fill(index & 0xff)

    const serveEvents = (): void => {
      for (const { fd, events } of serverEpoll.wait(256)) {
        if (fd === listener) {
          for (;;) {
            try {
              const conn = b.accept(listener)
              received.set(conn, 0)
              checksums.set(conn, 0)
              serverEpoll.add(conn, PollEvents.IN | PollEvents.RDHUP)
            } catch (error) {
              if (error instanceof StackError && error.code === 'EAGAIN') break
              throw error
            }
          }
          continue
        }
        if (events & PollEvents.IN) {
          for (;;) {
            let n: number
            try {
              n = b.read(fd, scratch)
            } catch (error) {
              if (error instanceof StackError && error.code === 'EAGAIN') break
              throw error
            }
            if (n === 0) {
              serverEpoll.delete(fd)
              b.close(fd)
              completed++
              break
            }
            received.set(fd, received.get(fd)! + n)
            let sum = checksums.get(fd)!
            for (let i = 0; i < n; i++) sum += scratch[i]!
            checksums.set(fd, sum)
          }
        }
      }
    }
    const clientEvents = (): void => {
      for (const { fd } of clientEpoll.wait(256)) {
        const client = clients.get(fd)!
        const payload = payloadFor(client.index)
        while (client.sent < BYTES) {
          try {
            client.sent += a.write(fd, payload, client.sent)
          } catch (error) {
            if (error instanceof StackError && error.code === 'EAGAIN') break
            throw error
          }
        }
        if (client.sent === BYTES) {
          clientEpoll.delete(fd)
          a.close(fd)
        }
      }
    }
    runUntil(clock, () => {
      serveEvents()
      clientEvents()
      return completed === COUNT
    })
    expect(received.size).toBe(COUNT)
    for (const bytes of received.values()) expect(bytes).toBe(BYTES)
    // Each connection carried its own byte value: the checksums are a multiset of the indices' values.
    const sums = [...checksums.values()].map((sum) => sum / BYTES).sort((x, y) => x - y)
    expect(sums).toEqual(Array.from({ length: COUNT }, (_, i) => i & 0xff).sort((x, y) => x - y))
    runUntil(clock, () => a.socketCount === 0 && b.socketCount === 1)
    expect(b.connectionsByState()).toEqual({ LISTEN: 1 })
  }, 60_000)
})
