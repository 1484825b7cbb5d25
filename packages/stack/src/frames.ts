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
  emitTcp,
  emptyInboundSegment,
  EtherType,
  EthernetView,
  type InboundSegment,
  IcmpView,
  IpProtocol,
  Ipv4View,
  type OutboundSegment,
  parseArp,
  parseIcmp,
  parseIpv4,
  parseTcp,
  type SackBlock,
  type TcpRepr,
  tcpHeaderLength,
  TcpView,
  WireError,
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

function macToNumber(mac: Uint8Array): number {
  return mac[0]! * 2 ** 40 + mac[1]! * 2 ** 32 + ((mac[2]! << 24) >>> 0) + (mac[3]! << 16) + (mac[4]! << 8) + mac[5]!
}

/** @internal Parses one frame at a time; the fields describe the last frame parsed. */
export class FrameReader {
  readonly arp = { operation: 0, senderMac: new Uint8Array(6), senderIp: 0, targetIp: 0 }
  srcIp = 0
  dstIp = 0
  srcPort = 0
  dstPort = 0
  readonly segment: InboundSegment = emptyInboundSegment()
  echoIdentifier = 0
  echoSequence = 0
  echoData: Uint8Array = new Uint8Array(0)
  #ourMac = -1
  #ourMacBytes: Uint8Array | undefined

  parse(buffer: PacketBuffer, ourMac: Uint8Array, ourIp: number, drops: RxDrops): FrameKind {
    if (this.#ourMacBytes !== ourMac) {
      this.#ourMacBytes = ourMac
      this.#ourMac = macToNumber(ourMac)
    }
    const ethernet = EthernetView.checked(buffer.frame())
    if (ethernet instanceof WireError) {
      if (ethernet.code === 'UNSUPPORTED') drops.unsupportedEtherType++
      else drops.malformedEthernet++
      return FrameKind.Drop
    }
    const dst = ethernet.dst
    if (dst !== this.#ourMac && dst !== BROADCAST_MAC) {
      drops.notForUs++
      return FrameKind.Drop
    }
    const etherType = ethernet.etherType
    if (etherType === EtherType.ARP) return this.#arp(ethernet.payload, drops)
    if (etherType !== EtherType.IPV4) {
      drops.unsupportedEtherType++
      return FrameKind.Drop
    }
    const checksumDone = (buffer.offloadFlags & OffloadFlags.RX_IP_CHECKSUM_GOOD) !== 0
    const ip = Ipv4View.checked(ethernet.payload, checksumDone ? 'skip' : 'verify')
    if (ip instanceof WireError) {
      if (ip.code === 'BAD_CHECKSUM') drops.badIpv4Checksum++
      else drops.malformedIpv4++
      return FrameKind.Drop
    }
    const ipRepr = parseIpv4(ip)
    if (ipRepr instanceof WireError) {
      if (ipRepr.code === 'FRAGMENT') drops.fragments++
      else drops.malformedIpv4++
      return FrameKind.Drop
    }
    if (ipRepr.dst !== ourIp) {
      drops.notOurAddress++
      return FrameKind.Drop
    }
    this.srcIp = ipRepr.src
    this.dstIp = ipRepr.dst
    if (ipRepr.protocol === IpProtocol.TCP) return this.#tcp(ip.payload, buffer, drops)
    if (ipRepr.protocol === IpProtocol.ICMP) return this.#icmp(ip.payload, drops)
    drops.unsupportedProtocol++
    return FrameKind.Drop
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

  #tcp(bytes: Uint8Array, buffer: PacketBuffer, drops: RxDrops): FrameKind {
    const view = TcpView.checked(bytes)
    if (view instanceof WireError) {
      drops.malformedTcp++
      return FrameKind.Drop
    }
    const verified = (buffer.offloadFlags & (OffloadFlags.RX_L4_CHECKSUM_GOOD | OffloadFlags.RX_L4_CHECKSUM_PARTIAL)) !== 0
    const repr = parseTcp(view, this.srcIp, this.dstIp, verified ? 'skip' : 'verify')
    if (repr instanceof WireError) {
      if (repr.code === 'BAD_CHECKSUM') drops.badTcpChecksum++
      else drops.malformedTcp++
      return FrameKind.Drop
    }
    this.srcPort = repr.srcPort
    this.dstPort = repr.dstPort
    const segment = this.segment
    const options = repr.options
    segment.seq = repr.seqNumber
    segment.ack = repr.ackNumber
    segment.flags = repr.flags
    segment.window = repr.window
    segment.mss = options.mss
    segment.windowScale = options.windowScale
    segment.sackPermitted = options.sackPermitted ?? false
    segment.tsValue = options.timestamp?.tsVal
    segment.tsEcho = options.timestamp?.tsEcr ?? 0
    segment.sackBlocks = options.sackBlocks ?? []
    segment.payload = repr.payload
    return FrameKind.Tcp
  }
}

/** @internal Writes the stack's frames into pool buffers. */
export class FrameWriter {
  readonly #mac: number
  readonly #tcpRepr: TcpRepr = {
    srcPort: 0,
    dstPort: 0,
    seqNumber: 0,
    ackNumber: 0,
    flags: 0,
    window: 0,
    urgentPointer: 0,
    options: {},
    payload: new Uint8Array(0),
  }
  readonly #timestamp = { tsVal: 0, tsEcr: 0 }
  readonly #sackBlocks: SackBlock[] = []
  readonly #ipRepr = { src: 0, dst: 0, protocol: IpProtocol.TCP as number, ttl: 64, identification: 0, dontFragment: true, payloadLength: 0 }
  readonly #ethRepr = { dst: 0, src: 0, etherType: EtherType.IPV4 as number }

  constructor(
    mac: Uint8Array,
    readonly address: number,
    readonly checksumOffload: boolean,
  ) {
    this.#mac = macToNumber(mac)
    this.#ethRepr.src = this.#mac
  }

  /** A TCP segment from a connection. The destination MAC is filled in after ARP. */
  tcp(buffer: PacketBuffer, remoteIp: number, localPort: number, remotePort: number, segment: OutboundSegment, ipId: number): void {
    const repr = this.#tcpRepr
    repr.srcPort = localPort
    repr.dstPort = remotePort
    repr.seqNumber = segment.seq
    repr.ackNumber = segment.ack
    repr.flags = segment.flags
    repr.window = segment.window
    const options: TcpRepr['options'] = {}
    if (segment.mss > 0) options.mss = segment.mss
    if (segment.windowScale >= 0) options.windowScale = segment.windowScale
    if (segment.sackPermitted) options.sackPermitted = true
    if (segment.timestamps) {
      this.#timestamp.tsVal = segment.tsValue
      this.#timestamp.tsEcr = segment.tsEcho
      options.timestamp = this.#timestamp
    }
    if (segment.sackCount > 0) {
      const blocks = this.#sackBlocks
      blocks.length = segment.sackCount
      for (let i = 0; i < segment.sackCount; i++) blocks[i] = { left: segment.sackLeft[i]!, right: segment.sackRight[i]! }
      options.sackBlocks = blocks
    }
    repr.options = options
    this.#writeTcp(buffer, remoteIp, ipId, (data, at) => {
      segment.copyPayload(data, at)
      return segment.payloadLength
    })
    if (segment.segmentSize > 0) {
      // A super segment: the port cuts it into MSS-sized segments (TSO) and completes their checksums.
      buffer.offloadFlags |= OffloadFlags.TX_TCP_SEGMENTATION
      buffer.segmentSize = segment.segmentSize
    }
  }

  /** A bare reset (or reset-and-ACK) for a segment that has no connection (RFC 9293 §3.10.7.1). */
  reset(buffer: PacketBuffer, remoteIp: number, localPort: number, remotePort: number, seq: number, ack: number, flags: number, ipId: number): void {
    const repr = this.#tcpRepr
    repr.srcPort = localPort
    repr.dstPort = remotePort
    repr.seqNumber = seq
    repr.ackNumber = ack
    repr.flags = flags
    repr.window = 0
    repr.options = {}
    this.#writeTcp(buffer, remoteIp, ipId, () => 0)
  }

  #writeTcp(buffer: PacketBuffer, remoteIp: number, ipId: number, payload: (data: Uint8Array, at: number) => number): void {
    const repr = this.#tcpRepr
    const data = buffer.data
    const start = buffer.offset
    const eth = this.#ethRepr
    eth.etherType = EtherType.IPV4
    eth.dst = 0
    emitEthernet(eth, data, start)
    // Header length first, so the payload can be copied straight to its place (no second copy).
    repr.payload = data.subarray(0, 0)
    const headerLength = tcpHeaderLength(repr)
    const payloadAt = start + ETHERNET + IPV4 + headerLength
    const length = payload(data, payloadAt)
    repr.payload = data.subarray(payloadAt, payloadAt + length)
    const checksum = this.checksumOffload ? 'offload' : 'compute'
    const tcpLength = emitTcp(repr, this.address, remoteIp, data, start + ETHERNET + IPV4, checksum)
    const ip = this.#ipRepr
    ip.protocol = IpProtocol.TCP
    ip.src = this.address
    ip.dst = remoteIp
    ip.identification = ipId
    ip.payloadLength = tcpLength
    emitIpv4(ip, data, start + ETHERNET, checksum)
    buffer.length = ETHERNET + IPV4 + tcpLength
    if (this.checksumOffload) {
      buffer.offloadFlags = OffloadFlags.TX_IP_CHECKSUM | OffloadFlags.TX_TCP_CHECKSUM
      buffer.l2Length = ETHERNET
      buffer.l3Length = IPV4
      buffer.l4Length = headerLength
    }
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
    ip.src = this.address
    ip.dst = reader.srcIp
    ip.identification = 0
    ip.payloadLength = icmpLength
    emitIpv4(ip, data, start + ETHERNET)
    buffer.length = ETHERNET + IPV4 + icmpLength
    buffer.offloadFlags = 0
  }
}
