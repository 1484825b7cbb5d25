/**
 * Issue 20: TIME-WAIT over IPv6 as compact entries outside the socket table (time-wait-table.ts), at parity
 * with IPv4 (time-wait.test.ts): the same cap and counters, RFC 9293 §3.10.7.4 answers, RFC 6191 reuse.
 * Memory link and virtual clock.
 */
import type { PacketBuffer } from '@mtcp/dpdk-io'
import { parseIpv6Address, TcpFlags } from '@mtcp/tcp-core'
import { describe, expect, it } from 'vitest'
import { StackError } from './errors.js'
import type { Stack } from './stack.js'
import { Spoofer6 } from './test-support/spoofer6.js'
import { acceptWhenReady, runUntil, type StackPair, stackPair } from './testing.js'

const CLIENT = parseIpv6Address('fd00::1')!
const SERVER = parseIpv6Address('fd00::2')!

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

/** `count` IPv6 connections from a to b, in batches; `closer` closes first (the other closes on end of stream). */
function cycles(pair: StackPair, listener: number, count: number, batch: number, closer: 'a' | 'b', onBatch?: () => void): void {
  const { a, b, clock } = pair
  const buffer = new Uint8Array(16)
  for (let done = 0; done < count; done += batch) {
    const n = Math.min(batch, count - done)
    const clients: number[] = []
    for (let i = 0; i < n; i++) {
      const fd = a.socket() // EMFILE here if TIME-WAIT kept sockets
      a.connect(fd, 'fd00::2', 80)
      clients.push(fd)
    }
    const servers: number[] = []
    runUntil(clock, () => {
      drainAccept(b, listener, servers)
      return servers.length === n && clients.every((fd) => a.state(fd) === 'ESTABLISHED')
    })
    const [first, firstFds, second, secondFds] = closer === 'b' ? [b, servers, a, clients] : [a, clients, b, servers]
    for (const fd of firstFds) first.close(fd)
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
  pair.b.bind(listener, '::', 80)
  pair.b.listen(listener)
  return listener
}

describe('TIME-WAIT over IPv6 without sockets (issue 20)', () => {
  it('70k IPv6 connect/close cycles (more than the 65,536 sockets of the default table), the server closing first: no EMFILE, TIME-WAIT entries instead of sockets, client ports reused through RFC 6191', () => {
    const pair = stackPair({ family: 6, impairments: { delay: 50 } })
    const listener = listen(pair)
    let maxSockets = 0
    cycles(pair, listener, 70_000, 500, 'b', () => {
      maxSockets = Math.max(maxSockets, pair.b.socketCount)
    })
    const { b } = pair
    expect(pair.clock.now()).toBeLessThan(60_000_000) // all within one 2·MSL
    expect(b.stats.timeWait.added).toBe(70_000)
    expect(b.stats.timeWait.dropped).toBe(0)
    expect(b.socketCount).toBe(1)
    expect(maxSockets).toBe(1)
    // 28,232 ephemeral ports: the client came back to 4-tuples in TIME-WAIT, and RFC 6191 (a higher TSval) let it in.
    expect(b.stats.timeWait.reused).toBe(70_000 - 28_232)
    expect(b.timeWaitCount).toBe(28_232)
    expect(b.connectionsByState()['TIME-WAIT']).toBe(28_232)
    expect(b.stats.tcp.closedConnections).toBe(70_000)
    runUntil(pair.clock, () => b.timeWaitCount === 0, pair.clock.now() + 61_000_000)
    expect(b.stats.timeWait.expired).toBe(28_232)
  }, 300_000)

  it('the client closing first: its own IPv6 entries, and connect reuses a 4-tuple in TIME-WAIT with timestamps after 1 s (no EADDRINUSE)', () => {
    const pair = stackPair({ family: 6, impairments: { delay: 50 } })
    const listener = listen(pair)
    cycles(pair, listener, 30_000, 500, 'a', () => pair.clock.advanceBy(100_000))
    expect(pair.a.stats.timeWait.added).toBe(30_000)
    expect(pair.a.stats.timeWait.reused).toBe(30_000 - 28_232)
    expect(pair.a.socketCount).toBe(0)
    expect(pair.b.stats.timeWait.added).toBe(0)
  }, 300_000)

  it('IPv4 and IPv6 entries share the cap: a full table drops the newest and counts them', () => {
    const pair = stackPair({ family: 6, stackB: { timeWaitLimit: 10 } })
    const listener = listen(pair)
    cycles(pair, listener, 25, 25, 'b')
    expect(pair.b.timeWaitCount).toBe(10)
    expect(pair.b.stats.timeWait.dropped).toBe(15)
    expect(pair.b.socketCount).toBe(1)
  })

  it('a retransmitted FIN for an IPv6 entry is answered from it: an ACK over IPv6 with SND.NXT and RCV.NXT, and 2·MSL restarted; a RST is ignored (RFC 1337)', () => {
    const pair = stackPair({ family: 6, stack: { tcp: { timestamps: false } } })
    const { a, b, clock, link } = pair
    const listener = listen(pair)
    const client = a.socket()
    a.connect(client, 'fd00::2', 80)
    const server = acceptWhenReady(clock, b, listener)
    runUntil(clock, () => a.state(client) === 'ESTABLISHED')
    const clientPort = a.getsockname(client).port
    const connection = b.connectionOf(server)!
    b.close(server)
    runUntil(clock, () => a.connectionOf(client)!.readEnded)
    a.close(client)
    runUntil(clock, () => b.timeWaitCount === 1 && a.socketCount === 0)
    expect(connection.state).toBe('TIME-WAIT')
    const rcvNxt = connection.sequence.rcvNxt
    const sndNxt = connection.sequence.sndNxt
    expect(b.socketCount).toBe(1) // the socket is gone: the entry answers
    // b's TCP segments, read off the wire.
    const sent: Array<{ dstPort: number; seq: number; ack: number; flags: number; dst: string }> = []
    const txBurst = link.b.txBurst.bind(link.b)
    link.b.txBurst = (bufs: PacketBuffer[], count: number) => {
      for (let i = 0; i < count; i++) {
        const { data, offset } = bufs[i]!
        if (data[offset + 12] !== 0x86 || data[offset + 13] !== 0xdd || data[offset + 20] !== 6) continue
        const view = new DataView(data.buffer, data.byteOffset + offset)
        sent.push({ dstPort: view.getUint16(54 + 2), seq: view.getUint32(54 + 4), ack: view.getUint32(54 + 8), flags: data[offset + 54 + 13]!, dst: Array.from(data.subarray(offset + 38, offset + 54)).join('.') })
      }
      return txBurst(bufs, count)
    }
    const spoofer = new Spoofer6(link.a, SERVER)
    const startedAt = clock.now()
    clock.advanceBy(30_000_000)
    spoofer.add({ src: CLIENT, srcPort: clientPort, dstPort: 80, seq: (rcvNxt - 1) >>> 0, ack: sndNxt, flags: TcpFlags.FIN | TcpFlags.ACK })
    spoofer.flush()
    clock.advanceBy(1000)
    expect(b.stats.timeWait.acks).toBe(1)
    expect(sent).toEqual([{ dstPort: clientPort, seq: sndNxt, ack: rcvNxt, flags: TcpFlags.ACK, dst: Array.from(CLIENT).join('.') }])
    const ignoredBefore = b.stats.timeWait.resetsIgnored
    spoofer.add({ src: CLIENT, srcPort: clientPort, dstPort: 80, seq: rcvNxt, flags: TcpFlags.RST })
    spoofer.flush()
    clock.advanceBy(1000)
    expect(b.stats.timeWait.resetsIgnored).toBe(ignoredBefore + 1)
    expect(b.timeWaitCount).toBe(1)
    // The FIN restarted 2·MSL: the entry outlives the first 60 s, then ends.
    clock.advanceTo(startedAt + 61_000_000)
    expect(b.timeWaitCount).toBe(1)
    runUntil(clock, () => b.timeWaitCount === 0)
    expect(clock.now()).toBeGreaterThanOrEqual(startedAt + 30_000_000 + 60_000_000)
    expect(b.stats.timeWait.expired).toBe(1)
  })

  it('RFC 6191 over IPv6: a SYN with a lower TSval is dropped by the entry; one with a higher TSval opens a new connection', () => {
    const pair = stackPair({ family: 6, stackA: { tcp: { timestampOffset: 1_000_000 } } })
    const { a, b, clock, link } = pair
    const listener = listen(pair)
    const client = a.socket()
    a.connect(client, 'fd00::2', 80)
    const server = acceptWhenReady(clock, b, listener)
    runUntil(clock, () => a.state(client) === 'ESTABLISHED')
    const clientPort = a.getsockname(client).port
    const rcvNxt = b.connectionOf(server)!.sequence.rcvNxt
    b.close(server)
    runUntil(clock, () => a.connectionOf(client)!.readEnded)
    a.close(client)
    runUntil(clock, () => b.timeWaitCount === 1 && a.socketCount === 0)
    const spoofer = new Spoofer6(link.a, SERVER)
    const lastTsVal = 1_000_000 + Math.floor(clock.now() / 1000)
    const syn = (tsValue: number): void => {
      spoofer.add({ src: CLIENT, srcPort: clientPort, dstPort: 80, seq: rcvNxt + 1000, flags: TcpFlags.SYN, synOptions: true, tsValue })
      spoofer.flush()
      clock.advanceBy(1000)
    }
    syn(999_000)
    expect(b.timeWaitCount).toBe(1)
    expect(b.stats.tcp.passiveOpens).toBe(1)
    syn(lastTsVal + 10)
    expect(b.timeWaitCount).toBe(0)
    expect(b.stats.timeWait.reused).toBe(1)
    expect(b.stats.tcp.passiveOpens).toBe(2)
  })
})
