/**
 * The IPv6 host under the stack's TCP (RFC 8200, RFC 4861, RFC 4443), beside the IPv4 host (ipv4-host.ts):
 *
 * - Receive: the Ethernet destination (our MAC, or a 33:33 multicast MAC, RFC 2464 §7), the fixed header
 *   checked in place (RFC 8200 §3), the destination filtered (our addresses, all-nodes ff02::1, our
 *   solicited-node groups, RFC 4291 §2.7.1/§2.8), the extension headers walked (RFC 8200 §4,
 *   `walkIpv6Headers`), then TCP (read into the stack's reused segment record with the pseudo-header of
 *   RFC 8200 §8.1, allocation-free), ICMPv6 echo (RFC 4443 §4), Neighbor Discovery (RFC 4861 §7), and
 *   packet too big (RFC 4443 §3.2, RFC 8201) for the connection it quotes. Every dropped frame is counted
 *   once, by reason (stats.ts).
 * - Neighbours: tcp-core's `NeighborCache` (RFC 4861 §7.2, §7.3 states); answers to solicitations for our
 *   addresses (§7.2.3, §7.2.4); frames wait in their pool buffers while a neighbour is resolved, bounded as
 *   the ARP queue is (ipv4-host.ts).
 * - Routing: on-link when the destination is in our prefix or link-local (RFC 4861 §5.2), else the
 *   configured gateway.
 *
 * Addresses: the configured global address and the link-local address made from the MAC (RFC 4862 §5.3).
 * Duplicate Address Detection is not run: the addresses are used at once, as with Linux's `accept_dad=0`.
 * Fragments are counted and dropped (reassembly is not wired in yet).
 * @module
 */
import { type BufferPool, type Micros, OffloadFlags, type PacketBuffer } from '@mtcp/dpdk-io'
import {
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
} from '@mtcp/tcp-core'
import { ARP_QUEUE_PER_DESTINATION } from './ipv4-host.js'
import { Ipv6FrameWriter } from './ipv6-frames.js'
import type { StackStats } from './stats.js'
import type { SocketRecord } from './socket-record.js'
import { Tcp6HeaderTemplate } from './tcp-header-template.js'

/** What {@link Ipv6Host.input} made of a frame. */
export const Ipv6FrameKind = {
  /** Dropped, counted by reason. */
  Drop: 0,
  /** Handled here (ICMPv6 echo, Neighbor Discovery): counted in `rx.ipv6`. */
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
  /** Whether the port completes TCP checksums over IPv6 (`offloads.txChecksum.tcp6`). Default false. */
  checksumOffload?: boolean
}

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
  }

  /** A buffer for a frame to send, or undefined (counted) when the pool is empty. */
  #allocTx(): PacketBuffer | undefined {
    const buffer = this.#pool.alloc()
    if (buffer === undefined) this.#stats.tx.drops.noBuffer++
    return buffer
  }

  /** Whether `bytes[offset, +16)` is one of our unicast addresses. */
  isOurs(bytes: Uint8Array, offset: number): boolean {
    return ipv6AddressEquals(bytes, this.address, offset, 0) || ipv6AddressEquals(bytes, this.linkLocal, offset, 0)
  }

  /** Whether a datagram to `bytes[offset, +16)` is for this host: ours, all-nodes, or our solicited-node group. */
  #acceptsDestination(bytes: Uint8Array, offset: number): boolean {
    if (this.isOurs(bytes, offset)) return true
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
    const chain = this.#chain
    const status = walkIpv6Headers(data, ip, chain)
    if (status === Ipv6ChainStatus.FRAGMENT) {
      drops.ipv6Fragment++
      return Ipv6FrameKind.Drop
    }
    if (status !== Ipv6ChainStatus.UPPER_LAYER) {
      drops.ipv6ExtensionHeaders++
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
      return this.#tcpSegment(data, ip, at, length, buffer.offloadFlags)
    }
    if (chain.upperProtocol === Ipv6NextHeader.ICMPV6) return this.#icmpv6(now, data, ip, at, length)
    drops.unsupportedProtocol++
    return Ipv6FrameKind.Drop
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
        return this.#ndp(now, data, ip, at, length, type)
      case Icmpv6Type.PACKET_TOO_BIG:
        return this.#packetTooBig(data, at, length)
      default:
        // Echo replies, router advertisements (no router discovery yet: routes are configured), MLD, other errors: taken, nothing to do.
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
    const buffer = this.#allocTx()
    if (buffer === undefined) return
    const src = this.isOurs(data, ip + 24) && ipv6AddressEquals(data, this.linkLocal, ip + 24, 0) ? this.linkLocal : this.address
    const requester = data.slice(ip + 8, ip + 24)
    const identifier = (data[at + 4]! << 8) | data[at + 5]!
    const sequence = (data[at + 6]! << 8) | data[at + 7]!
    if (!this.writer.echoReply(buffer, src, requester, identifier, sequence, data.subarray(at + 8, at + length))) {
      buffer.release()
      this.#stats.tx.drops.noBuffer++
      return
    }
    this.#stats.tx.icmpv6++
    this.route(now, buffer, requester)
  }

  /** Neighbor Discovery (RFC 4861 §7.1 validation by `parseNdp`; §7.2.3 to §7.2.5 processing). */
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
      const sllao = repr.options.sourceLinkLayerAddress
      const fromUnspecified = isUnspecifiedIpv6(src, 0)
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
    if (repr.kind === 'neighborAdvertisement') {
      this.#learned(this.neighbors.onAdvertisement(now, { target: repr.target, router: repr.router, solicited: repr.solicited, override: repr.override, targetLinkLayerAddress: repr.options.targetLinkLayerAddress }))
      return this.#handledNdp()
    }
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

  /** The next hop towards `destination` (RFC 4861 §5.2: on-link by prefix or link-local scope, else the gateway), or undefined. */
  nextHop(destination: Uint8Array): Uint8Array | undefined {
    if (isLinkLocalIpv6(destination, 0) || ipv6PrefixMatches(destination, this.address, this.prefixLength)) return destination
    return this.gateway
  }

  /** Resolve the next hop of `destination` (16 bytes) and queue the frame, or park it until the neighbour answers. */
  route(now: Micros, buffer: PacketBuffer, destination: Uint8Array): void {
    const nextHop = this.nextHop(destination)
    if (nextHop === undefined) {
      this.#stats.tx.drops.noRoute++
      buffer.release()
      return
    }
    const mac = this.neighbors.resolve(now, nextHop)
    if (mac !== undefined) {
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

  /** Fill in the destination MAC and queue the frame. */
  transmitResolved(buffer: PacketBuffer, mac: Uint8Array): void {
    buffer.data.set(mac, buffer.offset)
    this.#transmit(buffer)
  }

  /** Neighbour Discovery's timers: solicitations to (re)send, frames to give up on. */
  poll(now: Micros): void {
    const at = this.neighbors.pollAt()
    if (at !== undefined && at <= now) this.neighbors.poll(now, this.#solicit, this.#unreachable)
  }

  /** When {@link poll} has work next. */
  pollAt(): Micros | undefined {
    return this.neighbors.pollAt()
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
