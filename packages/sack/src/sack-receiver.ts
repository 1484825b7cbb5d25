/**
 * The data receiver's side of SACK: which blocks to put in the next ACK.
 *
 * - RFC 2018 §4: the first block MUST be the one holding the segment that triggered this ACK (unless that
 *   segment advanced the cumulative ACK); the option SHOULD then repeat the most recently reported blocks,
 *   as many as fit, none a subset of one already included. So each block is reported in at least three
 *   successive ACKs (with 3 blocks per option) while it keeps changing or stays among the newest.
 * - RFC 2018 §3: a block is `[left, right)` of data held above the cumulative ACK, never at or below it.
 * - RFC 2883 §4: a duplicate segment is reported in the first block of the next ACK (a D-SACK block, which
 *   may lie below the cumulative ACK), once only; if the duplicate lies inside a block held above the
 *   cumulative ACK, that block comes second; the usual blocks follow.
 *
 * The caller (the receive buffer's owner) says what arrived: {@link SackReceiver.onSegment} for data
 * stored out of order, {@link SackReceiver.onInOrder} when RCV.NXT advances, {@link SackReceiver.onDuplicate}
 * for data it already had. Ranges are kept sorted and merged, each with the time (a counter) it last
 * changed; {@link SackReceiver.blocks} writes into a caller's array and allocates nothing once that array
 * holds enough objects. Wrap-safe: every comparison is serial (RFC 1982 §3.2).
 * @module
 */
import { checkIntegerArgument, checkSequenceNumber, SackUsageError } from './errors.js'
import type { SackBlock } from './sack-block.js'
import { seqGe, seqGt, seqLe, seqLt, seqMax, seqMin } from './seq.js'

/** A range of data held out of order, and when it last grew (a counter, larger is newer). */
interface HeldRange {
  left: number
  right: number
  stamp: number
}

function checkRange(seq: number, end: number): void {
  checkSequenceNumber('seq', seq)
  checkSequenceNumber('end', end)
  if (((end - seq) >>> 0) >= 0x80000000) {
    throw new SackUsageError('ERR_INVALID_ARG', `end must be after seq by less than 2^31, got seq ${seq} and end ${end}`)
  }
}

function write(out: SackBlock[], index: number, left: number, right: number): void {
  const block = out[index]
  if (block !== undefined) {
    block.left = left
    block.right = right
  } else {
    out[index] = { left, right }
  }
}

/**
 * Chooses the SACK blocks of each ACK a data receiver sends (RFC 2018 §4) and the D-SACK block that
 * reports a duplicate (RFC 2883 §4). See the module notes.
 *
 * @example
 * ```ts
 * const receiver = new SackReceiver()
 * receiver.onInOrder(5500)
 * receiver.onSegment(6000, 6500)
 * receiver.onSegment(7000, 7500)
 * const out: SackBlock[] = []
 * const count = receiver.blocks(5500, 3, out) // 2: [7000, 7500), then [6000, 6500)
 * ```
 */
export class SackReceiver {
  /** Held ranges above RCV.NXT, sorted, disjoint and not touching. */
  readonly #ranges: HeldRange[] = []
  #stamp = 0
  #rcvNxt: number | undefined
  #dsackPending = false
  #dsackLeft = 0
  #dsackRight = 0

  /** Number of disjoint ranges held out of order. */
  get rangeCount(): number {
    return this.#ranges.length
  }

  /** RCV.NXT as last reported by {@link onInOrder} or {@link blocks}, or undefined before. */
  get rcvNxt(): number | undefined {
    return this.#rcvNxt
  }

  /** A D-SACK block is waiting for the next ACK. */
  get hasDsack(): boolean {
    return this.#dsackPending
  }

  /**
   * Data `[seq, end)` was stored out of order (above RCV.NXT). It is merged with the ranges it overlaps or
   * touches, and the result becomes the most recent block: the first of the next ACK (RFC 2018 §4).
   * What lies at or below RCV.NXT is ignored.
   * @throws {@link SackUsageError} `ERR_INVALID_ARG` when `end` is not after `seq` (modulo 2^32, by less than 2^31)
   */
  onSegment(seq: number, end: number): void {
    checkRange(seq, end)
    if (seq === end) return
    const rcvNxt = this.#rcvNxt
    if (rcvNxt !== undefined) {
      if (seqLe(end, rcvNxt)) return
      seq = seqMax(seq, rcvNxt)
    }
    const ranges = this.#ranges
    let first = 0
    while (first < ranges.length && seqLt(ranges[first]!.right, seq)) first++
    let last = first - 1
    while (last + 1 < ranges.length && seqLe(ranges[last + 1]!.left, end)) last++
    if (last < first) {
      ranges.splice(first, 0, { left: seq, right: end, stamp: ++this.#stamp })
      return
    }
    const merged = ranges[first]!
    merged.left = seqMin(merged.left, seq)
    merged.right = seqMax(ranges[last]!.right, end)
    merged.stamp = ++this.#stamp
    if (last > first) ranges.splice(first + 1, last - first)
  }

  /**
   * RCV.NXT advanced to `rcvNxt` (in-order data arrived, maybe filling holes): ranges at or below it are
   * dropped. Such a segment triggers no first block of its own (RFC 2018 §4). RCV.NXT never moves back.
   */
  onInOrder(rcvNxt: number): void {
    checkSequenceNumber('rcvNxt', rcvNxt)
    if (this.#rcvNxt !== undefined && seqLt(rcvNxt, this.#rcvNxt)) return
    this.#rcvNxt = rcvNxt
    const ranges = this.#ranges
    let drop = 0
    while (drop < ranges.length && seqLe(ranges[drop]!.right, rcvNxt)) drop++
    if (drop > 0) ranges.splice(0, drop)
    const first = ranges[0]
    if (first !== undefined && seqLt(first.left, rcvNxt)) first.left = rcvNxt
  }

  /**
   * Data `[seq, end)` arrived that was already held (below RCV.NXT or in a held range): pass only the
   * duplicated part. The next ACK reports it in a D-SACK block, once (RFC 2883 §4). If several duplicates
   * arrive before that ACK, the first is reported (RFC 2883 §4, example 5), extended by later ones it
   * touches. A held range containing the duplicate becomes the most recent block.
   * @throws {@link SackUsageError} `ERR_INVALID_ARG` when `end` is not after `seq` (modulo 2^32, by less than 2^31)
   */
  onDuplicate(seq: number, end: number): void {
    checkRange(seq, end)
    if (seq === end) return
    if (!this.#dsackPending) {
      this.#dsackPending = true
      this.#dsackLeft = seq
      this.#dsackRight = end
    } else if (seqLe(seq, this.#dsackRight) && seqGe(end, this.#dsackLeft)) {
      this.#dsackLeft = seqMin(this.#dsackLeft, seq)
      this.#dsackRight = seqMax(this.#dsackRight, end)
    }
    for (const range of this.#ranges) {
      if (seqLt(range.left, end) && seqGt(range.right, seq)) range.stamp = ++this.#stamp
    }
  }

  /**
   * Write the blocks of the ACK being built into `out[0 .. count)`, reusing the objects already there
   * (entries from `count` on are left as they were):
   * 1. a pending D-SACK block (RFC 2883 §4), which this call consumes;
   * 2. the held range containing that duplicate, if any (RFC 2883 §4 rule 4);
   * 3. the other held ranges above `rcvNxt`, most recently changed first (RFC 2018 §4).
   *
   * Call it once per ACK sent. With `max` 0 nothing is written or consumed.
   * @param rcvNxt - RCV.NXT, the ACK's cumulative acknowledgment; no block at or below it is written
   *   except the D-SACK block
   * @param max - most blocks: {@link maxSackBlocks} (3 with timestamps, 4 without) or fewer
   * @param out - the array to fill
   * @returns how many blocks were written
   */
  blocks(rcvNxt: number, max: number, out: SackBlock[]): number {
    checkSequenceNumber('rcvNxt', rcvNxt)
    checkIntegerArgument('max', max, 0, 0x7fffffff)
    this.onInOrder(rcvNxt)
    if (max === 0) return 0
    const ranges = this.#ranges
    let count = 0
    let holding: HeldRange | undefined
    if (this.#dsackPending) {
      this.#dsackPending = false
      const left = this.#dsackLeft
      const right = this.#dsackRight
      write(out, count++, left, right)
      for (const range of ranges) {
        if (seqGt(range.left, rcvNxt) && seqLt(range.left, right) && seqGt(range.right, left)) {
          holding = range
          break
        }
      }
      if (holding !== undefined && count < max) write(out, count++, holding.left, holding.right)
    }
    // Newest first: each pass takes the newest range older than the one written last.
    let below = Number.POSITIVE_INFINITY
    while (count < max) {
      let newest: HeldRange | undefined
      for (const range of ranges) {
        if (range === holding || range.stamp >= below || !seqGt(range.left, rcvNxt)) continue
        if (newest === undefined || range.stamp > newest.stamp) newest = range
      }
      if (newest === undefined) break
      write(out, count++, newest.left, newest.right)
      below = newest.stamp
    }
    return count
  }

  /** Forget every held range and any pending D-SACK (RCV.NXT is kept). */
  clear(): void {
    this.#ranges.length = 0
    this.#dsackPending = false
  }
}
