// A burst of 10,000 connections to one next hop whose ARP reply comes late: every SYN waits for the reply
// and goes out after it; none is dropped (ipv4-host.ts ARP_QUEUE_PER_DESTINATION, the release in chunks).
import { createMemoryLink, type PacketBuffer, VirtualClock } from '@mtcp/dpdk-io'
import { emitArp, TcpFlags } from '@mtcp/tcp-core'
import { describe, expect, it } from 'vitest'
import { createStack } from './stack.js'
import { RawPeer } from './test-support/raw-peer.js'

const CONNECTIONS = 10_000

describe('ARP under a burst of connections to one next hop', () => {
  it(`${CONNECTIONS} SYNs wait for a late ARP reply and all leave after it`, () => {
    const clock = new VirtualClock()
    const link = createMemoryLink({ clock, impairments: { queuePackets: 4 * CONNECTIONS } })
    const stack = createStack({ port: link.b, address: '10.0.0.2/24', maxConnections: 2 * CONNECTIONS })
    const peer = new RawPeer(link.a, clock, link.b.link.mac)
    for (let i = 0; i < CONNECTIONS; i++) stack.connect(stack.socket(), '10.0.0.9', 80)
    // 0.5 s pass: the stack asks (and asks again); the peer does not answer yet.
    clock.runUntilIdle(clock.now() + 500_000)
    const rx: PacketBuffer[] = []
    let requests = 0
    let synsBefore = 0
    for (let n = link.a.rxBurst(rx, 64); n > 0; n = link.a.rxBurst(rx, 64)) {
      for (let i = 0; i < n; i++) {
        const frame = rx[i]!.frame()
        if (frame[12] === 0x08 && frame[13] === 0x06) requests++
        else synsBefore++
        rx[i]!.release()
      }
    }
    expect(requests).toBeGreaterThanOrEqual(1)
    expect(synsBefore).toBe(0)
    // The reply, late.
    const reply = new Uint8Array(60)
    reply.set(link.b.link.mac, 0)
    reply.set(link.a.link.mac, 6)
    reply[12] = 0x08
    reply[13] = 0x06
    emitArp({ operation: 'reply', senderHardwareAddress: link.a.link.mac, senderProtocolAddress: 0x0a000009, targetHardwareAddress: link.b.link.mac, targetProtocolAddress: 0x0a000002 }, reply, 14)
    link.a.txBurst([peer.pool.alloc()!.setFrame(reply)], 1)
    // Before any SYN is retransmitted (the initial RTO is 1 s, RFC 6298 §2.1): every SYN once, none dropped.
    const sent = peer.receive(300_000)
    const syns = sent.filter((datagram) => datagram[9] === 6 && (datagram[20 + 13]! & TcpFlags.SYN) !== 0)
    expect(new Set(syns.map((d) => (d[20]! << 8) | d[21]!)).size).toBe(CONNECTIONS)
    expect(syns.length).toBe(CONNECTIONS)
    expect(stack.stats.tx.drops).toEqual({ noBuffer: 0, noRoute: 0, arpUnresolved: 0, neighborUnresolved: 0, backlogOverflow: 0, ipv6AddressNotReady: 0 })
  }, 60_000)
})
