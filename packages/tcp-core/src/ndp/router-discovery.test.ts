import { describe, expect, it } from 'vitest'
import { capturedIpv6Frame, datagramOf } from '../wire/fixtures/ipv6-helpers.js'
import { formatIpv6Address, parseIpv6Address } from '../wire/ipv6-address.js'
import { Ipv6WireError } from '../wire/ipv6-errors.js'
import { parseNdp, type RouterAdvertisementRepr } from '../wire/ndp.js'
import { NdpError } from './ndp-error.js'
import { RouterDiscovery } from './router-discovery.js'

const addr = (text: string): Uint8Array => parseIpv6Address(text)!
const S = 1_000_000
const MAC = Uint8Array.of(2, 0, 0, 0x99, 6, 1)

/** The captured router advertisement (fe80::ff:fe99:602, lifetime 1800 s, MTU 1500, prefix fd99:0:0:1::/64 L A). */
function capturedRa(): { source: Uint8Array; ra: RouterAdvertisementRepr } {
  const d = datagramOf(capturedIpv6Frame('routerAdvertisement'))
  const ra = parseNdp(d.subarray(40), d[7]!, d.subarray(8, 24), d.subarray(24, 40))
  if (ra instanceof Ipv6WireError || ra.kind !== 'routerAdvertisement') throw new Error('not an RA')
  return { source: d.subarray(8, 24), ra }
}

function ra(overrides: Partial<RouterAdvertisementRepr>, prefixes: RouterAdvertisementRepr['options']['prefixes'] = []): RouterAdvertisementRepr {
  return { kind: 'routerAdvertisement', curHopLimit: 0, managed: false, other: false, routerLifetime: 0, reachableTime: 0, retransTimer: 0, options: { prefixes }, ...overrides }
}

describe('router discovery (RFC 4861 §6.3) and SLAAC (RFC 4862 §5.5)', () => {
  it('turns the captured RA into a default route, an on-link prefix, link parameters and a SLAAC address', () => {
    const rd = new RouterDiscovery({ interfaceMac: MAC })
    const { source, ra: advert } = capturedRa()
    const update = rd.onAdvertisement(0, source, advert)
    expect(update.hopLimit).toBe(64)
    expect(update.baseReachableTime).toBe(30_000_000) // 30000 ms
    expect(update.retransTimer).toBe(1_000_000) // 1000 ms
    expect(update.mtu).toBe(1500)
    expect(update.events.map((e) => e.kind)).toEqual(['routerAdded', 'prefixAdded', 'addressAdded'])
    const added = update.events[2]!
    if (added.kind !== 'addressAdded') throw new Error(added.kind)
    // The kernel formed the same address from this RA (its DAD probe for it is in the capture).
    expect(formatIpv6Address(added.address)).toBe('fd99::1:0:ff:fe99:601')
    expect([added.validUntil, added.preferredUntil]).toEqual([86400 * S, 14400 * S])
    expect(formatIpv6Address(rd.defaultRouter(0)!)).toBe('fe80::ff:fe99:602')
    expect(rd.isOnLink(0, addr('fd99:0:0:1::77'))).toBe(true)
    expect(rd.nextHop(0, addr('fd99:0:0:1::77'))).toEqual(addr('fd99:0:0:1::77'))
    expect(formatIpv6Address(rd.nextHop(0, addr('2001:db8::1'))!)).toBe('fe80::ff:fe99:602')
    expect(rd.nextHop(0, addr('fe80::5'))).toEqual(addr('fe80::5'))
  })

  it('expires the router at its lifetime and the prefix at its valid lifetime', () => {
    const rd = new RouterDiscovery()
    const { source, ra: advert } = capturedRa()
    rd.onAdvertisement(0, source, advert)
    expect(rd.pollAt()).toBe(1800 * S)
    expect(rd.poll(1800 * S - 1, () => {})).toEqual([])
    expect(rd.poll(1800 * S, () => {}).map((e) => e.kind)).toEqual(['routerRemoved'])
    expect(rd.defaultRouter(1800 * S)).toBeUndefined()
    expect(rd.nextHop(1800 * S, addr('2001:db8::1'))).toBeUndefined()
    expect(rd.poll(86400 * S, () => {}).map((e) => e.kind)).toEqual(['prefixRemoved'])
    expect(rd.isOnLink(86400 * S, addr('fd99:0:0:1::77'))).toBe(false)
  })

  it('removes a router that advertises lifetime 0 and a prefix advertised with valid lifetime 0 (§6.3.4)', () => {
    const rd = new RouterDiscovery()
    const { source, ra: advert } = capturedRa()
    rd.onAdvertisement(0, source, advert)
    const prefix = advert.options.prefixes![0]!
    const update = rd.onAdvertisement(S, source, ra({ routerLifetime: 0 }, [{ ...prefix, validLifetime: 0, preferredLifetime: 0 }]))
    expect(update.events.map((e) => e.kind)).toEqual(['routerRemoved', 'prefixRemoved'])
    expect(rd.routers()).toEqual([])
    expect(rd.prefixes()).toEqual([])
  })

  it('ignores link-local prefixes, an MTU out of range, and zero parameters', () => {
    const rd = new RouterDiscovery({ linkMtu: 1500, interfaceMac: MAC })
    const update = rd.onAdvertisement(0, addr('fe80::1'), {
      ...ra({}, [{ prefixLength: 64, onLink: true, autonomous: true, validLifetime: 100, preferredLifetime: 50, prefix: addr('fe80::') }]),
      options: { mtu: 9000, prefixes: [{ prefixLength: 64, onLink: true, autonomous: true, validLifetime: 100, preferredLifetime: 50, prefix: addr('fe80::') }] },
    })
    expect(update).toEqual({ hopLimit: undefined, baseReachableTime: undefined, retransTimer: undefined, mtu: undefined, events: [] })
    expect(rd.onAdvertisement(0, addr('fe80::1'), { ...ra({}), options: { mtu: 1000 } }).mtu).toBeUndefined()
    expect(() => rd.onAdvertisement(0, addr('fd99::1'), ra({}))).toThrow(NdpError)
  })

  it('masks the bits past the prefix length and forms no address for a /48 or preferred > valid (RFC 4862 §5.5.3 (c))', () => {
    const rd = new RouterDiscovery({ interfaceMac: MAC })
    const update = rd.onAdvertisement(0, addr('fe80::1'), ra({}, [
      { prefixLength: 48, onLink: true, autonomous: true, validLifetime: 100, preferredLifetime: 50, prefix: addr('2001:db8:1:ffff::1') },
      { prefixLength: 64, onLink: false, autonomous: true, validLifetime: 10, preferredLifetime: 50, prefix: addr('2001:db8:2::') },
    ]))
    expect(update.events).toEqual([{ kind: 'prefixAdded', prefix: addr('2001:db8:1::'), prefixLength: 48 }])
  })

  it('applies the two-hours rule to a known address\'s valid lifetime (RFC 4862 §5.5.3 (e))', () => {
    const rd = new RouterDiscovery({ interfaceMac: MAC })
    const p = (valid: number) => [{ prefixLength: 64, onLink: false, autonomous: true, validLifetime: valid, preferredLifetime: 0, prefix: addr('2001:db8::') }]
    rd.onAdvertisement(0, addr('fe80::1'), ra({}, p(86400)))
    rd.onAdvertisement(0, addr('fe80::1'), ra({}, p(60))) // remaining 24 h > 2 h: cut to 2 h, not to 60 s
    expect(rd.pollAt()).toBe(7200 * S)
    rd.onAdvertisement(7000 * S, addr('fe80::1'), ra({}, p(60))) // remaining 200 s ≤ 2 h: ignored
    expect(rd.pollAt()).toBe(7200 * S)
    rd.onAdvertisement(7000 * S, addr('fe80::1'), ra({}, p(10000))) // > 2 h: taken
    expect(rd.pollAt()).toBe(17000 * S)
    expect(rd.poll(17000 * S, () => {}).map((e) => e.kind)).toEqual(['addressRemoved'])
  })

  it('solicits routers up to 3 times 4 s apart after a random delay, and stops on an advertisement (§6.3.7)', () => {
    const rd = new RouterDiscovery({ random: () => 0.5 })
    rd.start(0)
    const sent: number[] = []
    for (let now = rd.pollAt()!; now < 60 * S; now = rd.pollAt() ?? Infinity) rd.poll(now, () => sent.push(now))
    expect(sent).toEqual([500_000, 4_500_000, 8_500_000])
    rd.start(100 * S)
    rd.onAdvertisement(100 * S, addr('fe80::1'), ra({}))
    expect(rd.pollAt()).toBeUndefined()
  })

  it('removes a router whose neighbour entry lost its IsRouter flag (RFC 4861 §7.2.5)', () => {
    const rd = new RouterDiscovery()
    const { source, ra: advert } = capturedRa()
    rd.onAdvertisement(0, source, advert)
    expect(rd.removeRouter(source)).toEqual({ kind: 'routerRemoved', router: source })
    expect(rd.defaultRouter(0)).toBeUndefined()
    expect(rd.removeRouter(source)).toBeUndefined()
  })

  it('checks its options', () => {
    expect(() => new RouterDiscovery({ linkMtu: 1000 })).toThrow(/linkMtu/)
    expect(() => new RouterDiscovery({ interfaceMac: new Uint8Array(3) })).toThrow(/interfaceMac/)
  })
})
