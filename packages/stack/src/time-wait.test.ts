/**
 * Issue 16 part 2: TIME-WAIT as compact entries outside the socket table (time-wait-table.ts), answering
 * as RFC 9293 §3.10.7.4, RFC 1337 and RFC 6191 say; memory link and virtual clock.
 */
import { parseIpv4Address, TcpFlags } from '@mtcp/tcp-core'
import { describe, expect, it } from 'vitest'
import { StackError } from './errors.js'
import type { Stack } from './stack.js'
import { Spoofer } from './test-support/spoofer.js'
import { acceptWhenReady, runUntil, type StackPair, stackPair } from './testing.js'

const CLIENT = parseIpv4Address('10.0.0.1')
const SERVER = parseIpv4Address('10.0.0.2')

function drainAccept(stack: Stack, listener: number, into: number[]): void {
  for (;;) {
    try {
      into.push(stack.accept(listener))
    } catch (error) {
      if (error instanceof StackError && error.code === 'EAGAIN') return
      throw error
    }
  }
}

/** `count` connections from a to b, in batches; `closer` closes first (the other closes on end of stream). */
function cycles(pair: StackPair, listener: number, count: number, batch: number, closer: 'a' | 'b', onBatch?: () => void): void {
  const { a, b, clock } = pair
  const buffer = new Uint8Array(16)
  for (let done = 0; done < count; done += batch) {
    const n = Math.min(batch, count - done)
    const clients: number[] = []
    for (let i = 0; i < n; i++) {
      const fd = a.socket() // EMFILE here is what issue 16 was about
      a.connect(fd, '10.0.0.2', 80)
      clients.push(fd)
    }
    const servers: number[] = []
    runUntil(clock, () => {
      drainAccept(b, listener, servers)
      return servers.length === n && clients.every((fd) => a.state(fd) === 'ESTABLISHED')
    })
    const [first, firstFds, second, secondFds] = closer === 'b' ? [b, servers, a, clients] : [a, clients, b, servers]
    for (const fd of firstFds) first.close(fd)
    // The other side reads the end of the stream, then closes.
    runUntil(clock, () => secondFds.every((fd) => second.connectionOf(fd)!.readEnded))
    for (const fd of secondFds) {
      expect(second.read(fd, buffer)).toBe(0)
      second.close(fd)
    }
    runUntil(clock, () => a.socketCount === 0 && b.socketCount === 1)
    onBatch?.()
  }
}

function listen(pair: StackPair): number {
  const listener = pair.b.socket()
  pair.b.bind(listener, '0.0.0.0', 80)
  pair.b.listen(listener)
  return listener
}

describe('TIME-WAIT without sockets (issue 16)', () => {
  it('200k connect/close cycles at default settings, the server closing first: no EMFILE, TIME-WAIT entries instead of sockets, and the client ports reused through RFC 6191', () => {
    const pair = stackPair({ impairments: { delay: 50 } })
    const listener = listen(pair)
    let maxSockets = 0
    cycles(pair, listener, 200_000, 500, 'b', () => {
      maxSockets = Math.max(maxSockets, pair.b.socketCount)
    })
    const { b } = pair
    // All within one 2·MSL: every closed connection is still in TIME-WAIT, as an entry, not a socket.
    expect(pair.clock.now()).toBeLessThan(60_000_000)
    expect(b.stats.timeWait.added).toBe(200_000)
    expect(b.stats.timeWait.dropped).toBe(0)
    expect(b.socketCount).toBe(1)
    expect(maxSockets).toBe(1)
    // 28,232 ephemeral ports: the client came back to 4-tuples in TIME-WAIT, and RFC 6191 (a higher TSval) let it in.
    expect(b.stats.timeWait.reused).toBe(200_000 - 28_232)
    expect(b.timeWaitCount).toBe(28_232)
    expect(b.connectionsByState()['TIME-WAIT']).toBe(28_232)
    expect(b.stats.tcp.closedConnections).toBe(200_000)
    // After 2·MSL the table is empty.
    runUntil(pair.clock, () => b.timeWaitCount === 0, pair.clock.now() + 61_000_000)
    expect(b.stats.timeWait.expired).toBe(28_232)
  }, 300_000)

  it('the client closing first: its own TIME-WAIT entries, and connect reuses a 4-tuple in TIME-WAIT with timestamps after 1 s (no EADDRINUSE)', () => {
    const pair = stackPair({ impairments: { delay: 50 } })
    const listener = listen(pair)
    // 100 ms between batches of 500: a port comes back 57 batches (over 5 s) later.
    cycles(pair, listener, 40_000, 500, 'a', () => pair.clock.advanceBy(100_000))
    expect(pair.a.stats.timeWait.added).toBe(40_000)
    expect(pair.a.stats.timeWait.reused).toBe(40_000 - 28_232)
    expect(pair.a.socketCount).toBe(0)
    expect(pair.b.stats.timeWait.added).toBe(0)
  }, 300_000)

  it('a full table drops the newest entries and counts them', () => {
    const pair = stackPair({ stackB: { timeWaitLimit: 10 } })
    const listener = listen(pair)
    cycles(pair, listener, 25, 25, 'b')
    expect(pair.b.timeWaitCount).toBe(10)
    expect(pair.b.stats.timeWait.dropped).toBe(15)
    expect(pair.b.socketCount).toBe(1)
  })

  describe('answers from an entry', () => {
    /** One connection closed by b first and let go by both: b holds the TIME-WAIT entry. */
    function closedOnce(options: Parameters<typeof stackPair>[0] = {}) {
      const pair = stackPair(options)
      const { a, b, clock } = pair
      const listener = listen(pair)
      const client = a.socket()
      a.connect(client, '10.0.0.2', 80)
      const server = acceptWhenReady(clock, b, listener)
      runUntil(clock, () => a.state(client) === 'ESTABLISHED')
      a.write(client, new Uint8Array(5))
      runUntil(clock, () => b.connectionOf(server)!.readableBytes === 5)
      b.read(server, new Uint8Array(5))
      const clientPort = a.getsockname(client).port
      const connection = b.connectionOf(server)!
      b.close(server)
      runUntil(clock, () => a.connectionOf(client)!.readEnded)
      // What the peer's segments carry, read before a lets go: its FIN's sequence number and its TSval clock.
      const peer = a.connectionOf(client)!
      a.close(client)
      runUntil(clock, () => b.timeWaitCount === 1 && a.socketCount === 0)
      expect(connection.state).toBe('TIME-WAIT')
      const finSeq = (connection.sequence.rcvNxt - 1) >>> 0
      return { pair, listener, clientPort, finSeq, peerNextSeq: peer.sequence.sndNxt, rcvNxt: connection.sequence.rcvNxt }
    }

    it('a retransmitted FIN is acknowledged again and restarts 2·MSL; an old duplicate gets an ACK, rate-limited; a RST is ignored (RFC 1337)', () => {
      const { pair, clientPort, finSeq } = closedOnce({ stack: { tcp: { timestamps: false } } })
      const { b, clock, link } = pair
      const spoofer = new Spoofer(link.a, SERVER)
      const startedAt = clock.now()
      clock.advanceBy(30_000_000)
      spoofer.add({ srcIp: CLIENT, srcPort: clientPort, dstPort: 80, seq: finSeq, ack: 0, flags: TcpFlags.FIN | TcpFlags.ACK })
      spoofer.flush()
      clock.advanceBy(1000)
      expect(b.stats.timeWait.acks).toBe(1)
      // A RST does not end TIME-WAIT. (a, whose socket is gone, answered that ACK with a RST already: also ignored.)
      const ignoredBefore = b.stats.timeWait.resetsIgnored
      spoofer.add({ srcIp: CLIENT, srcPort: clientPort, dstPort: 80, seq: finSeq + 1, flags: TcpFlags.RST })
      spoofer.flush()
      clock.advanceBy(1000)
      expect(b.stats.timeWait.resetsIgnored).toBe(ignoredBefore + 1)
      expect(b.timeWaitCount).toBe(1)
      // Old data: one ACK, then the rate limit.
      for (let i = 0; i < 3; i++) spoofer.add({ srcIp: CLIENT, srcPort: clientPort, dstPort: 80, seq: finSeq - 1000, ack: 0, flags: TcpFlags.ACK | TcpFlags.PSH })
      spoofer.flush()
      clock.advanceBy(1000)
      expect(b.stats.timeWait.acks).toBe(1 + 0) // the FIN's ACK was under 500 ms ago: these are limited
      expect(b.stats.timeWait.acksRateLimited).toBe(3)
      // The FIN restarted 2·MSL: the entry outlives the first 60 s.
      clock.advanceTo(startedAt + 61_000_000)
      expect(b.timeWaitCount).toBe(1)
      expect(b.stats.timeWait.expired).toBe(0)
      runUntil(clock, () => b.timeWaitCount === 0)
      expect(clock.now()).toBeGreaterThanOrEqual(startedAt + 30_000_000 + 60_000_000)
    })

    it('RFC 6191: a SYN with a lower TSval, or an equal one and no higher sequence number, is dropped; one with a higher TSval opens a new connection', () => {
      // The client's TSval clock is known: ms + 1,000,000 (a fixed offset).
      const { pair, clientPort, rcvNxt } = closedOnce({ stackA: { tcp: { timestampOffset: 1_000_000 } } })
      const { b, clock, link } = pair
      const spoofer = new Spoofer(link.a, SERVER)
      const lastTsVal = 1_000_000 + Math.floor(clock.now() / 1000) // at least TS.Recent
      const syn = (seq: number, tsValue: number): void => {
        spoofer.add({ srcIp: CLIENT, srcPort: clientPort, dstPort: 80, seq, flags: TcpFlags.SYN, synOptions: true, tsValue })
        spoofer.flush()
        clock.advanceBy(1000)
      }
      syn(rcvNxt + 1000, 999_000) // an older TSval, whatever the sequence number
      expect(b.timeWaitCount).toBe(1)
      expect(b.stats.tcp.passiveOpens).toBe(1)
      syn(rcvNxt + 1000, lastTsVal + 10)
      expect(b.timeWaitCount).toBe(0)
      expect(b.stats.timeWait.reused).toBe(1)
      expect(b.stats.tcp.passiveOpens).toBe(2) // a new connection (a, with no socket for it, then resets it)
    })

    it('across the sequence-number wrap: the FIN of a peer whose ISN is just below 2^32 is recognised', () => {
      const { pair, clientPort, finSeq, rcvNxt } = closedOnce({ stack: { tcp: { timestamps: false } }, stackA: { initialSequenceNumber: () => 0xfffffffd } })
      expect(rcvNxt).toBeLessThan(16) // 2^32 − 3 + SYN + 5 bytes + FIN wrapped
      const { b, clock, link } = pair
      const spoofer = new Spoofer(link.a, SERVER)
      spoofer.add({ srcIp: CLIENT, srcPort: clientPort, dstPort: 80, seq: finSeq, flags: TcpFlags.FIN | TcpFlags.ACK })
      spoofer.flush()
      clock.advanceBy(1000)
      expect(b.stats.timeWait.acks).toBe(1)
      // Without timestamps, a SYN reopens only with a sequence number above the old one: across the wrap too.
      spoofer.add({ srcIp: CLIENT, srcPort: clientPort, dstPort: 80, seq: 0xfffffff0, flags: TcpFlags.SYN })
      spoofer.flush()
      clock.advanceBy(1000)
      expect(b.timeWaitCount).toBe(1)
      spoofer.add({ srcIp: CLIENT, srcPort: clientPort, dstPort: 80, seq: rcvNxt + 10, flags: TcpFlags.SYN })
      spoofer.flush()
      clock.advanceBy(1000)
      expect(b.timeWaitCount).toBe(0)
      expect(b.stats.timeWait.reused).toBe(1)
    })
  })
})
