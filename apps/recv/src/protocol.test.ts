import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CHUNK_SIZE, END_MARKER, EndDetector, perfChunk } from './protocol.js'

/** A conforming sender's whole stream: `chunks` chunks, then the marker. */
function senderStream(chunks: number, chunkSize = CHUNK_SIZE): Uint8Array {
  const stream = new Uint8Array(chunks * chunkSize + 1)
  const chunk = perfChunk(chunkSize)
  for (let i = 0; i < chunks; i++) stream.set(chunk, i * chunkSize)
  stream[chunks * chunkSize] = END_MARKER
  return stream
}

/** Cut `stream` into reads at the given (sorted, deduplicated) positions. */
function cut(stream: Uint8Array, positions: number[]): Uint8Array[] {
  const reads: Uint8Array[] = []
  let from = 0
  for (const position of [...new Set(positions)].sort((a, b) => a - b)) {
    if (position <= from || position >= stream.length) continue
    reads.push(stream.subarray(from, position))
    from = position
  }
  reads.push(stream.subarray(from))
  return reads
}

describe('EndDetector', () => {
  it('finds the marker after whole chunks however the reads are cut, counting every byte', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (chunks, cuts) => {
        const stream = senderStream(chunks, 64)
        const detector = new EndDetector(64)
        const reads = cut(stream, cuts.map((c) => c % (stream.length + 1)))
        let taken = 0
        for (const [index, read] of reads.entries()) {
          taken += detector.push(read)
          expect(detector.ended).toBe(index === reads.length - 1)
        }
        expect(detector.endedBy).toBe('marker')
        expect(detector.bytes).toBe(chunks * 64 + 1)
        expect(taken).toBe(stream.length)
        expect(detector.mismatchedChunks).toBe(0)
      }),
    )
  })

  it('does not end on a read that ends on a chunk boundary, or on the data before the marker', () => {
    const detector = new EndDetector()
    const chunk = perfChunk()
    detector.push(chunk.subarray(0, 4096))
    detector.push(chunk.subarray(4096))
    detector.push(chunk)
    expect(detector.ended).toBe(false)
    expect(detector.bytes).toBe(2 * CHUNK_SIZE)
  })

  it('takes the bytes up to the marker and ignores anything after it', () => {
    const detector = new EndDetector(16)
    const stream = new Uint8Array([...perfChunk(16), END_MARKER, 1, 2, 3])
    expect(detector.push(stream)).toBe(17)
    expect(detector.push(new Uint8Array([9, 9]))).toBe(0)
    expect(detector.bytes).toBe(17)
  })

  it('ends on end of stream without a marker', () => {
    const detector = new EndDetector()
    detector.push(perfChunk())
    detector.endOfStream()
    expect(detector.endedBy).toBe('eof')
    expect(detector.bytes).toBe(CHUNK_SIZE)
  })

  it('counts data that breaks the pattern, and never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), (reads) => {
        const detector = new EndDetector(32)
        let total = 0
        for (const read of reads) total += detector.push(read)
        expect(detector.bytes).toBe(total)
        expect(detector.mismatchedChunks).toBeGreaterThanOrEqual(0)
      }),
    )
    const detector = new EndDetector(32)
    const chunk = perfChunk(32)
    chunk[5] = 0x41
    detector.push(chunk)
    expect(detector.mismatchedChunks).toBe(1)
    expect(detector.ended).toBe(false)
  })

  it("understands a sender whose chunks do not line up (it restarted one after a short write): a read ending in 0x96 ends it, as in recv.py", () => {
    const detector = new EndDetector(32)
    const chunk = perfChunk(32)
    detector.push(chunk.subarray(0, 20)) // a short write, then a whole chunk again
    detector.push(chunk)
    expect(detector.ended).toBe(false)
    detector.push(new Uint8Array([END_MARKER]))
    expect(detector.endedBy).toBe('legacy-marker')
    expect(detector.bytes).toBe(20 + 32 + 1)
  })

  it('rejects a chunk size out of range', () => {
    expect(() => new EndDetector(1)).toThrow(/chunkSize must be an integer in \[2, 16777216\]/)
  })
})
