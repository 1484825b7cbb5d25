/**
 * The perf protocol of mTCP's apps/perf and its recv.py, as the receiver sees it, and end-of-transfer
 * detection that counts bytes instead of trusting where a read happens to end.
 *
 * On the wire (see the package README): the sender writes 8192-byte chunks, every byte 0x90 except the
 * last, 0x00; when its time is up it writes one byte 0x96, the end marker; the receiver answers `OK\n`.
 * @module
 */

/** Bytes in one chunk of the sender's data. */
export const CHUNK_SIZE = 8192
/** Every byte of a chunk but the last. */
export const DATA_BYTE = 0x90
/** The last byte of every chunk. */
export const CHUNK_LAST_BYTE = 0x00
/** The one byte the sender writes after its last chunk. */
export const END_MARKER = 0x96
/** What the receiver sends once it has seen the end. */
export const REPLY = 'OK\n'

/** One chunk exactly as the sender writes it: 8191 × 0x90, then 0x00. */
export function perfChunk(size: number = CHUNK_SIZE): Uint8Array {
  const chunk = new Uint8Array(size).fill(DATA_BYTE)
  chunk[size - 1] = CHUNK_LAST_BYTE
  return chunk
}

/** How a transfer ended: the marker at a chunk boundary, the marker as the last byte of a read of a misaligned stream (recv.py's rule), or end of stream. */
export type EndReason = 'marker' | 'legacy-marker' | 'eof'

/**
 * Finds the end of one transfer in the bytes a receiver reads, whatever sizes the reads come in.
 *
 * The rule (perf-pair protocol): data arrives in whole chunks, so the marker 0x96 is a byte at a stream
 * offset that is a multiple of the chunk size; data bytes are only 0x90 and 0x00, so the byte there is
 * 0x90 in every chunk and 0x96 only at the end. Only those positions are looked at: a read that splits a
 * chunk anywhere, or that happens to end on some byte, changes nothing (recv.py's "the last byte of a read
 * is 0x96" cannot tell a marker from data that ends a read).
 *
 * The data before the marker is compared with the expected pattern (a native memory comparison per chunk
 * piece, no per-byte loop); pieces that differ are counted in {@link mismatchedChunks} and never throw. A
 * sender whose chunks do not line up with the byte count (it restarted a chunk after a short write) is
 * still understood: once the stream is seen to be misaligned, a read ending in 0x96 also ends the transfer,
 * as recv.py would have it.
 */
export class EndDetector {
  /** Bytes of the transfer so far, the marker included once found. */
  bytes = 0
  /** Pieces of data that did not match the chunk pattern (or were the wrong length for it). */
  mismatchedChunks = 0
  /** How the transfer ended, once it has. */
  endedBy: EndReason | undefined = undefined
  readonly #chunkSize: number
  readonly #pattern: Buffer

  constructor(chunkSize: number = CHUNK_SIZE) {
    if (!Number.isInteger(chunkSize) || chunkSize < 2 || chunkSize > 1 << 24) {
      throw new RangeError(`chunkSize must be an integer in [2, 16777216], got ${String(chunkSize)}`)
    }
    this.#chunkSize = chunkSize
    const pattern = perfChunk(chunkSize)
    this.#pattern = Buffer.from(pattern.buffer, pattern.byteOffset, pattern.byteLength)
  }

  /** Whether the end has been seen (marker or end of stream). */
  get ended(): boolean {
    return this.endedBy !== undefined
  }

  /**
   * Account for one read. @returns how many of its bytes belong to the transfer: all of them, or up to and
   * including the marker; 0 once the transfer has ended.
   */
  push(data: Uint8Array): number {
    if (this.endedBy !== undefined) return 0
    const size = this.#chunkSize
    const length = data.byteLength
    let position = this.bytes % size === 0 ? 0 : size - (this.bytes % size)
    let end = -1
    for (; position < length; position += size) {
      if (data[position] === END_MARKER) {
        end = position
        break
      }
    }
    const taken = end < 0 ? length : end
    this.#check(data, taken)
    if (end >= 0) {
      this.bytes += end + 1
      this.endedBy = 'marker'
      return end + 1
    }
    this.bytes += length
    if (this.mismatchedChunks > 0 && length > 0 && data[length - 1] === END_MARKER) this.endedBy = 'legacy-marker'
    return length
  }

  /** The stream ended (EOF) without a marker. */
  endOfStream(): void {
    if (this.endedBy === undefined) this.endedBy = 'eof'
  }

  /** Compare data[0, count) with the pattern at the current offset, one chunk piece at a time. */
  #check(data: Uint8Array, count: number): void {
    const size = this.#chunkSize
    let offset = this.bytes % size
    let index = 0
    while (index < count) {
      const piece = Math.min(size - offset, count - index)
      if (this.#pattern.compare(data, index, index + piece, offset, offset + piece) !== 0) this.mismatchedChunks++
      index += piece
      offset = 0
    }
  }
}
