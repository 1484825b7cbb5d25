/**
 * Checking received SACK blocks against the sender's sequence space, and recognizing a D-SACK block.
 *
 * - RFC 2018 §3: a block is `[left, right)`; it must cover at least one octet, left before right modulo 2^32.
 * - A block must not acknowledge data that was never sent: its right edge is at or before SND.NXT (the
 *   highest sequence number sent plus one). Its left edge must be within 2^31 − 1 below the cumulative
 *   ACK, the oldest number serial arithmetic (RFC 1982 §3.2) can still order against it. Together: the
 *   block lies within `[ack − (2^31 − 1), SND.NXT]`.
 * - RFC 2883 §4: a receiver reports a duplicate segment in the first block, which may lie below the
 *   cumulative ACK. RFC 2883 §5: the sender recognizes it by comparing the first block with the
 *   cumulative ACK *of the same segment* (not SND.UNA, which reordered ACKs would make wrong): a first
 *   block below that ACK, or inside the second block, is a D-SACK. Such a block is valid and reported as a
 *   D-SACK; only the first block can be one.
 * @module
 */
import { SackError, type SackErrorCode } from './errors.js'
import type { SackBlock } from './sack-block.js'
import { seqGe, seqLe, seqLt } from './seq.js'

/** How far below the cumulative ACK a left edge may be: 2^31 − 1. */
const OLDEST = 0x7fffffff

/** The result of {@link validateSackBlocks}. */
export interface SackBlockValidation {
  /** The accepted blocks, in the order received. When {@link dsack} is true, `valid[0]` is the D-SACK block. */
  valid: SackBlock[]
  /** The first block is a D-SACK block (RFC 2883 §5): below the cumulative ACK, or inside the second block. */
  dsack: boolean
  /** How many blocks were rejected. */
  rejected: number
  /** Why the first rejected block was rejected, for logs and counters; `undefined` when none was. */
  error: SackError | undefined
}

/**
 * Why the block `[left, right)` is not acceptable, or `undefined` when it is.
 * @internal
 */
export function sackBlockProblem(left: number, right: number, ack: number, sndNxt: number): SackErrorCode | undefined {
  if (left === right) return 'EMPTY_BLOCK'
  if (((right - left) >>> 0) >= 0x80000000) return 'INVERTED_BLOCK' // RFC 2018 §3: left edge first, modulo 2^32
  // The window [ack − (2^31 − 1), SND.NXT] may be wider than 2^31, where serial order is ambiguous, so
  // positions are measured as unsigned offsets from its lower end, a linear order.
  const lowest = (ack - OLDEST) >>> 0
  const last = (sndNxt - lowest) >>> 0
  const leftOffset = (left - lowest) >>> 0
  const rightOffset = (right - lowest) >>> 0
  if (rightOffset > last) return 'BEYOND_SENT'
  if (leftOffset > last) return 'TOO_OLD'
  if (leftOffset > rightOffset) return 'BEYOND_SENT' // it wraps from below SND.NXT round past it
  return undefined
}

function problemMessage(code: SackErrorCode, left: number, right: number, ack: number, sndNxt: number): string {
  const block = `block ${left}..${right}`
  switch (code) {
    case 'EMPTY_BLOCK':
      return `${block} covers no data`
    case 'INVERTED_BLOCK':
      return `${block} has its left edge after its right edge`
    case 'BEYOND_SENT':
      return `${block} runs past SND.NXT ${sndNxt}`
    default:
      return `${block} starts more than 2^31 - 1 before the cumulative ACK ${ack}`
  }
}

/**
 * The first of `blocks` is a D-SACK block (RFC 2883 §5), given that it is valid: it starts below the
 * cumulative ACK of the same segment, or lies inside a valid second block.
 * @internal
 */
export function isDsackBlock(blocks: readonly SackBlock[], ack: number, sndNxt: number): boolean {
  const first = blocks[0]
  if (first === undefined) return false
  if (seqLt(first.left, ack)) return true
  const second = blocks[1]
  return (
    second !== undefined &&
    sackBlockProblem(second.left, second.right, ack, sndNxt) === undefined &&
    seqGe(first.left, second.left) &&
    seqLe(first.right, second.right)
  )
}

/**
 * Check received SACK blocks against the sequence space (see the module notes): each block must be
 * non-empty, left before right modulo 2^32, and lie within `[ack − (2^31 − 1), sndNxt]`. A first block
 * below `ack` or inside the second block is a D-SACK (RFC 2883 §5): valid, and reported in `dsack`.
 * Never throws; rejected blocks are counted, and the reason for the first is in `error`.
 * @param blocks - blocks as received, e.g. from {@link decodeSackOption}
 * @param ack - the cumulative ACK field of the segment that carried the blocks (RFC 2883 §5: compare with
 *   this, not with SND.UNA); once the ACK is accepted this is also SND.UNA
 * @param sndNxt - one past the highest sequence number sent so far (SND.NXT, or SND.MAX if the connection
 *   rewinds SND.NXT on a retransmission timeout)
 */
export function validateSackBlocks(blocks: readonly SackBlock[], ack: number, sndNxt: number): SackBlockValidation {
  const valid: SackBlock[] = []
  let rejected = 0
  let error: SackError | undefined
  for (const block of blocks) {
    const problem = sackBlockProblem(block.left, block.right, ack, sndNxt)
    if (problem === undefined) {
      valid.push(block)
    } else {
      rejected++
      error ??= new SackError(problem, problemMessage(problem, block.left, block.right, ack, sndNxt))
    }
  }
  const first = blocks[0]
  const dsack = first !== undefined && valid[0] === first && isDsackBlock(blocks, ack, sndNxt)
  return { valid, dsack, rejected, error }
}
