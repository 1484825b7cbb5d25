/**
 * The checks every datagram passes, in both directions, before it is sent or handed to a handler.
 *
 * Framing (libccp's `serialize.h`, as `@mtcp/libccp`'s `wire.ts` implements it): one CCP message per unix datagram, little-endian, an
 * 8-byte header `type u16 @0`, `len u16 @2` (the whole message, header included), `sid u32 @4`; types 0..5
 * (CREATE, MEASURE, INSTALL_EXPR, UPDATE_FIELDS, CHANGE_PROG, READY). A transport reads the header only,
 * with `@mtcp/libccp`'s `readHeader`: the body is the codec's business (`decodeMessage`).
 * @module
 */
import { MAX_DATAPATH_MESSAGE, MessageType, readHeader } from '@mtcp/libccp'

/**
 * The largest datagram from a datapath to the agent: 1024 bytes, the size of portus's receive buffer
 * (ccp-datapath.md, "Framing"; `@mtcp/libccp`'s `MAX_DATAPATH_MESSAGE`). Larger sends are refused with
 * `EMSGSIZE`; larger datagrams received by an agent are dropped as `oversized`.
 */
export const DATAPATH_TO_AGENT_MAX_BYTES: number = MAX_DATAPATH_MESSAGE

/**
 * The largest datagram from the agent to a datapath: 32678 bytes, what the C libccp accepts
 * (its `BIGGEST_MSG_SIZE`, spelled so in libccp; ccp-datapath.md, "Framing").
 */
export const AGENT_TO_DATAPATH_MAX_BYTES = 32678

/** Why a datagram was refused: too large for its direction, or a header that does not add up. */
export type DatagramProblem = 'oversized' | 'malformed'

/**
 * Check one datagram: at most `maxBytes`, at least a header, the header's `len` equal to the datagram's
 * size, and a known type. Returns `undefined` when it passes. Never throws.
 * @internal
 */
export function checkDatagram(bytes: Uint8Array, maxBytes: number): DatagramProblem | undefined {
  if (bytes.length > maxBytes) return 'oversized'
  const header = readHeader(bytes) // undefined below 8 bytes
  // ccp-datapath.md, "Framing": validate len against the datagram size.
  if (header === undefined || header.length !== bytes.length || header.type > MessageType.Ready) return 'malformed'
  return undefined
}
