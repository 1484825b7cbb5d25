/**
 * IPv6 headers and extension-header chains.
 *
 * - RFC 8200 §3 (IPv6 Header Format): version 6, traffic class, flow label, payload length, next header,
 *   hop limit, source and destination addresses; 40 bytes, no checksum.
 * - RFC 8200 §4 (extension headers): walked by {@link walkIpv6Headers}: Hop-by-Hop Options only right after
 *   the IPv6 header (§4.1), options processed per §4.2 (the two high bits of an unknown option type say
 *   skip, discard, or discard and answer with a parameter problem), Routing (§4.4: skipped when Segments
 *   Left is 0, else a parameter problem at Routing Type, as a host forwards nothing), Fragment (§4.5: the walk
 *   stops there, the datagram goes to reassembly; an atomic fragment, RFC 6946 §4, is walked through),
 *   Destination Options (§4.6), No Next Header (§4.7). Any other order is accepted (§4.1: "must accept and
 *   attempt to process extension headers in any order").
 * - RFC 2474 §3 and RFC 3168 §5: the traffic class is DSCP (6 bits) and ECN (2 bits).
 * - RFC 6437 §3: the flow label is 20 bits, 0 when unused.
 * - RFC 2675 (jumbograms, payload length 0 with a Jumbo Payload option) is not supported.
 *
 * Nothing here allocates per packet: {@link Ipv6View.reset} re-points a view, {@link ipv6HeaderProblem} and
 * {@link walkIpv6Headers} write into a caller-owned {@link Ipv6HeaderChain}.
 * @module
 */
import { readUint16, readUint32, writeUint16, writeUint32 } from './bytes.js'
import { checkRoom, WireEmitError } from './errors.js'
import { IPV6_ADDRESS_LENGTH, type Ipv6Address, isMulticastIpv6 } from './ipv6-address.js'
import { Ipv6WireError, type Ipv6WireErrorCode } from './ipv6-errors.js'

/** Length of the fixed IPv6 header (RFC 8200 §3). */
export const IPV6_HEADER_LENGTH = 40

/** The minimum link MTU every IPv6 link carries (RFC 8200 §5). */
export const IPV6_MIN_MTU = 1280

/** Next Header values of IPv6 extension headers and the upper layers this stack knows (IANA "Assigned Internet Protocol Numbers"). */
export const Ipv6NextHeader = {
  /** Hop-by-Hop Options, RFC 8200 §4.3. */
  HOP_BY_HOP: 0,
  /** TCP, RFC 9293. */
  TCP: 6,
  /** UDP, RFC 768. */
  UDP: 17,
  /** Routing, RFC 8200 §4.4. */
  ROUTING: 43,
  /** Fragment, RFC 8200 §4.5. */
  FRAGMENT: 44,
  /** Encapsulating Security Payload, RFC 4303 (an upper layer to this walker). */
  ESP: 50,
  /** Authentication Header, RFC 4302 (an upper layer to this walker). */
  AH: 51,
  /** ICMPv6, RFC 4443. */
  ICMPV6: 58,
  /** No Next Header, RFC 8200 §4.7. */
  NO_NEXT_HEADER: 59,
  /** Destination Options, RFC 8200 §4.6. */
  DESTINATION_OPTIONS: 60,
} as const

/** The meaning of a fixed IPv6 header (extension headers are not part of it; {@link emitIpv6} writes none). */
export interface Ipv6Repr {
  /** Source address (16 bytes). */
  src: Ipv6Address
  /** Destination address (16 bytes). */
  dst: Ipv6Address
  /** Next Header: the first extension header or the upper-layer protocol, e.g. {@link Ipv6NextHeader}.TCP. */
  nextHeader: number
  /** Hop limit, 0..255. */
  hopLimit: number
  /** Length of everything after the fixed header, extension headers included, 0..65535. */
  payloadLength: number
  /** Differentiated services code point, 0..63 (RFC 2474 §3). Default 0 on emit. */
  dscp?: number | undefined
  /** Explicit congestion notification codepoint, 0..3 (RFC 3168 §5). Default 0 on emit. */
  ecn?: number | undefined
  /** Flow label, 0..0xfffff (RFC 6437). Default 0 on emit. */
  flowLabel?: number | undefined
}

/**
 * What is wrong with the fixed IPv6 header at `bytes[offset]` (`length` bytes received), or undefined:
 * `TRUNCATED` when shorter than 40 bytes or than 40 + payload length (RFC 8200 §3), `BAD_VERSION` unless
 * version 6, `UNSUPPORTED` for payload length 0 with a Hop-by-Hop header (a jumbogram, RFC 2675 §3).
 * Never throws, allocates nothing.
 */
export function ipv6HeaderProblem(bytes: Uint8Array, offset: number, length: number): Ipv6WireErrorCode | undefined {
  if (!(offset >= 0) || !(length >= IPV6_HEADER_LENGTH) || offset + length > bytes.byteLength) return 'TRUNCATED'
  if (bytes[offset]! >>> 4 !== 6) return 'BAD_VERSION'
  const payloadLength = readUint16(bytes, offset + 4)
  if (payloadLength === 0 && bytes[offset + 6] === Ipv6NextHeader.HOP_BY_HOP) return 'UNSUPPORTED'
  if (IPV6_HEADER_LENGTH + payloadLength > length) return 'TRUNCATED'
  return undefined
}

/**
 * Zero-copy view of an IPv6 datagram. {@link Ipv6View.checked} makes one; a receive loop keeps one view and
 * re-points it with {@link Ipv6View.reset} so that it allocates nothing per packet.
 */
export class Ipv6View {
  /** The bytes the view reads; the fixed header starts at {@link Ipv6View.offset}. */
  bytes: Uint8Array = new Uint8Array(IPV6_HEADER_LENGTH)
  /** Where the fixed header starts in {@link Ipv6View.bytes}. */
  offset = 0

  /** A view over an all-zero header; {@link Ipv6View.reset} it before use. */
  constructor() {}

  /** Check an untrusted datagram with {@link ipv6HeaderProblem} and view it, or say why not. */
  static checked(bytes: Uint8Array, offset = 0, length = bytes.byteLength - offset): Ipv6View | Ipv6WireError {
    const view = new Ipv6View()
    const problem = view.reset(bytes, offset, length)
    return problem === undefined ? view : problemError(problem, bytes, offset, length)
  }

  /**
   * Re-point the view at the datagram at `bytes[offset]` (`length` bytes received, link padding allowed).
   * @returns the {@link ipv6HeaderProblem} code; when one is returned the view must not be read.
   */
  reset(bytes: Uint8Array, offset = 0, length = bytes.byteLength - offset): Ipv6WireErrorCode | undefined {
    const problem = ipv6HeaderProblem(bytes, offset, length)
    if (problem !== undefined) return problem
    this.bytes = bytes
    this.offset = offset
    return undefined
  }

  /** Always 6 after a successful check. */
  get version(): number {
    return this.bytes[this.offset]! >>> 4
  }

  /** The traffic class byte (RFC 8200 §7). */
  get trafficClass(): number {
    return (readUint16(this.bytes, this.offset) >>> 4) & 0xff
  }

  /** DSCP, the high 6 bits of the traffic class (RFC 2474 §3). */
  get dscp(): number {
    return this.trafficClass >>> 2
  }

  /** ECN codepoint, the low 2 bits of the traffic class (RFC 3168 §5). */
  get ecn(): number {
    return this.trafficClass & 3
  }

  /** Flow label, 20 bits (RFC 6437). */
  get flowLabel(): number {
    return readUint32(this.bytes, this.offset) & 0xfffff
  }

  /** Payload length: the bytes after the fixed header, extension headers included. */
  get payloadLength(): number {
    return readUint16(this.bytes, this.offset + 4)
  }

  /** Next Header of the fixed header. */
  get nextHeader(): number {
    return this.bytes[this.offset + 6]!
  }

  /** Hop limit. */
  get hopLimit(): number {
    return this.bytes[this.offset + 7]!
  }

  /** Offset of the source address in {@link Ipv6View.bytes} (read it in place; the hot path does). */
  get srcOffset(): number {
    return this.offset + 8
  }

  /** Offset of the destination address in {@link Ipv6View.bytes}. */
  get dstOffset(): number {
    return this.offset + 24
  }

  /** The source address as a view into the datagram (keep a copy if the buffer is reused). */
  get src(): Ipv6Address {
    return this.bytes.subarray(this.offset + 8, this.offset + 24)
  }

  /** The destination address as a view into the datagram. */
  get dst(): Ipv6Address {
    return this.bytes.subarray(this.offset + 24, this.offset + 40)
  }

  /** The payload (extension headers and upper layer) up to the payload length; link padding excluded. */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.offset + IPV6_HEADER_LENGTH, this.offset + IPV6_HEADER_LENGTH + this.payloadLength)
  }
}

function problemError(problem: Ipv6WireErrorCode, bytes: Uint8Array, offset: number, length: number): Ipv6WireError {
  switch (problem) {
    case 'BAD_VERSION':
      return new Ipv6WireError('ipv6', problem, `version ${bytes[offset]! >>> 4}`)
    case 'UNSUPPORTED':
      return new Ipv6WireError('ipv6', problem, 'jumbogram (payload length 0 with a Hop-by-Hop header)')
    default:
      return new Ipv6WireError('ipv6', 'TRUNCATED', length < IPV6_HEADER_LENGTH || offset + length > bytes.byteLength
        ? `datagram of ${Math.max(0, Math.min(length, bytes.byteLength - offset))} bytes, header needs 40`
        : `payload length ${readUint16(bytes, offset + 4)} > ${length - IPV6_HEADER_LENGTH} bytes received`)
  }
}

/** The meaning of a checked fixed header; addresses are copies. */
export function parseIpv6(view: Ipv6View): Ipv6Repr {
  return {
    src: view.src.slice(),
    dst: view.dst.slice(),
    nextHeader: view.nextHeader,
    hopLimit: view.hopLimit,
    payloadLength: view.payloadLength,
    dscp: view.dscp,
    ecn: view.ecn,
    flowLabel: view.flowLabel,
  }
}

/**
 * Write the 40-byte fixed header for `repr` at `buffer[offset]` (RFC 8200 §3); the payload follows it.
 * @returns the bytes written: 40
 * @throws {@link WireEmitError} `ERR_BUFFER_TOO_SMALL`, or `ERR_INVALID_FIELD` for a field out of range
 */
export function emitIpv6(repr: Ipv6Repr, buffer: Uint8Array, offset = 0): number {
  checkRoom('IPv6 header', buffer, offset, IPV6_HEADER_LENGTH)
  const dscp = repr.dscp ?? 0
  const ecn = repr.ecn ?? 0
  const flowLabel = repr.flowLabel ?? 0
  if (!isByteRange(repr.payloadLength, 0xffff)) throw new WireEmitError('ERR_INVALID_FIELD', `IPv6 payloadLength must be in [0, 65535], got ${repr.payloadLength}`)
  if (!isByteRange(repr.hopLimit, 255) || !isByteRange(repr.nextHeader, 255)) throw new WireEmitError('ERR_INVALID_FIELD', `IPv6 hopLimit and nextHeader must be in [0, 255]`)
  if (!isByteRange(dscp, 63) || !isByteRange(ecn, 3) || !isByteRange(flowLabel, 0xfffff)) throw new WireEmitError('ERR_INVALID_FIELD', 'IPv6 dscp, ecn or flowLabel out of range')
  if (repr.src.byteLength !== IPV6_ADDRESS_LENGTH || repr.dst.byteLength !== IPV6_ADDRESS_LENGTH) throw new WireEmitError('ERR_INVALID_FIELD', 'IPv6 src and dst must be 16 bytes')
  const trafficClass = (dscp << 2) | ecn
  // RFC 8200 §3: version (4 bits), traffic class (8), flow label (20).
  writeUint32(buffer, offset, ((6 << 28) | (trafficClass << 20) | flowLabel) >>> 0)
  writeUint16(buffer, offset + 4, repr.payloadLength)
  buffer[offset + 6] = repr.nextHeader
  buffer[offset + 7] = repr.hopLimit
  buffer.set(repr.src, offset + 8)
  buffer.set(repr.dst, offset + 24)
  return IPV6_HEADER_LENGTH
}

function isByteRange(value: number, max: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= max
}

/** What a walk of the header chain decided ({@link walkIpv6Headers}). */
export const Ipv6ChainStatus = {
  /** The chain ends at an upper-layer header: {@link Ipv6HeaderChain.upperProtocol} at {@link Ipv6HeaderChain.upperOffset}. */
  UPPER_LAYER: 0,
  /** A Fragment header that is not atomic: hand the datagram to reassembly ({@link Ipv6HeaderChain.fragmentHeaderOffset}). */
  FRAGMENT: 1,
  /** No Next Header (59): nothing follows; drop silently (RFC 8200 §4.7). */
  NO_NEXT_HEADER: 2,
  /** Drop the datagram and answer with an ICMPv6 parameter problem ({@link Ipv6HeaderChain.problemCode}, {@link Ipv6HeaderChain.problemPointer}). */
  PARAMETER_PROBLEM: 3,
  /** Drop the datagram silently (an option whose type says so, RFC 8200 §4.2; or a problem not to answer to multicast). */
  DISCARD: 4,
  /** An extension header runs past the payload. Drop and count. */
  TRUNCATED: 5,
} as const

/** One of the {@link Ipv6ChainStatus} values. */
export type Ipv6ChainStatusValue = (typeof Ipv6ChainStatus)[keyof typeof Ipv6ChainStatus]

/** ICMPv6 Parameter Problem codes (RFC 4443 §3.4, RFC 7112 §6). */
export const Icmpv6ParameterProblemCode = {
  /** Erroneous header field encountered. */
  ERRONEOUS_HEADER_FIELD: 0,
  /** Unrecognized Next Header type encountered. */
  UNRECOGNIZED_NEXT_HEADER: 1,
  /** Unrecognized IPv6 option encountered. */
  UNRECOGNIZED_OPTION: 2,
  /** IPv6 first fragment has incomplete IPv6 header chain (RFC 7112 §6). */
  INCOMPLETE_HEADER_CHAIN: 3,
} as const

/**
 * The result of {@link walkIpv6Headers}, written in place so that a receive loop reuses one object. Offsets
 * count from the start of the fixed IPv6 header (as the ICMPv6 pointer does, RFC 4443 §3.4).
 */
export class Ipv6HeaderChain {
  /** The last walk's {@link Ipv6ChainStatus}. */
  status: Ipv6ChainStatusValue = Ipv6ChainStatus.UPPER_LAYER
  /** Next Header value the chain ended at: the upper-layer protocol, or 44 / 59. */
  upperProtocol = 0
  /** Offset of the upper-layer header (or of the Fragment header when the status is FRAGMENT). */
  upperOffset = 0
  /**
   * Offset of the Next Header field that holds {@link Ipv6HeaderChain.upperProtocol}: the pointer of the
   * parameter problem (code 1) a host sends when it has no handler for that protocol (RFC 8200 §4).
   */
  nextHeaderPointer = 0
  /** Offset of the Fragment header, or -1 when there is none. */
  fragmentHeaderOffset = -1
  /** Offset of the Next Header field that names the Fragment header (6, or in the header before it), when there is one. */
  fragmentNextHeaderPointer = 0
  /** The fragment offset in bytes (the field counts 8-byte units), when there is a Fragment header. */
  fragmentOffset = 0
  /** The M (more fragments) flag, when there is a Fragment header. */
  moreFragments = false
  /** The fragment Identification, when there is a Fragment header. */
  fragmentIdentification = 0
  /** Whether there was a Hop-by-Hop Options header. */
  hasHopByHop = false
  /** The Router Alert option's value (RFC 2711) when the Hop-by-Hop header carried one, else -1. */
  routerAlert = -1
  /** ICMPv6 parameter problem code when the status is PARAMETER_PROBLEM ({@link Icmpv6ParameterProblemCode}). */
  problemCode = 0
  /** ICMPv6 parameter problem pointer when the status is PARAMETER_PROBLEM. */
  problemPointer = 0
}

/**
 * Walk the extension headers of the checked datagram at `bytes[offset]` (RFC 8200 §4) into `chain`.
 * Never throws, allocates nothing, and stops within the payload length whatever the bytes say.
 *
 * The walk handles Hop-by-Hop Options, Routing, Fragment and Destination Options headers itself. Any other
 * Next Header value ends it as {@link Ipv6ChainStatus}.UPPER_LAYER: a host that has no handler for that
 * protocol answers with a parameter problem, code 1, pointing at {@link Ipv6HeaderChain.nextHeaderPointer}
 * (RFC 8200 §4, RFC 4443 §3.4).
 * @returns `chain.status`
 */
export function walkIpv6Headers(bytes: Uint8Array, offset: number, chain: Ipv6HeaderChain): Ipv6ChainStatusValue {
  chain.fragmentHeaderOffset = -1
  chain.fragmentNextHeaderPointer = 0
  chain.fragmentOffset = 0
  chain.moreFragments = false
  chain.fragmentIdentification = 0
  chain.hasHopByHop = false
  chain.routerAlert = -1
  chain.problemCode = 0
  chain.problemPointer = 0
  // The payload length bounds the walk (clamped to the bytes, so that even an unchecked datagram is read in bounds).
  const end = Math.min(IPV6_HEADER_LENGTH + readUint16(bytes, offset + 4), bytes.byteLength - offset)
  const dstMulticast = isMulticastIpv6(bytes, offset + 24)
  let next = bytes[offset + 6]!
  let pointer = 6
  let at = IPV6_HEADER_LENGTH
  for (;;) {
    chain.upperProtocol = next
    chain.upperOffset = at
    chain.nextHeaderPointer = pointer
    switch (next) {
      case Ipv6NextHeader.HOP_BY_HOP:
      case Ipv6NextHeader.DESTINATION_OPTIONS: {
        // RFC 8200 §4.1: Hop-by-Hop Options "must immediately follow the IPv6 header"; elsewhere it is an
        // unrecognized Next Header (code 1, RFC 4443 §3.4), as Linux answers.
        if (next === Ipv6NextHeader.HOP_BY_HOP && at !== IPV6_HEADER_LENGTH) {
          return problem(chain, Icmpv6ParameterProblemCode.UNRECOGNIZED_NEXT_HEADER, pointer)
        }
        if (at + 2 > end) return (chain.status = Ipv6ChainStatus.TRUNCATED)
        // RFC 8200 §4.3/§4.6: Hdr Ext Len counts 8-octet units, not including the first 8 octets.
        const length = (bytes[offset + at + 1]! + 1) * 8
        if (at + length > end) return (chain.status = Ipv6ChainStatus.TRUNCATED)
        if (next === Ipv6NextHeader.HOP_BY_HOP) chain.hasHopByHop = true
        const verdict = walkOptions(bytes, offset, at + 2, at + length, dstMulticast, next === Ipv6NextHeader.HOP_BY_HOP, chain)
        if (verdict !== undefined) return verdict
        pointer = at
        next = bytes[offset + at]!
        at += length
        break
      }
      case Ipv6NextHeader.ROUTING: {
        if (at + 8 > end) return (chain.status = Ipv6ChainStatus.TRUNCATED)
        const length = (bytes[offset + at + 1]! + 1) * 8 // RFC 8200 §4.4 Hdr Ext Len
        if (at + length > end) return (chain.status = Ipv6ChainStatus.TRUNCATED)
        // RFC 8200 §4.4: with Segments Left 0 the header is ignored; otherwise, for a routing type the node
        // does not recognise (a host recognises none: it forwards nothing; type 0 is deprecated by RFC 5095),
        // discard and send a parameter problem, code 0, pointing at the Routing Type field.
        if (bytes[offset + at + 3] !== 0) {
          return problem(chain, Icmpv6ParameterProblemCode.ERRONEOUS_HEADER_FIELD, at + 2, dstMulticast)
        }
        pointer = at
        next = bytes[offset + at]!
        at += length
        break
      }
      case Ipv6NextHeader.FRAGMENT: {
        // RFC 8200 §4.5: Next Header, reserved, Fragment Offset (13 bits, 8-octet units), Res, M, Identification.
        if (at + 8 > end) return (chain.status = Ipv6ChainStatus.TRUNCATED)
        chain.fragmentHeaderOffset = at
        chain.fragmentNextHeaderPointer = pointer
        const offsetAndFlags = readUint16(bytes, offset + at + 2)
        chain.fragmentOffset = offsetAndFlags & 0xfff8
        chain.moreFragments = (offsetAndFlags & 1) !== 0
        chain.fragmentIdentification = readUint32(bytes, offset + at + 4)
        // RFC 6946 §4: an atomic fragment (offset 0, M 0) is processed in isolation, as if unfragmented.
        if (chain.fragmentOffset !== 0 || chain.moreFragments) return (chain.status = Ipv6ChainStatus.FRAGMENT)
        pointer = at
        next = bytes[offset + at]!
        at += 8
        break
      }
      case Ipv6NextHeader.NO_NEXT_HEADER:
        return (chain.status = Ipv6ChainStatus.NO_NEXT_HEADER) // RFC 8200 §4.7
      default:
        return (chain.status = Ipv6ChainStatus.UPPER_LAYER)
    }
  }
}

function problem(chain: Ipv6HeaderChain, code: number, pointer: number, quietForMulticast = false): Ipv6ChainStatusValue {
  chain.problemCode = code
  chain.problemPointer = pointer
  return (chain.status = quietForMulticast ? Ipv6ChainStatus.DISCARD : Ipv6ChainStatus.PARAMETER_PROBLEM)
}

/** The TLV options of a Hop-by-Hop or Destination Options header, `bytes[offset + from, offset + to)` (RFC 8200 §4.2). */
function walkOptions(bytes: Uint8Array, offset: number, from: number, to: number, dstMulticast: boolean, hopByHop: boolean, chain: Ipv6HeaderChain): Ipv6ChainStatusValue | undefined {
  let at = from
  while (at < to) {
    const type = bytes[offset + at]!
    if (type === 0) { // Pad1: a single byte, no length or value (RFC 8200 §4.2)
      at++
      continue
    }
    if (at + 2 > to) return (chain.status = Ipv6ChainStatus.TRUNCATED)
    const length = 2 + bytes[offset + at + 1]!
    if (at + length > to) return (chain.status = Ipv6ChainStatus.TRUNCATED)
    if (type === 1) { // PadN
      at += length
      continue
    }
    if (hopByHop && type === 5 && length === 4) { // Router Alert, RFC 2711 §2.1
      chain.routerAlert = readUint16(bytes, offset + at + 2)
      at += length
      continue
    }
    // RFC 8200 §4.2: the two high-order bits of an unrecognized option's type.
    switch (type >>> 6) {
      case 0: // 00: skip over this option and continue processing the header
        break
      case 1: // 01: discard the packet
        return (chain.status = Ipv6ChainStatus.DISCARD)
      case 2: // 10: discard and send a parameter problem, code 2, pointing at the option type, even to multicast
        return problem(chain, Icmpv6ParameterProblemCode.UNRECOGNIZED_OPTION, at)
      default: // 11: as 10, but only when the destination is not multicast
        return problem(chain, Icmpv6ParameterProblemCode.UNRECOGNIZED_OPTION, at, dstMulticast)
    }
    at += length
  }
  return undefined
}
