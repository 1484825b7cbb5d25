/**
 * The SACK option codec (RFC 2018 §3).
 *
 * ```
 *                   +--------+--------+
 *                   | Kind=5 | Length |      Length = 8n + 2, 1 ≤ n ≤ 4
 * +--------+--------+--------+--------+
 * |      Left Edge of 1st Block       |
 * +--------+--------+--------+--------+
 * |      Right Edge of 1st Block      |
 * +--------+--------+--------+--------+
 * /               . . .               /
 * +--------+--------+--------+--------+
 * ```
 *
 * Edges are 32-bit unsigned integers in network byte order. Decoding checks the syntax only (kind, length,
 * bounds) and never throws; whether the blocks make sense against the connection's sequence space is
 * {@link validateSackBlocks}'s job. Encoding writes the kind and length bytes and the blocks, nothing else:
 * the NOP NOP that aligns the blocks on 32 bits (RFC 7323 Appendix A layout) is the caller's to write.
 * @module
 */
import { checkIntegerArgument, SackError, SackUsageError } from './errors.js'
import { MAX_SACK_BLOCKS, SACK_OPTION_KIND, type SackBlock, sackOptionLength } from './sack-block.js'

function readUint32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0
}

function writeUint32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24
  bytes[at + 1] = (value >>> 16) & 0xff
  bytes[at + 2] = (value >>> 8) & 0xff
  bytes[at + 3] = value & 0xff
}

/**
 * Decode the SACK option that starts at `bytes[offset]` (its kind byte). Untrusted input: never throws,
 * and returns a {@link SackError} when the bytes are not a well-formed SACK option:
 * - `TRUNCATED`: fewer than 2 bytes, or the option's length runs past the `length` bytes given;
 * - `BAD_KIND`: the kind byte is not 5;
 * - `BAD_LENGTH`: the length byte is not 8n + 2 with n ≥ 1 (RFC 2018 §3);
 * - `TOO_MANY_BLOCKS`: the length is 8n + 2 with n > 4, more than 40 bytes of options can carry.
 *
 * The blocks are returned as sent, in order (the first is the most recent, RFC 2018 §4; or a D-SACK,
 * RFC 2883 §4), without checking them against the sequence space: see {@link validateSackBlocks}.
 * @param bytes - the TCP options, or any bytes holding the option
 * @param offset - index of the kind byte; default 0
 * @param length - bytes available from `offset`: the option's own length, or more (bytes after the option
 *   are not read); default `bytes.byteLength - offset`
 */
export function decodeSackOption(bytes: Uint8Array, offset = 0, length = bytes.byteLength - offset): SackBlock[] | SackError {
  const problem = sackOptionProblem(bytes, offset, length)
  if (problem !== undefined) return problem
  const blocks: SackBlock[] = []
  for (let at = offset + 2; at < offset + bytes[offset + 1]!; at += 8) {
    blocks.push({ left: readUint32(bytes, at), right: readUint32(bytes, at + 4) })
  }
  return blocks
}

/**
 * What is wrong with the SACK option at `bytes[offset]` (at most `length` bytes available), or
 * undefined when it is well formed: the checks of {@link decodeSackOption}, without decoding, so a
 * reader that keeps its own block storage allocates nothing for a good option. The option's length
 * byte is `bytes[offset + 1]`; its blocks are 8 bytes each from `offset + 2` (RFC 2018 §3).
 */
export function sackOptionProblem(bytes: Uint8Array, offset: number, length: number): SackError | undefined {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0) {
    return new SackError('TRUNCATED', `no option at offset ${String(offset)} with length ${String(length)}`)
  }
  const available = Math.min(length, bytes.byteLength - offset)
  if (available < 2) return new SackError('TRUNCATED', `a SACK option needs 2 bytes of kind and length, ${Math.max(0, available)} given`)
  const kind = bytes[offset]!
  if (kind !== SACK_OPTION_KIND) return new SackError('BAD_KIND', `option kind ${kind} is not SACK (5)`)
  const optionLength = bytes[offset + 1]!
  // RFC 2018 §3: 8n + 2 bytes for n blocks.
  if (optionLength < 10 || (optionLength - 2) % 8 !== 0) return new SackError('BAD_LENGTH', `SACK option of length ${optionLength}`)
  const count = (optionLength - 2) / 8
  if (count > MAX_SACK_BLOCKS) {
    return new SackError('TOO_MANY_BLOCKS', `SACK option of length ${optionLength} has ${count} blocks, at most ${MAX_SACK_BLOCKS} fit`)
  }
  if (optionLength > available) {
    return new SackError('TRUNCATED', `SACK option of length ${optionLength} runs past the ${available} bytes given`)
  }
  return undefined
}

/**
 * Write a SACK option, kind and length bytes included, at `buffer[offset]`: the first
 * `min(blocks.length, maxBlocks)` blocks, in order (put the most recent first, RFC 2018 §4). Writes
 * nothing when there is no block to write.
 * @param maxBlocks - most blocks to write, in [0, 4]: {@link maxSackBlocks} gives 3 when the segment
 *   carries timestamps and 4 otherwise (RFC 2018 §3); default 4
 * @returns the bytes written: 8n + 2 for n blocks, or 0
 * @throws {@link SackUsageError} `ERR_BUFFER_TOO_SMALL` when the option does not fit at `offset`;
 *   `ERR_INVALID_ARG` when `maxBlocks` is out of range or an edge is not a uint32
 */
export function encodeSackOption(blocks: readonly SackBlock[], buffer: Uint8Array, offset = 0, maxBlocks: number = MAX_SACK_BLOCKS): number {
  checkIntegerArgument('maxBlocks', maxBlocks, 0, MAX_SACK_BLOCKS)
  const count = Math.min(blocks.length, maxBlocks)
  if (count === 0) return 0
  const length = sackOptionLength(count)
  if (!Number.isInteger(offset) || offset < 0 || offset + length > buffer.byteLength) {
    throw new SackUsageError(
      'ERR_BUFFER_TOO_SMALL',
      `a SACK option of ${count} blocks needs ${length} bytes at offset ${String(offset)}, but the buffer holds ${buffer.byteLength}`,
    )
  }
  for (let b = 0; b < count; b++) {
    const block = blocks[b]!
    if (block.left >>> 0 !== block.left || block.right >>> 0 !== block.right) {
      throw new SackUsageError(
        'ERR_INVALID_ARG',
        `blocks[${b}] edges must be sequence numbers, integers in [0, 4294967295], got ${String(block.left)}..${String(block.right)}`,
      )
    }
  }
  buffer[offset] = SACK_OPTION_KIND
  buffer[offset + 1] = length
  let at = offset + 2
  for (let b = 0; b < count; b++) {
    const block = blocks[b]!
    writeUint32(buffer, at, block.left)
    writeUint32(buffer, at + 4, block.right)
    at += 8
  }
  return length
}

/**
 * Write a SACK option of `count` blocks whose edges are `lefts[i]`/`rights[i]` at `buffer[offset]`, for
 * writers that keep edges in number arrays (a reused outgoing segment). Unchecked: the caller guarantees
 * 1 ≤ count ≤ 4, edges that are sequence numbers, and room for {@link sackOptionLength}(count) bytes.
 * @returns the bytes written
 */
export function encodeSackEdges(lefts: readonly number[], rights: readonly number[], count: number, buffer: Uint8Array, offset: number): number {
  const length = sackOptionLength(count)
  buffer[offset] = SACK_OPTION_KIND
  buffer[offset + 1] = length
  let at = offset + 2
  for (let b = 0; b < count; b++) {
    writeUint32(buffer, at, lefts[b]!)
    writeUint32(buffer, at + 4, rights[b]!)
    at += 8
  }
  return length
}
