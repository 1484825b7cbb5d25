/**
 * Transmit offloads done in software: what a NIC does with a buffer's `OffloadFlags` before the
 * frame reaches the wire. Backends that advertise an offload without hardware for it use these, as
 * DPDK's GSO library does; the memory backend uses them to emulate a NIC.
 *
 * - Checksums: RFC 1071 (the Internet checksum), RFC 791 §3.1 (IPv4 header), RFC 9293 §3.1 and
 *   RFC 768 (TCP and UDP with the IPv4 pseudo-header), with the arithmetic of `@mtcp/primitives`. As with DPDK and Linux `CHECKSUM_PARTIAL`, a
 *   buffer asking for an L4 checksum holds the folded pseudo-header sum in the checksum field.
 * - TCP segmentation (TSO): a super segment is cut into `segmentSize`-byte segments with IPv4 ids
 *   counting up, sequence numbers advanced, FIN and PSH only on the last segment and CWR only on the
 *   first (RFC 3168 §6.1.2's rule for TSO), every checksum complete. IPv6 (`segmentTcp6`): the same cut,
 *   with the Payload Length set per segment (RFC 8200 §3), no id and no header checksum, and the TCP
 *   checksum over the IPv6 pseudo-header (RFC 8200 §8.1).
 * - IPv6 has no header checksum: `TX_IP_CHECKSUM` on an IPv6 packet is ignored (cleared).
 * @module
 */
import { foldChecksum, internetChecksum, onesComplementSum } from '@mtcp/primitives'
import { OffloadFlags, type PacketBuffer } from '../buffer-pool.js'

const IPV4_CHECKSUM = 10
const IPV4_TOTAL_LENGTH = 2
const IPV4_ID = 4
const TCP_SEQ = 4
const TCP_FLAGS = 13
const TCP_CHECKSUM = 16
const UDP_CHECKSUM = 6
const FIN = 0x01
const PSH = 0x08
const CWR = 0x80

/** The folded IPv4 pseudo-header sum (RFC 9293 §3.1) for an L4 segment of `l4Length` bytes, addresses read from the IPv4 header at `ip`. */
function pseudoHeaderSum(bytes: Uint8Array, ip: number, protocol: number, l4Length: number): number {
  return foldChecksum(onesComplementSum(bytes, ip + 12, 8, protocol + l4Length))
}

/**
 * The folded IPv6 pseudo-header sum (RFC 8200 §8.1: source and destination addresses, the upper-layer
 * packet length as 32 bits, three zero bytes and the Next Header value) for an L4 segment of `l4Length`
 * bytes, addresses read from the IPv6 header at `ip`.
 */
function ipv6PseudoHeaderSum(bytes: Uint8Array, ip: number, nextHeader: number, l4Length: number): number {
  return foldChecksum(onesComplementSum(bytes, ip + 8, 32, nextHeader + l4Length))
}

/**
 * Complete the checksums a buffer asks for (`TX_IP_CHECKSUM`, `TX_TCP_CHECKSUM`, `TX_UDP_CHECKSUM`),
 * in place, and clear those flags. Uses `l2Length`, `l3Length` to find the headers.
 */
export function completeChecksums(buffer: PacketBuffer): void {
  const flags = buffer.offloadFlags
  const bytes = buffer.data
  const view = buffer.view
  const ip = buffer.offset + buffer.l2Length
  // RFC 8200 §3: IPv6 has no header checksum; only an IPv4 header gets one (RFC 791 §3.1).
  if (flags & OffloadFlags.TX_IP_CHECKSUM && bytes[ip]! >>> 4 === 4) {
    view.setUint16(ip + IPV4_CHECKSUM, 0)
    view.setUint16(ip + IPV4_CHECKSUM, internetChecksum(bytes, ip, buffer.l3Length))
  }
  const l4 = ip + buffer.l3Length
  const l4Length = buffer.offset + buffer.length - l4
  if (flags & OffloadFlags.TX_TCP_CHECKSUM) {
    view.setUint16(l4 + TCP_CHECKSUM, internetChecksum(bytes, l4, l4Length))
  } else if (flags & OffloadFlags.TX_UDP_CHECKSUM) {
    const checksum = internetChecksum(bytes, l4, l4Length)
    view.setUint16(l4 + UDP_CHECKSUM, checksum === 0 ? 0xffff : checksum) // RFC 768: 0 means "none"
  }
  buffer.offloadFlags = flags & ~(OffloadFlags.TX_IP_CHECKSUM | OffloadFlags.TX_TCP_CHECKSUM | OffloadFlags.TX_UDP_CHECKSUM)
}

/**
 * Cut an IPv4/TCP super segment into MSS-sized frames with complete checksums.
 *
 * The super segment's TCP checksum field may hold anything; every output checksum is computed from
 * scratch. Output buffers come from the super segment's pool; the super segment itself is not freed.
 *
 * @param out - receives the segments at `out[0 .. n)`.
 * @returns `n`, or -1 when the pool could not supply every segment (none are kept then).
 */
export function segmentTcp4(buffer: PacketBuffer, out: PacketBuffer[]): number {
  const headerLength = buffer.l2Length + buffer.l3Length + buffer.l4Length
  const payloadLength = buffer.length - headerLength
  const mss = buffer.segmentSize
  const count = payloadLength <= 0 ? 1 : Math.ceil(payloadLength / mss)
  if (!buffer.pool.allocBulk(out, count)) return -1
  const source = buffer.data
  const start = buffer.offset
  const ipStart = start + buffer.l2Length
  const firstId = buffer.view.getUint16(ipStart + IPV4_ID)
  const firstSeq = buffer.view.getUint32(ipStart + buffer.l3Length + TCP_SEQ)
  const flags = source[ipStart + buffer.l3Length + TCP_FLAGS]!
  for (let i = 0; i < count; i++) {
    const segment = out[i]!
    const payloadStart = i * mss
    const size = Math.min(mss, Math.max(payloadLength - payloadStart, 0))
    const o = segment.offset
    segment.data.set(source.subarray(start, start + headerLength), o)
    segment.data.set(source.subarray(start + headerLength + payloadStart, start + headerLength + payloadStart + size), o + headerLength)
    segment.length = headerLength + size
    const v = segment.view
    const ip = o + buffer.l2Length
    const tcp = ip + buffer.l3Length
    v.setUint16(ip + IPV4_TOTAL_LENGTH, buffer.l3Length + buffer.l4Length + size)
    v.setUint16(ip + IPV4_ID, (firstId + i) & 0xffff)
    v.setUint16(ip + IPV4_CHECKSUM, 0)
    v.setUint16(ip + IPV4_CHECKSUM, internetChecksum(segment.data, ip, buffer.l3Length))
    v.setUint32(tcp + TCP_SEQ, (firstSeq + payloadStart) >>> 0)
    let segmentFlags = flags
    if (i !== count - 1) segmentFlags &= ~(FIN | PSH)
    if (i !== 0) segmentFlags &= ~CWR
    segment.data[tcp + TCP_FLAGS] = segmentFlags
    const l4Length = buffer.l4Length + size
    v.setUint16(tcp + TCP_CHECKSUM, 0)
    v.setUint16(tcp + TCP_CHECKSUM, internetChecksum(segment.data, tcp, l4Length, pseudoHeaderSum(segment.data, ip, 6, l4Length)))
  }
  return count
}

const IPV6_PAYLOAD_LENGTH = 4
const IPV6_HEADER = 40

/**
 * Cut an IPv6/TCP super segment into MSS-sized frames with complete TCP checksums, as {@link segmentTcp4}
 * does for IPv4: the Payload Length (RFC 8200 §3) is set per segment (it counts any extension headers
 * within `l3Length` too); there is no id to advance and no header checksum; the TCP checksum covers the
 * IPv6 pseudo-header (RFC 8200 §8.1), with the Next Header value TCP (6) as RFC 8200 §8.1 asks (the final
 * upper-layer protocol, also behind extension headers).
 *
 * @param out - receives the segments at `out[0 .. n)`.
 * @returns `n`, or -1 when the pool could not supply every segment (none are kept then).
 */
export function segmentTcp6(buffer: PacketBuffer, out: PacketBuffer[]): number {
  const headerLength = buffer.l2Length + buffer.l3Length + buffer.l4Length
  const payloadLength = buffer.length - headerLength
  const mss = buffer.segmentSize
  const count = payloadLength <= 0 ? 1 : Math.ceil(payloadLength / mss)
  if (!buffer.pool.allocBulk(out, count)) return -1
  const source = buffer.data
  const start = buffer.offset
  const ipStart = start + buffer.l2Length
  const firstSeq = buffer.view.getUint32(ipStart + buffer.l3Length + TCP_SEQ)
  const flags = source[ipStart + buffer.l3Length + TCP_FLAGS]!
  for (let i = 0; i < count; i++) {
    const segment = out[i]!
    const payloadStart = i * mss
    const size = Math.min(mss, Math.max(payloadLength - payloadStart, 0))
    const o = segment.offset
    segment.data.set(source.subarray(start, start + headerLength), o)
    segment.data.set(source.subarray(start + headerLength + payloadStart, start + headerLength + payloadStart + size), o + headerLength)
    segment.length = headerLength + size
    const v = segment.view
    const ip = o + buffer.l2Length
    const tcp = ip + buffer.l3Length
    v.setUint16(ip + IPV6_PAYLOAD_LENGTH, buffer.l3Length - IPV6_HEADER + buffer.l4Length + size)
    v.setUint32(tcp + TCP_SEQ, (firstSeq + payloadStart) >>> 0)
    let segmentFlags = flags
    if (i !== count - 1) segmentFlags &= ~(FIN | PSH)
    if (i !== 0) segmentFlags &= ~CWR
    segment.data[tcp + TCP_FLAGS] = segmentFlags
    const l4Length = buffer.l4Length + size
    v.setUint16(tcp + TCP_CHECKSUM, 0)
    v.setUint16(tcp + TCP_CHECKSUM, internetChecksum(segment.data, tcp, l4Length, ipv6PseudoHeaderSum(segment.data, ip, 6, l4Length)))
  }
  return count
}
