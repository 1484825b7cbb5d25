/**
 * The sender's SACK scoreboard and the conservative SACK-based loss recovery of RFC 6675, over byte
 * sequence numbers modulo 2^32.
 *
 * - RFC 6675 §3, §4 Update(): each ACK marks the octets its blocks cover as SACKed and drops everything
 *   the cumulative ACK covers. SACKed octets are kept as sorted ranges (no per-byte or per-segment state).
 * - RFC 2018 §5 and §8, RFC 6675 §5.1 (reneging): SACKed data stays marked until it is cumulatively
 *   acknowledged, even if later ACKs stop reporting it; an ACK whose cumulative point stops at the start
 *   of a SACKed range is reported as `reneging`. On a retransmission timeout
 *   {@link SackScoreboard.clearSacked} forgets all SACK information, so the reneged data is retransmitted
 *   like any other.
 * - RFC 6675 §4 IsLost(), SetPipe() and NextSeg() rules 1 to 4, with HighRxt and RescueRxt; §5 steps
 *   (4.1), (4.3), (A) and (C.2) through {@link SackScoreboard.enterRecovery}, {@link SackScoreboard.markSent}
 *   and the end of recovery in {@link SackScoreboard.onAck}.
 * - RFC 2883 §5: a D-SACK block is recognized against the ACK of the same segment and reported. It lies
 *   below that ACK or inside the second block, so it marks nothing new (only what it might cover above
 *   SND.UNA, which the receiver holds).
 * - RFC 6937 §3: `deliveredBytes` of an ACK is the change in SND.UNA plus the change in SACKed octets.
 *
 * ## From RFC octets to sequence numbers
 *
 * RFC 6675 names octets: HighACK is the last octet cumulatively acknowledged, HighData the last octet
 * sent, HighRxt the last octet retransmitted. Here every such point is an exclusive end, as TCP's own
 * variables are: `sndUna` = HighACK + 1, `sndNxt` = HighData + 1, {@link SackScoreboard.highRxt} =
 * HighRxt + 1, {@link SackScoreboard.rescueRxt} = RescueRxt + 1, and the recovery point is SND.NXT at
 * the start of recovery (HighData + 1), so recovery ends when the cumulative ACK reaches it. "S1 ≤ HighRxt"
 * becomes `S1 < highRxt`, "S2 > HighRxt" becomes `S2 ≥ highRxt`, "HighACK > RescueRxt" becomes
 * `sndUna > rescueRxt`.
 *
 * ## Loss as a prefix
 *
 * IsLost(S) counts what is SACKed above S; that can only shrink as S grows, so the unSACKed octets that
 * are lost are exactly those below one point (the left edge of the highest range that makes the octets
 * under it lost). The scoreboard keeps that point, so `pipe`, `lostBytes` and `nextSegment` are
 * O(ranges), and `newlyLostBytes` is the unSACKed data the point moved over.
 *
 * Everything is pure: no clock, no I/O. Wrap-safe: every comparison is serial (RFC 1982 §3.2), so a
 * transfer may cross 2^32 at any point.
 * @module
 */
import { checkIntegerArgument, checkIntegerOption, checkSequenceNumber } from './errors.js'
import type { SackBlock } from './sack-block.js'
import { seqAdd, seqDistance, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin } from './seq.js'
import { SeqRangeSet } from './seq-range-set.js'
import { isDsackBlock, sackBlockProblem } from './validate-sack-blocks.js'

/** Largest SMSS accepted (the MSS option is 16 bits, RFC 9293 §3.7.1). */
const MAX_MSS = 65_535
/** Largest DupThresh accepted. */
const MAX_DUP_THRESH = 1024
/** Largest window accepted by {@link SackScoreboard.nextSegment}: 2^31 − 1. */
const MAX_WINDOW = 0x7fffffff

/** Settings of a {@link SackScoreboard}. */
export interface SackScoreboardOptions {
  /** SMSS, the sender's maximum segment size in bytes, in [1, 65535] (RFC 6675 §2; RFC 5681 §2). */
  mss: number
  /** DupThresh, in [1, 1024]; default 3 (RFC 6675 §2). */
  dupThresh?: number
  /** SND.UNA when the scoreboard is created; default: the cumulative ACK of the first {@link SackScoreboard.onAck}. */
  sndUna?: number
}

/** What one ACK changed, returned by {@link SackScoreboard.onAck}. A new object each call. */
export interface SackAckUpdate {
  /** Octets the cumulative ACK newly acknowledged (the advance of SND.UNA). */
  newlyAckedBytes: number
  /** Octets newly marked SACKed by this ACK's blocks (what they cover above SND.UNA, not SACKed before). */
  newlySackedBytes: number
  /** Newly SACKed octets in segments: each block's newly SACKed octets rounded up to whole SMSS. */
  newlySackedSegments: number
  /** UnSACKed octets that this ACK made lost by RFC 6675 §4 IsLost(). */
  newlyLostBytes: number
  /** Newly lost octets in segments: each newly lost hole rounded up to whole SMSS. */
  newlyLostSegments: number
  /**
   * Octets that left the network with this ACK: the advance of SND.UNA plus the change in SACKed octets
   * (RFC 6937 §3 DeliveredData). Data that was SACKed before and is now cumulatively acknowledged counts once.
   */
  deliveredBytes: number
  /** The first block was a D-SACK (RFC 2883 §5): a duplicate arrived at the receiver. */
  dsack: boolean
  /** The D-SACK block (the received object itself), when {@link dsack} is true. */
  dsackBlock: SackBlock | undefined
  /** Blocks rejected by the checks of {@link validateSackBlocks}, or all of them if the ACK itself was not acceptable. */
  rejectedBlocks: number
  /**
   * The cumulative ACK stopped at the left edge of a SACKed range: the receiver reported that data and has
   * since discarded it (RFC 2018 §8). The range stays marked until an RTO ({@link SackScoreboard.clearSacked}).
   */
  reneging: boolean
  /** This ACK reached the recovery point and ended loss recovery (RFC 6675 §5 step (A)). */
  recoveryEnded: boolean
}

/** A segment to send, from {@link SackScoreboard.nextSegment}. */
export interface NextSegment {
  /** First sequence number of the segment. */
  seq: number
  /** Octets to send, in [1, SMSS]. */
  length: number
  /** The octets were sent before (NextSeg rules 1, 3 and 4); false for new data (rule 2). */
  retransmission: boolean
  /** The rescue retransmission of NextSeg rule 4: pass it to {@link SackScoreboard.markSent}. */
  rescue: boolean
}

/**
 * The sender's record of SACKed data and the RFC 6675 loss recovery that reads it. See the module notes for
 * the mapping from the RFC's octets to sequence numbers.
 *
 * Per ACK: {@link onAck}. To decide on fast retransmit (RFC 6675 §5): {@link isLost}`(sndUna)` or the
 * duplicate ACK count, then {@link enterRecovery}`(sndNxt)`. While `cwnd − pipe ≥ SMSS`: {@link nextSegment},
 * send it, {@link markSent}. On a retransmission timeout: {@link clearSacked}.
 *
 * @example
 * ```ts
 * const scoreboard = new SackScoreboard({ mss: 1000 })
 * scoreboard.onAck(0, [{ left: 1000, right: 4000 }], 10_000)
 * scoreboard.isLost(0) // true: 3000 octets SACKed above it, more than (3 − 1) × 1000
 * scoreboard.enterRecovery(10_000)
 * scoreboard.nextSegment(0, 10_000, 10_000, 65_535) // { seq: 0, length: 1000, retransmission: true, rescue: false }
 * ```
 */
export class SackScoreboard {
  /** SMSS in bytes. */
  readonly mss: number
  /** DupThresh. */
  readonly dupThresh: number
  readonly #sacked = new SeqRangeSet()
  /** SND.UNA as of the last ACK (HighACK + 1); undefined until the first ACK when not configured. */
  #sndUna: number | undefined
  /** Every unSACKed octet in [sndUna, lossPoint) is lost by IsLost(); none above is. */
  #lossPoint = 0
  #inRecovery = false
  #recoveryPoint: number | undefined
  #highRxt: number | undefined
  #rescueRxt: number | undefined

  /** @throws {@link SackUsageError} `ERR_INVALID_CONFIG` naming the option and its range. */
  constructor(options: SackScoreboardOptions) {
    this.mss = checkIntegerOption('mss', options.mss, 1, MAX_MSS)
    this.dupThresh = checkIntegerOption('dupThresh', options.dupThresh ?? 3, 1, MAX_DUP_THRESH)
    if (options.sndUna !== undefined) {
      checkIntegerOption('sndUna', options.sndUna, 0, 0xffffffff)
      this.#sndUna = options.sndUna
      this.#lossPoint = options.sndUna
    }
  }

  /** Octets currently marked SACKed (above SND.UNA). */
  get sackedBytes(): number {
    return this.#sacked.bytes
  }

  /** One past the highest SACKed octet (the right edge of the highest range), or undefined when nothing is SACKed. */
  get highestSacked(): number | undefined {
    const rights = this.#sacked.rights
    return rights.length === 0 ? undefined : rights[rights.length - 1]
  }

  /** UnSACKed octets between SND.UNA and the highest SACKed octet that IsLost() declares lost (RFC 6675 §4). */
  get lostBytes(): number {
    const sndUna = this.#sndUna
    return sndUna === undefined ? 0 : this.#sacked.uncoveredBetween(sndUna, this.#lossPoint)
  }

  /** Number of disjoint SACKed ranges (the holes are at most one more). */
  get rangeCount(): number {
    return this.#sacked.count
  }

  /** SND.UNA as of the last ACK, or undefined before the first one when none was configured. */
  get sndUna(): number | undefined {
    return this.#sndUna
  }

  /** In loss recovery: between {@link enterRecovery} and its end (recovery point ACKed, {@link exitRecovery}, {@link clearSacked}). */
  get inRecovery(): boolean {
    return this.#inRecovery
  }

  /** The recovery point while in recovery (SND.NXT when it began, RFC 6675 §5 (4.1)), else undefined. */
  get recoveryPoint(): number | undefined {
    return this.#recoveryPoint
  }

  /** One past the highest octet retransmitted (RFC 6675 HighRxt + 1), or undefined when nothing above SND.UNA was. */
  get highRxt(): number | undefined {
    return this.#highRxt
  }

  /** RFC 6675 RescueRxt + 1 while in recovery, or undefined before the first retransmission of the recovery. */
  get rescueRxt(): number | undefined {
    return this.#rescueRxt
  }

  /**
   * Apply one acceptable ACK (RFC 6675 §4 Update()): advance SND.UNA to `ack` and drop what it covers, mark
   * what the SACK blocks cover, find the D-SACK block (RFC 2883 §5), update the loss point, and end
   * recovery when `ack` reaches the recovery point (RFC 6675 §5 (A); `recoveryEnded`). Never throws on
   * bad blocks: they are counted in `rejectedBlocks`. An `ack` before SND.UNA (a reordered ACK) moves
   * nothing back but its blocks are still used; an `ack` after `sndNxt` acknowledges data never sent and
   * changes nothing (RFC 9293 §3.10.7.4), all its blocks counted as rejected.
   * @param ack - the segment's cumulative ACK field
   * @param blocks - its SACK blocks as received, e.g. from {@link decodeSackOption}
   * @param sndNxt - one past the highest octet sent so far (SND.NXT, or SND.MAX if the connection rewinds
   *   SND.NXT on an RTO): blocks beyond it are rejected
   */
  onAck(ack: number, blocks: readonly SackBlock[], sndNxt: number): SackAckUpdate {
    checkSequenceNumber('ack', ack)
    checkSequenceNumber('sndNxt', sndNxt)
    const update: SackAckUpdate = {
      newlyAckedBytes: 0,
      newlySackedBytes: 0,
      newlySackedSegments: 0,
      newlyLostBytes: 0,
      newlyLostSegments: 0,
      deliveredBytes: 0,
      dsack: false,
      dsackBlock: undefined,
      rejectedBlocks: 0,
      reneging: false,
      recoveryEnded: false,
    }
    if (this.#sndUna === undefined) {
      this.#sndUna = ack
      this.#lossPoint = ack
    }
    let sndUna = this.#sndUna
    if (seqGt(ack, sndNxt) || seqGt(sndUna, sndNxt)) {
      update.rejectedBlocks = blocks.length // RFC 9293 §3.10.7.4: ACK of something not yet sent
      return update
    }
    const sacked = this.#sacked
    let sackedRemoved = 0
    if (seqGt(ack, sndUna)) {
      update.newlyAckedBytes = seqDistance(ack, sndUna)
      sackedRemoved = sacked.trimBelow(ack)
      sndUna = ack
      this.#sndUna = ack
      if (this.#highRxt !== undefined && seqLe(this.#highRxt, ack)) this.#highRxt = undefined
    }

    // RFC 6675 §4 Update(): mark what each valid block covers above SND.UNA. The D-SACK block (RFC 2883 §5)
    // reports a duplicate: data below the ACK, or inside the second block, so it normally adds nothing.
    const span = seqDistance(sndNxt, sndUna)
    const first = blocks[0]
    const dsack =
      first !== undefined && sackBlockProblem(first.left, first.right, ack, sndNxt) === undefined && isDsackBlock(blocks, ack, sndNxt)
    for (let b = 0; b < blocks.length; b++) {
      const block = blocks[b]!
      if (sackBlockProblem(block.left, block.right, ack, sndNxt) !== undefined) update.rejectedBlocks++
      else if (b > 0 || !dsack) this.#mark(block, sndUna, span, update)
    }
    if (dsack) {
      update.dsack = true
      update.dsackBlock = first
      this.#mark(first, sndUna, span, update) // last, so that the block holding it counts its segments
    }
    update.deliveredBytes = update.newlyAckedBytes - sackedRemoved + update.newlySackedBytes // RFC 6937 §3

    // RFC 6675 §4 IsLost(): the loss point only moves up while SACK information accumulates.
    const before = seqMax(this.#lossPoint, sndUna)
    const after = this.#computeLossPoint(sndUna)
    if (seqGt(after, before)) {
      update.newlyLostBytes = sacked.uncoveredBetween(before, after)
      update.newlyLostSegments = sacked.uncoveredSegmentsBetween(before, after, this.mss)
    }
    this.#lossPoint = after

    // RFC 2018 §8: the receiver holds a SACKed range starting at the cumulative ACK, yet did not ACK past it.
    update.reneging = sacked.count > 0 && sacked.lefts[0] === sndUna

    // RFC 6675 §5 (A): a cumulative ACK covering RecoveryPoint (HighData at entry) ends loss recovery.
    if (this.#inRecovery && seqGe(sndUna, this.#recoveryPoint!)) {
      this.exitRecovery()
      update.recoveryEnded = true
    }
    return update
  }

  /** Mark what a valid `block` covers in [sndUna, sndUna + span) as SACKed, counting it in `update`. */
  #mark(block: SackBlock, sndUna: number, span: number, update: SackAckUpdate): void {
    // What the cumulative ACK covers is not SACKed. Offsets from SND.UNA, since a valid block may start up
    // to 2^31 − 1 below the ACK, farther than serial order reaches.
    const rightOffset = seqDistance(block.right, sndUna)
    if (rightOffset === 0 || rightOffset > span) return // at or below SND.UNA
    const left = seqDistance(block.left, sndUna) >= rightOffset ? sndUna : block.left
    const added = this.#sacked.add(left, block.right)
    if (added > 0) {
      update.newlySackedBytes += added
      update.newlySackedSegments += Math.ceil(added / this.mss) // rounded up per block
    }
  }

  /** The lowest sequence number at or above which no unSACKed octet is lost (RFC 6675 §4 IsLost()). */
  #computeLossPoint(sndUna: number): number {
    const lefts = this.#sacked.lefts
    const rights = this.#sacked.rights
    const byteLimit = (this.dupThresh - 1) * this.mss
    let ranges = 0
    let bytes = 0
    // Walking down: the hole under range i has ranges i.. above it, all of their octets above it.
    for (let i = lefts.length - 1; i >= 0; i--) {
      ranges++
      bytes += seqDistance(rights[i]!, lefts[i]!)
      if (ranges >= this.dupThresh || bytes > byteLimit) return lefts[i]!
    }
    return sndUna
  }

  /**
   * RFC 6675 §4 IsLost(seq): DupThresh discontiguous SACKed ranges lie above `seq`, or more than
   * (DupThresh − 1) × SMSS SACKed octets do. As in the RFC, whether `seq` itself is SACKed is not asked.
   */
  isLost(seq: number): boolean {
    const lefts = this.#sacked.lefts
    const rights = this.#sacked.rights
    const byteLimit = (this.dupThresh - 1) * this.mss
    const above = seqAdd(seq, 1) // octets strictly greater than seq
    let ranges = 0
    let bytes = 0
    for (let i = lefts.length - 1; i >= 0; i--) {
      const right = rights[i]!
      if (seqLe(right, above)) break
      ranges++
      bytes += seqDistance(right, seqMax(lefts[i]!, above))
      if (ranges >= this.dupThresh || bytes > byteLimit) return true
    }
    return false
  }

  /** `seq` is marked SACKed. */
  isSacked(seq: number): boolean {
    return this.#sacked.has(seq)
  }

  /** The SACKed ranges, lowest first, as new objects (for diagnostics and tests; allocates). */
  sackedRanges(): SackBlock[] {
    const lefts = this.#sacked.lefts
    const rights = this.#sacked.rights
    const ranges: SackBlock[] = []
    for (let i = 0; i < lefts.length; i++) ranges.push({ left: lefts[i]!, right: rights[i]! })
    return ranges
  }

  /**
   * RFC 6675 §4 SetPipe(): the octets estimated in flight. Each unSACKed octet in `[sndUna, sndNxt)`
   * counts once if IsLost() is false for it, and once more if it was retransmitted (below HighRxt), so
   * an octet retransmitted without being lost counts twice.
   */
  pipe(sndUna: number, sndNxt: number): number {
    if (this.#sndUna === undefined) return seqLt(sndUna, sndNxt) ? seqDistance(sndNxt, sndUna) : 0 // no ACK yet: nothing SACKed
    const from = seqMax(sndUna, this.#sndUna)
    if (!seqLt(from, sndNxt)) return 0
    const sacked = this.#sacked
    const notLost = sacked.uncoveredBetween(seqMax(this.#lossPoint, from), sndNxt) // (a) IsLost(S1) is false
    const highRxt = this.#highRxt
    const retransmitted = highRxt === undefined ? 0 : sacked.uncoveredBetween(from, seqMin(highRxt, sndNxt)) // (b) S1 ≤ HighRxt
    return notLost + retransmitted
  }

  /**
   * RFC 6675 §4 NextSeg(): the next segment to send, or undefined when there is none.
   * 1. The first unSACKed octet at or above HighRxt, below the highest SACKed octet, that IsLost(): up to
   *    SMSS octets of it, ending at the next SACKed range.
   * 2. Else new data: up to SMSS octets from `sndNxt`, within `dataEnd` and the peer's window.
   * 3. In recovery, else: the octet of rule 1 without the IsLost() condition.
   * 4. In recovery, else, once per recovery (only when SND.UNA is past RescueRxt): the rescue
   *    retransmission, up to SMSS octets ending at the highest unSACKed octet.
   *
   * Outside recovery only rules 1 and 2 apply (after an RTO, RFC 6675 §5.1 still uses new SACK
   * information). Asking does not change anything: report what was sent with {@link markSent}.
   * @param sndUna - SND.UNA
   * @param sndNxt - SND.NXT: one past the highest octet sent (HighData + 1)
   * @param dataEnd - one past the last octet the application has queued
   * @param window - the peer's advertised window in octets (SND.WND, scaled), in [0, 2^31 − 1]: new data
   *   may go up to `sndUna + window`
   */
  nextSegment(sndUna: number, sndNxt: number, dataEnd: number, window: number): NextSegment | undefined {
    checkIntegerArgument('window', window, 0, MAX_WINDOW)
    const una = this.#sndUna === undefined ? sndUna : seqMax(sndUna, this.#sndUna)
    const mss = this.mss
    const lefts = this.#sacked.lefts
    const rights = this.#sacked.rights
    const count = lefts.length

    // S: the first unSACKed octet at or above HighRxt (rule 1.a) and SND.UNA, and the end of its hole.
    const start = this.#highRxt === undefined ? una : seqMax(this.#highRxt, una)
    let index = this.#sacked.indexAbove(start)
    let s = start
    if (index < count && seqLe(lefts[index]!, s)) s = rights[index++]!
    // Rule 1.b: below the highest octet SACKed, which means a SACKed range lies above S.
    const inHole = index < count && seqLt(s, sndNxt)
    if (inHole && seqLt(s, this.#lossPoint)) {
      return { seq: s, length: Math.min(mss, seqDistance(lefts[index]!, s)), retransmission: true, rescue: false } // rule 1
    }

    // Rule 2: previously unsent data, if the application has some and the receiver's window allows.
    if (seqLt(sndNxt, dataEnd)) {
      const windowEnd = seqAdd(una, window)
      if (seqLt(sndNxt, windowEnd)) {
        const length = Math.min(mss, seqDistance(dataEnd, sndNxt), seqDistance(windowEnd, sndNxt))
        return { seq: sndNxt, length, retransmission: false, rescue: false }
      }
    }
    if (!this.#inRecovery) return undefined

    // Rule 3: as rule 1 without IsLost().
    if (inHole) {
      return { seq: s, length: Math.min(mss, seqDistance(lefts[index]!, s)), retransmission: true, rescue: false }
    }

    // Rule 4: one rescue retransmission per recovery, once HighACK > RescueRxt (SND.UNA > rescueRxt here).
    if (this.#rescueRxt !== undefined && !seqGt(una, this.#rescueRxt)) return undefined
    // The highest unSACKed octet is just below SND.NXT, or just below the range that ends at SND.NXT.
    let top = count - 1
    let end = sndNxt
    if (top >= 0 && seqGe(rights[top]!, sndNxt)) {
      end = lefts[top]!
      top--
    }
    if (!seqGt(end, una)) return undefined // nothing unSACKed is outstanding
    const holeStart = top >= 0 ? seqMax(rights[top]!, una) : una
    const seq = seqMax(holeStart, seqAdd(end, -mss))
    return { seq, length: seqDistance(end, seq), retransmission: true, rescue: true }
  }

  /**
   * Record that a segment was sent (RFC 6675 §5 (C.2)). A retransmission raises HighRxt to its end,
   * unless it is the rescue retransmission of NextSeg rule 4, which instead sets RescueRxt to the
   * recovery point. The first retransmission of a recovery (the fast retransmit of §5 (4.3)) also sets
   * RescueRxt to its end. New data changes nothing here: SND.NXT is the caller's.
   * @param rescue - the segment came from {@link nextSegment} with `rescue: true`
   */
  markSent(seq: number, length: number, retransmission: boolean, rescue = false): void {
    checkSequenceNumber('seq', seq)
    checkIntegerArgument('length', length, 0, MAX_WINDOW)
    if (!retransmission || length === 0) return
    if (rescue) {
      if (this.#inRecovery) this.#rescueRxt = this.#recoveryPoint // rule 4: HighRxt MUST NOT be updated
      return
    }
    const end = seqAdd(seq, length)
    if (this.#highRxt === undefined || seqGt(end, this.#highRxt)) this.#highRxt = end
    if (this.#inRecovery && this.#rescueRxt === undefined) this.#rescueRxt = end // §5 (4.3)
  }

  /**
   * Start loss recovery (RFC 6675 §5 (4.1)): `recoveryPoint` is SND.NXT now (HighData + 1); recovery ends
   * when the cumulative ACK reaches it. Forgets HighRxt and RescueRxt of any earlier recovery.
   */
  enterRecovery(recoveryPoint: number): void {
    checkSequenceNumber('recoveryPoint', recoveryPoint)
    this.#inRecovery = true
    this.#recoveryPoint = recoveryPoint
    this.#highRxt = undefined
    this.#rescueRxt = undefined
  }

  /**
   * End loss recovery: forget the recovery point, HighRxt and RescueRxt. SACK information is kept
   * (RFC 6675 §5 (A): it SHOULD NOT be cleared). {@link onAck} calls this when the recovery point is ACKed.
   */
  exitRecovery(): void {
    this.#inRecovery = false
    this.#recoveryPoint = undefined
    this.#highRxt = undefined
    this.#rescueRxt = undefined
  }

  /**
   * On a retransmission timeout (RFC 6675 §5.1, RFC 2018 §5 and §8): forget every SACKed range, since the
   * receiver may have reneged, and what was retransmitted, and end loss recovery. Everything outstanding
   * is then retransmitted as if never SACKed; SACK information that arrives afterwards is used again.
   */
  clearSacked(): void {
    this.#sacked.clear()
    this.#lossPoint = this.#sndUna ?? 0
    this.exitRecovery()
  }
}
