/**
 * Big-endian (network order, RFC 791 Appendix B) writes by plain index, so that emitters never
 * allocate a `DataView` per packet. Assigning to a `Uint8Array` keeps the low 8 bits.
 * @internal
 * @module
 */
import { MAC_ADDRESS_LENGTH, type MacAddress } from '@mtcp/primitives'

/** @internal */
export function writeUint16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 8
  bytes[at + 1] = value
}

/** @internal */
export function writeUint32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24
  bytes[at + 1] = value >>> 16
  bytes[at + 2] = value >>> 8
  bytes[at + 3] = value
}

/** Read a big-endian 16-bit value; the caller guarantees the bytes exist. @internal */
export function readUint16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!
}

/** Read a big-endian 32-bit value as an unsigned number; the caller guarantees the bytes exist. @internal */
export function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0
}

/** The 6 bytes of a MAC address at `bytes[at]`, as a view onto `bytes` (not a copy). @internal */
export function readMac(bytes: Uint8Array, at: number): MacAddress {
  return bytes.subarray(at, at + MAC_ADDRESS_LENGTH)
}

/**
 * Copy `source` to `target[at …]` unless it is already there (a payload written in place by the caller).
 * @internal
 */
export function copyUnlessInPlace(source: Uint8Array, target: Uint8Array, at: number): void {
  if (source.byteLength === 0) return
  if (source.buffer === target.buffer && source.byteOffset === target.byteOffset + at) return
  target.set(source, at)
}

/**
 * Copy `length` bytes from `source[sourceStart …]` to `target[targetStart …]`: the one payload copy of
 * each path goes through here. It makes one short-lived view of the source range: `set` needs a whole
 * array, and Node 20 has no ranged copy between two ArrayBuffers that does not (Buffer.copy makes the
 * same view inside); a JavaScript loop would cost ten times as much per segment.
 * @internal
 */
export function copyBytes(source: Uint8Array, sourceStart: number, target: Uint8Array, targetStart: number, length: number): void {
  if (length <= 0) return
  target.set(length === source.byteLength && sourceStart === 0 ? source : source.subarray(sourceStart, sourceStart + length), targetStart)
}
