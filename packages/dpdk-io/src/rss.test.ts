import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DpdkIoError } from './errors.js'
import { RSS_KEY_BYTES, RssHash, symmetricRssKey } from './rss.js'

// The verification key and vectors of Microsoft's RSS specification ("Verifying the RSS hash
// calculation"): destination, destination port, source, source port, hash of the addresses only, hash of
// the 4-tuple. IPv4 and IPv6 tables.
const MICROSOFT_KEY = Uint8Array.from([
  0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb,
  0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
])
type Vector = [string, number, string, number, number, number]
const IPV4_VECTORS: Vector[] = [
  ['161.142.100.80', 1766, '66.9.149.187', 2794, 0x323e8fc2, 0x51ccc178],
  ['65.69.140.83', 4739, '199.92.111.2', 14230, 0xd718262a, 0xc626b0ea],
  ['12.22.207.184', 38024, '24.19.198.95', 12898, 0xd2d0a5de, 0x5c2b394a],
  ['209.142.163.6', 2217, '38.27.205.30', 48228, 0x82989176, 0xafc7327f],
  ['202.188.127.2', 1303, '153.39.163.191', 44251, 0x5d1809c5, 0x10e828a2],
]
const IPV6_VECTORS: Vector[] = [
  ['3ffe:2501:200:3::1', 1766, '3ffe:2501:200:1fff::7', 2794, 0x2cc18cd5, 0x40207d3d],
  ['ff02::1', 4739, '3ffe:501:8::260:97ff:fe40:efab', 14230, 0x0f0c461c, 0xdde51bbf],
  ['fe80::200:f8ff:fe21:67cf', 38024, '3ffe:1900:4545:3:200:f8ff:fe21:67cf', 44251, 0x4b61e985, 0x02d1feef],
]

/** Dotted quad to uint32 (test helper; the vectors are well formed). */
function v4(text: string): number {
  return text.split('.').reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0)
}

/** IPv6 text with at most one `::` to 16 bytes (test helper, written apart from any code under test). */
function v6(text: string): Uint8Array {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined]
  const groups = (part: string | undefined): number[] => (part === undefined || part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)))
  const left = groups(head)
  const right = groups(tail)
  const all = tail === undefined ? left : [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right]
  const out = new Uint8Array(16)
  all.forEach((g, i) => {
    out[2 * i] = g >>> 8
    out[2 * i + 1] = g & 0xff
  })
  return out
}

function ipv6Frame(src: Uint8Array, dst: Uint8Array, next: number, srcPort: number, dstPort: number, trailing = 20): Uint8Array {
  const frame = new Uint8Array(14 + 40 + trailing)
  const view = new DataView(frame.buffer)
  view.setUint16(12, 0x86dd)
  frame[14] = 0x60
  view.setUint16(18, trailing)
  frame[20] = next
  frame[21] = 64
  frame.set(src, 22)
  frame.set(dst, 38)
  if (trailing >= 4) {
    view.setUint16(54, srcPort)
    view.setUint16(56, dstPort)
  }
  return frame
}

function ipv4Frame(src: number, dst: number, protocol: number, srcPort: number, dstPort: number, flagsFragment = 0): Uint8Array {
  const frame = new Uint8Array(14 + 20 + 20)
  const view = new DataView(frame.buffer)
  view.setUint16(12, 0x0800)
  frame[14] = 0x45
  view.setUint16(20, flagsFragment)
  frame[23] = protocol
  view.setUint32(26, src)
  view.setUint32(30, dst)
  view.setUint16(34, srcPort)
  view.setUint16(36, dstPort)
  return frame
}

const address6 = fc.uint8Array({ minLength: 16, maxLength: 16 })
const uint32 = fc.integer({ min: 0, max: 0xffffffff })
const port = fc.integer({ min: 0, max: 0xffff })

describe('RssHash (Toeplitz, Microsoft RSS)', () => {
  it.each(IPV4_VECTORS)('matches the IPv4 verification vector for %s:%i ← %s:%i', (dst, dstPort, src, srcPort, addressesOnly, fourTuple) => {
    const rss = new RssHash(MICROSOFT_KEY)
    expect(rss.ipv4Addresses(v4(src), v4(dst))).toBe(addressesOnly)
    expect(rss.ipv4(v4(src), v4(dst), srcPort, dstPort)).toBe(fourTuple)
    expect(rss.frame(ipv4Frame(v4(src), v4(dst), 6, srcPort, dstPort), 0, 54)).toBe(fourTuple)
  })

  it.each(IPV6_VECTORS)('matches the IPv6 verification vector for [%s]:%i ← [%s]:%i', (dst, dstPort, src, srcPort, addressesOnly, fourTuple) => {
    const rss = new RssHash(MICROSOFT_KEY)
    expect(rss.ipv6Addresses(v6(src), 0, v6(dst), 0)).toBe(addressesOnly)
    expect(rss.ipv6(v6(src), 0, v6(dst), 0, srcPort, dstPort)).toBe(fourTuple)
    // In place, from a frame: TCP and UDP by the 4-tuple, ICMPv6 by the addresses.
    expect(rss.frame(ipv6Frame(v6(src), v6(dst), 6, srcPort, dstPort), 0, 74)).toBe(fourTuple)
    expect(rss.frame(ipv6Frame(v6(src), v6(dst), 17, srcPort, dstPort), 0, 74)).toBe(fourTuple)
    expect(rss.frame(ipv6Frame(v6(src), v6(dst), 58, srcPort, dstPort), 0, 74)).toBe(addressesOnly)
  })

  it('reads addresses at any offset, and from two different arrays', () => {
    const rss = new RssHash(MICROSOFT_KEY)
    const [dst, dstPort, src, srcPort, , fourTuple] = IPV6_VECTORS[0]!
    const a = new Uint8Array(40)
    a.set(v6(src), 7)
    const b = new Uint8Array(20)
    b.set(v6(dst), 3)
    expect(rss.ipv6(a, 7, b, 3, srcPort, dstPort)).toBe(fourTuple)
    const frame = ipv6Frame(v6(src), v6(dst), 6, srcPort, dstPort)
    const shifted = new Uint8Array(frame.length + 5)
    shifted.set(frame, 5)
    expect(rss.frame(shifted, 5, frame.length)).toBe(fourTuple)
  })

  it('is symmetric with the default 0x6d5a key, for IPv6 as for IPv4: both directions of a flow hash alike', () => {
    const rss = new RssHash()
    fc.assert(fc.property(address6, address6, port, port, (a, b, p, q) => rss.ipv6(a, 0, b, 0, p, q) === rss.ipv6(b, 0, a, 0, q, p)))
    fc.assert(fc.property(address6, address6, port, port, (a, b, p, q) => rss.frame(ipv6Frame(a, b, 6, p, q), 0, 74) === rss.frame(ipv6Frame(b, a, 6, q, p), 0, 74)))
    fc.assert(fc.property(uint32, uint32, port, port, (a, b, p, q) => rss.ipv4(a, b, p, q) === rss.ipv4(b, a, q, p)))
  })

  it('is not symmetric with the verification key (so the property above says something)', () => {
    const rss = new RssHash(MICROSOFT_KEY)
    const [dst, dstPort, src, srcPort] = IPV6_VECTORS[0]!
    expect(rss.ipv6(v6(src), 0, v6(dst), 0, srcPort, dstPort)).not.toBe(rss.ipv6(v6(dst), 0, v6(src), 0, dstPort, srcPort))
  })

  it('uses every byte of both IPv6 addresses (a 12-byte IPv4-sized key window would miss the low ones)', () => {
    const rss = new RssHash(MICROSOFT_KEY)
    const base = v6('3ffe:2501:200:1fff::7')
    const other = v6('3ffe:2501:200:3::1')
    const reference = rss.ipv6(base, 0, other, 0, 1, 2)
    for (let i = 0; i < 16; i++) {
      const changed = base.slice()
      changed[i]! ^= 0x01
      expect(rss.ipv6(changed, 0, other, 0, 1, 2)).not.toBe(reference)
      const changedDst = other.slice()
      changedDst[i]! ^= 0x80
      expect(rss.ipv6(base, 0, changedDst, 0, 1, 2)).not.toBe(reference)
    }
  })

  it('fits a short key by repetition, as startDpdkQueues fits a key to a device', () => {
    const short = MICROSOFT_KEY.subarray(0, 16)
    const repeated = Uint8Array.from({ length: RSS_KEY_BYTES }, (_, i) => short[i % 16]!)
    expect(new RssHash(short).key).toEqual(repeated)
    const a = v6('2001:db8::1')
    const b = v6('2001:db8::2')
    expect(new RssHash(short).ipv6(a, 0, b, 0, 5, 6)).toBe(new RssHash(repeated).ipv6(a, 0, b, 0, 5, 6))
    expect(new RssHash().key).toEqual(symmetricRssKey())
  })

  it('rejects a key shorter than an IPv4 4-tuple needs', () => {
    expect(() => new RssHash(new Uint8Array(15))).toThrow(DpdkIoError)
    expect(() => new RssHash('key' as unknown as Uint8Array)).toThrow(/at least 16 bytes/)
  })

  describe('frame', () => {
    const rss = new RssHash(MICROSOFT_KEY)
    const src = v6('2001:db8::1')
    const dst = v6('2001:db8::2')

    it('hashes IPv6 fragments and extension-header chains by the address pair only', () => {
      const pair = rss.ipv6Addresses(src, 0, dst, 0)
      expect(rss.frame(ipv6Frame(src, dst, 44, 1000, 80), 0, 74)).toBe(pair) // Fragment header
      expect(rss.frame(ipv6Frame(src, dst, 0, 1000, 80), 0, 74)).toBe(pair) // Hop-by-Hop
      expect(rss.frame(ipv6Frame(src, dst, 6, 1000, 80), 0, 74)).not.toBe(pair)
    })

    it('hashes IPv4 the same way: fragments and ICMP by the address pair', () => {
      const [dst4, dstPort, src4, srcPort, addressesOnly, fourTuple] = IPV4_VECTORS[1]!
      expect(rss.frame(ipv4Frame(v4(src4), v4(dst4), 17, srcPort, dstPort), 0, 54)).toBe(fourTuple)
      expect(rss.frame(ipv4Frame(v4(src4), v4(dst4), 6, srcPort, dstPort, 0x2000), 0, 54)).toBe(addressesOnly) // MF
      expect(rss.frame(ipv4Frame(v4(src4), v4(dst4), 1, srcPort, dstPort), 0, 54)).toBe(addressesOnly)
    })

    it('returns -1 for what it cannot hash: truncated headers, a wrong version, other EtherTypes', () => {
      const frame = ipv6Frame(src, dst, 6, 1000, 80)
      expect(rss.frame(frame, 0, 14 + 39)).toBe(-1)
      expect(rss.frame(frame, 0, 13)).toBe(-1)
      // A TCP header cut before its ports: the address pair, never a read past the frame.
      expect(rss.frame(ipv6Frame(src, dst, 6, 0, 0, 3), 0, 57)).toBe(rss.ipv6Addresses(src, 0, dst, 0))
      const wrongVersion = frame.slice()
      wrongVersion[14] = 0x45
      expect(rss.frame(wrongVersion, 0, 74)).toBe(-1)
      const vlan = frame.slice()
      vlan[12] = 0x81
      vlan[13] = 0x00
      expect(rss.frame(vlan, 0, 74)).toBe(-1)
    })

    it('never reads outside [offset, offset + length): the same bytes inside any surroundings hash alike', () => {
      const frameBytes = fc.uint8Array({ maxLength: 100 })
      fc.assert(
        fc.property(frameBytes, fc.constantFrom(0x86dd, 0x0800, 0x0806), fc.uint8Array({ minLength: 80, maxLength: 80 }), (bytes, etherType, noise) => {
          if (bytes.length >= 14) {
            bytes[12] = etherType >>> 8
            bytes[13] = etherType & 0xff
            bytes[14] = etherType === 0x86dd ? 0x60 | (bytes[14]! & 0x0f) : 0x40 | (bytes[14]! & 0x0f)
          }
          const embedded = new Uint8Array(40 + bytes.length + 40)
          embedded.set(noise.subarray(0, 40), 0)
          embedded.set(bytes, 40)
          embedded.set(noise.subarray(40), 40 + bytes.length)
          return rss.frame(embedded, 40, bytes.length) === rss.frame(bytes, 0, bytes.length)
        }),
      )
    })
  })
})
