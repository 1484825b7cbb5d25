/**
 * IPv4 fragmentation (RFC 791 §2.3 "Fragmentation", §3.2 "An Example Fragmentation Procedure";
 * RFC 1122 §3.3.3): cut a datagram into fragments that fit an MTU.
 *
 * - Every fragment but the last carries a multiple of 8 payload bytes; its offset is counted in units
 *   of 8 (RFC 791 §3.1 Fragment Offset).
 * - The first fragment keeps every option; later ones keep only options whose "copied" flag is set
 *   (RFC 791 §3.1 Options, the copied flag), padded to a multiple of 4.
 * - A datagram that is itself a fragment can be cut again: offsets add up, and More Fragments stays
 *   set on the last piece when the datagram had it (RFC 791 §3.2).
 * - Don't Fragment (RFC 791 §3.1 Flags) forbids it: {@link emitIpv4Fragment} refuses such a datagram.
 *
 * The datagram is read, never changed. {@link emitIpv4Fragment} writes one fragment where the caller
 * says (a pool buffer) and allocates nothing; {@link fragmentIpv4} returns new arrays (tests, slow paths).
 * @module
 */
import { readUint16, writeUint16 } from './bytes.js'
import { internetChecksum } from './checksum.js'
import { checkRoom, WireEmitError } from './errors.js'
import { IPV4_HEADER_LENGTH } from './ipv4.js'

/** The smallest MTU a fragment can be cut for: a 60-byte header and 8 payload bytes (RFC 791 §3.2). */
export const IPV4_MIN_FRAGMENT_MTU = 68

function checkDatagram(datagram: Uint8Array): { headerLength: number; totalLength: number } {
  if (datagram.byteLength < IPV4_HEADER_LENGTH || datagram[0]! >>> 4 !== 4) throw new WireEmitError('ERR_INVALID_FIELD', 'not an IPv4 datagram')
  const headerLength = (datagram[0]! & 0x0f) * 4
  const totalLength = readUint16(datagram, 2)
  if (headerLength < IPV4_HEADER_LENGTH || totalLength < headerLength || totalLength > datagram.byteLength) {
    throw new WireEmitError('ERR_INVALID_FIELD', `IPv4 header length ${headerLength} / total length ${totalLength} do not fit the ${datagram.byteLength} bytes given`)
  }
  return { headerLength, totalLength }
}

/**
 * The options a fragment after the first carries: those with the copied flag (RFC 791 §3.1), written
 * at `out[at]` when `out` is given. @returns their length, padded to a multiple of 4.
 */
function copiedOptions(datagram: Uint8Array, headerLength: number, out: Uint8Array | undefined, at: number): number {
  let length = 0
  for (let i = IPV4_HEADER_LENGTH; i < headerLength; ) {
    const type = datagram[i]!
    if (type === 0) break // End of Option List
    if (type === 1) {
      i++ // No Operation: not copied
      continue
    }
    const optionLength = i + 1 < headerLength ? datagram[i + 1]! : 0
    if (optionLength < 2 || i + optionLength > headerLength) break // malformed: copy nothing more
    if (type & 0x80) {
      if (out !== undefined) out.set(datagram.subarray(i, i + optionLength), at + length)
      length += optionLength
    }
    i += optionLength
  }
  const padded = (length + 3) & ~3
  if (out !== undefined) out.fill(0, at + length, at + padded) // End of Option List, then padding
  return padded
}

/**
 * The payload bytes the fragment starting at `payloadOffset` of `datagram` carries for `mtu`: all that is
 * left when it fits, else the largest multiple of 8 that fits after the fragment's header.
 */
export function ipv4FragmentPayloadLength(datagram: Uint8Array, payloadOffset: number, mtu: number): number {
  const { headerLength, totalLength } = checkDatagram(datagram)
  const fragmentHeader = payloadOffset === 0 ? headerLength : IPV4_HEADER_LENGTH + copiedOptions(datagram, headerLength, undefined, 0)
  const left = totalLength - headerLength - payloadOffset
  if (fragmentHeader + left <= mtu) return left
  return Math.floor((mtu - fragmentHeader) / 8) * 8
}

/**
 * Write the fragment of `datagram` that starts at `payloadOffset` (bytes into its payload, a multiple
 * of 8) at `buffer[offset]`, at most `mtu` bytes, with its header checksum. The next fragment starts at
 * `payloadOffset + ipv4FragmentPayloadLength(datagram, payloadOffset, mtu)`; the last one is written when
 * that reaches the payload's end.
 * @returns the bytes written (the fragment's total length)
 * @throws {@link WireEmitError} `ERR_INVALID_FIELD` for a datagram with Don't Fragment set, a malformed
 *   header, an offset that is not a multiple of 8 inside the payload, or an `mtu` below
 *   {@link IPV4_MIN_FRAGMENT_MTU}; `ERR_BUFFER_TOO_SMALL`
 */
export function emitIpv4Fragment(datagram: Uint8Array, payloadOffset: number, mtu: number, buffer: Uint8Array, offset = 0): number {
  const { headerLength, totalLength } = checkDatagram(datagram)
  const flags = readUint16(datagram, 6)
  if (flags & 0x4000) throw new WireEmitError('ERR_INVALID_FIELD', 'the datagram has Don\'t Fragment set (RFC 791 §3.1)')
  if (!Number.isInteger(mtu) || mtu < IPV4_MIN_FRAGMENT_MTU) throw new WireEmitError('ERR_INVALID_FIELD', `mtu must be an integer of at least ${IPV4_MIN_FRAGMENT_MTU}, got ${String(mtu)}`)
  const payloadLength = totalLength - headerLength
  if (!Number.isInteger(payloadOffset) || payloadOffset < 0 || payloadOffset % 8 !== 0 || (payloadOffset >= payloadLength && payloadLength > 0)) {
    throw new WireEmitError('ERR_INVALID_FIELD', `payloadOffset must be a multiple of 8 inside the ${payloadLength}-byte payload, got ${String(payloadOffset)}`)
  }
  const carried = ipv4FragmentPayloadLength(datagram, payloadOffset, mtu)
  const fragmentHeader = payloadOffset === 0 ? headerLength : IPV4_HEADER_LENGTH + copiedOptions(datagram, headerLength, undefined, 0)
  const length = fragmentHeader + carried
  checkRoom('IPv4 fragment', buffer, offset, length)
  buffer.set(datagram.subarray(0, IPV4_HEADER_LENGTH), offset)
  if (payloadOffset === 0) buffer.set(datagram.subarray(IPV4_HEADER_LENGTH, headerLength), offset + IPV4_HEADER_LENGTH)
  else copiedOptions(datagram, headerLength, buffer, offset + IPV4_HEADER_LENGTH)
  buffer.set(datagram.subarray(headerLength + payloadOffset, headerLength + payloadOffset + carried), offset + fragmentHeader)
  buffer[offset] = 0x40 | (fragmentHeader / 4)
  writeUint16(buffer, offset + 2, length)
  // RFC 791 §3.2: the offset adds to the datagram's own; MF is set unless this is the datagram's last piece.
  const last = payloadOffset + carried >= payloadLength
  const moreFragments = !last || (flags & 0x2000) !== 0
  const fragmentOffset = (flags & 0x1fff) + payloadOffset / 8
  if (fragmentOffset > 0x1fff) throw new WireEmitError('ERR_INVALID_FIELD', 'the fragment offset does not fit 13 bits')
  writeUint16(buffer, offset + 6, (moreFragments ? 0x2000 : 0) | fragmentOffset)
  writeUint16(buffer, offset + 10, 0)
  writeUint16(buffer, offset + 10, internetChecksum(buffer, offset, fragmentHeader))
  return length
}

/**
 * Cut `datagram` into fragments of at most `mtu` bytes (RFC 791 §3.2), each a new array; a datagram
 * that fits is returned as one copy, unchanged.
 * @throws {@link WireEmitError} as {@link emitIpv4Fragment} (Don't Fragment set on a datagram that does not fit)
 */
export function fragmentIpv4(datagram: Uint8Array, mtu: number): Uint8Array[] {
  const { headerLength, totalLength } = checkDatagram(datagram)
  if (totalLength <= mtu) return [datagram.slice(0, totalLength)]
  const fragments: Uint8Array[] = []
  const payloadLength = totalLength - headerLength
  for (let payloadOffset = 0; payloadOffset < payloadLength; ) {
    const carried = ipv4FragmentPayloadLength(datagram, payloadOffset, mtu)
    if (carried <= 0) throw new WireEmitError('ERR_INVALID_FIELD', `mtu ${mtu} leaves no room for payload after the header`)
    const fragment = new Uint8Array(mtu)
    const length = emitIpv4Fragment(datagram, payloadOffset, mtu, fragment)
    fragments.push(fragment.subarray(0, length))
    payloadOffset += carried
  }
  return fragments
}
