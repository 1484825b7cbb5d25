import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  formatIpv6Address,
  ipv6AddressEquals,
  ipv6AddressFromMac,
  ipv6AddressHash,
  ipv6AddressWord,
  ipv6MulticastMac,
  ipv6PrefixMatches,
  isLinkLocalIpv6,
  isMulticastIpv6,
  isUnspecifiedIpv6,
  parseIpv6Address,
  solicitedNodeAddress,
} from './ipv6-address.js'

const p = (text: string): Uint8Array => {
  const address = parseIpv6Address(text)
  if (address === undefined) throw new Error(`unparsable ${text}`)
  return address
}

describe('IPv6 address text (RFC 4291 §2.2, RFC 5952)', () => {
  it.each([
    ['2001:DB8:0:0:8:800:200C:417A', '2001:db8::8:800:200c:417a'], // §4.3 lowercase, §4.2 compress
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'], // §4.1 no leading zeros
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // §4.2.2 a single 0 field is not compressed
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // §4.2.3 the longest run
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // §4.2.3 the first run on a tie
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::', 'fe80::'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['::ffff:10.99.0.1', '::ffff:10.99.0.1'], // §5 IPv4-mapped in dotted-quad
    ['::ffff:a63:1', '::ffff:10.99.0.1'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ])('%s is %s', (text, canonical) => {
    expect(formatIpv6Address(p(text))).toBe(canonical)
  })

  it.each(['', ':', ':::', '1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7::8', '12345::', 'g::', '::1.2.3', '::256.1.1.1', '::1.2.3.4:5', 'fe80::1%eth0', '1:2:3:4:5:6:7:8::'])(
    'rejects %j',
    (text) => {
      expect(parseIpv6Address(text)).toBeUndefined()
    },
  )

  it('round-trips any address through its canonical text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.boolean(), (bytes, zeros) => {
        if (zeros) bytes.fill(0, 4, 10)
        const text = formatIpv6Address(bytes)
        expect(parseIpv6Address(text)).toEqual(bytes)
        expect(text).toBe(text.toLowerCase())
        expect(text.split('::').length).toBeLessThanOrEqual(2)
      }),
    )
  })

  it('formats at an offset and refuses to read past the array', () => {
    const bytes = new Uint8Array(20)
    bytes.set(p('fd99::2'), 3)
    expect(formatIpv6Address(bytes, 3)).toBe('fd99::2')
    expect(() => formatIpv6Address(bytes, 5)).toThrow(RangeError)
  })
})

describe('IPv6 address helpers', () => {
  it('classifies addresses (RFC 4291 §2.4)', () => {
    expect(isUnspecifiedIpv6(p('::'))).toBe(true)
    expect(isUnspecifiedIpv6(p('::1'))).toBe(false)
    expect(isMulticastIpv6(p('ff02::1'))).toBe(true)
    expect(isMulticastIpv6(p('fe80::1'))).toBe(false)
    expect(isLinkLocalIpv6(p('fe80::1'))).toBe(true)
    expect(isLinkLocalIpv6(p('febf::1'))).toBe(true)
    expect(isLinkLocalIpv6(p('fec0::1'))).toBe(false)
  })

  it('derives the solicited-node group and its multicast MAC as the kernel did (RFC 4291 §2.7.1, RFC 2464 §7)', () => {
    // The captured DAD probe for fd99::1:0:ff:fe99:601 went to ff02::1:ff99:601 at 33:33:ff:99:06:01.
    const group = solicitedNodeAddress(p('fd99::1:0:ff:fe99:601'))
    expect(formatIpv6Address(group)).toBe('ff02::1:ff99:601')
    expect([...ipv6MulticastMac(group)]).toEqual([0x33, 0x33, 0xff, 0x99, 0x06, 0x01])
  })

  it('builds the modified EUI-64 address the kernel configured from the MAC (RFC 2464 §4, RFC 4862 §5.3)', () => {
    const mac = Uint8Array.of(0x02, 0, 0, 0x99, 0x06, 0x02)
    expect(formatIpv6Address(ipv6AddressFromMac(p('fe80::'), mac))).toBe('fe80::ff:fe99:602') // the captured RA's source
  })

  it('matches prefixes bit by bit', () => {
    expect(ipv6PrefixMatches(p('fd99::1'), p('fd99::'), 64)).toBe(true)
    expect(ipv6PrefixMatches(p('fd99:0:0:1::1'), p('fd99::'), 64)).toBe(false)
    expect(ipv6PrefixMatches(p('fd99:8000::'), p('fd99::'), 17)).toBe(false)
    expect(ipv6PrefixMatches(p('fd99:7fff::'), p('fd99::'), 17)).toBe(true)
    expect(ipv6PrefixMatches(p('::'), p('ff::'), 0)).toBe(true)
  })

  it('reads words, compares and hashes in place', () => {
    const bytes = new Uint8Array(40)
    bytes.set(p('fd99::1:2:3'), 8)
    expect(ipv6AddressWord(bytes, 8, 0)).toBe(0xfd990000)
    expect(ipv6AddressWord(bytes, 8, 3)).toBe(0x00020003)
    expect(ipv6AddressEquals(bytes, p('fd99::1:2:3'), 8, 0)).toBe(true)
    expect(ipv6AddressEquals(bytes, p('fd99::1:2:4'), 8, 0)).toBe(false)
    expect(ipv6AddressHash(bytes, 8)).toBe(ipv6AddressHash(p('fd99::1:2:3')))
    expect(ipv6AddressHash(bytes, 8, 1)).not.toBe(ipv6AddressHash(bytes, 8, 2))
    // Addresses that differ in one bit hash apart (no bucket takes a whole /64).
    const hashes = new Set<number>()
    for (let i = 0; i < 256; i++) {
      const a = p('fd99::')
      a[15] = i
      hashes.add(ipv6AddressHash(a) & 0xff)
    }
    expect(hashes.size).toBeGreaterThan(128)
  })
})
