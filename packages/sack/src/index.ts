/**
 * `@mtcp/sack`: TCP selective acknowledgment. The SACK option codec ({@link decodeSackOption},
 * {@link encodeSackOption}) and block checks ({@link validateSackBlocks}, RFC 2018 §3, RFC 2883 §5); the
 * receiver's choice of blocks with D-SACK ({@link SackReceiver}, RFC 2018 §4, RFC 2883 §4); and the
 * sender's scoreboard with RFC 6675 loss recovery ({@link SackScoreboard}). Pure and wrap-safe.
 * This file is the public API: named re-exports only.
 * @packageDocumentation
 */
export { SackError, type SackErrorCode, SackUsageError, type SackUsageErrorCode } from './errors.js'
export { MAX_SACK_BLOCKS, maxSackBlocks, SACK_OPTION_KIND, type SackBlock, sackOptionLength } from './sack-block.js'
export { decodeSackOption, encodeSackEdges, encodeSackOption, sackOptionProblem } from './sack-option.js'
export { SackReceiver } from './sack-receiver.js'
export {
  type NextSegment,
  type SackAckUpdate,
  SackScoreboard,
  type SackScoreboardOptions,
} from './sack-scoreboard.js'
export { type SackBlockValidation, validateSackBlocks } from './validate-sack-blocks.js'
export { seqAdd, seqDistance, seqGe, seqGt, seqLe, seqLt, seqMax, seqMin, seqSub } from './seq.js'
