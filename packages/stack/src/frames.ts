/**
 * Frames in and out of the stack, through `@mtcp/tcp-core`'s checked views and emitters:
 * Ethernet II, ARP (RFC 826), IPv4 (RFC 791), ICMP echo (RFC 792) and TCP (RFC 9293).
 * Malformed input is counted by reason and dropped; nothing here throws on received bytes.
 * @module
 */
import { OffloadFlags, type PacketBuffer } from '@mtcp/dpdk-io'
import {
  ArpView,
  BROADCAST_MAC,
  emitArp,
  emitEthernet,
  emitIcmp,
  emitIpv4,
  emptyInboundSegment,
  type EthernetRepr,
  EtherType,
  EthernetView,
  type InboundSegment,
  type IcmpOtherRepr,
  type IcmpRepr,
  IcmpType,
  type MacAddress,
  IcmpView,
  IpEcn,
  IpProtocol,
  ipv4HeaderProblem,
  OutboundSegment,
  parseArp,
  parseIcmp,
  TcpReadStatus,
  TcpSegmentReader,
  tcpSegmentHeaderLength,
  WireError,
  writeTcpSegment,
} from '@mtcp/tcp-core'
import type { IcmpInCounters, RxDrops } from './stats.js'

/** @internal All zeros: an Ethernet destination not resolved yet (ARP fills it in), or ARP's unknown target. */
export const UNRESOLVED_MAC = new Uint8Array(6)

/** What a received frame turned out to be. */
export const FrameKind = {
  Drop: 0,
  Arp: 1,
  IcmpEcho: 2,
  Tcp: 3,
  /** An IPv4 fragment addressed to us: for reassembly ({@link FrameReader.fragmentData}). */
  Fragment: 4,
  /** An ICMP error quoting a TCP segment we sent ({@link FrameReader.quoted}). */
  IcmpError: 5,
  /** Any other ICMP message: counted by type, nothing to do. */
  IcmpOther: 6,
} as const
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind]

const ETHERNET = 14
const IPV4 = 20

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0
}

/** Whether the frame at `data[start]` is for `ourMac` or broadcast (its destination MAC, compared in place). */
function addressedToUs(data: Uint8Array, start: number, ourMac: Uint8Array): boolean {
  let ours = true
  let broadcast = true
  for (let i = 0; i < 6; i++) {
    const byte = data[start + i]!
    if (byte !== ourMac[i]) ours = false
    if (byte !== 0xff) broadcast = false
  }
  return ours || broadcast
}

/**
 * @internal Parses one frame at a time; the fields describe the last frame parsed. An untagged IPv4
 * frame (RFC 894) is read in place, the TCP segment straight into {@link segment}: the segment path
 * allocates nothing. Other frames (ARP, VLAN tags) go through the checked views.
 */
export class FrameReader {
  readonly arp = { operation: 0, senderMac: new Uint8Array(6), senderIp: 0, targetIp: 0 }
  srcIp = 0
  dstIp = 0
  srcPort = 0
  dstPort = 0
  /** The TCP segment of the last frame, as the connection takes it. */
  readonly segment: InboundSegment
  echoIdentifier = 0
  echoSequence = 0
  echoData: Uint8Array = new Uint8Array(0)
  /** The fragment of the last frame (when {@link FrameKind.Fragment}): its IPv4 header is at `fragmentData[fragmentAt]`. */
  fragmentData: Uint8Array = new Uint8Array(0)
  fragmentAt = 0
  /**
   * The ICMP error of the last frame (when {@link FrameKind.IcmpError}): its type and code, the
   * next-hop MTU field (RFC 1191 §4), and the quoted TCP segment's ports (ours first), sequence number
   * and the quoted datagram's total length.
   */
  readonly quoted = { type: 0, code: 0, nextHopMtu: 0, localPort: 0, remotePort: 0, remoteIp: 0, seq: 0, totalLength: 0 }
  readonly #tcp = new TcpSegmentReader(emptyInboundSegment())
  /** Where the IPv4 header of the frame being parsed starts. */
  #ipAt = 0

  constructor(
    /** Where ICMP messages are counted by type (the stack's `rx.icmpIn`). */
    readonly icmpIn: IcmpInCounters,
  ) {
    this.segment = this.#tcp.segment
  }

  parse(buffer: PacketBuffer, ourMac: Uint8Array, ourIp: number, drops: RxDrops): FrameKind {
    const data = buffer.data
    const start = buffer.offset
    const length = buffer.length
    if (length >= ETHERNET && data[start + 12] === 0x08 && data[start + 13] === 0x00) {
      if (!addressedToUs(data, start, ourMac)) {
        drops.notForUs++
        return FrameKind.Drop
      }
      return this.#ipv4(buffer, data, start + ETHERNET, length - ETHERNET, ourIp, drops)
    }
    const ethernet = EthernetView.checked(buffer.frame())
    if (ethernet instanceof WireError) {
      if (ethernet.code === 'UNSUPPORTED') drops.unsupportedEtherType++
      else drops.malformedEthernet++
      return FrameKind.Drop
    }
    if (!addressedToUs(ethernet.bytes, 0, ourMac)) {
      drops.notForUs++
      return FrameKind.Drop
    }
    const etherType = ethernet.etherType
    if (etherType === EtherType.ARP) return this.#arp(ethernet.payload, drops)
    if (etherType !== EtherType.IPV4) {
      drops.unsupportedEtherType++
      return FrameKind.Drop
    }
    const payload = ethernet.payload
    return this.#ipv4(buffer, payload, 0, payload.byteLength, ourIp, drops)
  }

  /** The IPv4 datagram at `data[ip]` (`length` bytes received): checked in place (RFC 791, RFC 1122 §3.2.1). */
  #ipv4(buffer: PacketBuffer, data: Uint8Array, ip: number, length: number, ourIp: number, drops: RxDrops): FrameKind {
    const checksumDone = (buffer.offloadFlags & OffloadFlags.RX_IP_CHECKSUM_GOOD) !== 0
    const problem = ipv4HeaderProblem(data, ip, length, checksumDone ? 'skip' : 'verify')
    if (problem !== undefined && problem !== 'FRAGMENT') {
      if (problem === 'BAD_CHECKSUM') drops.badIpv4Checksum++
      else drops.malformedIpv4++
      return FrameKind.Drop
    }
    const dst = readUint32(data, ip + 16)
    if (dst !== ourIp) {
      drops.notOurAddress++
      return FrameKind.Drop
    }
    if (problem === 'FRAGMENT') {
      // RFC 1122 §3.3.2: reassembled (ipv4-reassembly.ts), then read again by parseDatagram.
      this.fragmentData = data
      this.fragmentAt = ip
      return FrameKind.Fragment
    }
    return this.#datagram(buffer, data, ip, dst, drops)
  }

  /**
   * A datagram that reassembly put back together (a checked header, addressed to us). The checksums of
   * its TCP segment or ICMP message are verified here: offload flags of the last fragment say nothing of them.
   */
  parseDatagram(datagram: Uint8Array, ourIp: number, drops: RxDrops): FrameKind {
    return this.#datagram(undefined, datagram, 0, ourIp, drops)
  }

  #datagram(buffer: PacketBuffer | undefined, data: Uint8Array, ip: number, dst: number, drops: RxDrops): FrameKind {
    const headerLength = (data[ip]! & 0x0f) * 4
    const totalLength = (data[ip + 2]! << 8) | data[ip + 3]!
    this.srcIp = readUint32(data, ip + 12)
    this.dstIp = dst
    const protocol = data[ip + 9]!
    this.#ipAt = ip
    if (protocol === IpProtocol.TCP) return this.#tcpSegment(buffer, data, ip + headerLength, totalLength - headerLength, drops)
    if (protocol === IpProtocol.ICMP) return this.#icmp(data.subarray(ip + headerLength, ip + totalLength), this.icmpIn, drops)
    drops.unsupportedProtocol++
    return FrameKind.Drop
  }

  #tcpSegment(buffer: PacketBuffer | undefined, data: Uint8Array, at: number, length: number, drops: RxDrops): FrameKind {
    const verified = buffer !== undefined && (buffer.offloadFlags & (OffloadFlags.RX_L4_CHECKSUM_GOOD | OffloadFlags.RX_L4_CHECKSUM_PARTIAL)) !== 0
    const reader = this.#tcp
    const status = reader.read(data, at, length, this.srcIp, this.dstIp, verified ? 'skip' : 'verify')
    // RFC 3168 §5: the IP header's ECN field (the low two bits of its second byte, IPv4 header at `at` less its length) is CE.
    reader.segment.ce = (data[this.#ipAt + 1]! & 3) === IpEcn.CE
    if (status !== TcpReadStatus.OK) {
      if (status === TcpReadStatus.BAD_CHECKSUM) drops.badTcpChecksum++
      else drops.malformedTcp++
      return FrameKind.Drop
    }
    this.srcPort = reader.srcPort
    this.dstPort = reader.dstPort
    return FrameKind.Tcp
  }

  #arp(bytes: Uint8Array, drops: RxDrops): FrameKind {
    const view = ArpView.checked(bytes)
    const repr = view instanceof WireError ? view : parseArp(view)
    if (repr instanceof WireError) {
      drops.malformedArp++
      return FrameKind.Drop
    }
    const arp = this.arp
    arp.operation = repr.operation === 'request' ? 1 : 2
    arp.senderMac.set(repr.senderHardwareAddress)
    arp.senderIp = repr.senderProtocolAddress
    arp.targetIp = repr.targetProtocolAddress
    return FrameKind.Arp
  }

  /**
   * An ICMP message other than an echo request: counted by type; an error that quotes a TCP segment we
   * sent (RFC 792: the quoted IP header and at least 8 bytes of its payload, RFC 1122 §3.2.2) is
   * {@link FrameKind.IcmpError}, for the connection it names.
   */
  #icmpOther(repr: IcmpRepr, icmpIn: IcmpInCounters, drops: RxDrops): FrameKind {
    if (repr.kind === 'echoReply') {
      icmpIn.echoReply++
      return FrameKind.IcmpOther
    }
    const { type, code } = repr as IcmpOtherRepr
    switch (type) {
      case IcmpType.DESTINATION_UNREACHABLE:
        if (code === 4) icmpIn.fragmentationNeeded++
        else icmpIn.destinationUnreachable++
        break
      case IcmpType.TIME_EXCEEDED:
        icmpIn.timeExceeded++
        break
      case 12:
        icmpIn.parameterProblem++
        break
      case 4:
        icmpIn.sourceQuench++ // RFC 6633 §3: ignored
        return FrameKind.IcmpOther
      case 5:
        icmpIn.redirect++
        return FrameKind.IcmpOther
      default:
        icmpIn.other++
        return FrameKind.IcmpOther
    }
    // The quoted datagram: an IPv4 header from us, carrying TCP, and the first 8 bytes of the segment.
    const quoted = (repr as IcmpOtherRepr).data
    const headerLength = quoted.byteLength >= 20 ? (quoted[0]! & 0x0f) * 4 : 0
    if (headerLength < 20 || quoted[0]! >>> 4 !== 4 || quoted.byteLength < headerLength + 8 || quoted[9] !== IpProtocol.TCP || readUint32(quoted, 12) !== this.dstIp) {
      drops.icmpUnusable++
      return FrameKind.Drop
    }
    const q = this.quoted
    q.type = type
    q.code = code
    q.nextHopMtu = (repr as IcmpOtherRepr).restOfHeader & 0xffff
    q.totalLength = (quoted[2]! << 8) | quoted[3]!
    q.remoteIp = readUint32(quoted, 16)
    q.localPort = (quoted[headerLength]! << 8) | quoted[headerLength + 1]!
    q.remotePort = (quoted[headerLength + 2]! << 8) | quoted[headerLength + 3]!
    q.seq = readUint32(quoted, headerLength + 4)
    return FrameKind.IcmpError
  }

  #icmp(bytes: Uint8Array, icmpIn: IcmpInCounters, drops: RxDrops): FrameKind {
    const view = IcmpView.checked(bytes)
    const repr = view instanceof WireError ? view : parseIcmp(view)
    if (repr instanceof WireError) {
      drops.malformedIcmp++
      return FrameKind.Drop
    }
    if (repr.kind !== 'echoRequest') return this.#icmpOther(repr, icmpIn, drops)
    icmpIn.echoRequest++
    this.echoIdentifier = repr.identifier
    this.echoSequence = repr.sequenceNumber
    this.echoData = repr.data
    return FrameKind.IcmpEcho
  }
}

/** @internal Writes the stack's frames into pool buffers. */
export class FrameWriter {
  readonly #mac: MacAddress
  readonly #ipRepr = { src: 0, dst: 0, protocol: IpProtocol.TCP as number, ttl: 64, identification: 0, dontFragment: true, payloadLength: 0, ecn: 0 }
  /** The Ethernet header's destination is filled in after ARP (the transmit queue), so it is written as zeros here. */
  readonly #ethRepr: EthernetRepr = { dst: UNRESOLVED_MAC, src: UNRESOLVED_MAC, etherType: EtherType.IPV4 }
  /** The segment a bare reset is written from. */
  readonly #reset = new OutboundSegment()

  constructor(
    mac: Uint8Array,
    readonly address: number,
    readonly checksumOffload: boolean,
  ) {
    this.#mac = Uint8Array.from(mac)
    this.#ethRepr.src = this.#mac
  }

  /**
   * A TCP segment from a connection, written in place: Ethernet (destination filled in after ARP),
   * IPv4, then the TCP header and the payload copied once from the send buffer (writeTcpSegment).
   */
  tcp(buffer: PacketBuffer, remoteIp: number, localPort: number, remotePort: number, segment: OutboundSegment, ipId: number): void {
    const data = buffer.data
    const start = buffer.offset
    const eth = this.#ethRepr
    eth.etherType = EtherType.IPV4
    eth.dst = UNRESOLVED_MAC
    emitEthernet(eth, data, start)
    const checksum = this.checksumOffload ? 'offload' : 'compute'
    const tcpLength = writeTcpSegment(segment, localPort, remotePort, this.address, remoteIp, data, start + ETHERNET + IPV4, checksum)
    const ip = this.#ipRepr
    ip.protocol = IpProtocol.TCP
    ip.src = this.address
    ip.dst = remoteIp
    ip.identification = ipId
    ip.payloadLength = tcpLength
    ip.ecn = segment.ecn // RFC 3168 §6.1.2, §6.1.5: ECT(0) on new data once negotiated, else Not-ECT
    emitIpv4(ip, data, start + ETHERNET, checksum)
    buffer.length = ETHERNET + IPV4 + tcpLength
    if (this.checksumOffload) {
      buffer.offloadFlags = OffloadFlags.TX_IP_CHECKSUM | OffloadFlags.TX_TCP_CHECKSUM
      buffer.l2Length = ETHERNET
      buffer.l3Length = IPV4
      buffer.l4Length = tcpSegmentHeaderLength(segment)
    }
    if (segment.segmentSize > 0) {
      // A super segment: the port cuts it into MSS-sized segments (TSO) and completes their checksums.
      buffer.offloadFlags |= OffloadFlags.TX_TCP_SEGMENTATION
      buffer.segmentSize = segment.segmentSize
    }
  }

  /** A bare reset (or reset-and-ACK) for a segment that has no connection (RFC 9293 §3.10.7.1). */
  reset(buffer: PacketBuffer, remoteIp: number, localPort: number, remotePort: number, seq: number, ack: number, flags: number, ipId: number): void {
    const out = this.#reset // only ever a bare header: no options, no payload
    out.seq = seq
    out.ack = ack
    out.flags = flags
    out.window = 0
    out.ecn = 0
    this.tcp(buffer, remoteIp, localPort, remotePort, out, ipId)
  }

  /** An ARP request (broadcast, or unicast to refresh `targetMac`) or a reply to `targetMac`. */
  arp(buffer: PacketBuffer, operation: 1 | 2, targetIp: number, targetMac: Uint8Array | undefined): void {
    const data = buffer.data
    const start = buffer.offset
    const target = targetMac ?? UNRESOLVED_MAC
    const eth = this.#ethRepr
    eth.dst = operation === 1 && targetMac === undefined ? BROADCAST_MAC : target
    eth.etherType = EtherType.ARP
    emitEthernet(eth, data, start)
    const length = emitArp(
      {
        operation: operation === 1 ? 'request' : 'reply',
        senderHardwareAddress: this.#mac,
        senderProtocolAddress: this.address,
        targetHardwareAddress: target,
        targetProtocolAddress: targetIp,
      },
      data,
      start + ETHERNET,
    )
    buffer.length = Math.max(ETHERNET + length, 60) // pad to the Ethernet minimum
    data.fill(0, start + ETHERNET + length, start + buffer.length)
  }

  /** This host's MAC address. */
  get mac(): MacAddress {
    return this.#mac
  }

  /**
   * The whole IPv4 datagram of an echo reply to the request just parsed, without Don't Fragment (it is
   * to be cut into fragments), at `out[0]`. @returns its length, or undefined when it cannot be IPv4.
   */
  echoReplyDatagram(out: Uint8Array, reader: FrameReader, ipId: number): number | undefined {
    if (IPV4 + 8 + reader.echoData.byteLength > Math.min(out.byteLength, 65_535)) return undefined
    const icmpLength = emitIcmp({ kind: 'echoReply', identifier: reader.echoIdentifier, sequenceNumber: reader.echoSequence, data: reader.echoData }, out, IPV4)
    const ip = this.#ipRepr
    ip.protocol = IpProtocol.ICMP
    ip.src = this.address
    ip.dst = reader.srcIp
    ip.identification = ipId
    ip.payloadLength = icmpLength
    ip.dontFragment = false
    try {
      emitIpv4(ip, out, 0)
    } finally {
      ip.dontFragment = true
    }
    return IPV4 + icmpLength
  }

  /** An echo reply to the request just parsed (RFC 792: same identifier, sequence number and data). */
  echoReply(buffer: PacketBuffer, _request: PacketBuffer, reader: FrameReader): void {
    const data = buffer.data
    const start = buffer.offset
    const eth = this.#ethRepr
    eth.dst = UNRESOLVED_MAC
    eth.etherType = EtherType.IPV4
    emitEthernet(eth, data, start)
    const icmpLength = emitIcmp(
      { kind: 'echoReply', identifier: reader.echoIdentifier, sequenceNumber: reader.echoSequence, data: reader.echoData },
      data,
      start + ETHERNET + IPV4,
    )
    const ip = this.#ipRepr
    ip.protocol = IpProtocol.ICMP
    ip.ecn = 0
    ip.src = this.address
    ip.dst = reader.srcIp
    ip.identification = 0
    ip.payloadLength = icmpLength
    emitIpv4(ip, data, start + ETHERNET)
    buffer.length = ETHERNET + IPV4 + icmpLength
    buffer.offloadFlags = 0
  }
}
