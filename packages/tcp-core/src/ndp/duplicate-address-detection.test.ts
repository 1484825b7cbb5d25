import { describe, expect, it } from 'vitest'
import { bytesAt } from '../wire/fixtures/frame-helpers.js'
import { capturedIpv6Frame, capturedIpv6Frames, datagramOf } from '../wire/fixtures/ipv6-helpers.js'
import { formatIpv6Address, parseIpv6Address } from '../wire/ipv6-address.js'
import { Ipv6WireError } from '../wire/ipv6-errors.js'
import { emitNdpFrame, type NeighborSolicitationRepr, parseNdp } from '../wire/ndp.js'
import { type DadProbe, DuplicateAddressDetection } from './duplicate-address-detection.js'
import { NdpError } from './ndp-error.js'

const addr = (text: string): Uint8Array => parseIpv6Address(text)!
const S = 1_000_000
const UNSPECIFIED = addr('::')

function parsedNs(name: string): { src: Uint8Array; ns: NeighborSolicitationRepr } {
  const d = datagramOf(capturedIpv6Frame(name))
  const ns = parseNdp(d.subarray(40), d[7]!, d.subarray(8, 24), d.subarray(24, 40))
  if (ns instanceof Ipv6WireError || ns.kind !== 'neighborSolicitation') throw new Error('not an NS')
  return { src: d.subarray(8, 24), ns }
}

describe('duplicate address detection (RFC 4862 §5.4)', () => {
  it('declares an address preferred after DupAddrDetectTransmits unanswered probes and RetransTimer', () => {
    const dad = new DuplicateAddressDetection({ dupAddrDetectTransmits: 2, random: () => 0 })
    const address = addr('fd99::1')
    dad.start(0, address)
    expect(dad.state(address)).toBe('tentative')
    expect(dad.isTentative(address)).toBe(true)
    const probes: number[] = []
    const results = []
    for (let now = 0; now <= 5 * S; now = dad.pollAt() ?? Infinity) {
      results.push(...dad.poll(now, () => probes.push(now)))
    }
    expect(probes).toEqual([0, S])
    expect(results).toEqual([{ address, state: 'preferred' }])
    expect(dad.state(address)).toBe('preferred')
    expect(dad.pollAt()).toBeUndefined()
  })

  it('builds the probe the kernel sent: NS from :: to the solicited-node group, no link-layer option, a nonce (§5.4.2)', () => {
    const captured = datagramOf(capturedIpv6Frame('dadSolicitation'))
    const { ns } = parsedNs('dadSolicitation')
    const dad = new DuplicateAddressDetection({ random: () => 0 })
    dad.start(0, ns.target)
    let probe: DadProbe | undefined
    dad.poll(0, (p) => (probe = p))
    expect(formatIpv6Address(probe!.dst)).toBe(formatIpv6Address(captured, 24))
    const frame = new Uint8Array(14 + captured.byteLength)
    // Linux sends the RFC 7527 nonce option too: ours is random, so the kernel's nonce goes in its place.
    expect(probe!.nonce.byteLength).toBe(ns.options.nonce!.byteLength)
    const repr: NeighborSolicitationRepr = { kind: 'neighborSolicitation', target: probe!.target, options: { nonce: ns.options.nonce } }
    emitNdpFrame(repr, { dstMac: probe!.dstMac, srcMac: Uint8Array.of(2, 0, 0, 0x99, 6, 1), src: UNSPECIFIED, dst: probe!.dst }, frame)
    expect(frame).toEqual(bytesAt(capturedIpv6Frame('dadSolicitation')))
  })

  it('finds a duplicate from another node\'s probe, as the kernel\'s captured DAD solicitations would be (§5.4.3)', () => {
    // Every DAD probe in the capture, seen by a node that holds the same address as tentative.
    const probes = capturedIpv6Frames.filter((f) => f.tshark['icmpv6.type'] === '135' && f.tshark['ipv6.src'] === '::')
    expect(probes.length).toBeGreaterThan(0)
    for (const frame of probes) {
      const { src, ns } = parsedNs(frame.name)
      const dad = new DuplicateAddressDetection()
      dad.start(0, ns.target)
      expect(dad.onSolicitation(src, ns.target, ns.options.nonce)).toBe(true)
      expect(dad.poll(0, () => {})).toEqual([{ address: ns.target, state: 'duplicate' }])
      expect(dad.isTentative(ns.target)).toBe(false)
    }
  })

  it('ignores its own looped-back probe (RFC 7527 nonce) and solicitations from unicast sources', () => {
    const dad = new DuplicateAddressDetection({ random: () => 0.25 })
    const address = addr('fd99::1')
    dad.start(0, address)
    let probe: DadProbe | undefined
    dad.poll(0, (p) => (probe = p))
    expect(dad.onSolicitation(UNSPECIFIED, address, probe!.nonce)).toBe(false)
    expect(dad.onSolicitation(addr('fd99::2'), address)).toBe(false)
    expect(dad.state(address)).toBe('tentative')
    expect(dad.onSolicitation(UNSPECIFIED, address, Uint8Array.of(1, 2, 3, 4, 5, 6))).toBe(true)
  })

  it('finds a duplicate from an advertisement for the tentative address (§5.4.4), and not once preferred', () => {
    const dad = new DuplicateAddressDetection({ random: () => 0 })
    dad.start(0, addr('fd99::1'))
    dad.start(0, addr('fd99::9'))
    expect(dad.onAdvertisement(addr('fd99::1'))).toBe(true)
    expect(dad.onAdvertisement(addr('fd99::1'))).toBe(false)
    dad.poll(0, () => {})
    dad.poll(S, () => {})
    expect(dad.state(addr('fd99::9'))).toBe('preferred')
    expect(dad.onAdvertisement(addr('fd99::9'))).toBe(false)
  })

  it('delays the first probe at interface start by a random time up to 1 s, and skips DAD with 0 transmits', () => {
    const dad = new DuplicateAddressDetection({ random: () => 0.5 })
    dad.start(10, addr('fd99::1'), true)
    expect(dad.pollAt()).toBe(10 + 500_000)
    const none = new DuplicateAddressDetection({ dupAddrDetectTransmits: 0 })
    none.start(0, addr('fd99::1'))
    const sent: DadProbe[] = []
    expect(none.poll(0, (p) => sent.push(p))).toEqual([{ address: addr('fd99::1'), state: 'preferred' }])
    expect(sent).toEqual([])
  })

  it('refuses multicast and malformed addresses and bad options', () => {
    const dad = new DuplicateAddressDetection()
    expect(() => dad.start(0, addr('ff02::1'))).toThrow(NdpError)
    expect(() => dad.start(0, new Uint8Array(4))).toThrow(NdpError)
    expect(() => new DuplicateAddressDetection({ retransTimer: 0 })).toThrow(/retransTimer/)
  })
})
