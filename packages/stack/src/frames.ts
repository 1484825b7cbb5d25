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
  EtherType,
  EthernetView,
  type InboundSegment,
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
import type { RxDrops } from './stats.js'

/** What a received frame turned out to be. */
export const FrameKind = {
  Drop: 0,
  Arp: 1,
  IcmpEcho: 2,
  Tcp: 3,
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

function macToNumber(mac: Uint8Array): number {
  return mac[0]! * 2 ** 40 + mac[1]! * 2 ** 32 + ((mac[2]! << 24) >>> 0) + (mac[3]! << 16) + (mac[4]! << 8) + mac[5]!
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
  readonly #tcp = new TcpSegmentReader(emptyInboundSegment())
  /** Where the IPv4 header of the frame being parsed starts. */
  #ipAt = 0

  constructor() {
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
    if (problem !== undefined) {
      if (problem === 'BAD_CHECKSUM') drops.badIpv4Checksum++
      else if (problem === 'FRAGMENT') drops.fragments++
      else drops.malformedIpv4++
      return FrameKind.Drop
    }
    const dst = readUint32(data, ip + 16)
    if (dst !== ourIp) {
      drops.notOurAddress++
      return FrameKind.Drop
    }
    const headerLength = (data[ip]! & 0x0f) * 4
    const totalLength = (data[ip + 2]! << 8) | data[ip + 3]!
    this.srcIp = readUint32(data, ip + 12)
    this.dstIp = dst
    const protocol = data[ip + 9]!
    this.#ipAt = ip
    if (protocol === IpProtocol.TCP) return this.#tcpSegment(buffer, data, ip + headerLength, totalLength - headerLength, drops)
    if (protocol === IpProtocol.ICMP) return this.#icmp(data.subarray(ip + headerLength, ip + totalLength), drops)
    drops.unsupportedProtocol++
    return FrameKind.Drop
  }

  #tcpSegment(buffer: PacketBuffer, data: Uint8Array, at: number, length: number, drops: RxDrops): FrameKind {
    const verified = (buffer.offloadFlags & (OffloadFlags.RX_L4_CHECKSUM_GOOD | OffloadFlags.RX_L4_CHECKSUM_PARTIAL)) !== 0
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
    const mac = repr.senderHardwareAddress
    for (let i = 5, rest = mac; i >= 0; i--) {
      arp.senderMac[i] = rest % 256
      rest = Math.floor(rest / 256)
    }
    arp.senderIp = repr.senderProtocolAddress
    arp.targetIp = repr.targetProtocolAddress
    return FrameKind.Arp
  }

  #icmp(bytes: Uint8Array, drops: RxDrops): FrameKind {
    const view = IcmpView.checked(bytes)
    const repr = view instanceof WireError ? view : parseIcmp(view)
    if (repr instanceof WireError) {
      drops.malformedIcmp++
      return FrameKind.Drop
    }
    if (repr.kind !== 'echoRequest') return FrameKind.Drop // replies and errors are not ours to answer
    this.echoIdentifier = repr.identifier
    this.echoSequence = repr.sequenceNumber
    this.echoData = repr.data
    return FrameKind.IcmpEcho
  }
}

/** @internal Writes the stack's frames into pool buffers. */
export class FrameWriter {
  readonly #mac: number
  readonly #ipRepr = { src: 0, dst: 0, protocol: IpProtocol.TCP as number, ttl: 64, identification: 0, dontFragment: true, payloadLength: 0, ecn: 0 }
  readonly #ethRepr = { dst: 0, src: 0, etherType: EtherType.IPV4 as number }
  /** The segment a bare reset is written from. */
  readonly #reset = new OutboundSegment()

  constructor(
    mac: Uint8Array,
    readonly address: number,
    readonly checksumOffload: boolean,
  ) {
    this.#mac = macToNumber(mac)
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
    eth.dst = 0
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
    const target = targetMac === undefined ? 0 : macToNumber(targetMac)
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

  /** An echo reply to the request just parsed (RFC 792: same identifier, sequence number and data). */
  echoReply(buffer: PacketBuffer, _request: PacketBuffer, reader: FrameReader): void {
    const data = buffer.data
    const start = buffer.offset
    const eth = this.#ethRepr
    eth.dst = 0
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
