// IPv4 reassembly (RFC 791 §3.2, RFC 1122 §3.3.2): the table on hand-made fragments, then a stack that
// answers a fragmented echo request, a fragmented SYN and a fragmented data segment.
import { createMemoryLink, VirtualClock } from '@mtcp/dpdk-io'
import { fragmentIpv4, IcmpView, Ipv4View, parseIcmp, TcpFlags, TcpView, WireError } from '@mtcp/tcp-core'
import { describe, expect, it } from 'vitest'
import { Ipv4Reassembly } from './ipv4-reassembly.js'
import { createStack } from './stack.js'
import { createStackStats, rxFramesAccounted } from './stats.js'
import { icmpDatagram, ipv4Datagram, RawPeer, tcpDatagram } from './test-support/raw-peer.js'

const PEER = 0x0a000009 // 10.0.0.9
const US = 0x0a000002 // 10.0.0.2

function payload(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7 + (i >>> 8)) & 0xff
  return out
}

function datagram(length: number, identification = 7, src = PEER): Uint8Array {
  return ipv4Datagram(src, US, 253, payload(length, identification), { identification })
}

function table(options: ConstructorParameters<typeof Ipv4Reassembly>[0] = {}) {
  const stats = createStackStats()
  return { stats, reassembly: new Ipv4Reassembly(options, stats) }
}

/** Feed the fragments; return what the last call returned (copied). */
function feed(reassembly: Ipv4Reassembly, fragments: Uint8Array[], now = 0): Uint8Array | undefined {
  let out: Uint8Array | undefined
  for (const fragment of fragments) out = reassembly.insert(now, fragment, 0)?.slice()
  return out
}

describe('Ipv4Reassembly', () => {
  it('puts fragments back together in any order, the first fragment\'s header made whole', () => {
    const original = datagram(3000)
    for (const order of [(f: Uint8Array[]) => f, (f: Uint8Array[]) => [...f].reverse(), (f: Uint8Array[]) => [f[1]!, f[0]!, f[2]!]]) {
      const { stats, reassembly } = table()
      const result = feed(reassembly, order(fragmentIpv4(original, 1500)))
      expect(result).toEqual(original) // header checksum recomputed, MF and offset cleared: the original bytes
      expect(Ipv4View.checked(result!)).not.toBeInstanceOf(WireError)
      expect(stats.rx.fragments).toBe(2) // the third completed the datagram: it counts as the datagram
      expect(stats.reassembly.reassembled).toBe(1)
      expect(reassembly.inProgress).toBe(0)
    }
  })

  it('keeps datagrams apart by source, identification and protocol', () => {
    const { reassembly } = table()
    const a = fragmentIpv4(datagram(2000, 1), 1000)
    const b = fragmentIpv4(datagram(2000, 2), 1000)
    expect(feed(reassembly, [a[0]!, b[0]!, a[1]!, b[1]!])).toBeUndefined()
    expect(feed(reassembly, [a[2]!])).toEqual(datagram(2000, 1))
    expect(feed(reassembly, [b[2]!])).toEqual(datagram(2000, 2))
  })

  it('drops the whole datagram on an overlap (RFC 5722 policy) and an exact duplicate alone (RFC 8200 §4.5)', () => {
    const { stats, reassembly } = table()
    const fragments = fragmentIpv4(datagram(3000), 1500)
    expect(feed(reassembly, [fragments[0]!, fragments[0]!])).toBeUndefined()
    expect(stats.rx.drops.fragmentDuplicate).toBe(1)
    expect(feed(reassembly, [fragments[1]!, fragments[2]!])).toEqual(datagram(3000)) // the duplicate did no harm
    // An overlapping fragment: the same bytes cut at another place (offset 1480 − 8 … ).
    const other = fragmentIpv4(datagram(3000), 1004) // offsets 0, 984, 1968, …: 984..1968 overlaps 0..1480
    expect(feed(reassembly, [fragments[0]!, other[1]!])).toBeUndefined()
    expect(stats.rx.drops.fragmentOverlap).toBe(1)
    expect(stats.reassembly.discarded).toBe(1)
    expect(reassembly.inProgress).toBe(0)
    // What follows starts a new datagram, which the rest of the first cutting cannot complete alone.
    expect(feed(reassembly, [fragments[1]!, fragments[2]!])).toBeUndefined()
  })

  it('drops malformed fragments by reason: MF with a length not a multiple of 8, data past 65,535 bytes, two ends', () => {
    const { stats, reassembly } = table()
    const fragments = fragmentIpv4(datagram(3000), 1500)
    const odd = fragments[0]!.slice(0, 1499)
    odd[2] = 1499 >> 8
    odd[3] = 1499 & 0xff
    expect(reassembly.insert(0, odd, 0)).toBeUndefined()
    const past = fragments[2]!.slice()
    past[6] = 0x1f // offset 8191 × 8 = 65,528, + 40 bytes > 65,515
    past[7] = 0xff
    expect(reassembly.insert(0, past, 0)).toBeUndefined()
    expect(stats.rx.drops.fragmentMalformed).toBe(2)
    // A second "last" fragment that ends elsewhere: the datagram is dropped.
    const short = fragmentIpv4(datagram(2000), 1500)
    expect(feed(reassembly, [fragments[2]!, short[1]!])).toBeUndefined()
    expect(stats.rx.drops.fragmentMalformed).toBe(3)
    expect(stats.reassembly.discarded).toBe(1)
  })

  it('gives a datagram up after the timeout (RFC 1122 §3.3.2), not before', () => {
    const { stats, reassembly } = table({ timeout: 30_000_000 })
    const fragments = fragmentIpv4(datagram(3000), 1500)
    feed(reassembly, [fragments[0]!], 1_000)
    reassembly.expire(30_000_999)
    expect(reassembly.inProgress).toBe(1)
    expect(feed(reassembly, [fragments[1]!], 30_000_999)).toBeUndefined()
    reassembly.expire(30_001_000)
    expect(stats.reassembly.timeouts).toBe(1)
    expect(reassembly.inProgress).toBe(0)
    expect(feed(reassembly, [fragments[2]!], 30_001_000)).toBeUndefined() // its companions are gone
  })

  it('bounds memory: per source, in all (the oldest gives way), buffers reused in steady state', () => {
    const { stats, reassembly } = table({ maxDatagrams: 4, maxPerSource: 2 })
    // Three datagrams from one source: the third is refused.
    for (let id = 1; id <= 3; id++) feed(reassembly, [fragmentIpv4(datagram(3000, id), 1500)[0]!], id)
    expect(stats.rx.drops.fragmentSourceLimit).toBe(1)
    expect(reassembly.inProgress).toBe(2)
    // A flood of first fragments from many sources: never more than 4 datagrams, the oldest evicted.
    for (let source = 0; source < 100; source++) feed(reassembly, [fragmentIpv4(datagram(3000, 9, 0x0b000000 + source), 1500)[0]!], 10 + source)
    expect(reassembly.inProgress).toBe(4)
    expect(stats.reassembly.evicted).toBe(98)
    const bytes = reassembly.bufferBytes
    expect(bytes).toBeLessThanOrEqual(4 * 65_575)
    // A real datagram still gets through in the middle of the flood, and no buffer is added for it.
    expect(feed(reassembly, fragmentIpv4(datagram(3000, 77), 1500), 500)).toEqual(datagram(3000, 77))
    expect(reassembly.bufferBytes).toBe(bytes)
  })
})

describe('a stack with fragmented input', () => {
  function setup() {
    const clock = new VirtualClock()
    const link = createMemoryLink({ clock })
    const stack = createStack({ port: link.b, address: '10.0.0.2/24', staticArp: [{ ip: '10.0.0.9', mac: link.a.link.mac }] })
    const peer = new RawPeer(link.a, clock, link.b.link.mac)
    return { clock, link, stack, peer }
  }

  /** The datagrams, reassembled (by a table of our own) where they came in fragments. */
  function whole(datagrams: Uint8Array[]): Uint8Array[] {
    const { reassembly } = table()
    const out: Uint8Array[] = []
    for (const d of datagrams) {
      const view = Ipv4View.checked(d) as Ipv4View
      if (!view.moreFragments && view.fragmentOffset === 0) out.push(d)
      else {
        const done = reassembly.insert(0, d, 0)
        if (done !== undefined) out.push(done.slice())
      }
    }
    return out
  }

  it('answers an echo request of 3000 bytes sent in fragments, with a reply in fragments that fit the MTU', () => {
    const { stack, peer } = setup()
    const data = payload(3000)
    expect(peer.sendFragments(icmpDatagram(PEER, US, { kind: 'echoRequest', identifier: 5, sequenceNumber: 1, data }), 1500)).toBe(3)
    const sent = peer.receive()
    expect(sent.length).toBe(3)
    expect(sent.every((d) => d.byteLength <= 1500)).toBe(true)
    const [reply] = whole(sent)
    const message = parseIcmp(IcmpView.checked((Ipv4View.checked(reply!) as Ipv4View).payload) as IcmpView)
    expect(message).toMatchObject({ kind: 'echoReply', identifier: 5, sequenceNumber: 1 })
    expect((message as { data: Uint8Array }).data).toEqual(data)
    expect(stack.stats.reassembly.reassembled).toBe(1)
    expect(stack.stats.rx.icmpIn.echoRequest).toBe(1)
    expect(rxFramesAccounted(stack.stats)).toBe(stack.stats.rx.frames)
  })

  it('answers a SYN sent in fragments, then takes a data segment sent in fragments', () => {
    const { stack, peer } = setup()
    const listener = stack.socket()
    stack.bind(listener, '0.0.0.0', 80)
    stack.listen(listener)
    // A SYN carrying 200 bytes (RFC 9293 §3.10.7.2: data on a SYN is queued or dropped, the SYN stands), cut at a 100-byte MTU.
    const syn = tcpDatagram(PEER, US, { srcPort: 4000, dstPort: 80, seqNumber: 1000, flags: TcpFlags.SYN, options: { mss: 1460 }, payload: payload(200) })
    expect(peer.sendFragments(syn, 100)).toBeGreaterThan(2)
    const [synAck] = peer.receive()
    const synAckTcp = TcpView.checked((Ipv4View.checked(synAck!) as Ipv4View).payload) as TcpView
    expect(synAckTcp.flags & (TcpFlags.SYN | TcpFlags.ACK)).toBe(TcpFlags.SYN | TcpFlags.ACK)
    expect(synAckTcp.ackNumber).toBe(1001)
    const iss = synAckTcp.seqNumber
    peer.send(tcpDatagram(PEER, US, { srcPort: 4000, dstPort: 80, seqNumber: 1001, ackNumber: iss + 1, flags: TcpFlags.ACK }))
    peer.receive()
    const fd = stack.accept(listener)
    // 3000 bytes in one segment, cut into three fragments (reversed: the first fragment comes last).
    const data = payload(3000, 3)
    const segment = tcpDatagram(PEER, US, { srcPort: 4000, dstPort: 80, seqNumber: 1001, ackNumber: iss + 1, flags: TcpFlags.ACK | TcpFlags.PSH, payload: data }, { identification: 99 })
    peer.sendFragments(segment, 1500, (f) => [...f].reverse())
    const acks = peer.receive(50_000)
    const received = new Uint8Array(4000)
    expect(stack.read(fd, received)).toBe(3000)
    expect(received.subarray(0, 3000)).toEqual(data)
    const last = TcpView.checked((Ipv4View.checked(acks.at(-1)!) as Ipv4View).payload) as TcpView
    expect(last.ackNumber).toBe(1001 + 3000)
    expect(stack.stats.reassembly.reassembled).toBe(2)
    expect(stack.stats.rx.fragments).toBe(stack.stats.rx.frames - 1 - 2) // all but the ACK and each datagram's completing fragment
    expect(rxFramesAccounted(stack.stats)).toBe(stack.stats.rx.frames)
    expect(stack.stats.rx.tcp).toBe(3)
    expect(stack.stats.rx.ipv4).toBe(3)
  })
})
