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
import { encodeSackEdges, MAX_SACK_BLOCKS, type SackBlock, sackOptionProblem } from '@mtcp/sack'
import { readUint16, readUint32, writeUint16, writeUint32 } from './bytes.js'
import { checkRoom, WireEmitError, WireError } from './errors.js'

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

/**
 * The option fields of one header as plain values, for code that reuses one record per segment (the
 * segment path allocates nothing): absent numbers are 0 (`mss`), -1 (`windowScale`) or flagged
 * (`timestamps`); SACK blocks are `sackCount` pairs in `sackLeft`/`sackRight`. The connection's
 * `OutboundSegment` has exactly these fields.
 */
export interface TcpOptionFields {
  /**
   * MSS, or 0 for none. An MSS option of 0 reads as none: no segment could be sent under it, and Linux
   * ignores it too (RFC 9293 §3.7.1 then applies the default).
   */
  mss: number
  /** Window scale shift, or -1 for none. */
  windowScale: number
  sackPermitted: boolean
  /** Whether the timestamps option is present. */
  timestamps: boolean
  tsValue: number
  tsEcho: number
  /** SACK blocks held in `sackLeft`/`sackRight`, 0 to 4. */
  sackCount: number
  readonly sackLeft: number[]
  readonly sackRight: number[]
}

/** A blank {@link TcpOptionFields} to fill. */
export function emptyTcpOptionFields(): TcpOptionFields {
  return { mss: 0, windowScale: -1, sackPermitted: false, timestamps: false, tsValue: 0, tsEcho: 0, sackCount: 0, sackLeft: [0, 0, 0, 0], sackRight: [0, 0, 0, 0] }
}

/**
 * Read the options in `bytes[start, end)` into `into` (every field is set). Never throws, allocates
 * nothing for well-formed options.
 * @returns undefined, or what is malformed (see the module notes): the caller reports `BAD_OPTION`.
 */
export function readTcpOptions(bytes: Uint8Array, start: number, end: number, into: TcpOptionFields): string | undefined {
  into.mss = 0
  into.windowScale = -1
  into.sackPermitted = false
  into.timestamps = false
  into.tsValue = 0
  into.tsEcho = 0
  into.sackCount = 0
  let i = start
  while (i < end) {
    const kind = bytes[i]!
    if (kind === TcpOptionKind.END) break // RFC 9293 §3.2: the rest is padding
    if (kind === TcpOptionKind.NOP) {
      i++
      continue
    }
    // RFC 9293 §3.1: every other option has a length byte counting kind and length.
    if (i + 1 >= end) return `option ${kind} has no length byte`
    const length = bytes[i + 1]!
    if (length < 2) return `option ${kind} has length ${length}`
    if (i + length > end) return `option ${kind} of length ${length} runs past the header`
    switch (kind) {
      case TcpOptionKind.MSS:
        if (length !== 4) return `MSS option of length ${length}`
        into.mss = readUint16(bytes, i + 2)
        break
      case TcpOptionKind.WINDOW_SCALE: {
        if (length !== 3) return `window scale option of length ${length}`
        const shift = bytes[i + 2]!
        into.windowScale = shift > MAX_WINDOW_SCALE ? MAX_WINDOW_SCALE : shift // RFC 7323 §2.3: use 14
        break
      }
      case TcpOptionKind.SACK_PERMITTED:
        if (length !== 2) return `SACK-permitted option of length ${length}`
        into.sackPermitted = true
        break
      case TcpOptionKind.SACK: {
        // RFC 2018 §3: length 8n + 2 with 1 ≤ n ≤ 4; the checks are @mtcp/sack's.
        const problem = sackOptionProblem(bytes, i, length)
        if (problem !== undefined) return problem.message
        const count = (length - 2) / 8
        for (let b = 0; b < count; b++) {
          into.sackLeft[b] = readUint32(bytes, i + 2 + 8 * b)
          into.sackRight[b] = readUint32(bytes, i + 6 + 8 * b)
        }
        into.sackCount = count
        break
      }
      case TcpOptionKind.TIMESTAMPS:
        if (length !== 10) return `timestamps option of length ${length}`
        into.timestamps = true
        into.tsValue = readUint32(bytes, i + 2)
        into.tsEcho = readUint32(bytes, i + 6)
        break
      default:
        break // RFC 9293 §3.1: an option not implemented is ignored, skipped by its length
    }
    i += length
  }
  return undefined
}

/**
 * Parse the options bytes of a TCP header (`TcpView.options`): never throws; `BAD_OPTION` when
 * an option is malformed (see the module notes). Unknown options are skipped by their length.
 */
export function parseTcpOptions(bytes: Uint8Array): TcpOptions | WireError {
  const fields = emptyTcpOptionFields()
  const problem = readTcpOptions(bytes, 0, bytes.byteLength, fields)
  if (problem !== undefined) return new WireError('tcp', 'BAD_OPTION', problem)
  const sackBlocks: SackBlock[] = []
  for (let b = 0; b < fields.sackCount; b++) sackBlocks.push({ left: fields.sackLeft[b]!, right: fields.sackRight[b]! })
  return {
    mss: fields.mss > 0 ? fields.mss : undefined,
    windowScale: fields.windowScale >= 0 ? fields.windowScale : undefined,
    sackPermitted: fields.sackPermitted,
    sackBlocks,
    timestamp: fields.timestamps ? { tsVal: fields.tsValue, tsEcr: fields.tsEcho } : undefined,
  }
}

/** Bytes of the options other than SACK, in the emitted layout. */
function fixedOptionsLength(fields: TcpOptionFields): number {
  let length = 0
  if (fields.mss > 0) length += 4
  if (fields.timestamps) length += 12 // [SACK-permitted or NOP NOP] + timestamps
  else if (fields.sackPermitted) length += 4 // NOP NOP SACK-permitted
  if (fields.windowScale >= 0) length += 4 // NOP window scale
  return length
}

/** How many SACK blocks are written: all that fit in `room` bytes after the other options, at most 4. */
function sackBlocksToWrite(fields: TcpOptionFields, room: number): number {
  const count = fields.sackCount
  if (count === 0) return 0
  const fit = Math.floor((room - fixedOptionsLength(fields) - 4) / 8) // NOP NOP kind length, then 8 per block
  return Math.max(0, Math.min(count, MAX_SACK_BLOCKS, fit))
}

/** Length in bytes of the options {@link writeTcpOptions} writes for `fields` (a multiple of 4). */
export function tcpOptionFieldsLength(fields: TcpOptionFields, room = TCP_MAX_OPTIONS_LENGTH): number {
  const blocks = sackBlocksToWrite(fields, room)
  const length = fixedOptionsLength(fields) + (blocks === 0 ? 0 : 4 + 8 * blocks)
  return (length + 3) & ~3
}

/**
 * Write `fields` at `buffer[offset]` in the layout of the module notes, without checks or allocation
 * (the caller made room for {@link tcpOptionFieldsLength} bytes). SACK blocks that do not fit in `room`
 * are left out from the end (the first block is the most recent, RFC 2018 §4).
 * @returns the bytes written
 */
export function writeTcpOptions(fields: TcpOptionFields, buffer: Uint8Array, offset: number, room = TCP_MAX_OPTIONS_LENGTH): number {
  const length = tcpOptionFieldsLength(fields, room)
  let at = offset
  if (fields.mss > 0) {
    buffer[at] = TcpOptionKind.MSS
    buffer[at + 1] = 4
    writeUint16(buffer, at + 2, fields.mss)
    at += 4
  }
  if (fields.timestamps) {
    const sackPermitted = fields.sackPermitted
    buffer[at] = sackPermitted ? TcpOptionKind.SACK_PERMITTED : TcpOptionKind.NOP
    buffer[at + 1] = sackPermitted ? 2 : TcpOptionKind.NOP
    buffer[at + 2] = TcpOptionKind.TIMESTAMPS
    buffer[at + 3] = 10
    writeUint32(buffer, at + 4, fields.tsValue)
    writeUint32(buffer, at + 8, fields.tsEcho)
    at += 12
  } else if (fields.sackPermitted) {
    buffer[at] = TcpOptionKind.NOP
    buffer[at + 1] = TcpOptionKind.NOP
    buffer[at + 2] = TcpOptionKind.SACK_PERMITTED
    buffer[at + 3] = 2
    at += 4
  }
  if (fields.windowScale >= 0) {
    buffer[at] = TcpOptionKind.NOP
    buffer[at + 1] = TcpOptionKind.WINDOW_SCALE
    buffer[at + 2] = 3
    buffer[at + 3] = fields.windowScale
    at += 4
  }
  const blocks = sackBlocksToWrite(fields, room)
  if (blocks > 0) {
    buffer[at] = TcpOptionKind.NOP
    buffer[at + 1] = TcpOptionKind.NOP
    at += 2
    at += encodeSackEdges(fields.sackLeft, fields.sackRight, blocks, buffer, at)
  }
  while (at < offset + length) buffer[at++] = TcpOptionKind.END // RFC 9293 §3.1: pad with zeros to 32 bits
  return length
}

/** The repr's options as fields, in a scratch record (emit is synchronous; nothing keeps it). */
const scratch = emptyTcpOptionFields()
function fieldsOf(options: TcpOptions): TcpOptionFields {
  scratch.mss = options.mss ?? 0
  scratch.windowScale = options.windowScale ?? -1
  scratch.sackPermitted = options.sackPermitted === true
  scratch.timestamps = options.timestamp !== undefined
  scratch.tsValue = options.timestamp?.tsVal ?? 0
  scratch.tsEcho = options.timestamp?.tsEcr ?? 0
  const blocks = options.sackBlocks ?? []
  scratch.sackCount = Math.min(blocks.length, MAX_SACK_BLOCKS)
  for (let b = 0; b < scratch.sackCount; b++) {
    const block = blocks[b]!
    if (block.left >>> 0 !== block.left || block.right >>> 0 !== block.right) {
      throw new WireEmitError('ERR_INVALID_FIELD', `sackBlocks[${b}] edges must be sequence numbers, integers in [0, 4294967295], got ${String(block.left)}..${String(block.right)}`)
    }
    scratch.sackLeft[b] = block.left
    scratch.sackRight[b] = block.right
  }
  return scratch
}

/**
 * Length in bytes of the options {@link emitTcpOptions} writes for `options` (a multiple of 4).
 * @param room - bytes available for options, default (and at most) 40
 */
export function tcpOptionsLength(options: TcpOptions, room = TCP_MAX_OPTIONS_LENGTH): number {
  return tcpOptionFieldsLength(fieldsOf(options), room)
}

/**
 * Write `options` at `buffer[offset]` in the layout of the module notes. SACK blocks that do not fit
 * in `room` are left out from the end (the first block is the most recent, RFC 2018 §4).
 * @returns the bytes written: {@link tcpOptionsLength}
 * @throws {@link WireEmitError} `ERR_BUFFER_TOO_SMALL`
 */
export function emitTcpOptions(options: TcpOptions, buffer: Uint8Array, offset = 0, room = TCP_MAX_OPTIONS_LENGTH): number {
  const fields = fieldsOf(options)
  checkRoom('TCP options', buffer, offset, tcpOptionFieldsLength(fields, room))
  return writeTcpOptions(fields, buffer, offset, room)
}
