/**
 * Ethernet MAC addresses (IEEE 802 48-bit), in one representation everywhere: 6 bytes, first octet first,
 * as a `Uint8Array` (ports report them so, the ARP cache stores them so, frames hold them so). Comparing
 * and copying work on the bytes in place, so reading a frame's address needs no object.
 * @module
 */
import { PrimitiveError } from './errors.js'

/** A MAC address: a 6-byte `Uint8Array` (or a 6-byte window of a larger one), first octet at index 0. */
export type MacAddress = Uint8Array

/** The length of a MAC address in bytes. */
export const MAC_ADDRESS_LENGTH = 6

/** The broadcast address ff:ff:ff:ff:ff:ff. Shared: copy it, never write into it. */
export const BROADCAST_MAC: MacAddress = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff)

/** Whether `value` is a 6-byte `Uint8Array`. */
export function isMacAddress(value: unknown): value is MacAddress {
  return value instanceof Uint8Array && value.byteLength === MAC_ADDRESS_LENGTH
}

/**
 * Whether `mac` is a unicast address other than 00:00:00:00:00:00, that is one a host can own. The
 * I/G (individual/group) bit, the least significant bit of the first octet in IEEE 802, marks multicast and the
 * broadcast address.
 */
export function isUnicastMacAddress(mac: MacAddress): boolean {
  if ((mac[0]! & 1) !== 0) return false
  return (mac[0]! | mac[1]! | mac[2]! | mac[3]! | mac[4]! | mac[5]!) !== 0
}

/** Whether two MAC addresses are equal, byte for byte. */
export function macAddressEquals(a: MacAddress, b: MacAddress): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3] && a[4] === b[4] && a[5] === b[5]
}

/** Whether the 6 bytes of `bytes` at `offset` (say a frame's destination) equal `mac`. Allocates nothing. */
export function macAddressAt(bytes: Uint8Array, offset: number, mac: MacAddress): boolean {
  return (
    bytes[offset] === mac[0] &&
    bytes[offset + 1] === mac[1] &&
    bytes[offset + 2] === mac[2] &&
    bytes[offset + 3] === mac[3] &&
    bytes[offset + 4] === mac[4] &&
    bytes[offset + 5] === mac[5]
  )
}

/** Copy `mac` into `bytes` at `offset` (say into a frame's header). */
export function writeMacAddress(bytes: Uint8Array, offset: number, mac: MacAddress): void {
  for (let i = 0; i < MAC_ADDRESS_LENGTH; i++) bytes[offset + i] = mac[i]!
}

/**
 * Parse `'02:00:00:00:00:01'` (or with `-` separators, as Windows writes them), case-insensitive, into 6 new bytes.
 * @throws `PrimitiveError` with code `ERR_INVALID_ARG` naming the text when it is not six two-digit hex octets.
 */
export function parseMacAddress(text: string): MacAddress {
  if (typeof text !== 'string' || !/^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/.test(text)) {
    throw new PrimitiveError('ERR_INVALID_ARG', `not a MAC address (expected six hex octets such as 02:00:00:00:00:01): ${JSON.stringify(text)}`)
  }
  const mac = new Uint8Array(MAC_ADDRESS_LENGTH)
  for (let i = 0; i < MAC_ADDRESS_LENGTH; i++) mac[i] = Number.parseInt(text.slice(i * 3, i * 3 + 2), 16)
  return mac
}

/**
 * Format 6 bytes as lowercase colon-separated hex (`'02:00:00:00:00:01'`).
 * @throws `PrimitiveError` with code `ERR_INVALID_ARG` when `mac` is not a 6-byte `Uint8Array`.
 */
export function formatMacAddress(mac: MacAddress): string {
  if (!isMacAddress(mac)) throw new PrimitiveError('ERR_INVALID_ARG', `a MAC address must be a 6-byte Uint8Array, got ${describeMacArgument(mac)}`)
  let text = ''
  for (let i = 0; i < MAC_ADDRESS_LENGTH; i++) text += (i === 0 ? '' : ':') + mac[i]!.toString(16).padStart(2, '0')
  return text
}

/** A short description of a value that should have been a MAC address, for error messages. */
export function describeMacArgument(value: unknown): string {
  if (value instanceof Uint8Array) return `a Uint8Array of ${value.byteLength} bytes`
  return value === null ? 'null' : typeof value
}
