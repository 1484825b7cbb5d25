import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RssHash } from '@mtcp/dpdk-io'
import { parseIpv4Address, parseIpv6Address } from '@mtcp/tcp-core'
import { FlowSteering, REDIRECTION_TABLE_SIZE, SYMMETRIC_RSS_KEY, ToeplitzHash } from './flow-hash.js'

// The verification key and vectors of Microsoft's RSS specification ("Verifying the RSS hash
// calculation"), also used by DPDK's test_thash.c: destination, source, hash of the addresses only,
// hash of the 4-tuple.
const MICROSOFT_KEY = Uint8Array.from([
  0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb,
  0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
])
const VECTORS: [string, number, string, number, number, number][] = [
  ['161.142.100.80', 1766, '66.9.149.187', 2794, 0x323e8fc2, 0x51ccc178],
  ['65.69.140.83', 4739, '199.92.111.2', 14230, 0xd718262a, 0xc626b0ea],
  ['12.22.207.184', 38024, '24.19.198.95', 12898, 0xd2d0a5de, 0x5c2b394a],
  ['209.142.163.6', 2217, '38.27.205.30', 48228, 0x82989176, 0xafc7327f],
  ['202.188.127.2', 1303, '153.39.163.191', 44251, 0x5d1809c5, 0x10e828a2],
]

const uint32 = fc.integer({ min: 0, max: 0xffffffff })
const port = fc.integer({ min: 0, max: 0xffff })

/** An Ethernet + IPv4 + TCP (or UDP) header, enough for the dispatcher. */
function ipFrame(src: number, dst: number, srcPort: number, dstPort: number, protocol = 6): Uint8Array {
  const frame = new Uint8Array(14 + 20 + 20)
  const view = new DataView(frame.buffer)
  view.setUint16(12, 0x0800)
  frame[14] = 0x45
  frame[14 + 9] = protocol
  view.setUint32(14 + 12, src)
  view.setUint32(14 + 16, dst)
  view.setUint16(34, srcPort)
  view.setUint16(36, dstPort)
  return frame
}

const address6 = fc.uint8Array({ minLength: 16, maxLength: 16 })

/** An Ethernet + IPv6 + TCP (or UDP, or ICMPv6) header, enough for the dispatcher. */
function ip6Frame(src: Uint8Array, dst: Uint8Array, srcPort: number, dstPort: number, nextHeader = 6): Uint8Array {
  const frame = new Uint8Array(14 + 40 + 20)
  const view = new DataView(frame.buffer)
  view.setUint16(12, 0x86dd)
  frame[14] = 0x60
  frame[14 + 6] = nextHeader
  frame.set(src, 14 + 8)
  frame.set(dst, 14 + 24)
  view.setUint16(54, srcPort)
  view.setUint16(56, dstPort)
  return frame
}

describe('ToeplitzHash', () => {
  it.each(VECTORS)('matches the RSS verification vector for %s:%i ← %s:%i', (dst, dstPort, src, srcPort, addressesOnly, fourTuple) => {
    const hash = new ToeplitzHash(MICROSOFT_KEY)
    const s = parseIpv4Address(src)
    const d = parseIpv4Address(dst)
    expect(hash.hash(s, d, 0, 0)).toBe(addressesOnly)
    expect(hash.hash(s, d, srcPort, dstPort)).toBe(fourTuple)
  })

  it('is symmetric with the 0x6d5a key: both directions of a flow hash alike', () => {
    const hash = new ToeplitzHash(SYMMETRIC_RSS_KEY)
    fc.assert(fc.property(uint32, uint32, port, port, (a, b, p, q) => hash.hash(a, b, p, q) === hash.hash(b, a, q, p)))
  })

  it('is not symmetric with the verification key (so the property above says something)', () => {
    const hash = new ToeplitzHash(MICROSOFT_KEY)
    const [dst, dstPort, src, srcPort] = VECTORS[0]!
    expect(hash.hash(parseIpv4Address(src), parseIpv4Address(dst), srcPort, dstPort)).not.toBe(hash.hash(parseIpv4Address(dst), parseIpv4Address(src), dstPort, srcPort))
  })

  it('rejects a key too short for a 12-byte input', () => {
    expect(() => new ToeplitzHash(new Uint8Array(15))).toThrow(RangeError)
  })
})

describe('FlowSteering', () => {
  const client = parseIpv4Address('10.0.0.2')
  const server = parseIpv4Address('10.0.0.1')

  it('sends both directions of every flow to the same queue', () => {
    const steering = new FlowSteering(4)
    fc.assert(fc.property(uint32, uint32, port, port, (a, b, p, q) => steering.queueOf(a, b, p, q) === steering.queueOf(b, a, q, p)))
  })

  it('spreads 1,000 connections from one client over every queue, each queue between a half and twice its share', () => {
    const steering = new FlowSteering(4)
    const counts = [0, 0, 0, 0]
    for (let p = 40_000; p < 41_000; p++) counts[steering.queueOf(client, server, p, 80)]!++
    for (const count of counts) {
      expect(count).toBeGreaterThan(125)
      expect(count).toBeLessThan(500)
    }
  })

  it('gives a dead queue no flows, and the host and a worker agree where they go instead', () => {
    const host = new FlowSteering(3)
    const worker = new FlowSteering(3)
    host.markDead(1)
    worker.markDead(1)
    for (let p = 1000; p < 3000; p++) {
      const queue = host.queueOf(client, server, p, 80)
      expect(queue).not.toBe(1)
      expect(worker.queueOf(server, client, 80, p)).toBe(queue)
    }
    expect(host.isAlive(1)).toBe(false)
  })

  it('keeps the last live queue', () => {
    const steering = new FlowSteering(2)
    steering.markDead(0)
    steering.markDead(1)
    expect(steering.isAlive(1)).toBe(true)
    expect(steering.queueOf(client, server, 1, 2)).toBe(1)
  })

  it('dispatches a TCP or UDP frame by its 4-tuple, ICMP by its addresses, ARP by sender and target', () => {
    const steering = new FlowSteering(8)
    fc.assert(
      fc.property(uint32, uint32, port, port, fc.constantFrom(6, 17), (a, b, p, q, protocol) => {
        const frame = ipFrame(a, b, p, q, protocol)
        return steering.queueOfFrame(frame, 0, frame.byteLength) === steering.queueOf(a, b, p, q)
      }),
    )
    const icmp = ipFrame(client, server, 0x1234, 0x5678, 1)
    expect(steering.queueOfFrame(icmp, 0, icmp.byteLength)).toBe(steering.queueOf(client, server, 0, 0))
    const arp = new Uint8Array(42)
    const view = new DataView(arp.buffer)
    view.setUint16(12, 0x0806)
    view.setUint32(28, client)
    view.setUint32(38, server)
    expect(steering.queueOfFrame(arp, 0, arp.byteLength)).toBe(steering.queueOf(client, server, 0, 0))
  })

  it('IPv6: the steering hash of a 4-tuple is the RSS hash of its frame (dpdk-io RssHash.frame), and the frame goes to its queue', () => {
    const steering = new FlowSteering(8)
    const toeplitz = new ToeplitzHash()
    const rss = new RssHash()
    fc.assert(
      fc.property(address6, address6, port, port, fc.constantFrom(6, 17), (a, b, p, q, next) => {
        const frame = ip6Frame(a, b, p, q, next)
        const hash = toeplitz.hash6(a, 0, b, 0, p, q)
        return hash === rss.frame(frame, 0, frame.byteLength) && hash === rss.ipv6(a, 0, b, 0, p, q) && steering.queueOfFrame(frame, 0, frame.byteLength) === steering.queueOf6(a, 0, b, 0, p, q)
      }),
    )
  })

  it('IPv6: symmetric with the default key, both directions of a flow on one queue; ICMPv6 by the address pair', () => {
    const steering = new FlowSteering(8)
    fc.assert(fc.property(address6, address6, port, port, (a, b, p, q) => steering.queueOf6(a, 0, b, 0, p, q) === steering.queueOf6(b, 0, a, 0, q, p)))
    const client = parseIpv6Address('fd00::2')!
    const server = parseIpv6Address('fd00::1')!
    const icmp = ip6Frame(client, server, 0x8800, 0x1234, 58)
    const rss = new RssHash()
    // With 128 queues the redirection table is the identity: the queue is the hash's low 7 bits.
    expect(new FlowSteering(128).queueOfFrame(icmp, 0, icmp.byteLength)).toBe(rss.ipv6Addresses(client, 0, server, 0) & 127)
    // Among many 4-tuples of one address pair, the queues spread (the ports are in the hash) and each is the frame's.
    const queues = new Set<number>()
    for (let p = 40000; p < 40064; p++) {
      const frame = ip6Frame(client, server, p, 80)
      queues.add(steering.queueOfFrame(frame, 0, frame.byteLength))
      expect(steering.queueOfFrame(frame, 0, frame.byteLength)).toBe(steering.queueOf6(server, 0, client, 0, 80, p))
    }
    expect(queues.size).toBe(8)
  })

  it('reads a frame at an offset, and a fragment by its addresses only', () => {
    const steering = new FlowSteering(8)
    const inner = ipFrame(client, server, 5555, 80)
    const padded = new Uint8Array(inner.byteLength + 100)
    padded.set(inner, 100)
    expect(steering.queueOfFrame(padded, 100, inner.byteLength)).toBe(steering.queueOf(client, server, 5555, 80))
    inner[14 + 6] = 0x20 // more fragments
    expect(steering.queueOfFrame(inner, 0, inner.byteLength)).toBe(steering.queueOf(client, server, 0, 0))
  })

  it('never throws and always names a live queue, whatever the bytes', () => {
    const steering = new FlowSteering(5)
    steering.markDead(2)
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(20), (bytes, cut) => {
        const length = Math.max(0, bytes.byteLength - cut)
        const queue = steering.queueOfFrame(bytes, 0, length)
        return Number.isInteger(queue) && queue >= 0 && queue < 5 && queue !== 2
      }),
    )
  })

  it('rejects a queue count outside [1, 128]', () => {
    expect(() => new FlowSteering(0)).toThrow(RangeError)
    expect(() => new FlowSteering(REDIRECTION_TABLE_SIZE + 1)).toThrow(RangeError)
  })
})
