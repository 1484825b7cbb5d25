import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { internetChecksum } from './checksum.js'
import { WireEmitError, WireError } from './errors.js'
import { emitIpv4, IPV4_HEADER_LENGTH, IpProtocol, Ipv4View } from './ipv4.js'
import { emitIpv4Fragment, fragmentIpv4, ipv4FragmentPayloadLength } from './ipv4-fragment.js'

/** A datagram of `payloadLength` bytes (payload byte i = i & 0xff … mixed), Don't Fragment clear. */
function datagram(payloadLength: number, options: number[] = []): Uint8Array {
  const headerLength = IPV4_HEADER_LENGTH + options.length
  const bytes = new Uint8Array(headerLength + payloadLength)
  emitIpv4({ src: 0x0a000001, dst: 0x0a000002, protocol: IpProtocol.ICMP, ttl: 64, identification: 0x1234, dontFragment: false, payloadLength }, bytes)
  bytes.set(options, IPV4_HEADER_LENGTH)
  bytes[0] = 0x40 | (headerLength / 4)
  bytes[2] = (headerLength + payloadLength) >>> 8
  bytes[3] = (headerLength + payloadLength) & 0xff
  bytes[10] = 0
  bytes[11] = 0
  const sum = internetChecksum(bytes, 0, headerLength)
  bytes[10] = sum >>> 8
  bytes[11] = sum & 0xff
  for (let i = 0; i < payloadLength; i++) bytes[headerLength + i] = (i * 7 + (i >>> 8)) & 0xff
  return bytes
}

function view(bytes: Uint8Array): Ipv4View {
  const checked = Ipv4View.checked(bytes)
  if (checked instanceof WireError) throw new Error(String(checked))
  return checked
}

/** Put the fragments' payloads back in place by their offsets (what a reassembler does). */
function joined(fragments: Uint8Array[]): Uint8Array {
  const views = fragments.map(view)
  const end = Math.max(...views.map((v) => v.fragmentOffset + v.payload.byteLength))
  const out = new Uint8Array(end)
  for (const v of views) out.set(v.payload, v.fragmentOffset)
  return out
}

describe('IPv4 fragmentation (RFC 791 §3.2)', () => {
  it('cuts 3000 payload bytes for a 1500-byte MTU into 1480 + 1480 + 40, offsets in units of 8, MF on all but the last', () => {
    const original = datagram(3000)
    const fragments = fragmentIpv4(original, 1500)
    expect(fragments.map((f) => f.byteLength)).toEqual([1500, 1500, 60])
    const views = fragments.map(view) // every header checksum verifies
    expect(views.map((v) => v.fragmentOffset)).toEqual([0, 1480, 2960])
    expect(views.map((v) => v.moreFragments)).toEqual([true, true, false])
    expect(views.map((v) => v.identification)).toEqual([0x1234, 0x1234, 0x1234])
    expect(views.every((v) => !v.dontFragment && v.protocol === IpProtocol.ICMP && v.src === 0x0a000001)).toBe(true)
    expect(joined(fragments)).toEqual(original.subarray(20))
  })

  it('returns a datagram that fits as it is', () => {
    const original = datagram(100)
    expect(fragmentIpv4(original, 576)).toEqual([original])
  })

  it('keeps every option in the first fragment and only the copied ones after it (RFC 791 §3.1)', () => {
    // NOP, a copied option (type 0x94, Router Alert: length 4), a not-copied one (type 0x07 record route, length 3), EOL: 12 bytes.
    const original = datagram(64, [0x01, 0x94, 0x04, 0x00, 0x00, 0x07, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00])
    const fragments = fragmentIpv4(original, 72)
    const [first, ...rest] = fragments.map(view)
    expect(first!.headerLength).toBe(32)
    expect(first!.options).toEqual(original.subarray(20, 32))
    for (const v of rest) {
      expect(v.headerLength).toBe(24)
      expect(v.options).toEqual(Uint8Array.of(0x94, 0x04, 0x00, 0x00))
    }
    expect(joined(fragments)).toEqual(original.subarray(32))
  })

  it('cuts a fragment again: offsets add up and the last piece keeps More Fragments', () => {
    const original = datagram(4000)
    const [first] = fragmentIpv4(original, 2000)
    const pieces = fragmentIpv4(first!, 600)
    const views = pieces.map(view)
    expect(views.every((v) => v.moreFragments)).toBe(true)
    expect(views.map((v) => v.fragmentOffset)).toEqual([0, 576, 1152, 1728])
    expect(joined(pieces)).toEqual(original.subarray(20, 20 + 1976))
  })

  it('refuses Don\'t Fragment, a bad MTU or a bad offset with a code', () => {
    const df = datagram(3000)
    df[6] = 0x40
    expect(() => fragmentIpv4(df, 1500)).toThrow(WireEmitError)
    expect(() => fragmentIpv4(df, 1500)).toThrow(/Don't Fragment/)
    const ok = datagram(3000)
    expect(() => emitIpv4Fragment(ok, 0, 60, new Uint8Array(100))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_FIELD' }))
    expect(() => emitIpv4Fragment(ok, 4, 1500, new Uint8Array(1500))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_FIELD' }))
    expect(() => emitIpv4Fragment(ok, 0, 1500, new Uint8Array(100))).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_TOO_SMALL' }))
  })

  it('writes in place with emitIpv4Fragment, stepping by ipv4FragmentPayloadLength', () => {
    const original = datagram(1000)
    const buffer = new Uint8Array(2 + 300)
    const seen: Uint8Array[] = []
    for (let at = 0; at < 1000; ) {
      const length = emitIpv4Fragment(original, at, 300, buffer, 2)
      seen.push(buffer.slice(2, 2 + length))
      at += ipv4FragmentPayloadLength(original, at, 300)
    }
    expect(seen.map((s) => s.byteLength)).toEqual([300, 300, 300, 180])
    expect(joined(seen)).toEqual(original.subarray(20))
  })

  it('puts any payload back together for any MTU (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9000 }), fc.integer({ min: 68, max: 9000 }), (length, mtu) => {
        const original = datagram(length)
        const fragments = fragmentIpv4(original, mtu)
        expect(fragments.every((f) => f.byteLength <= Math.max(mtu, original.byteLength <= mtu ? original.byteLength : 0))).toBe(true)
        const views = fragments.map(view)
        expect(views.slice(0, -1).every((v) => v.payload.byteLength % 8 === 0)).toBe(true)
        expect(joined(fragments)).toEqual(original.subarray(20))
      }),
      { numRuns: 60 },
    )
  })
})
