/**
 * IPv4 headers.
 *
 * - RFC 791 §3.1 (Internet Header Format): version, IHL, type of service, total length,
 *   identification, flags, fragment offset, time to live, protocol, header checksum, addresses, options.
 * - RFC 1122 §3.2.1.1 (a version other than 4 is discarded), §3.2.1.2 (the header checksum is
 *   verified on every datagram), §3.2.1.8 (options: this layer skips them, they stay readable
 *   through {@link Ipv4View.options}).
 * - RFC 2474 §3 and RFC 3168 §5: the old type of service byte is DSCP (6 bits) and ECN (2 bits).
 * - Fragments (RFC 791 §3.2): {@link parseIpv4} reports them as `FRAGMENT`; reassembly is the
 *   stack's (`@mtcp/stack`'s ipv4-reassembly.ts); ipv4-fragment.ts cuts datagrams into fragments.
 *
 * Addresses are uint32 numbers, first octet most significant: 10.99.0.1 is 0x0a630001.
 * @module
 */
import { readUint16, readUint32, writeUint16, writeUint32 } from './bytes.js'
import { internetChecksum, type RxChecksum, type TxChecksum } from './checksum.js'
import { checkRoom, WireEmitError, WireError, type WireErrorCode } from './errors.js'

/** An IPv4 address as a uint32, first octet most significant. */
export type Ipv4Address = number

/** IP protocol numbers used by this stack (IANA "Assigned Internet Protocol Numbers"). */
export const IpProtocol = {
  /** ICMP, RFC 792. */
  ICMP: 1,
  /** TCP, RFC 9293. */
  TCP: 6,
  /** UDP, RFC 768 (recognised, not handled by this stack). */
  UDP: 17,
} as const

/** Length of an IPv4 header without options (IHL 5). */
export const IPV4_HEADER_LENGTH = 20

/** The meaning of an IPv4 header (options are not kept; {@link emitIpv4} writes none). */
export interface Ipv4Repr {
  /** Source address. */
  src: Ipv4Address
  /** Destination address. */
  dst: Ipv4Address
  /** Protocol of the payload, e.g. {@link IpProtocol}.TCP. */
  protocol: number
  /** Time to live, 0..255. */
  ttl: number
  /** Identification, 0..65535 (RFC 791 §3.1; RFC 6864 for atomic datagrams). */
  identification: number
  /** The Don't Fragment flag. */
  dontFragment: boolean
  /** Length of the payload in bytes (total length minus header length). */
  payloadLength: number
  /** Differentiated services code point, 0..63 (RFC 2474 §3). Default 0 on emit. */
  dscp?: number | undefined
  /** Explicit congestion notification codepoint, 0..3 (RFC 3168 §5). Default 0 on emit. */
  ecn?: number | undefined
}

/** Zero-copy view of an IPv4 header and its payload. */
export class Ipv4View {

  private constructor(
    /** The bytes the view was checked over (may extend past the datagram, e.g. Ethernet padding). */
    readonly bytes: Uint8Array,
  ) {
  }

  /**
   * Check an untrusted datagram (RFC 791 §3.1, RFC 1122 §3.2.1): `TRUNCATED` when shorter than 20
   * bytes or than its total length, `BAD_VERSION` unless version 4, `BAD_HEADER_LENGTH` when IHL < 5
   * or the header is longer than the total length, `BAD_CHECKSUM` when the header checksum fails
   * (unless `checksum` is `skip`). After this, no accessor reads out of bounds.
   */
  static checked(bytes: Uint8Array, checksum: RxChecksum = 'verify'): Ipv4View | WireError {
    const problem = ipv4HeaderProblem(bytes, 0, bytes.byteLength, checksum)
    if (problem === undefined || problem === 'FRAGMENT') return new Ipv4View(bytes)
    const headerLength = (bytes[0]! & 0x0f) * 4
    const totalLength = bytes.byteLength >= 4 ? (bytes[2]! << 8) | bytes[3]! : 0
    switch (problem) {
      case 'BAD_VERSION':
        return new WireError('ipv4', problem, `version ${bytes[0]! >>> 4}`)
      case 'BAD_CHECKSUM':
        return new WireError('ipv4', problem, 'header checksum')
      case 'BAD_HEADER_LENGTH':
        return new WireError('ipv4', problem, headerLength < IPV4_HEADER_LENGTH ? `IHL ${headerLength / 4} < 5` : `total length ${totalLength} < header length ${headerLength}`)
      default:
        return new WireError('ipv4', 'TRUNCATED', bytes.byteLength < IPV4_HEADER_LENGTH ? `datagram of ${bytes.byteLength} bytes, header needs 20` : `total length ${totalLength} > ${bytes.byteLength} bytes received`)
    }
  }

  /** Always 4 after {@link Ipv4View.checked}. */
  get version(): number {
    return this.bytes[0]! >>> 4
  }

  /** Header length in bytes (IHL × 4), 20..60. */
  get headerLength(): number {
    return (this.bytes[0]! & 0x0f) * 4
  }

  /** DSCP, the high 6 bits of the former type of service byte (RFC 2474 §3). */
  get dscp(): number {
    return this.bytes[1]! >>> 2
  }

  /** ECN codepoint, the low 2 bits (RFC 3168 §5). */
  get ecn(): number {
    return this.bytes[1]! & 3
  }

  /** Total length of the datagram in bytes, header included. */
  get totalLength(): number {
    return readUint16(this.bytes, 2)
  }

  /** Identification. */
  get identification(): number {
    return readUint16(this.bytes, 4)
  }

  /** The Don't Fragment flag (RFC 791 §3.1 Flags bit 1). */
  get dontFragment(): boolean {
    return (this.bytes[6]! & 0x40) !== 0
  }

  /** The More Fragments flag (RFC 791 §3.1 Flags bit 2). */
  get moreFragments(): boolean {
    return (this.bytes[6]! & 0x20) !== 0
  }

  /** Fragment offset in bytes (the field counts units of 8 bytes). */
  get fragmentOffset(): number {
    return (readUint16(this.bytes, 6) & 0x1fff) * 8
  }

  /** Time to live. */
  get ttl(): number {
    return this.bytes[8]!
  }

  /** Protocol of the payload. */
  get protocol(): number {
    return this.bytes[9]!
  }

  /** The header checksum field as received. */
  get checksum(): number {
    return readUint16(this.bytes, 10)
  }

  /** Source address. */
  get src(): Ipv4Address {
    return readUint32(this.bytes, 12)
  }

  /** Destination address. */
  get dst(): Ipv4Address {
    return readUint32(this.bytes, 16)
  }

  /** The options bytes (empty when IHL is 5); skipped by this stack (RFC 1122 §3.2.1.8). */
  get options(): Uint8Array {
    return this.bytes.subarray(IPV4_HEADER_LENGTH, this.headerLength)
  }

  /** The payload up to the total length (a view; link-layer padding excluded). */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength, this.totalLength)
  }
}

/**
 * The meaning of a checked IPv4 header. `FRAGMENT` when More Fragments is set or the fragment
 * offset is not 0 (RFC 791 §3.2: this stack does not reassemble). Options are skipped.
 */
export function parseIpv4(view: Ipv4View): Ipv4Repr | WireError {
  if (view.moreFragments || view.fragmentOffset !== 0) {
    return new WireError('ipv4', 'FRAGMENT', `fragment at offset ${view.fragmentOffset}${view.moreFragments ? ', more follow' : ''}`)
  }
  return {
    src: view.src,
    dst: view.dst,
    protocol: view.protocol,
    ttl: view.ttl,
    identification: view.identification,
    dontFragment: view.dontFragment,
    payloadLength: view.totalLength - view.headerLength,
    dscp: view.dscp,
    ecn: view.ecn,
  }
}

/**
 * Write a 20-byte header (no options) for `repr` at `buffer[offset]`; the payload follows it.
 * With `checksum` = `offload` the checksum field is left 0 for the NIC to fill.
 * @returns the bytes written: 20
 * @throws {@link WireEmitError} `ERR_BUFFER_TOO_SMALL`, or `ERR_INVALID_FIELD` when the total length exceeds 65535
 */
export function emitIpv4(repr: Ipv4Repr, buffer: Uint8Array, offset = 0, checksum: TxChecksum = 'compute'): number {
  checkRoom('IPv4 header', buffer, offset, IPV4_HEADER_LENGTH)
  const totalLength = IPV4_HEADER_LENGTH + repr.payloadLength
  if (totalLength > 0xffff) throw new WireEmitError('ERR_INVALID_FIELD', `IPv4 payloadLength must be in [0, 65515], got ${repr.payloadLength}`)
  buffer[offset] = 0x45 // version 4, IHL 5
  buffer[offset + 1] = ((repr.dscp ?? 0) << 2) | ((repr.ecn ?? 0) & 3)
  writeUint16(buffer, offset + 2, totalLength)
  writeUint16(buffer, offset + 4, repr.identification)
  writeUint16(buffer, offset + 6, repr.dontFragment ? 0x4000 : 0) // flags, fragment offset 0
  buffer[offset + 8] = repr.ttl
  buffer[offset + 9] = repr.protocol
  writeUint16(buffer, offset + 10, 0) // RFC 791 §3.1: the checksum field is zero while computing
  writeUint32(buffer, offset + 12, repr.src)
  writeUint32(buffer, offset + 16, repr.dst)
  if (checksum === 'compute') writeUint16(buffer, offset + 10, internetChecksum(buffer, offset, IPV4_HEADER_LENGTH))
  return IPV4_HEADER_LENGTH
}

/** Parse dotted-quad text (`"10.99.0.1"`); undefined when malformed. */
export function parseIpv4Address(text: string): Ipv4Address | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  let address = 0
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined
    const octet = Number(part)
    if (octet > 255) return undefined
    address = address * 256 + octet
  }
  return address
}

/** Format as dotted-quad text. */
export function formatIpv4Address(address: Ipv4Address): string {
  return `${address >>> 24}.${(address >>> 16) & 0xff}.${(address >>> 8) & 0xff}.${address & 0xff}`
}

/**
 * What is wrong with the IPv4 header at `bytes[offset]` (`length` bytes received), as a code, or
 * undefined: the checks of {@link Ipv4View.checked} (`TRUNCATED`, `BAD_VERSION` per RFC 1122 §3.2.1.1,
 * `BAD_HEADER_LENGTH`, `BAD_CHECKSUM` per RFC 791 §3.1 unless `checksum` is `skip`), then `FRAGMENT` as
 * {@link parseIpv4} says. Allocates nothing: the segment path checks every datagram with it.
 */
export function ipv4HeaderProblem(bytes: Uint8Array, offset: number, length: number, checksum: RxChecksum): WireErrorCode | undefined {
  if (length < IPV4_HEADER_LENGTH || offset + length > bytes.byteLength) return 'TRUNCATED'
  const first = bytes[offset]!
  if (first >>> 4 !== 4) return 'BAD_VERSION'
  const headerLength = (first & 0x0f) * 4
  if (headerLength < IPV4_HEADER_LENGTH) return 'BAD_HEADER_LENGTH'
  const totalLength = (bytes[offset + 2]! << 8) | bytes[offset + 3]!
  if (totalLength < headerLength) return 'BAD_HEADER_LENGTH'
  if (totalLength > length) return 'TRUNCATED'
  // RFC 791 §3.1 Header Checksum, RFC 1122 §3.2.1.2: the sum over the header, checksum included, is 0xffff.
  if (checksum === 'verify' && internetChecksum(bytes, offset, headerLength) !== 0) return 'BAD_CHECKSUM'
  // RFC 791 §3.2: MF set or a fragment offset means a fragment.
  if ((readUint16(bytes, offset + 6) & 0x3fff) !== 0) return 'FRAGMENT'
  return undefined
}
