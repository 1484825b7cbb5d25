// Close and reset paths, API misuse, and malformed input.
import fc from 'fast-check'
import { BufferPool, createMemoryLink, VirtualClock } from '@mtcp/dpdk-io'
import { internetChecksum } from '@mtcp/tcp-core'
import { describe, expect, it } from 'vitest'
import { StackError } from './errors.js'
import { PollEvents } from './socket-record.js'
import { createStack } from './stack.js'
import { rxFramesAccounted } from './stats.js'
import { acceptWhenReady, runUntil, stackPair } from './testing.js'

function listening(port = 80, backlog = 16) {
  const pair = stackPair({ impairments: { rate: 1e9, delay: 500 } })
  const listener = pair.b.socket()
  pair.b.bind(listener, '0.0.0.0', port)
  pair.b.listen(listener, backlog)
  return { ...pair, listener }
}

function errorOf(f: () => unknown): StackError {
  try {
    f()
  } catch (error) {
    if (error instanceof StackError) return error
    throw error
  }
  throw new Error('did not throw')
}

describe('connection failures', () => {
  it('refuses a connection to a port nobody listens on (RST → ECONNREFUSED)', () => {
    const { clock, a, b } = stackPair()
    const fd = a.socket()
    a.connect(fd, '10.0.0.2', 9999)
    runUntil(clock, () => (a.readiness(fd) & PollEvents.ERR) !== 0)
    expect(a.connectionOf(fd)?.error).toBe('ECONNREFUSED')
    expect(b.stats.rx.drops.noSocket).toBe(1)
    expect(b.stats.tx.resets).toBe(1)
    expect(errorOf(() => a.read(fd, new Uint8Array(1))).code).toBe('ECONNREFUSED')
  })

  it('times out when the peer never answers (SYN retries → ETIMEDOUT)', () => {
    const { clock, a, link } = stackPair({ stack: { tcp: { synRetries: 2 } } })
    link.up = false
    const fd = a.socket()
    a.connect(fd, '10.0.0.2', 80)
    runUntil(clock, () => (a.readiness(fd) & PollEvents.ERR) !== 0)
    expect(a.connectionOf(fd)?.error).toBe('ETIMEDOUT')
  })

  it('aborts with RST: the peer sees ECONNRESET', () => {
    const { clock, a, b, listener } = listening()
    const client = a.socket()
    a.connect(client, '10.0.0.2', 80)
    const server = acceptWhenReady(clock, b, listener)
    a.abort(client)
    runUntil(clock, () => (b.readiness(server) & PollEvents.ERR) !== 0)
    expect(b.connectionOf(server)?.error).toBe('ECONNRESET')
    expect(errorOf(() => b.write(server, new Uint8Array(1))).code).toBe('ECONNRESET')
    expect(errorOf(() => a.read(client, new Uint8Array(1))).code).toBe('EBADF')
  })

  it('resets instead of closing when unread data is left (RFC 2525 §2.17)', () => {
    const { clock, a, b, listener } = listening()
    const client = a.socket()
    a.connect(client, '10.0.0.2', 80)
    const server = acceptWhenReady(clock, b, listener)
    a.write(client, new Uint8Array(100))
    runUntil(clock, () => b.connectionOf(server)!.readableBytes === 100)
    b.close(server)
    runUntil(clock, () => (a.readiness(client) & PollEvents.ERR) !== 0)
    expect(a.connectionOf(client)?.error).toBe('ECONNRESET')
  })

  it('holds no more established connections than the backlog: the handshakes beyond it wait in the SYN queue, their ACKs dropped and counted, and complete once accept makes room', () => {
    const { clock, a, b, listener } = listening(80, 2)
    const fds = Array.from({ length: 5 }, () => a.socket())
    for (const fd of fds) a.connect(fd, '10.0.0.2', 80)
    runUntil(clock, () => b.stats.rx.drops.listenOverflow >= 3 && b.connectionsByState()['ESTABLISHED'] === 2, 500_000)
    // Half-open connections are the SYN queue's, not the accept backlog's (issue 16).
    expect(b.connectionsByState()['SYN-RECEIVED']).toBe(3)
    const accepted = [b.accept(listener), b.accept(listener)]
    // The SYN-ACKs are sent again (RFC 6298), the clients' ACKs answer them, and the handshakes complete.
    for (let i = 0; i < 3; i++) accepted.push(acceptWhenReady(clock, b, listener))
    expect(new Set(accepted).size).toBe(5)
    expect(b.connectionsByState()['SYN-RECEIVED']).toBeUndefined()
  })

  it('a half-closed connection still carries data the other way', () => {
    const { clock, a, b, listener } = listening()
    const client = a.socket()
    a.connect(client, '10.0.0.2', 80)
    const server = acceptWhenReady(clock, b, listener)
    a.shutdown(client)
    runUntil(clock, () => b.state(server) === 'CLOSE-WAIT')
    expect(errorOf(() => a.write(client, new Uint8Array(1))).code).toBe('EPIPE')
    b.write(server, new Uint8Array(1000).fill(7))
    const got = new Uint8Array(2000)
    runUntil(clock, () => a.connectionOf(client)!.readableBytes === 1000)
    expect(a.read(client, got)).toBe(1000)
    b.close(server)
    runUntil(clock, () => a.connectionOf(client)!.readEnded)
    expect(a.read(client, got)).toBe(0)
  })
})

describe('scatter and gather', () => {
  it('writev sends buffers in order and readv fills buffers in order', () => {
    const { clock, a, b, listener } = listening()
    const client = a.socket()
    a.connect(client, '10.0.0.2', 80)
    const server = acceptWhenReady(clock, b, listener)
    expect(a.writev(client, [Uint8Array.of(1, 2), Uint8Array.of(3), Uint8Array.of(4, 5, 6)])).toBe(6)
    runUntil(clock, () => b.connectionOf(server)!.readableBytes === 6)
    const first = new Uint8Array(4)
    const second = new Uint8Array(4)
    expect(b.readv(server, [first, second])).toBe(6)
    expect([...first]).toEqual([1, 2, 3, 4])
    expect([...second.subarray(0, 2)]).toEqual([5, 6])
    expect(() => b.readv(server, [first])).toThrowError(expect.objectContaining({ code: 'EAGAIN' }))
  })
})

describe('API misuse gets typed errors', () => {
  it('names EADDRINUSE, EBADF, EINVAL, ENOTCONN, EISCONN, EMFILE and ENOPROTOOPT', () => {
    const clock = new VirtualClock()
    const link = createMemoryLink({ clock })
    const stack = createStack({ port: link.a, address: '10.0.0.1/24', maxConnections: 3 })
    const one = stack.socket()
    stack.bind(one, '0.0.0.0', 80)
    stack.listen(one)
    const two = stack.socket()
    expect(errorOf(() => stack.bind(two, '0.0.0.0', 80)).code).toBe('EADDRINUSE')
    expect(errorOf(() => stack.bind(two, '10.9.9.9', 81)).code).toBe('EADDRNOTAVAIL')
    expect(errorOf(() => stack.bind(two, '0.0.0.0', 70000)).message).toMatch(/port must be an integer in \[0, 65535\]/)
    expect(errorOf(() => stack.listen(two)).code).toBe('EINVAL')
    expect(errorOf(() => stack.accept(two)).code).toBe('EINVAL')
    expect(errorOf(() => stack.accept(one)).code).toBe('EAGAIN')
    expect(errorOf(() => stack.read(two, new Uint8Array(1))).code).toBe('ENOTCONN')
    expect(errorOf(() => stack.getpeername(two)).code).toBe('ENOTCONN')
    expect(errorOf(() => stack.connect(two, '192.168.1.1', 80)).code).toBe('EHOSTUNREACH')
    expect(errorOf(() => stack.setsockopt(two, 'bogus' as never, 1)).code).toBe('ENOPROTOOPT')
    stack.socket()
    expect(errorOf(() => stack.socket()).code).toBe('EMFILE')
    stack.close(two)
    expect(errorOf(() => stack.read(two, new Uint8Array(1))).code).toBe('EBADF')
    expect(() => createStack({ port: link.b, address: '10.0.0.300' })).toThrowError(/address must be an IPv4 address/)
    expect(() => createStack({ port: link.b, address: '10.0.0.2', burstSize: 0 })).toThrowError(/burstSize must be an integer in \[1, 512\], got 0/)
    expect(() => createStack({ port: link.b, address: '10.0.0.2', mtu: 9000 })).toThrowError(/mtu must be an integer in \[576, 1500\], got 9000/)
    expect(() => createStack({ port: link.b, address: '10.0.0.2', congestionControl: 'bbr' as never })).toThrowError(/congestionControl must be one of 'reno', 'cubic'/)
  })

  it('setsockopt really sets things, and getsockopt reads them back', () => {
    const { a } = stackPair()
    const fd = a.socket()
    a.setsockopt(fd, 'noDelay', true)
    a.setsockopt(fd, 'receiveBufferSize', 4096)
    a.connect(fd, '10.0.0.2', 80)
    expect(a.getsockopt(fd, 'noDelay')).toBe(true)
    expect(a.connectionOf(fd)!.config.receiveBufferSize).toBe(4096)
    expect(a.connectionOf(fd)!.config.noDelay).toBe(true)
    a.setsockopt(fd, 'keepAlive', true)
    expect(a.connectionOf(fd)!.config.keepAlive).toBe(true)
    expect(errorOf(() => a.setsockopt(fd, 'sendBufferSize', 100)).code).toBe('EISCONN')
    const renoFd = a.socket()
    expect(errorOf(() => a.setsockopt(renoFd, 'congestionControl', 'vegas')).message).toMatch(/one of 'reno', 'cubic'/)
    a.setsockopt(renoFd, 'congestionControl', 'reno')
    a.connect(renoFd, '10.0.0.2', 81)
    expect(a.connectionOf(renoFd)!.congestion.name).toBe('reno')
    expect(a.connectionOf(fd)!.congestion.name).toBe('cubic')
    expect(a.getsockopt(renoFd, 'congestionControl')).toBe('reno')
  })
})

describe('malformed frames', () => {
  function frame(bytes: number[]): Uint8Array {
    const out = new Uint8Array(Math.max(bytes.length, 14))
    out.set(bytes)
    return out
  }

  it('are counted by reason and dropped, never thrown', () => {
    const clock = new VirtualClock()
    const link = createMemoryLink({ clock })
    const stack = createStack({ port: link.b, address: '10.0.0.2/24' })
    const pool = new BufferPool({ count: 64 })
    const us = [...link.b.link.mac]
    const them = [2, 0, 0, 0, 0, 9]
    const ipv4 = (header: number[]) => frame([...us, ...them, 0x08, 0x00, ...header])
    const send = (bytes: Uint8Array) => link.a.txBurst([pool.alloc()!.setFrame(bytes)], 1)
    send(frame([9, 9, 9, 9, 9, 9, ...them, 0x08, 0x00])) // not for us
    send(frame([...us, ...them, 0x86, 0xdd, 0x60])) // IPv6
    send(ipv4([0x45, 0, 0, 20])) // truncated header
    send(ipv4([0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0x12, 0x34, 10, 0, 0, 1, 10, 0, 0, 2])) // bad checksum
    const fragment = [0x45, 0, 0, 20, 0, 0, 0x20, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2] // More Fragments set
    const checksum = internetChecksum(Uint8Array.from(fragment))
    fragment[10] = checksum >> 8
    fragment[11] = checksum & 0xff
    send(ipv4(fragment))
    send(frame([...us, ...them, 0x08, 0x06, 0, 1])) // short ARP
    clock.runUntilIdle()
    const drops = stack.stats.rx.drops
    expect(drops.notForUs).toBe(1)
    expect(drops.unsupportedEtherType).toBe(1)
    expect(drops.malformedIpv4).toBe(1)
    expect(drops.badIpv4Checksum).toBe(1)
    expect(drops.fragmentMalformed).toBe(1) // More Fragments with no payload (RFC 791 §3.1)
    expect(drops.malformedArp).toBe(1)
    expect(pool.inUse).toBe(0)
  })

  it('arbitrary frames never throw out of the stack (property)', () => {
    const clock = new VirtualClock()
    const link = createMemoryLink({ clock })
    const stack = createStack({ port: link.b, address: '10.0.0.2/24' })
    const listener = stack.socket()
    stack.bind(listener, '0.0.0.0', 80)
    stack.listen(listener)
    const pool = new BufferPool({ count: 64 })
    const prefix = [...link.b.link.mac, 2, 0, 0, 0, 0, 9]
    fc.assert(
      fc.property(fc.constantFrom(0x0800, 0x0806, 0x86dd), fc.uint8Array({ maxLength: 200 }), (etherType, rest) => {
        const bytes = Uint8Array.from([...prefix, etherType >> 8, etherType & 0xff, ...rest])
        link.a.txBurst([pool.alloc()!.setFrame(bytes)], 1)
        clock.runUntilIdle()
        for (;;) {
          const got: never[] = []
          const n = link.a.rxBurst(got, 32)
          pool.freeBulk(got, n)
          if (n === 0) break
        }
      }),
      { numRuns: 2000 },
    )
    expect(stack.stats.rx.frames).toBe(2000)
    expect(rxFramesAccounted(stack.stats)).toBe(2000) // each counted once, by its fate (stats.ts)
  })
})
