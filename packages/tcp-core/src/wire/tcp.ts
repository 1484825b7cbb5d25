/**
 * TCP segment headers.
 *
 * - RFC 9293 §3.1 (Header Format): ports, sequence and acknowledgment numbers, data offset,
 *   reserved bits, control bits, window, checksum, urgent pointer, options, data.
 * - RFC 9293 §3.1 (Checksum): the Internet checksum over the IPv4 pseudo-header (source,
 *   destination, zero, protocol 6, TCP length) and the whole segment.
 * - RFC 3168 §6.1: the ECE and CWR control bits.
 * - Options: see tcp-options.ts (RFC 9293 §3.2, RFC 7323, RFC 2018).
 *
 * Sequence numbers are uint32 numbers; compare them with the helpers of seq.ts. The window is the
 * raw 16-bit field: scaling it (RFC 7323 §2.2) is the connection's job. Which flag combinations make
 * sense is the connection's job too: this layer reports the bits as received.
 * @module
 */
import { copyUnlessInPlace, readUint16, readUint32, writeUint16, writeUint32 } from './bytes.js'
import { foldChecksum, internetChecksum, ipv4PseudoHeaderSum, onesComplementSum, type RxChecksum, type TxChecksum } from './checksum.js'
import { checkRoom, WireError } from './errors.js'
import { IpProtocol, type Ipv4Address } from './ipv4.js'
import { emitTcpOptions, parseTcpOptions, tcpOptionsLength, type TcpOptions } from './tcp-options.js'

/** Control bits of byte 13 (RFC 9293 §3.1; ECE and CWR: RFC 3168 §6.1). Combine with `|`. */
export const TcpFlags = {
  /** No more data from sender. */
  FIN: 0x01,
  /** Synchronize sequence numbers. */
  SYN: 0x02,
  /** Reset the connection. */
  RST: 0x04,
  /** Push function. */
  PSH: 0x08,
  /** The acknowledgment number is significant. */
  ACK: 0x10,
  /** The urgent pointer is significant. */
  URG: 0x20,
  /** ECN-Echo. */
  ECE: 0x40,
  /** Congestion Window Reduced. */
  CWR: 0x80,
} as const

/** Length of a TCP header without options (data offset 5). */
export const TCP_HEADER_LENGTH = 20

/** The meaning of a TCP segment. */
export interface TcpRepr {
  /** Source port. */
  srcPort: number
  /** Destination port. */
  dstPort: number
  /** SEG.SEQ, uint32. */
  seqNumber: number
  /** SEG.ACK, uint32 (meaningful when {@link TcpFlags}.ACK is set). */
  ackNumber: number
  /** Control bits, a combination of {@link TcpFlags}. */
  flags: number
  /** SEG.WND as sent (not scaled). */
  window: number
  /** SEG.UP (meaningful when {@link TcpFlags}.URG is set). */
  urgentPointer: number
  /** The options. */
  options: TcpOptions
  /** The data: when parsed, a view into the frame, valid while the frame is. */
  payload: Uint8Array
}

/** Zero-copy view of a TCP segment (the whole IPv4 payload). */
export class TcpView {

  private constructor(
    /** The whole segment: exactly the IPv4 payload. */
    readonly bytes: Uint8Array,
  ) {
  }

  /**
   * Check an untrusted segment: `TRUNCATED` when shorter than 20 bytes, `BAD_HEADER_LENGTH` when the
   * data offset is below 5 or the header is longer than the segment (RFC 9293 §3.1 Data Offset).
   * After this, no accessor reads out of bounds.
   */
  static checked(bytes: Uint8Array): TcpView | WireError {
    if (bytes.byteLength < TCP_HEADER_LENGTH) {
      return new WireError('tcp', 'TRUNCATED', `segment of ${bytes.byteLength} bytes, header needs 20`)
    }
    const headerLength = (bytes[12]! >>> 4) * 4
    if (headerLength < TCP_HEADER_LENGTH) {
      return new WireError('tcp', 'BAD_HEADER_LENGTH', `data offset ${headerLength / 4} < 5`)
    }
    if (headerLength > bytes.byteLength) {
      return new WireError('tcp', 'BAD_HEADER_LENGTH', `header of ${headerLength} bytes in a segment of ${bytes.byteLength}`)
    }
    return new TcpView(bytes)
  }

  /** Source port. */
  get srcPort(): number {
    return readUint16(this.bytes, 0)
  }

  /** Destination port. */
  get dstPort(): number {
    return readUint16(this.bytes, 2)
  }

  /** Sequence number. */
  get seqNumber(): number {
    return readUint32(this.bytes, 4)
  }

  /** Acknowledgment number. */
  get ackNumber(): number {
    return readUint32(this.bytes, 8)
  }

  /** Header length in bytes (data offset × 4), 20..60. */
  get headerLength(): number {
    return (this.bytes[12]! >>> 4) * 4
  }

  /** Control bits ({@link TcpFlags}); the reserved bits are not included. */
  get flags(): number {
    return this.bytes[13]!
  }

  /** Window, unscaled. */
  get window(): number {
    return readUint16(this.bytes, 14)
  }

  /** The checksum field as received. */
  get checksum(): number {
    return readUint16(this.bytes, 16)
  }

  /** Urgent pointer. */
  get urgentPointer(): number {
    return readUint16(this.bytes, 18)
  }

  /** The options bytes (a view, possibly empty); parse them with {@link parseTcpOptions}. */
  get options(): Uint8Array {
    return this.bytes.subarray(TCP_HEADER_LENGTH, this.headerLength)
  }

  /** The data after the header (a view). */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength)
  }

  /** Whether the checksum verifies with the IPv4 pseudo-header of `src` → `dst` (RFC 9293 §3.1). */
  verifyChecksum(src: Ipv4Address, dst: Ipv4Address): boolean {
    const length = this.bytes.byteLength
    return internetChecksum(this.bytes, 0, length, ipv4PseudoHeaderSum(src, dst, IpProtocol.TCP, length)) === 0
  }
}

/**
 * The meaning of a checked segment sent from `src` to `dst`: `BAD_CHECKSUM` when the checksum fails
 * (unless `checksum` is `skip`), `BAD_OPTION` when an option is malformed. Every field of
 * `options` is set (see {@link TcpOptions}).
 */
export function parseTcp(view: TcpView, src: Ipv4Address, dst: Ipv4Address, checksum: RxChecksum = 'verify'): TcpRepr | WireError {
  if (checksum === 'verify' && !view.verifyChecksum(src, dst)) return new WireError('tcp', 'BAD_CHECKSUM', 'TCP checksum')
  const options = parseTcpOptions(view.options)
  if (options instanceof WireError) return options
  return {
    srcPort: view.srcPort,
    dstPort: view.dstPort,
    seqNumber: view.seqNumber,
    ackNumber: view.ackNumber,
    flags: view.flags,
    window: view.window,
    urgentPointer: view.urgentPointer,
    options,
    payload: view.payload,
  }
}

/** Header length {@link emitTcp} writes for `repr`: 20 plus its options, a multiple of 4. */
export function tcpHeaderLength(repr: TcpRepr): number {
  return TCP_HEADER_LENGTH + tcpOptionsLength(repr.options)
}

/**
 * Write the segment of `repr` (header, options, payload) sent from `src` to `dst` at
 * `buffer[offset]`. A payload already in place (a view of `buffer` at the right position) is not
 * copied. With `checksum` = `compute` the checksum is complete; with `offload` the field holds the
 * folded pseudo-header sum for the NIC to finish (RFC 9293 §3.1 Checksum).
 * @returns the bytes written: {@link tcpHeaderLength} plus the payload length (the IPv4 payload length)
 * @throws {@link WireEmitError} `ERR_BUFFER_TOO_SMALL`
 */
export function emitTcp(
  repr: TcpRepr,
  src: Ipv4Address,
  dst: Ipv4Address,
  buffer: Uint8Array,
  offset = 0,
  checksum: TxChecksum = 'compute',
): number {
  const headerLength = tcpHeaderLength(repr)
  const length = headerLength + repr.payload.byteLength
  checkRoom('TCP segment', buffer, offset, length)
  copyUnlessInPlace(repr.payload, buffer, offset + headerLength)
  writeTcpHeader(buffer, offset, repr.srcPort, repr.dstPort, repr.seqNumber, repr.ackNumber, headerLength, repr.flags, repr.window, repr.urgentPointer)
  emitTcpOptions(repr.options, buffer, offset + TCP_HEADER_LENGTH)
  const pseudo = ipv4PseudoHeaderSum(src, dst, IpProtocol.TCP, length)
  writeUint16(buffer, offset + 16, checksum === 'compute' ? internetChecksum(buffer, offset, length, pseudo) : foldChecksum(pseudo))
  return length
}

/**
 * Write the fixed 20 bytes of a TCP header (RFC 9293 §3.1) with a zero checksum field, to be filled once
 * the options and payload are in place. Unchecked: the caller made room.
 * @internal
 */
export function writeTcpHeader(
  buffer: Uint8Array,
  offset: number,
  srcPort: number,
  dstPort: number,
  seq: number,
  ack: number,
  headerLength: number,
  flags: number,
  window: number,
  urgentPointer: number,
): void {
  writeUint16(buffer, offset, srcPort)
  writeUint16(buffer, offset + 2, dstPort)
  writeUint32(buffer, offset + 4, seq)
  writeUint32(buffer, offset + 8, ack)
  buffer[offset + 12] = (headerLength / 4) << 4 // data offset; reserved bits zero (RFC 9293 §3.1)
  buffer[offset + 13] = flags
  writeUint16(buffer, offset + 14, window)
  writeUint16(buffer, offset + 16, 0) // RFC 9293 §3.1: the checksum field is zero while computing
  writeUint16(buffer, offset + 18, urgentPointer)
}

/**
 * Finish a checksum left by {@link emitTcp} with `offload`, as a NIC does: sum the segment (whose
 * checksum field holds the pseudo-header sum) and store the complement. For tests and for backends
 * without checksum offload.
 */
export function completeTcpChecksum(buffer: Uint8Array, offset: number, length: number): void {
  writeUint16(buffer, offset + 16, ~foldChecksum(onesComplementSum(buffer, offset, length)) & 0xffff)
}
