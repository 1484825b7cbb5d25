/**
 * Frame builders for this package's tests (not part of the public API).
 * @internal
 * @module
 */
import type { BufferPool, PacketBuffer } from './buffer-pool.js'

/** Put a frame of `length` bytes whose bytes 14..18 hold `seq`, into a fresh buffer. */
export function numberedFrame(pool: BufferPool, seq: number, length = 1514): PacketBuffer {
  const buffer = pool.alloc()
  if (buffer === undefined) throw new Error('pool exhausted in test')
  const bytes = buffer.data
  const o = buffer.offset
  bytes.fill(0xa5, o, o + length)
  bytes.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5], o) // local experimental EtherType
  buffer.view.setUint32(o + 14, seq)
  buffer.length = length
  return buffer
}

/** The sequence number written by {@link numberedFrame}. */
export function frameSeq(buffer: PacketBuffer): number {
  return buffer.view.getUint32(buffer.offset + 14)
}

/** FNV-1a over the frame, to compare contents cheaply. */
export function frameHash(buffer: PacketBuffer): number {
  let h = 0x811c9dc5
  for (let i = buffer.offset; i < buffer.offset + buffer.length; i++) h = Math.imul(h ^ buffer.data[i]!, 0x01000193)
  return h >>> 0
}
