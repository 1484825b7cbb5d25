/**
 * The Internet checksum.
 *
 * - RFC 1071 (Computing the Internet Checksum): the 16-bit one's complement of the one's complement
 *   sum, computed as a plain sum with the carries folded back at the end (§2 (B) deferred carries,
 *   §4.1), byte order independent, and incremental over ranges (§2 (C)).
 * - RFC 1624 (Incremental Update): changing one 16-bit word of a checksummed header (§3, eqn. 3).
 * - RFC 9293 §3.1 (TCP) and RFC 768 (UDP): the IPv4 pseudo-header.
 *
 * `@mtcp/tcp-core` builds and checks headers with these; `@mtcp/dpdk-io` completes the checksums a
 * buffer leaves to the NIC (software offload) with the same functions.
 *
 * Sums are plain numbers with the carries not yet folded: add sums of several ranges (header,
 * pseudo-header, payload) then call {@link foldChecksum} once. Every range but the last must have an
 * even length, or the words of the next range would be misaligned. Nothing here allocates.
 * @module
 */

/**
 * Add the 16-bit big-endian words of `bytes[offset, offset + length)` to `initial` (RFC 1071 §4.1).
 * An odd last byte is padded with a zero byte on its right. The range is clamped to the array.
 * The result is unfolded: pass it to {@link foldChecksum} or to another call as `initial`.
 */
export function onesComplementSum(bytes: Uint8Array, offset = 0, length = bytes.byteLength - offset, initial = 0): number {
  const end = Math.min(offset + length, bytes.byteLength)
  let i = Math.max(offset, 0)
  let sum = initial
  // Four words per turn; a word is at most 0xffff, so the sum stays an exact integer for any array.
  const unrolledEnd = end - ((end - i) & 7)
  for (; i < unrolledEnd; i += 8) {
    sum +=
      ((bytes[i]! << 8) | bytes[i + 1]!) +
      ((bytes[i + 2]! << 8) | bytes[i + 3]!) +
      ((bytes[i + 4]! << 8) | bytes[i + 5]!) +
      ((bytes[i + 6]! << 8) | bytes[i + 7]!)
  }
  for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!
  if (i < end) sum += bytes[i]! << 8 // RFC 1071 §4.1: the odd byte is the high half of a word
  return sum
}

/** Fold the carries of a sum back into 16 bits (end-around carry, RFC 1071 §2 (B)). Returns 0..0xffff. */
export function foldChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000)
  return sum
}

/**
 * The Internet checksum of `bytes[offset, offset + length)` plus `initial` (e.g. a pseudo-header sum):
 * the one's complement of the folded sum, ready to store in a header (RFC 1071 §1).
 * Over a range that already holds a correct checksum, the result is 0.
 */
export function internetChecksum(bytes: Uint8Array, offset = 0, length = bytes.byteLength - offset, initial = 0): number {
  return ~foldChecksum(onesComplementSum(bytes, offset, length, initial)) & 0xffff
}

/**
 * The unfolded sum of the IPv4 pseudo-header of TCP and UDP: source and destination addresses,
 * a zero byte and the protocol, and the TCP/UDP length (header plus data) (RFC 9293 §3.1, RFC 768).
 * @param src - source IPv4 address as a uint32
 * @param dst - destination IPv4 address as a uint32
 * @param protocol - IP protocol number (6 for TCP)
 * @param length - length of the TCP/UDP header plus data, in bytes
 */
export function ipv4PseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length
}

/**
 * Update a stored checksum after one 16-bit word of the covered data changed from `oldWord` to
 * `newWord`, without summing the data again (RFC 1624 §3, eqn. 3: HC' = ~(~HC + ~m + m')).
 * Useful to decrement a TTL or rewrite a port in place.
 */
export function updateChecksum(checksum: number, oldWord: number, newWord: number): number {
  return ~foldChecksum((~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)) & 0xffff
}
