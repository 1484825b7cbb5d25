/**
 * SYN cookies (RFC 4987 §3.6): when a listener answers a SYN without keeping state, the SYN-ACK's
 * sequence number (our ISS) carries what the connection needs, keyed so that only we can make it, and
 * the ACK that completes the handshake (SEG.ACK = cookie + 1) brings it back.
 *
 * The layout follows the one Linux uses (facts, not its code):
 * - cookie = H1(4-tuple) + peer ISN + (counter << 24) + ((H2(4-tuple, counter) + data) mod 2^24), mod 2^32,
 *   where `counter` ticks once a {@link SYN_COOKIE_PERIOD} (RFC 4987's slowly incrementing `t`), H1 and H2
 *   are keyed hashes under two secret keys, and `data` is the index of the MSS in {@link SYN_COOKIE_MSS_TABLE}
 *   (RFC 4987's `m`, 2 bits here). A cookie is valid for {@link SYN_COOKIE_MAX_AGE} counter values. The
 *   sum is additive, so the MSS index's own 2 bits are not authenticated (a cookie off by one reads as the
 *   next index); a random guess passes with odds of about 2^-29 (2 counter values of 256, 4 indices of 2^24).
 * - Window scale and SACK-permitted do not fit in the sequence number: as Linux does, they ride in the low
 *   {@link COOKIE_TIMESTAMP_BITS} bits of the SYN-ACK's TSval, which the peer echoes in TSecr (RFC 7323
 *   §3.2). Low 4 bits: the peer's window shift, 0xf for none; bit 4: SACK-permitted; bit 5: ECN (reserved,
 *   always 0 here). Without timestamps only the MSS survives, so the cookie SYN-ACK offers no other option.
 * @module
 */
import type { Micros } from '../../congestion/congestion-control.js'
import { seqGt } from '../../wire/seq.js'
import { type IsnSecret, keyedTupleHash } from '../initial-sequence.js'

/** The two 64-bit keys of the cookie hashes H1 and H2. */
export type SynCookieSecret = readonly [IsnSecret, IsnSecret]

/** The MSS values a cookie can carry (IPv4; as Linux's table): the index is the cookie's 2-bit `data`. */
export const SYN_COOKIE_MSS_TABLE: readonly number[] = [536, 1300, 1440, 1460]

/** How long one value of the cookie counter lasts: 60 s (Linux's). */
export const SYN_COOKIE_PERIOD: Micros = 60_000_000

/** Counter values a cookie is accepted for: the one it was made in and the one after (60–120 s). */
export const SYN_COOKIE_MAX_AGE = 2

/** Low bits of the cookie SYN-ACK's TSval that carry the options. */
export const COOKIE_TIMESTAMP_BITS = 6
const TS_MASK = (1 << COOKIE_TIMESTAMP_BITS) - 1
const TS_WSCALE_MASK = 0xf
const TS_SACK = 0x10
/** H1's tweak word (ASCII "SYN1"): its key already differs from H2's; the word separates it from the ISN's F. */
const H1_TWEAK = 0x53594e31

/** The cookie counter at `now`. */
export function synCookieCounter(now: Micros): number {
  return Math.floor(now / SYN_COOKIE_PERIOD)
}

/** The index of the largest MSS in {@link SYN_COOKIE_MSS_TABLE} not above `mss` (0 when `mss` is below them all). */
export function synCookieMssIndex(mss: number): number {
  for (let i = SYN_COOKIE_MSS_TABLE.length - 1; i > 0; i--) if (SYN_COOKIE_MSS_TABLE[i]! <= mss) return i
  return 0
}

/** The 24-bit part that depends on the counter. */
function counterHash(secret: SynCookieSecret, counter: number, localIp: number, localPort: number, remoteIp: number, remotePort: number): number {
  return keyedTupleHash(secret[1], localIp, localPort, remoteIp, remotePort, counter)
}

/**
 * The cookie (our ISS) for a SYN from `remoteIp:remotePort` with sequence number `peerIsn`, made at
 * cookie counter `counter`, carrying `mssIndex` (RFC 4987 §3.6).
 */
export function makeSynCookie(secret: SynCookieSecret, counter: number, localIp: number, localPort: number, remoteIp: number, remotePort: number, peerIsn: number, mssIndex: number): number {
  const h1 = keyedTupleHash(secret[0], localIp, localPort, remoteIp, remotePort, H1_TWEAK)
  const h2 = counterHash(secret, counter, localIp, localPort, remoteIp, remotePort)
  return (h1 + peerIsn + ((counter & 0xff) << 24) + ((h2 + mssIndex) & 0xffffff)) >>> 0
}

/**
 * Check a cookie that came back as SEG.ACK − 1 of an ACK with SEG.SEQ − 1 = `peerIsn`, at cookie counter
 * `counter`. @returns the MSS index it carries, or -1 when it is not one of ours, or too old.
 */
export function checkSynCookie(secret: SynCookieSecret, counter: number, localIp: number, localPort: number, remoteIp: number, remotePort: number, peerIsn: number, cookie: number): number {
  const h1 = keyedTupleHash(secret[0], localIp, localPort, remoteIp, remotePort, H1_TWEAK)
  const rest = (cookie - h1 - peerIsn) >>> 0
  const age = (counter - (rest >>> 24)) & 0xff
  if (age >= SYN_COOKIE_MAX_AGE) return -1
  const h2 = counterHash(secret, counter - age, localIp, localPort, remoteIp, remotePort)
  const data = (rest - h2) & 0xffffff
  return data < SYN_COOKIE_MSS_TABLE.length ? data : -1
}

/**
 * The TSval of a cookie SYN-ACK: our clock `tsClock` with its low bits replaced by the options, moved one
 * step (64 ticks) back when that would put it ahead of the clock, so our TSvals never go backwards later.
 * @param windowScale - the peer's window shift from its SYN, or -1 when it sent none.
 */
export function cookieTimestamp(tsClock: number, windowScale: number, sackPermitted: boolean): number {
  const options = (windowScale >= 0 ? Math.min(windowScale, 14) : TS_WSCALE_MASK) | (sackPermitted ? TS_SACK : 0)
  let value = ((tsClock & ~TS_MASK) | options) >>> 0
  if (seqGt(value, tsClock)) value = (value - (TS_MASK + 1)) >>> 0
  return value
}

/** The peer's window shift carried by an echoed cookie TSval, -1 for none, or undefined when the bits are not ours (a shift above 14). */
export function cookieWindowScale(tsEcho: number): number | undefined {
  const bits = tsEcho & TS_WSCALE_MASK
  if (bits === TS_WSCALE_MASK) return -1
  return bits <= 14 ? bits : undefined
}

/** Whether an echoed cookie TSval says the peer's SYN was SACK-permitted. */
export function cookieSackPermitted(tsEcho: number): boolean {
  return (tsEcho & TS_SACK) !== 0
}
