/**
 * Errors of the IPv6 wire layer (IPv6, its extension headers, ICMPv6, Neighbor Discovery). The same contract
 * as {@link WireError}: malformed input is returned, never thrown, so the receive path can count the drop by
 * code. Kept apart from `errors.ts` so that IPv6 lands without touching the IPv4 files; the two may merge later.
 * @module
 */
import type { WireError } from './errors.js'

/** The layer an {@link Ipv6WireError} comes from. */
export type Ipv6WireProtocol = 'ipv6' | 'icmpv6' | 'ndp'

/** Stable codes of an {@link Ipv6WireError}: what was wrong with a received packet. */
export type Ipv6WireErrorCode =
  /** The bytes end before a header, or before the length a header field declares. */
  | 'TRUNCATED'
  /** The IPv6 version field is not 6. */
  | 'BAD_VERSION'
  /** The ICMPv6 checksum (with its pseudo-header) did not verify. */
  | 'BAD_CHECKSUM'
  /** A length field is impossible (an ICMPv6 or ND message shorter than its type requires, an ND option of length 0). */
  | 'BAD_LENGTH'
  /** A field has a value its RFC forbids (an ND hop limit other than 255, a non-zero ND code, a multicast target…). */
  | 'BAD_FIELD'
  /** Well-formed but not handled here, such as a jumbogram (payload length 0, RFC 2675). */
  | 'UNSUPPORTED'

/**
 * Why an IPv6 packet could not be parsed. Returned, never thrown: test with `instanceof Ipv6WireError`.
 * Not an `Error` (no stack trace), so dropping a flood of bad packets stays cheap.
 */
export class Ipv6WireError {
  constructor(
    /** The layer that rejected the packet. */
    readonly protocol: Ipv6WireProtocol,
    /** What was wrong; stable, for `switch` and counters. */
    readonly code: Ipv6WireErrorCode,
    /** A human-readable detail for logs; not stable. */
    readonly message: string,
  ) {}

  /** `"ipv6 BAD_VERSION: …"`, for logs. */
  toString(): string {
    return `${this.protocol} ${this.code}: ${this.message}`
  }
}
