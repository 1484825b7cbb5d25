/**
 * Receive-side scaling (RSS) in software: the Toeplitz hash that NICs compute over a flow's addresses and
 * ports, for IPv4 and IPv6, so that software can predict which receive queue a flow lands on (the DPDK
 * queues of {@link startDpdkQueues}) or spread frames the same way itself.
 *
 * The algorithm and the inputs are those of Microsoft's RSS specification ("RSS hashing functions",
 * "RSS hashing types"): the input is the source address, the destination address, the source port and
 * the destination port, in network byte order, concatenated (12 bytes for IPv4, 16 + 16 + 2 + 2 = 36
 * bytes for IPv6; the addresses alone for the 2-tuple types); for every set bit of the input, most
 * significant bit of the first byte first, the 32 key bits starting at that bit's position are XORed
 * into the result. A 36-byte input reads key bits up to 36 × 8 + 32 = 320, so the key is 40 bytes.
 *
 * With the key 0x6d5a repeated (Woo and Park, "Scalable TCP Session Monitoring with Symmetric
 * Receive-side Scaling", 2012) the hash is symmetric: swapping source and destination moves each input
 * field by a multiple of 16 bits (32, 128 and 16 bits), the key's period, so both directions of a flow
 * give the same hash, for IPv6 as for IPv4.
 * @module
 */
import { DpdkIoError } from './errors.js'

/** Bytes of a Toeplitz key: 40, as NICs use: a 36-byte IPv6 4-tuple reads key bits up to 320. */
export const RSS_KEY_BYTES = 40

/** Input bytes of the longest input, the IPv6 4-tuple: 16 + 16 + 2 + 2. */
const INPUT_BYTES = 36

/** Smallest key accepted: one that covers an IPv4 4-tuple (12 input bytes plus 32 bits). */
const MIN_KEY_BYTES = 16

/** The symmetric key (0x6d5a repeated) of {@link RSS_KEY_BYTES} bytes. @internal */
export function symmetricRssKey(size: number = RSS_KEY_BYTES): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i % 2 === 0 ? 0x6d : 0x5a))
}

// Table rows of the inputs (input byte index): IPv4 source at 0, destination at 4, ports at 8 and 10;
// IPv6 source at 0, destination at 16, ports at 32 and 34 (Microsoft's RSS specification, input order).
const V4_SRC_PORT = 8
const V4_DST_PORT = 10
const V6_DST = 16
const V6_SRC_PORT = 32
const V6_DST_PORT = 34

const ETHERTYPE_IPV4 = 0x0800
const ETHERTYPE_IPV6 = 0x86dd
const ETHERTYPE_ARP = 0x0806
const ETHERNET_HEADER = 14
const IPV6_HEADER = 40
const TCP = 6
const UDP = 17

/**
 * The Toeplitz hash of one key over IPv4 and IPv6 flows, by table: for each input byte position and each
 * byte value, the XOR of the key windows its set bits select (36 × 256 entries), so a hash is one lookup
 * per input byte and allocates nothing. Addresses are read in place from a frame (IPv6) or passed as
 * uint32s (IPv4).
 *
 * @example
 * ```ts
 * import { RssHash } from '@mtcp/dpdk-io'
 * const rss = new RssHash() // the symmetric key
 * const a = new Uint8Array(16); a[15] = 1 // ::1
 * const b = new Uint8Array(16); b[15] = 2 // ::2
 * console.log(rss.ipv6(a, 0, b, 0, 40000, 80) === rss.ipv6(b, 0, a, 0, 80, 40000)) // true
 * ```
 */
export class RssHash {
  /** `table[inputByte * 256 + value]`. */
  readonly #table = new Int32Array(INPUT_BYTES * 256)
  /** The key in use, {@link RSS_KEY_BYTES} long. */
  readonly key: Uint8Array

  /**
   * @param key - at least 16 bytes; default the symmetric 0x6d5a key. A key shorter than
   * {@link RSS_KEY_BYTES} is repeated to that length and a longer one is cut, as {@link startDpdkQueues}
   * fits a key to a device, so the software hash and the device's agree.
   * @throws DpdkIoError `ERR_INVALID_CONFIG` for a key that is not a Uint8Array of 16 bytes or more.
   */
  constructor(key: Uint8Array = symmetricRssKey()) {
    if (!(key instanceof Uint8Array) || key.byteLength < MIN_KEY_BYTES) {
      throw new DpdkIoError('ERR_INVALID_CONFIG', `an RSS key must be a Uint8Array of at least ${MIN_KEY_BYTES} bytes`)
    }
    const fitted = new Uint8Array(RSS_KEY_BYTES)
    for (let i = 0; i < RSS_KEY_BYTES; i++) fitted[i] = key[i % key.byteLength]!
    this.key = fitted
    // window(bit) = key bits [bit, bit + 32) as a uint32, most significant first.
    const window = (bit: number): number => {
      let value = 0
      for (let i = 0; i < 32; i++) {
        const k = bit + i
        value = (value << 1) | ((fitted[k >>> 3]! >>> (7 - (k & 7))) & 1)
      }
      return value
    }
    for (let byte = 0; byte < INPUT_BYTES; byte++) {
      for (let value = 0; value < 256; value++) {
        let h = 0
        for (let bit = 0; bit < 8; bit++) if (value & (0x80 >>> bit)) h ^= window(byte * 8 + bit)
        this.#table[byte * 256 + value] = h
      }
    }
  }

  /**
   * The hash of an IPv4 flow (Microsoft's TCP_IPV4 input: source address, destination address, source
   * port, destination port); the address-only type (IPV4) is {@link RssHash.ipv4Addresses}. Addresses
   * are uint32s whose most significant byte is the address's first (`10.0.0.1` = 0x0a000001).
   * @returns the uint32 hash.
   */
  ipv4(srcIp: number, dstIp: number, srcPort: number, dstPort: number): number {
    const t = this.#table
    return (this.ipv4Addresses(srcIp, dstIp) ^ t[V4_SRC_PORT * 256 + ((srcPort >>> 8) & 0xff)]! ^ t[(V4_SRC_PORT + 1) * 256 + (srcPort & 0xff)]! ^
      t[V4_DST_PORT * 256 + ((dstPort >>> 8) & 0xff)]! ^ t[(V4_DST_PORT + 1) * 256 + (dstPort & 0xff)]!) >>> 0
  }

  /** The hash of an IPv4 address pair alone (Microsoft's IPV4 input: source, destination). @returns the uint32 hash. */
  ipv4Addresses(srcIp: number, dstIp: number): number {
    const t = this.#table
    return (t[(srcIp >>> 24) & 0xff]! ^ t[256 + ((srcIp >>> 16) & 0xff)]! ^ t[512 + ((srcIp >>> 8) & 0xff)]! ^ t[768 + (srcIp & 0xff)]! ^
      t[1024 + ((dstIp >>> 24) & 0xff)]! ^ t[1280 + ((dstIp >>> 16) & 0xff)]! ^ t[1536 + ((dstIp >>> 8) & 0xff)]! ^ t[1792 + (dstIp & 0xff)]!) >>> 0
  }

  /**
   * The hash of an IPv6 flow (Microsoft's TCP_IPV6 input: the 16-byte source address, the 16-byte
   * destination address, source port, destination port), the addresses read in place:
   * `src[srcOffset .. srcOffset + 16)` and `dst[dstOffset .. dstOffset + 16)` (both may be the same frame).
   * @returns the uint32 hash.
   */
  ipv6(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number, srcPort: number, dstPort: number): number {
    const t = this.#table
    return (this.ipv6Addresses(src, srcOffset, dst, dstOffset) ^ t[V6_SRC_PORT * 256 + ((srcPort >>> 8) & 0xff)]! ^ t[(V6_SRC_PORT + 1) * 256 + (srcPort & 0xff)]! ^
      t[V6_DST_PORT * 256 + ((dstPort >>> 8) & 0xff)]! ^ t[(V6_DST_PORT + 1) * 256 + (dstPort & 0xff)]!) >>> 0
  }

  /** The hash of an IPv6 address pair alone (Microsoft's IPV6 input), read in place as in {@link RssHash.ipv6}. @returns the uint32 hash. */
  ipv6Addresses(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number): number {
    const t = this.#table
    let h = 0
    for (let i = 0; i < 16; i++) h ^= t[i * 256 + src[srcOffset + i]!]! ^ t[(V6_DST + i) * 256 + dst[dstOffset + i]!]!
    return h >>> 0
  }

  /**
   * The hash of a received Ethernet frame, with the input a NIC configured for IP, TCP and UDP hashing
   * (DPDK's `RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP`, as {@link startDpdkQueues} sets) uses:
   * - IPv4 TCP or UDP, not a fragment: the 4-tuple; other IPv4 and IPv4 fragments: the address pair.
   * - IPv6 whose Next Header is TCP or UDP: the 4-tuple; any other IPv6 (ICMPv6 and ND, fragments, a
   *   chain of extension headers): the address pair. NICs hash TCP and UDP behind extension headers only
   *   with the `_EX` hash types (Microsoft's IPV6_EX), which are not enabled; a TCP flow's segments carry
   *   no extension headers in this stack, so they all take the 4-tuple.
   * - ARP: the sender and target protocol addresses (so a worker sees the replies to its own requests).
   * Never reads outside `[offset, offset + length)`.
   * @returns the uint32 hash, or -1 for a frame that has nothing to hash (not IP or ARP, VLAN-tagged, or
   * shorter than its headers), which a NIC puts on its default queue.
   */
  frame(data: Uint8Array, offset: number, length: number): number {
    if (length < ETHERNET_HEADER) return -1
    const etherType = (data[offset + 12]! << 8) | data[offset + 13]!
    const ip = offset + ETHERNET_HEADER
    if (etherType === ETHERTYPE_IPV6) {
      // RFC 8200 §3: version 6, Next Header at octet 6, source at 8, destination at 24.
      if (length < ETHERNET_HEADER + IPV6_HEADER || data[ip]! >>> 4 !== 6) return -1
      const next = data[ip + 6]!
      if ((next === TCP || next === UDP) && length >= ETHERNET_HEADER + IPV6_HEADER + 4) {
        const l4 = ip + IPV6_HEADER
        return this.ipv6(data, ip + 8, data, ip + 24, (data[l4]! << 8) | data[l4 + 1]!, (data[l4 + 2]! << 8) | data[l4 + 3]!)
      }
      return this.ipv6Addresses(data, ip + 8, data, ip + 24)
    }
    if (etherType === ETHERTYPE_IPV4) {
      // RFC 791 §3.1: IHL in the low nibble of octet 0, flags and fragment offset at 6, protocol at 9.
      if (length < ETHERNET_HEADER + 20 || data[ip]! >>> 4 !== 4) return -1
      const headerLength = (data[ip]! & 0x0f) * 4
      const src = readUint32(data, ip + 12)
      const dst = readUint32(data, ip + 16)
      const protocol = data[ip + 9]!
      const fragment = ((data[ip + 6]! << 8) | data[ip + 7]!) & 0x3fff // MF or an offset
      if ((protocol === TCP || protocol === UDP) && fragment === 0 && headerLength >= 20 && length >= ETHERNET_HEADER + headerLength + 4) {
        const l4 = ip + headerLength
        return this.ipv4(src, dst, (data[l4]! << 8) | data[l4 + 1]!, (data[l4 + 2]! << 8) | data[l4 + 3]!)
      }
      return this.ipv4Addresses(src, dst)
    }
    if (etherType === ETHERTYPE_ARP) {
      // RFC 826: for Ethernet/IPv4, the sender protocol address at octet 14 and the target's at 24.
      if (length < ETHERNET_HEADER + 28) return -1
      return this.ipv4Addresses(readUint32(data, ip + 14), readUint32(data, ip + 24))
    }
    return -1
  }
}

function readUint32(data: Uint8Array, at: number): number {
  return ((data[at]! << 24) | (data[at + 1]! << 16) | (data[at + 2]! << 8) | data[at + 3]!) >>> 0
}
