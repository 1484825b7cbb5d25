import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bytesAt, field, numberField } from './fixtures/frame-helpers.js'
import { arbitraryIpv6Bytes, capturedIpv6Frame, capturedIpv6Frames, datagramOf } from './fixtures/ipv6-helpers.js'
import { formatMacAddress } from '@mtcp/primitives'
import { IPV6_HEADER_LENGTH } from './ipv6.js'
import { formatIpv6Address, ipv6MulticastMac, parseIpv6Address, solicitedNodeAddress } from './ipv6-address.js'
import { Ipv6WireError } from './ipv6-errors.js'
import { emitNdp, emitNdpFrame, ndpLength, type NdpRepr, parseNdp } from './ndp.js'

const addr = (text: string): Uint8Array => parseIpv6Address(text)!

function captured(name: string): { datagram: Uint8Array; message: Uint8Array; repr: NdpRepr } {
  const datagram = datagramOf(capturedIpv6Frame(name))
  const message = datagram.subarray(IPV6_HEADER_LENGTH)
  const repr = parseNdp(message, datagram[7]!, datagram.subarray(8, 24), datagram.subarray(24, 40))
  if (repr instanceof Ipv6WireError) throw new Error(repr.toString())
  return { datagram, message, repr }
}

function reemit({ datagram, repr }: { datagram: Uint8Array; repr: NdpRepr }): Uint8Array {
  const out = new Uint8Array(ndpLength(repr)).fill(0xa5)
  expect(emitNdp(repr, out, 0, datagram.subarray(8, 24), datagram.subarray(24, 40))).toBe(out.byteLength)
  return out
}

const ndFrames = ['dadSolicitation', 'neighborSolicitation', 'neighborAdvertisement', 'routerSolicitation', 'routerAdvertisement']

describe('Neighbor Discovery messages (RFC 4861 §4)', () => {
  for (const name of ndFrames) {
    it(`parses the captured ${name} and rebuilds it byte for byte`, () => {
      const c = captured(name)
      expect(reemit(c)).toEqual(c.message)
    })
  }

  it('parses every captured ND message the kernel sent, DAD probes with a nonce (RFC 7527) included', () => {
    let parsed = 0
    for (const frame of capturedIpv6Frames) {
      const type = Number(frame.tshark['icmpv6.type'] ?? 0)
      if (type < 133 || type > 136) continue
      const c = captured(frame.name)
      expect(reemit(c)).toEqual(c.message)
      parsed++
    }
    expect(parsed).toBeGreaterThanOrEqual(ndFrames.length)
  })

  it('reads the fields tshark decoded', () => {
    const ns = captured('neighborSolicitation').repr
    const nsFrame = capturedIpv6Frame('neighborSolicitation')
    if (ns.kind !== 'neighborSolicitation') throw new Error(ns.kind)
    expect(formatIpv6Address(ns.target)).toBe(field(nsFrame, 'icmpv6.nd.ns.target_address'))
    expect(formatMacAddress(ns.options.sourceLinkLayerAddress!)).toBe(field(nsFrame, 'icmpv6.opt.linkaddr'))
    // The kernel sent it to the target's solicited-node group at its multicast MAC (RFC 4861 §7.2.2, RFC 2464 §7).
    const group = solicitedNodeAddress(ns.target)
    expect(formatIpv6Address(group)).toBe(field(nsFrame, 'ipv6.dst'))
    expect(formatMacAddress(ipv6MulticastMac(group))).toBe(field(nsFrame, 'eth.dst'))

    const naFrame = capturedIpv6Frame('neighborAdvertisement')
    const na = captured('neighborAdvertisement').repr
    if (na.kind !== 'neighborAdvertisement') throw new Error(na.kind)
    expect([na.router, na.solicited, na.override]).toEqual(['r', 's', 'o'].map((f) => field(naFrame, `icmpv6.nd.na.flag.${f}`) === '1'))
    expect(formatMacAddress(na.options.targetLinkLayerAddress!)).toBe(field(naFrame, 'icmpv6.opt.linkaddr'))

    const dad = captured('dadSolicitation').repr
    expect(dad.kind).toBe('neighborSolicitation')
    expect(dad.options.sourceLinkLayerAddress).toBeUndefined()

    const raFrame = capturedIpv6Frame('routerAdvertisement')
    const ra = captured('routerAdvertisement').repr
    if (ra.kind !== 'routerAdvertisement') throw new Error(ra.kind)
    expect(ra.curHopLimit).toBe(numberField(raFrame, 'icmpv6.nd.ra.cur_hop_limit'))
    expect(ra.routerLifetime).toBe(numberField(raFrame, 'icmpv6.nd.ra.router_lifetime'))
    expect(ra.reachableTime).toBe(numberField(raFrame, 'icmpv6.nd.ra.reachable_time'))
    expect(ra.retransTimer).toBe(numberField(raFrame, 'icmpv6.nd.ra.retrans_timer'))
    expect(ra.options.mtu).toBe(numberField(raFrame, 'icmpv6.opt.mtu'))
    expect(ra.options.prefixes).toHaveLength(1)
    const prefix = ra.options.prefixes![0]!
    expect(formatIpv6Address(prefix.prefix)).toBe(field(raFrame, 'icmpv6.opt.prefix'))
    expect(prefix.prefixLength).toBe(numberField(raFrame, 'icmpv6.opt.prefix.length'))
    expect([prefix.onLink, prefix.autonomous]).toEqual([true, true])
    expect(prefix.validLifetime).toBe(numberField(raFrame, 'icmpv6.opt.prefix.valid_lifetime'))
    expect(prefix.preferredLifetime).toBe(numberField(raFrame, 'icmpv6.opt.prefix.preferred_lifetime'))
  })

  it('builds whole frames as the kernel does: the captured NS, Ethernet header included', () => {
    const frame = capturedIpv6Frame('neighborSolicitation')
    const bytes = bytesAt(frame)
    const { repr, datagram } = captured('neighborSolicitation')
    const out = new Uint8Array(bytes.byteLength)
    const length = emitNdpFrame(repr, { dstMac: bytes.subarray(0, 6), srcMac: bytes.subarray(6, 12), src: datagram.subarray(8, 24), dst: datagram.subarray(24, 40) }, out)
    expect(length).toBe(bytes.byteLength)
    expect(out).toEqual(bytes)
  })

  describe('validation (RFC 4861 §6.1, §7.1)', () => {
    const code = (message: Uint8Array, hopLimit: number, src: string, dst: string): string | undefined => {
      const result = parseNdp(message, hopLimit, addr(src), addr(dst))
      return result instanceof Ipv6WireError ? result.code : undefined
    }
    const ns = (): Uint8Array => captured('neighborSolicitation').message.slice()

    it('requires hop limit 255 and code 0', () => {
      expect(code(ns(), 255, 'fd99::1', 'ff02::1:ff00:2')).toBeUndefined()
      expect(code(ns(), 254, 'fd99::1', 'ff02::1:ff00:2')).toBe('BAD_FIELD')
      const m = ns()
      m[1] = 1
      expect(code(m, 255, 'fd99::1', 'ff02::1:ff00:2')).toBe('BAD_FIELD')
    })
    it('rejects a message shorter than its type, an option of length 0 or past the end', () => {
      expect(code(ns().subarray(0, 20), 255, 'fd99::1', 'ff02::1:ff00:2')).toBe('BAD_LENGTH')
      const zero = ns()
      zero[25] = 0
      expect(code(zero, 255, 'fd99::1', 'ff02::1:ff00:2')).toBe('BAD_LENGTH')
      const long = ns()
      long[25] = 2
      expect(code(long, 255, 'fd99::1', 'ff02::1:ff00:2')).toBe('BAD_LENGTH')
    })
    it('rejects a multicast target, and an NS from :: with a link-layer option or to a non-solicited-node group', () => {
      const multicast = ns()
      multicast.set(addr('ff02::1'), 8)
      expect(code(multicast, 255, 'fd99::1', 'ff02::1:ff00:2')).toBe('BAD_FIELD')
      expect(code(ns(), 255, '::', 'ff02::1:ff00:2')).toBe('BAD_FIELD')
      expect(code(ns().subarray(0, 24), 255, '::', 'ff02::1:ff00:2')).toBeUndefined()
      expect(code(ns().subarray(0, 24), 255, '::', 'fd99::2')).toBe('BAD_FIELD')
    })
    it('rejects an RA from a non-link-local source and a solicited NA to a group', () => {
      const ra = captured('routerAdvertisement').message
      expect(code(ra, 255, 'fd99::2', 'ff02::1')).toBe('BAD_FIELD')
      const na = captured('neighborAdvertisement').message
      expect(code(na, 255, 'fd99::2', 'ff02::1')).toBe('BAD_FIELD')
      expect(code(na, 255, 'fd99::2', 'fd99::1')).toBeUndefined()
    })
    it('reports other ICMPv6 types as unsupported', () => {
      expect(code(Uint8Array.of(137, 0, 0, 0), 255, 'fe80::1', 'fd99::1')).toBe('UNSUPPORTED')
      expect(code(Uint8Array.of(1, 0), 255, 'fe80::1', 'fd99::1')).toBe('TRUNCATED')
    })
  })

  it('never throws on arbitrary messages', () => {
    fc.assert(
      fc.property(arbitraryIpv6Bytes, fc.integer({ min: 133, max: 136 }), fc.boolean(), (bytes, type, unspecified) => {
        if (bytes.byteLength > 0) bytes[0] = type
        if (bytes.byteLength > 1) bytes[1] = 0
        parseNdp(bytes, 255, unspecified ? addr('::') : addr('fe80::1'), addr('ff02::1:ff00:1'))
      }),
      { numRuns: 2000 },
    )
  })

  it('rejects link-layer addresses that are not 6 bytes when emitting', () => {
    const repr: NdpRepr = { kind: 'routerSolicitation', options: { sourceLinkLayerAddress: new Uint8Array(5) } }
    expect(() => emitNdp(repr, new Uint8Array(64), 0, addr('fe80::1'), addr('ff02::2'))).toThrow(/6 bytes/)
  })
})
