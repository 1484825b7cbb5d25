/**
 * Issue 16 part 1: a SYN flood does not lock legitimate clients out. SYN queue separate from the accept
 * queue and bounded, SYN cookies (RFC 4987 §3.6) when it is full; memory link and virtual clock.
 */
import { parseIpv4Address, TcpFlags } from '@mtcp/tcp-core'
import { describe, expect, it } from 'vitest'
import { StackError } from './errors.js'
import { PollEvents } from './socket-record.js'
import { Spoofer } from './test-support/spoofer.js'
import { runUntil, stackPair } from './testing.js'

/** xorshift32: the flood's sources, the same on every run. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x
  }
}

const SERVER = parseIpv4Address('10.0.0.2')
/** Spoofed sources come from 198.18.0.0/15 (RFC 2544's benchmarking range), off the link: b routes its answers to a, which drops them. */
const SPOOF_BASE = parseIpv4Address('198.18.0.0')

function acceptAll(stack: ReturnType<typeof stackPair>['b'], listener: number, into: number[]): void {
  for (;;) {
    try {
      into.push(stack.accept(listener))
    } catch (error) {
      if (error instanceof StackError && error.code === 'EAGAIN') return
      throw error
    }
  }
}

describe('SYN flood (issue 16)', () => {
  it('100k spoofed SYNs in 1 s against a listener of backlog 1: every legitimate connect (one per 50 ms) is accepted during the flood, the SYN queue stays at its bound, and the cookie counters say what happened', () => {
    const synBacklog = 256
    const pair = stackPair({ stackB: { gateway: '10.0.0.1', synBacklog } })
    const { clock, a, b, link } = pair
    const listener = b.socket()
    b.bind(listener, '0.0.0.0', 80)
    b.listen(listener, 1) // as `mtcp-perf wait`
    const spoofer = new Spoofer(link.a, SERVER)
    const random = prng(16)
    const clients: number[] = []
    const accepted: number[] = []
    let maxSynReceived = 0
    let maxSockets = 0
    // 1 ms steps: 100 spoofed SYNs each, a legitimate connect at 25 ms and every 50 ms after.
    for (let ms = 0; ms < 1000; ms++) {
      for (let i = 0; i < 100; i++) {
        const tsValue = random()
        spoofer.add({ srcIp: SPOOF_BASE + (random() & 0x1ffff), srcPort: 1024 + (random() % 64_000), dstPort: 80, seq: random(), flags: TcpFlags.SYN, synOptions: true, tsValue })
      }
      spoofer.flush()
      if (ms % 50 === 25) {
        const fd = a.socket()
        a.connect(fd, '10.0.0.2', 80)
        clients.push(fd)
      }
      clock.advanceTo((ms + 1) * 1000)
      acceptAll(b, listener, accepted)
      maxSynReceived = Math.max(maxSynReceived, b.connectionsByState()['SYN-RECEIVED'] ?? 0)
      maxSockets = Math.max(maxSockets, b.socketCount)
    }
    expect(spoofer.sent).toBe(100_000)
    expect(clients).toHaveLength(20)
    // Every legitimate client is through the handshake, and accepted, before the flood is over.
    for (const fd of clients) expect(a.state(fd)).toBe('ESTABLISHED')
    expect(accepted).toHaveLength(20)
    // Bounded: the SYN queue never held more than its bound; the sockets are the listener, the SYN queue and the accepted.
    expect(maxSynReceived).toBe(synBacklog)
    expect(maxSockets).toBeLessThanOrEqual(1 + synBacklog + accepted.length)
    // The first 256 spoofed SYNs filled the queue; every other SYN (the clients' too: the queue was full
    // from the 3rd ms) got a cookie. Every client came back with a valid one.
    expect(b.stats.synCookies.sent).toBe(100_000 + 20 - synBacklog)
    expect(b.stats.synCookies.validated).toBe(20)
    expect(b.stats.synCookies.failed).toBe(0)
    expect(b.stats.rx.drops.synQueueOverflow).toBe(0)
    // Forged ACKs for the listener (guessing at cookies) fail, are counted, and make no connection.
    for (let i = 0; i < 1000; i++) spoofer.add({ srcIp: SPOOF_BASE + (random() & 0x1ffff), srcPort: 1024 + (random() % 64_000), dstPort: 80, seq: random(), ack: random(), flags: TcpFlags.ACK, tsValue: random(), tsEcho: random() })
    spoofer.flush()
    clock.advanceBy(1000)
    expect(b.stats.synCookies.failed).toBe(1000)
    expect(b.stats.synCookies.validated).toBe(20)
    // Each accepted connection carries data both ways.
    const message = new TextEncoder().encode('through the flood')
    for (let i = 0; i < clients.length; i++) {
      a.write(clients[i]!, message)
      b.write(accepted[i]!, message)
    }
    const buffer = new Uint8Array(64)
    runUntil(clock, () => accepted.every((fd) => (b.readiness(fd) & PollEvents.IN) !== 0) && clients.every((fd) => (a.readiness(fd) & PollEvents.IN) !== 0))
    for (let i = 0; i < clients.length; i++) {
      expect(b.read(accepted[i]!, buffer)).toBe(message.length)
      expect(a.read(clients[i]!, buffer)).toBe(message.length)
    }
    // The half-open entries time out (SYN-ACK retransmissions, RFC 6298) and the queue empties.
    runUntil(clock, () => (b.connectionsByState()['SYN-RECEIVED'] ?? 0) === 0, 600_000_000)
    expect(b.socketCount).toBe(1 + accepted.length)
  })
  it('a listener of backlog 1, as `mtcp-perf wait` has: one spoofed SYN sits in the SYN queue and does not block the legitimate connect', () => {
    const pair = stackPair({ stackB: { gateway: '10.0.0.1' } })
    const { clock, a, b, link } = pair
    const listener = b.socket()
    b.bind(listener, '0.0.0.0', 6001)
    b.listen(listener, 1)
    const spoofer = new Spoofer(link.a, SERVER)
    spoofer.add({ srcIp: SPOOF_BASE + 1, srcPort: 4242, dstPort: 6001, seq: 1, flags: TcpFlags.SYN, synOptions: true, tsValue: 1 })
    spoofer.flush()
    clock.advanceBy(1000)
    expect(b.connectionsByState()['SYN-RECEIVED']).toBe(1)
    const fd = a.socket()
    a.connect(fd, '10.0.0.2', 6001)
    const accepted: number[] = []
    runUntil(clock, () => {
      acceptAll(b, listener, accepted)
      return accepted.length === 1
    })
    // At the first try: no SYN dropped, none sent again.
    expect(b.stats.rx.drops.listenOverflow).toBe(0)
    expect(a.connectionOf(fd)!.stats.retransmittedSegments).toBe(0)
    expect(b.getpeername(accepted[0]!).port).toBe(a.getsockname(fd).port)
  })
})
