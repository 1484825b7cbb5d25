/**
 * Address text: IPv6 addresses in the recommended form of RFC 5952 (what the receiver prints for a peer),
 * and the `host:port` forms of the command line, with IPv6 in brackets (RFC 5952 §6, RFC 3986 §3.2.2).
 * @module
 */
import { isIP } from 'node:net'

/**
 * The text of an IP address as the receiver prints it: IPv4 unchanged; IPv6 in RFC 5952's recommended form:
 * - §4.1: hexadecimal without leading zeros; §4.3: lowercase;
 * - §4.2.1–§4.2.3: `::` shortens the longest run of two or more zero fields, the first of equal runs, and
 *   never a single zero field;
 * - §5: an IPv4-mapped address (`::ffff:0:0/96`, RFC 4291 §2.5.5.2, the IPv4 peers of a dual-stack
 *   listener) in mixed notation, `::ffff:192.0.2.1`;
 * - a zone (`fe80::1%eth0`, RFC 4007 §11) is kept as it is.
 * Anything that is not an IP address is returned unchanged.
 *
 * @example
 * ```ts
 * formatAddress('2001:0DB8:0:0:0:0:0:0001') // '2001:db8::1'
 * formatAddress('2001:db8:0:1:1:1:1:1')     // '2001:db8:0:1:1:1:1:1' (one zero field: not shortened)
 * formatAddress('::FFFF:C000:0201')         // '::ffff:192.0.2.1'
 * ```
 */
export function formatAddress(address: string): string {
  if (typeof address !== 'string' || isIP(address) !== 6) return address
  const percent = address.indexOf('%')
  const zone = percent < 0 ? '' : address.slice(percent)
  const fields = ipv6Fields(percent < 0 ? address : address.slice(0, percent))
  if (fields[0] === 0 && fields[1] === 0 && fields[2] === 0 && fields[3] === 0 && fields[4] === 0 && fields[5] === 0xffff) {
    return `::ffff:${fields[6]! >>> 8}.${fields[6]! & 0xff}.${fields[7]! >>> 8}.${fields[7]! & 0xff}${zone}`
  }
  // The longest run of zero fields (the first of equal ones), two fields at least.
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (fields[i] !== 0) {
      i++
      continue
    }
    let end = i
    while (end < 8 && fields[end] === 0) end++
    if (end - i > bestLength) {
      bestStart = i
      bestLength = end - i
    }
    i = end
  }
  const hex = (from: number, to: number): string => fields.slice(from, to).map((field) => field.toString(16)).join(':')
  if (bestStart < 0) return hex(0, 8) + zone
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}${zone}`
}

/** The eight 16-bit fields of an IPv6 address text that `isIP` accepted (no zone), `::` and a dotted tail expanded. */
function ipv6Fields(text: string): number[] {
  let body = text
  const tail: number[] = []
  const lastColon = body.lastIndexOf(':')
  if (body.includes('.', lastColon)) {
    // RFC 4291 §2.2 (3): the low 32 bits in dotted decimal, as two fields.
    const [a, b, c, d] = body.slice(lastColon + 1).split('.').map(Number) as [number, number, number, number]
    tail.push((a << 8) | b, (c << 8) | d)
    body = body.slice(0, lastColon + 1)
    if (!body.endsWith('::')) body = body.slice(0, -1)
  }
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').filter((group) => group !== '').map((group) => parseInt(group, 16)))
  const gap = body.indexOf('::')
  let fields: number[]
  if (gap < 0) {
    fields = [...parse(body), ...tail]
  } else {
    const head = parse(body.slice(0, gap))
    const rest = [...parse(body.slice(gap + 2)), ...tail]
    fields = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest]
  }
  return fields
}

/** A command-line `<ip>` with an optional port: `10.0.0.1`, `10.0.0.1:5001`, `::1`, `[::1]`, `[::1]:5001`. */
export interface HostAndPort {
  /** The address, without brackets. */
  host: string
  /** The port text after the address, when the argument carried one. */
  port?: string
}

/**
 * Split a command-line address: an IPv4 or IPv6 address, an IPv6 address in brackets, or either followed
 * by `:<port>` (IPv6 only in brackets, as RFC 5952 §6 recommends: `::1:5001` is an address).
 * @returns the parts, or undefined when `text` is none of these forms.
 */
export function splitHostPort(text: string): HostAndPort | undefined {
  if (text.startsWith('[')) {
    const match = /^\[([^\]]*)\](?::(.*))?$/.exec(text)
    if (match === null || isIP(match[1]!) !== 6) return undefined
    return match[2] === undefined ? { host: match[1]! } : { host: match[1]!, port: match[2] }
  }
  if (isIP(text) !== 0) return { host: text }
  const colon = text.lastIndexOf(':')
  if (colon > 0 && text.indexOf(':') === colon && isIP(text.slice(0, colon)) === 4) return { host: text.slice(0, colon), port: text.slice(colon + 1) }
  return undefined
}

/** `host:port`, with an IPv6 host in brackets (RFC 5952 §6) and in the form of {@link formatAddress}. */
export function formatHostPort(host: string, port: number): string {
  const text = formatAddress(host)
  return isIP(host) === 6 ? `[${text}]:${port}` : `${text}:${port}`
}
