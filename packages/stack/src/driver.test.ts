// The phased driver (issue 14): each loop iteration receives, processes and dispatches a whole burst
// before any application callback runs; a callback that throws disturbs neither the stack nor the others.
import { describe, expect, it } from 'vitest'
import { PollEvents } from './socket-record.js'
import { acceptWhenReady, runUntil, stackPair } from './testing.js'

function twoConnections(options: Parameters<typeof stackPair>[0] = {}) {
  const pair = stackPair(options)
  const { a, b, clock } = pair
  const listener = b.socket()
  b.bind(listener, '0.0.0.0', 5001)
  b.listen(listener)
  const clients = [a.socket(), a.socket()]
  for (const fd of clients) a.connect(fd, '10.0.0.2', 5001)
  const servers = [acceptWhenReady(clock, b, listener), acceptWhenReady(clock, b, listener)]
  runUntil(clock, () => clients.every((fd) => a.state(fd) === 'ESTABLISHED'))
  return { ...pair, clients, servers }
}

describe('the phased driver', () => {
  it('runs no callback until the whole burst was processed', () => {
    const { a, b, clock, clients, servers } = twoConnections()
    const seen: number[] = []
    b.watch(servers[0]!, (_fd, events) => {
      // Both segments came in one burst: the second connection has its data before any watcher runs.
      if (events & PollEvents.IN) seen.push(b.connectionOf(servers[1]!)!.readableBytes)
    })
    for (const fd of clients) a.write(fd, new Uint8Array(100).fill(1))
    runUntil(clock, () => seen.length > 0)
    expect(seen[0]).toBe(100)
  })

  it('a watcher that throws: the others still run, the data still flows, the error is reported and counted', () => {
    const errors: unknown[] = []
    const { a, b, clock, clients, servers } = twoConnections({ stackB: { onCallbackError: (error) => errors.push(error) } })
    const got = [0, 0]
    servers.forEach((fd, i) =>
      b.watch(fd, (_fd, events) => {
        if (!(events & PollEvents.IN)) return
        while (b.readiness(fd) & PollEvents.IN) got[i] = got[i]! + b.read(fd, new Uint8Array(4096))
        if (i === 0) throw new Error('application bug')
      }),
    )
    for (let round = 0; round < 5; round++) for (const fd of clients) a.write(fd, new Uint8Array(1000).fill(round))
    runUntil(clock, () => got[0] === 5000 && got[1] === 5000)
    expect(errors.length).toBeGreaterThan(0)
    expect((errors[0] as Error).message).toBe('application bug')
    expect(b.stats.callbackErrors).toBe(errors.length)
    // The stack is whole: a connection still opens and carries data.
    a.write(clients[0]!, new Uint8Array(10))
    runUntil(clock, () => got[0] === 5010)
  })
})

describe('watching a socket that is already readable', () => {
  it('an accepted connection whose first data came with the handshake is reported readable to its new watcher', () => {
    const pair = stackPair({ impairments: { delay: 10 }, stack: { tcp: { noDelay: true } } })
    const { a, b, clock } = pair
    const listener = b.socket()
    b.bind(listener, '0.0.0.0', 6001)
    b.listen(listener)
    const client = a.socket()
    a.connect(client, '10.0.0.2', 6001)
    let received = 0
    b.watch(listener, () => {
      let server: number
      try {
        server = b.accept(listener)
      } catch {
        return
      }
      // Watched only now: the request below may already be in the connection.
      b.watch(server, (_fd, events) => {
        if (events & PollEvents.IN) while (b.readiness(server) & PollEvents.IN) received += b.read(server, new Uint8Array(4096))
      })
    })
    runUntil(clock, () => a.state(client) === 'ESTABLISHED')
    a.write(client, new Uint8Array(64).fill(1))
    runUntil(clock, () => received === 64)
    expect(received).toBe(64)
  })
})
