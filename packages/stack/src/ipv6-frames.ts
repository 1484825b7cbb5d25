/**
 * IPv6 frames out of the stack: Ethernet II with EtherType 0x86dd (RFC 2464 §3), the fixed IPv6 header
 * (RFC 8200 §3), and TCP segments (RFC 9293 over IPv6), ICMPv6 echo replies (RFC 4443 §4.2) and errors
 * (RFC 4443 §3), Neighbor Discovery messages (RFC 4861 §4.1, §4.3, §4.4) in it; fragments of a datagram
 * larger than the MTU (RFC 8200 §4.5, the only extension header the stack writes).
 *
 * A TCP segment is written in place as over IPv4: the header and payload by tcp-core's segment codec
 * (the payload copied once from the send buffer), its checksum over the connection's pseudo-header sum,
 * computed once when the connection was made (RFC 8200 §8.1), plus the segment's length. Checksums are
 * always computed here, not offloaded: the ports' offload flags describe IPv4 (frames.ts).
 * @module
 */
import type { PacketBuffer } from '@mtcp/dpdk-io'
import { emitIcmpv6, type Icmpv6ErrorRepr, emitNdpFrame, EtherType, ICMPV6_ERROR_MAX_INVOKING, IPV6_HEADER_LENGTH, Ipv6NextHeader, type NdpRepr, type OutboundSegment, writeTcpSegmentWithAddressSum } from '@mtcp/tcp-core'
import { UNRESOLVED_MAC } from './frames.js'

const ETHERNET = 14

/** The hop limit of the stack's IPv6 datagrams other than Neighbor Discovery (Linux's default, 64). */
export const IPV6_HOP_LIMIT = 64

/**
 * @internal Writes the stack's IPv6 frames into pool buffers. The Ethernet destination is written as
 * zeros: Neighbor Discovery fills it in (ipv6-host.ts), as ARP does for IPv4.
 */
export class Ipv6FrameWriter {
  readonly #mac: Uint8Array

  constructor(mac: Uint8Array) {
    this.#mac = Uint8Array.from(mac)
  }

  /** This host's MAC address. */
  get mac(): Uint8Array {
    return this.#mac
  }

  /** The Ethernet header (destination unresolved) and the fixed IPv6 header; @returns where the payload starts. */
  #headers(buffer: PacketBuffer, src: Uint8Array, dst: Uint8Array, dstOffset: number, nextHeader: number, payloadLength: number, trafficClass: number, flowLabel: number): number {
    const data = buffer.data
    const start = buffer.offset
    data.set(UNRESOLVED_MAC, start)
    data.set(this.#mac, start + 6)
    data[start + 12] = EtherType.IPV6 >>> 8
    data[start + 13] = EtherType.IPV6 & 0xff
    const ip = start + ETHERNET
    // RFC 8200 §3: version 6, traffic class (DSCP and ECN, RFC 3168 §5), 20-bit flow label (RFC 6437).
    data[ip] = 0x60 | (trafficClass >>> 4)
    data[ip + 1] = ((trafficClass & 0x0f) << 4) | ((flowLabel >>> 16) & 0x0f)
    data[ip + 2] = (flowLabel >>> 8) & 0xff
    data[ip + 3] = flowLabel & 0xff
    data[ip + 4] = payloadLength >>> 8
    data[ip + 5] = payloadLength & 0xff
    data[ip + 6] = nextHeader
    data[ip + 7] = IPV6_HOP_LIMIT
    data.set(src, ip + 8)
    for (let i = 0; i < 16; i++) data[ip + 24 + i] = dst[dstOffset + i]!
    return ip + IPV6_HEADER_LENGTH
  }

  /**
   * A TCP segment of a connection from `local` to `remote` (16-byte addresses): `addressSum` is its
   * pseudo-header sum without the length (`ipv6PseudoHeaderSumOf(local, remote, 6, 0)`), `flowLabel` its
   * RFC 6437 label. The IPv6 payload length is written after the segment, whose length it is.
   */
  tcp(buffer: PacketBuffer, local: Uint8Array, remote: Uint8Array, remoteOffset: number, localPort: number, remotePort: number, addressSum: number, flowLabel: number, segment: OutboundSegment): void {
    // RFC 3168 §5 (via RFC 8200 §7): the ECN field is the low two bits of the traffic class.
    const at = this.#headers(buffer, local, remote, remoteOffset, Ipv6NextHeader.TCP, 0, segment.ecn & 3, flowLabel)
    const length = writeTcpSegmentWithAddressSum(segment, localPort, remotePort, addressSum, buffer.data, at, 'compute')
    buffer.data[at - IPV6_HEADER_LENGTH + 4] = length >>> 8
    buffer.data[at - IPV6_HEADER_LENGTH + 5] = length & 0xff
    buffer.length = ETHERNET + IPV6_HEADER_LENGTH + length
    buffer.offloadFlags = 0
  }

  /**
   * An echo reply from `src` to the requester at `dst[dstOffset]` (RFC 4443 §4.2: the identifier, sequence
   * number and data of the request). @returns false when it does not fit in the buffer.
   */
  echoReply(buffer: PacketBuffer, src: Uint8Array, dst: Uint8Array, identifier: number, sequenceNumber: number, data: Uint8Array): boolean {
    const length = 8 + data.byteLength
    if (ETHERNET + IPV6_HEADER_LENGTH + length > buffer.data.byteLength - buffer.offset) return false
    const at = this.#headers(buffer, src, dst, 0, Ipv6NextHeader.ICMPV6, length, 0, 0)
    emitIcmpv6({ kind: 'echoReply', identifier, sequenceNumber, data }, buffer.data, at, src, dst)
    buffer.length = ETHERNET + IPV6_HEADER_LENGTH + length
    buffer.offloadFlags = 0
    return true
  }

  /**
   * An ICMPv6 error (RFC 4443 §3) from `src` to `dst` quoting `invoking` (from its IPv6 header): as much of
   * it as fits in the minimum MTU (RFC 4443 §2.4 (c)) and in `mtu`.
   */
  icmpv6Error(buffer: PacketBuffer, src: Uint8Array, dst: Uint8Array, kind: Icmpv6ErrorRepr['kind'], code: number, value: number, invoking: Uint8Array, mtu: number): void {
    const room = Math.min(ICMPV6_ERROR_MAX_INVOKING, mtu - IPV6_HEADER_LENGTH - 8, buffer.data.byteLength - buffer.offset - ETHERNET - IPV6_HEADER_LENGTH - 8)
    const quoted = invoking.byteLength > room ? invoking.subarray(0, room) : invoking
    const length = 8 + quoted.byteLength
    const at = this.#headers(buffer, src, dst, 0, Ipv6NextHeader.ICMPV6, length, 0, 0)
    emitIcmpv6({ kind, code, value, invoking: quoted }, buffer.data, at, src, dst)
    buffer.length = ETHERNET + IPV6_HEADER_LENGTH + length
    buffer.offloadFlags = 0
  }

  /**
   * One fragment (RFC 8200 §4.5) of the datagram whose fixed header is `datagram[0, 40)` (no extension
   * headers: its Next Header goes into the Fragment header) and whose payload follows: the payload bytes
   * [`start`, `end`), `more` when others follow, under `identification`. @returns false when it does not fit.
   */
  fragment(buffer: PacketBuffer, datagram: Uint8Array, identification: number, start: number, end: number, more: boolean): boolean {
    const length = end - start
    if (ETHERNET + IPV6_HEADER_LENGTH + 8 + length > buffer.data.byteLength - buffer.offset) return false
    const data = buffer.data
    const begin = buffer.offset
    data.set(UNRESOLVED_MAC, begin)
    data.set(this.#mac, begin + 6)
    data[begin + 12] = EtherType.IPV6 >>> 8
    data[begin + 13] = EtherType.IPV6 & 0xff
    const ip = begin + ETHERNET
    data.set(datagram.subarray(0, IPV6_HEADER_LENGTH), ip)
    data[ip + 4] = (8 + length) >>> 8
    data[ip + 5] = (8 + length) & 0xff
    data[ip + 6] = Ipv6NextHeader.FRAGMENT
    // RFC 8200 §4.5: Next Header, reserved, Fragment Offset in 8-octet units with Res and M, Identification.
    const fragment = ip + IPV6_HEADER_LENGTH
    data[fragment] = datagram[6]!
    data[fragment + 1] = 0
    const offsetField = start | (more ? 1 : 0) // start is a multiple of 8: the offset's units land in the high 13 bits
    data[fragment + 2] = offsetField >>> 8
    data[fragment + 3] = offsetField & 0xff
    data[fragment + 4] = identification >>> 24
    data[fragment + 5] = (identification >>> 16) & 0xff
    data[fragment + 6] = (identification >>> 8) & 0xff
    data[fragment + 7] = identification & 0xff
    data.set(datagram.subarray(IPV6_HEADER_LENGTH + start, IPV6_HEADER_LENGTH + end), fragment + 8)
    buffer.length = ETHERNET + IPV6_HEADER_LENGTH + 8 + length
    buffer.offloadFlags = 0
    return true
  }

  /**
   * A whole echo reply datagram (IPv6 header and ICMPv6 message, RFC 4443 §4.2) written into `out` at 0,
   * to be sent in fragments. @returns its length, or undefined when it does not fit in `out`.
   */
  echoReplyDatagram(out: Uint8Array, src: Uint8Array, dst: Uint8Array, identifier: number, sequenceNumber: number, data: Uint8Array): number | undefined {
    const length = 8 + data.byteLength
    if (IPV6_HEADER_LENGTH + length > out.byteLength || length > 0xffff) return undefined
    out[0] = 0x60
    out[1] = 0
    out[2] = 0
    out[3] = 0
    out[4] = length >>> 8
    out[5] = length & 0xff
    out[6] = Ipv6NextHeader.ICMPV6
    out[7] = IPV6_HOP_LIMIT
    out.set(src, 8)
    out.set(dst, 24)
    emitIcmpv6({ kind: 'echoReply', identifier, sequenceNumber, data }, out, IPV6_HEADER_LENGTH, src, dst)
    return IPV6_HEADER_LENGTH + length
  }

  /** A Neighbor Discovery message (hop limit 255, RFC 4861 §7.1) to `dstMac`. */
  ndp(buffer: PacketBuffer, repr: NdpRepr, dstMac: Uint8Array, src: Uint8Array, dst: Uint8Array): void {
    buffer.length = emitNdpFrame(repr, { dstMac, srcMac: this.#mac, src, dst }, buffer.data, buffer.offset)
    buffer.offloadFlags = 0
  }
}
