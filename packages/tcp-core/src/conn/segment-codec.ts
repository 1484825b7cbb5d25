/**
 * The segment path's codec: a TCP segment read from a frame straight into the connection's
 * {@link InboundSegment}, and an {@link OutboundSegment} written straight into a frame (header, options,
 * the payload copied once from the send buffer, the checksum). No views, no reprs, no option objects:
 * one reader per driver, reused for every segment, so the steady state allocates nothing. The wire
 * rules are the same as `TcpView`/`parseTcp`/`emitTcp` (RFC 9293 §3.1, options as in tcp-options.ts).
 * @module
 */
import type { SackBlock } from '@mtcp/sack'
import { readUint16, readUint32, writeUint16 } from '../wire/bytes.js'
import { foldChecksum, internetChecksum, ipv4PseudoHeaderSum, type RxChecksum, type TxChecksum } from '../wire/checksum.js'
import { IpProtocol } from '../wire/ipv4.js'
import { TCP_HEADER_LENGTH, writeTcpHeader } from '../wire/tcp.js'
import { emptyTcpOptionFields, readTcpOptions, tcpOptionFieldsLength, writeTcpOptions } from '../wire/tcp-options.js'
import type { InboundSegment, OutboundSegment } from './segment.js'

/** What {@link TcpSegmentReader.read} found. */
export const TcpReadStatus = {
  /** A well-formed segment, now in the record. */
  OK: 0,
  /** Shorter than a header, or a data offset below 5 or past the end (RFC 9293 §3.1). */
  MALFORMED: 1,
  /** The checksum does not verify with the pseudo-header. */
  BAD_CHECKSUM: 2,
  /** An option is malformed (see tcp-options.ts). */
  BAD_OPTION: 3,
} as const
export type TcpReadStatus = (typeof TcpReadStatus)[keyof typeof TcpReadStatus]

/** Reads TCP segments into one reused {@link InboundSegment} record. */
export class TcpSegmentReader {
  /** The record every read fills; its payload is the frame's bytes, with offset and length. */
  readonly segment: InboundSegment
  /** The last segment's source port. */
  srcPort = 0
  /** The last segment's destination port. */
  dstPort = 0
  /** Why the last read said BAD_OPTION. */
  problem: string | undefined = undefined
  readonly #options = emptyTcpOptionFields()
  readonly #blocks: SackBlock[] = [
    { left: 0, right: 0 },
    { left: 0, right: 0 },
    { left: 0, right: 0 },
    { left: 0, right: 0 },
  ]
  /** The first k blocks, for each k: the record's `sackBlocks` points at one, so no array is made per segment. */
  readonly #views: ReadonlyArray<readonly SackBlock[]>

  constructor(segment: InboundSegment) {
    this.segment = segment
    const blocks = this.#blocks
    this.#views = [[], [blocks[0]!], [blocks[0]!, blocks[1]!], [blocks[0]!, blocks[1]!, blocks[2]!], blocks]
  }

  /**
   * Read the segment in `bytes[offset, offset + length)` (the whole IPv4 payload) sent from `src` to `dst`
   * (uint32 IPv4 addresses). With `checksum` = `skip` the checksum is taken as verified (offload).
   */
  read(bytes: Uint8Array, offset: number, length: number, src: number, dst: number, checksum: RxChecksum): TcpReadStatus {
    return this.readWithAddressSum(bytes, offset, length, ipv4PseudoHeaderSum(src, dst, IpProtocol.TCP, 0), checksum)
  }

  /**
   * {@link read} for either IP version: `addressSum` is the unfolded pseudo-header sum of the addresses and
   * the protocol, without the length, which is added here. For IPv6 it is
   * `ipv6PseudoHeaderSum(bytes, srcOffset, dstOffset, 6, 0)` (RFC 8200 §8.1; TCP over IPv6, RFC 9293 §3.1).
   */
  readWithAddressSum(bytes: Uint8Array, offset: number, length: number, addressSum: number, checksum: RxChecksum): TcpReadStatus {
    if (length < TCP_HEADER_LENGTH || offset + length > bytes.byteLength) return TcpReadStatus.MALFORMED
    const headerLength = (bytes[offset + 12]! >>> 4) * 4
    if (headerLength < TCP_HEADER_LENGTH || headerLength > length) return TcpReadStatus.MALFORMED
    // The pseudo-header's length field: 16 bits for IPv4, 32 for IPv6 (RFC 8200 §8.1); a TCP segment is under 2^16 bytes either way.
    if (checksum === 'verify' && internetChecksum(bytes, offset, length, addressSum + length) !== 0) {
      return TcpReadStatus.BAD_CHECKSUM
    }
    const options = this.#options
    const problem = readTcpOptions(bytes, offset + TCP_HEADER_LENGTH, offset + headerLength, options)
    if (problem !== undefined) {
      this.problem = problem
      return TcpReadStatus.BAD_OPTION
    }
    this.srcPort = readUint16(bytes, offset)
    this.dstPort = readUint16(bytes, offset + 2)
    const segment = this.segment
    segment.seq = readUint32(bytes, offset + 4)
    segment.ack = readUint32(bytes, offset + 8)
    segment.flags = bytes[offset + 13]!
    segment.window = readUint16(bytes, offset + 14)
    segment.mss = options.mss > 0 ? options.mss : undefined
    segment.windowScale = options.windowScale >= 0 ? options.windowScale : undefined
    segment.sackPermitted = options.sackPermitted
    segment.tsValue = options.timestamps ? options.tsValue : undefined
    segment.tsEcho = options.tsEcho
    const count = options.sackCount
    for (let b = 0; b < count; b++) {
      const block = this.#blocks[b]!
      block.left = options.sackLeft[b]!
      block.right = options.sackRight[b]!
    }
    segment.sackBlocks = this.#views[count]!
    segment.payload = bytes
    segment.payloadOffset = offset + headerLength
    segment.payloadLength = length - headerLength
    return TcpReadStatus.OK
  }
}

/** Header length (20 plus options, a multiple of 4) that {@link writeTcpSegment} writes for `out`. */
export function tcpSegmentHeaderLength(out: OutboundSegment): number {
  return TCP_HEADER_LENGTH + tcpOptionFieldsLength(out)
}

/**
 * Write `out` from `srcPort` to `dstPort`, sent from `src` to `dst`, at `buffer[offset]`: header, options,
 * the payload copied from the send buffer (its only copy), and the checksum — complete with `compute`,
 * the folded pseudo-header sum for the NIC with `offload` (RFC 9293 §3.1). The caller made room for
 * {@link tcpSegmentHeaderLength} plus `out.payloadLength` bytes. Allocates nothing.
 * @returns the bytes written (the IPv4 payload length)
 */
export function writeTcpSegment(out: OutboundSegment, srcPort: number, dstPort: number, src: number, dst: number, buffer: Uint8Array, offset: number, checksum: TxChecksum): number {
  const headerLength = tcpSegmentHeaderLength(out)
  const length = headerLength + out.payloadLength
  out.copyPayload(buffer, offset + headerLength)
  writeTcpHeader(buffer, offset, srcPort, dstPort, out.seq, out.ack, headerLength, out.flags, out.window, 0)
  writeTcpOptions(out, buffer, offset + TCP_HEADER_LENGTH)
  const pseudo = ipv4PseudoHeaderSum(src, dst, IpProtocol.TCP, length)
  writeUint16(buffer, offset + 16, checksum === 'compute' ? internetChecksum(buffer, offset, length, pseudo) : foldChecksum(pseudo))
  return length
}

/**
 * {@link writeTcpSegment} for either IP version, with the pseudo-header sum of the addresses and the protocol
 * given (unfolded, without the length): a connection over IPv6 computes it once,
 * `ipv6PseudoHeaderSumOf(local, remote, 6, 0)` (RFC 8200 §8.1), instead of per segment.
 * @returns the bytes written (the IP payload length)
 */
export function writeTcpSegmentWithAddressSum(out: OutboundSegment, srcPort: number, dstPort: number, addressSum: number, buffer: Uint8Array, offset: number, checksum: TxChecksum): number {
  const headerLength = tcpSegmentHeaderLength(out)
  const length = headerLength + out.payloadLength
  out.copyPayload(buffer, offset + headerLength)
  writeTcpHeader(buffer, offset, srcPort, dstPort, out.seq, out.ack, headerLength, out.flags, out.window, 0)
  writeTcpOptions(out, buffer, offset + TCP_HEADER_LENGTH)
  const pseudo = addressSum + length
  writeUint16(buffer, offset + 16, checksum === 'compute' ? internetChecksum(buffer, offset, length, pseudo) : foldChecksum(pseudo))
  return length
}
