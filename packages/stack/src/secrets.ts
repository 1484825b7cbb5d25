/**
 * The stack's secrets, all drawn at creation from one call of the random source (the `random` option,
 * default `crypto.getRandomValues`), so that a fixed source gives a reproducible stack.
 *
 * The source fills one array of {@link STACK_RANDOM_BYTES} bytes; 32-bit words are read little-endian:
 *
 * | bytes  | use |
 * | ------ | --- |
 * | 0–7    | RFC 6528 ISN key (initial-sequence.ts in tcp-core) |
 * | 8–15   | RFC 6056 §3.3.4 port offset key (F) |
 * | 16–23  | RFC 6056 §3.3.4 table index key (G) |
 * | 24–31  | per-connection timestamp offset key (RFC 7323 §5.4) |
 * | 32–47  | SYN cookie keys H1 (32–39) and H2 (40–47) |
 * | 48–79  | RFC 6056 §3.3.4 perturbation table: 16 uint16, little-endian |
 * @module
 */
import { type IsnSecret, keyedTupleHash, type SynCookieSecret } from '@mtcp/tcp-core'
import { StackError } from './errors.js'

/** Bytes the stack asks its random source for, once, at creation. */
export const STACK_RANDOM_BYTES = 80

/** Entries of RFC 6056 §3.3.4's perturbation table. */
export const PORT_TABLE_LENGTH = 16

/** Tweak words of the keyed hash (ASCII), one per use, besides the keys. */
const TIMESTAMP_TWEAK = 0x54534f46 // "TSOF"

/** @internal What the random source gave, split by use. */
export interface StackSecrets {
  isn: IsnSecret
  portOffset: IsnSecret
  portIndex: IsnSecret
  timestamp: IsnSecret
  cookie: SynCookieSecret
  /** RFC 6056 §3.3.4's table: 16-bit random starting values, counted up in 32 bits (no wrap to repeat ports early). */
  portTable: Uint32Array
}

/** @internal Draw the stack's secrets from `random` (see the module's table). */
export function drawSecrets(random: (bytes: Uint8Array) => void): StackSecrets {
  const bytes = new Uint8Array(STACK_RANDOM_BYTES)
  try {
    random(bytes)
  } catch (error) {
    throw new StackError('ERR_INVALID_CONFIG', `the random source threw: ${String(error)}`)
  }
  const view = new DataView(bytes.buffer)
  const pair = (offset: number): IsnSecret => [view.getUint32(offset, true), view.getUint32(offset + 4, true)]
  const portTable = new Uint32Array(PORT_TABLE_LENGTH)
  for (let i = 0; i < PORT_TABLE_LENGTH; i++) portTable[i] = view.getUint16(48 + 2 * i, true)
  return { isn: pair(0), portOffset: pair(8), portIndex: pair(16), timestamp: pair(24), cookie: [pair(32), pair(40)], portTable }
}

/**
 * A connection's timestamp offset (RFC 7323 §5.4 leaves the clock's origin free; as Linux, it is keyed, so
 * TSvals tell an observer nothing about uptime): a keyed hash of the 4-tuple. The same 4-tuple always gets
 * the same offset, so a new incarnation's TSvals continue the old one's clock, which RFC 6191 needs.
 */
export function timestampOffset(secrets: StackSecrets, localIp: number, localPort: number, remoteIp: number, remotePort: number): number {
  return keyedTupleHash(secrets.timestamp, localIp, localPort, remoteIp, remotePort, TIMESTAMP_TWEAK)
}

/** Tweak words of the IPv6 address digest (ASCII "V6D1", "V6D2"). */
const DIGEST_TWEAK_1 = 0x56364431
const DIGEST_TWEAK_2 = 0x56364432

/**
 * A keyed 32-bit digest of an IPv6 address (16 bytes at `bytes[offset]`), under the ISN key: what stands for
 * the address in the functions of a 4-tuple that take 32-bit addresses (RFC 6528's ISN, RFC 6056's ports,
 * the timestamp offsets, SYN cookies). Every bit of the address counts and, the key being secret, a peer
 * cannot choose two addresses with the same digest. Made once per connection, and for a listener's SYN
 * cookies once per SYN answered and per ACK checked; never for a segment of a connection. Allocates nothing.
 */
export function ipv6AddressDigest(secrets: StackSecrets, bytes: Uint8Array, offset = 0): number {
  const w2 = wordAt(bytes, offset + 8)
  const first = keyedTupleHash(secrets.isn, wordAt(bytes, offset), w2 >>> 16, wordAt(bytes, offset + 4), w2 & 0xffff, DIGEST_TWEAK_1)
  return keyedTupleHash(secrets.isn, first, 0, wordAt(bytes, offset + 12), 0, DIGEST_TWEAK_2)
}

/** The big-endian 32-bit word at `bytes[at]`. */
function wordAt(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0
}

/** Tweak word of the flow label (ASCII "FLOW"). */
const FLOW_LABEL_TWEAK = 0x464c4f57

/**
 * The flow label of a connection over IPv6 (RFC 6437 §3: the same for every packet of the flow, from a
 * keyed hash of its addresses and ports so that it is uniformly distributed and not predictable; never 0,
 * which means unlabelled). Addresses as their digests ({@link ipv6AddressDigest}).
 */
export function flowLabel(secrets: StackSecrets, localDigest: number, localPort: number, remoteDigest: number, remotePort: number): number {
  return keyedTupleHash(secrets.timestamp, localDigest, localPort, remoteDigest, remotePort, FLOW_LABEL_TWEAK) & 0xfffff || 1
}
