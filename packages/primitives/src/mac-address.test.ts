import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { BROADCAST_MAC, formatMacAddress, isMacAddress, isUnicastMacAddress, macAddressAt, macAddressEquals, parseMacAddress, writeMacAddress } from './mac-address.js'

describe('MAC addresses', () => {
  it('parses colon and dash forms and formats lowercase with colons', () => {
    expect([...parseMacAddress('02:00:5E:10:00:01')]).toEqual([0x02, 0x00, 0x5e, 0x10, 0x00, 0x01])
    expect(parseMacAddress('02-00-5e-10-00-01')).toEqual(parseMacAddress('02:00:5e:10:00:01'))
    expect(formatMacAddress(new Uint8Array([0x02, 0, 0x5e, 0x10, 0, 0xff]))).toBe('02:00:5e:10:00:ff')
  })

  it.each(['', '02:00:5e:10:00', '02:00:5e:10:00:01:02', '02:00-5e:10:00:01', '2:00:5e:10:00:01', 'g2:00:5e:10:00:01', '0200.5e10.0001'])('rejects %j', (text) => {
    expect(() => parseMacAddress(text)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
  })

  it('round-trips any 6 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), (bytes) => {
        expect(parseMacAddress(formatMacAddress(bytes))).toEqual(bytes)
      }),
    )
  })

  it('tells unicast from group and zero addresses', () => {
    expect(isUnicastMacAddress(parseMacAddress('02:00:00:00:00:01'))).toBe(true)
    expect(isUnicastMacAddress(parseMacAddress('ff:ff:ff:ff:ff:ff'))).toBe(false)
    expect(isUnicastMacAddress(parseMacAddress('33:33:00:00:00:01'))).toBe(false)
    expect(isUnicastMacAddress(parseMacAddress('00:00:00:00:00:00'))).toBe(false)
  })

  it('checks length and compares by value', () => {
    expect(isMacAddress(new Uint8Array(6))).toBe(true)
    expect(isMacAddress(new Uint8Array(7).subarray(1))).toBe(true)
    expect(isMacAddress(new Uint8Array(5))).toBe(false)
    expect(isMacAddress([0, 0, 0, 0, 0, 0])).toBe(false)
    expect(macAddressEquals(parseMacAddress('02:00:00:00:00:01'), new Uint8Array([2, 0, 0, 0, 0, 1]))).toBe(true)
    expect(macAddressEquals(parseMacAddress('02:00:00:00:00:01'), parseMacAddress('02:00:00:00:00:02'))).toBe(false)
    expect(() => formatMacAddress(new Uint8Array(4))).toThrowError(/6-byte Uint8Array, got a Uint8Array of 4 bytes/)
  })

  it('compares and writes addresses inside a frame in place', () => {
    const frame = new Uint8Array(14)
    writeMacAddress(frame, 0, BROADCAST_MAC)
    writeMacAddress(frame, 6, parseMacAddress('02:00:00:00:00:07'))
    expect(macAddressAt(frame, 0, BROADCAST_MAC)).toBe(true)
    expect(macAddressAt(frame, 6, parseMacAddress('02:00:00:00:00:07'))).toBe(true)
    expect(macAddressAt(frame, 6, parseMacAddress('02:00:00:00:00:08'))).toBe(false)
    expect(formatMacAddress(frame.subarray(6, 12))).toBe('02:00:00:00:00:07')
  })
})
