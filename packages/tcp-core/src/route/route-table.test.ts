import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseCidr, parseIpv4Address as ip } from './ipv4-address.js'
import { RouteError } from './route-error.js'
import { type Route, type RouteSpec, RouteTable } from './route-table.js'

/** A route spec from CIDR text. */
function net(cidr: string, rest: Omit<RouteSpec, 'destination' | 'prefixLength'> = {}): RouteSpec {
  const { address, prefixLength } = parseCidr(cidr)
  return { destination: address, prefixLength, ...rest }
}

describe('RouteTable', () => {
  it('is empty at first: nothing is reachable', () => {
    const table = new RouteTable()
    expect(table.size).toBe(0)
    expect(table.lookup(ip('10.0.0.1'))).toBeUndefined()
  })

  it('sends on-link destinations to themselves and the rest to the default gateway', () => {
    const table = new RouteTable()
    const connected = table.add(net('10.0.0.0/24', { port: 0 }))
    const defaultRoute = table.add(net('0.0.0.0/0', { gateway: ip('10.0.0.254'), port: 0 }))
    expect(table.lookup(ip('10.0.0.7'))).toEqual({ nextHop: ip('10.0.0.7'), route: connected })
    expect(table.lookup(ip('10.0.1.7'))).toEqual({ nextHop: ip('10.0.0.254'), route: defaultRoute })
    expect(table.lookup(ip('8.8.8.8'))?.nextHop).toBe(ip('10.0.0.254'))
    expect(connected).toEqual({ destination: ip('10.0.0.0'), prefixLength: 24, gateway: undefined, port: 0, metric: 0 })
    expect(Object.isFrozen(connected)).toBe(true)
  })

  it('picks the longest of overlapping prefixes (RFC 1812 §5.2.4.3 Longest Match)', () => {
    const table = new RouteTable()
    table.add(net('10.0.0.0/8', { gateway: ip('192.168.0.8') }))
    table.add(net('10.1.0.0/16', { gateway: ip('192.168.0.16') }))
    table.add(net('10.1.2.0/24', { gateway: ip('192.168.0.24') }))
    table.add(net('10.1.2.3/32', { gateway: ip('192.168.0.32') }))
    table.add(net('0.0.0.0/0', { gateway: ip('192.168.0.1') }))
    expect(table.lookup(ip('10.1.2.3'))?.nextHop).toBe(ip('192.168.0.32'))
    expect(table.lookup(ip('10.1.2.4'))?.nextHop).toBe(ip('192.168.0.24'))
    expect(table.lookup(ip('10.1.3.4'))?.nextHop).toBe(ip('192.168.0.16'))
    expect(table.lookup(ip('10.2.3.4'))?.nextHop).toBe(ip('192.168.0.8'))
    expect(table.lookup(ip('11.0.0.0'))?.nextHop).toBe(ip('192.168.0.1'))
    expect(table.lookup(ip('255.255.255.255'))?.nextHop).toBe(ip('192.168.0.1'))
  })

  it('matches on the prefix bits only, at both ends of a prefix', () => {
    const table = new RouteTable()
    const route = table.add(net('172.16.0.0/12'))
    expect(table.lookupRoute(ip('172.16.0.0'))).toBe(route)
    expect(table.lookupRoute(ip('172.31.255.255'))).toBe(route)
    expect(table.lookupRoute(ip('172.32.0.0'))).toBeUndefined()
    expect(table.lookupRoute(ip('172.15.255.255'))).toBeUndefined()
  })

  it('prefers the lowest metric among routes with the same prefix (Best Metric)', () => {
    const table = new RouteTable()
    table.add(net('0.0.0.0/0', { gateway: ip('10.0.0.2'), metric: 200 }))
    const best = table.add(net('0.0.0.0/0', { gateway: ip('10.0.0.1'), metric: 100 }))
    table.add(net('0.0.0.0/0', { gateway: ip('10.0.0.3'), metric: 300 }))
    expect(table.lookup(ip('1.1.1.1'))?.route).toBe(best)
    expect(table.remove(0, 0, 100)).toBe(best)
    expect(table.lookup(ip('1.1.1.1'))?.nextHop).toBe(ip('10.0.0.2'))
    expect(table.size).toBe(2)
  })

  it('a longer prefix wins over a better metric', () => {
    const table = new RouteTable()
    table.add(net('10.0.0.0/8', { gateway: ip('1.0.0.1'), metric: 0 }))
    const longer = table.add(net('10.0.0.0/9', { gateway: ip('1.0.0.2'), metric: 1000 }))
    expect(table.lookup(ip('10.1.1.1'))?.route).toBe(longer)
    expect(table.lookup(ip('10.200.1.1'))?.nextHop).toBe(ip('1.0.0.1'))
  })

  it('removes routes, falling back to the next-longest match', () => {
    const table = new RouteTable()
    table.add(net('0.0.0.0/0', { gateway: ip('10.0.0.1') }))
    const subnet = table.add(net('10.9.0.0/16', { gateway: ip('10.0.0.9') }))
    expect(table.lookup(ip('10.9.1.1'))?.nextHop).toBe(ip('10.0.0.9'))
    expect(table.remove(ip('10.9.0.0'), 16)).toBe(subnet)
    expect(table.lookup(ip('10.9.1.1'))?.nextHop).toBe(ip('10.0.0.1'))
    expect(table.remove(ip('10.9.0.0'), 16)).toBeUndefined()
    expect(table.remove(0, 0, 5)).toBeUndefined() // wrong metric
    expect(table.remove(0, 0)).toBeDefined()
    expect(table.lookup(ip('10.9.1.1'))).toBeUndefined()
    expect(table.size).toBe(0)
  })

  it('lists routes longest prefix first and clears', () => {
    const table = new RouteTable()
    table.add(net('0.0.0.0/0', { gateway: ip('10.0.0.1') }))
    table.add(net('10.0.1.0/24'))
    table.add(net('10.0.0.0/24'))
    table.add(net('10.0.0.0/24', { metric: 7 }))
    table.add(net('10.0.0.5/32', { gateway: ip('10.0.0.6') }))
    const listed = [...table.routes()].map((r: Route) => `${r.destination.toString(16)}/${r.prefixLength}@${r.metric}`)
    expect(listed).toEqual(['a000005/32@0', 'a000000/24@0', 'a000000/24@7', 'a000100/24@0', '0/0@0'])
    table.clear()
    expect(table.size).toBe(0)
    expect([...table.routes()]).toEqual([])
    expect(table.lookup(ip('10.0.0.5'))).toBeUndefined()
  })

  it('rejects a duplicate route with EEXIST, and accepts it again after removal', () => {
    const table = new RouteTable()
    table.add(net('10.0.0.0/24', { metric: 5 }))
    expect(() => table.add(net('10.0.0.0/24', { metric: 5, gateway: ip('10.0.0.1') }))).toThrowError(
      expect.objectContaining({ code: 'EEXIST', message: expect.stringContaining('10.0.0.0/24 with metric 5') }),
    )
    expect(table.size).toBe(1)
    table.remove(ip('10.0.0.0'), 24, 5)
    expect(() => table.add(net('10.0.0.0/24', { metric: 5 }))).not.toThrow()
  })

  it('rejects a destination with bits beyond the prefix, naming it and the network meant', () => {
    const table = new RouteTable()
    expect(() => table.add(net('10.0.0.1/24'))).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringMatching(/10\.0\.0\.1 has bits set beyond the \/24 prefix \(did you mean 10\.0\.0\.0\/24\?\)/) }),
    )
    expect(() => table.add(net('0.0.0.1/0'))).toThrowError(RouteError)
    expect(table.size).toBe(0)
  })

  it.each<[string, RouteSpec, RegExp]>([
    ['destination', { destination: -1, prefixLength: 0 }, /destination must be .* got -1/],
    ['destination', { destination: 2 ** 32, prefixLength: 0 }, /destination/],
    ['prefixLength', { destination: 0, prefixLength: 33 }, /prefixLength must be an integer in \[0, 32\], got 33/],
    ['prefixLength', { destination: 0, prefixLength: 1.5 }, /prefixLength/],
    ['gateway', { destination: 0, prefixLength: 0, gateway: 1.5 }, /gateway must be/],
    ['gateway', { destination: 0, prefixLength: 0, gateway: 0 }, /gateway must not be 0\.0\.0\.0/],
    ['port', { destination: 0, prefixLength: 0, port: 65_536 }, /port must be an integer in \[0, 65535\], got 65536/],
    ['metric', { destination: 0, prefixLength: 0, metric: -1 }, /metric must be an integer in \[0, 4294967295\], got -1/],
  ])('rejects a bad %s with ERR_INVALID_ARG', (_name, spec, message) => {
    const table = new RouteTable()
    expect(() => table.add(spec)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringMatching(message) }))
  })

  it('rejects a bad lookup or remove argument', () => {
    const table = new RouteTable()
    expect(() => table.lookup(-5)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
    expect(() => table.remove(0, 40)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
    expect(() => table.remove(0, 0, 0.5)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
  })

  it('handles hundreds of routes', () => {
    const table = new RouteTable()
    for (let i = 0; i < 256; i++) table.add({ destination: (0x0a00_0000 | (i << 8)) >>> 0, prefixLength: 24, gateway: 0x0b00_0000 + i })
    for (let i = 0; i < 256; i++) table.add({ destination: (0x0a00_0000 | (i << 8) | 1) >>> 0, prefixLength: 32, gateway: 0x0c00_0000 + i })
    expect(table.size).toBe(512)
    expect(table.lookup(ip('10.0.77.1'))?.nextHop).toBe(0x0c00_0000 + 77)
    expect(table.lookup(ip('10.0.77.2'))?.nextHop).toBe(0x0b00_0000 + 77)
    expect(table.lookup(ip('10.1.0.1'))).toBeUndefined()
  })
})

describe('RouteTable against a brute-force model', () => {
  /** The model: scan every route, keep the matching ones with the longest prefix, then the lowest metric. */
  function bruteForce(routes: readonly Route[], address: number): Route | undefined {
    let best: Route | undefined
    for (const route of routes) {
      const mask = route.prefixLength === 0 ? 0 : (0xffff_ffff << (32 - route.prefixLength)) >>> 0
      if (((address & mask) >>> 0) !== route.destination) continue
      if (best === undefined || route.prefixLength > best.prefixLength || (route.prefixLength === best.prefixLength && route.metric < best.metric)) best = route
    }
    return best
  }

  // Addresses drawn from a few /8s so that random prefixes overlap often.
  const address = fc.tuple(fc.constantFrom(0x0a, 0x0b, 0xc0, 0xff), fc.integer({ min: 0, max: 0xff_ffff })).map(([high, low]) => ((high << 24) | low) >>> 0)
  const spec = fc.record({
    address,
    prefixLength: fc.oneof(fc.constantFrom(0, 8, 16, 24, 32), fc.integer({ min: 0, max: 32 })),
    metric: fc.integer({ min: 0, max: 3 }),
    gateway: fc.option(fc.integer({ min: 1, max: 0xffff_ffff }), { nil: undefined }),
  })
  const operation = fc.oneof(
    { weight: 3, arbitrary: spec.map((s) => ({ kind: 'add' as const, ...s })) },
    { weight: 1, arbitrary: fc.nat().map((index) => ({ kind: 'remove' as const, index })) },
  )

  it('finds the same route and next hop as the model, after any sequence of adds and removes', () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 120 }), fc.array(address, { minLength: 1, maxLength: 40 }), (operations, probes) => {
        const table = new RouteTable()
        const model: Route[] = []
        for (const op of operations) {
          if (op.kind === 'add') {
            const mask = op.prefixLength === 0 ? 0 : (0xffff_ffff << (32 - op.prefixLength)) >>> 0
            const destination = (op.address & mask) >>> 0
            const duplicate = model.some((r) => r.destination === destination && r.prefixLength === op.prefixLength && r.metric === op.metric)
            const add = (): Route => table.add({ destination, prefixLength: op.prefixLength, metric: op.metric, gateway: op.gateway })
            if (duplicate) expect(add).toThrowError(expect.objectContaining({ code: 'EEXIST' }))
            else model.push(add())
          } else if (model.length > 0) {
            const [victim] = model.splice(op.index % model.length, 1)
            expect(table.remove(victim!.destination, victim!.prefixLength, victim!.metric)).toBe(victim)
          }
        }
        expect(table.size).toBe(model.length)
        // Probe random addresses and the edges of every route.
        const edges = model.flatMap((r) => [r.destination, (r.destination | ~(r.prefixLength === 0 ? 0 : (0xffff_ffff << (32 - r.prefixLength)))) >>> 0])
        for (const probe of [...probes, ...edges]) {
          const expected = bruteForce(model, probe)
          const found = table.lookup(probe)
          expect(found?.route).toBe(expected)
          if (expected !== undefined) expect(found?.nextHop).toBe(expected.gateway ?? probe)
        }
      }),
      { numRuns: 300 },
    )
  })
})
