/**
 * IPv4 addresses as uint32 `number`s: validation, dotted-quad text (RFC 791 §3.2 "Addressing"), and
 * CIDR prefixes (RFC 4632 §3.1: "a.b.c.d/n", the prefix being the `n` most significant bits).
 *
 * The address 10.0.0.1 is the number `0x0a000001`: the first octet is the most significant byte, which is
 * network byte order read with `DataView.getUint32`. Values are always non-negative; apply `>>> 0` after
 * any bitwise operation.
 * @module
 */
import { parseIpv4Address as parseWireAddress } from '../wire/ipv4.js'
import { RouteError } from './route-error.js'

/** An IPv4 address as an unsigned 32-bit integer, first octet most significant (10.0.0.1 is `0x0a000001`). */
export type Ipv4Address = number

/** A parsed CIDR prefix, `address/prefixLength`. */
export interface Ipv4Cidr {
  /** The address as written; host bits are kept (an interface address such as 10.0.0.1/24 is valid CIDR text). */
  readonly address: Ipv4Address
  /** Number of leading network bits, 0..32. */
  readonly prefixLength: number
}

/** `MASKS[n]` is the netmask of an `/n` prefix as a uint32. */
const MASKS: readonly number[] = Array.from({ length: 33 }, (_, n) => (n === 0 ? 0 : (0xffff_ffff << (32 - n)) >>> 0))

/** Whether `value` is a valid {@link Ipv4Address}: an integer in [0, 2^32 − 1]. */
export function isIpv4Address(value: unknown): value is Ipv4Address {
  return typeof value === 'number' && value >>> 0 === value
}

/** Whether `value` is a valid prefix length: an integer in [0, 32]. */
export function isPrefixLength(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 32
}

/**
 * The netmask of an `/prefixLength` prefix as a uint32 (`/24` → `0xffffff00`, `/0` → `0`).
 * @throws {@link RouteError} `ERR_INVALID_ARG` when `prefixLength` is not an integer in [0, 32].
 */
export function prefixMask(prefixLength: number): number {
  if (!isPrefixLength(prefixLength)) {
    throw new RouteError('ERR_INVALID_ARG', `prefixLength must be an integer in [0, 32], got ${String(prefixLength)}`)
  }
  return MASKS[prefixLength]!
}

/**
 * `address` with the bits beyond the first `prefixLength` cleared: the network address (`10.0.0.7`, 24 → `10.0.0.0`).
 * For the hot path: the arguments are not validated (pass a uint32 and an integer in [0, 32]).
 */
export function networkAddress(address: Ipv4Address, prefixLength: number): Ipv4Address {
  return (address & MASKS[prefixLength]!) >>> 0
}

/**
 * Parse dotted-quad text (`'10.0.0.1'`) into an {@link Ipv4Address}.
 *
 * Exactly four decimal octets 0..255 separated by dots. Leading zeros (`'010.0.0.1'`) are rejected, since
 * some parsers read them as octal (the same rule as Node's `net.isIPv4`); so are the shorthand forms
 * `inet_aton` accepts (`'10.1'`, `'0x0a.0.0.1'`).
 * @throws {@link RouteError} `ERR_INVALID_ARG` naming the text when it is not a dotted quad.
 */
export function parseIpv4Address(text: string): Ipv4Address {
  const address = parseDottedQuad(text)
  if (address === undefined) {
    throw new RouteError('ERR_INVALID_ARG', `not an IPv4 address (expected a dotted quad such as 10.0.0.1): ${JSON.stringify(text)}`)
  }
  return address
}

/**
 * Format an {@link Ipv4Address} as dotted-quad text (`0x0a000001` → `'10.0.0.1'`).
 * @throws {@link RouteError} `ERR_INVALID_ARG` when `address` is not a uint32.
 */
export function formatIpv4Address(address: Ipv4Address): string {
  if (!isIpv4Address(address)) {
    throw new RouteError('ERR_INVALID_ARG', `address must be an integer in [0, 4294967295], got ${String(address)}`)
  }
  return `${address >>> 24}.${(address >>> 16) & 0xff}.${(address >>> 8) & 0xff}.${address & 0xff}`
}

/**
 * Parse CIDR text (`'10.0.0.0/24'`) into an address and a prefix length (RFC 4632 §3.1).
 *
 * Host bits are not rejected here (`'10.0.0.1/24'` parses): clear them with {@link networkAddress}, or let
 * `RouteTable.add` reject them. A missing `/n` is an error, not `/32`.
 * @throws {@link RouteError} `ERR_INVALID_ARG` naming the text when it is not `dotted-quad/0..32`.
 */
export function parseCidr(text: string): Ipv4Cidr {
  const slash = typeof text === 'string' ? text.indexOf('/') : -1
  const address = slash < 0 ? undefined : parseDottedQuad(text.slice(0, slash))
  const prefixLength = slash < 0 ? undefined : parseDecimal(text.slice(slash + 1), 32)
  if (address === undefined || prefixLength === undefined) {
    throw new RouteError('ERR_INVALID_ARG', `not an IPv4 CIDR prefix (expected address/0..32 such as 10.0.0.0/24): ${JSON.stringify(text)}`)
  }
  return { address, prefixLength }
}

/** Format an address and prefix length as CIDR text (`'10.0.0.0/24'`). */
export function formatCidr(address: Ipv4Address, prefixLength: number): string {
  prefixMask(prefixLength) // validates
  return `${formatIpv4Address(address)}/${prefixLength}`
}

function parseDottedQuad(text: unknown): Ipv4Address | undefined {
  return typeof text === 'string' ? parseWireAddress(text) : undefined
}

/** A decimal integer in [0, max] without sign, leading zeros or whitespace. */
function parseDecimal(text: string, max: number): number | undefined {
  if (text.length === 0 || text.length > 3 || (text.length > 1 && text.charCodeAt(0) === 0x30)) return undefined
  let value = 0
  for (let i = 0; i < text.length; i++) {
    const digit = text.charCodeAt(i) - 0x30
    if (digit < 0 || digit > 9) return undefined
    value = value * 10 + digit
  }
  return value <= max ? value : undefined
}
