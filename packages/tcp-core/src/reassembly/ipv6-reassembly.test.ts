import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { internetChecksum } from '../wire/checksum.js'
import { capturedIpv6Frames, datagramOf, mutatedIpv6Datagram } from '../wire/fixtures/ipv6-helpers.js'
import { emitIpv6, IPV6_HEADER_LENGTH, Ipv6ChainStatus, Ipv6HeaderChain, Ipv6NextHeader, walkIpv6Headers } from '../wire/ipv6.js'
import { parseIpv6Address } from '../wire/ipv6-address.js'
import { ipv6PseudoHeaderSum } from '../wire/ipv6-checksum.js'
import { Ipv6Reassembler, type Ipv6ReassemblyResult } from './ipv6-reassembly.js'

const SRC = parseIpv6Address('fd99::1')!
const DST = parseIpv6Address('fd99::2')!

/** An unfragmented datagram: fixed header, optional Hop-by-Hop header (unfragmentable), then `upper` (UDP-numbered). */
function original(upper: Uint8Array, hopByHop = false, src = SRC): Uint8Array {
  const extra = hopByHop ? 8 : 0
  const out = new Uint8Array(IPV6_HEADER_LENGTH + extra + upper.byteLength)
  emitIpv6({ src, dst: DST, nextHeader: hopByHop ? Ipv6NextHeader.HOP_BY_HOP : Ipv6NextHeader.UDP, hopLimit: 64, payloadLength: extra + upper.byteLength }, out)
  if (hopByHop) out.set([Ipv6NextHeader.UDP, 0, 1, 4, 0, 0, 0, 0], IPV6_HEADER_LENGTH)
  out.set(upper, IPV6_HEADER_LENGTH + extra)
  return out
}

/** Fragment `datagram` (RFC 8200 §4.5) at the given cut points in its fragmentable part (multiples of 8). */
function fragment(datagram: Uint8Array, cuts: readonly number[], identification: number, hopByHop = false): Uint8Array[] {
  const unfragmentable = IPV6_HEADER_LENGTH + (hopByHop ? 8 : 0)
  const nextHeaderAt = hopByHop ? IPV6_HEADER_LENGTH : 6
  const body = datagram.subarray(unfragmentable)
  const bounds = [0, ...cuts.filter((c) => c > 0 && c < body.byteLength), body.byteLength]
  const out: Uint8Array[] = []
  for (let i = 0; i + 1 < bounds.length; i++) {
    const [from, to] = [bounds[i]!, bounds[i + 1]!]
    const f = new Uint8Array(unfragmentable + 8 + (to - from))
    f.set(datagram.subarray(0, unfragmentable))
    f[nextHeaderAt] = Ipv6NextHeader.FRAGMENT
    const payloadLength = f.byteLength - IPV6_HEADER_LENGTH
    f[4] = payloadLength >>> 8
    f[5] = payloadLength & 0xff
    f[unfragmentable] = datagram[nextHeaderAt]!
    const more = i + 2 < bounds.length ? 1 : 0
    f[unfragmentable + 2] = (from >>> 8) & 0xff
    f[unfragmentable + 3] = (from & 0xf8) | more
    new DataView(f.buffer).setUint32(unfragmentable + 4, identification)
    f.set(body.subarray(from, to), unfragmentable + 8)
    out.push(f)
  }
  return out
}

function feed(r: Ipv6Reassembler, now: number, datagram: Uint8Array): Ipv6ReassemblyResult {
  const chain = new Ipv6HeaderChain()
  walkIpv6Headers(datagram, 0, chain)
  return r.onFragment(now, datagram, chain)
}

const cutsFor = (length: number): fc.Arbitrary<number[]> =>
  fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, Math.floor((length - 1) / 8)) }).map((n) => n * 8), { maxLength: 12 }).map((a) => a.sort((x, y) => x - y))

describe('IPv6 reassembly (RFC 8200 §4.5)', () => {
  it('reassembles the kernel\'s captured 3000-byte echo request and reply, their checksums verifying', () => {
    for (const src of ['fd99::1', 'fd99::2']) {
      const fragments = capturedIpv6Frames.filter((f) => f.tshark['ipv6.fraghdr.ident'] !== undefined && f.tshark['ipv6.src'] === src)
      expect(fragments.length).toBe(3)
      const r = new Ipv6Reassembler()
      const results = fragments.map((f) => feed(r, 0, datagramOf(f).slice()))
      expect(results.slice(0, -1).map((x) => x.status)).toEqual(['pending', 'pending'])
      const last = results.at(-1)!
      if (last.status !== 'complete') throw new Error(last.status)
      const whole = last.datagram
      const chain = new Ipv6HeaderChain()
      expect(walkIpv6Headers(whole, 0, chain)).toBe(Ipv6ChainStatus.UPPER_LAYER)
      expect([chain.upperProtocol, chain.upperOffset]).toEqual([58, 40])
      const length = whole.byteLength - 40
      expect(length).toBe(3008) // ping -s 3000: 8-byte echo header and 3000 bytes of data
      expect(internetChecksum(whole, 40, length, ipv6PseudoHeaderSum(whole, 8, 24, 58, length))).toBe(0)
      expect(r.size).toBe(0)
      expect(r.bytesHeld).toBe(0)
    }
  })

  it('reassembles any fragmentation in any order to the original datagram', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 9, maxLength: 3000 }).chain((upper) => fc.tuple(fc.constant(upper), cutsFor(upper.byteLength), fc.boolean(), fc.nat())),
        fc.func(fc.integer()),
        ([upper, cuts, hopByHop, id], order) => {
          const datagram = original(upper, hopByHop)
          const fragments = fragment(datagram, cuts, id >>> 0, hopByHop)
          const shuffled = fragments.map((f, i) => [order(i), f] as const).sort((a, b) => a[0] - b[0]).map(([, f]) => f)
          const r = new Ipv6Reassembler()
          const results = shuffled.map((f) => feed(r, 0, f))
          if (fragments.length === 1) {
            expect(results[0]).toEqual({ status: 'complete', datagram }) // atomic (RFC 6946)
            return
          }
          expect(results.slice(0, -1).every((x) => x.status === 'pending')).toBe(true)
          expect(results.at(-1)).toEqual({ status: 'complete', datagram })
          expect([r.size, r.bytesHeld]).toEqual([0, 0])
        },
      ),
      { numRuns: 300 },
    )
  })

  it('abandons a datagram when fragments overlap, and drops its fragments still to come (RFC 5722 §4)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 64, maxLength: 2000 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 64 }),
        (upper, position, overlapSeed, overlapUnits) => {
          const datagram = original(upper)
          const fragments = fragment(datagram, [16, 48], 7)
          // A fragment overlapping fragment 1 (bytes [16, 48)) without being an exact duplicate of it.
          const alt = fragment(datagram, [8 + (overlapSeed % 2) * 16, 8 + (overlapSeed % 2) * 16 + overlapUnits * 8], 7)[1]!
          alt[alt.byteLength - 1] = alt[alt.byteLength - 1]! ^ 0xff
          const stream = [...fragments]
          stream.splice(position % stream.length, 0, alt) // before the last original: the datagram cannot be whole yet
          const r = new Ipv6Reassembler()
          const results = stream.map((f) => feed(r, 0, f))
          expect(results.some((x) => x.status === 'complete')).toBe(false)
          expect(r.stats.overlaps).toBe(1)
          const firstDrop = results.findIndex((x) => x.status === 'dropped')
          expect(results[firstDrop]).toEqual({ status: 'dropped', reason: 'overlap' })
          for (const later of results.slice(firstDrop + 1)) expect(later).toEqual({ status: 'dropped', reason: 'afterOverlap' })
          expect(r.bytesHeld).toBe(0)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('drops an exact duplicate alone and still completes', () => {
    const datagram = original(new Uint8Array(100).fill(3))
    const [a, b] = fragment(datagram, [48], 1)
    const r = new Ipv6Reassembler()
    expect(feed(r, 0, a!).status).toBe('pending')
    expect(feed(r, 0, a!)).toEqual({ status: 'dropped', reason: 'duplicate' })
    expect(feed(r, 0, b!)).toEqual({ status: 'complete', datagram })
    expect(r.stats.duplicates).toBe(1)
  })

  it('returns an atomic fragment at once without touching a reassembly with the same identification (RFC 6946 §4)', () => {
    const big = original(new Uint8Array(100).fill(1))
    const [first, second] = fragment(big, [48], 9)
    const small = original(new Uint8Array(20).fill(2))
    const [atomic] = fragment(small, [], 9)
    const r = new Ipv6Reassembler()
    expect(feed(r, 0, first!).status).toBe('pending')
    expect(feed(r, 0, atomic!)).toEqual({ status: 'complete', datagram: small })
    expect(feed(r, 0, second!)).toEqual({ status: 'complete', datagram: big })
    expect(r.stats.atomic).toBe(1)
  })

  it('answers fragment length and offset errors with parameter problems at the right field', () => {
    const datagram = original(new Uint8Array(100))
    const [first] = fragment(datagram, [48], 1)
    const odd = first!.slice(0, first!.byteLength - 3)
    odd[5] = odd[5]! - 3
    const r = new Ipv6Reassembler()
    expect(feed(r, 0, odd)).toEqual({ status: 'parameterProblem', code: 0, pointer: 4 })
    const far = first!.slice()
    far[42] = 0xff // offset 65528 + 48 bytes > 65535
    far[43] = 0xf9
    expect(feed(r, 0, far)).toEqual({ status: 'parameterProblem', code: 0, pointer: 42 })
    // RFC 7112: a first fragment whose header chain does not reach the upper layer.
    const chained = new Uint8Array(40 + 8 + 8)
    emitIpv6({ src: SRC, dst: DST, nextHeader: Ipv6NextHeader.FRAGMENT, hopLimit: 64, payloadLength: 16 }, chained)
    chained.set([Ipv6NextHeader.DESTINATION_OPTIONS, 0, 0, 1, 0, 0, 0, 5, Ipv6NextHeader.UDP, 1, 0, 0, 0, 0, 0, 0], 40)
    expect(feed(r, 0, chained)).toEqual({ status: 'parameterProblem', code: 3, pointer: 0 })
    expect(r.stats.parameterProblems).toBe(3)
    expect(r.size).toBe(0)
  })

  it('abandons a datagram after 60 s and owes a time exceeded only when the first fragment came', () => {
    const datagram = original(new Uint8Array(100))
    const [first, second] = fragment(datagram, [48], 1)
    const [, otherSecond] = fragment(datagram, [48], 2)
    const r = new Ipv6Reassembler()
    feed(r, 1_000_000, first!)
    feed(r, 2_000_000, otherSecond!)
    expect(r.pollAt()).toBe(61_000_000)
    const quoted: Uint8Array[] = []
    r.poll(60_999_999, (f) => quoted.push(f))
    expect(quoted).toEqual([])
    r.poll(61_000_000, (f) => quoted.push(f))
    expect(quoted).toEqual([first])
    expect(r.pollAt()).toBe(62_000_000)
    r.poll(62_000_000, (f) => quoted.push(f))
    expect(quoted).toHaveLength(1) // datagram 2 never had its first fragment
    expect([r.stats.timeouts, r.size, r.bytesHeld]).toEqual([2, 0, 0])
    expect(feed(r, 62_000_001, second!).status).toBe('pending') // a late fragment starts over
  })

  it('bounds the bytes of one source without evicting other sources', () => {
    const r = new Ipv6Reassembler({ maxBytesPerSource: 65_536 })
    const other = parseIpv6Address('fd99::7')!
    const theirs = fragment(original(new Uint8Array(2000), false, other), [1000], 1)[0]!
    expect(feed(r, 0, theirs).status).toBe('pending')
    let id = 100
    let result: Ipv6ReassemblyResult
    do result = feed(r, 0, fragment(original(new Uint8Array(3000)), [2048], id++)[0]!)
    while (result.status === 'pending' && id < 200)
    expect(result).toEqual({ status: 'dropped', reason: 'sourceLimit' })
    expect(r.stats.sourceLimitDrops).toBe(1)
    expect(r.stats.evictions).toBe(0)
    expect(feed(r, 0, fragment(original(new Uint8Array(2000), false, other), [1000], 1)[1]!).status).toBe('complete')
  })

  it('evicts the oldest datagram past maxDatagrams and maxBytes', () => {
    const r = new Ipv6Reassembler({ maxDatagrams: 2, maxBytes: 65_536 })
    const firsts = [1, 2, 3].map((id) => fragment(original(new Uint8Array(100)), [48], id))
    for (const [first] of firsts) feed(r, 0, first!)
    expect(r.size).toBe(2)
    expect(r.stats.evictions).toBe(1)
    expect(feed(r, 0, firsts[0]![1]!).status).toBe('pending') // datagram 1 was evicted: its tail starts over
    const big = new Ipv6Reassembler({ maxBytes: 65_536, maxBytesPerSource: 1 << 20 })
    const tails = [1, 2, 3].map((id) => fragment(original(new Uint8Array(40_000)), [8000], id)[1]!)
    for (const tail of tails) feed(big, 0, tail)
    // Each tail holds 32000 bytes: the third pushes the first out.
    expect([big.bytesHeld, big.size, big.stats.evictions]).toEqual([64_000, 2, 1])
  })

  it('never throws on mutated fragments and stays within its bounds', () => {
    const fragments = fc.uint8Array({ minLength: 64, maxLength: 1500 }).chain((upper) =>
      fc.tuple(fc.constant(upper), cutsFor(upper.byteLength), fc.nat({ max: 3 })).map(([u, cuts, id]) => fragment(original(u), cuts, id)),
    )
    const mutated = fc.tuple(fragments, fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 })).map(([list, writes]) => {
      for (const [which, at, value] of writes) {
        const f = list[which % list.length]!
        f[at % f.byteLength] = value
      }
      return list
    })
    fc.assert(
      fc.property(fc.array(fc.oneof(mutated, mutatedIpv6Datagram.map((d) => [d])), { maxLength: 8 }), fc.nat({ max: 120_000_000 }), (batches, step) => {
        const r = new Ipv6Reassembler({ maxBytes: 65_536, maxBytesPerSource: 65_536, maxDatagrams: 4 })
        const chain = new Ipv6HeaderChain()
        let now = 0
        for (const batch of batches) {
          for (const f of batch) {
            if (f.byteLength < 40 || walkIpv6Headers(f, 0, chain) !== Ipv6ChainStatus.FRAGMENT) continue
            r.onFragment(now, f, chain)
            expect(r.bytesHeld).toBeLessThanOrEqual(65_536)
            expect(r.size).toBeLessThanOrEqual(4)
          }
          now += step
          r.poll(now, () => {})
        }
      }),
      { numRuns: 300 },
    )
  })

  it('checks its options', () => {
    expect(() => new Ipv6Reassembler({ timeout: 0 })).toThrow(/timeout/)
    expect(() => new Ipv6Reassembler({ maxBytes: 10 })).toThrow(/maxBytes/)
  })
})
