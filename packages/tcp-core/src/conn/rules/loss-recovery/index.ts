/**
 * Loss recovery behind one interface: the connection reports ACKs, duplicate ACKs, timeouts and what it
 * sent; this module decides when a segment is lost, when fast recovery starts and ends, what the
 * recovery sends next and how much of it (the window during recovery). Three loss detections, chosen by
 * `TcpConfig.lossDetection`:
 * - `'rack'` (default): RACK-TLP, RFC 8985 (rack.ts; the TLP half is ../tail-loss-probe.ts), with
 *   Proportional Rate Reduction, RFC 6937 (prr.ts), for the window during recovery;
 * - `'rfc6675'`: SACK-based recovery, RFC 6675 §5 (DupThresh, IsLost, NextSeg and cwnd − pipe), with
 *   lost retransmissions found as rfc6675.ts says;
 * - `'newreno'`: duplicate ACKs and partial ACKs, RFC 5681 §3.2 and RFC 6582 (newreno.ts).
 * Without SACK negotiated every mode recovers as NewReno.
 * @module
 */
import { type NextSegment, type SackAckUpdate, type SackBlock, SackScoreboard } from '@mtcp/sack'
import type { CongestionControl, Micros } from '../../../congestion/congestion-control.js'
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqSub } from '../../../wire/seq.js'
import type { SentLog } from '../../sent-log.js'
import type { LossDetection } from '../../tcp-config.js'
import type { SpuriousUndo } from '../spurious-undo.js'
import type { TailLossProbe } from '../tail-loss-probe.js'
import { LostQueue } from './lost-queue.js'
import { DUP_THRESH, newRenoFastRetransmit } from './newreno.js'
import { ProportionalRateReduction } from './prr.js'
import { Rack } from './rack.js'
import { LostRetransmissions } from './rfc6675.js'

export { isNewRenoDuplicate } from './newreno.js'


/** What loss recovery reads from the connection; the connection implements it once, with getters. */
export interface RecoveryView {
  readonly sndUna: number
  readonly sndMax: number
  readonly sndNxt: number
  /** SND.NXT − SND.UNA. */
  readonly bytesInFlight: number
  /** The negotiated payload per segment (SMSS). */
  readonly mss: number
  /** The payload the next segment can carry (less while SACK blocks ride along). */
  readonly sendMss: number
  /** One past the last byte the application queued. */
  readonly dataEnd: number
  /** The peer's window, bytes. */
  readonly sndWnd: number
  readonly srtt: Micros | undefined
  /**
   * An ECN reduction already covers the window of data at SND.UNA (RFC 3168 §6.1.2): a loss found in it
   * starts a recovery that repairs without reducing the window again.
   */
  readonly windowReduced: boolean
  /** Count segments found lost in this ACK's measurement (CCP). */
  countLoss(segments: number): void
}

/** Counters loss recovery keeps in the connection's stats. */
export interface RecoveryStats {
  fastRetransmits: number
  duplicateAcksIn: number
  /** Segments RACK marked lost (RFC 8985 §6.2 step 5). */
  rackLostSegments: number
  /** Retransmissions found lost again and sent again without waiting for the RTO. */
  lostRetransmissions: number
}

/** The next segment a SACK recovery sends: one reused record. */
export interface RecoverySegment {
  seq: number
  length: number
  retransmission: boolean
  /** NextSeg rule 4's rescue retransmission (RFC 6675 §4). */
  rescue: boolean
  /** From the lost queue (RACK's marks, lost retransmissions), not from NextSeg. */
  lost: boolean
}

/** @internal */
export class LossRecovery {
  readonly mode: LossDetection
  /** Fast recovery is under way. */
  inRecovery = false
  /** The recovery under way (or the last) reduced the window when it started; false when an ECN reduction already covered its window (RFC 3168 §6.1.2). */
  reduced = false
  /** RFC 6582 §3.2 "recover" / RFC 6675 RecoveryPoint − 1. */
  recover: number
  /** NewReno: the first unacknowledged segment goes again at the next dispatch (fast retransmit, partial ACK). */
  retransmitHead = false
  /** The last {@link onNewAck} was NewReno's first partial ACK: the retransmission timer restarts (RFC 6582 §4.2). */
  restartRto = false
  /** The sender's SACK scoreboard, made on the first SACK block (never in `'newreno'` mode). */
  scoreboard: SackScoreboard | undefined = undefined
  readonly rack = new Rack()
  readonly prr = new ProportionalRateReduction()
  readonly lost = new LostQueue()
  #dupAcks = 0
  #partialAckSeen = false
  /**
   * RACK mode after a timeout, until SND.UNA passes `recover`: the flight goes again from SND.UNA
   * (go-back-N) in slow start, and what RACK finds lost among what went again is queued and sent within
   * cwnd (as Linux's CA_Loss state), instead of waiting for another timeout.
   */
  #afterTimeout = false
  readonly #lostRetransmissions = new LostRetransmissions()
  /** The end of the highest retransmission outstanding (RACK's walk stops above it). */
  #highRetransmitted: number
  readonly #next: RecoverySegment = { seq: 0, length: 0, retransmission: false, rescue: false, lost: false }

  constructor(
    mode: LossDetection,
    iss: number,
    readonly view: RecoveryView,
    readonly congestion: CongestionControl,
    readonly stats: RecoveryStats,
    readonly undo: SpuriousUndo,
    readonly tlp: TailLossProbe,
    readonly log: SentLog,
  ) {
    this.mode = mode
    this.recover = iss
    this.#highRetransmitted = iss
  }

  /** Whether the recovery under way is SACK-based (what it sends comes from {@link next}). */
  get sackRecovery(): boolean {
    return this.inRecovery && this.scoreboard !== undefined
  }

  /** After a timeout (RACK mode): lost retransmissions are queued; {@link next} gives them within cwnd, before go-back-N goes on. */
  get lostAfterTimeout(): boolean {
    return this.#afterTimeout && this.lost.size > 0
  }

  /** Whether RACK and PRR drive this connection (RACK mode, with SACK). */
  get #rackOn(): boolean {
    return this.mode === 'rack' && this.scoreboard !== undefined
  }

  /**
   * What cwnd is compared with outside fast recovery: with RACK, the {@link pipe} (SACKed data has left
   * the network, as Linux's tcp_packets_in_flight() counts it), so that while RACK waits out a
   * reordering window the SACKs still clock new data out, whose delivery in turn shows what was lost;
   * else SND.NXT − SND.UNA (RFC 5681 FlightSize).
   */
  get flightForWindow(): number {
    return this.#rackOn ? this.pipe() : this.view.bytesInFlight
  }

  /** RFC 6675 §5: every ACK updates the scoreboard, new cumulative ACK or not. */
  onAck(ack: number, blocks: readonly SackBlock[], sackOn: boolean): SackAckUpdate | undefined {
    if (this.scoreboard === undefined && sackOn && blocks.length > 0 && this.mode !== 'newreno') {
      this.scoreboard = new SackScoreboard({ mss: this.view.mss, sndUna: this.view.sndUna })
    }
    return this.scoreboard?.onAck(ack, blocks, this.view.sndMax)
  }

  /**
   * After the scoreboard took the ACK's blocks: end a recovery whose point was reached, note what was
   * SACKed (RACK, RFC 8985 §6.2 step 2), let a D-SACK grow the reordering window (§6.2 step 4), and find
   * lost retransmissions (RFC 6675 mode).
   */
  afterSack(now: Micros, sack: SackAckUpdate | undefined, blocks: readonly SackBlock[]): void {
    if (sack === undefined) return
    if (sack.recoveryEnded && this.inRecovery) this.#exitSackRecovery(now)
    if (this.#rackOn) {
      if (sack.dsack) this.rack.onDsack(this.view.sndUna, this.view.sndMax)
      if (sack.newlySackedBytes > 0) this.rack.onSackBlocks(now, this.log, blocks, this.scoreboard!)
      return
    }
    if (this.inRecovery) {
      const found = this.#lostRetransmissions.detect(this.scoreboard!, this.view.sndUna, this.view.mss, this.lost)
      if (found > 0) {
        this.stats.lostRetransmissions += found
        this.view.countLoss(found)
      }
    }
  }

  /** SND.UNA advanced to `ack`: stored sequence numbers it passed are pulled up (decision 0010). */
  onCumulativeAck(ack: number): void {
    if (!this.inRecovery && seqGt(ack, seqAdd(this.recover, 1))) this.recover = seqAdd(ack, -1)
    if (this.#afterTimeout && seqGt(ack, this.recover)) this.#afterTimeout = false
    if (seqGt(ack, this.#highRetransmitted)) this.#highRetransmitted = ack
    this.rack.onCumulativeAck(ack)
  }

  /** Whether an ACK of `ack` is a NewReno partial ACK, which restarts the RTO only once (RFC 6582 §4.2). */
  isPartialAck(ack: number): boolean {
    return this.inRecovery && !seqGt(ack, this.recover)
  }

  /**
   * New data acknowledged (RFC 6582 §3.2 steps 3 and 5, RFC 6675 §5). @returns whether the controller
   * grows the window with this ACK (not during recovery). Sets {@link restartRto} on NewReno's first partial ACK.
   */
  onNewAck(now: Micros, ack: number, acked: number, sack: SackAckUpdate | undefined): boolean {
    this.restartRto = false
    if (this.#rackOn) {
      // RFC 8985 §6.2 step 2 for the cumulatively acknowledged segments (the newest of them).
      if (this.log.ackedNewestTime >= 0) this.rack.onDelivered(now, this.log.ackedNewestTime, this.log.ackedNewestEnd, this.log.ackedNewestRetransmitted)
      if (this.inRecovery && seqGt(ack, this.recover)) this.#exitSackRecovery(now)
      return !this.inRecovery
    }
    if (this.inRecovery && sack !== undefined) {
      // RFC 6675 §5 (A): recovery ends when the recovery point is acknowledged; until then the pipe
      // estimate, not the window, decides what goes.
      if (sack.recoveryEnded || seqGt(ack, this.recover)) this.#exitSackRecovery(now)
      return false
    }
    if (this.inRecovery) {
      if (seqGt(ack, this.recover)) {
        // Full acknowledgment (RFC 6582 §3.2 step 3).
        this.inRecovery = false
        this.#dupAcks = 0
        if (this.reduced) this.congestion.onExitRecovery(now, this.view.bytesInFlight)
      } else {
        // Partial acknowledgment (RFC 6582 §3.2 step 5): retransmit the next hole.
        this.retransmitHead = true
        this.congestion.onPartialAck(now, acked)
        if (!this.#partialAckSeen) {
          this.#partialAckSeen = true
          this.restartRto = true
        }
      }
      return false
    }
    // RFC 6675 §5: a cumulative ACK resets DupAcks, and counts as one itself when it carries new SACK information.
    this.#dupAcks = sack !== undefined && sack.newlySackedBytes > 0 ? 1 : 0
    // With SACK, a new cumulative ACK can still leave a hole the scoreboard deems lost (RFC 6675 §4 IsLost).
    if (sack !== undefined && this.scoreboard!.isLost(this.view.sndUna) && seqGt(this.view.sndMax, this.view.sndUna)) this.enterRecovery(now)
    return !this.inRecovery
  }

  /** RFC 5681 §3.2 and RFC 6582 §3.2 (and RFC 6675 §5 with SACK): a duplicate ACK. */
  onDuplicateAck(now: Micros): void {
    this.stats.duplicateAcksIn++
    if (this.#rackOn) return // RACK decides by time (see {@link detectLoss})
    if (this.inRecovery) {
      // NewReno inflates the window per duplicate ACK; with SACK the pipe estimate already counts what left.
      if (this.scoreboard === undefined) this.congestion.onDuplicateAck(now)
      return
    }
    this.#dupAcks++
    const scoreboard = this.scoreboard
    // RFC 6675 §5 (1)–(2): DupThresh duplicate ACKs, or the scoreboard already deems SND.UNA lost.
    if (scoreboard !== undefined ? this.#dupAcks >= DUP_THRESH || scoreboard.isLost(this.view.sndUna) : newRenoFastRetransmit(this.#dupAcks)) this.enterRecovery(now)
  }

  /**
   * At the end of an ACK (RACK mode): RFC 8985 §6.2 step 5 marks what is lost, a first mark starts fast
   * recovery (§3.4), and PRR (RFC 6937 §3) sets what this ACK lets the recovery send.
   * @param delivered - DeliveredData of RFC 6937 §3: what this ACK reported delivered
   */
  afterAck(now: Micros, delivered: number): void {
    if (!this.#rackOn) return
    const newlyLost = this.#detect(now)
    if (this.inRecovery) this.prr.onAck(delivered, this.pipe(), this.congestion.slowStartThreshold, this.view.mss, newlyLost)
  }

  /** The RACK reordering timer (RFC 8985 §6.3), or undefined. */
  get timerAt(): Micros | undefined {
    return this.rack.timerAt
  }

  /** RFC 8985 §6.3 RACK_detect_loss_and_arm_timer() when the reordering timer expires. */
  runTimer(now: Micros): void {
    if (!this.rack.timerExpired(now) || !this.#rackOn) return
    const newlyLost = this.#detect(now)
    // What the timer found may go now: PRR's count again, with nothing newly delivered.
    if (this.inRecovery) this.prr.onAck(0, this.pipe(), this.congestion.slowStartThreshold, this.view.mss, newlyLost)
  }

  /** @returns whether segments were newly marked lost. */
  #detect(now: Micros): boolean {
    const view = this.view
    // After a timeout (go-back-N), RACK looks only at what went again (below SND.NXT), and starts no recovery.
    const afterTimeout = this.#afterTimeout && !this.inRecovery
    if (!seqGt(view.sndUna, this.recover) && !this.inRecovery && !afterTimeout) return false
    if (!this.inRecovery && !afterTimeout) {
      const lost = this.lost
      while (lost.size > 0 && seqLe(lost.end, view.sndUna)) lost.shift()
      if (this.scoreboard!.sackedBytes === 0 && this.rack.timerAt === undefined && lost.size === 0) return false
    }
    const reoWnd = this.rack.reorderingWindow(this.inRecovery, Math.floor(this.scoreboard!.sackedBytes / view.mss), view.srtt)
    const before = this.rack.marked
    const retransmissionsBefore = this.rack.markedRetransmissions
    this.rack.detectLoss(now, this.log, view.sndUna, afterTimeout ? view.sndNxt : view.sndMax, this.#highRetransmitted, reoWnd, this.lost)
    const marked = this.rack.marked - before
    this.stats.rackLostSegments += marked
    this.stats.lostRetransmissions += this.rack.markedRetransmissions - retransmissionsBefore
    if (this.inRecovery || afterTimeout) {
      if (marked > 0) view.countLoss(marked)
      return marked > 0
    }
    // A first mark starts recovery; so do marks left from the recovery that just ended (data it sent was lost too).
    if (marked === 0 && this.lost.size === 0) return false
    this.enterRecovery(now)
    if (marked > 1) view.countLoss(marked - 1)
    return true
  }

  /** RFC 6675 §4 SetPipe() (RFC 6675 mode), or RACK's: outstanding less SACKed less marked lost and not yet sent again. */
  pipe(): number {
    const view = this.view
    const scoreboard = this.scoreboard
    if (scoreboard === undefined) return view.bytesInFlight
    if (this.mode !== 'rack') return scoreboard.pipe(view.sndUna, view.sndMax)
    return Math.max(0, (this.#afterTimeout ? view.bytesInFlight : seqSub(view.sndMax, view.sndUna)) - scoreboard.sackedBytes - this.lost.bytes)
  }

  /** Fast retransmit and the start of recovery: NewReno (RFC 6582 §3.2 step 2), SACK (RFC 6675 §5 (4)) or RACK (RFC 8985 §3.4). */
  enterRecovery(now: Micros): void {
    if (this.inRecovery) return
    const view = this.view
    // RFC 6582 §3.2 step 2 (and RFC 6675's RecoveryPoint): only when the ACK covers more than `recover`,
    // so one window of losses after a timeout does not cause a second reduction.
    if (!seqGt(view.sndUna, this.recover)) return
    this.inRecovery = true
    this.#partialAckSeen = false
    // Recovery makes its own reduction and repairs; an open probe episode ends here (RFC 8985 §7.2: no PTO in recovery).
    this.tlp.cancel()
    this.recover = seqAdd(view.sndMax, -1)
    this.stats.fastRetransmits++
    view.countLoss(1)
    const sack = this.scoreboard !== undefined
    // RFC 3168 §6.1.2: "reduced only once in response to a series of dropped and/or CE packets from a
    // single window of data". When an ECN reduction covers this window, the recovery repairs (PRR with the
    // ssthresh that reduction set) without a second reduction, as Linux's recovery entered from its CWR
    // state keeps ssthresh; and there is nothing to undo (the ECN reduction cannot be undone).
    this.reduced = !view.windowReduced
    if (this.reduced) {
      this.undo.onRecoveryStart(this.congestion.onUndo !== undefined, view.sndUna, view.sndMax)
      // With SACK, recovery may have sent beyond cwnd (SND.NXT − SND.UNA counts data the receiver already
      // holds), so the reduction is taken from at most the congestion window, as Linux does (β·cwnd).
      const inNetwork = sack ? Math.min(view.bytesInFlight, this.congestion.window) : view.bytesInFlight
      this.congestion.onEnterRecovery(now, inNetwork, sack)
    }
    if (sack) {
      this.scoreboard!.enterRecovery(view.sndMax)
      // RFC 6937 §3: RecoverFS is the flight when recovery starts.
      if (this.mode === 'rack') this.prr.start(seqSub(view.sndMax, view.sndUna))
    } else {
      this.retransmitHead = true
    }
  }

  #exitSackRecovery(now: Micros): void {
    this.inRecovery = false
    this.#dupAcks = 0
    this.scoreboard!.exitRecovery()
    this.#lostRetransmissions.clear()
    // RACK's marks above the recovery point (new data sent during recovery and lost) stay: they start the next recovery.
    if (this.mode === 'rack') this.rack.onRecoveryEnd()
    else this.lost.clear()
    if (this.reduced) this.congestion.onExitRecovery(now, this.view.bytesInFlight)
  }

  /** The retransmission timer expired: recovery ends, everything outstanding goes again from SND.UNA. */
  onTimeout(): void {
    // RFC 2018 §8 / RFC 6675 §5.1: the receiver may have reneged; retransmit as if nothing was SACKed.
    this.scoreboard?.clearSacked()
    // RFC 6582 §3.2 step 1 / §4: remember the highest sequence number sent.
    this.recover = seqAdd(this.view.sndMax, -1)
    this.inRecovery = false
    this.#dupAcks = 0
    this.retransmitHead = false
    // The recovery's lists end with it: kept, their sequence numbers would go stale (decision 0010).
    this.#lostRetransmissions.clear()
    this.lost.clear()
    this.rack.reset()
    this.#afterTimeout = this.mode === 'rack'
  }

  /**
   * What a SACK recovery sends next, or undefined: first the lost queue, then RFC 6675 §4 NextSeg()
   * (RACK mode: new data only, since RACK, not IsLost(), says what is lost). RFC 6675 mode sends while
   * cwnd − pipe ≥ 1 SMSS (§5 (C)); RACK mode while PRR's sndcnt (RFC 6937 §3) is positive.
   */
  next(): RecoverySegment | undefined {
    const view = this.view
    const scoreboard = this.scoreboard!
    if (this.#afterTimeout && !this.inRecovery) {
      // After a timeout: lost retransmissions within cwnd (RFC 5681 §3.1's slow start governs).
      if (this.congestion.window - this.pipe() < view.mss) return undefined
    } else if (this.mode === 'rack') {
      if (this.prr.quota <= 0) return undefined
    } else if (this.congestion.window - scoreboard.pipe(view.sndUna, view.sndMax) < view.mss) {
      return undefined
    }
    const sndUna = view.sndUna
    const mss = view.sendMss
    const out = this.#next
    const lost = this.lost
    while (lost.size > 0) {
      const start = seqGt(sndUna, lost.start) ? sndUna : lost.start
      if (seqLe(lost.end, sndUna)) {
        lost.shift()
        continue
      }
      if (start !== lost.start) lost.advance(start)
      if (scoreboard.isSacked(start)) {
        lost.shift()
        continue
      }
      out.seq = start
      out.length = Math.min(mss, seqSub(lost.end, start))
      out.retransmission = true
      out.rescue = false
      out.lost = true
      return this.#afterTimeout && !this.inRecovery ? out : this.#withinQuota(out)
    }
    if (this.#afterTimeout && !this.inRecovery) return undefined // go-back-N sends the rest
    const window = Math.min(view.sndWnd, 0x7fffffff)
    let next: NextSegment | undefined
    if (this.mode === 'rack') {
      // RFC 6675 NextSeg rule 2 alone: new data within the peer's window.
      const dataEnd = view.dataEnd
      const windowEnd = seqAdd(sndUna, window)
      if (!seqLt(view.sndMax, dataEnd) || !seqLt(view.sndMax, windowEnd)) return undefined
      out.seq = view.sndMax
      out.length = Math.min(mss, seqSub(dataEnd, view.sndMax), seqSub(windowEnd, view.sndMax))
      out.retransmission = false
      out.rescue = false
      out.lost = false
      return this.#withinQuota(out)
    }
    next = scoreboard.nextSegment(sndUna, view.sndMax, view.dataEnd, window)
    if (next === undefined) return undefined
    out.seq = next.seq
    out.length = next.length
    out.retransmission = next.retransmission
    out.rescue = next.rescue
    out.lost = false
    // The scoreboard picks up to one SMSS; while SACK blocks ride along the segment holds less.
    if (out.length > mss) {
      // The rescue retransmission keeps its end, the highest unSACKed octet (RFC 6675 §4 NextSeg rule 4).
      if (out.rescue) out.seq = seqAdd(out.seq, out.length - mss)
      out.length = mss
    }
    return out
  }

  /**
   * RFC 6937 §3: a segment goes while PRR's sndcnt is positive (RACK mode; RFC 6675 mode checked cwnd −
   * pipe): counted in whole segments rounded up, as Linux's tcp_cwnd_reduction() counts packets.
   */
  #withinQuota(segment: RecoverySegment): RecoverySegment | undefined {
    return this.mode !== 'rack' || this.prr.quota > 0 ? segment : undefined
  }

  /** A segment {@link next} chose went, as [seq, end) (end counts a FIN). */
  onSent(segment: RecoverySegment, end: number): void {
    const seq = segment.seq
    if (segment.lost) {
      // The segment may hold less than the lost range did (the SACK option's room): the rest stays queued.
      if (seqGe(end, this.lost.end)) this.lost.shift()
      else this.lost.advance(end)
    } else {
      this.scoreboard!.markSent(seq, seqSub(end, seq), segment.retransmission, segment.rescue)
    }
    if (segment.retransmission) {
      if (seqGt(end, this.#highRetransmitted)) this.#highRetransmitted = end
      if (this.mode !== 'rack') this.#lostRetransmissions.onRetransmission(seq, end, this.view.sndMax)
    }
    if (this.mode === 'rack' && this.inRecovery) this.prr.onSent(seqSub(end, seq))
  }

  /** A retransmission outside a SACK recovery (NewReno's head, a probe, go-back-N) ends at `end`. */
  onRetransmitted(end: number): void {
    if (seqGt(end, this.#highRetransmitted)) this.#highRetransmitted = end
  }
}
