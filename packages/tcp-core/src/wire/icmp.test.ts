import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { internetChecksum } from './checksum.js'
import { WireError } from './errors.js'
import { arbitraryBytes, bytesAt, capturedFrame, filled, framesWhere, numberField } from './fixtures/frame-helpers.js'
import { emitIcmp, ICMP_HEADER_LENGTH, type IcmpRepr, IcmpType, IcmpView, icmpLength, parseIcmp } from './icmp.js'

function parse(bytes: Uint8Array, checksum: 'verify' | 'skip' = 'verify'): IcmpRepr | WireError {
  const view = IcmpView.checked(bytes)
  return view instanceof WireError ? view : parseIcmp(view, checksum)
}

/** The ICMP message of a captured frame (IPv4 header of 20 bytes, checked by ipv4.test.ts). */
function message(name: string): Uint8Array {
  return bytesAt(capturedFrame(name)).subarray(34)
}

describe('ICMP (RFC 792)', () => {
  const echoFrames = framesWhere((frame) => frame.tshark['icmp.type'] !== undefined)

  it('has the two captured echo exchanges to test', () => {
    expect(echoFrames.map((frame) => frame.tshark['icmp.type'])).toEqual(['8', '0', '8', '0'])
  })

  for (const frame of echoFrames) {
    it(`parses the captured ${frame.name} as tshark decoded it and emits the same bytes`, () => {
      const bytes = message(frame.name)
      const view = IcmpView.checked(bytes)
      if (view instanceof WireError) throw new Error(String(view))
      expect(view.type).toBe(numberField(frame, 'icmp.type'))
      expect(view.code).toBe(numberField(frame, 'icmp.code'))
      expect(view.checksum).toBe(numberField(frame, 'icmp.checksum'))
      const repr = parseIcmp(view)
      expect(repr).toEqual({
        kind: numberField(frame, 'icmp.type') === 8 ? 'echoRequest' : 'echoReply',
        identifier: numberField(frame, 'icmp.ident'),
        sequenceNumber: numberField(frame, 'icmp.seq'),
        data: bytes.subarray(8),
      })
      expect(icmpLength(repr as IcmpRepr)).toBe(64)
      const out = filled(70)
      expect(emitIcmp(repr as IcmpRepr, out, 3)).toBe(64)
      expect(out.subarray(3, 67)).toEqual(bytes)
      expect([out[2], out[67]]).toEqual([0xa5, 0xa5])
    })
  }

  it('answers the captured request with the captured reply (RFC 1122 §3.2.2.6: same identifier, sequence, data)', () => {
    const request = parse(message('echoRequest')) as IcmpRepr
    const out = filled(64)
    emitIcmp({ ...request, kind: 'echoReply' } as IcmpRepr, out)
    expect(out).toEqual(message('echoReply'))
  })

  it('does not copy data already in place, and leaves the checksum 0 with offload', () => {
    const out = message('echoRequest').slice()
    const repr = parse(out) as IcmpRepr
    emitIcmp(repr, out, 0, 'offload')
    expect([out[2], out[3]]).toEqual([0, 0])
    expect(out.subarray(8)).toEqual(message('echoRequest').subarray(8))
    expect(internetChecksum(out)).toBe(numberField(capturedFrame('echoRequest'), 'icmp.checksum'))
  })

  it('reports other types as such', () => {
    const unreachable = new Uint8Array(36)
    unreachable.set([IcmpType.DESTINATION_UNREACHABLE, 3, 0, 0, 0, 0, 0, 0])
    unreachable.set(bytesAt(capturedFrame('syn')).subarray(14, 42), 8)
    const other: IcmpRepr = { kind: 'other', type: 3, code: 3, restOfHeader: 0, data: unreachable.subarray(8) }
    const out = filled(36)
    emitIcmp(other, out)
    expect(parse(out)).toEqual(other)
    const echoWithCode = message('echoRequest').slice()
    echoWithCode[1] = 1
    const request = capturedFrame('echoRequest')
    const restOfHeader = numberField(request, 'icmp.ident') * 0x10000 + numberField(request, 'icmp.seq')
    expect(parse(echoWithCode, 'skip')).toMatchObject({ kind: 'other', type: 8, code: 1, restOfHeader })
  })

  it('reports TRUNCATED under 8 bytes and BAD_CHECKSUM when a data byte changes', () => {
    expect(parse(message('echoRequest').subarray(0, 7))).toMatchObject({ protocol: 'icmp', code: 'TRUNCATED' })
    const corrupted = message('echoRequest').slice()
    corrupted[40] = corrupted[40]! ^ 0x80
    expect(parse(corrupted)).toMatchObject({ code: 'BAD_CHECKSUM' })
    expect(parse(corrupted, 'skip')).toMatchObject({ kind: 'echoRequest' })
  })

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.oneof(arbitraryBytes, arbitraryBytes.map((b) => b.subarray(34))), (bytes) => {
        parse(bytes)
      }),
    )
  })

  it('round-trips arbitrary echo and other messages', () => {
    const data = fc.uint8Array({ maxLength: 80 })
    const echo = fc.record({
      kind: fc.constantFrom('echoRequest' as const, 'echoReply' as const),
      identifier: fc.integer({ min: 0, max: 0xffff }),
      sequenceNumber: fc.integer({ min: 0, max: 0xffff }),
      data,
    })
    const other = fc.record({
      kind: fc.constant('other' as const),
      type: fc.integer({ min: 0, max: 255 }).filter((t) => t !== 0 && t !== 8),
      code: fc.integer({ min: 0, max: 255 }),
      restOfHeader: fc.integer({ min: 0, max: 0xffff_ffff }),
      data,
    })
    fc.assert(
      fc.property(fc.oneof(echo, other), fc.nat(8), (repr: IcmpRepr, offset) => {
        const out = filled(offset + ICMP_HEADER_LENGTH + repr.data.length)
        const length = emitIcmp(repr, out, offset)
        expect(parse(out.subarray(offset, offset + length))).toEqual(repr)
      }),
    )
  })
})
