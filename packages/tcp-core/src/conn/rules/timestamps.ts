/**
 * RFC 7323 §3–§5: the timestamps option once negotiated — our TSval clock, TS.Recent and its update
 * rule, PAWS, and the rule that every segment then carries the option.
 * @module
 */
import type { Micros } from '../../congestion/congestion-control.js'
import { seqGe, seqLe, seqLt } from '../../wire/seq.js'
import { TcpFlags } from '../../wire/tcp.js'
import type { InboundSegment } from '../segment.js'

/** RFC 7323 §5.5: PAWS does not apply after 24 days idle. */
const PAWS_IDLE_LIMIT: Micros = 24 * 86_400 * 1_000_000

/** What {@link Timestamps.check} says of an arriving segment. */
export const TimestampVerdict = {
  /** Go on with the segment. */
  Ok: 0,
  /** RFC 7323 §3.2: no option on a non-RST segment after negotiation: drop silently. */
  Missing: 1,
  /** RFC 7323 §5.3 R1: an old duplicate by its timestamp: drop and acknowledge. */
  Paws: 2,
} as const

/** @internal One connection's timestamp state. */
export class Timestamps {
  /** Whether both ends sent the option in their SYNs (RFC 7323 §3.2). */
  on = false
  /** TS.Recent: the TSval to echo. */
  recent = 0
  #recentAt: Micros = 0
  readonly #offset: number

  /** @param offset - added to the ms clock (RFC 7323 §5.4 leaves the origin free; per connection). */
  constructor(offset: number) {
    this.#offset = offset
  }

  /** The offset added to the ms clock. */
  get offset(): number {
    return this.#offset
  }

  /** The peer's SYN: timestamps are on when we offer them and it sent the option (RFC 7323 §3.2). */
  negotiate(offered: boolean, synValue: number | undefined, now: Micros): void {
    this.on = offered && synValue !== undefined
    if (this.on) {
      this.recent = synValue!
      this.#recentAt = now
    }
  }

  /** Our TSval at `now`: 1 ms per tick (RFC 7323 §5.4), plus the offset, modulo 2^32. */
  clock(now: Micros): number {
    return (Math.floor(now / 1000) + this.#offset) >>> 0
  }

  /** RFC 7323 §3.2 and §5.3 R1, before the sequence-number check. */
  check(segment: InboundSegment, now: Micros): 0 | 1 | 2 {
    if (!this.on || segment.flags & TcpFlags.RST) return TimestampVerdict.Ok
    // §3.2: "If a non-<RST> segment is received without a TSopt, a TCP SHOULD silently drop the segment."
    if (segment.tsValue === undefined) return TimestampVerdict.Missing
    // §5.3 R1, except once TS.Recent is 24 days old (§5.5).
    if (seqLt(segment.tsValue, this.recent) && now - this.#recentAt < PAWS_IDLE_LIMIT) return TimestampVerdict.Paws
    return TimestampVerdict.Ok
  }

  /**
   * RFC 7323 §4.3: remember the TSval of the segment that will be acknowledged next (SEG.SEQ ≤
   * Last.ACK.sent). §5.5: a TS.Recent 24 days old is invalid (the peer's clock may have moved 2^31 ticks,
   * which flips the comparison), so the value replaces it whatever it compares as (Linux's tcp_paws_check).
   */
  remember(segment: InboundSegment, lastAckSent: number, now: Micros): void {
    const value = segment.tsValue
    if (!this.on || value === undefined) return
    if ((seqGe(value, this.recent) || now - this.#recentAt >= PAWS_IDLE_LIMIT) && seqLe(segment.seq, lastAckSent)) {
      this.recent = value
      this.#recentAt = now
    }
  }
}
