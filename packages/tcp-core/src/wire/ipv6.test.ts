import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { internetChecksum } from './checksum.js'
import { field, numberField } from './fixtures/frame-helpers.js'
import { arbitraryIpv6Bytes, capturedIpv6Frame, capturedIpv6Frames, datagramOf, firstField, firstNumber, ipv6Field } from './fixtures/ipv6-helpers.js'
import {
  emitIpv6,
  Icmpv6ParameterProblemCode,
  IPV6_HEADER_LENGTH,
  Ipv6ChainStatus,
  Ipv6HeaderChain,
  ipv6HeaderProblem,
  Ipv6NextHeader,
  Ipv6View,
  parseIpv6,
  walkIpv6Headers,
} from './ipv6.js'
import { formatIpv6Address } from './ipv6-address.js'
import { ipv6PseudoHeaderSum, ipv6PseudoHeaderSumOf, ipv6UpperLayerChecksum } from './ipv6-checksum.js'
import { Ipv6WireError } from './ipv6-errors.js'
import { emitTcp, parseTcp, TcpView } from './tcp.js'
import { WireError } from './errors.js'

function view(bytes: Uint8Array): Ipv6View {
  const v = Ipv6View.checked(bytes)
  if (v instanceof Ipv6WireError) throw new Error(v.toString())
  return v
}

/** A datagram: fixed header with `nextHeader`, then `payload`. */
function datagram(nextHeader: number, payload: number[], dst = 'fd99::2'): Uint8Array {
  const bytes = new Uint8Array(IPV6_HEADER_LENGTH + payload.length)
  const src = new Uint8Array(16)
  src[0] = 0xfd
  src[15] = 1
  const d = new Uint8Array(16)
  if (dst === 'ff02::1') {
    d[0] = 0xff
    d[1] = 2
    d[15] = 1
  } else {
    d[0] = 0xfd
    d[15] = 2
  }
  emitIpv6({ src, dst: d, nextHeader, hopLimit: 64, payloadLength: payload.length }, bytes)
  bytes.set(payload, IPV6_HEADER_LENGTH)
  return bytes
}

describe('IPv6 header (RFC 8200 §3)', () => {
  for (const frame of capturedIpv6Frames) {
    it(`parses captured ${frame.name} as tshark decoded it and re-emits its header byte for byte`, () => {
      const bytes = datagramOf(frame)
      const v = view(bytes)
      expect(v.version).toBe(6)
      expect(v.payloadLength).toBe(firstNumber(frame, 'ipv6.plen'))
      expect(v.nextHeader).toBe(firstNumber(frame, 'ipv6.nxt'))
      expect(v.hopLimit).toBe(firstNumber(frame, 'ipv6.hlim'))
      expect(v.flowLabel).toBe(firstNumber(frame, 'ipv6.flow'))
      expect(v.trafficClass).toBe(firstNumber(frame, 'ipv6.tclass'))
      expect(formatIpv6Address(v.src)).toBe(firstField(frame, 'ipv6.src'))
      expect(formatIpv6Address(v.dst)).toBe(firstField(frame, 'ipv6.dst'))
      expect(v.payload.byteLength).toBe(v.payloadLength)
      const out = new Uint8Array(IPV6_HEADER_LENGTH).fill(0xa5)
      expect(emitIpv6(parseIpv6(v), out)).toBe(IPV6_HEADER_LENGTH)
      expect(out).toEqual(bytes.subarray(0, IPV6_HEADER_LENGTH))
    })
  }

  it('reports truncation, a wrong version and jumbograms by code', () => {
    const bytes = datagramOf(capturedIpv6Frame('syn')).slice()
    expect(ipv6HeaderProblem(bytes, 0, 39)).toBe('TRUNCATED')
    expect(ipv6HeaderProblem(bytes, 0, bytes.byteLength - 1)).toBe('TRUNCATED')
    expect(ipv6HeaderProblem(bytes, 1, bytes.byteLength)).toBe('TRUNCATED')
    expect(ipv6HeaderProblem(bytes, 0, bytes.byteLength)).toBeUndefined()
    const v4 = bytes.slice()
    v4[0] = 0x45
    expect(ipv6HeaderProblem(v4, 0, v4.byteLength)).toBe('BAD_VERSION')
    expect((Ipv6View.checked(v4) as Ipv6WireError).code).toBe('BAD_VERSION')
    const jumbo = datagram(Ipv6NextHeader.HOP_BY_HOP, [59, 0, 0xc2, 4, 0, 1, 0, 0])
    jumbo[4] = 0
    jumbo[5] = 0
    expect(ipv6HeaderProblem(jumbo, 0, jumbo.byteLength)).toBe('UNSUPPORTED')
  })

  it('reset re-points one view at several datagrams, padding allowed', () => {
    const v = new Ipv6View()
    const syn = datagramOf(capturedIpv6Frame('syn'))
    const padded = new Uint8Array(syn.byteLength + 10)
    padded.set(syn, 4)
    expect(v.reset(padded, 4, syn.byteLength + 6)).toBeUndefined()
    expect(v.srcOffset).toBe(12)
    expect(formatIpv6Address(v.bytes, v.srcOffset)).toBe('fd99::1')
    expect(v.payload).toEqual(syn.subarray(40))
    expect(v.reset(padded, 4, 20)).toBe('TRUNCATED')
  })

  it('emits DSCP, ECN and the flow label and rejects fields out of range', () => {
    const src = new Uint8Array(16)
    const out = new Uint8Array(40)
    emitIpv6({ src, dst: src, nextHeader: 6, hopLimit: 1, payloadLength: 0, dscp: 46, ecn: 2, flowLabel: 0xabcde }, out)
    const v = new Ipv6View()
    expect(v.reset(out)).toBeUndefined()
    expect([v.dscp, v.ecn, v.flowLabel]).toEqual([46, 2, 0xabcde])
    expect(() => emitIpv6({ src, dst: src, nextHeader: 6, hopLimit: 1, payloadLength: 65536 }, out)).toThrow(/payloadLength/)
    expect(() => emitIpv6({ src, dst: src, nextHeader: 6, hopLimit: 1, payloadLength: 0, flowLabel: 1 << 20 }, out)).toThrow(/flowLabel/)
    expect(() => emitIpv6({ src, dst: src, nextHeader: 6, hopLimit: 1, payloadLength: 0 }, out, 1)).toThrow(/needs 40 bytes/)
  })

  it('never throws on arbitrary bytes, and a view it accepts stays within the bytes', () => {
    const chain = new Ipv6HeaderChain()
    fc.assert(
      fc.property(arbitraryIpv6Bytes, fc.nat({ max: 8 }), (bytes, offset) => {
        const problem = ipv6HeaderProblem(bytes, offset, bytes.byteLength - offset)
        const checked = Ipv6View.checked(bytes, Math.min(offset, bytes.byteLength))
        if (problem !== undefined) return
        expect(checked).toBeInstanceOf(Ipv6View)
        const status = walkIpv6Headers(bytes, offset, chain)
        expect(status).toBeGreaterThanOrEqual(0)
        expect(chain.upperOffset).toBeLessThanOrEqual(IPV6_HEADER_LENGTH + (checked as Ipv6View).payloadLength)
        if (status === Ipv6ChainStatus.PARAMETER_PROBLEM) expect(chain.problemPointer).toBeLessThan(IPV6_HEADER_LENGTH + (checked as Ipv6View).payloadLength)
      }),
      { numRuns: 2000 },
    )
  })
})

describe('extension header chain (RFC 8200 §4)', () => {
  const chain = new Ipv6HeaderChain()

  it('walks the captured MLD report\'s Hop-by-Hop header with its Router Alert (RFC 2711) to ICMPv6', () => {
    const mld = capturedIpv6Frames.find((frame) => frame.tshark['ipv6.nxt'] === '0')!
    const bytes = datagramOf(mld)
    expect(walkIpv6Headers(bytes, 0, chain)).toBe(Ipv6ChainStatus.UPPER_LAYER)
    expect(chain.hasHopByHop).toBe(true)
    expect(chain.routerAlert).toBe(0) // MLD
    expect(chain.upperProtocol).toBe(Ipv6NextHeader.ICMPV6)
    expect(chain.upperOffset).toBe(48)
    expect(chain.nextHeaderPointer).toBe(40)
    expect(bytes[40 + chain.upperOffset - 40]).toBe(numberField(mld, 'icmpv6.type'))
  })

  it('stops at the captured fragments\' Fragment header with the offset, M flag and identification tshark shows', () => {
    for (const name of ['fragmentFirst', 'fragmentLast']) {
      const frame = capturedIpv6Frame(name)
      expect(walkIpv6Headers(datagramOf(frame), 0, chain)).toBe(Ipv6ChainStatus.FRAGMENT)
      expect(chain.fragmentHeaderOffset).toBe(40)
      expect(chain.fragmentOffset).toBe(numberField(frame, 'ipv6.fraghdr.offset') * 8)
      expect(chain.moreFragments).toBe(field(frame, 'ipv6.fraghdr.more') === '1')
      expect(chain.fragmentIdentification).toBe(numberField(frame, 'ipv6.fraghdr.ident'))
    }
  })

  it('reads the captured TCP SYN and points a parameter problem for an unknown protocol at the Next Header field', () => {
    expect(walkIpv6Headers(datagramOf(capturedIpv6Frame('syn')), 0, chain)).toBe(Ipv6ChainStatus.UPPER_LAYER)
    expect([chain.upperProtocol, chain.upperOffset, chain.nextHeaderPointer]).toEqual([6, 40, 6])
    // The kernel's own parameter problem about Next Header 253 carries pointer 6, the value our walk gives.
    const pp = datagramOf(capturedIpv6Frame('parameterProblem'))
    const invoking = pp.subarray(48)
    expect(walkIpv6Headers(invoking, 0, chain)).toBe(Ipv6ChainStatus.UPPER_LAYER)
    expect(chain.upperProtocol).toBe(253)
    expect(chain.nextHeaderPointer).toBe(numberField(capturedIpv6Frame('parameterProblem'), 'icmpv6.pointer'))
  })

  it('walks Destination Options, a Routing header with Segments Left 0, and an atomic fragment in any order (RFC 6946)', () => {
    const bytes = datagram(Ipv6NextHeader.DESTINATION_OPTIONS, [
      43, 0, 1, 4, 0, 0, 0, 0, // Destination Options: PadN of 4 (8 bytes)
      44, 0, 4, 0, 0, 0, 0, 0, // Routing: type 4, Segments Left 0 → ignored
      60, 0, 0, 0, 0, 0, 0, 7, // Fragment: offset 0, M 0 → atomic
      6, 0, 0, 0, 0, 0, 0, 0, // Destination Options again: Pad1 ×6 after the 2-byte header
      1, 2, 3, 4, // upper layer bytes
    ])
    expect(walkIpv6Headers(bytes, 0, chain)).toBe(Ipv6ChainStatus.UPPER_LAYER)
    expect([chain.upperProtocol, chain.upperOffset, chain.nextHeaderPointer]).toEqual([6, 72, 64])
    expect([chain.fragmentHeaderOffset, chain.fragmentIdentification]).toEqual([56, 7])
  })

  it('answers a Hop-by-Hop header after another header with code 1 at the Next Header field that named it', () => {
    const bytes = datagram(Ipv6NextHeader.DESTINATION_OPTIONS, [0, 0, 1, 4, 0, 0, 0, 0, 59, 0, 1, 4, 0, 0, 0, 0])
    expect(walkIpv6Headers(bytes, 0, chain)).toBe(Ipv6ChainStatus.PARAMETER_PROBLEM)
    expect([chain.problemCode, chain.problemPointer]).toEqual([Icmpv6ParameterProblemCode.UNRECOGNIZED_NEXT_HEADER, 40])
  })

  it('answers a Routing header with Segments Left > 0 with code 0 at the Routing Type (RFC 8200 §4.4)', () => {
    const bytes = datagram(Ipv6NextHeader.ROUTING, [59, 0, 4, 1, 0, 0, 0, 0])
    expect(walkIpv6Headers(bytes, 0, chain)).toBe(Ipv6ChainStatus.PARAMETER_PROBLEM)
    expect([chain.problemCode, chain.problemPointer]).toEqual([0, 42])
  })

  it('acts on an unknown option by its two high bits (RFC 8200 §4.2)', () => {
    const withOption = (type: number, dst?: string): Uint8Array => datagram(Ipv6NextHeader.DESTINATION_OPTIONS, [59, 0, 1, 0, type, 2, 0, 0], dst)
    expect(walkIpv6Headers(withOption(0x1e), 0, chain)).toBe(Ipv6ChainStatus.NO_NEXT_HEADER) // 00: skipped
    expect(walkIpv6Headers(withOption(0x5e), 0, chain)).toBe(Ipv6ChainStatus.DISCARD) // 01
    expect(walkIpv6Headers(withOption(0x9e, 'ff02::1'), 0, chain)).toBe(Ipv6ChainStatus.PARAMETER_PROBLEM) // 10, even to multicast
    expect([chain.problemCode, chain.problemPointer]).toEqual([2, 44])
    expect(walkIpv6Headers(withOption(0xde), 0, chain)).toBe(Ipv6ChainStatus.PARAMETER_PROBLEM) // 11 to unicast
    expect(walkIpv6Headers(withOption(0xde, 'ff02::1'), 0, chain)).toBe(Ipv6ChainStatus.DISCARD) // 11 to multicast: silent
  })

  it('reports headers and options that run past the payload as TRUNCATED', () => {
    expect(walkIpv6Headers(datagram(Ipv6NextHeader.DESTINATION_OPTIONS, [59, 1, 0, 0, 0, 0, 0, 0]), 0, chain)).toBe(Ipv6ChainStatus.TRUNCATED)
    expect(walkIpv6Headers(datagram(Ipv6NextHeader.DESTINATION_OPTIONS, [59, 0, 1, 9, 0, 0, 0, 0]), 0, chain)).toBe(Ipv6ChainStatus.TRUNCATED)
    expect(walkIpv6Headers(datagram(Ipv6NextHeader.FRAGMENT, [59, 0, 0, 0]), 0, chain)).toBe(Ipv6ChainStatus.TRUNCATED)
  })
})

describe('IPv6 pseudo-header sum (RFC 8200 §8.1)', () => {
  it('verifies every captured ICMPv6 and TCP checksum to 0', () => {
    let checked = 0
    const chain = new Ipv6HeaderChain()
    for (const frame of capturedIpv6Frames) {
      const bytes = datagramOf(frame)
      if (walkIpv6Headers(bytes, 0, chain) !== Ipv6ChainStatus.UPPER_LAYER || ![6, 17, 58].includes(chain.upperProtocol)) continue
      const length = bytes.byteLength - chain.upperOffset
      const pseudo = ipv6PseudoHeaderSum(bytes, 8, 24, chain.upperProtocol, length)
      expect(internetChecksum(bytes, chain.upperOffset, length, pseudo)).toBe(0)
      expect(pseudo).toBe(ipv6PseudoHeaderSumOf(ipv6Field(frame, 'ipv6.src'), ipv6Field(frame, 'ipv6.dst'), chain.upperProtocol, length))
      checked++
    }
    expect(checked).toBeGreaterThan(10)
  })

  it('rebuilds the captured TCP SYN over IPv6 byte for byte with the IPv6 pseudo-header', () => {
    for (const name of ['syn', 'synAck', 'data']) {
      const bytes = datagramOf(capturedIpv6Frame(name))
      const tcp = TcpView.checked(bytes.subarray(40))
      if (tcp instanceof WireError) throw new Error(tcp.toString())
      const repr = parseTcp(tcp, 0, 0, 'skip')
      if (repr instanceof WireError) throw new Error(repr.toString())
      const out = new Uint8Array(bytes.byteLength - 40)
      const length = emitTcp(repr, 0, 0, out, 0)
      out[16] = out[17] = 0
      const sum = ipv6UpperLayerChecksum(out, 0, length, bytes.subarray(8, 24), bytes.subarray(24, 40), 6)
      out[16] = sum >>> 8
      out[17] = sum & 0xff
      expect(sum).toBe(numberField(capturedIpv6Frame(name), 'tcp.checksum'))
      expect(out).toEqual(bytes.subarray(40))
    }
  })

  it('counts the upper-layer length as 32 bits', () => {
    const a = new Uint8Array(16)
    expect(ipv6PseudoHeaderSumOf(a, a, 6, 0x1_0002)).toBe(1 + 2 + 6)
  })
})
