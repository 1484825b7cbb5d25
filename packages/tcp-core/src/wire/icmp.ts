/**
 * ICMP for IPv4 (RFC 792), with echo request and echo reply parsed in full.
 *
 * - RFC 792 "Echo or Echo Reply Message": type 8 (echo) or 0 (echo reply), code 0, checksum,
 *   identifier, sequence number, data. The checksum is the Internet checksum of the whole ICMP
 *   message, starting with the type (RFC 792, "Checksum").
 * - RFC 1122 §3.2.2.6: a reply echoes the request's identifier, sequence number and all its data.
 * - Every other message (or an echo with a non-zero code) is reported as such: `kind: 'other'` with
 *   its type, code and the 4 bytes after the checksum, so a stack can count it.
 * @module
 */
import { copyUnlessInPlace, readUint16, readUint32, writeUint16, writeUint32 } from './bytes.js'
import { internetChecksum, type RxChecksum, type TxChecksum } from './checksum.js'
import { checkRoom, WireError } from './errors.js'

/** ICMP types this stack names (RFC 792; IANA "ICMP Type Numbers"). */
export const IcmpType = {
  /** Echo reply. */
  ECHO_REPLY: 0,
  /** Destination unreachable. */
  DESTINATION_UNREACHABLE: 3,
  /** Echo (request). */
  ECHO_REQUEST: 8,
  /** Time exceeded. */
  TIME_EXCEEDED: 11,
} as const

/** Length of an ICMP header (type, code, checksum and the 4-byte rest of header). */
export const ICMP_HEADER_LENGTH = 8

/** An echo request or reply (RFC 792). */
export interface IcmpEchoRepr {
  /** Echo request (type 8) or echo reply (type 0). */
  kind: 'echoRequest' | 'echoReply'
  /** Identifier, to match replies with requests. */
  identifier: number
  /** Sequence number, to match replies with requests. */
  sequenceNumber: number
  /** The echoed data: a view into the frame when parsed. */
  data: Uint8Array
}

/** Any other ICMP message, reported as such. */
export interface IcmpOtherRepr {
  /** Not an echo. */
  kind: 'other'
  /** ICMP type. */
  type: number
  /** ICMP code. */
  code: number
  /** The 4 bytes after the checksum, as a uint32 (meaning depends on the type). */
  restOfHeader: number
  /** The bytes after the 8-byte header (for errors: the offending datagram's header and first bytes). */
  data: Uint8Array
}

/** The meaning of an ICMP message. */
export type IcmpRepr = IcmpEchoRepr | IcmpOtherRepr

/** Zero-copy view of an ICMP message (the whole IPv4 payload). */
export class IcmpView {

  private constructor(
    /** The whole ICMP message: exactly the IPv4 payload. */
    readonly bytes: Uint8Array,
  ) {
  }

  /** Check an untrusted message: `TRUNCATED` when shorter than 8 bytes. After this, no accessor reads out of bounds. */
  static checked(bytes: Uint8Array): IcmpView | WireError {
    if (bytes.byteLength < ICMP_HEADER_LENGTH) {
      return new WireError('icmp', 'TRUNCATED', `message of ${bytes.byteLength} bytes, header needs 8`)
    }
    return new IcmpView(bytes)
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

  /** The 4 bytes after the checksum, as a uint32. */
  get restOfHeader(): number {
    return readUint32(this.bytes, 4)
  }

  /** Echo identifier (the high half of the rest of header). */
  get identifier(): number {
    return readUint16(this.bytes, 4)
  }

  /** Echo sequence number (the low half of the rest of header). */
  get sequenceNumber(): number {
    return readUint16(this.bytes, 6)
  }

  /** The bytes after the 8-byte header (a view). */
  get data(): Uint8Array {
    return this.bytes.subarray(ICMP_HEADER_LENGTH)
  }
}

/**
 * The meaning of a checked ICMP message; `BAD_CHECKSUM` when the checksum over the whole message
 * fails (RFC 792), unless `checksum` is `skip`. Echo messages with code 0 become {@link IcmpEchoRepr},
 * anything else {@link IcmpOtherRepr}.
 */
export function parseIcmp(view: IcmpView, checksum: RxChecksum = 'verify'): IcmpRepr | WireError {
  const bytes = view.bytes
  if (checksum === 'verify' && internetChecksum(bytes, 0, bytes.byteLength) !== 0) {
    return new WireError('icmp', 'BAD_CHECKSUM', 'ICMP checksum')
  }
  const type = view.type
  const code = view.code
  if ((type === IcmpType.ECHO_REQUEST || type === IcmpType.ECHO_REPLY) && code === 0) {
    return {
      kind: type === IcmpType.ECHO_REQUEST ? 'echoRequest' : 'echoReply',
      identifier: view.identifier,
      sequenceNumber: view.sequenceNumber,
      data: view.data,
    }
  }
  return { kind: 'other', type, code, restOfHeader: view.restOfHeader, data: view.data }
}

/** Length of the message {@link emitIcmp} writes: 8 plus the data. */
export function icmpLength(repr: IcmpRepr): number {
  return ICMP_HEADER_LENGTH + repr.data.byteLength
}

/**
 * Write the message of `repr` (header and data) at `buffer[offset]`, with its checksum unless
 * `checksum` is `offload` (then the field is 0). Data already in place is not copied again.
 * @returns the bytes written: {@link icmpLength}
 * @throws {@link WireEmitError} `ERR_BUFFER_TOO_SMALL`
 */
export function emitIcmp(repr: IcmpRepr, buffer: Uint8Array, offset = 0, checksum: TxChecksum = 'compute'): number {
  const length = icmpLength(repr)
  checkRoom('ICMP message', buffer, offset, length)
  copyUnlessInPlace(repr.data, buffer, offset + ICMP_HEADER_LENGTH)
  if (repr.kind === 'other') {
    buffer[offset] = repr.type
    buffer[offset + 1] = repr.code
    writeUint32(buffer, offset + 4, repr.restOfHeader)
  } else {
    buffer[offset] = repr.kind === 'echoRequest' ? IcmpType.ECHO_REQUEST : IcmpType.ECHO_REPLY
    buffer[offset + 1] = 0
    writeUint16(buffer, offset + 4, repr.identifier)
    writeUint16(buffer, offset + 6, repr.sequenceNumber)
  }
  writeUint16(buffer, offset + 2, 0) // RFC 792: the checksum field is zero while computing
  if (checksum === 'compute') writeUint16(buffer, offset + 2, internetChecksum(buffer, offset, length))
  return length
}
