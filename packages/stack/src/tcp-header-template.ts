/**
 * Per-connection header templates: the 54 bytes of Ethernet, IPv4 and TCP header that a connection's
 * segments share are written once, when the connection sends its first segment, and each segment then
 * copies them and patches in place only what changes from one segment to the next.
 *
 * Constant over a connection: the source MAC and EtherType; IPv4 version and header length, DF, TTL,
 * protocol and both addresses (RFC 791 §3.1); both TCP ports (RFC 9293 §3.1). Patched per segment: the
 * IPv4 total length, identification and ECN codepoint; the TCP sequence and acknowledgment numbers, data
 * offset, flags, window and options; both checksums. The destination MAC stays zero here, as in every
 * frame the stack writes: routing fills it in once ARP has resolved the next hop (ipv4-host.ts).
 *
 * Both checksums start from sums taken once: the IPv4 header checksum is the constant words' sum plus
 * the three patched words (the one's-complement sum is commutative and associative, RFC 1071 §2(B)), so
 * no pass over the header per segment; the TCP checksum starts from the pseudo-header sum without the
 * length (RFC 9293 §3.1).
 *
 * IPv6 connections have their own template ({@link Tcp6HeaderTemplate}, 74 bytes): constant are the source
 * MAC and EtherType 0x86dd (RFC 2464 §3), the version, the connection's flow label (RFC 6437 §3), Next
 * Header TCP, the hop limit and both addresses (RFC 8200 §3), and both ports; patched per segment are the
 * ECN bits of the traffic class (RFC 3168 §5, via RFC 8200 §7), the payload length and the TCP fields. IPv6
 * has no header checksum (RFC 8200 §3); the TCP checksum starts from the connection's pseudo-header sum
 * (RFC 8200 §8.1), computed once when the connection was made.
 * @module
 */
import { OffloadFlags, type PacketBuffer } from '@mtcp/dpdk-io'
import { foldChecksum, internetChecksum, IpProtocol, ipv4PseudoHeaderSum, type OutboundSegment, tcpSegmentHeaderLength, writeTcpOptions } from '@mtcp/tcp-core'
import { IPV6_HOP_LIMIT } from './ipv6-frames.js'

const ETHERNET = 14
const IPV4 = 20
const TCP = 20
/** Ethernet, IPv4 and the fixed TCP header: what a template holds. */
export const TCP_TEMPLATE_LENGTH = ETHERNET + IPV4 + TCP
const TTL = 64

/** @internal The headers of one connection's segments, written once (see the module comment). */
export class TcpHeaderTemplate {
  readonly #bytes = new Uint8Array(TCP_TEMPLATE_LENGTH)
  /** The unfolded sum of the IPv4 header's constant words (length, identification, TOS and checksum zero). */
  readonly #ipSum: number
  /** The unfolded pseudo-header sum without the TCP length. */
  readonly #pseudoSum: number

  constructor(mac: Uint8Array, src: number, dst: number, srcPort: number, dstPort: number) {
    const b = this.#bytes
    b.set(mac, 6) // destination (0..5) stays zero: filled in after ARP
    b[12] = 0x08 // EtherType IPv4
    b[13] = 0x00
    const ip = ETHERNET
    b[ip] = 0x45 // version 4, IHL 5 (RFC 791 §3.1)
    b[ip + 6] = 0x40 // DF, fragment offset 0: TCP finds its MSS by path MTU discovery (RFC 1191 §3)
    b[ip + 8] = TTL
    b[ip + 9] = IpProtocol.TCP
    writeU32(b, ip + 12, src)
    writeU32(b, ip + 16, dst)
    const tcp = ETHERNET + IPV4
    writeU16(b, tcp, srcPort)
    writeU16(b, tcp + 2, dstPort)
    // Sequence, acknowledgment, offset, flags, window and checksum are patched; the urgent pointer stays 0.
    this.#ipSum = 0x4500 + 0x4000 + ((TTL << 8) | IpProtocol.TCP) + (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff)
    this.#pseudoSum = ipv4PseudoHeaderSum(src, dst, IpProtocol.TCP, 0)
  }

  /**
   * Write `segment` into `buffer` as a whole frame: the template, then the patched fields, the options
   * and the payload (copied once, from the send buffer). With `offload`, the checksums are left to the
   * port: the IPv4 one zero, the TCP one holding the pseudo-header sum, as the offload contract wants.
   */
  write(buffer: PacketBuffer, segment: OutboundSegment, ipId: number, offload: boolean): void {
    const data = buffer.data
    const start = buffer.offset
    data.set(this.#bytes, start)
    const headerLength = tcpSegmentHeaderLength(segment)
    const tcpLength = headerLength + segment.payloadLength
    const tcp = start + ETHERNET + IPV4
    segment.copyPayload(data, tcp + headerLength)
    const ip = start + ETHERNET
    const tos = segment.ecn & 3 // RFC 3168 §6.1.2, §6.1.5: ECT(0) on new data once negotiated, else Not-ECT
    const totalLength = IPV4 + tcpLength
    data[ip + 1] = tos
    writeU16(data, ip + 2, totalLength)
    writeU16(data, ip + 4, ipId)
    if (!offload) writeU16(data, ip + 10, ~foldChecksum(this.#ipSum + tos + totalLength + ipId) & 0xffff)
    writeTcpFields(data, tcp, segment, headerLength, tcpLength, this.#pseudoSum, offload)
    buffer.length = ETHERNET + IPV4 + tcpLength
    setOffloads(buffer, segment, offload ? OffloadFlags.TX_IP_CHECKSUM | OffloadFlags.TX_TCP_CHECKSUM : 0, IPV4, headerLength)
  }
}

const IPV6 = 40
/** Ethernet, IPv6 and the fixed TCP header: what an IPv6 template holds. */
export const TCP6_TEMPLATE_LENGTH = ETHERNET + IPV6 + TCP

/** @internal The headers of one IPv6 connection's segments, written once (see the module comment). */
export class Tcp6HeaderTemplate {
  readonly #bytes = new Uint8Array(TCP6_TEMPLATE_LENGTH)
  /** The second byte of the IPv6 header without the ECN bits: the low traffic-class nibble's DSCP part (zero) and the flow label's top 4 bits. */
  readonly #byte1: number
  /** The connection's pseudo-header sum without the length (RFC 8200 §8.1), unfolded. */
  readonly #pseudoSum: number

  /**
   * @param local - the local address, 16 bytes; `remote` the remote one.
   * @param addressSum - `ipv6PseudoHeaderSumOf(local, remote, 6, 0)`, the connection's (SocketRecord.addressSum).
   * @param flowLabel - the connection's 20-bit flow label.
   */
  constructor(mac: Uint8Array, local: Uint8Array, remote: Uint8Array, localPort: number, remotePort: number, addressSum: number, flowLabel: number) {
    const b = this.#bytes
    b.set(mac, 6) // destination (0..5) stays zero: filled in once Neighbor Discovery has resolved the next hop
    b[12] = 0x86 // EtherType IPv6 (RFC 2464 §3)
    b[13] = 0xdd
    const ip = ETHERNET
    // RFC 8200 §3: version 6, traffic class 0 but for the ECN bits patched per segment, the flow label (RFC 6437).
    b[ip] = 0x60
    this.#byte1 = (flowLabel >>> 16) & 0x0f
    b[ip + 1] = this.#byte1
    b[ip + 2] = (flowLabel >>> 8) & 0xff
    b[ip + 3] = flowLabel & 0xff
    b[ip + 6] = IpProtocol.TCP // Next Header: no extension headers
    b[ip + 7] = IPV6_HOP_LIMIT
    b.set(local, ip + 8)
    b.set(remote, ip + 24)
    const tcp = ETHERNET + IPV6
    writeU16(b, tcp, localPort)
    writeU16(b, tcp + 2, remotePort)
    this.#pseudoSum = addressSum
  }

  /**
   * Write `segment` into `buffer` as a whole frame: the template, the patched fields, the options and the
   * payload (copied once). With `offload`, the TCP checksum is left to the port (the field holds the
   * folded pseudo-header sum, as the offload contract wants).
   */
  write(buffer: PacketBuffer, segment: OutboundSegment, offload: boolean): void {
    const data = buffer.data
    const start = buffer.offset
    data.set(this.#bytes, start)
    const headerLength = tcpSegmentHeaderLength(segment)
    const tcpLength = headerLength + segment.payloadLength
    const tcp = start + ETHERNET + IPV6
    segment.copyPayload(data, tcp + headerLength)
    const ip = start + ETHERNET
    // RFC 3168 §5: ECN is the low two bits of the traffic class, bits 4-5 of the header's second byte.
    data[ip + 1] = ((segment.ecn & 3) << 4) | this.#byte1
    writeU16(data, ip + 4, tcpLength) // Payload Length (RFC 8200 §3): no extension headers
    writeTcpFields(data, tcp, segment, headerLength, tcpLength, this.#pseudoSum, offload)
    buffer.length = ETHERNET + IPV6 + tcpLength
    setOffloads(buffer, segment, offload ? OffloadFlags.TX_TCP_CHECKSUM : 0, IPV6, headerLength)
  }
}

/**
 * The TCP fields both templates patch (RFC 9293 §3.1): sequence and acknowledgment numbers, data offset,
 * flags, window, options, and the checksum from the connection's pseudo-header sum (`pseudoSum`, the
 * addresses' part) plus the TCP length — only that sum when the port completes the checksum.
 */
function writeTcpFields(data: Uint8Array, tcp: number, segment: OutboundSegment, headerLength: number, tcpLength: number, pseudoSum: number, offload: boolean): void {
  writeU32(data, tcp + 4, segment.seq)
  writeU32(data, tcp + 8, segment.ack)
  data[tcp + 12] = (headerLength >> 2) << 4 // data offset; reserved bits zero (RFC 9293 §3.1)
  data[tcp + 13] = segment.flags
  writeU16(data, tcp + 14, segment.window)
  writeTcpOptions(segment, data, tcp + TCP)
  const pseudo = pseudoSum + tcpLength
  writeU16(data, tcp + 16, offload ? foldChecksum(pseudo) : internetChecksum(data, tcp, tcpLength, pseudo))
}

/**
 * The buffer's offload requests: `checksums` (0 when the stack computed them) with the header lengths the
 * port needs, and segmentation when the segment is a super segment (the port cuts it into MSS-sized
 * segments, TSO, and completes their checksums).
 */
function setOffloads(buffer: PacketBuffer, segment: OutboundSegment, checksums: number, l3Length: number, headerLength: number): void {
  buffer.offloadFlags = checksums
  if (checksums !== 0) {
    buffer.l2Length = ETHERNET
    buffer.l3Length = l3Length
    buffer.l4Length = headerLength
  }
  if (segment.segmentSize > 0) {
    buffer.offloadFlags |= OffloadFlags.TX_TCP_SEGMENTATION
    buffer.segmentSize = segment.segmentSize
  }
}

function writeU16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 8
  bytes[offset + 1] = value
}

function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24
  bytes[offset + 1] = value >>> 16
  bytes[offset + 2] = value >>> 8
  bytes[offset + 3] = value
}
