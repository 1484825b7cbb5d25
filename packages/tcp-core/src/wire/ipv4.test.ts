import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { internetChecksum } from './checksum.js'
import { WireError } from './errors.js'
import { addressField, arbitraryBytes, bytesAt, capturedFrame, framesWhere, filled, numberField } from './fixtures/frame-helpers.js'
import {
  emitIpv4,
  formatIpv4Address,
  IPV4_HEADER_LENGTH,
  IpProtocol,
  type Ipv4Repr,
  Ipv4View,
  parseIpv4,
  parseIpv4Address,
} from './ipv4.js'

function parse(bytes: Uint8Array, checksum: 'verify' | 'skip' = 'verify'): Ipv4Repr | WireError {
  const view = Ipv4View.checked(bytes, checksum)
  return view instanceof WireError ? view : parseIpv4(view)
}

/** The captured SYN's IPv4 datagram, copied so a test can change it. */
function synDatagram(): Uint8Array {
  return bytesAt(capturedFrame('syn')).subarray(14).slice()
}

/** Rewrite a correct header checksum after a test changed a field. */
function fixChecksum(datagram: Uint8Array): Uint8Array {
  const headerLength = (datagram[0]! & 0x0f) * 4
  datagram[10] = 0
  datagram[11] = 0
  const sum = internetChecksum(datagram, 0, headerLength)
  datagram[10] = sum >>> 8
  datagram[11] = sum & 0xff
  return datagram
}

const ipv4Frames = framesWhere((frame) => frame.tshark['ip.version'] !== undefined)

describe('IPv4 (RFC 791)', () => {
  it('has captured IPv4 frames of both protocols to test', () => {
    expect(ipv4Frames.filter((f) => f.tshark['ip.proto'] === '6').length).toBeGreaterThan(10)
    expect(ipv4Frames.filter((f) => f.tshark['ip.proto'] === '1').length).toBe(4)
  })

  it('parses every captured datagram as tshark decoded it and emits the same header bytes', () => {
    for (const frame of ipv4Frames) {
      const datagram = bytesAt(frame).subarray(14)
      const view = Ipv4View.checked(datagram)
      if (view instanceof WireError) throw new Error(`${frame.name}: ${view}`)
      expect(view.version).toBe(numberField(frame, 'ip.version'))
      expect(view.headerLength).toBe(numberField(frame, 'ip.hdr_len'))
      expect(view.totalLength).toBe(numberField(frame, 'ip.len'))
      expect(view.checksum).toBe(numberField(frame, 'ip.checksum'))
      expect(view.moreFragments).toBe(false)
      expect(view.fragmentOffset).toBe(numberField(frame, 'ip.frag_offset'))
      expect(view.options.length).toBe(0)
      const repr = parseIpv4(view)
      expect(repr, frame.name).toEqual({
        src: addressField(frame, 'ip.src'),
        dst: addressField(frame, 'ip.dst'),
        protocol: numberField(frame, 'ip.proto'),
        ttl: numberField(frame, 'ip.ttl'),
        identification: numberField(frame, 'ip.id'),
        dontFragment: numberField(frame, 'ip.flags.df') === 1,
        payloadLength: numberField(frame, 'ip.len') - numberField(frame, 'ip.hdr_len'),
        dscp: 0,
        ecn: 0,
      })
      expect(view.payload.length).toBe((repr as Ipv4Repr).payloadLength)
      const out = filled(IPV4_HEADER_LENGTH + 2)
      expect(emitIpv4(repr as Ipv4Repr, out, 1)).toBe(IPV4_HEADER_LENGTH)
      expect(out.subarray(1, 21), frame.name).toEqual(datagram.subarray(0, 20))
      expect([out[0], out[21]]).toEqual([0xa5, 0xa5])
    }
  })

  it('leaves the checksum at 0 for the NIC with offload', () => {
    const frame = capturedFrame('echoReply')
    const repr = parse(bytesAt(frame).subarray(14)) as Ipv4Repr
    const out = filled(IPV4_HEADER_LENGTH)
    emitIpv4(repr, out, 0, 'offload')
    expect([out[10], out[11]]).toEqual([0, 0])
    expect(internetChecksum(out)).toBe(numberField(frame, 'ip.checksum')) // what the NIC would store
  })

  it('trims link-layer padding by the total length', () => {
    const padded = new Uint8Array(100)
    padded.set(synDatagram())
    const view = Ipv4View.checked(padded)
    if (view instanceof WireError) throw new Error(String(view))
    expect(view.payload.length).toBe(40)
  })

  it('skips options (IHL > 5) but keeps them readable', () => {
    const datagram = synDatagram()
    const withOptions = new Uint8Array(datagram.length + 4)
    withOptions.set(datagram.subarray(0, 20))
    withOptions.set([0x01, 0x01, 0x01, 0x00], 20) // NOP NOP NOP EOL
    withOptions.set(datagram.subarray(20), 24)
    withOptions[0] = 0x46
    withOptions[3] = withOptions[3]! + 4
    fixChecksum(withOptions)
    const view = Ipv4View.checked(withOptions)
    if (view instanceof WireError) throw new Error(String(view))
    expect(view.options).toEqual(Uint8Array.of(1, 1, 1, 0))
    expect(view.payload).toEqual(datagram.subarray(20))
    expect(parseIpv4(view)).toMatchObject({ payloadLength: 40, protocol: IpProtocol.TCP })
  })

  it('reads DSCP and ECN from the former type of service byte', () => {
    const datagram = synDatagram()
    datagram[1] = (46 << 2) | 3 // EF, CE
    expect(parse(fixChecksum(datagram))).toMatchObject({ dscp: 46, ecn: 3 })
  })

  describe('reports malformed datagrams with their codes', () => {
    it('TRUNCATED: shorter than 20 bytes, or than the total length', () => {
      expect(parse(synDatagram().subarray(0, 19))).toMatchObject({ protocol: 'ipv4', code: 'TRUNCATED' })
      expect(parse(synDatagram().subarray(0, 59))).toMatchObject({ code: 'TRUNCATED' })
    })

    it('BAD_VERSION: not 4 (RFC 1122 §3.2.1.1)', () => {
      const datagram = synDatagram()
      datagram[0] = 0x65
      expect(parse(datagram)).toMatchObject({ code: 'BAD_VERSION' })
    })

    it('BAD_HEADER_LENGTH: IHL < 5, or a header longer than the datagram', () => {
      const short = synDatagram()
      short[0] = 0x44
      expect(parse(short)).toMatchObject({ code: 'BAD_HEADER_LENGTH' })
      const long = synDatagram()
      long[3] = 19 // total length 19 < header 20
      expect(parse(long)).toMatchObject({ code: 'BAD_HEADER_LENGTH' })
      const ihl15 = new Uint8Array(80)
      ihl15.set(synDatagram())
      ihl15[0] = 0x4f // 60-byte header in a 60-byte datagram: fine structurally, checksum then fails
      expect(parse(ihl15)).toMatchObject({ code: 'BAD_CHECKSUM' })
    })

    it('BAD_CHECKSUM: one bit flipped in the header (RFC 1122 §3.2.1.2), unless skipped', () => {
      const datagram = synDatagram()
      datagram[8] = datagram[8]! ^ 1 // TTL 64 → 65
      expect(parse(datagram)).toMatchObject({ code: 'BAD_CHECKSUM' })
      expect(parse(datagram, 'skip')).toMatchObject({ ttl: 65 })
    })

    it('FRAGMENT: More Fragments set, or a non-zero offset', () => {
      const first = synDatagram()
      first[6] = 0x20 // MF
      expect(parse(fixChecksum(first))).toMatchObject({ code: 'FRAGMENT' })
      const later = synDatagram()
      later[6] = 0x00
      later[7] = 0xb9 // offset 185 × 8 = 1480
      const view = Ipv4View.checked(fixChecksum(later))
      if (view instanceof WireError) throw new Error(String(view))
      expect(view.fragmentOffset).toBe(1480)
      expect(parseIpv4(view)).toMatchObject({ protocol: 'ipv4', code: 'FRAGMENT' })
    })
  })

  it('throws on a buffer too small or a payload too long to encode', () => {
    const repr = parse(synDatagram()) as Ipv4Repr
    expect(() => emitIpv4(repr, new Uint8Array(19))).toThrowError(expect.objectContaining({ code: 'ERR_BUFFER_TOO_SMALL' }))
    expect(() => emitIpv4({ ...repr, payloadLength: 65516 }, new Uint8Array(20))).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_FIELD' }),
    )
  })

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.oneof(arbitraryBytes, arbitraryBytes.map((b) => b.subarray(14))), fc.boolean(), (bytes, skip) => {
        const result = parse(bytes, skip ? 'skip' : 'verify')
        if (!(result instanceof WireError)) expect(result.payloadLength).toBeLessThanOrEqual(bytes.length - 20)
      }),
    )
  })

  it('round-trips arbitrary headers', () => {
    const repr = fc.record({
      src: fc.integer({ min: 0, max: 0xffff_ffff }),
      dst: fc.integer({ min: 0, max: 0xffff_ffff }),
      protocol: fc.integer({ min: 0, max: 255 }),
      ttl: fc.integer({ min: 0, max: 255 }),
      identification: fc.integer({ min: 0, max: 0xffff }),
      dontFragment: fc.boolean(),
      payloadLength: fc.integer({ min: 0, max: 64 }),
      dscp: fc.integer({ min: 0, max: 63 }),
      ecn: fc.integer({ min: 0, max: 3 }),
    })
    fc.assert(
      fc.property(repr, fc.nat(8), (ip, offset) => {
        const out = filled(offset + 20 + ip.payloadLength)
        emitIpv4(ip, out, offset)
        expect(parse(out.subarray(offset))).toEqual(ip)
      }),
    )
  })
})

describe('IPv4 address helpers', () => {
  it('parse and format dotted quads', () => {
    expect(parseIpv4Address('10.99.0.1')).toBe(0x0a63_0001)
    expect(parseIpv4Address('255.255.255.255')).toBe(0xffff_ffff)
    expect(formatIpv4Address(0x0a63_0002)).toBe('10.99.0.2')
    for (const text of ['', '10.99.0', '10.99.0.256', '10.99.0.01', '10.99.0.-1', '10.99.0.1.2', 'a.b.c.d']) {
      expect(parseIpv4Address(text), text).toBeUndefined()
    }
  })

  it('round-trip every address', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), (address) => {
        expect(parseIpv4Address(formatIpv4Address(address))).toBe(address)
      }),
    )
  })
})
