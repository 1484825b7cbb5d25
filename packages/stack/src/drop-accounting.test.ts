// Every received frame is counted once, by what became of it: rx.frames = arp + ipv4 + fragments + Σ drops
// (stats.ts), over a mixed stream of good segments, malformed frames of each kind, ICMP that is not an echo
// request, segments for no socket, segments a connection refuses, and fragments.
import { createMemoryLink, VirtualClock } from '@mtcp/dpdk-io'
import { fragmentIpv4, internetChecksum, IpProtocol, Ipv4View, Ipv6NextHeader, parseIpv6Address, TcpFlags, TcpView } from '@mtcp/tcp-core'
import { describe, expect, it } from 'vitest'
import { createStack } from './stack.js'
import { rxDropTotal, rxFramesAccounted, type StackStats } from './stats.js'
import { icmpDatagram, ipv4Datagram, RawPeer, tcpDatagram } from './test-support/raw-peer.js'
import { icmpv6Datagram, ipv6Datagram, RawPeer6, tcpSegment6 } from './test-support/raw-peer6.js'

const PEER = 0x0a000009
const US = 0x0a000002

/** Each expected drop reason counted exactly as often, no other drop, and every frame counted once. */
function expectAccounted(stats: StackStats, expected: Record<string, number>): void {
  const drops = stats.rx.drops as unknown as Record<string, number>
  for (const [reason, count] of Object.entries(expected)) expect([reason, drops[reason]]).toEqual([reason, count])
  expect(rxDropTotal(stats.rx.drops)).toBe(Object.values(expected).reduce((a, b) => a + b, 0))
  expect(rxFramesAccounted(stats)).toBe(stats.rx.frames)
}

describe('drop accounting', () => {
  it('rx.frames = delivered + drops by reason, over a mixed stream', () => {
    const clock = new VirtualClock()
    const link = createMemoryLink({ clock })
    const stack = createStack({ port: link.b, address: '10.0.0.2/24', staticArp: [{ ip: '10.0.0.9', mac: link.a.link.mac }] })
    const peer = new RawPeer(link.a, clock, link.b.link.mac)
    const listener = stack.socket()
    stack.bind(listener, '0.0.0.0', 80)
    stack.listen(listener)
    const raw = (bytes: number[], pad = 60) => {
      const frame = new Uint8Array(Math.max(pad, bytes.length))
      frame.set(bytes)
      link.a.txBurst([peer.pool.alloc()!.setFrame(frame)], 1)
    }
    const us = [...link.b.link.mac]
    const them = [...link.a.link.mac]
    const expected: Record<string, number> = {}
    const expect1 = (reason: string) => (expected[reason] = (expected[reason] ?? 0) + 1)

    // Good: a handshake, then data (delivered).
    peer.send(tcpDatagram(PEER, US, { srcPort: 4000, dstPort: 80, seqNumber: 1000, flags: TcpFlags.SYN, options: { mss: 1460 } }))
    const synAck = TcpView.checked((Ipv4View.checked(peer.receive()[0]!) as Ipv4View).payload) as TcpView
    const iss = synAck.seqNumber
    const ack = (seq: number, payload = new Uint8Array(0), flags: number = TcpFlags.ACK) => tcpDatagram(PEER, US, { srcPort: 4000, dstPort: 80, seqNumber: seq, ackNumber: iss + 1, flags, payload })
    peer.send(ack(1001))
    peer.send(ack(1001, new Uint8Array(100).fill(1), TcpFlags.ACK | TcpFlags.PSH))
    // A data segment in fragments: two held, the third delivers the segment.
    peer.sendFragments(ack(1101, new Uint8Array(3000).fill(2), TcpFlags.ACK | TcpFlags.PSH), 1100)
    // Per connection: out of window (far ahead of RCV.NXT).
    peer.send(ack(1001 + 50_000_000, new Uint8Array(10)))
    expect1('outOfWindow')
    // No socket: a SYN to a closed port (draws a reset), a reset (discarded).
    peer.send(tcpDatagram(PEER, US, { srcPort: 4001, dstPort: 81, seqNumber: 5, flags: TcpFlags.SYN }))
    expect1('noSocket')
    peer.send(tcpDatagram(PEER, US, { srcPort: 4001, dstPort: 81, seqNumber: 5, flags: TcpFlags.RST }))
    expect1('resetNoSocket')
    // ICMP that is not an echo request: an echo reply, a timestamp request, a source quench (all taken, counted
    // by type), an error quoting nothing of ours, an error quoting a connection that does not exist.
    peer.send(icmpDatagram(PEER, US, { kind: 'echoReply', identifier: 1, sequenceNumber: 1, data: new Uint8Array(8) }))
    peer.send(icmpDatagram(PEER, US, { kind: 'other', type: 13, code: 0, restOfHeader: 0, data: new Uint8Array(12) }))
    peer.send(icmpDatagram(PEER, US, { kind: 'other', type: 4, code: 0, restOfHeader: 0, data: new Uint8Array(28) }))
    peer.send(icmpDatagram(PEER, US, { kind: 'other', type: 3, code: 3, restOfHeader: 0, data: new Uint8Array(28) }))
    expect1('icmpUnusable')
    const quoted = tcpDatagram(US, PEER, { srcPort: 9, dstPort: 9, seqNumber: 1, flags: TcpFlags.ACK }).subarray(0, 28)
    peer.send(icmpDatagram(PEER, US, { kind: 'other', type: 11, code: 0, restOfHeader: 0, data: quoted }))
    expect1('icmpNoConnection')
    // Malformed, one of each kind.
    raw([...us, ...them, 0x81, 0x00], 0) // a VLAN tag cut off
    expect1('malformedEthernet')
    raw([9, 9, 9, 9, 9, 9, ...them, 0x08, 0x00])
    expect1('notForUs')
    raw([...us, ...them, 0x86, 0xdd, 0x60])
    expect1('unsupportedEtherType')
    raw([...us, ...them, 0x08, 0x06, 0, 1])
    expect1('malformedArp')
    raw([...us, ...them, 0x08, 0x00, 0x45, 0, 0, 19])
    expect1('malformedIpv4')
    const badChecksum = ipv4Datagram(PEER, US, IpProtocol.TCP, new Uint8Array(20))
    badChecksum[10]! ^= 0xff
    peer.send(badChecksum)
    expect1('badIpv4Checksum')
    peer.send(ipv4Datagram(PEER, 0x0a000003, IpProtocol.TCP, new Uint8Array(20)))
    expect1('notOurAddress')
    peer.send(ipv4Datagram(PEER, US, IpProtocol.UDP, new Uint8Array(8)))
    expect1('unsupportedProtocol')
    peer.send(ipv4Datagram(PEER, US, IpProtocol.ICMP, new Uint8Array(4)))
    expect1('malformedIcmp')
    peer.send(ipv4Datagram(PEER, US, IpProtocol.TCP, new Uint8Array(12)))
    expect1('malformedTcp')
    const badTcp = ack(1001)
    badTcp[36]! ^= 0xff
    peer.send(badTcp)
    expect1('badTcpChecksum')
    // Fragments: a duplicate, an overlap (drops the datagram), a malformed one.
    const pieces = fragmentIpv4(ipv4Datagram(PEER, US, 253, new Uint8Array(2000), { identification: 77 }), 1000)
    peer.send(pieces[0]!)
    peer.send(pieces[0]!)
    expect1('fragmentDuplicate')
    const overlapping = fragmentIpv4(ipv4Datagram(PEER, US, 253, new Uint8Array(2000), { identification: 77 }), 900)
    peer.send(overlapping[1]!)
    expect1('fragmentOverlap')
    const odd = pieces[1]!.slice(0, pieces[1]!.byteLength - 3)
    odd[3] = odd[3]! - 3
    odd[10] = 0
    odd[11] = 0
    const sum = internetChecksum(odd, 0, 20)
    odd[10] = sum >>> 8
    odd[11] = sum & 0xff
    peer.send(odd)
    expect1('fragmentMalformed')
    peer.receive(10_000)

    const stats = stack.stats
    expectAccounted(stats, expected)
    // What was delivered: the SYN, the ACK, two data segments (one reassembled); five ICMP messages taken.
    expect(stats.rx.tcp).toBe(4)
    expect(stats.rx.icmp).toBe(3)
    expect(stats.rx.ipv4).toBe(7)
    expect(stats.rx.fragments).toBe(2 + 1) // two of the data segment, the first piece of datagram 77
    expect(stats.rx.icmpIn).toMatchObject({ echoReply: 1, other: 1, sourceQuench: 1, destinationUnreachable: 1, timeExceeded: 1 })
    const fd = stack.accept(listener)
    expect(stack.read(fd, new Uint8Array(8192))).toBe(3100)
  })

  it('over IPv6 too: a reset and a SYN for no socket, a refused segment, ICMPv6 for no connection and malformed datagrams each count once', () => {
    const clock = new VirtualClock()
    const link = createMemoryLink({ clock })
    const stack = createStack({ port: link.b, address: '10.0.0.2/24', ipv6: 'fd00::2/64', staticNeighbors: [{ ip: 'fd00::9', mac: link.a.link.mac }] })
    const peer = new RawPeer6(link.a, clock, stack.options.mac)
    const PEER6 = parseIpv6Address('fd00::9')!
    const US6 = parseIpv6Address('fd00::2')!
    const tcp6 = (repr: Parameters<typeof tcpSegment6>[2], src = PEER6, dst = US6) => ipv6Datagram(src, dst, Ipv6NextHeader.TCP, tcpSegment6(src, dst, repr))
    const listener = stack.socket()
    stack.bind(listener, '::', 80)
    stack.listen(listener)
    const expected: Record<string, number> = {}
    const expect1 = (reason: string) => (expected[reason] = (expected[reason] ?? 0) + 1)
    // Good: a handshake, then data (delivered).
    peer.send(tcp6({ srcPort: 4000, dstPort: 80, seqNumber: 1000, flags: TcpFlags.SYN, options: { mss: 1440 } }))
    const synAck = peer.receive().find((datagram) => datagram[6] === Ipv6NextHeader.TCP)!
    const iss = new DataView(synAck.buffer, synAck.byteOffset).getUint32(40 + 4)
    const ack = (seq: number, payload = new Uint8Array(0)) => tcp6({ srcPort: 4000, dstPort: 80, seqNumber: seq, ackNumber: iss + 1, flags: TcpFlags.ACK, payload })
    peer.send(ack(1001))
    peer.send(ack(1001, new Uint8Array(100).fill(1)))
    // Per connection: out of window.
    peer.send(ack(1001 + 50_000_000, new Uint8Array(10)))
    expect1('outOfWindow')
    // No socket: a SYN to a closed port (draws a reset), a reset (discarded).
    peer.send(tcp6({ srcPort: 4001, dstPort: 81, seqNumber: 5, flags: TcpFlags.SYN }))
    expect1('noSocket')
    peer.send(tcp6({ srcPort: 4001, dstPort: 81, seqNumber: 5, flags: TcpFlags.RST }))
    expect1('resetNoSocket')
    // A packet too big quoting a connection that does not exist.
    const invoking = tcp6({ srcPort: 9, dstPort: 9, seqNumber: 1, flags: TcpFlags.ACK }, US6, PEER6)
    peer.send(icmpv6Datagram(PEER6, US6, { kind: 'packetTooBig', code: 0, value: 1280, invoking }))
    expect1('icmpNoConnection')
    // Malformed: a TCP segment with a bad checksum, one cut short, and an IPv6 header cut short.
    const badTcp = ack(1101)
    badTcp[40 + 16]! ^= 0xff
    peer.send(badTcp)
    expect1('badTcpChecksum')
    peer.send(ipv6Datagram(PEER6, US6, Ipv6NextHeader.TCP, new Uint8Array(12)))
    expect1('malformedTcp')
    peer.send(ipv6Datagram(PEER6, US6, Ipv6NextHeader.TCP, new Uint8Array(20)).subarray(0, 30))
    expect1('malformedIpv6')
    peer.receive(10_000)

    expectAccounted(stack.stats, expected)
    const fd = stack.accept(listener)
    expect(stack.read(fd, new Uint8Array(8192))).toBe(100)
  })
})
