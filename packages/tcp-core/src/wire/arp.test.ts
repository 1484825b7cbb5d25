import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ARP_LENGTH, type ArpRepr, ArpView, emitArp, parseArp } from './arp.js'
import { WireError } from './errors.js'
import { addressField, arbitraryBytes, bytesAt, capturedFrame, filled, macField, numberField } from './fixtures/frame-helpers.js'

function parse(bytes: Uint8Array): ArpRepr | WireError {
  const view = ArpView.checked(bytes)
  return view instanceof WireError ? view : parseArp(view)
}

describe('ARP (RFC 826)', () => {
  for (const name of ['arpRequest', 'arpReply'] as const) {
    it(`parses the captured ${name} as tshark decoded it and emits the same bytes`, () => {
      const frame = capturedFrame(name)
      const packet = bytesAt(frame).subarray(14)
      const repr = parse(packet)
      expect(repr).toEqual({
        operation: numberField(frame, 'arp.opcode') === 1 ? 'request' : 'reply',
        senderHardwareAddress: macField(frame, 'arp.src.hw_mac'),
        senderProtocolAddress: addressField(frame, 'arp.src.proto_ipv4'),
        targetHardwareAddress: macField(frame, 'arp.dst.hw_mac'),
        targetProtocolAddress: addressField(frame, 'arp.dst.proto_ipv4'),
      })
      const out = filled(ARP_LENGTH + 4)
      expect(emitArp(repr as ArpRepr, out, 2)).toBe(ARP_LENGTH)
      expect(out.subarray(2, 2 + ARP_LENGTH)).toEqual(packet.subarray(0, ARP_LENGTH))
      expect([out[1], out[2 + ARP_LENGTH]]).toEqual([0xa5, 0xa5])
    })
  }

  it('reads the request operation, sender and target from the view', () => {
    const view = ArpView.checked(bytesAt(capturedFrame('arpRequest')).subarray(14))
    if (view instanceof WireError) throw new Error(String(view))
    expect([view.hardwareType, view.protocolType, view.operation]).toEqual([1, 0x0800, 1])
    expect(view.targetProtocolAddress).toBe(0x0a63_0002)
  })

  it('reports truncated packets, other address spaces and other operations', () => {
    const packet = bytesAt(capturedFrame('arpReply')).subarray(14)
    expect(parse(packet.subarray(0, 7))).toMatchObject({ protocol: 'arp', code: 'TRUNCATED' })
    expect(parse(packet.subarray(0, 27))).toMatchObject({ code: 'TRUNCATED' })
    const ieee802 = packet.slice()
    ieee802[1] = 6 // hardware type 6, IEEE 802 networks
    expect(parse(ieee802)).toMatchObject({ code: 'UNSUPPORTED' })
    const ipv6 = packet.slice()
    ipv6.set([0x86, 0xdd], 2)
    expect(parse(ipv6)).toMatchObject({ code: 'UNSUPPORTED' })
    const longHardware = packet.slice()
    longHardware[4] = 8
    expect(parse(longHardware)).toMatchObject({ code: 'UNSUPPORTED' })
    const rarp = packet.slice()
    rarp[7] = 3 // RARP request
    expect(parse(rarp)).toMatchObject({ code: 'UNSUPPORTED' })
  })

  it('accepts Ethernet padding after the 28 bytes', () => {
    const padded = new Uint8Array(46)
    padded.set(bytesAt(capturedFrame('arpRequest')).subarray(14))
    expect(parse(padded)).toMatchObject({ operation: 'request' })
  })

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.oneof(arbitraryBytes, arbitraryBytes.map((b) => b.subarray(14))), (bytes) => {
        parse(bytes)
      }),
    )
  })

  it('round-trips arbitrary packets', () => {
    const mac = fc.uint8Array({ minLength: 6, maxLength: 6 })
    const address = fc.integer({ min: 0, max: 0xffff_ffff })
    const repr = fc.record({
      operation: fc.constantFrom('request' as const, 'reply' as const),
      senderHardwareAddress: mac,
      senderProtocolAddress: address,
      targetHardwareAddress: mac,
      targetProtocolAddress: address,
    })
    fc.assert(
      fc.property(repr, fc.nat(8), (arp, offset) => {
        const out = filled(offset + ARP_LENGTH)
        emitArp(arp, out, offset)
        expect(parse(out.subarray(offset))).toEqual(arp)
      }),
    )
  })
})
