import { isIP } from 'node:net'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatAddress, formatHostPort, splitHostPort } from './address.js'

describe('formatAddress (RFC 5952)', () => {
  it.each([
    // §4.1: no leading zeros; §4.3: lowercase.
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    // §4.2.2: one zero field is not shortened.
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    // §4.2.3: the longest run; the first of equal runs.
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    // §4.2.1: as much as possible.
    ['2001:db8::0:1', '2001:db8::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['fe80:0:0:0:0:0:0:1%lo', 'fe80::1%lo'],
    // §5: IPv4-mapped in mixed notation, from either text form.
    ['::FFFF:C000:0201', '::ffff:192.0.2.1'],
    ['::ffff:127.0.0.1', '::ffff:127.0.0.1'],
    ['0:0:0:0:0:ffff:7f00:1', '::ffff:127.0.0.1'],
    // Other dotted tails are read as the two fields they are.
    ['::192.0.2.1', '::c000:201'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
  ])('%s → %s', (text, expected) => {
    expect(formatAddress(text)).toBe(expected)
  })

  it('leaves IPv4 addresses and anything that is not an address alone', () => {
    expect(formatAddress('10.0.0.1')).toBe('10.0.0.1')
    expect(formatAddress('?')).toBe('?')
    expect(formatAddress('2001:db8::g')).toBe('2001:db8::g')
  })

  /** The WHATWG URL serializer compresses as RFC 5952 does (longest run of two or more, the first of equals); it has no mixed notation. */
  const whatwg = (fields: number[]): string => new URL(`http://[${fields.map((f) => f.toString(16)).join(':')}]/`).hostname.slice(1, -1)
  const field = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }))
  const fields = fc.array(field, { minLength: 8, maxLength: 8 }).filter((f) => !(f.slice(0, 5).every((x) => x === 0) && f[5] === 0xffff))

  it('agrees with the WHATWG URL serializer on every address outside ::ffff:0:0/96, from any text form', () => {
    fc.assert(
      fc.property(fields, fc.boolean(), (f, upper) => {
        const long = f.map((x) => x.toString(16).padStart(4, '0')).join(':')
        const text = upper ? long.toUpperCase() : long
        const formatted = formatAddress(text)
        expect(formatted).toBe(whatwg(f))
        expect(isIP(formatted)).toBe(6)
        expect(formatAddress(formatted)).toBe(formatted)
      }),
    )
  })
})

describe('splitHostPort and formatHostPort', () => {
  it.each([
    ['10.0.0.1', { host: '10.0.0.1' }],
    ['10.0.0.1:5001', { host: '10.0.0.1', port: '5001' }],
    ['::1', { host: '::1' }],
    ['::', { host: '::' }],
    ['[::1]', { host: '::1' }],
    ['[::1]:5001', { host: '::1', port: '5001' }],
    ['[fe80::1%eth0]:80', { host: 'fe80::1%eth0', port: '80' }],
    ['::1:5001', { host: '::1:5001' }], // an address (RFC 5952 §6: why ports go after brackets)
  ])('%s', (text, expected) => {
    expect(splitHostPort(text)).toEqual(expected)
  })

  it.each(['[10.0.0.1]:5', '[::1', '[::1]5001', 'localhost', '10.0.0:5', '10.0.0.1:2:3', '', '[]:5'])('rejects %j', (text) => {
    expect(splitHostPort(text)).toBeUndefined()
  })

  it('brackets IPv6 and writes it in RFC 5952 form', () => {
    expect(formatHostPort('0:0:0:0:0:0:0:1', 5001)).toBe('[::1]:5001')
    expect(formatHostPort('::ffff:7f00:1', 80)).toBe('[::ffff:127.0.0.1]:80')
    expect(formatHostPort('10.0.0.1', 80)).toBe('10.0.0.1:80')
  })
})
