/**
 * The listen side's defences against SYN floods (RFC 4987): a bounded SYN queue per listener, separate
 * from the accept queue, and SYN cookies (RFC 4987 §3.6, tcp-core's rules/syn-cookies.ts) for the SYNs the
 * queue has no room for, or for every SYN.
 *
 * - The SYN queue holds the listener's half-open connections (SYN-RECEIVED). Its bound is the stack's
 *   `synBacklog`; half-open connections do not count against the accept backlog (`listen`'s), which only
 *   bounds established connections waiting for `accept` (as Linux's two queues).
 * - A SYN the queue cannot take gets a SYN-ACK whose sequence number is a cookie, and no state is kept; the
 *   ACK that comes back, validated, becomes an established connection at once.
 * @module
 */
import {
  checkSynCookie,
  cookieSackPermitted,
  cookieTimestamp,
  cookieWindowScale,
  emptyInboundSegment,
  type InboundSegment,
  makeSynCookie,
  type Micros,
  OutboundSegment,
  SYN_COOKIE_MAX_AGE,
  SYN_COOKIE_MSS_TABLE,
  SYN_COOKIE_PERIOD,
  synCookieCounter,
  synCookieMssIndex,
  type SynCookieSecret,
  type TcpConfig,
  TcpFlags,
  windowShiftFor,
} from '@mtcp/tcp-core'

/** When a listener answers with SYN cookies: `'whenFull'` (the SYN queue is full; default), `'always'` or `'never'`. */
export type SynCookieMode = 'always' | 'never' | 'whenFull'

/** The largest window field (16 bits). */
const MAX_WINDOW_FIELD = 0xffff
/** RFC 9293 §3.7.1: the MSS assumed when a SYN carries none. */
const DEFAULT_MSS = 536

/** @internal One listener's SYN queue: a count of its half-open connections, bounded. */
export class SynQueue {
  /** Half-open connections (SYN-RECEIVED) of this listener. */
  length = 0
  /** When this listener last answered with a cookie (µs); cookies are checked for two counter periods after. */
  lastCookieAt: Micros = Number.NEGATIVE_INFINITY

  constructor(public limit: number) {}

  /** Whether the queue can take no more. */
  get full(): boolean {
    return this.length >= this.limit
  }

  /** Whether a SYN should be answered with a cookie under `mode`. */
  wantsCookie(mode: SynCookieMode): boolean {
    return mode === 'always' || (mode === 'whenFull' && this.full)
  }

  /** Whether an ACK for no connection should be checked as a cookie's (Linux checks only after a recent overflow). */
  checksCookies(mode: SynCookieMode, now: Micros): boolean {
    return mode === 'always' || (mode === 'whenFull' && now - this.lastCookieAt < SYN_COOKIE_MAX_AGE * SYN_COOKIE_PERIOD)
  }
}

/** @internal Makes cookie SYN-ACKs and turns valid cookie ACKs back into SYNs. One per stack; reuses its segments. */
export class SynCookies {
  readonly #secret: SynCookieSecret
  readonly #out = new OutboundSegment()
  readonly #syn: InboundSegment = emptyInboundSegment()

  constructor(secret: SynCookieSecret) {
    this.#secret = secret
  }

  /**
   * The SYN-ACK for `syn` (RFC 9293 §3.10.7.2) whose ISS is a cookie. With timestamps (both sides), the
   * peer's window shift and SACK-permitted go in the TSval's low bits; without, only the MSS is kept, so
   * the SYN-ACK offers neither window scaling nor SACK.
   * @param receiveBufferSize - the listener's receive buffer (its window and window shift).
   * @param tsOffset - the connection's timestamp offset, as the connection would use (TSval = ms + offset).
   */
  synAck(now: Micros, config: TcpConfig, receiveBufferSize: number, localIp: number, localPort: number, remoteIp: number, remotePort: number, syn: InboundSegment, tsOffset: number): OutboundSegment {
    const mssIndex = synCookieMssIndex(syn.mss ?? DEFAULT_MSS)
    const out = this.#out
    out.reset()
    out.seq = makeSynCookie(this.#secret, synCookieCounter(now), localIp, localPort, remoteIp, remotePort, syn.seq, mssIndex)
    out.ack = (syn.seq + 1) >>> 0
    out.flags = TcpFlags.SYN | TcpFlags.ACK
    out.mss = config.mss
    // RFC 7323 §2.2: the window of a SYN is not scaled.
    out.window = Math.min(receiveBufferSize, MAX_WINDOW_FIELD)
    if (config.timestamps && syn.tsValue !== undefined) {
      const windowScale = config.windowScaling && syn.windowScale !== undefined ? syn.windowScale : -1
      const sack = config.sack && syn.sackPermitted
      out.timestamps = true
      // The connection's clock (rules/timestamps.ts): 1 ms per tick plus the offset.
      out.tsValue = cookieTimestamp((Math.floor(now / 1000) + tsOffset) >>> 0, windowScale, sack)
      out.tsEcho = syn.tsValue
      if (windowScale >= 0) out.windowScale = windowShiftFor(receiveBufferSize)
      out.sackPermitted = sack
    }
    return out
  }

  /**
   * If `ack` (ACK set, SYN and RST clear) completes a handshake we answered with a cookie, the SYN it
   * stands for, rebuilt (sequence number, MSS from the table, window scale and SACK-permitted from the
   * echoed TSval, the ACK's TSval as the SYN's); else undefined. The object is reused by the next call.
   */
  validate(now: Micros, config: TcpConfig, localIp: number, localPort: number, remoteIp: number, remotePort: number, ack: InboundSegment): InboundSegment | undefined {
    const peerIsn = (ack.seq - 1) >>> 0
    const mssIndex = checkSynCookie(this.#secret, synCookieCounter(now), localIp, localPort, remoteIp, remotePort, peerIsn, (ack.ack - 1) >>> 0)
    if (mssIndex < 0) return undefined
    const syn = this.#syn
    syn.seq = peerIsn
    syn.ack = 0
    syn.flags = TcpFlags.SYN
    syn.window = ack.window
    syn.mss = SYN_COOKIE_MSS_TABLE[mssIndex]!
    syn.windowScale = undefined
    syn.sackPermitted = false
    syn.tsValue = undefined
    syn.tsEcho = 0
    // Timestamps were on iff our SYN-ACK offered them, which it did iff the peer's SYN had them and we
    // use them: the peer then sends them on every segment (RFC 7323 §3.2).
    if (config.timestamps && ack.tsValue !== undefined) {
      const windowScale = cookieWindowScale(ack.tsEcho)
      if (windowScale === undefined) return undefined // not bits we wrote
      if (windowScale >= 0) {
        if (!config.windowScaling) return undefined
        syn.windowScale = windowScale
      }
      const sack = cookieSackPermitted(ack.tsEcho)
      if (sack && !config.sack) return undefined
      syn.sackPermitted = sack
      syn.tsValue = ack.tsValue
    }
    return syn
  }
}
