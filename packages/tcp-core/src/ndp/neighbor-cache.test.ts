import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { capturedIpv6Frame, datagramOf } from '../wire/fixtures/ipv6-helpers.js'
import { formatIpv6Address, parseIpv6Address } from '../wire/ipv6-address.js'
import { Ipv6WireError } from '../wire/ipv6-errors.js'
import { emitNdpFrame, parseNdp } from '../wire/ndp.js'
import { NdpError } from './ndp-error.js'
import { NeighborCache, type NeighborSolicitationRequest } from './neighbor-cache.js'

const addr = (text: string): Uint8Array => parseIpv6Address(text)!
const PEER = addr('fd99::2')
const PEER_MAC = Uint8Array.of(2, 0, 0, 0x99, 6, 2)
const OTHER_MAC = Uint8Array.of(2, 0, 0, 0x99, 6, 9)
const S = 1_000_000

function cache(): NeighborCache<string> {
  return new NeighborCache<string>({ random: () => 0.5 }) // ReachableTime = BaseReachableTime exactly
}

function pollAll(c: NeighborCache<string>, now: number): { sent: NeighborSolicitationRequest[]; unreachable: string[] } {
  const sent: NeighborSolicitationRequest[] = []
  const unreachable: string[] = []
  c.poll(now, (r) => sent.push(r), (p) => unreachable.push(p))
  return { sent, unreachable }
}

const na = (solicited: boolean, override: boolean, mac?: Uint8Array) => ({ target: PEER, router: false, solicited, override, targetLinkLayerAddress: mac })

describe('neighbour cache (RFC 4861 §7.2, §7.3)', () => {
  it('resolves an address like the captured exchange: multicast NS to the solicited-node group, the NA completes it', () => {
    const c = cache()
    expect(c.resolve(0, PEER)).toBeUndefined()
    expect(c.state(0, PEER)).toBe('incomplete')
    expect(c.enqueue(0, PEER, 'p1')).toBeUndefined()
    expect(c.pollAt()).toBe(0)
    const { sent } = pollAll(c, 0)
    expect(sent).toHaveLength(1)
    const ns = sent[0]!
    expect(ns.unicast).toBe(false)
    // Built into a frame, the request is the kernel's captured solicitation byte for byte.
    const captured = datagramOf(capturedIpv6Frame('neighborSolicitation'))
    const frame = new Uint8Array(14 + captured.byteLength)
    emitNdpFrame(
      { kind: 'neighborSolicitation', target: ns.target, options: { sourceLinkLayerAddress: Uint8Array.of(2, 0, 0, 0x99, 6, 1) } },
      { dstMac: ns.dstMac, srcMac: Uint8Array.of(2, 0, 0, 0x99, 6, 1), src: addr('fd99::1'), dst: ns.dst },
      frame,
    )
    expect(frame.subarray(14)).toEqual(captured)
    expect([...frame.subarray(0, 6)]).toEqual([0x33, 0x33, 0xff, 0, 0, 2])
    // The kernel's advertisement (solicited, override, target link-layer address) completes the entry.
    const advert = datagramOf(capturedIpv6Frame('neighborAdvertisement'))
    const parsed = parseNdp(advert.subarray(40), 255, advert.subarray(8, 24), advert.subarray(24, 40))
    if (parsed instanceof Ipv6WireError || parsed.kind !== 'neighborAdvertisement') throw new Error('bad NA')
    const input = c.onAdvertisement(10, { ...parsed, targetLinkLayerAddress: parsed.options.targetLinkLayerAddress })
    expect([...input.mac!]).toEqual([...PEER_MAC])
    expect(input.ready).toEqual(['p1'])
    expect(c.state(10, PEER)).toBe('reachable')
    expect(c.resolve(10, PEER)).toBe(input.mac)
  })

  it('gives up after MAX_MULTICAST_SOLICIT solicitations RetransTimer apart and hands the packets back (§7.2.2)', () => {
    const c = cache()
    c.resolve(0, PEER)
    c.enqueue(0, PEER, 'a')
    c.enqueue(0, PEER, 'b')
    const times: number[] = []
    let unreachable: string[] = []
    for (let now = 0; now <= 4 * S; now = c.pollAt() ?? Infinity) {
      const r = pollAll(c, now)
      if (r.sent.length > 0) times.push(now)
      unreachable = unreachable.concat(r.unreachable)
    }
    expect(times).toEqual([0, S, 2 * S])
    expect(unreachable).toEqual(['a', 'b'])
    expect(c.state(3 * S, PEER)).toBeUndefined()
    expect(c.stats.resolutionFailures).toBe(1)
  })

  it('one poll that deletes several entries still sees every entry once (entries resolved at different times)', () => {
    const c = cache()
    // Five addresses: the 1st, 3rd and 5th start resolving at 0 and give up at 3 s; the 2nd and 4th at 1 s.
    const peers = [1, 2, 3, 4, 5].map((n) => addr(`fd99::${n}0`))
    for (const [i, peer] of peers.entries()) {
      if (i % 2 === 0) {
        c.resolve(0, peer)
        c.enqueue(0, peer, `p${i}`)
      }
    }
    pollAll(c, 0)
    for (const [i, peer] of peers.entries()) {
      if (i % 2 === 1) {
        c.resolve(S, peer)
        c.enqueue(S, peer, `p${i}`)
      }
    }
    pollAll(c, S)
    pollAll(c, 2 * S)
    // At 3 s: three entries give up (deleted mid-scan) and the other two send their third solicitation.
    const r = pollAll(c, 3 * S)
    expect(r.unreachable.sort()).toEqual(['p0', 'p2', 'p4'])
    expect(r.sent.map((ns) => formatIpv6Address(ns.target)).sort()).toEqual(['fd99::20', 'fd99::40'])
    expect(c.size).toBe(2)
    // And the two left give up together a second later.
    expect(pollAll(c, 4 * S).unreachable.sort()).toEqual(['p1', 'p3'])
    expect(c.size).toBe(0)
    expect(c.pollAt()).toBeUndefined()
  })

  it('keeps the newest packets when the queue is full', () => {
    const c = cache()
    c.resolve(0, PEER)
    for (const p of ['a', 'b', 'c']) expect(c.enqueue(0, PEER, p)).toBeUndefined()
    expect(c.enqueue(0, PEER, 'd')).toBe('a')
    expect(c.queuedFor(PEER)).toBe(3)
  })

  it('goes REACHABLE → STALE after ReachableTime, STALE → DELAY on use, DELAY → PROBE after 5 s, then deletes after 3 probes (§7.3.3)', () => {
    const c = cache()
    c.resolve(0, PEER)
    pollAll(c, 0)
    c.onAdvertisement(0, na(true, true, PEER_MAC))
    expect(c.state(30 * S - 1, PEER)).toBe('reachable')
    expect(c.state(30 * S, PEER)).toBe('stale')
    expect(c.resolve(40 * S, PEER)).toEqual(PEER_MAC) // a stale entry still sends
    expect(c.state(40 * S, PEER)).toBe('delay')
    expect(c.pollAt()).toBe(45 * S)
    const probes: number[] = []
    for (let now = 45 * S; now < 60 * S; now = c.pollAt() ?? Infinity) {
      const { sent } = pollAll(c, now)
      for (const s of sent) {
        expect(s.unicast).toBe(true)
        expect(s.dstMac).toEqual(PEER_MAC)
        expect(formatIpv6Address(s.dst)).toBe('fd99::2')
        probes.push(now)
      }
    }
    expect(probes).toEqual([45 * S, 46 * S, 47 * S])
    expect(c.state(48 * S, PEER)).toBeUndefined()
    expect(c.stats.probeFailures).toBe(1)
  })

  it('returns to REACHABLE from DELAY on an upper-layer confirmation (§7.3.1) and from PROBE on a solicited NA', () => {
    const c = cache()
    c.onLinkLayerAddress(0, PEER, PEER_MAC)
    expect(c.state(0, PEER)).toBe('stale')
    c.resolve(1, PEER)
    expect(c.confirm(2, PEER)).toBe(true)
    expect(c.state(2, PEER)).toBe('reachable')
    c.resolve(40 * S, PEER)
    pollAll(c, 45 * S)
    expect(c.state(45 * S, PEER)).toBe('probe')
    c.onAdvertisement(45 * S + 1, na(true, false))
    expect(c.state(45 * S + 1, PEER)).toBe('reachable')
  })

  it('applies the Override and Solicited flags (§7.2.5)', () => {
    const c = cache()
    c.onLinkLayerAddress(0, PEER, PEER_MAC)
    c.confirm(0, PEER)
    // O clear, different address: REACHABLE → STALE, address kept.
    expect(c.onAdvertisement(1, na(true, false, OTHER_MAC)).mac).toBeUndefined()
    expect(c.state(1, PEER)).toBe('stale')
    expect(c.resolve(1, PEER)).toEqual(PEER_MAC)
    // O set, different address, unsolicited: address replaced, STALE.
    const input = c.onAdvertisement(2, na(false, true, OTHER_MAC))
    expect(input.mac).toEqual(OTHER_MAC)
    expect(c.state(2, PEER)).toBe('stale')
    // Solicited without an address: confirmed.
    c.onAdvertisement(3, na(true, false))
    expect(c.state(3, PEER)).toBe('reachable')
    // No entry: ignored.
    expect(c.onAdvertisement(4, { ...na(true, true, PEER_MAC), target: addr('fd99::3') }).mac).toBeUndefined()
    expect(c.stats.ignoredAdvertisements).toBe(1)
  })

  it('reports a router that advertises itself no longer a router (§7.2.5), for the default router list', () => {
    const c = cache()
    c.onLinkLayerAddress(0, PEER, PEER_MAC, true)
    expect(c.isRouter(PEER)).toBe(true)
    expect(c.onAdvertisement(1, { ...na(false, false), router: true }).routerLost).toBe(false)
    expect(c.onAdvertisement(2, na(false, false)).routerLost).toBe(true)
    expect(c.isRouter(PEER)).toBe(false)
    expect(c.onAdvertisement(3, na(false, false)).routerLost).toBe(false)
  })

  it('learns from a solicitation\'s source link-layer address, completing an incomplete entry (§7.2.3)', () => {
    const c = cache()
    c.resolve(0, PEER)
    c.enqueue(0, PEER, 'x')
    const input = c.onLinkLayerAddress(5, PEER, PEER_MAC)
    expect(input.ready).toEqual(['x'])
    expect(c.state(5, PEER)).toBe('stale')
    expect(c.onLinkLayerAddress(6, addr('::'), PEER_MAC).mac).toBeUndefined()
  })

  it('draws ReachableTime in [0.5, 1.5) × the base (§6.3.2) and takes new timers from an RA', () => {
    const low = new NeighborCache({ random: () => 0 })
    const high = new NeighborCache({ random: () => 0.999999999 })
    expect(low.reachableTime).toBe(15 * S)
    expect(high.reachableTime).toBeLessThan(45 * S)
    expect(high.reachableTime).toBeGreaterThan(44.9 * S)
    low.setBaseReachableTime(10 * S)
    expect(low.reachableTime).toBe(5 * S)
    low.setRetransTimer(2 * S)
    expect(low.retransTimer).toBe(2 * S)
    expect(() => low.setRetransTimer(0)).toThrow(NdpError)
  })

  it('keeps static entries and refuses bad arguments', () => {
    const c = cache()
    c.resolve(0, PEER)
    c.enqueue(0, PEER, 'w')
    expect(c.addStatic(PEER, PEER_MAC)).toEqual(['w'])
    expect(c.state(0, PEER)).toBe('static')
    c.onAdvertisement(1, na(true, true, OTHER_MAC))
    expect(c.resolve(1, PEER)).toEqual(PEER_MAC)
    expect(() => c.resolve(0, addr('ff02::1'))).toThrow(NdpError)
    expect(() => c.onLinkLayerAddress(0, PEER, new Uint8Array(5))).toThrow(/6 bytes/)
    expect(() => new NeighborCache({ maxUnicastSolicit: 0 })).toThrow(/maxUnicastSolicit/)
  })

  it('evicts the least recently confirmed stale entry when full', () => {
    const c = new NeighborCache<string>({ maxEntries: 2 })
    c.onLinkLayerAddress(0, addr('fd99::a'), PEER_MAC)
    c.onLinkLayerAddress(1, addr('fd99::b'), PEER_MAC)
    c.resolve(2, addr('fd99::c'))
    expect(c.state(2, addr('fd99::a'))).toBeUndefined()
    expect(c.state(2, addr('fd99::b'))).toBe('stale')
    expect(c.stats.evictions).toBe(1)
  })

  it('never loses a packet: each queued one is sent, dropped or handed back exactly once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('resolve', 'enqueue', 'na', 'learn', 'poll', 'confirm'), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 3_000_000 })), { maxLength: 60 }),
        (ops) => {
          const c = new NeighborCache<string>({ random: () => 0.3 })
          const seen = new Map<string, number>()
          const count = (p: string): void => void seen.set(p, (seen.get(p) ?? 0) + 1)
          let now = 0
          let n = 0
          for (const [op, host, dt] of ops) {
            now += dt
            const a = addr(`fd99::${host}`)
            switch (op) {
              case 'resolve':
                c.resolve(now, a)
                break
              case 'enqueue':
                if (c.state(now, a) === 'incomplete') {
                  const p = `p${n++}`
                  const dropped = c.enqueue(now, a, p)
                  if (dropped !== undefined) count(dropped)
                }
                break
              case 'na':
                for (const p of c.onAdvertisement(now, { target: a, router: false, solicited: true, override: true, targetLinkLayerAddress: PEER_MAC }).ready) count(p)
                break
              case 'learn':
                for (const p of c.onLinkLayerAddress(now, a, OTHER_MAC).ready) count(p)
                break
              case 'poll':
                c.poll(now, () => {}, (p) => count(p))
                break
              default:
                c.confirm(now, a)
            }
          }
          c.clear((p) => count(p))
          for (let i = 0; i < n; i++) expect(seen.get(`p${i}`)).toBe(1)
        },
      ),
      { numRuns: 300 },
    )
  })
})
