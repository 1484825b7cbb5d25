import { describe, expect, it } from 'vitest'
import { BufferPool, type PacketBuffer } from './buffer-pool.js'
import { DpdkIoError } from './errors.js'

describe('BufferPool', () => {
  it('hands out buffers at the headroom with an empty frame', () => {
    const pool = new BufferPool({ count: 4, headroom: 64, dataRoom: 256 })
    const buffer = pool.alloc()!
    expect(buffer.offset).toBe(64)
    expect(buffer.length).toBe(0)
    expect(buffer.data.byteLength).toBe(320)
    expect(buffer.tailroom).toBe(256)
    expect(pool.available).toBe(3)
  })

  it('counts exhaustion instead of throwing', () => {
    const pool = new BufferPool({ count: 2 })
    expect(pool.alloc()).toBeDefined()
    expect(pool.alloc()).toBeDefined()
    expect(pool.alloc()).toBeUndefined()
    expect(pool.alloc()).toBeUndefined()
    expect(pool.stats.allocFailures).toBe(2)
  })

  it('bulk-allocates all or nothing', () => {
    const pool = new BufferPool({ count: 8 })
    const out: PacketBuffer[] = []
    expect(pool.allocBulk(out, 5)).toBe(true)
    expect(new Set(out).size).toBe(5)
    expect(pool.allocBulk(out, 4)).toBe(false)
    expect(pool.available).toBe(3)
    pool.freeBulk(out, 5)
    expect(pool.available).toBe(8)
  })

  it('resets a reused buffer', () => {
    const pool = new BufferPool({ count: 1 })
    const first = pool.alloc()!
    first.offset = 10
    first.length = 99
    first.offloadFlags = 3
    first.release()
    const again = pool.alloc()!
    expect(again).toBe(first)
    expect(again.offset).toBe(pool.headroom)
    expect(again.length).toBe(0)
    expect(again.offloadFlags).toBe(0)
  })

  it('rejects a double free and a foreign buffer with ERR_BUFFER_STATE', () => {
    const pool = new BufferPool({ count: 2 })
    const other = new BufferPool({ count: 1 })
    const buffer = pool.alloc()!
    pool.free(buffer)
    expect(() => pool.free(buffer)).toThrowError(expect.objectContaining({ code: 'ERR_BUFFER_STATE' }))
    expect(() => pool.free(other.alloc()!)).toThrowError(DpdkIoError)
  })

  it('keeps buffers apart: writing one frame does not touch its neighbour', () => {
    const pool = new BufferPool({ count: 2, headroom: 0, dataRoom: 64 })
    const a = pool.alloc()!
    const b = pool.alloc()!
    a.setFrame(new Uint8Array(64).fill(1))
    b.setFrame(new Uint8Array(64).fill(2))
    expect(a.frame().every((x) => x === 1)).toBe(true)
    expect(() => a.setFrame(new Uint8Array(65))).toThrowError(DpdkIoError)
  })

  it('names the setting and its range on bad sizes', () => {
    expect(() => new BufferPool({ count: 0 })).toThrowError(/count must be in \[1, 16777216\]/)
    expect(() => new BufferPool({ dataRoom: 1.5 })).toThrowError(/dataRoom/)
  })
})
