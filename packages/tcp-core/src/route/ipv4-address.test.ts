import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  formatCidr,
  formatIpv4Address,
  isIpv4Address,
  networkAddress,
  parseCidr,
  parseIpv4Address,
  prefixMask,
} from './ipv4-address.js'
import { RouteError } from './route-error.js'

describe('parseIpv4Address / formatIpv4Address', () => {
  it('puts the first octet in the most significant byte', () => {
    expect(parseIpv4Address('10.0.0.1')).toBe(0x0a00_0001)
    expect(parseIpv4Address('0.0.0.0')).toBe(0)
    expect(parseIpv4Address('255.255.255.255')).toBe(0xffff_ffff)
    expect(parseIpv4Address('192.168.1.200')).toBe(0xc0a8_01c8)
    expect(formatIpv4Address(0xc0a8_01c8)).toBe('192.168.1.200')
    expect(formatIpv4Address(0xffff_ffff)).toBe('255.255.255.255')
  })

  it('agrees with DataView.getUint32 on the wire bytes (network byte order)', () => {
    const bytes = new Uint8Array([172, 16, 5, 4])
    expect(parseIpv4Address('172.16.5.4')).toBe(new DataView(bytes.buffer).getUint32(0))
  })

  it.each(['', '10.0.0', '10.0.0.0.1', '256.0.0.1', '10.0.0.-1', '010.0.0.1', '10.0.0.1 ', ' 10.0.0.1', '0x0a.0.0.1', '10..0.1', '1e1.0.0.1', '10.0.0.1/24'])(
    'rejects %j with ERR_INVALID_ARG naming the text',
    (text) => {
      expect(() => parseIpv4Address(text)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringContaining(JSON.stringify(text)) }))
    },
  )

  it('rejects a non-uint32 on format', () => {
    for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) {
      expect(() => formatIpv4Address(bad)).toThrowError(RouteError)
    }
  })

  it('round-trips every uint32', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), (address) => {
        expect(parseIpv4Address(formatIpv4Address(address))).toBe(address)
      }),
    )
  })

  it('isIpv4Address accepts exactly the uint32 range', () => {
    expect(isIpv4Address(0)).toBe(true)
    expect(isIpv4Address(0xffff_ffff)).toBe(true)
    expect(isIpv4Address(-1)).toBe(false)
    expect(isIpv4Address(2 ** 32)).toBe(false)
    expect(isIpv4Address(0.5)).toBe(false)
    expect(isIpv4Address('10.0.0.1')).toBe(false)
  })
})

describe('parseCidr and masks', () => {
  it('parses address and prefix length, keeping host bits', () => {
    expect(parseCidr('10.0.0.0/24')).toEqual({ address: 0x0a00_0000, prefixLength: 24 })
    expect(parseCidr('0.0.0.0/0')).toEqual({ address: 0, prefixLength: 0 })
    expect(parseCidr('10.0.0.1/24')).toEqual({ address: 0x0a00_0001, prefixLength: 24 })
    expect(parseCidr('1.2.3.4/32')).toEqual({ address: 0x0102_0304, prefixLength: 32 })
  })

  it.each(['10.0.0.0', '10.0.0.0/', '10.0.0.0/33', '10.0.0.0/08', '10.0.0.0/-1', '10.0.0/8', '/8', '10.0.0.0/8/8'])('rejects %j', (text) => {
    expect(() => parseCidr(text)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
  })

  it('computes masks and network addresses', () => {
    expect(prefixMask(0)).toBe(0)
    expect(prefixMask(1)).toBe(0x8000_0000)
    expect(prefixMask(24)).toBe(0xffff_ff00)
    expect(prefixMask(32)).toBe(0xffff_ffff)
    expect(networkAddress(parseIpv4Address('10.1.2.3'), 16)).toBe(parseIpv4Address('10.1.0.0'))
    expect(networkAddress(0xffff_ffff, 0)).toBe(0)
    expect(networkAddress(0xffff_ffff, 32)).toBe(0xffff_ffff)
    expect(() => prefixMask(33)).toThrowError(/prefixLength must be an integer in \[0, 32\], got 33/)
    expect(formatCidr(parseIpv4Address('192.168.0.0'), 16)).toBe('192.168.0.0/16')
  })
})
