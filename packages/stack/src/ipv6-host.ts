/**
 * The IPv6 host under the stack's TCP (RFC 8200, RFC 4861, RFC 4443), beside the IPv4 host (ipv4-host.ts):
 *
 * - Receive: the Ethernet destination (our MAC, or a 33:33 multicast MAC, RFC 2464 §7), the fixed header
 *   checked in place (RFC 8200 §3), the destination filtered (our addresses, all-nodes ff02::1, our
 *   solicited-node groups, RFC 4291 §2.7.1/§2.8), the extension headers walked (RFC 8200 §4,
 *   `walkIpv6Headers`), then TCP (read into the stack's reused segment record with the pseudo-header of
 *   RFC 8200 §8.1, allocation-free), ICMPv6 echo (RFC 4443 §4), Neighbor Discovery (RFC 4861 §6, §7), and
 *   packet too big (RFC 4443 §3.2, RFC 8201) for the connection it quotes. Every dropped frame is counted
 *   once, by reason (stats.ts).
 * - Fragments: tcp-core's `Ipv6Reassembler` (RFC 8200 §4.5, RFC 5722 overlaps, RFC 7112), bounded as IPv4's
 *   reassembly is (the `reassembly` option: datagrams at once, per source, timeout); a datagram it completes
 *   is walked again as one that came whole. An echo reply larger than the MTU goes out in fragments.
 * - ICMPv6 errors: parameter problem for an unknown Next Header (code 1), an option whose type asks for it
 *   (code 2, RFC 8200 §4.2), a bad header field (code 0) or an incomplete first fragment (code 3, RFC 7112);
 *   time exceeded (code 1) when reassembly times out after the first fragment came. Never about an ICMPv6
 *   error or to multicast beyond what RFC 4443 §2.4 (e) allows (`icmpv6ErrorAllowed`), and rate-limited by
 *   a token bucket (§2.4 (f)).
 * - Neighbours: tcp-core's `NeighborCache` (RFC 4861 §7.2, §7.3 states); answers to solicitations for our
 *   addresses (§7.2.3, §7.2.4); frames wait in their pool buffers while a neighbour is resolved, bounded as
 *   the ARP queue is (ipv4-host.ts).
 * - Routing (RFC 4861 §5.2): on-link when the destination is in our prefix, link-local, or in a prefix a
 *   router advertised on-link; else the configured gateway, else a default router learned from router
 *   advertisements (§6.3.4, lifetimes honoured); router solicitations at start (§6.3.7) when asked.
 *
 * Addresses: the configured global address and the link-local address made from the MAC (RFC 4862 §5.3).
 * With DAD on (RFC 4862 §5.4) both are tentative until their probe went unanswered: datagrams to a tentative
 * address are dropped, frames from it wait (bounded) and go once it is preferred; an address found duplicate
 * is reported (`onDuplicate`) and never used. SLAAC (RFC 4862 §5.5.3) is not done.
 * @module
 */
import { type BufferPool, type Micros, OffloadFlags, type PacketBuffer } from '@mtcp/dpdk-io'
import {
  type DadProbe,
  type DadResult,
  DuplicateAddressDetection,
  icmpv6ErrorAllowed,
  Icmpv6ParameterProblemCode,
  Icmpv6RateLimiter,
  Icmpv6TimeExceededCode,
  Ipv6Reassembler,
  type Ipv6ReassemblyOptions,
  ipv6MulticastMac,
  RouterDiscovery,
  emptyInboundSegment,
  formatIpv6Address,
  Icmpv6Type,
  IPV6_HEADER_LENGTH,
  IPV6_MIN_MTU,
  ipv6AddressEquals,
  ipv6AddressFromMac,
  Ipv6ChainStatus,
  Ipv6HeaderChain,
  ipv6HeaderProblem,
  Ipv6NextHeader,
  ipv6PrefixMatches,
  ipv6PseudoHeaderSum,
  ipv6PseudoHeaderSumOf,
  icmpv6Problem,
  isLinkLocalIpv6,
  isMulticastIpv6,
  isUnspecifiedIpv6,
  NeighborCache,
  type NeighborCacheOptions,
  type NeighborInput,
  type NeighborSolicitationRequest,
  OutboundSegment,
  parseIpv6Address,
  parseNdp,
  TcpReadStatus,
  TcpSegmentReader,
  walkIpv6Headers,
  Ipv6WireError,
  type RouterAdvertisementRepr,
} from '@mtcp/tcp-core'
import { ARP_QUEUE_PER_DESTINATION } from './ipv4-host.js'
import { REASSEMBLY_DEFAULTS, type ReassemblyOptions } from './ipv4-reassembly.js'
import { Ipv6FrameWriter } from './ipv6-frames.js'
import type { StackStats } from './stats.js'
import type { SocketRecord } from './socket-record.js'
import { Tcp6HeaderTemplate } from './tcp-header-template.js'

/** What {@link Ipv6Host.input} made of a frame. */
export const Ipv6FrameKind = {
  /** Dropped, counted by reason. */
  Drop: 0,
  /** Handled here (ICMPv6 echo, Neighbor Discovery; a fragment held for reassembly): counted in `rx.ipv6` (`rx.fragments`). */
  Handled: 1,
  /** A TCP segment for the stack: {@link Ipv6Host.segment} and the addresses at {@link Ipv6Host.srcOffset}, {@link Ipv6Host.dstOffset}. */
  Tcp: 2,
  /** A packet too big quoting a TCP segment we sent: {@link Ipv6Host.quoted}. */
  PacketTooBig: 3,
} as const
/** One of the {@link Ipv6FrameKind} values. */
export type Ipv6FrameKind = (typeof Ipv6FrameKind)[keyof typeof Ipv6FrameKind]

/** @internal What the host needs to know of the stack. */
export interface Ipv6HostOptions {
  address: Uint8Array
  prefixLength: number
  gateway: Uint8Array | undefined
  mac: Uint8Array
  pool: BufferPool
  /** Queue a frame whose destination MAC is filled in (the stack's transmit queue). */
  transmit: (buffer: PacketBuffer) => void
  /** Hand the transmit queue to the port now (between the bursts of frames a neighbour's answer releases). */
  flush: () => void
  stats: StackStats
  neighbors: NeighborCacheOptions | undefined
  staticNeighbors: ReadonlyArray<{ ip: string; mac: Uint8Array }> | undefined
  /** The interface MTU: larger echo replies go out in fragments; ICMPv6 errors fit in it. */
  mtu: number
  /** The reassembly bounds (the IPv4 option, carried over: see {@link ipv6ReassemblyOptions}). */
  reassembly: ReassemblyOptions | undefined
  /** Run Duplicate Address Detection on both addresses (RFC 4862 §5.4) from `now`. */
  dad: boolean
  /** Send router solicitations from `now` (RFC 4861 §6.3.7). */
  routerSolicitation: boolean
  /** When the host starts (µs). */
  now: Micros
  /** An address was found duplicate (RFC 4862 §5.4.5): the stack reports it. */
  onDuplicate: (address: Uint8Array) => void
  /** Whether the port completes TCP checksums over IPv6 (`offloads.txChecksum.tcp6`). Default false. */
  checksumOffload?: boolean
}

/**
 * The IPv6 reassembly bounds from the stack's `reassembly` option, as IPv4 reassembly's: `maxDatagrams`
 * datagrams at once (64), `maxPerSource` datagrams' worth of bytes per source (16 × 65,575), the bytes of
 * `maxDatagrams` full datagrams in all; the timeout as given, else RFC 8200 §4.5's 60 s.
 */
export function ipv6ReassemblyOptions(options: ReassemblyOptions | undefined): Ipv6ReassemblyOptions {
  const datagram = 65_535 + 40
  const maxDatagrams = options?.maxDatagrams ?? REASSEMBLY_DEFAULTS.maxDatagrams
  return {
    timeout: options?.timeout ?? 60_000_000,
    maxDatagrams,
    maxBytes: maxDatagrams * datagram,
    maxBytesPerSource: (options?.maxPerSource ?? REASSEMBLY_DEFAULTS.maxPerSource) * datagram,
  }
}

/** The rate limit of the ICMPv6 errors the stack sends (RFC 4443 §2.4 (f)): 10 a second in bursts of up to 10 (Linux: one per 100 ms per destination under a 1,000/s global bucket). */
const ICMPV6_ERRORS_PER_SECOND = 10
const ICMPV6_ERROR_BURST = 10
/** all-routers, ff02::2 (RFC 4291 §2.7.1): where router solicitations go (RFC 4861 §6.3.7). */
const ALL_ROUTERS = parseIpv6Address('ff02::2')!
const UNSPECIFIED = new Uint8Array(16)

/** Frames released by a neighbour's advertisement between two hand-overs of the transmit queue to the port. */
const RELEASE_CHUNK = 1024
/** ff02::1, all nodes (RFC 4291 §2.7.1). */
const ALL_NODES = parseIpv6Address('ff02::1')!
const LINK_LOCAL_PREFIX = parseIpv6Address('fe80::')!

/** @internal The IPv6 host (see the module). */
export class Ipv6Host {
  /** The global address (16 bytes). */
  readonly address: Uint8Array
  /** The link-local address, fe80:: with the modified EUI-64 of the MAC (RFC 4862 §5.3). */
  readonly linkLocal: Uint8Array
  readonly prefixLength: number
  readonly gateway: Uint8Array | undefined
  readonly neighbors: NeighborCache<PacketBuffer>
  readonly writer: Ipv6FrameWriter
  /** The last TCP segment read ({@link Ipv6FrameKind}.Tcp), in the stack's reused record. */
  readonly #tcp = new TcpSegmentReader(emptyInboundSegment())
  readonly segment = this.#tcp.segment
  /** The frame bytes of the last segment, and where its source and destination addresses are in them. */
  data: Uint8Array = new Uint8Array(0)
  srcOffset = 0
  dstOffset = 0
  srcPort = 0
  dstPort = 0
  /** The last packet too big ({@link Ipv6FrameKind}.PacketTooBig): the MTU, the quoted segment's ports (ours first), sequence number, and where the quoted addresses are in {@link data}. */
  readonly quoted = { mtu: 0, localPort: 0, remotePort: 0, seq: 0, localOffset: 0, remoteOffset: 0 }
  readonly #chain = new Ipv6HeaderChain()
  /** IPv6 reassembly (RFC 8200 §4.5). */
  readonly reassembly: Ipv6Reassembler
  /** Duplicate Address Detection (RFC 4862 §5.4), when on. */
  readonly #dad: DuplicateAddressDetection | undefined
  /** Router and prefix discovery (RFC 4861 §6.3). */
  readonly routers: RouterDiscovery
  readonly #errorLimit = new Icmpv6RateLimiter(ICMPV6_ERRORS_PER_SECOND, ICMPV6_ERROR_BURST)
  readonly #mtu: number
  readonly #onDuplicate: (address: Uint8Array) => void
  /** DAD states of the global and link-local addresses ('preferred' when DAD is off). */
  #globalState: 'tentative' | 'preferred' | 'duplicate' = 'preferred'
  #linkLocalState: 'tentative' | 'preferred' | 'duplicate' = 'preferred'
  /** Both addresses preferred: the send path checks nothing more (the usual case, after start-up). */
  #allPreferred = true
  /**
   * The last destination a frame was sent to, with its MAC while its neighbour entry stays REACHABLE
   * (`NeighborCache.reachableUntil`): a connection's segments skip the route and neighbour lookups. Void
   * (`#fastUntil` 0) whenever ICMPv6 comes in or a timer runs, since both can change routes and neighbours.
   */
  readonly #fastDestination = new Uint8Array(16)
  #fastMac: Uint8Array | undefined = undefined
  #fastUntil: Micros = 0
  /** Frames from a tentative address, waiting for its DAD (bounded by {@link #tentativeLimit}). */
  #tentativeQueue: PacketBuffer[] = []
  readonly #tentativeLimit: number
  /** The last `now` seen (input or poll): the time of routing decisions made from the socket API. */
  #now: Micros
  /** The next fragment Identification (RFC 8200 §4.5; RFC 7739 §5: not predictable from outside, so it starts at random). */
  #fragmentId = (Math.random() * 0x1_0000_0000) >>> 0
  /** Where an echo reply larger than the MTU is built before it is cut into fragments; made on first use. */
  #scratch: Uint8Array | undefined = undefined
  readonly #probe = (request: DadProbe): void => {
    // RFC 4862 §5.4.2: from ::, to the target's solicited-node group, no source link-layer address; a nonce (RFC 7527).
    this.#stats.dad.probes++
    this.#sendNdp({ kind: 'neighborSolicitation', target: request.target, options: { nonce: request.nonce } }, request.dstMac, UNSPECIFIED, request.dst)
  }
  readonly #solicitRouters = (): void => {
    // RFC 4861 §6.3.7: from the link-local address with our link-layer address, or from :: without it while tentative.
    const ready = this.#linkLocalState === 'preferred'
    this.#stats.routerDiscovery.solicitations++
    this.#sendNdp({ kind: 'routerSolicitation', options: ready ? { sourceLinkLayerAddress: this.writer.mac } : {} }, ipv6MulticastMac(ALL_ROUTERS), ready ? this.linkLocal : UNSPECIFIED, ALL_ROUTERS)
  }
  readonly #timeExceeded = (first: Uint8Array): void => {
    // RFC 4443 §2.4 (e.1): not about an ICMPv6 error, which `icmpv6ErrorAllowed` cannot see behind the Fragment header.
    const chain = this.#chain
    if (walkIpv6Headers(first, 0, chain) === Ipv6ChainStatus.FRAGMENT && first[chain.fragmentHeaderOffset] === Ipv6NextHeader.ICMPV6) {
      const type = first[chain.fragmentHeaderOffset + 8]
      if (type === undefined || type < 128 || type === Icmpv6Type.REDIRECT) {
        this.#stats.icmpv6Errors.notAllowed++
        return
      }
    }
    this.#sendError(this.#now, first, 0, false, 'timeExceeded', Icmpv6TimeExceededCode.REASSEMBLY, 0)
  }
  /** The segment a bare reset is written from. */
  readonly #reset = new OutboundSegment()
  readonly #pool: BufferPool
  readonly #transmit: (buffer: PacketBuffer) => void
  readonly #flush: () => void
  readonly #stats: StackStats
  /** Connection segments leave their TCP checksum to the port (ipv6HostOptions.checksumOffload). */
  readonly #checksumOffload: boolean
  readonly #solicit = (request: NeighborSolicitationRequest): void => {
    const source = isLinkLocalIpv6(request.target) ? this.linkLocal : this.address
    this.#sendNdp({ kind: 'neighborSolicitation', target: request.target, options: { sourceLinkLayerAddress: this.writer.mac } }, request.dstMac, source, request.dst)
  }
  readonly #unreachable = (buffer: PacketBuffer): void => {
    this.#stats.tx.drops.neighborUnresolved++
    buffer.release()
  }

  constructor(options: Ipv6HostOptions) {
    this.address = options.address
    this.prefixLength = options.prefixLength
    this.gateway = options.gateway
    this.linkLocal = ipv6AddressFromMac(LINK_LOCAL_PREFIX, options.mac)
    this.#pool = options.pool
    this.#transmit = options.transmit
    this.#flush = options.flush
    this.#stats = options.stats
    this.#checksumOffload = options.checksumOffload === true
    // As the ARP queue: a burst of connections to one next hop waits whole, up to the pool's size.
    this.neighbors = new NeighborCache<PacketBuffer>({ maxQueuedPerNeighbor: Math.min(ARP_QUEUE_PER_DESTINATION, options.pool.count), ...options.neighbors })
    for (const entry of options.staticNeighbors ?? []) this.neighbors.addStatic(parseIpv6Address(entry.ip)!, entry.mac)
    this.writer = new Ipv6FrameWriter(options.mac)
    this.#mtu = options.mtu
    this.#now = options.now
    this.#onDuplicate = options.onDuplicate
    this.#tentativeLimit = Math.min(ARP_QUEUE_PER_DESTINATION, options.pool.count)
    this.reassembly = new Ipv6Reassembler(ipv6ReassemblyOptions(options.reassembly))
    this.routers = new RouterDiscovery({ linkMtu: Math.max(IPV6_MIN_MTU, options.mtu), maxRouterSolicitations: options.routerSolicitation ? 3 : 0 })
    this.routers.start(options.now)
    if (options.dad) {
      // RFC 4862 §5.4: both addresses tentative; the first probe after a random delay (§5.4.2, the interface just started).
      this.#dad = new DuplicateAddressDetection({ retransTimer: this.neighbors.retransTimer })
      this.#dad.start(options.now, this.linkLocal, true)
      this.#dad.start(options.now, this.address, true)
      this.#globalState = this.#linkLocalState = 'tentative'
      this.#allPreferred = false
    }
  }

  /** The DAD state of our address at `bytes[offset]` (the global one unless it is the link-local one). */
  #stateOf(bytes: Uint8Array, offset: number): 'tentative' | 'preferred' | 'duplicate' {
    return ipv6AddressEquals(bytes, this.linkLocal, offset, 0) ? this.#linkLocalState : this.#globalState
  }

  /** Whether our address `local` may be used (not found duplicate, RFC 4862 §5.4.5); a tentative one may, its frames wait. */
  usable(local: Uint8Array): boolean {
    return this.#allPreferred || this.#stateOf(local, 0) !== 'duplicate'
  }

  /** A buffer for a frame to send, or undefined (counted) when the pool is empty. */
  #allocTx(): PacketBuffer | undefined {
    const buffer = this.#pool.alloc()
    if (buffer === undefined) this.#stats.tx.drops.noBuffer++
    return buffer
  }

  /** Whether `bytes[offset, +16)` is one of our unicast addresses (not one DAD found duplicate). */
  isOurs(bytes: Uint8Array, offset: number): boolean {
    if (ipv6AddressEquals(bytes, this.address, offset, 0)) return this.#globalState !== 'duplicate'
    return ipv6AddressEquals(bytes, this.linkLocal, offset, 0) && this.#linkLocalState !== 'duplicate'
  }

  /** Whether a datagram to `bytes[offset, +16)` is for this host: ours, all-nodes, or our solicited-node group. */
  #acceptsDestination(bytes: Uint8Array, offset: number): boolean {
    if (this.isOurAddress(bytes, offset)) return true // (tentative and duplicate ones are refused next, counted apart)
    if (!isMulticastIpv6(bytes, offset)) return false
    if (ipv6AddressEquals(bytes, ALL_NODES, offset, 0)) return true
    // ff02::1:ffXX:XXXX, the low 24 bits of one of our addresses (RFC 4291 §2.7.1).
    if (bytes[offset] !== 0xff || bytes[offset + 1] !== 0x02 || bytes[offset + 11] !== 0x01 || bytes[offset + 12] !== 0xff) return false
    for (let i = 2; i < 11; i++) if (bytes[offset + i] !== 0) return false
    const tail = (bytes[offset + 13]! << 16) | (bytes[offset + 14]! << 8) | bytes[offset + 15]!
    return tail === ((this.address[13]! << 16) | (this.address[14]! << 8) | this.address[15]!) || tail === ((this.linkLocal[13]! << 16) | (this.linkLocal[14]! << 8) | this.linkLocal[15]!)
  }

  /** One received frame with EtherType 0x86dd (untagged). Never throws on its bytes. */
  input(now: Micros, buffer: PacketBuffer): Ipv6FrameKind {
    const drops = this.#stats.rx.drops
    const data = buffer.data
    const start = buffer.offset
    const mac = this.writer.mac
    let unicastMac = true
    for (let i = 0; i < 6; i++) if (data[start + i] !== mac[i]) unicastMac = false
    // RFC 2464 §7: IPv6 multicast goes to 33:33 and the group's low 32 bits.
    if (!unicastMac && !(data[start] === 0x33 && data[start + 1] === 0x33)) {
      drops.notForUs++
      return Ipv6FrameKind.Drop
    }
    const ip = start + 14
    if (ipv6HeaderProblem(data, ip, buffer.length - 14) !== undefined) {
      drops.malformedIpv6++
      return Ipv6FrameKind.Drop
    }
    if (!this.#acceptsDestination(data, ip + 24)) {
      drops.notOurAddress++
      return Ipv6FrameKind.Drop
    }
    this.#now = now
    // RFC 4862 §5.4: a datagram to a tentative address is dropped (the solicitations DAD listens for go to
    // the solicited-node group); one to a duplicate address too, since the address is not ours to use.
    if (!this.#allPreferred && this.isOurAddress(data, ip + 24) && this.#stateOf(data, ip + 24) !== 'preferred') {
      drops.ipv6AddressNotReady++
      return Ipv6FrameKind.Drop
    }
    return this.#datagram(now, data, ip, !unicastMac, buffer.offloadFlags)
  }

  /** Whether `bytes[offset, +16)` is the global or the link-local address, whatever its DAD state. */
  isOurAddress(bytes: Uint8Array, offset: number): boolean {
    return ipv6AddressEquals(bytes, this.address, offset, 0) || ipv6AddressEquals(bytes, this.linkLocal, offset, 0)
  }

  /**
   * A checked datagram for us at `data[ip]` (from a frame, or reassembled): its extension headers walked
   * (RFC 8200 §4), then its upper layer. `offloadFlags`: the frame's (what the port verified), 0 for a
   * reassembled datagram, whose TCP checksum no port has seen whole.
   */
  #datagram(now: Micros, data: Uint8Array, ip: number, linkMulticast: boolean, offloadFlags: number): Ipv6FrameKind {
    const drops = this.#stats.rx.drops
    const chain = this.#chain
    const status = walkIpv6Headers(data, ip, chain)
    if (status === Ipv6ChainStatus.FRAGMENT) return this.#fragment(now, data, ip, linkMulticast)
    if (status !== Ipv6ChainStatus.UPPER_LAYER) {
      drops.ipv6ExtensionHeaders++
      // RFC 8200 §4.2, §4.4: a parameter problem (code 0 at a Routing Type, 2 at an option whose type asks for it).
      if (status === Ipv6ChainStatus.PARAMETER_PROBLEM) this.#sendError(now, data, ip, linkMulticast, 'parameterProblem', chain.problemCode, chain.problemPointer)
      return Ipv6FrameKind.Drop
    }
    const payloadEnd = IPV6_HEADER_LENGTH + ((data[ip + 4]! << 8) | data[ip + 5]!)
    const at = ip + chain.upperOffset
    const length = payloadEnd - chain.upperOffset
    if (chain.upperProtocol === Ipv6NextHeader.TCP) {
      if (isMulticastIpv6(data, ip + 24)) {
        drops.notOurAddress++ // RFC 9293 §3.10.7.2: a SYN to a multicast address is dropped, as any TCP segment to one
        return Ipv6FrameKind.Drop
      }
      return this.#tcpSegment(data, ip, at, length, offloadFlags)
    }
    if (chain.upperProtocol === Ipv6NextHeader.ICMPV6) return this.#icmpv6(now, data, ip, at, length)
    drops.unsupportedProtocol++
    // RFC 8200 §4 (and §4.7 for No Next Header, dropped silently above): an unrecognised Next Header is
    // answered with a parameter problem, code 1, pointing at the field that names it (RFC 4443 §3.4).
    this.#sendError(now, data, ip, linkMulticast, 'parameterProblem', Icmpv6ParameterProblemCode.UNRECOGNIZED_NEXT_HEADER, chain.nextHeaderPointer)
    return Ipv6FrameKind.Drop
  }

  /**
   * A fragment (RFC 8200 §4.5) to the reassembler: held (`rx.fragments`), dropped by reason, answered with a
   * parameter problem, or the datagram it completed, walked again as one that came whole.
   */
  #fragment(now: Micros, data: Uint8Array, ip: number, linkMulticast: boolean): Ipv6FrameKind {
    const stats = this.#stats
    const drops = stats.rx.drops
    const end = ip + IPV6_HEADER_LENGTH + ((data[ip + 4]! << 8) | data[ip + 5]!)
    const reassembly = this.reassembly
    const evictions = reassembly.stats.evictions
    const result = reassembly.onFragment(now, data.subarray(ip, end), this.#chain)
    stats.reassembly6.evicted += reassembly.stats.evictions - evictions
    switch (result.status) {
      case 'pending':
        stats.rx.fragments++
        return Ipv6FrameKind.Handled
      case 'complete': {
        stats.reassembly6.reassembled++
        const datagram = result.datagram
        // The fixed header came in every fragment: checked then; a second Fragment header inside is not followed.
        if (walkIpv6Headers(datagram, 0, this.#chain) === Ipv6ChainStatus.FRAGMENT) {
          drops.fragmentMalformed++
          return Ipv6FrameKind.Drop
        }
        return this.#datagram(now, datagram, 0, linkMulticast, 0)
      }
      case 'parameterProblem':
        // RFC 8200 §4.5 (code 0: length not a multiple of 8, past 65,535 bytes), RFC 7112 §5 (code 3).
        drops.fragmentMalformed++
        this.#sendError(now, data, ip, linkMulticast, 'parameterProblem', result.code, result.pointer)
        return Ipv6FrameKind.Drop
      default:
        switch (result.reason) {
          case 'overlap':
            stats.reassembly6.discarded++
            drops.fragmentOverlap++ // RFC 5722 §4: the datagram goes
            break
          case 'afterOverlap':
            drops.fragmentOverlap++ // RFC 5722 §4: and its fragments still to come
            break
          case 'duplicate':
            drops.fragmentDuplicate++
            break
          case 'sourceLimit':
            drops.fragmentSourceLimit++
            break
          case 'malformed':
            stats.reassembly6.discarded++ // (or a fragment malformed on its own, with no datagram held)
            drops.fragmentMalformed++
            break
          default:
            drops.ipv6Fragment++ // tooLarge (a fragment bigger than the whole memory bound), notFragment
        }
        return Ipv6FrameKind.Drop
    }
  }

  /**
   * An ICMPv6 error about the datagram at `data[ip]` (RFC 4443 §3), to its source: only when RFC 4443
   * §2.4 (e) allows it and the token bucket of §2.4 (f) has a token; counted either way.
   */
  #sendError(now: Micros, data: Uint8Array, ip: number, linkMulticast: boolean, kind: 'parameterProblem' | 'timeExceeded', code: number, value: number): void {
    const counters = this.#stats.icmpv6Errors
    const type = kind === 'parameterProblem' ? Icmpv6Type.PARAMETER_PROBLEM : Icmpv6Type.TIME_EXCEEDED
    const end = Math.min(data.byteLength, ip + IPV6_HEADER_LENGTH + ((data[ip + 4]! << 8) | data[ip + 5]!))
    const invoking = data.subarray(ip, end)
    if (!icmpv6ErrorAllowed(invoking, linkMulticast, type, code)) {
      counters.notAllowed++
      return
    }
    // From the address the datagram was sent to; for a multicast one, ours of the same scope as its source.
    const src = this.isOurAddress(data, ip + 24) ? (ipv6AddressEquals(data, this.linkLocal, ip + 24, 0) ? this.linkLocal : this.address) : isLinkLocalIpv6(data, ip + 8) ? this.linkLocal : this.address
    if (!this.#allPreferred && this.#stateOf(src, 0) !== 'preferred') {
      counters.notAllowed++ // RFC 4862 §5.4: a tentative address is not a source
      return
    }
    if (!this.#errorLimit.allow(now)) {
      counters.rateLimited++
      return
    }
    const buffer = this.#allocTx()
    if (buffer === undefined) return
    const dst = data.slice(ip + 8, ip + 24)
    this.writer.icmpv6Error(buffer, src, dst, kind, code, value, invoking, this.#mtu)
    if (kind === 'parameterProblem') counters.parameterProblem++
    else counters.timeExceeded++
    this.#stats.tx.icmpv6++
    this.route(now, buffer, dst)
  }

  #tcpSegment(data: Uint8Array, ip: number, at: number, length: number, offloadFlags: number): Ipv6FrameKind {
    const drops = this.#stats.rx.drops
    const reader = this.#tcp
    // A checksum the port verified (or a frame of this host's, CHECKSUM_PARTIAL) is not verified again, as over IPv4 (frames.ts).
    const verified = (offloadFlags & (OffloadFlags.RX_L4_CHECKSUM_GOOD | OffloadFlags.RX_L4_CHECKSUM_PARTIAL)) !== 0
    // RFC 8200 §8.1: the pseudo-header of the source and destination addresses, read in place; Next Header 6.
    const status = reader.readWithAddressSum(data, at, length, ipv6PseudoHeaderSum(data, ip + 8, ip + 24, Ipv6NextHeader.TCP, 0), verified ? 'skip' : 'verify')
    if (status !== TcpReadStatus.OK) {
      if (status === TcpReadStatus.BAD_CHECKSUM) drops.badTcpChecksum++
      else drops.malformedTcp++
      return Ipv6FrameKind.Drop
    }
    // RFC 3168 §5: the ECN field, the low two bits of the traffic class (bits 4-5 of the second byte).
    reader.segment.ce = ((data[ip + 1]! >>> 4) & 3) === 3
    this.data = data
    this.srcOffset = ip + 8
    this.dstOffset = ip + 24
    this.srcPort = reader.srcPort
    this.dstPort = reader.dstPort
    return Ipv6FrameKind.Tcp
  }

  #icmpv6(now: Micros, data: Uint8Array, ip: number, at: number, length: number): Ipv6FrameKind {
    this.#fastUntil = 0 // Neighbor Discovery may change a neighbour or a route (see #fastDestination)
    const stats = this.#stats
    const drops = stats.rx.drops
    // RFC 4443 §2.3: the checksum covers the pseudo-header (Next Header 58).
    if (icmpv6Problem(data, at, length, ipv6PseudoHeaderSum(data, ip + 8, ip + 24, Ipv6NextHeader.ICMPV6, length)) !== undefined) {
      drops.malformedIcmpv6++
      return Ipv6FrameKind.Drop
    }
    const type = data[at]!
    switch (type) {
      case Icmpv6Type.ECHO_REQUEST:
        this.#echoReply(now, data, ip, at, length)
        return this.#handled()
      case Icmpv6Type.NEIGHBOR_SOLICITATION:
      case Icmpv6Type.NEIGHBOR_ADVERTISEMENT:
      case Icmpv6Type.ROUTER_ADVERTISEMENT:
        return this.#ndp(now, data, ip, at, length, type)
      case Icmpv6Type.PACKET_TOO_BIG:
        return this.#packetTooBig(data, at, length)
      default:
        // Echo replies, router solicitations (for routers, RFC 4861 §6.2.6), redirects (a host may ignore them), MLD, other errors: taken, nothing to do.
        return this.#handled()
    }
  }

  #handled(): Ipv6FrameKind {
    this.#stats.rx.ipv6++
    this.#stats.rx.icmpv6++
    return Ipv6FrameKind.Handled
  }

  /** RFC 4443 §4.2: the reply carries the request's identifier, sequence number and data, from the address it was sent to (or our global one for a multicast request). */
  #echoReply(now: Micros, data: Uint8Array, ip: number, at: number, length: number): void {
    const src = this.isOurs(data, ip + 24) && ipv6AddressEquals(data, this.linkLocal, ip + 24, 0) ? this.linkLocal : this.address
    if (!this.#allPreferred && this.#stateOf(src, 0) !== 'preferred') return // a multicast request while our address is tentative: no source to answer from
    const requester = data.slice(ip + 8, ip + 24)
    const identifier = (data[at + 4]! << 8) | data[at + 5]!
    const sequence = (data[at + 6]! << 8) | data[at + 7]!
    if (IPV6_HEADER_LENGTH + length > this.#mtu) {
      this.#fragmentedEchoReply(now, src, requester, identifier, sequence, data.subarray(at + 8, at + length))
      return
    }
    const buffer = this.#allocTx()
    if (buffer === undefined) return
    if (!this.writer.echoReply(buffer, src, requester, identifier, sequence, data.subarray(at + 8, at + length))) {
      buffer.release()
      this.#stats.tx.drops.noBuffer++
      return
    }
    this.#stats.tx.icmpv6++
    this.route(now, buffer, requester)
  }

  /**
   * An echo reply larger than the MTU (the request came in fragments; RFC 4443 §4.2 says to return all its
   * data): built whole, then sent in fragments (RFC 8200 §4.5) under one fresh Identification, each carrying
   * a multiple of 8 bytes but the last.
   */
  #fragmentedEchoReply(now: Micros, src: Uint8Array, dst: Uint8Array, identifier: number, sequence: number, echoed: Uint8Array): void {
    const datagram = (this.#scratch ??= new Uint8Array(IPV6_HEADER_LENGTH + 65_535))
    const length = this.writer.echoReplyDatagram(datagram, src, dst, identifier, sequence, echoed)
    if (length === undefined) return
    const id = (this.#fragmentId = (this.#fragmentId + 1) >>> 0)
    const payload = length - IPV6_HEADER_LENGTH
    const step = (this.#mtu - IPV6_HEADER_LENGTH - 8) & ~7
    for (let start = 0; start < payload; start += step) {
      const buffer = this.#allocTx()
      if (buffer === undefined) return
      const end = Math.min(payload, start + step)
      if (!this.writer.fragment(buffer, datagram, id, start, end, end < payload)) {
        buffer.release()
        this.#stats.tx.drops.noBuffer++
        return
      }
      this.#stats.tx.icmpv6++
      this.route(now, buffer, dst)
    }
  }

  /** Neighbor Discovery (RFC 4861 §6.1, §7.1 validation by `parseNdp`; §6.3.4 and §7.2.3 to §7.2.5 processing; RFC 4862 §5.4.3, §5.4.4 for DAD). */
  #ndp(now: Micros, data: Uint8Array, ip: number, at: number, length: number, type: number): Ipv6FrameKind {
    const src = data.subarray(ip + 8, ip + 24)
    const dst = data.subarray(ip + 24, ip + 40)
    const repr = parseNdp(data.subarray(at, at + length), data[ip + 7]!, src, dst)
    if (repr instanceof Ipv6WireError) {
      this.#stats.rx.drops.malformedNdp++
      return Ipv6FrameKind.Drop
    }
    if (repr.kind === 'neighborSolicitation') {
      // §7.2.3: only for a target that is one of our addresses.
      if (!this.isOurs(repr.target, 0)) {
        this.#stats.rx.drops.malformedNdp++
        return Ipv6FrameKind.Drop
      }
      const fromUnspecified = isUnspecifiedIpv6(src, 0)
      if (!this.#allPreferred && this.#stateOf(repr.target, 0) === 'tentative') {
        // RFC 4862 §5.4.3: not answered; from :: it is another node's probe for the same address (unless it
        // carries our own nonce, RFC 7527: our probe looped back): the address is a duplicate.
        if (this.#dad!.onSolicitation(src, repr.target, repr.options.nonce)) this.#pollDad(now)
        return this.#handledNdp()
      }
      const sllao = repr.options.sourceLinkLayerAddress
      // §7.2.3: the solicitation's source link-layer address updates (or makes a stale) entry for the sender.
      if (!fromUnspecified && sllao !== undefined) this.#learned(this.neighbors.onLinkLayerAddress(now, src, sllao))
      // §7.2.4: a solicited advertisement, Override set, our link-layer address as the target's; to the
      // sender, or to all nodes when the solicitation came from :: (DAD, RFC 4862 §5.4.3), S then clear.
      const target = repr.target.slice()
      const advertisement = { kind: 'neighborAdvertisement' as const, router: false, solicited: !fromUnspecified, override: true, target, options: { targetLinkLayerAddress: this.writer.mac } }
      if (fromUnspecified) this.#sendNdp(advertisement, ipv6MulticastMacOf(ALL_NODES), target, ALL_NODES)
      else if (sllao !== undefined) this.#sendNdp(advertisement, sllao.slice(), target, src.slice())
      else this.#sendNdpRouted(now, advertisement, target, src.slice())
      return this.#handledNdp()
    }
    if (repr.kind === 'routerAdvertisement') return this.#routerAdvertisement(now, src, repr)
    if (repr.kind === 'neighborAdvertisement') {
      // RFC 4862 §5.4.4: an advertisement for a tentative address of ours: someone else holds it.
      if (!this.#allPreferred && this.isOurAddress(repr.target, 0) && this.#stateOf(repr.target, 0) === 'tentative') {
        if (this.#dad!.onAdvertisement(repr.target)) this.#pollDad(now)
        return this.#handledNdp()
      }
      const input = this.neighbors.onAdvertisement(now, { target: repr.target, router: repr.router, solicited: repr.solicited, override: repr.override, targetLinkLayerAddress: repr.options.targetLinkLayerAddress })
      // RFC 4861 §7.2.5: a router whose advertisement now has R clear leaves the default router list.
      if (input.routerLost) this.routers.removeRouter(repr.target)
      this.#learned(input)
      return this.#handledNdp()
    }
    return this.#handledNdp()
  }

  /**
   * RFC 4861 §6.3.4: a valid router advertisement (§6.1.2, `parseNdp`): its router lifetime and on-link
   * prefixes to the router discovery (lifetimes honoured there), its Reachable Time and Retrans Timer to the
   * neighbour cache, its source link-layer address to the cache as a router's (§6.3.4, §7.2.5-style).
   */
  #routerAdvertisement(now: Micros, src: Uint8Array, repr: RouterAdvertisementRepr): Ipv6FrameKind {
    const update = this.routers.onAdvertisement(now, src.slice(), repr)
    this.#stats.routerDiscovery.advertisements++
    if (update.baseReachableTime !== undefined && update.baseReachableTime <= 3_600_000_000) this.neighbors.setBaseReachableTime(update.baseReachableTime)
    if (update.retransTimer !== undefined && update.retransTimer <= 3_600_000_000) this.neighbors.setRetransTimer(update.retransTimer)
    const sllao = repr.options.sourceLinkLayerAddress
    if (sllao !== undefined) this.#learned(this.neighbors.onLinkLayerAddress(now, src.slice(), sllao, true))
    return this.#handledNdp()
  }

  #handledNdp(): Ipv6FrameKind {
    this.#stats.rx.ipv6++
    this.#stats.rx.icmpv6++
    return Ipv6FrameKind.Handled
  }

  /**
   * RFC 4443 §3.2: a packet too big quoting (from its IPv6 header) a TCP segment we sent. Its MTU is
   * taken no lower than 1280 (RFC 8200 §5, RFC 8201 §4: a smaller value is not acted on below the minimum).
   */
  #packetTooBig(data: Uint8Array, at: number, length: number): Ipv6FrameKind {
    const invoking = at + 8
    // The quoted datagram: an IPv6 header from one of our addresses, carrying TCP directly, and at least 8 bytes of the segment.
    if (length < 8 + IPV6_HEADER_LENGTH + 8 || data[invoking + 6] !== Ipv6NextHeader.TCP || !this.isOurs(data, invoking + 8)) {
      this.#stats.rx.drops.icmpUnusable++
      return Ipv6FrameKind.Drop
    }
    const q = this.quoted
    const mtu = ((data[at + 4]! << 24) | (data[at + 5]! << 16) | (data[at + 6]! << 8) | data[at + 7]!) >>> 0
    q.mtu = Math.max(IPV6_MIN_MTU, Math.min(mtu, 65_535))
    const tcp = invoking + IPV6_HEADER_LENGTH
    q.localPort = (data[tcp]! << 8) | data[tcp + 1]!
    q.remotePort = (data[tcp + 2]! << 8) | data[tcp + 3]!
    q.seq = ((data[tcp + 4]! << 24) | (data[tcp + 5]! << 16) | (data[tcp + 6]! << 8) | data[tcp + 7]!) >>> 0
    q.localOffset = invoking + 8
    q.remoteOffset = invoking + 24
    this.data = data
    return Ipv6FrameKind.PacketTooBig
  }

  /** Send what waited for a neighbour that just resolved. */
  #learned(input: NeighborInput<PacketBuffer>): void {
    if (input.mac === undefined) return
    const ready = input.ready
    for (let i = 0; i < ready.length; i++) {
      this.transmitResolved(ready[i]!, input.mac)
      if (i % RELEASE_CHUNK === RELEASE_CHUNK - 1) this.#flush()
    }
  }

  #sendNdp(repr: Parameters<Ipv6FrameWriter['ndp']>[1], dstMac: Uint8Array, src: Uint8Array, dst: Uint8Array): void {
    const buffer = this.#allocTx()
    if (buffer === undefined) return
    this.writer.ndp(buffer, repr, dstMac, src, dst)
    this.#stats.tx.ndp++
    this.#transmit(buffer)
  }

  #sendNdpRouted(now: Micros, repr: Parameters<Ipv6FrameWriter['ndp']>[1], src: Uint8Array, dst: Uint8Array): void {
    const buffer = this.#allocTx()
    if (buffer === undefined) return
    this.writer.ndp(buffer, repr, UNRESOLVED, src, dst)
    this.#stats.tx.ndp++
    this.route(now, buffer, dst)
  }

  /**
   * The next hop towards `destination` (RFC 4861 §5.2): the destination itself when on-link (link-local scope,
   * our prefix, or a prefix a router advertised on-link, §6.3.4), else the configured gateway, else a default
   * router from router advertisements whose lifetime has not ended (§6.3.6); undefined when there is none.
   */
  nextHop(destination: Uint8Array): Uint8Array | undefined {
    if (isLinkLocalIpv6(destination, 0) || ipv6PrefixMatches(destination, this.address, this.prefixLength)) return destination
    if (this.gateway !== undefined) return this.gateway
    const now = this.#now
    if (this.routers.isOnLink(now, destination)) return destination
    return this.routers.defaultRouter(now)
  }

  /** Resolve the next hop of `destination` (16 bytes) and queue the frame, or park it until the neighbour answers. */
  route(now: Micros, buffer: PacketBuffer, destination: Uint8Array): void {
    // RFC 4862 §5.4: nothing leaves from a tentative address (the frame waits for its DAD) or a duplicate one.
    if (!this.#allPreferred && !this.#sourceReady(buffer)) return
    if (now < this.#fastUntil && ipv6AddressEquals(destination, this.#fastDestination)) {
      this.transmitResolved(buffer, this.#fastMac!)
      return
    }
    const nextHop = this.nextHop(destination)
    if (nextHop === undefined) {
      this.#stats.tx.drops.noRoute++
      buffer.release()
      return
    }
    const mac = this.neighbors.resolve(now, nextHop)
    if (mac !== undefined) {
      // Kept while the entry stays REACHABLE and no router or prefix lifetime runs out (either may change the next hop).
      const until = this.neighbors.reachableUntil(now, nextHop)
      if (until !== undefined) {
        this.#fastDestination.set(destination)
        this.#fastMac = mac
        this.#fastUntil = Math.min(until, this.routers.pollAt() ?? Number.POSITIVE_INFINITY)
      }
      this.transmitResolved(buffer, mac)
      return
    }
    const dropped = this.neighbors.enqueue(now, nextHop, buffer)
    if (dropped !== undefined) {
      this.#stats.tx.drops.neighborUnresolved++
      dropped.release()
    }
    this.poll(now)
  }

  /** Whether the frame's source address may be used now; if not, the frame is parked (tentative) or dropped (duplicate), counted. */
  #sourceReady(buffer: PacketBuffer): boolean {
    const at = buffer.offset + 14 + 8
    if (!this.isOurAddress(buffer.data, at)) return true
    const state = this.#stateOf(buffer.data, at)
    if (state === 'preferred') return true
    if (state === 'tentative' && this.#tentativeQueue.length < this.#tentativeLimit) {
      this.#tentativeQueue.push(buffer)
      return false
    }
    this.#stats.tx.drops.ipv6AddressNotReady++
    buffer.release()
    return false
  }

  /** DAD's timers and outcomes: probes to send, addresses now preferred (their waiting frames go) or duplicate (reported). */
  #pollDad(now: Micros): void {
    const results = this.#dad!.poll(now, this.#probe)
    for (let i = 0; i < results.length; i++) this.#dadResult(now, results[i]!)
  }

  #dadResult(now: Micros, result: DadResult): void {
    const linkLocal = ipv6AddressEquals(result.address, this.linkLocal)
    if (linkLocal) this.#linkLocalState = result.state
    else this.#globalState = result.state
    this.#allPreferred = this.#linkLocalState === 'preferred' && this.#globalState === 'preferred'
    if (result.state === 'duplicate') {
      this.#stats.dad.duplicates++
      this.#onDuplicate(result.address)
    } else {
      this.#stats.dad.preferred++
    }
    // The frames that waited for this address: sent now (preferred) or dropped (duplicate), counted.
    const waiting = this.#tentativeQueue
    this.#tentativeQueue = []
    for (const buffer of waiting) {
      const ip = buffer.offset + 14
      if (this.#stateOf(buffer.data, ip + 8) === 'tentative') this.#tentativeQueue.push(buffer)
      else this.route(now, buffer, buffer.data.slice(ip + 24, ip + 40))
    }
    this.#flush()
  }

  /** Fill in the destination MAC and queue the frame. */
  transmitResolved(buffer: PacketBuffer, mac: Uint8Array): void {
    buffer.data.set(mac, buffer.offset)
    this.#transmit(buffer)
  }

  /**
   * The timers: Neighbour Discovery's solicitations to (re)send and frames to give up on; DAD's probes and
   * outcomes; router solicitations and the lifetimes of routers and prefixes; reassembly's timeout (with its
   * time exceeded messages, RFC 8200 §4.5).
   */
  poll(now: Micros): void {
    this.#now = now
    const at = this.neighbors.pollAt()
    const dadAt = this.#dad?.pollAt()
    const routersAt = this.routers.pollAt()
    // Timers that may change a neighbour, an address or a route void the fast path (#fastDestination).
    if ((at !== undefined && at <= now) || (dadAt !== undefined && dadAt <= now) || (routersAt !== undefined && routersAt <= now)) this.#fastUntil = 0
    if (at !== undefined && at <= now) this.neighbors.poll(now, this.#solicit, this.#unreachable)
    if (dadAt !== undefined && dadAt <= now) this.#pollDad(now)
    if (routersAt !== undefined && routersAt <= now) this.routers.poll(now, this.#solicitRouters)
    const reassemblyAt = this.reassembly.pollAt()
    if (reassemblyAt !== undefined && reassemblyAt <= now) {
      const timeouts = this.reassembly.stats.timeouts
      this.reassembly.poll(now, this.#timeExceeded)
      this.#stats.reassembly6.timeouts += this.reassembly.stats.timeouts - timeouts
    }
  }

  /** When {@link poll} has work next. */
  pollAt(): Micros | undefined {
    let at = this.neighbors.pollAt()
    const dadAt = this.#dad?.pollAt()
    if (dadAt !== undefined && (at === undefined || dadAt < at)) at = dadAt
    const routersAt = this.routers.pollAt()
    if (routersAt !== undefined && (at === undefined || routersAt < at)) at = routersAt
    const reassemblyAt = this.reassembly.pollAt()
    if (reassemblyAt !== undefined && (at === undefined || reassemblyAt < at)) at = reassemblyAt
    return at
  }

  /** A TCP segment of a connection over IPv6. */
  sendSegment(now: Micros, local: Uint8Array, remote: Uint8Array, localPort: number, remotePort: number, addressSum: number, flowLabel: number, segment: OutboundSegment): void {
    const buffer = this.#allocTx()
    if (buffer === undefined) return
    this.writer.tcp(buffer, local, remote, 0, localPort, remotePort, addressSum, flowLabel, segment)
    this.#stats.tx.tcp++
    this.route(now, buffer, remote)
  }

  /**
   * A segment of a connection with a socket: written from the connection's header template (made here at
   * its first segment, tcp-header-template.ts), its checksum left to the port when it offers TCP over IPv6.
   */
  sendConnectionSegment(now: Micros, record: SocketRecord, segment: OutboundSegment): void {
    const buffer = this.#allocTx()
    if (buffer === undefined) return
    const template = (record.template6 ??= new Tcp6HeaderTemplate(this.writer.mac, record.localIp6!, record.remoteIp6!, record.localPort, record.remotePort, record.addressSum, record.flowLabel))
    template.write(buffer, segment, this.#checksumOffload)
    this.#stats.tx.tcp++
    this.route(now, buffer, record.remoteIp6!)
  }

  /**
   * A reset for the segment just read that has no connection (RFC 9293 §3.10.7.1), from the address it was
   * sent to, back to its source.
   */
  sendReset(now: Micros, seq: number, ack: number, flags: number): void {
    const buffer = this.#allocTx()
    if (buffer === undefined) return
    const local = ipv6AddressEquals(this.data, this.linkLocal, this.dstOffset, 0) ? this.linkLocal : this.address
    const remote = this.data.slice(this.srcOffset, this.srcOffset + 16)
    const out = this.#reset
    out.seq = seq
    out.ack = ack
    out.flags = flags
    out.window = 0
    out.ecn = 0
    this.writer.tcp(buffer, local, remote, 0, this.dstPort, this.srcPort, ipv6PseudoHeaderSumOf(local, remote, Ipv6NextHeader.TCP, 0), 0, out)
    this.#stats.tx.tcp++
    this.#stats.tx.resets++
    this.route(now, buffer, remote)
  }

  /** Text of an address, for messages. */
  static format(address: Uint8Array): string {
    return formatIpv6Address(address)
  }
}

const UNRESOLVED = new Uint8Array(6)

function ipv6MulticastMacOf(group: Uint8Array): Uint8Array {
  return Uint8Array.of(0x33, 0x33, group[12]!, group[13]!, group[14]!, group[15]!)
}
