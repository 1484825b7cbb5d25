/**
 * ICMPv6 (RFC 4443): echo request and reply, and the four error messages, parsed and built. Neighbor
 * Discovery messages (types 133-137) are ICMPv6 too; {@link parseIcmpv6} reports them as `other` and
 * `ndp.ts` parses them.
 *
 * - RFC 4443 §2.1 (message format: type, code, checksum, body; types 0-127 are errors, 128-255 informational).
 * - RFC 4443 §2.3: the checksum covers the message and the IPv6 pseudo-header (RFC 8200 §8.1), Next Header 58.
 * - RFC 4443 §2.4 (c): an error message carries as much of the invoking packet as fits in the minimum MTU
 *   (1280 bytes for the whole error datagram); {@link emitIcmpv6} truncates to that. (e): when no error is sent,
 *   as {@link icmpv6ErrorAllowed} decides. (f): errors are rate-limited ({@link Icmpv6RateLimiter}).
 * - RFC 4443 §3.1-§3.4 (destination unreachable, packet too big, time exceeded, parameter problem) and §4.1-§4.2
 *   (echo request and reply; a reply echoes identifier, sequence number and data).
 * @module
 */
import { copyUnlessInPlace, readUint16, readUint32, writeUint16, writeUint32 } from './bytes.js'
import { foldChecksum, internetChecksum, type RxChecksum, type TxChecksum } from './checksum.js'
import { checkRoom, WireEmitError } from './errors.js'
import { Icmpv6ParameterProblemCode, IPV6_HEADER_LENGTH, IPV6_MIN_MTU, Ipv6ChainStatus, Ipv6HeaderChain, Ipv6NextHeader, walkIpv6Headers } from './ipv6.js'
import { isMulticastIpv6, isUnspecifiedIpv6 } from './ipv6-address.js'
import { ipv6PseudoHeaderSumOf } from './ipv6-checksum.js'
import { Ipv6WireError, type Ipv6WireErrorCode } from './ipv6-errors.js'

/** ICMPv6 types this stack names (RFC 4443 §2.1, RFC 4861 §4; IANA "ICMPv6 Parameters"). */
export const Icmpv6Type = {
  /** Destination unreachable, RFC 4443 §3.1. */
  DESTINATION_UNREACHABLE: 1,
  /** Packet too big, RFC 4443 §3.2. */
  PACKET_TOO_BIG: 2,
  /** Time exceeded, RFC 4443 §3.3. */
  TIME_EXCEEDED: 3,
  /** Parameter problem, RFC 4443 §3.4. */
  PARAMETER_PROBLEM: 4,
  /** Echo request, RFC 4443 §4.1. */
  ECHO_REQUEST: 128,
  /** Echo reply, RFC 4443 §4.2. */
  ECHO_REPLY: 129,
  /** Router solicitation, RFC 4861 §4.1. */
  ROUTER_SOLICITATION: 133,
  /** Router advertisement, RFC 4861 §4.2. */
  ROUTER_ADVERTISEMENT: 134,
  /** Neighbor solicitation, RFC 4861 §4.3. */
  NEIGHBOR_SOLICITATION: 135,
  /** Neighbor advertisement, RFC 4861 §4.4. */
  NEIGHBOR_ADVERTISEMENT: 136,
  /** Redirect, RFC 4861 §4.5. */
  REDIRECT: 137,
} as const

/** Destination unreachable codes (RFC 4443 §3.1). */
export const Icmpv6UnreachableCode = {
  /** No route to destination. */
  NO_ROUTE: 0,
  /** Communication with destination administratively prohibited. */
  ADMINISTRATIVELY_PROHIBITED: 1,
  /** Beyond scope of source address. */
  BEYOND_SCOPE: 2,
  /** Address unreachable (e.g. Neighbor Discovery failed, RFC 4861 §7.2.2). */
  ADDRESS_UNREACHABLE: 3,
  /** Port unreachable. */
  PORT_UNREACHABLE: 4,
  /** Source address failed ingress/egress policy. */
  SOURCE_POLICY: 5,
  /** Reject route to destination. */
  REJECT_ROUTE: 6,
} as const

/** Time exceeded codes (RFC 4443 §3.3). */
export const Icmpv6TimeExceededCode = {
  /** Hop limit exceeded in transit. */
  HOP_LIMIT: 0,
  /** Fragment reassembly time exceeded (RFC 8200 §4.5). */
  REASSEMBLY: 1,
} as const

/** Length of the ICMPv6 type, code and checksum; every message this module builds has 4 more bytes after them. */
export const ICMPV6_HEADER_LENGTH = 4

/** The most invoking-packet bytes an error carries: 1280 − 40 (IPv6) − 8 (ICMPv6) (RFC 4443 §2.4 (c)). */
export const ICMPV6_ERROR_MAX_INVOKING = IPV6_MIN_MTU - IPV6_HEADER_LENGTH - 8

/** An echo request or reply (RFC 4443 §4). */
export interface Icmpv6EchoRepr {
  /** Echo request (128) or reply (129). */
  kind: 'echoRequest' | 'echoReply'
  /** Identifier, to match replies with requests. */
  identifier: number
  /** Sequence number. */
  sequenceNumber: number
  /** The echoed data: a view into the packet when parsed. */
  data: Uint8Array
}

/** An ICMPv6 error message (RFC 4443 §3). */
export interface Icmpv6ErrorRepr {
  /** Which error. */
  kind: 'destinationUnreachable' | 'packetTooBig' | 'timeExceeded' | 'parameterProblem'
  /** Code (see {@link Icmpv6UnreachableCode}, {@link Icmpv6TimeExceededCode}, {@link Icmpv6ParameterProblemCode}); 0 for packet too big. */
  code: number
  /** Packet too big: the next-hop MTU (§3.2). Parameter problem: the pointer (§3.4). Otherwise 0 (the unused field). */
  value: number
  /**
   * The invoking packet, from its IPv6 header. A view when parsed; when emitted, only its first
   * {@link ICMPV6_ERROR_MAX_INVOKING} bytes are written (RFC 4443 §2.4 (c)).
   */
  invoking: Uint8Array
}

/** Any other message (Neighbor Discovery, MLD, unknown types), reported as such. */
export interface Icmpv6OtherRepr {
  /** Not an echo nor an error this module names. */
  kind: 'other'
  /** Type. */
  type: number
  /** Code. */
  code: number
  /** The bytes after the checksum (a view when parsed). */
  body: Uint8Array
}

/** The meaning of an ICMPv6 message. */
export type Icmpv6Repr = Icmpv6EchoRepr | Icmpv6ErrorRepr | Icmpv6OtherRepr

/**
 * What is wrong with the ICMPv6 message at `bytes[offset, offset + length)`, or undefined: `TRUNCATED` under
 * 4 bytes, or under 8 for the types this module parses; `BAD_CHECKSUM` unless the sum over the message plus
 * `pseudoHeaderSum` (see `ipv6PseudoHeaderSum`, Next Header 58, RFC 4443 §2.3) verifies. Never throws.
 */
export function icmpv6Problem(bytes: Uint8Array, offset: number, length: number, pseudoHeaderSum: number, checksum: RxChecksum = 'verify'): Ipv6WireErrorCode | undefined {
  if (!(offset >= 0) || !(length >= ICMPV6_HEADER_LENGTH) || offset + length > bytes.byteLength) return 'TRUNCATED'
  const type = bytes[offset]!
  if (length < 8 && (type <= 4 || type === 128 || type === 129)) return 'TRUNCATED'
  if (checksum === 'verify' && internetChecksum(bytes, offset, length, pseudoHeaderSum) !== 0) return 'BAD_CHECKSUM'
  return undefined
}

/** Zero-copy view of an ICMPv6 message: exactly the upper-layer bytes of its IPv6 datagram. */
export class Icmpv6View {
  private constructor(
    /** The whole message. */
    readonly bytes: Uint8Array,
  ) {}

  /**
   * Check an untrusted message with {@link icmpv6Problem}.
   * @param pseudoHeaderSum - `ipv6PseudoHeaderSum(datagram, view.srcOffset, view.dstOffset, 58, message.byteLength)`
   */
  static checked(message: Uint8Array, pseudoHeaderSum: number, checksum: RxChecksum = 'verify'): Icmpv6View | Ipv6WireError {
    const problem = icmpv6Problem(message, 0, message.byteLength, pseudoHeaderSum, checksum)
    if (problem === undefined) return new Icmpv6View(message)
    return new Ipv6WireError('icmpv6', problem, problem === 'BAD_CHECKSUM' ? 'checksum with the IPv6 pseudo-header' : `message of ${message.byteLength} bytes`)
  }

  /** Type. */
  get type(): number {
    return this.bytes[0]!
  }

  /** Code. */
  get code(): number {
    return this.bytes[1]!
  }

  /** The checksum field as received. */
  get checksum(): number {
    return readUint16(this.bytes, 2)
  }

  /** Whether this is an error message (type < 128, RFC 4443 §2.1). */
  get isError(): boolean {
    return this.bytes[0]! < 128
  }
}

/** The meaning of a checked message. */
export function parseIcmpv6(view: Icmpv6View): Icmpv6Repr {
  const bytes = view.bytes
  const type = bytes[0]!
  const code = bytes[1]!
  switch (type) {
    case Icmpv6Type.ECHO_REQUEST:
    case Icmpv6Type.ECHO_REPLY:
      // RFC 4443 §4.1/§4.2: identifier, sequence number, data; the code is 0 but is not checked by receivers.
      return {
        kind: type === Icmpv6Type.ECHO_REQUEST ? 'echoRequest' : 'echoReply',
        identifier: readUint16(bytes, 4),
        sequenceNumber: readUint16(bytes, 6),
        data: bytes.subarray(8),
      }
    case Icmpv6Type.DESTINATION_UNREACHABLE:
    case Icmpv6Type.PACKET_TOO_BIG:
    case Icmpv6Type.TIME_EXCEEDED:
    case Icmpv6Type.PARAMETER_PROBLEM:
      return { kind: ERROR_KINDS[type - 1]!, code, value: readUint32(bytes, 4), invoking: bytes.subarray(8) }
    default:
      return { kind: 'other', type, code, body: bytes.subarray(4) }
  }
}

const ERROR_KINDS = ['destinationUnreachable', 'packetTooBig', 'timeExceeded', 'parameterProblem'] as const
const ERROR_TYPES = { destinationUnreachable: 1, packetTooBig: 2, timeExceeded: 3, parameterProblem: 4 } as const

/** Length of the message {@link emitIcmpv6} writes for `repr` (errors truncated per RFC 4443 §2.4 (c)). */
export function icmpv6Length(repr: Icmpv6Repr): number {
  switch (repr.kind) {
    case 'echoRequest':
    case 'echoReply':
      return 8 + repr.data.byteLength
    case 'other':
      return 4 + repr.body.byteLength
    default:
      return 8 + Math.min(repr.invoking.byteLength, ICMPV6_ERROR_MAX_INVOKING)
  }
}

/**
 * Write the message for `repr` at `buffer[offset]`, with its checksum over the pseudo-header of `src` → `dst`
 * (RFC 4443 §2.3) unless `checksum` is `offload` (then the folded pseudo-header sum is stored, as for TCP).
 * An error's invoking packet is cut so that the error datagram fits in 1280 bytes (RFC 4443 §2.4 (c)).
 * A payload already in place (a view into `buffer` at its final position) is not copied.
 * @returns the bytes written, {@link icmpv6Length}
 * @throws {@link WireEmitError} `ERR_BUFFER_TOO_SMALL`, or `ERR_INVALID_FIELD` for a field out of range
 */
export function emitIcmpv6(repr: Icmpv6Repr, buffer: Uint8Array, offset: number, src: Uint8Array, dst: Uint8Array, checksum: TxChecksum = 'compute'): number {
  const length = icmpv6Length(repr)
  checkRoom('ICMPv6 message', buffer, offset, length)
  switch (repr.kind) {
    case 'echoRequest':
    case 'echoReply':
      if (!isUint(repr.identifier, 0xffff) || !isUint(repr.sequenceNumber, 0xffff)) throw new WireEmitError('ERR_INVALID_FIELD', 'ICMPv6 echo identifier and sequenceNumber must be in [0, 65535]')
      buffer[offset] = repr.kind === 'echoRequest' ? Icmpv6Type.ECHO_REQUEST : Icmpv6Type.ECHO_REPLY
      buffer[offset + 1] = 0
      writeUint16(buffer, offset + 4, repr.identifier)
      writeUint16(buffer, offset + 6, repr.sequenceNumber)
      copyUnlessInPlace(repr.data, buffer, offset + 8)
      break
    case 'other':
      if (!isUint(repr.type, 255) || !isUint(repr.code, 255)) throw new WireEmitError('ERR_INVALID_FIELD', 'ICMPv6 type and code must be in [0, 255]')
      buffer[offset] = repr.type
      buffer[offset + 1] = repr.code
      copyUnlessInPlace(repr.body, buffer, offset + 4)
      break
    default: {
      if (!isUint(repr.code, 255) || !isUint(repr.value, 0xffffffff)) throw new WireEmitError('ERR_INVALID_FIELD', 'ICMPv6 error code must be in [0, 255] and value in [0, 2^32)')
      buffer[offset] = ERROR_TYPES[repr.kind]
      buffer[offset + 1] = repr.code
      writeUint32(buffer, offset + 4, repr.value)
      // RFC 4443 §2.4 (c): as much of the invoking packet as fits in the minimum IPv6 MTU.
      const invoking = repr.invoking.byteLength > ICMPV6_ERROR_MAX_INVOKING ? repr.invoking.subarray(0, ICMPV6_ERROR_MAX_INVOKING) : repr.invoking
      copyUnlessInPlace(invoking, buffer, offset + 8)
    }
  }
  writeUint16(buffer, offset + 2, 0)
  const pseudo = ipv6PseudoHeaderSumOf(src, dst, Ipv6NextHeader.ICMPV6, length)
  const sum = checksum === 'compute' ? internetChecksum(buffer, offset, length, pseudo) : foldChecksum(pseudo)
  writeUint16(buffer, offset + 2, sum)
  return length
}

function isUint(value: number, max: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= max
}

const scratchChain = new Ipv6HeaderChain()

/**
 * Whether an ICMPv6 error of `type`/`code` may be sent about the checked datagram `invoking` (from its IPv6
 * header), per RFC 4443 §2.4 (e): never about an ICMPv6 error message or a redirect (e.1, e.2); never when the
 * invoking source does not identify a single node, i.e. is unspecified or multicast (e.6); and about a packet
 * sent to an IPv6 multicast address (e.3) or as link-layer multicast or broadcast (e.4, e.5, `linkMulticast`)
 * only for packet too big, or a parameter problem code 2 whose option type had high bits 10 (RFC 8200 §4.2).
 * Allocates nothing.
 */
export function icmpv6ErrorAllowed(invoking: Uint8Array, linkMulticast: boolean, type: number, code: number): boolean {
  if (invoking.byteLength < IPV6_HEADER_LENGTH) return false
  if (isUnspecifiedIpv6(invoking, 8) || isMulticastIpv6(invoking, 8)) return false // (e.6)
  if (isMulticastIpv6(invoking, 24) || linkMulticast) {
    const exempt = type === Icmpv6Type.PACKET_TOO_BIG || (type === Icmpv6Type.PARAMETER_PROBLEM && code === Icmpv6ParameterProblemCode.UNRECOGNIZED_OPTION)
    if (!exempt) return false // (e.3)-(e.5)
  }
  // (e.1), (e.2): look past the extension headers for an ICMPv6 error or a redirect. A payload cut short by the
  // capture cannot be walked reliably; be conservative only when an ICMPv6 header is actually there.
  const payloadEnd = Math.min(invoking.byteLength, IPV6_HEADER_LENGTH + readUint16(invoking, 4))
  const datagram = payloadEnd === IPV6_HEADER_LENGTH + readUint16(invoking, 4) ? invoking : undefined
  if (datagram === undefined) return true
  walkIpv6Headers(datagram, 0, scratchChain)
  if (scratchChain.status === Ipv6ChainStatus.UPPER_LAYER && scratchChain.upperProtocol === Ipv6NextHeader.ICMPV6 && scratchChain.upperOffset < payloadEnd) {
    const icmpType = datagram[scratchChain.upperOffset]!
    if (icmpType < 128 || icmpType === Icmpv6Type.REDIRECT) return false
  }
  return true
}

/**
 * A token bucket limiting the ICMPv6 errors a node sends (RFC 4443 §2.4 (f)), on the caller's clock (µs).
 * Sans-I/O: ask {@link Icmpv6RateLimiter.allow} before each error.
 */
export class Icmpv6RateLimiter {
  #tokens: number
  #last = Number.NEGATIVE_INFINITY

  /**
   * @param ratePerSecond - errors per second on average; default 10
   * @param burst - errors that may go out back to back; default 10
   * @throws RangeError when an argument is not a positive finite number
   */
  constructor(
    readonly ratePerSecond = 10,
    readonly burst = 10,
  ) {
    if (!(ratePerSecond > 0 && Number.isFinite(ratePerSecond)) || !(burst >= 1 && Number.isFinite(burst))) {
      throw new RangeError(`ratePerSecond must be > 0 and burst >= 1, got ${ratePerSecond} and ${burst}`)
    }
    this.#tokens = burst
  }

  /** Whether one more error may be sent at `now` (µs); if so it is counted. */
  allow(now: number): boolean {
    if (this.#last !== Number.NEGATIVE_INFINITY && now > this.#last) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.ratePerSecond) / 1_000_000)
    }
    if (now > this.#last || this.#last === Number.NEGATIVE_INFINITY) this.#last = now
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}
