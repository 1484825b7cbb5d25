/**
 * A set of sequence numbers kept as sorted, disjoint, non-adjacent ranges `[left, right)` in two parallel
 * arrays: no per-byte or per-segment structure, so its size is the number of holes, not of bytes.
 *
 * Every range lies in one window narrower than 2^31 (the sender's outstanding data), where serial
 * comparison (RFC 1982 §3.2) is a total order, so ranges stay sorted across the 2^32 wrap. Byte counts are
 * unsigned distances. Operations are O(ranges).
 * @internal
 * @module
 */
import { seqDistance, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin } from './seq.js'

/** @internal */
export class SeqRangeSet {
  /** Left edges, ascending. */
  readonly lefts: number[] = []
  /** Right edges (exclusive), ascending; `rights[i]` is before `lefts[i + 1]`. */
  readonly rights: number[] = []
  #bytes = 0

  /** Number of ranges. */
  get count(): number {
    return this.lefts.length
  }

  /** Octets in the set. */
  get bytes(): number {
    return this.#bytes
  }

  /** Remove everything. */
  clear(): void {
    this.lefts.length = 0
    this.rights.length = 0
    this.#bytes = 0
  }

  /**
   * Remove every octet before `seq`, cutting a range that straddles it.
   * @returns the octets removed
   */
  trimBelow(seq: number): number {
    const lefts = this.lefts
    const rights = this.rights
    let removed = 0
    let drop = 0
    while (drop < lefts.length && seqLe(rights[drop]!, seq)) {
      removed += seqDistance(rights[drop]!, lefts[drop]!)
      drop++
    }
    if (drop > 0) {
      lefts.splice(0, drop)
      rights.splice(0, drop)
    }
    if (lefts.length > 0 && seqLt(lefts[0]!, seq)) {
      removed += seqDistance(seq, lefts[0]!)
      lefts[0] = seq
    }
    this.#bytes -= removed
    return removed
  }

  /**
   * Add `[left, right)` (left before right), merging with every range it overlaps or touches.
   * @returns the octets newly added (not already in the set)
   */
  add(left: number, right: number): number {
    const lefts = this.lefts
    const rights = this.rights
    // First range that ends at or after `left` (it overlaps or touches), and last that starts at or before `right`.
    let first = 0
    while (first < lefts.length && seqLt(rights[first]!, left)) first++
    let last = first - 1
    while (last + 1 < lefts.length && seqLe(lefts[last + 1]!, right)) last++
    if (last < first) {
      lefts.splice(first, 0, left)
      rights.splice(first, 0, right)
      const added = seqDistance(right, left)
      this.#bytes += added
      return added
    }
    let covered = 0
    for (let i = first; i <= last; i++) covered += seqDistance(rights[i]!, lefts[i]!)
    const mergedLeft = seqMin(left, lefts[first]!)
    const mergedRight = seqMax(right, rights[last]!)
    lefts.splice(first, last - first + 1, mergedLeft)
    rights.splice(first, last - first + 1, mergedRight)
    const added = seqDistance(mergedRight, mergedLeft) - covered
    this.#bytes += added
    return added
  }

  /** `seq` is in the set. */
  has(seq: number): boolean {
    const lefts = this.lefts
    const rights = this.rights
    for (let i = 0; i < lefts.length; i++) {
      if (seqLt(seq, lefts[i]!)) return false
      if (seqLt(seq, rights[i]!)) return true
    }
    return false
  }

  /** Octets of the set within `[from, to)`; 0 when `to` is not after `from`. */
  coveredBetween(from: number, to: number): number {
    if (!seqLt(from, to)) return 0
    const lefts = this.lefts
    const rights = this.rights
    let covered = 0
    for (let i = 0; i < lefts.length; i++) {
      const left = lefts[i]!
      if (seqGe(left, to)) break
      const right = rights[i]!
      if (seqLe(right, from)) continue
      covered += seqDistance(seqMin(right, to), seqMax(left, from))
    }
    return covered
  }

  /** Octets not in the set within `[from, to)`; 0 when `to` is not after `from`. */
  uncoveredBetween(from: number, to: number): number {
    if (!seqLt(from, to)) return 0
    return seqDistance(to, from) - this.coveredBetween(from, to)
  }

  /**
   * Octets not in the set within `[from, to)`, in segments: each gap between ranges rounded up to whole
   * segments of `segmentSize` on its own.
   */
  uncoveredSegmentsBetween(from: number, to: number, segmentSize: number): number {
    if (!seqLt(from, to)) return 0
    const lefts = this.lefts
    const rights = this.rights
    let segments = 0
    let at = from
    for (let i = 0; i < lefts.length && seqLt(at, to); i++) {
      const left = lefts[i]!
      const right = rights[i]!
      if (seqLe(right, at)) continue
      if (seqGt(left, at)) segments += Math.ceil(seqDistance(seqMin(left, to), at) / segmentSize)
      at = right
    }
    if (seqLt(at, to)) segments += Math.ceil(seqDistance(to, at) / segmentSize)
    return segments
  }

  /** Index of the first range that ends after `seq` (contains it or lies above it); `count` when none does. */
  indexAbove(seq: number): number {
    const rights = this.rights
    let i = 0
    while (i < rights.length && seqLe(rights[i]!, seq)) i++
    return i
  }
}
