/**
 * The SACK block and the option-space limits on how many fit (RFC 2018 §3).
 * @module
 */

/**
 * One SACK block: the receiver holds the octets `[left, right)` (RFC 2018 §3: the left edge is the first
 * sequence number of the block, the right edge the sequence number just after its last octet). Both are
 * uint32 sequence numbers; `right` may be numerically smaller than `left` when the block crosses 2^32.
 * The same shape as `SackBlock` in `@mtcp/tcp-core`, so the two can be passed to each other.
 */
export interface SackBlock {
  /** First sequence number of the block. */
  left: number
  /** Sequence number just after the block. */
  right: number
}

/** TCP option kind of the SACK option (RFC 2018 §3). */
export const SACK_OPTION_KIND = 5

/** Most blocks one SACK option can carry: 40 option bytes hold 2 + 8 × 4 (RFC 2018 §3). */
export const MAX_SACK_BLOCKS = 4

/**
 * Most SACK blocks an ACK can carry: 3 when the Timestamps option is also sent (its 10 bytes plus 2 of
 * padding leave room for 3), 4 otherwise (RFC 2018 §3).
 * @param timestamps - whether the segment carries the Timestamps option (RFC 7323 §3)
 */
export function maxSackBlocks(timestamps: boolean): 3 | 4 {
  return timestamps ? 3 : 4
}

/**
 * Length in bytes of a SACK option with `blocks` blocks, kind and length bytes included: 8n + 2
 * (RFC 2018 §3), or 0 for no blocks (no option is written).
 * @param blocks - number of blocks, in [0, 4]
 */
export function sackOptionLength(blocks: number): number {
  return blocks <= 0 ? 0 : 2 + 8 * Math.min(blocks, MAX_SACK_BLOCKS)
}
