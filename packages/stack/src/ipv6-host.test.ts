// The stack's IPv6 host against hand-made datagrams on the memory link, virtual clock (issue 20): fragment
// reassembly (RFC 8200 §4.5, RFC 5722) with IPv4's bounds, ICMPv6 errors (RFC 4443 §3.3, §3.4, §2.4 (e), (f)),
// Duplicate Address Detection (RFC 4862 §5.4) and router discovery (RFC 4861 §6.3).
import { createMemoryLink, VirtualClock } from '@mtcp/dpdk-io'
import {
  Icmpv6Type,
  Ipv6ChainStatus,
  Ipv6HeaderChain,
  Ipv6NextHeader,
  Ipv6Reassembler,
  ipv6AddressFromMac,
  ipv6MulticastMac,
  parseIpv6Address,
  solicitedNodeAddress,
  TcpFlags,
  walkIpv6Headers,
} from '@mtcp/tcp-core'
import { describe, expect, it } from 'vitest'
import type { StackError } from './errors.js'
import type { StackOptions } from './config.js'
import { createStack } from './stack.js'
import { rxFramesAccounted } from './stats.js'
import { fragment6, fragments6, icmpv6Datagram, ipv6Datagram, ndpDatagram, RawPeer6, tcpSegment6 } from './test-support/raw-peer6.js'
import { runUntil } from './testing.js'

const base = { rate: 1e9, delay: 100, queuePackets: 10_000 }
const PEER = parseIpv6Address('fd00::1')!
const OTHER_PEER = parseIpv6Address('fd00::3')!
const STACK = parseIpv6Address('fd00::2')!
const ALL_NODES = parseIpv6Address('ff02::1')!

function setup(options: Partial<StackOptions> = {}) {
  const clock = new VirtualClock()
  const link = createMemoryLink({ clock, impairments: base })
  const peerMac = link.a.link.mac
  const errors: StackError[] = []
  const stack = createStack({
    port: link.b,
    address: '10.0.0.2/24',
    ipv6: 'fd00::2/64',
    staticNeighbors: [
      { ip: 'fd00::1', mac: peerMac },
      { ip: 'fd00::3', mac: peerMac },
    ],
    onError: (error) => errors.push(error),
    ...options,
  })
  const peer = new RawPeer6(link.a, clock, stack.options.mac)
  return { clock, link, stack, peer, peerMac, errors }
}

function echoRequest(src: Uint8Array, dst: Uint8Array, data: Uint8Array, sequenceNumber = 1): Uint8Array {
  return icmpv6Datagram(src, dst, { kind: 'echoRequest', identifier: 0x4242, sequenceNumber, data })
}

const pattern = (length: number, seed = 0): Uint8Array => Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff)

/** The datagrams, with those that came in fragments put back together (a reassembler of our own). */
function whole(datagrams: Uint8Array[]): Uint8Array[] {
  const reassembler = new Ipv6Reassembler()
  const chain = new Ipv6HeaderChain()
  const out: Uint8Array[] = []
  for (const datagram of datagrams) {
    if (walkIpv6Headers(datagram, 0, chain) !== Ipv6ChainStatus.FRAGMENT) {
      out.push(datagram)
      continue
    }
    const result = reassembler.onFragment(0, datagram, chain)
    if (result.status === 'complete') out.push(result.datagram)
  }
  return out
}

const icmpType = (datagram: Uint8Array): number | undefined => (datagram[6] === Ipv6NextHeader.ICMPV6 ? datagram[40] : undefined)

describe('IPv6 fragment reassembly (RFC 8200 §4.5)', () => {
  it('answers an echo request of 3000 bytes that came in three fragments out of order, its reply in fragments within the MTU', () => {
    const { stack, peer } = setup()
    const data = pattern(3000)
    const pieces = fragments6(echoRequest(PEER, STACK, data), 1232, 0x1001)
    expect(pieces).toHaveLength(3)
    for (const piece of [pieces[2]!, pieces[0]!, pieces[1]!]) peer.send(piece)
    const received = peer.receive(10_000)
    // The reply (3048 bytes of IPv6) does not fit a 1500-byte MTU: it came in fragments, none over the MTU.
    expect(received.length).toBeGreaterThan(1)
    for (const datagram of received) expect(datagram.byteLength).toBeLessThanOrEqual(1500)
    const replies = whole(received).filter((datagram) => icmpType(datagram) === Icmpv6Type.ECHO_REPLY)
    expect(replies).toHaveLength(1)
    expect([...replies[0]!.subarray(48)]).toEqual([...data])
    expect(stack.stats.reassembly6.reassembled).toBe(1)
    expect(stack.stats.rx.fragments).toBe(2) // the third completes the datagram and counts as it
    expect(stack.stats.rx.ipv6).toBe(1)
    expect(rxFramesAccounted(stack.stats)).toBe(stack.stats.rx.frames)
  })

  it('answers a SYN that came in fragments with a SYN-ACK', () => {
    const { stack, peer } = setup()
    const listener = stack.socket()
    stack.bind(listener, '::', 80)
    stack.listen(listener)
    const syn = tcpSegment6(PEER, STACK, { srcPort: 40000, dstPort: 80, seqNumber: 1000, flags: TcpFlags.SYN, options: { mss: 1440 } })
    const pieces = fragments6(ipv6Datagram(PEER, STACK, Ipv6NextHeader.TCP, syn), 8, 0x2002)
    expect(pieces.length).toBeGreaterThan(2)
    for (const piece of pieces.reverse()) peer.send(piece)
    const synAck = peer.receive(10_000).find((datagram) => datagram[6] === Ipv6NextHeader.TCP)
    expect(synAck).toBeDefined()
    expect(synAck![40 + 13]! & (TcpFlags.SYN | TcpFlags.ACK)).toBe(TcpFlags.SYN | TcpFlags.ACK)
    expect(new DataView(synAck!.buffer, synAck!.byteOffset).getUint32(40 + 8)).toBe(1001) // it acknowledges our SYN
    expect(stack.stats.tcp.passiveOpens).toBe(1)
    expect(rxFramesAccounted(stack.stats)).toBe(stack.stats.rx.frames)
  })

  it('drops the whole datagram when two fragments overlap (RFC 5722 §4), and its later fragments too', () => {
    const { stack, peer } = setup()
    const request = echoRequest(PEER, STACK, pattern(2000))
    peer.send(fragment6(request, 0, 1024, true, 7))
    peer.send(fragment6(request, 1016, 1600, true, 7)) // 8 bytes over the first
    peer.send(fragment6(request, 1600, 2008, false, 7))
    expect(peer.receive(10_000).filter((datagram) => icmpType(datagram) === Icmpv6Type.ECHO_REPLY)).toHaveLength(0)
    expect(stack.stats.rx.drops.fragmentOverlap).toBe(2)
    expect(stack.stats.reassembly6.discarded).toBe(1)
    expect(stack.stats.reassembly6.reassembled).toBe(0)
    expect(rxFramesAccounted(stack.stats)).toBe(stack.stats.rx.frames)
  })

  it('drops an exact duplicate alone and completes the datagram', () => {
    const { stack, peer } = setup()
    const pieces = fragments6(echoRequest(PEER, STACK, pattern(2000)), 1024, 8)
    peer.send(pieces[0]!)
    peer.send(pieces[0]!)
    peer.send(pieces[1]!)
    expect(whole(peer.receive(10_000)).filter((datagram) => icmpType(datagram) === Icmpv6Type.ECHO_REPLY)).toHaveLength(1)
    expect(stack.stats.rx.drops.fragmentDuplicate).toBe(1)
  })

  it('times out after 60 s: a time exceeded (code 1) quoting the first fragment when it came, nothing when it did not', () => {
    const { stack, peer, clock } = setup()
    const first = fragments6(echoRequest(PEER, STACK, pattern(2000)), 1024, 9)[0]!
    const second = fragments6(echoRequest(PEER, STACK, pattern(2000), 2), 1024, 10)[1]!
    peer.send(first)
    peer.send(second)
    expect(peer.receive(59_000_000)).toHaveLength(0)
    const errors = peer.receive(2_000_000)
    expect(errors).toHaveLength(1)
    const error = errors[0]!
    expect(icmpType(error)).toBe(Icmpv6Type.TIME_EXCEEDED)
    expect(error[41]).toBe(1) // fragment reassembly time exceeded
    expect([...error.subarray(48, 48 + first.byteLength)]).toEqual([...first])
    expect(stack.stats.reassembly6.timeouts).toBe(2)
    expect(stack.stats.icmpv6Errors.timeExceeded).toBe(1)
    expect(clock.now()).toBeGreaterThanOrEqual(60_000_000)
  })

  it('bounds what one source holds (the reassembly option, as IPv4): past it its fragments are dropped, another source is still served', () => {
    const { stack, peer } = setup({ reassembly: { maxPerSource: 1 } })
    // First fragments of datagrams that never complete, 1,024 bytes each (each costs about 3 KB with its copy).
    for (let id = 0; id < 40; id++) peer.send(fragments6(echoRequest(PEER, STACK, pattern(2000)), 1024, 100 + id)[0]!)
    peer.receive(1000)
    expect(stack.stats.rx.drops.fragmentSourceLimit).toBeGreaterThan(0)
    for (const piece of fragments6(echoRequest(OTHER_PEER, STACK, pattern(2000)), 1024, 500)) peer.send(piece)
    expect(whole(peer.receive(10_000)).filter((datagram) => icmpType(datagram) === Icmpv6Type.ECHO_REPLY)).toHaveLength(1)
    expect(rxFramesAccounted(stack.stats)).toBe(stack.stats.rx.frames)
  })

  it('answers a non-last fragment whose length is not a multiple of 8 with a parameter problem, code 0, at the payload length', () => {
    const { stack, peer } = setup()
    peer.send(fragment6(echoRequest(PEER, STACK, pattern(2000)), 0, 1020, true, 11))
    const [error] = peer.receive(10_000)
    expect(icmpType(error!)).toBe(Icmpv6Type.PARAMETER_PROBLEM)
    expect(error![41]).toBe(0)
    expect(new DataView(error!.buffer, error!.byteOffset).getUint32(44)).toBe(4)
    expect(stack.stats.rx.drops.fragmentMalformed).toBe(1)
  })
})

describe('ICMPv6 errors (RFC 4443 §3.4, §2.4)', () => {
  /** A Destination Options header (RFC 8200 §4.6) holding one option of `type` (4 bytes of value), then `next`. */
  function destinationOptions(type: number, next: number, upper: Uint8Array): Uint8Array {
    const header = Uint8Array.of(next, 0, type, 4, 0, 0, 0, 0)
    const out = new Uint8Array(8 + upper.byteLength)
    out.set(header)
    out.set(upper, 8)
    return out
  }

  it('answers an unknown Next Header with a parameter problem, code 1, pointing at it; not when sent to multicast', () => {
    const { stack, peer } = setup()
    const datagram = ipv6Datagram(PEER, STACK, 253, pattern(16))
    peer.send(datagram)
    const [error] = peer.receive(10_000)
    expect(icmpType(error!)).toBe(Icmpv6Type.PARAMETER_PROBLEM)
    expect(error![41]).toBe(1)
    expect(new DataView(error!.buffer, error!.byteOffset).getUint32(44)).toBe(6)
    expect([...error!.subarray(48)]).toEqual([...datagram])
    expect(error!.subarray(24, 40)).toEqual(PEER)
    peer.send(ipv6Datagram(PEER, ALL_NODES, 253, pattern(16)), ipv6MulticastMac(ALL_NODES))
    expect(peer.receive(10_000)).toHaveLength(0)
    expect(stack.stats.icmpv6Errors).toMatchObject({ parameterProblem: 1, notAllowed: 1 })
    expect(stack.stats.rx.drops.unsupportedProtocol).toBe(2)
  })

  it('acts on an unrecognised option by its type\'s high bits (RFC 8200 §4.2): skip (00), discard (01), answer code 2 (10, even to multicast), answer unless multicast (11)', () => {
    const { stack, peer } = setup()
    const echo = icmpv6Datagram(PEER, STACK, { kind: 'echoRequest', identifier: 1, sequenceNumber: 1, data: pattern(8) }).subarray(40)
    const send = (type: number, dst: Uint8Array): Uint8Array[] => {
      // The echo's checksum covers the ICMPv6 message only: the options header in front leaves it valid.
      peer.send(ipv6Datagram(PEER, dst, Ipv6NextHeader.DESTINATION_OPTIONS, destinationOptions(type, Ipv6NextHeader.ICMPV6, dst === STACK ? echo : icmpv6Datagram(PEER, dst, { kind: 'echoRequest', identifier: 1, sequenceNumber: 1, data: pattern(8) }).subarray(40))), dst === STACK ? undefined : ipv6MulticastMac(dst))
      return peer.receive(10_000)
    }
    expect(send(0x1e, STACK).map(icmpType)).toEqual([Icmpv6Type.ECHO_REPLY])
    expect(send(0x5e, STACK)).toHaveLength(0)
    const [problem] = send(0x9e, STACK)
    expect(icmpType(problem!)).toBe(Icmpv6Type.PARAMETER_PROBLEM)
    expect(problem![41]).toBe(2)
    expect(new DataView(problem!.buffer, problem!.byteOffset).getUint32(44)).toBe(42) // the option's type byte
    expect(send(0x9e, ALL_NODES).map(icmpType)).toEqual([Icmpv6Type.PARAMETER_PROBLEM])
    expect(send(0xde, ALL_NODES)).toHaveLength(0)
    expect(send(0xde, STACK).map(icmpType)).toEqual([Icmpv6Type.PARAMETER_PROBLEM])
    expect(stack.stats.icmpv6Errors.parameterProblem).toBe(3)
  })

  it('rate-limits errors with a token bucket (RFC 4443 §2.4 (f)): 10 at once, then 10 a second', () => {
    const { stack, peer } = setup()
    for (let i = 0; i < 30; i++) peer.send(ipv6Datagram(PEER, STACK, 253, pattern(8, i)))
    expect(peer.receive(1000)).toHaveLength(10)
    expect(stack.stats.icmpv6Errors).toMatchObject({ parameterProblem: 10, rateLimited: 20 })
    peer.receive(1_000_000)
    for (let i = 0; i < 30; i++) peer.send(ipv6Datagram(PEER, STACK, 253, pattern(8, i)))
    expect(peer.receive(1000)).toHaveLength(10)
  })

  it('sends no time exceeded about a fragmented ICMPv6 error (RFC 4443 §2.4 (e.1))', () => {
    const { stack, peer } = setup()
    const error = icmpv6Datagram(PEER, STACK, { kind: 'destinationUnreachable', code: 4, value: 0, invoking: pattern(1200) })
    peer.send(fragments6(error, 1024, 77)[0]!)
    expect(peer.receive(61_000_000)).toHaveLength(0)
    expect(stack.stats.icmpv6Errors.notAllowed).toBe(1)
  })
})

describe('Duplicate Address Detection (RFC 4862 §5.4)', () => {
  /** The solicitations the stack sent from :: (its probes), by target. */
  const probes = (datagrams: Uint8Array[]): Uint8Array[] =>
    datagrams.filter((datagram) => icmpType(datagram) === Icmpv6Type.NEIGHBOR_SOLICITATION && datagram.subarray(8, 24).every((byte) => byte === 0))

  it('is off by default on a memory link; with ipv6Dad both addresses are tentative until their probes went unanswered', () => {
    const plain = setup()
    expect(probes(plain.peer.receive(5_000_000))).toHaveLength(0)
    const { stack, peer } = setup({ ipv6Dad: true })
    const linkLocal = ipv6AddressFromMac(parseIpv6Address('fe80::')!, stack.options.mac)
    // While tentative: an echo to the address is dropped (RFC 4862 §5.4), not answered.
    peer.send(echoRequest(PEER, STACK, pattern(8)))
    const early = peer.receive(1000)
    expect(early.filter((datagram) => icmpType(datagram) === Icmpv6Type.ECHO_REPLY)).toHaveLength(0)
    expect(stack.stats.rx.drops.ipv6AddressNotReady).toBe(1)
    const sent = probes([...early, ...peer.receive(3_000_000)])
    expect(sent.map((probe) => Buffer.from(probe.subarray(48, 64)).toString('hex')).sort()).toEqual([Buffer.from(STACK).toString('hex'), Buffer.from(linkLocal).toString('hex')].sort())
    for (const probe of sent) expect(probe.subarray(24, 40)).toEqual(solicitedNodeAddress(probe.subarray(48, 64))) // to the solicited-node group
    expect(stack.stats.dad).toEqual({ probes: 2, preferred: 2, duplicates: 0 })
    peer.send(echoRequest(PEER, STACK, pattern(8)))
    expect(peer.receive(1000).map(icmpType)).toEqual([Icmpv6Type.ECHO_REPLY])
  })

  it('holds a connection\'s SYN while its source is tentative and sends it once the address is preferred', () => {
    const clock = new VirtualClock()
    const link = createMemoryLink({ clock, impairments: base })
    const a = createStack({ port: link.a, address: '10.0.0.1/24', ipv6: 'fd00::1/64', ipv6Dad: true })
    const b = createStack({ port: link.b, address: '10.0.0.2/24', ipv6: 'fd00::2/64' })
    const listener = b.socket()
    b.bind(listener, '::', 80)
    b.listen(listener)
    // When a sent the probe for fd00::1 and its first TCP frame.
    let probeAt: number | undefined
    let synAt: number | undefined
    const txBurst = link.a.txBurst.bind(link.a)
    link.a.txBurst = (bufs, count) => {
      for (let i = 0; i < count; i++) {
        const frame = bufs[i]!.frame()
        if (frame[12] !== 0x86 || frame[13] !== 0xdd) continue
        if (frame[14 + 6] === Ipv6NextHeader.TCP) synAt ??= clock.now()
        if (frame[54] === Icmpv6Type.NEIGHBOR_SOLICITATION && frame.subarray(14 + 8, 14 + 24).every((byte) => byte === 0) && frame[54 + 8 + 15] === 1) probeAt ??= clock.now()
      }
      return txBurst(bufs, count)
    }
    const client = a.socket()
    a.connect(client, 'fd00::2', 80)
    runUntil(clock, () => a.state(client) === 'ESTABLISHED')
    expect(probeAt).toBeDefined()
    expect(synAt! - probeAt!).toBeGreaterThanOrEqual(1_000_000) // RetransTimer after the probe, not before
    expect(a.stats.tx.drops.ipv6AddressNotReady).toBe(0)
  })

  it('an advertisement for a tentative address makes it duplicate: reported, counted, not used; the link-local one still works', () => {
    const { stack, peer, peerMac, errors } = setup({ ipv6Dad: true })
    const linkLocal = ipv6AddressFromMac(parseIpv6Address('fe80::')!, stack.options.mac)
    // A connection started at once: its SYN waits for DAD, then goes with the address (dropped, counted).
    const early = stack.socket()
    stack.connect(early, 'fd00::1', 80)
    // Another node holds fd00::2: it answers our probe (RFC 4862 §5.4.4) to all nodes.
    peer.send(ndpDatagram(PEER, ALL_NODES, { kind: 'neighborAdvertisement', router: false, solicited: false, override: true, target: STACK, options: { targetLinkLayerAddress: peerMac } }), ipv6MulticastMac(ALL_NODES))
    peer.receive(3_000_000)
    expect(errors.map((error) => error.code)).toEqual(['ERR_DUPLICATE_ADDRESS'])
    expect(errors[0]!.message).toMatch(/fd00::2/)
    expect(stack.stats.dad).toMatchObject({ duplicates: 1, preferred: 1 })
    expect(stack.stats.tx.drops.ipv6AddressNotReady).toBeGreaterThanOrEqual(1) // the SYN that waited, and any sent again since
    expect(peer.frames.some((frame) => frame[14 + 6] === Ipv6NextHeader.TCP)).toBe(false)
    expect(() => stack.connect(stack.socket(), 'fd00::1', 80)).toThrowError(/EADDRNOTAVAIL/)
    expect(() => stack.bind(stack.socket(), 'fd00::2', 80)).toThrowError(/EADDRNOTAVAIL/)
    const notReady = stack.stats.rx.drops.ipv6AddressNotReady
    peer.send(echoRequest(PEER, STACK, pattern(8)))
    expect(peer.receive(1000)).toHaveLength(0)
    expect(stack.stats.rx.drops.ipv6AddressNotReady).toBe(notReady + 1)
    // A solicitation for it is not answered either.
    peer.send(ndpDatagram(PEER, solicitedNodeAddress(STACK), { kind: 'neighborSolicitation', target: STACK, options: { sourceLinkLayerAddress: peerMac } }), ipv6MulticastMac(solicitedNodeAddress(STACK)))
    expect(peer.receive(1000)).toHaveLength(0)
    // The link-local address passed DAD: it answers.
    peer.send(echoRequest(PEER, linkLocal, pattern(8)))
    const [reply] = peer.receive(1000)
    expect(icmpType(reply!)).toBe(Icmpv6Type.ECHO_REPLY)
    expect(reply!.subarray(8, 24)).toEqual(linkLocal)
  })

  it('a probe from :: for the same address is another node doing DAD (RFC 4862 §5.4.3); our own probe looped back is not', () => {
    const { stack, peer, errors } = setup({ ipv6Dad: true })
    // Up to the moment the probe for fd00::2 goes (within the first second, RFC 4862 §5.4.2's random delay).
    const isProbe = (datagram: Uint8Array): boolean => icmpType(datagram) === Icmpv6Type.NEIGHBOR_SOLICITATION && datagram.subarray(48, 64).every((byte, i) => byte === STACK[i])
    let sent: Uint8Array[] = []
    while (sent.length === 0 && stack.stats.dad.preferred === 0) sent = peer.receive(1000).filter(isProbe)
    expect(sent).toHaveLength(1)
    peer.send(sent[0]!, ipv6MulticastMac(solicitedNodeAddress(STACK))) // looped back, with our nonce (RFC 7527)
    peer.receive(1000)
    expect(errors).toHaveLength(0)
    peer.send(ndpDatagram(new Uint8Array(16), solicitedNodeAddress(STACK), { kind: 'neighborSolicitation', target: STACK, options: {} }), ipv6MulticastMac(solicitedNodeAddress(STACK)))
    peer.receive(3_000_000)
    expect(errors.map((error) => error.code)).toEqual(['ERR_DUPLICATE_ADDRESS'])
    expect(stack.stats.dad.duplicates).toBe(1)
  })
})

describe('router discovery (RFC 4861 §6.3)', () => {
  function routerAdvertisement(routerLifetime: number, peerMac: Uint8Array, prefixes: Array<{ prefix: string; validLifetime: number }> = []): Uint8Array {
    const router = ipv6AddressFromMac(parseIpv6Address('fe80::')!, peerMac)
    return ndpDatagram(router, ALL_NODES, {
      kind: 'routerAdvertisement',
      curHopLimit: 64,
      managed: false,
      other: false,
      routerLifetime,
      reachableTime: 0,
      retransTimer: 0,
      options: {
        sourceLinkLayerAddress: peerMac,
        prefixes: prefixes.map((p) => ({ prefixLength: 64, onLink: true, autonomous: false, validLifetime: p.validLifetime, preferredLifetime: p.validLifetime, prefix: parseIpv6Address(p.prefix)! })),
      },
    })
  }

  it('solicits routers at start when asked, from its link-local address, to all routers', () => {
    const { peer, stack } = setup({ ipv6RouterSolicitation: true })
    const solicitations = peer.receive(10_000_000).filter((datagram) => icmpType(datagram) === Icmpv6Type.ROUTER_SOLICITATION)
    expect(solicitations).toHaveLength(3) // MAX_RTR_SOLICITATIONS (§6.3.7), none answered
    expect(solicitations[0]!.subarray(24, 40)).toEqual(parseIpv6Address('ff02::2'))
    expect(solicitations[0]!.subarray(8, 24)).toEqual(ipv6AddressFromMac(parseIpv6Address('fe80::')!, stack.options.mac))
    expect(stack.stats.routerDiscovery.solicitations).toBe(3)
  })

  it('sends off-link traffic through the router an advertisement named, for its lifetime; an advertised prefix is on-link', () => {
    const { peer, stack, peerMac } = setup()
    expect(() => stack.connect(stack.socket(), '2001:db8:99::5', 80)).toThrowError(/EHOSTUNREACH/)
    peer.send(routerAdvertisement(30, peerMac, [{ prefix: '2001:db8:1::', validLifetime: 30 }]), ipv6MulticastMac(ALL_NODES))
    peer.receive(1000)
    expect(stack.stats.routerDiscovery.advertisements).toBe(1)
    stack.connect(stack.socket(), '2001:db8:99::5', 80)
    const frames = peer.frames.length
    peer.receive(1000)
    const syn = peer.frames.slice(frames).find((frame) => frame[14 + 6] === Ipv6NextHeader.TCP)!
    expect(syn).toBeDefined()
    expect([...syn.subarray(0, 6)]).toEqual([...peerMac]) // to the router's MAC (its source link-layer address option)
    expect(syn.subarray(14 + 24, 14 + 40)).toEqual(parseIpv6Address('2001:db8:99::5'))
    // 2001:db8:1::/64 is on-link: its address is resolved itself (a solicitation to its solicited-node group).
    stack.connect(stack.socket(), '2001:db8:1::7', 80)
    const solicitation = peer.receive(1000).find((datagram) => icmpType(datagram) === Icmpv6Type.NEIGHBOR_SOLICITATION)!
    expect(solicitation.subarray(48, 64)).toEqual(parseIpv6Address('2001:db8:1::7'))
    // After the router lifetime (30 s) there is no default router any more.
    peer.receive(31_000_000)
    expect(() => stack.connect(stack.socket(), '2001:db8:99::6', 80)).toThrowError(/EHOSTUNREACH/)
  })

  it('a neighbour that advertises a new MAC gets the next segments there, though a connection was already sending to it', () => {
    const { stack, peer, peerMac } = setup({ staticNeighbors: [] })
    const NEW_MAC = Uint8Array.of(0x02, 0, 0, 0, 0, 0x77)
    const fd = stack.socket()
    stack.connect(fd, 'fd00::1', 80)
    // The stack solicits fd00::1; the peer answers (solicited, override): REACHABLE at peerMac, the SYN goes.
    const ns = peer.receive(1000).find((datagram) => icmpType(datagram) === Icmpv6Type.NEIGHBOR_SOLICITATION)
    expect(ns).toBeDefined()
    const na = (solicited: boolean, mac: Uint8Array) =>
      ndpDatagram(PEER, STACK, { kind: 'neighborAdvertisement', router: false, solicited, override: true, target: PEER, options: { targetLinkLayerAddress: mac } })
    peer.send(na(true, peerMac))
    const tcpTo = (frames: Uint8Array[]) => frames.filter((frame) => frame[14 + 6] === Ipv6NextHeader.TCP).map((frame) => [...frame.subarray(0, 6)])
    let from = peer.frames.length
    peer.receive(1000)
    expect(tcpTo(peer.frames.slice(from))).toEqual([[...peerMac]]) // the SYN
    // A second SYN to the same neighbour (its entry REACHABLE) goes to the same MAC…
    stack.connect(stack.socket(), 'fd00::1', 81)
    from = peer.frames.length
    peer.receive(1000)
    expect(tcpTo(peer.frames.slice(from))).toEqual([[...peerMac]])
    // …until the neighbour says its MAC changed (RFC 4861 §7.2.5, override): the next one goes to the new MAC.
    peer.send(na(false, NEW_MAC))
    peer.receive(1000)
    expect(stack.stats.rx.icmpv6).toBe(2)
    stack.connect(stack.socket(), 'fd00::1', 82)
    from = peer.frames.length
    peer.receive(1000)
    expect(tcpTo(peer.frames.slice(from)).at(-1)).toEqual([...NEW_MAC])
  })

  it('drops a router at once when it advertises a lifetime of 0', () => {
    const { peer, stack, peerMac } = setup()
    peer.send(routerAdvertisement(1800, peerMac), ipv6MulticastMac(ALL_NODES))
    peer.receive(1000)
    expect(() => stack.connect(stack.socket(), '2001:db8:99::5', 80)).not.toThrow()
    peer.send(routerAdvertisement(0, peerMac), ipv6MulticastMac(ALL_NODES))
    peer.receive(1000)
    expect(() => stack.connect(stack.socket(), '2001:db8:99::5', 81)).toThrowError(/EHOSTUNREACH/)
  })
})
