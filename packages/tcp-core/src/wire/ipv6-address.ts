/**
 * IPv6 addresses: text forms, classes, and the derived addresses Neighbor Discovery needs.
 *
 * - RFC 4291 §2.2 (text representation: eight 16-bit hex fields, `::` for one run of zero fields, an
 *   optional dotted-quad IPv4 tail), §2.4 (address type identification), §2.5.5.2 (IPv4-mapped),
 *   §2.5.6 (link-local fe80::/10), §2.7 (multicast ff00::/8), §2.7.1 (solicited-node ff02::1:ffXX:XXXX).
 * - RFC 5952 §4 (canonical text: lowercase, no leading zeros, `::` for the longest run of two or more zero
 *   fields, the first such run on a tie) and §5 (IPv4-mapped addresses end in dotted-quad).
 * - RFC 2464 §4 (interface identifier from the MAC, modified EUI-64 per RFC 4291 Appendix A) and §7
 *   (multicast address → Ethernet 33:33 followed by the last four octets).
 *
 * An {@link Ipv6Address} is a 16-byte `Uint8Array`, network order. Off the hot path (configuration,
 * Neighbor Discovery) that is the form APIs take. The per-packet path never makes one: it reads the four
 * 32-bit words in place ({@link ipv6AddressWord}) and hashes them ({@link ipv6AddressHash}); see decision 0070.
 * @module
 */
import { readUint32 } from './bytes.js'

/** An IPv6 address: 16 bytes in network order. */
export type Ipv6Address = Uint8Array

/** Length of an IPv6 address in bytes. */
export const IPV6_ADDRESS_LENGTH = 16

/** Whether `value` is a 16-byte `Uint8Array`. */
export function isIpv6Address(value: unknown): value is Ipv6Address {
  return value instanceof Uint8Array && value.byteLength === IPV6_ADDRESS_LENGTH
}

/**
 * Parse RFC 4291 §2.2 text (`"fd99::1"`, `"::ffff:10.0.0.1"`, `"2001:DB8:0:0:0:0:0:1"`); undefined when
 * malformed. Zone indices (`%eth0`) and prefix lengths are not accepted.
 */
export function parseIpv6Address(text: string): Ipv6Address | undefined {
  if (typeof text !== 'string' || text.length < 2 || text.length > 45) return undefined
  const out = new Uint8Array(IPV6_ADDRESS_LENGTH)
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const head = halves[0] === '' ? [] : halves[0]!.split(':')
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : halves[1]!.split(':')) : []
  const words: number[] = []
  const tailWords: number[] = []
  if (!parseGroups(head, words, halves.length === 1) || !parseGroups(tail, tailWords, true)) return undefined
  if (halves.length === 1) {
    if (words.length !== 8) return undefined
  } else if (words.length + tailWords.length > 7) {
    return undefined // RFC 4291 §2.2 (2): "::" stands for one or more groups of zeros
  }
  for (let i = 0; i < words.length; i++) writeWord(out, i, words[i]!)
  for (let i = 0; i < tailWords.length; i++) writeWord(out, 8 - tailWords.length + i, tailWords[i]!)
  return out
}

/** Parse hex groups into 16-bit words; a dotted-quad is accepted only as the last group when `ipv4Last`. */
function parseGroups(groups: readonly string[], words: number[], ipv4Last: boolean): boolean {
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i]!
    if (i === groups.length - 1 && ipv4Last && group.includes('.')) {
      // RFC 4291 §2.2 (3): x:x:x:x:x:x:d.d.d.d
      const octets = group.split('.')
      if (octets.length !== 4) return false
      const bytes: number[] = []
      for (const octet of octets) {
        if (!/^(0|[1-9][0-9]{0,2})$/.test(octet) || Number(octet) > 255) return false
        bytes.push(Number(octet))
      }
      words.push((bytes[0]! << 8) | bytes[1]!, (bytes[2]! << 8) | bytes[3]!)
      continue
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return false
    words.push(Number.parseInt(group, 16))
  }
  return true
}

function writeWord(out: Uint8Array, index: number, word: number): void {
  out[index * 2] = word >>> 8
  out[index * 2 + 1] = word & 0xff
}

/** The 16-bit field `index` (0..7) of the address at `bytes[offset]`. */
function field(bytes: Uint8Array, offset: number, index: number): number {
  return (bytes[offset + index * 2]! << 8) | bytes[offset + index * 2 + 1]!
}

/**
 * Format the address at `bytes[offset, offset + 16)` in the RFC 5952 canonical text form.
 * @throws RangeError when fewer than 16 bytes follow `offset`.
 */
export function formatIpv6Address(bytes: Uint8Array, offset = 0): string {
  if (!Number.isInteger(offset) || offset < 0 || offset + IPV6_ADDRESS_LENGTH > bytes.byteLength) {
    throw new RangeError(`an IPv6 address needs 16 bytes at offset ${offset}, the array holds ${bytes.byteLength}`)
  }
  // RFC 5952 §5: an IPv4-mapped address (RFC 4291 §2.5.5.2) is written ::ffff:a.b.c.d.
  let mapped = field(bytes, offset, 5) === 0xffff
  for (let i = 0; i < 5 && mapped; i++) mapped = field(bytes, offset, i) === 0
  if (mapped) return `::ffff:${bytes[offset + 12]}.${bytes[offset + 13]}.${bytes[offset + 14]}.${bytes[offset + 15]}`
  // RFC 5952 §4.2.1-§4.2.3: compress the longest run of at least two zero fields, the first one on a tie.
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (field(bytes, offset, i) !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && field(bytes, offset, j) === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  let text = ''
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += i === 0 ? '::' : ':'
      i += bestLength - 1
      continue
    }
    // RFC 5952 §4.1 (no leading zeros), §4.3 (lowercase).
    text += field(bytes, offset, i).toString(16)
    if (i < 7) text += ':'
  }
  return text
}

/**
 * The 32-bit word `index` (0..3) of the address at `bytes[offset]`, as an unsigned number. The hot path
 * compares and hashes addresses through these words, in place, without making an {@link Ipv6Address}.
 */
export function ipv6AddressWord(bytes: Uint8Array, offset: number, index: number): number {
  return readUint32(bytes, offset + index * 4)
}

/**
 * A 32-bit hash of the address at `bytes[offset]` (FNV-1a-style mixing of its four words, then a final
 * avalanche), for hash tables keyed by address without allocating a key. Not keyed: a table exposed to
 * remote peers should add a secret `seed` so that an attacker cannot aim collisions at one bucket.
 */
export function ipv6AddressHash(bytes: Uint8Array, offset = 0, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0
  for (let i = 0; i < 4; i++) h = Math.imul(h ^ readUint32(bytes, offset + i * 4), 0x01000193)
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  return h >>> 0
}

/** Whether the 16 bytes at `a[aOffset]` equal those at `b[bOffset]`. */
export function ipv6AddressEquals(a: Uint8Array, b: Uint8Array, aOffset = 0, bOffset = 0): boolean {
  for (let i = 0; i < IPV6_ADDRESS_LENGTH; i += 4) {
    if (readUint32(a, aOffset + i) !== readUint32(b, bOffset + i)) return false
  }
  return true
}

/** The unspecified address :: (RFC 4291 §2.5.2). */
export function isUnspecifiedIpv6(bytes: Uint8Array, offset = 0): boolean {
  for (let i = 0; i < IPV6_ADDRESS_LENGTH; i++) if (bytes[offset + i] !== 0) return false
  return true
}

/** A multicast address, ff00::/8 (RFC 4291 §2.7). */
export function isMulticastIpv6(bytes: Uint8Array, offset = 0): boolean {
  return bytes[offset] === 0xff
}

/** A link-local unicast address, fe80::/10 (RFC 4291 §2.5.6). */
export function isLinkLocalIpv6(bytes: Uint8Array, offset = 0): boolean {
  return bytes[offset] === 0xfe && (bytes[offset + 1]! & 0xc0) === 0x80
}

/**
 * The solicited-node multicast address of `address`: ff02::1:ff00:0/104 followed by the address's low 24
 * bits (RFC 4291 §2.7.1). Neighbor solicitations for resolution and DAD go there (RFC 4861 §7.2.2, RFC 4862 §5.4.2).
 */
export function solicitedNodeAddress(address: Ipv6Address, out: Uint8Array = new Uint8Array(IPV6_ADDRESS_LENGTH)): Ipv6Address {
  out.fill(0)
  out[0] = 0xff
  out[1] = 0x02
  out[11] = 0x01
  out[12] = 0xff
  out[13] = address[13]!
  out[14] = address[14]!
  out[15] = address[15]!
  return out
}

/** The Ethernet address of an IPv6 multicast address: 33:33 then its last four octets (RFC 2464 §7). */
export function ipv6MulticastMac(address: Ipv6Address, out: Uint8Array = new Uint8Array(6)): Uint8Array {
  out[0] = 0x33
  out[1] = 0x33
  out[2] = address[12]!
  out[3] = address[13]!
  out[4] = address[14]!
  out[5] = address[15]!
  return out
}

/**
 * `prefix`'s first 64 bits followed by the modified EUI-64 interface identifier of `mac` (RFC 2464 §4,
 * RFC 4291 Appendix A: the MAC split by ff:fe, the universal/local bit inverted). With prefix fe80:: this is
 * the link-local address (RFC 4862 §5.3); with an advertised /64, the SLAAC address (RFC 4862 §5.5.3 (d)).
 */
export function ipv6AddressFromMac(prefix: Ipv6Address, mac: Uint8Array): Ipv6Address {
  const out = new Uint8Array(IPV6_ADDRESS_LENGTH)
  out.set(prefix.subarray(0, 8))
  out[8] = mac[0]! ^ 0x02
  out[9] = mac[1]!
  out[10] = mac[2]!
  out[11] = 0xff
  out[12] = 0xfe
  out[13] = mac[3]!
  out[14] = mac[4]!
  out[15] = mac[5]!
  return out
}

/** Whether the first `prefixLength` bits of `address` equal those of `prefix`. */
export function ipv6PrefixMatches(address: Ipv6Address, prefix: Ipv6Address, prefixLength: number): boolean {
  const whole = prefixLength >>> 3
  for (let i = 0; i < whole; i++) if (address[i] !== prefix[i]) return false
  const bits = prefixLength & 7
  if (bits === 0) return true
  const mask = (0xff << (8 - bits)) & 0xff
  return (address[whole]! & mask) === (prefix[whole]! & mask)
}
