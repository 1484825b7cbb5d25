/**
 * The IPv6 pseudo-header of upper-layer checksums (RFC 8200 §8.1): source address, destination address
 * (the final one, when a Routing header is present), upper-layer packet length as 32 bits, three zero
 * bytes and the Next Header value of the upper layer. TCP over IPv6 (RFC 9293 §3.1), UDP and ICMPv6
 * (RFC 4443 §2.3: unlike ICMPv4, ICMPv6 includes it) add this sum to the sum of their bytes.
 *
 * Built on the one's complement sum of `checksum.ts` (RFC 1071): the result is unfolded, like
 * `ipv4PseudoHeaderSum`, so that it is added to the sum of the segment and folded once.
 * @module
 */
import { internetChecksum, onesComplementSum } from './checksum.js'

/**
 * The unfolded pseudo-header sum for an upper-layer packet of `length` bytes and protocol `nextHeader`, with the
 * source and destination addresses read in place: `bytes[srcOffset, +16)` and `bytes[dstOffset, +16)`.
 * For a received datagram they are `view.srcOffset` and `view.dstOffset` (no copy, no allocation).
 * @param length - upper-layer length (TCP header plus data, whole ICMPv6 message), up to 2^32 − 1
 */
export function ipv6PseudoHeaderSum(bytes: Uint8Array, srcOffset: number, dstOffset: number, nextHeader: number, length: number): number {
  // RFC 8200 §8.1: 32-bit Upper-Layer Packet Length, 24 zero bits, 8-bit Next Header.
  const sum = onesComplementSum(bytes, srcOffset, 16, onesComplementSum(bytes, dstOffset, 16))
  return sum + Math.floor(length / 0x10000) + (length & 0xffff) + nextHeader
}

/**
 * The same sum with the addresses given separately (each 16 bytes), for emitters that hold them apart.
 * @see {@link ipv6PseudoHeaderSum}
 */
export function ipv6PseudoHeaderSumOf(src: Uint8Array, dst: Uint8Array, nextHeader: number, length: number): number {
  const sum = onesComplementSum(src, 0, 16, onesComplementSum(dst, 0, 16))
  return sum + Math.floor(length / 0x10000) + (length & 0xffff) + nextHeader
}

/**
 * The checksum to store in an upper-layer header over IPv6: the Internet checksum of
 * `bytes[offset, offset + length)` with the pseudo-header of `src` → `dst` added. Over a message that
 * already holds a correct checksum the result is 0 (how a receiver verifies it).
 */
export function ipv6UpperLayerChecksum(bytes: Uint8Array, offset: number, length: number, src: Uint8Array, dst: Uint8Array, nextHeader: number): number {
  return internetChecksum(bytes, offset, length, ipv6PseudoHeaderSumOf(src, dst, nextHeader, length))
}
