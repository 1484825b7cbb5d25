/** The ring storage pool: storage of finished connections is reused, bounded, and never mixes up data. */
import { describe, expect, it } from 'vitest'
import { RingStoragePool } from './ring.js'
import { ReceiveBuffer } from './receive-buffer.js'
import { SendBuffer } from './send-buffer.js'

describe('RingStoragePool', () => {
  it('hands the storage a released send buffer gave back to the next buffer of that size', () => {
    const pool = new RingStoragePool()
    const first = new SendBuffer(1 << 20, pool)
    first.write(new Uint8Array(100).fill(7))
    expect(pool.stats).toMatchObject({ allocated: 1, reused: 0 })
    first.release()
    expect(first.length).toBe(0)
    expect(first.allocated).toBe(0)
    expect(pool.stats).toMatchObject({ returned: 1, bytesHeld: 2048 })
    const second = new ReceiveBuffer(1 << 20, pool)
    expect(second.insert(0, new Uint8Array(50).fill(9))).toBe(50)
    expect(pool.stats).toMatchObject({ allocated: 1, reused: 1, bytesHeld: 0 })
    // The reused storage still holds the first connection's bytes; the ring reads only what it wrote.
    const out = new Uint8Array(100)
    expect(second.read(out)).toBe(50)
    expect(out.subarray(0, 50).every((byte) => byte === 9)).toBe(true)
  })

  it('gives the old storage back when a ring grows, and takes the larger size from the pool', () => {
    const pool = new RingStoragePool()
    const buffer = new SendBuffer(1 << 20, pool)
    const data = Uint8Array.from({ length: 5000 }, (_, i) => i & 0xff)
    buffer.write(data) // 2 KiB is too small: grows to 8 KiB (2 KiB never allocated: the first size is the one needed)
    expect(buffer.allocated).toBe(8192)
    buffer.write(data) // grows to 16 KiB, giving 8 KiB back
    expect(buffer.allocated).toBe(16384)
    expect(pool.stats.bytesHeld).toBe(8192)
    const out = new Uint8Array(10_000)
    buffer.copyOut(0, 10_000, out, 0)
    expect(out.subarray(0, 5000)).toEqual(data)
    expect(out.subarray(5000)).toEqual(data)
  })

  it('keeps at most maxBytes of free storage, and never sizes it does not pool', () => {
    const pool = new RingStoragePool({ maxBytes: 4096 })
    for (let i = 0; i < 3; i++) pool.give(new Uint8Array(2048))
    expect(pool.stats).toMatchObject({ returned: 2, discarded: 1, bytesHeld: 4096 })
    pool.give(new Uint8Array(3000)) // not a power of two (a capacity-capped ring)
    pool.give(new Uint8Array(4096).subarray(0, 2048)) // a window of a larger buffer
    expect(pool.stats).toMatchObject({ returned: 2, discarded: 3 })
    expect(() => new RingStoragePool({ maxBytes: -1 })).toThrow(/maxBytes/)
  })

  it('is a no-op to release without a pool: the buffer is empty afterwards and works again', () => {
    const buffer = new ReceiveBuffer(4096)
    buffer.insert(0, new Uint8Array(10).fill(1))
    buffer.insert(20, new Uint8Array(10).fill(2)) // out of order
    buffer.release()
    expect(buffer.readable).toBe(0)
    expect(buffer.rangeCount).toBe(0)
    expect(buffer.insert(0, new Uint8Array(5).fill(3))).toBe(5)
  })
})
