/**
 * TCP options: parse every option of a header, and write the ones this stack sends.
 *
 * - RFC 9293 §3.1 (Options) and §3.2: End of Option List (kind 0) ends the list, No-Operation
 *   (kind 1) is one byte, every other option is kind, length (counting both), data. Unknown options
 *   are skipped by their length; an option with a length < 2 or running past the header is
 *   `BAD_OPTION`, and so is a known option with the wrong length (MSS 4, window scale 3,
 *   SACK-permitted 2, timestamps 10, SACK 8n+2).
 * - RFC 9293 §3.7.1: Maximum Segment Size (kind 2).
 * - RFC 7323 §2.2, §2.3: Window Scale (kind 3); a shift above 14 is used as 14.
 * - RFC 7323 §3.2: Timestamps (kind 8): TSval, TSecr.
 * - RFC 2018 §2, §3: SACK-Permitted (kind 4) and SACK (kind 5) with 1 to 4 blocks of left and right
 *   edges (at most 4 fit in 40 bytes; 3 with timestamps).
 *
 * Where an option may appear (MSS and window scale only on SYN) is for the connection to judge: the
 * parser reports what is there. Emitted options follow Linux's layout, each aligned on 32 bits by
 * leading NOPs (as RFC 7323 Appendix A suggests): MSS, SACK-permitted + timestamps (or NOP NOP
 * timestamps, or NOP NOP SACK-permitted), NOP window scale, NOP NOP SACK. The options so end on a
 * 32-bit boundary (RFC 9293 §3.1 padding).
 * @module
 */
import { decodeSackOption, encodeSackOption, MAX_SACK_BLOCKS, type SackBlock, SackError } from '@mtcp/sack'
import { readUint16, readUint32, writeUint16, writeUint32 } from './bytes.js'
import { checkRoom, WireError } from './errors.js'

/** TCP option kinds (IANA "TCP Option Kind Numbers"). */
export const TcpOptionKind = {
  /** End of Option List, RFC 9293 §3.2. */
  END: 0,
  /** No-Operation, RFC 9293 §3.2. */
  NOP: 1,
  /** Maximum Segment Size, RFC 9293 §3.2. */
  MSS: 2,
  /** Window Scale, RFC 7323 §2.2. */
  WINDOW_SCALE: 3,
  /** SACK-Permitted, RFC 2018 §2. */
  SACK_PERMITTED: 4,
  /** SACK, RFC 2018 §3. */
  SACK: 5,
  /** Timestamps, RFC 7323 §3.2. */
  TIMESTAMPS: 8,
} as const

/** Most option bytes a TCP header can hold (data offset 15 × 4 − 20). */
export const TCP_MAX_OPTIONS_LENGTH = 40

/** Largest window scale shift (RFC 7323 §2.3); larger received values are used as this. */
export const MAX_WINDOW_SCALE = 14

/** One SACK block and the most blocks in one option (RFC 2018 §3), from @mtcp/sack. */
export { MAX_SACK_BLOCKS, type SackBlock } from '@mtcp/sack'

/** The Timestamps option (RFC 7323 §3.2). */
export interface TcpTimestamp {
  /** TSval: the sender's timestamp clock. */
  tsVal: number
  /** TSecr: the TSval echoed back (valid when ACK is set). */
  tsEcr: number
}

/**
 * The options of a TCP header. To emit, leave out what is not sent. {@link parseTcpOptions} sets every
 * field: absent values are `undefined`, `sackPermitted` is a boolean and `sackBlocks` an array (maybe empty).
 */
export interface TcpOptions {
  /** Maximum segment size (RFC 9293 §3.7.1), 0..65535. */
  mss?: number | undefined
  /** Window scale shift, 0..14 (RFC 7323 §2.3). */
  windowScale?: number | undefined
  /** SACK-Permitted (RFC 2018 §2). */
  sackPermitted?: boolean | undefined
  /** SACK blocks, most recent first (RFC 2018 §4). On emit, blocks that do not fit are left out. */
  sackBlocks?: readonly SackBlock[] | undefined
  /** Timestamps (RFC 7323 §3.2). */
  timestamp?: TcpTimestamp | undefined
}

const NO_SACK_BLOCKS: readonly SackBlock[] = Object.freeze([])

function badOption(message: string): WireError {
  return new WireError('tcp', 'BAD_OPTION', message)
}

/**
 * Parse the options bytes of a TCP header (`TcpView.options`): never throws; `BAD_OPTION` when
 * an option is malformed (see the module notes). Unknown options are skipped by their length.
 */
export function parseTcpOptions(bytes: Uint8Array): TcpOptions | WireError {
  let mss: number | undefined
  let windowScale: number | undefined
  let sackPermitted = false
  let sackBlocks = NO_SACK_BLOCKS
  let timestamp: TcpTimestamp | undefined
  const end = bytes.byteLength
  let i = 0
  while (i < end) {
    const kind = bytes[i]!
    if (kind === TcpOptionKind.END) break // RFC 9293 §3.2: the rest is padding
    if (kind === TcpOptionKind.NOP) {
      i++
      continue
    }
    // RFC 9293 §3.1: every other option has a length byte counting kind and length.
    if (i + 1 >= end) return badOption(`option ${kind} has no length byte`)
    const length = bytes[i + 1]!
    if (length < 2) return badOption(`option ${kind} has length ${length}`)
    if (i + length > end) return badOption(`option ${kind} of length ${length} runs past the header`)
    switch (kind) {
      case TcpOptionKind.MSS:
        if (length !== 4) return badOption(`MSS option of length ${length}`)
        mss = readUint16(bytes, i + 2)
        break
      case TcpOptionKind.WINDOW_SCALE: {
        if (length !== 3) return badOption(`window scale option of length ${length}`)
        const shift = bytes[i + 2]!
        windowScale = shift > MAX_WINDOW_SCALE ? MAX_WINDOW_SCALE : shift // RFC 7323 §2.3: use 14
        break
      }
      case TcpOptionKind.SACK_PERMITTED:
        if (length !== 2) return badOption(`SACK-permitted option of length ${length}`)
        sackPermitted = true
        break
      case TcpOptionKind.SACK: {
        // RFC 2018 §3: length 8n + 2 with 1 ≤ n ≤ 4; the codec is @mtcp/sack's.
        const blocks = decodeSackOption(bytes, i, length)
        if (blocks instanceof SackError) return badOption(blocks.message)
        sackBlocks = blocks
        break
      }
      case TcpOptionKind.TIMESTAMPS:
        if (length !== 10) return badOption(`timestamps option of length ${length}`)
        timestamp = { tsVal: readUint32(bytes, i + 2), tsEcr: readUint32(bytes, i + 6) }
        break
      default:
        break // RFC 9293 §3.1: an option not implemented is ignored, skipped by its length
    }
    i += length
  }
  return { mss, windowScale, sackPermitted, sackBlocks, timestamp }
}

/** Bytes of the options other than SACK, in the emitted layout. */
function fixedOptionsLength(options: TcpOptions): number {
  let length = 0
  if (options.mss !== undefined) length += 4
  if (options.timestamp !== undefined) length += 12 // [SACK-permitted or NOP NOP] + timestamps
  else if (options.sackPermitted === true) length += 4 // NOP NOP SACK-permitted
  if (options.windowScale !== undefined) length += 4 // NOP window scale
  return length
}

/** How many SACK blocks are emitted: all that fit in `room` bytes after the other options, at most 4. */
function sackBlocksToEmit(options: TcpOptions, room: number): number {
  const count = options.sackBlocks?.length ?? 0
  if (count === 0) return 0
  const fit = Math.floor((room - fixedOptionsLength(options) - 4) / 8) // NOP NOP kind length, then 8 per block
  return Math.max(0, Math.min(count, MAX_SACK_BLOCKS, fit))
}

/**
 * Length in bytes of the options {@link emitTcpOptions} writes for `options` (a multiple of 4).
 * @param room - bytes available for options, default (and at most) 40
 */
export function tcpOptionsLength(options: TcpOptions, room = TCP_MAX_OPTIONS_LENGTH): number {
  const blocks = sackBlocksToEmit(options, room)
  const length = fixedOptionsLength(options) + (blocks === 0 ? 0 : 4 + 8 * blocks)
  return (length + 3) & ~3
}

/**
 * Write `options` at `buffer[offset]` in the layout of the module notes. SACK blocks that do not fit
 * in `room` are left out from the end (the first block is the most recent, RFC 2018 §4).
 * @returns the bytes written: {@link tcpOptionsLength}
 * @throws {@link WireEmitError} `ERR_BUFFER_TOO_SMALL`
 */
export function emitTcpOptions(options: TcpOptions, buffer: Uint8Array, offset = 0, room = TCP_MAX_OPTIONS_LENGTH): number {
  const length = tcpOptionsLength(options, room)
  checkRoom('TCP options', buffer, offset, length)
  let at = offset
  if (options.mss !== undefined) {
    buffer[at] = TcpOptionKind.MSS
    buffer[at + 1] = 4
    writeUint16(buffer, at + 2, options.mss)
    at += 4
  }
  const timestamp = options.timestamp
  if (timestamp !== undefined) {
    const sackPermitted = options.sackPermitted === true
    buffer[at] = sackPermitted ? TcpOptionKind.SACK_PERMITTED : TcpOptionKind.NOP
    buffer[at + 1] = sackPermitted ? 2 : TcpOptionKind.NOP
    buffer[at + 2] = TcpOptionKind.TIMESTAMPS
    buffer[at + 3] = 10
    writeUint32(buffer, at + 4, timestamp.tsVal)
    writeUint32(buffer, at + 8, timestamp.tsEcr)
    at += 12
  } else if (options.sackPermitted === true) {
    buffer[at] = TcpOptionKind.NOP
    buffer[at + 1] = TcpOptionKind.NOP
    buffer[at + 2] = TcpOptionKind.SACK_PERMITTED
    buffer[at + 3] = 2
    at += 4
  }
  if (options.windowScale !== undefined) {
    buffer[at] = TcpOptionKind.NOP
    buffer[at + 1] = TcpOptionKind.WINDOW_SCALE
    buffer[at + 2] = 3
    buffer[at + 3] = options.windowScale
    at += 4
  }
  const blocks = sackBlocksToEmit(options, room)
  if (blocks > 0) {
    buffer[at] = TcpOptionKind.NOP
    buffer[at + 1] = TcpOptionKind.NOP
    at += 2
    at += encodeSackOption(options.sackBlocks!, buffer, at, blocks)
  }
  while (at < offset + length) buffer[at++] = TcpOptionKind.END // RFC 9293 §3.1: pad with zeros to 32 bits
  return length
}
