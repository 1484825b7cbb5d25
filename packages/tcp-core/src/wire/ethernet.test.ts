import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { WireEmitError, WireError } from './errors.js'
import { BROADCAST_MAC } from '@mtcp/primitives'
import { emitEthernet, type EthernetRepr, EthernetView, EtherType, parseEthernet } from './ethernet.js'
import { arbitraryBytes, bytesAt, capturedFrame, capturedFrames, field, filled, macField, numberField } from './fixtures/frame-helpers.js'

function parse(bytes: Uint8Array): EthernetRepr | WireError {
  const view = EthernetView.checked(bytes)
  return view instanceof WireError ? view : parseEthernet(view)
}

describe('Ethernet II', () => {
  it('parses every captured frame as tshark decoded it and emits its header again', () => {
    for (const frame of capturedFrames) {
      const bytes = bytesAt(frame)
      const view = EthernetView.checked(bytes)
      if (view instanceof WireError) throw new Error(`${frame.name}: ${view}`)
      const repr = parseEthernet(view)
      expect(repr, frame.name).toEqual({
        dst: macField(frame, 'eth.dst'),
        src: macField(frame, 'eth.src'),
        etherType: numberField(frame, 'eth.type'),
        vlan: undefined,
      })
      expect(view.headerLength).toBe(14)
      expect(view.payload).toEqual(bytes.subarray(14))
      const out = filled(20)
      expect(emitEthernet(repr as EthernetRepr, out, 3)).toBe(14)
      expect(out.subarray(3, 17), frame.name).toEqual(bytes.subarray(0, 14))
      expect(out[2]).toBe(0xa5)
      expect(out[17]).toBe(0xa5)
    }
  })

  it('reads the broadcast destination of the captured ARP request', () => {
    const repr = parse(bytesAt(capturedFrame('arpRequest')))
    expect(repr).toMatchObject({ dst: BROADCAST_MAC, etherType: EtherType.ARP })
  })

  it('parses and emits an 802.1Q tag: inner EtherType, priority, DEI, VLAN id', () => {
    const untagged = bytesAt(capturedFrame('syn'))
    const tagged = new Uint8Array(untagged.length + 4)
    tagged.set(untagged.subarray(0, 12))
    tagged.set([0x81, 0x00, 0xb0 | 0x00, 0x2a], 12) // PCP 5, DEI 1, VID 42
    tagged.set(untagged.subarray(12), 16)
    const view = EthernetView.checked(tagged)
    if (view instanceof WireError) throw new Error(String(view))
    expect(view.tagged).toBe(true)
    expect(view.headerLength).toBe(18)
    expect(view.etherType).toBe(EtherType.IPV4)
    expect(view.payload).toEqual(untagged.subarray(14))
    const repr = parseEthernet(view) as EthernetRepr
    expect(repr.vlan).toEqual({ priority: 5, dropEligible: true, id: 42 })
    const out = filled(18)
    expect(emitEthernet(repr, out)).toBe(18)
    expect(out).toEqual(tagged.subarray(0, 18))
  })

  it('reports truncated frames, stacked tags and 802.3 length frames with their codes', () => {
    expect(parse(new Uint8Array(13))).toMatchObject({ protocol: 'ethernet', code: 'TRUNCATED' })
    const tagged = new Uint8Array(17)
    tagged.set([0x81, 0x00], 12)
    expect(parse(tagged)).toMatchObject({ code: 'TRUNCATED' })
    const qinq = new Uint8Array(64)
    qinq.set([0x88, 0xa8], 12)
    expect(parse(qinq)).toMatchObject({ code: 'UNSUPPORTED' })
    const stacked = new Uint8Array(64)
    stacked.set([0x81, 0x00, 0x00, 0x01, 0x81, 0x00], 12)
    expect(parse(stacked)).toMatchObject({ code: 'UNSUPPORTED' })
    const llc = new Uint8Array(64)
    llc.set([0x00, 0x2e], 12) // an 802.3 length of 46
    expect(parse(llc)).toMatchObject({ code: 'UNSUPPORTED' })
  })

  it('throws ERR_BUFFER_TOO_SMALL when the header does not fit', () => {
    const repr: EthernetRepr = { dst: Uint8Array.of(0, 0, 0, 0, 0, 1), src: Uint8Array.of(0, 0, 0, 0, 0, 2), etherType: EtherType.IPV4 }
    expect(() => emitEthernet(repr, new Uint8Array(20), 7)).toThrowError(expect.objectContaining({ code: 'ERR_BUFFER_TOO_SMALL' }))
    expect(() => emitEthernet(repr, new Uint8Array(20), -1)).toThrowError(WireEmitError)
  })

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(arbitraryBytes, (bytes) => {
        const result = parse(bytes)
        if (!(result instanceof WireError)) expect(result.etherType).toBeGreaterThanOrEqual(0x0600)
      }),
    )
  })

  it('round-trips arbitrary headers, tagged or not', () => {
    const mac = fc.uint8Array({ minLength: 6, maxLength: 6 })
    const vlan = fc.record({ priority: fc.integer({ min: 0, max: 7 }), dropEligible: fc.boolean(), id: fc.integer({ min: 0, max: 4095 }) })
    const etherType = fc.integer({ min: 0x0600, max: 0xffff }).filter((t) => t !== EtherType.VLAN && t !== EtherType.QINQ)
    fc.assert(
      fc.property(mac, mac, etherType, fc.option(vlan, { nil: undefined }), fc.nat(8), (dst, src, type, tag, offset) => {
        const repr: EthernetRepr = { dst, src, etherType: type, vlan: tag }
        const out = filled(offset + 18)
        const length = emitEthernet(repr, out, offset)
        expect(parse(out.subarray(offset, offset + length))).toEqual(repr)
      }),
    )
  })
})
