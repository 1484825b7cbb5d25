/**
 * Issue 20: SYN cookies over IPv6 (RFC 4987 §3.6), at parity with IPv4 (syn-flood.test.ts): the same SYN
 * queue, cookie encoding and `synCookies` option, the cookie keyed over the IPv6 4-tuple. Memory link and
 * virtual clock; the spoofed sources are off-link (2001:db8::/32, RFC 3849), so b's answers go to its
 * gateway a, which drops them.
 */
import type { PacketBuffer } from '@mtcp/dpdk-io'
import { parseIpv6Address, TcpFlags } from '@mtcp/tcp-core'
import { describe, expect, it } from 'vitest'
import { StackError } from './errors.js'
import { PollEvents } from './socket-record.js'
import type { Stack } from './stack.js'
import { Spoofer6 } from './test-support/spoofer6.js'
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

const SERVER = parseIpv6Address('fd00::2')!

/** A source in 2001:db8::/32 with random bits in all of the other 96. */
function spoofedSource(random: () => number): Uint8Array {
  const src = new Uint8Array(16)
  src.set([0x20, 0x01, 0x0d, 0xb8])
  for (let i = 4; i < 16; i += 4) new DataView(src.buffer).setUint32(i, random())
  return src
}

function acceptAll(stack: Stack, listener: number, into: number[]): void {
  for (;;) {
    try {
      into.push(stack.accept(listener))
    } catch (error) {
      if (error instanceof StackError && error.code === 'EAGAIN') return
      throw error
    }
  }
}

describe('SYN cookies over IPv6 (issue 20)', () => {
  it('20k spoofed IPv6 SYNs in 1 s against a listener of backlog 1: every legitimate IPv6 connect (one per 50 ms) is accepted during the flood, the SYN queue stays at its bound, and the cookie counters say what happened', () => {
    const synBacklog = 256
    const pair = stackPair({ family: 6, stackB: { ipv6Gateway: 'fd00::1', synBacklog } })
    const { clock, a, b, link } = pair
    const listener = b.socket()
    b.bind(listener, '::', 80)
    b.listen(listener, 1)
    const spoofer = new Spoofer6(link.a, SERVER)
    const random = prng(20)
    const clients: number[] = []
    const accepted: number[] = []
    let maxSynReceived = 0
    let maxSockets = 0
    // 1 ms steps: 20 spoofed SYNs each, a legitimate connect at 25 ms and every 50 ms after.
    for (let ms = 0; ms < 1000; ms++) {
      for (let i = 0; i < 20; i++) {
        const tsValue = random()
        spoofer.add({ src: spoofedSource(random), srcPort: 1024 + (random() % 64_000), dstPort: 80, seq: random(), flags: TcpFlags.SYN, synOptions: true, tsValue })
      }
      spoofer.flush()
      if (ms % 50 === 25) {
        const fd = a.socket()
        a.connect(fd, 'fd00::2', 80)
        clients.push(fd)
      }
      clock.advanceTo((ms + 1) * 1000)
      acceptAll(b, listener, accepted)
      maxSynReceived = Math.max(maxSynReceived, b.connectionsByState()['SYN-RECEIVED'] ?? 0)
      maxSockets = Math.max(maxSockets, b.socketCount)
    }
    expect(spoofer.sent).toBe(20_000)
    expect(clients).toHaveLength(20)
    for (const fd of clients) expect(a.state(fd)).toBe('ESTABLISHED')
    expect(accepted).toHaveLength(20)
    for (const fd of accepted) expect(b.getpeername(fd).family).toBe('IPv6')
    expect(maxSynReceived).toBe(synBacklog)
    expect(maxSockets).toBeLessThanOrEqual(1 + synBacklog + accepted.length)
    // The first 256 spoofed SYNs filled the queue (by the 13th ms); every other SYN, the clients' too, got a cookie.
    expect(b.stats.synCookies.sent).toBe(20_000 + 20 - synBacklog)
    expect(b.stats.synCookies.validated).toBe(20)
    expect(b.stats.synCookies.failed).toBe(0)
    expect(b.stats.rx.drops.synQueueOverflow).toBe(0)
    // Forged ACKs guessing at cookies fail, are counted, and make no connection.
    for (let i = 0; i < 1000; i++) spoofer.add({ src: spoofedSource(random), srcPort: 1024 + (random() % 64_000), dstPort: 80, seq: random(), ack: random(), flags: TcpFlags.ACK, tsValue: random(), tsEcho: random() })
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
    runUntil(clock, () => (b.connectionsByState()['SYN-RECEIVED'] ?? 0) === 0, 600_000_000)
    expect(b.socketCount).toBe(1 + accepted.length)
  }, 120_000)

  it('the cookie covers the whole 128-bit source address: echoed from an address that differs in one bit of the high 64 (or the low 64) it fails; from the SYN\'s own address it makes the connection', () => {
    const pair = stackPair({ family: 6, stackB: { ipv6Gateway: 'fd00::1', synCookies: 'always' } })
    const { clock, b, link } = pair
    const listener = b.socket()
    b.bind(listener, '::', 443)
    b.listen(listener)
    // b's cookie SYN-ACKs, read off the wire: destination port → sequence number (the cookie).
    const cookies = new Map<number, number>()
    const tap = link.b
    const txBurst = tap.txBurst.bind(tap)
    tap.txBurst = (bufs: PacketBuffer[], count: number) => {
      for (let i = 0; i < count; i++) {
        const { data, offset } = bufs[i]!
        if (data[offset + 12] !== 0x86 || data[offset + 13] !== 0xdd || data[offset + 20] !== 6) continue
        const tcp = offset + 54
        if ((data[tcp + 13]! & (TcpFlags.SYN | TcpFlags.ACK)) !== (TcpFlags.SYN | TcpFlags.ACK)) continue
        cookies.set((data[tcp + 2]! << 8) | data[tcp + 3]!, new DataView(data.buffer, data.byteOffset + tcp + 4, 4).getUint32(0))
      }
      return txBurst(bufs, count)
    }
    const spoofer = new Spoofer6(link.a, SERVER)
    const src = parseIpv6Address('2001:db8:1:2:3:4:5:6')!
    // No timestamps: the cookie carries the MSS alone (syn-queue.ts), and the ACK needs no echoed TSval.
    spoofer.add({ src, srcPort: 40_000, dstPort: 443, seq: 1000, flags: TcpFlags.SYN, synOptions: true })
    spoofer.flush()
    clock.advanceBy(1000)
    expect(b.stats.synCookies.sent).toBe(1)
    const cookie = cookies.get(40_000)!
    expect(cookie).toBeDefined()
    expect(b.socketCount).toBe(1) // no state for the SYN
    const ackFrom = (from: Uint8Array): void => {
      spoofer.add({ src: from, srcPort: 40_000, dstPort: 443, seq: 1001, ack: (cookie + 1) >>> 0, flags: TcpFlags.ACK })
      spoofer.flush()
      clock.advanceBy(1000)
    }
    const highBit = src.slice()
    highBit[5]! ^= 0x01 // the network half
    const lowBit = src.slice()
    lowBit[15]! ^= 0x80 // the interface identifier
    ackFrom(highBit)
    ackFrom(lowBit)
    expect(b.stats.synCookies.failed).toBe(2)
    expect(b.stats.synCookies.validated).toBe(0)
    ackFrom(src)
    expect(b.stats.synCookies.validated).toBe(1)
    const accepted: number[] = []
    acceptAll(b, listener, accepted)
    expect(accepted).toHaveLength(1)
    expect(b.state(accepted[0]!)).toBe('ESTABLISHED')
    expect(b.getpeername(accepted[0]!)).toEqual({ address: '2001:db8:1:2:3:4:5:6', port: 40_000, family: 'IPv6' })
    // The SYN's MSS (1440) came back from the cookie's table (no timestamps: nothing deducted).
    expect(b.connectionOf(accepted[0]!)!.negotiated.mss).toBe(1440)
  })

  it('synCookies "always" between two stacks over IPv6: the handshake completes from the cookie with window scaling, SACK and timestamps kept', () => {
    const pair = stackPair({ family: 6, stackB: { synCookies: 'always' } })
    const { clock, a, b } = pair
    const listener = b.socket()
    b.bind(listener, '::', 7)
    b.listen(listener)
    const client = a.socket()
    a.connect(client, 'fd00::2', 7)
    const accepted: number[] = []
    runUntil(clock, () => {
      acceptAll(b, listener, accepted)
      return accepted.length === 1 && a.state(client) === 'ESTABLISHED'
    })
    expect(b.stats.synCookies.sent).toBe(1)
    expect(b.stats.synCookies.validated).toBe(1)
    expect(b.stats.tcp.passiveOpens).toBe(1)
    const server = b.connectionOf(accepted[0]!)!.negotiated
    const peer = a.connectionOf(client)!.negotiated
    expect(server.timestamps).toBe(true)
    expect(server.sack).toBe(true)
    expect(server.sendShift).toBe(peer.receiveShift)
    expect(server.sendShift).toBeGreaterThan(0)
    // RFC 8200 §8.3: a's MSS over IPv6 (1440) is in the cookie's table; less the timestamps option.
    expect(server.mss).toBe(1440 - 12)
  })
})
