/**
 * Ethernet MAC addresses (IEEE 802 48-bit) as 6-byte `Uint8Array`s: validation, text and the address kinds
 * the ARP cache must not learn.
 * @module
 */
import { ArpError } from './arp-error.js'

/** Whether `value` is a 6-byte `Uint8Array`. */
export function isMacAddress(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.byteLength === 6
}

/**
 * Whether `mac` is a unicast address other than 00:00:00:00:00:00, that is one a host can own. The
 * I/G (individual/group) bit, the least significant bit of the first octet in IEEE 802, marks multicast and the
 * broadcast address ff:ff:ff:ff:ff:ff.
 */
export function isUnicastMacAddress(mac: Uint8Array): boolean {
  if ((mac[0]! & 1) !== 0) return false
  return (mac[0]! | mac[1]! | mac[2]! | mac[3]! | mac[4]! | mac[5]!) !== 0
}

/** Whether two MAC addresses are equal, byte for byte. */
export function macAddressEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3] && a[4] === b[4] && a[5] === b[5]
}

/**
 * Parse `'02:00:00:00:00:01'` (or with `-` separators, as Windows writes them) into 6 bytes.
 * @throws {@link ArpError} `ERR_INVALID_ARG` naming the text when it is not six two-digit hex octets.
 */
export function parseMacAddress(text: string): Uint8Array {
  if (typeof text !== 'string' || !/^[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/.test(text)) {
    throw new ArpError('ERR_INVALID_ARG', `not a MAC address (expected six hex octets such as 02:00:00:00:00:01): ${JSON.stringify(text)}`)
  }
  const mac = new Uint8Array(6)
  for (let i = 0; i < 6; i++) mac[i] = Number.parseInt(text.slice(i * 3, i * 3 + 2), 16)
  return mac
}

/**
 * Format 6 bytes as lowercase colon-separated hex (`'02:00:00:00:00:01'`).
 * @throws {@link ArpError} `ERR_INVALID_ARG` when `mac` is not a 6-byte `Uint8Array`.
 */
export function formatMacAddress(mac: Uint8Array): string {
  if (!isMacAddress(mac)) throw new ArpError('ERR_INVALID_ARG', `a MAC address must be a 6-byte Uint8Array, got ${describeMacArgument(mac)}`)
  let text = ''
  for (let i = 0; i < 6; i++) text += (i === 0 ? '' : ':') + mac[i]!.toString(16).padStart(2, '0')
  return text
}

/** A short description of a value that should have been a MAC, for error messages. @internal */
export function describeMacArgument(value: unknown): string {
  if (value instanceof Uint8Array) return `a Uint8Array of ${value.byteLength} bytes`
  return value === null ? 'null' : typeof value
}
