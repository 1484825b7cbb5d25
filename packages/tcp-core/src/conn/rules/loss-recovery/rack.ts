/**
 * RACK, the time-based half of RACK-TLP (RFC 8985 §6): a segment is lost when a segment sent after it
 * was delivered and a reordering window has passed since it went; not when DupThresh others were
 * SACKed. The clock is the transmission time of the most recently sent segment that was delivered
 * (RACK.xmit_ts), so a retransmission that is lost again is found as soon as anything sent after it is
 * delivered, without waiting for the RTO. The reordering window starts at a quarter of the minimum RTT,
 * is 0 while no reordering was seen and recovery is under way, and grows with every round trip that
 * brings a D-SACK (§6.2 step 4), decaying after 16 recoveries without one.
 *
 * The segments are the connection's {@link SentLog} entries: per entry its range, its latest
 * transmission time and the flags {@link SENT_SACKED} and {@link SENT_LOST}. The lost ones go to a
 * {@link LostQueue} that the recovery sends first.
 * @module
 */
import type { SackBlock, SackScoreboard } from '@mtcp/sack'
import type { Micros } from '../../../congestion/congestion-control.js'
import { seqAdd, seqGe, seqGt, seqLt, seqSub } from '../../../wire/seq.js'
import { SENT_LOST, SENT_SACKED, type SentLog } from '../../sent-log.js'
import type { LostQueue } from './lost-queue.js'

/** RFC 8985 §6.2 step 4: the number of recoveries a grown reordering window persists without a D-SACK. */
const REO_WND_PERSIST = 16
/** The largest reordering-window multiplier (RFC 8985 leaves it open; the window is capped at SRTT anyway). */
const MAX_REO_WND_MULT = 64
/** RFC 8985 §6.2 DupThresh for the reordering window's "segments SACKed" test. */
const DUP_THRESH = 3

/** @internal */
export class Rack {
  /** RACK.xmit_ts: transmission time of the most recently sent segment delivered; -1 before any. */
  xmitTs: Micros = -1
  /** RACK.end_seq: that segment's end. */
  endSeq = 0
  /** RACK.rtt: the RTT that segment's delivery measured. */
  rtt: Micros = 0
  /** RACK.min_RTT: the smallest RACK.rtt seen. */
  minRtt: Micros = Number.POSITIVE_INFINITY
  /** RACK.reord: reordering was seen (a segment delivered below RACK.fack without a retransmission). */
  reordering = false
  /** RACK.fack: the highest end of a segment delivered. */
  #fack = 0
  #fackSet = false
  /** RACK.reo_wnd_mult. */
  reoWndMult = 1
  /** RACK.reo_wnd_persist. */
  #reoWndPersist = 0
  /** RACK.dsack_round: SND.MAX when the last D-SACK grew the window; one growth per round trip. */
  #dsackRound = 0
  #dsackRoundOpen = false
  /** When the reordering timer (RFC 8985 §6.3) fires, or undefined. */
  timerAt: Micros | undefined = undefined
  /** Segments RACK marked lost since the connection began. */
  marked = 0
  /** Of those, retransmissions found lost again (RFC 8985 §2.2: without waiting for the RTO). */
  markedRetransmissions = 0

  /** Forget the RACK segment (after an RTO, everything outstanding is retransmitted anyway). */
  reset(): void {
    this.xmitTs = -1
    this.timerAt = undefined
    this.#dsackRoundOpen = false
    this.#fackSet = false
  }

  /**
   * RFC 8985 §6.2 step 2 RACK_update() for one delivered segment sent (last) at `xmitTs` and ending at
   * `end`. A retransmitted segment delivered sooner than the minimum RTT after its retransmission was
   * the original's delivery, and is not taken (§6.2 step 2's "ambiguity" test).
   */
  onDelivered(now: Micros, xmitTs: Micros, end: number, retransmitted: boolean): void {
    const rtt = now - xmitTs
    // §6.2 step 3 RACK_detect_reordering(): delivered below the highest delivered end, never retransmitted.
    if (this.#fackSet && seqLt(end, this.#fack) && !retransmitted) this.reordering = true
    if (!this.#fackSet || seqGt(end, this.#fack)) {
      this.#fack = end
      this.#fackSet = true
    }
    if (retransmitted && rtt < this.minRtt) return
    if (rtt >= 0 && rtt < this.minRtt) this.minRtt = rtt
    if (xmitTs > this.xmitTs || (xmitTs === this.xmitTs && seqGt(end, this.endSeq)) || this.xmitTs < 0) {
      this.xmitTs = xmitTs
      this.endSeq = end
      this.rtt = rtt
    }
  }

  /**
   * RFC 8985 §6.2 step 4 RACK_update_reo_wnd(): a D-SACK in a new round trip grows the multiplier and
   * restarts its persistence; a recovery that ends counts the persistence down.
   */
  onDsack(sndUna: number, sndMax: number): void {
    // A D-SACK says a retransmission was spurious: the network reorders (as Linux counts it in tcp_check_dsack).
    this.reordering = true
    if (this.#dsackRoundOpen && seqLt(sndUna, this.#dsackRound)) return
    this.#dsackRound = sndMax
    this.#dsackRoundOpen = true
    if (this.reoWndMult < MAX_REO_WND_MULT) this.reoWndMult++
    this.#reoWndPersist = REO_WND_PERSIST
  }

  /** A recovery ended: the reordering window decays back after {@link REO_WND_PERSIST} of them without a D-SACK. */
  onRecoveryEnd(): void {
    if (this.#reoWndPersist > 0 && --this.#reoWndPersist === 0) this.reoWndMult = 1
  }

  /** SND.UNA moved: the D-SACK round closes once it passes it (and never compares across 2^31, decision 0010). */
  onCumulativeAck(sndUna: number): void {
    if (this.#dsackRoundOpen && seqGe(sndUna, this.#dsackRound)) this.#dsackRoundOpen = false
    if (this.#fackSet && seqGt(sndUna, this.#fack)) this.#fack = sndUna
  }

  /**
   * RFC 8985 §6.2 step 4: RACK.reo_wnd. 0 while no reordering was seen and either recovery is under way
   * or DupThresh segments were SACKed (so a plain loss is repaired at once, as with RFC 6675); else
   * min(RACK.min_RTT / 4 × multiplier, SRTT).
   */
  reorderingWindow(inRecovery: boolean, sackedSegments: number, srtt: Micros | undefined): Micros {
    if (!this.reordering && (inRecovery || sackedSegments >= DUP_THRESH)) return 0
    if (this.minRtt === Number.POSITIVE_INFINITY) return 0
    const window = (this.minRtt / 4) * this.reoWndMult
    return srtt === undefined ? window : Math.min(window, srtt)
  }

  /**
   * SACKed entries: every log entry wholly inside one of the ACK's blocks is delivered (RFC 8985 §6.2
   * step 2 for the selectively acknowledged segments). Binary search per block, so an ACK costs
   * O(blocks × log n + newly SACKed entries).
   */
  onSackBlocks(now: Micros, log: SentLog, blocks: readonly SackBlock[], scoreboard: SackScoreboard): void {
    for (let b = 0; b < blocks.length; b++) {
      const block = blocks[b]!
      for (let i = log.indexAt(block.left); i < log.size; i++) {
        const start = log.startOf(i)
        if (!seqLt(start, block.right)) break
        const flags = log.flagsOf(i)
        if ((flags & SENT_SACKED) !== 0) continue
        const end = log.endOf(i)
        // Wholly SACKed: this block, or earlier blocks merged into the scoreboard, cover both ends.
        if (!scoreboard.isSacked(start) || !scoreboard.isSacked(seqAdd(end, -1))) continue
        log.setFlags(i, SENT_SACKED)
        this.onDelivered(now, log.timeOf(i), end, (flags & 1) !== 0)
      }
    }
  }

  /**
   * RFC 8985 §6.2 step 5 RACK_detect_loss(): every entry sent before the RACK segment, neither SACKed nor
   * already marked, is lost once `reoWnd` has passed beyond RACK.rtt since it went; it is marked and
   * queued. For the others, the reordering timer (§6.3) is set to when the first would be.
   * The walk stops at the first entry sent after the RACK segment beyond every retransmission.
   * @param limit - entries from here on are not looked at (SND.NXT while a timeout's go-back-N resends the flight)
   * @param highRetransmitted - the end of the highest retransmission outstanding (entries above it were sent once, in order)
   * @returns the bytes newly marked lost
   */
  detectLoss(now: Micros, log: SentLog, sndUna: number, limit: number, highRetransmitted: number, reoWnd: Micros, lost: LostQueue): number {
    this.timerAt = undefined
    if (this.xmitTs < 0) return 0
    let marked = 0
    let timeout = Number.NEGATIVE_INFINITY
    for (let i = log.indexAt(sndUna); i < log.size; i++) {
      if (!seqLt(log.startOf(i), limit)) break
      const flags = log.flagsOf(i)
      const sent = log.timeOf(i)
      const end = log.endOf(i)
      const retransmitted = (flags & 1) !== 0
      const after = sent > this.xmitTs || (sent === this.xmitTs && !seqLt(end, this.endSeq))
      if (after) {
        if (!retransmitted && seqGe(log.startOf(i), highRetransmitted)) break
        continue
      }
      if ((flags & (SENT_SACKED | SENT_LOST)) !== 0) continue
      const remaining = sent + this.rtt + reoWnd - now
      if (remaining <= 0) {
        const start = seqGt(sndUna, log.startOf(i)) ? sndUna : log.startOf(i)
        log.setFlags(i, SENT_LOST)
        lost.push(start, end)
        marked += seqSub(end, start)
        this.marked++
        if (retransmitted) this.markedRetransmissions++
      } else if (remaining > timeout) {
        timeout = remaining
      }
    }
    if (timeout > 0) this.timerAt = now + timeout
    return marked
  }

  /** Whether the reordering timer expired at `now` (and stop it). */
  timerExpired(now: Micros): boolean {
    if (this.timerAt === undefined || now < this.timerAt) return false
    this.timerAt = undefined
    return true
  }
}
