/**
 * Errors of the wire layer. Malformed input is never thrown: parsers and `checked()` return a
 * {@link WireError} so the receive path can count the drop by {@link WireError.code} and move on.
 * Only misuse of an emitter (a buffer too small for what the caller asked to write) throws, as a
 * {@link WireEmitError}.
 * @module
 */

/** Stable codes of a {@link WireError}: what was wrong with a received frame. */
export type WireErrorCode =
  /** The bytes end before the header, or before the length a header field declares. */
  | 'TRUNCATED'
  /** A checksum did not verify (IPv4 header, ICMP, TCP with its pseudo-header). */
  | 'BAD_CHECKSUM'
  /** The IPv4 version field is not 4. */
  | 'BAD_VERSION'
  /** A header length field is impossible: IPv4 IHL < 5 or past the total length, TCP data offset < 5 or past the segment. */
  | 'BAD_HEADER_LENGTH'
  /** An IPv4 fragment (More Fragments set or a non-zero offset): this stack does not reassemble. */
  | 'FRAGMENT'
  /** A malformed TCP option: length < 2, running past the header, or a known option with the wrong length. */
  | 'BAD_OPTION'
  /** Well-formed but not handled here: 802.3 length frames, stacked VLAN tags, non Ethernet/IPv4 ARP, other ARP operations. */
  | 'UNSUPPORTED'

/** The layer a {@link WireError} comes from, so a stack can keep counters per protocol. */
export type WireProtocol = 'ethernet' | 'arp' | 'ipv4' | 'icmp' | 'tcp'

/**
 * Why a frame could not be parsed. Returned, never thrown: test with `instanceof WireError`.
 * Deliberately not an `Error` (no stack trace is captured), so dropping a flood of bad frames stays cheap.
 *
 * @example
 * ```ts
 * const ip = Ipv4View.checked(bytes)
 * if (ip instanceof WireError) { stats[ip.protocol][ip.code]++; return }
 * ```
 */
export class WireError {
  constructor(
    /** The layer that rejected the frame. */
    readonly protocol: WireProtocol,
    /** What was wrong; stable, for `switch` and counters. */
    readonly code: WireErrorCode,
    /** A human-readable detail for logs; not stable. */
    readonly message: string,
  ) {}

  /** `"ipv4 BAD_CHECKSUM: …"`, for logs. */
  toString(): string {
    return `${this.protocol} ${this.code}: ${this.message}`
  }
}

/** Stable codes of a {@link WireEmitError}. */
export type WireEmitErrorCode =
  /** The destination buffer has no room for what the emitter was asked to write at that offset. */
  | 'ERR_BUFFER_TOO_SMALL'
  /** A repr field cannot be encoded (e.g. an IPv4 total length above 65535). */
  | 'ERR_INVALID_FIELD'

/** Thrown by an emitter on misuse; its {@link WireEmitError.code} is stable. */
export class WireEmitError extends Error {
  override readonly name = 'WireEmitError'
  constructor(
    readonly code: WireEmitErrorCode,
    message: string,
  ) {
    super(message)
  }
}

/**
 * Throw `ERR_BUFFER_TOO_SMALL` unless `buffer[offset, offset + length)` exists.
 * @internal
 */
export function checkRoom(what: string, buffer: Uint8Array, offset: number, length: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + length > buffer.byteLength) {
    throw new WireEmitError(
      'ERR_BUFFER_TOO_SMALL',
      `${what} needs ${length} bytes at offset ${offset}, but the buffer holds ${buffer.byteLength}`,
    )
  }
}
