/** Tests of SocketTable: id layout, reuse, stale-id rejection, generation wrap, iteration, and a Map model. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SidMapError } from './errors.js'
import { type GenerationWrapPolicy, type SocketId, SocketTable } from './socket-table.js'

const code = (value: string) => expect.objectContaining({ code: value })

describe('SocketTable', () => {
  it('allocates distinct ids that map to their values', () => {
    const sockets = new SocketTable<string>({ maxSockets: 8 })
    const a = sockets.allocate('a')!
    const b = sockets.allocate('b')!
    expect(a).not.toBe(b)
    expect(sockets.get(a)).toBe('a')
    expect(sockets.get(b)).toBe('b')
    expect(sockets.has(a)).toBe(true)
    expect(sockets.size).toBe(2)
    expect(sockets.available).toBe(6)
  })

  it('lays an id out as generation * 2^slotBits + slot, positive and within 31 bits', () => {
    expect(new SocketTable({}).slotBits).toBe(16)
    expect(new SocketTable({}).generationBits).toBe(15)
    const sized = new SocketTable({ maxSockets: 10_000 })
    expect([sized.slotBits, sized.generationBits]).toEqual([14, 17])
    const single = new SocketTable({ maxSockets: 1 })
    expect([single.slotBits, single.generationBits]).toEqual([0, 31])
    const exact = new SocketTable({ maxSockets: 1024 })
    expect([exact.slotBits, exact.generationBits]).toEqual([10, 21])

    const sockets = new SocketTable<number>({ maxSockets: 5 })
    expect(sockets.slotBits).toBe(3)
    const ids = [0, 1, 2, 3, 4].map((i) => sockets.allocate(i)!)
    for (const [slot, id] of ids.entries()) {
      expect(id).toBe(1 * 8 + slot) // generation 1 of slots 0..4, in order
      expect(sockets.slotOf(id)).toBe(slot)
      expect(id | 0).toBe(id)
      expect(id).toBeGreaterThanOrEqual(2 ** sockets.slotBits)
    }
    sockets.release(ids[0]!)
    expect(sockets.allocate(9)).toBe(2 * 8 + 0) // slot 0 again, generation 2
  })

  it('returns undefined when full, counts it, and recovers after a release', () => {
    const sockets = new SocketTable<number>({ maxSockets: 2 })
    const a = sockets.allocate(1)!
    expect(sockets.allocate(2)).toBeDefined()
    expect(sockets.allocate(3)).toBeUndefined()
    expect(sockets.allocate(4)).toBeUndefined()
    expect(sockets.stats.allocFailures).toBe(2)
    expect(sockets.available).toBe(0)
    expect(sockets.release(a)).toBe(true)
    expect(sockets.allocate(5)).toBeDefined()
    expect(sockets.size).toBe(2)
  })

  it('rejects a stale id after its slot is reused', () => {
    const sockets = new SocketTable<string>({ maxSockets: 1 })
    const old = sockets.allocate('old')!
    expect(sockets.release(old)).toBe(true)
    const newer = sockets.allocate('newer')!
    expect(newer).not.toBe(old)
    expect(sockets.slotOf(newer)).toBe(0)
    expect(sockets.get(old)).toBeUndefined()
    expect(sockets.has(old)).toBe(false)
    expect(sockets.slotOf(old)).toBe(-1)
    expect(sockets.set(old, 'hijack')).toBe(false)
    expect(sockets.release(old)).toBe(false) // a double release cannot free the newer socket
    expect(sockets.get(newer)).toBe('newer')
    expect(sockets.size).toBe(1)
  })

  it('rejects a released id before reuse and on double release', () => {
    const sockets = new SocketTable<string>({ maxSockets: 4 })
    const id = sockets.allocate('x')!
    expect(sockets.release(id)).toBe(true)
    expect(sockets.release(id)).toBe(false)
    expect(sockets.get(id)).toBeUndefined()
    expect(sockets.size).toBe(0)
    expect(sockets.available).toBe(4)
  })

  it('rejects ids it never issued, including malformed numbers', () => {
    const sockets = new SocketTable<string>({ maxSockets: 4 })
    const id = sockets.allocate('x')!
    for (const bad of [0, -1, -id, id + 0.5, id + 2 ** 31, id + 2 ** 32, Number.NaN, Infinity, 2 ** 31 - 1, id + 4]) {
      expect(sockets.get(bad)).toBeUndefined()
      expect(sockets.has(bad)).toBe(false)
      expect(sockets.set(bad, 'y')).toBe(false)
      expect(sockets.slotOf(bad)).toBe(-1)
      expect(sockets.release(bad)).toBe(false)
    }
    // The free slot 0 has id 0 stored as "free": 0 must still not match it.
    const fresh = new SocketTable<string>({ maxSockets: 1 })
    expect(fresh.get(0)).toBeUndefined()
    expect(fresh.release(0)).toBe(false)
    expect(sockets.get(id)).toBe('x')
  })

  it('reuses free slots first in, first out', () => {
    const sockets = new SocketTable<number>({ maxSockets: 4 })
    const ids = [0, 1, 2, 3].map((i) => sockets.allocate(i)!)
    sockets.release(ids[2]!)
    sockets.release(ids[0]!)
    expect(sockets.slotOf(sockets.allocate(10)!)).toBe(2)
    expect(sockets.slotOf(sockets.allocate(11)!)).toBe(0)
  })

  it('replaces the value of a live id with set', () => {
    const sockets = new SocketTable<string | undefined>({ maxSockets: 2 })
    const id = sockets.allocate(undefined)!
    expect(sockets.has(id)).toBe(true)
    expect(sockets.set(id, 'connection')).toBe(true)
    expect(sockets.get(id)).toBe('connection')
  })

  it("wraps generations with 'reuse': a stale id aliases only after 2^generationBits - 1 reuses", () => {
    const sockets = new SocketTable<number>({ maxSockets: 1, generationBits: 2 }) // generations 1, 2, 3
    const first = sockets.allocate(0)!
    expect(first).toBe(1)
    sockets.release(first)
    const seen = [first]
    for (let reuse = 1; reuse <= 2; reuse++) {
      const id = sockets.allocate(reuse)!
      expect(seen).not.toContain(id)
      expect(sockets.get(first)).toBeUndefined()
      seen.push(id)
      sockets.release(id)
    }
    expect(seen).toEqual([1, 2, 3])
    // The third reuse starts the generations again: this is the documented limit of the guarantee.
    expect(sockets.allocate(99)).toBe(first)
    expect(sockets.stats.retiredSlots).toBe(0)
  })

  it("keeps reusing past many wraps with 'reuse' and never issues 0", () => {
    const sockets = new SocketTable<number>({ maxSockets: 2, generationBits: 2 })
    for (let i = 0; i < 100; i++) {
      const id = sockets.allocate(i)!
      expect(id).toBeGreaterThan(0)
      expect(sockets.get(id)).toBe(i)
      sockets.release(id)
    }
    expect(sockets.available).toBe(2)
  })

  it("retires a slot whose generations are used up with 'retire', so no id is issued twice", () => {
    const sockets = new SocketTable<number>({ maxSockets: 2, generationBits: 2, onGenerationWrap: 'retire' })
    const issued = new Set<SocketId>()
    let id: SocketId | undefined
    while ((id = sockets.allocate(0)) !== undefined) {
      expect(issued.has(id)).toBe(false)
      issued.add(id)
      sockets.release(id)
    }
    expect(issued.size).toBe(2 * 3)
    expect(sockets.stats.retiredSlots).toBe(2)
    expect(sockets.available).toBe(0)
    expect(sockets.stats.allocFailures).toBe(1)
    for (const stale of issued) expect(sockets.get(stale)).toBeUndefined()
  })

  it('iterates live entries by forEach, ids, values, entries and the iterator', () => {
    const sockets = new SocketTable<string>({ maxSockets: 8 })
    const ids = ['a', 'b', 'c', 'd'].map((v) => sockets.allocate(v)!)
    sockets.release(ids[1]!)
    const expected = [
      [ids[0], 'a'],
      [ids[2], 'c'],
      [ids[3], 'd'],
    ]
    const byForEach: Array<[SocketId, string]> = []
    sockets.forEach((value, id) => byForEach.push([id, value]))
    const sort = (list: Array<[SocketId, string]>) => [...list].sort((x, y) => x[0] - y[0])
    expect(sort(byForEach)).toEqual(expected)
    expect(sort([...sockets])).toEqual(expected)
    expect(sort([...sockets.entries()])).toEqual(expected)
    expect([...sockets.ids()].sort((x, y) => x - y)).toEqual([ids[0], ids[2], ids[3]])
    expect([...sockets.values()].sort()).toEqual(['a', 'c', 'd'])
  })

  it('lets forEach release the visited socket and allocate, visiting each original once', () => {
    const sockets = new SocketTable<number>({ maxSockets: 16 })
    const ids = Array.from({ length: 10 }, (_, i) => sockets.allocate(i)!)
    const visited: SocketId[] = []
    sockets.forEach((value, id) => {
      visited.push(id)
      if (value % 2 === 0) expect(sockets.release(id)).toBe(true)
      if (value === 5) sockets.allocate(100) // not visited
    })
    expect(visited.sort((x, y) => x - y)).toEqual(ids)
    expect(sockets.size).toBe(6)
    const visitedByIterator: SocketId[] = []
    for (const id of sockets.ids()) {
      visitedByIterator.push(id)
      sockets.release(id)
    }
    expect(visitedByIterator).toHaveLength(6)
    expect(sockets.size).toBe(0)
  })

  it('throws ERR_CONCURRENT_MODIFICATION when iteration releases another socket', () => {
    const sockets = new SocketTable<number>({ maxSockets: 4 })
    const ids = [0, 1, 2].map((i) => sockets.allocate(i)!)
    const other = (id: SocketId) => ids.find((x) => x !== id && sockets.has(x))!
    expect(() => sockets.forEach((_, id) => sockets.release(other(id)))).toThrowError(code('ERR_CONCURRENT_MODIFICATION'))
    expect(() => {
      for (const id of sockets.ids()) sockets.release(other(id))
    }).toThrowError(SidMapError)
  })

  it('names the option and its range on bad options', () => {
    expect(() => new SocketTable({ maxSockets: 0 })).toThrowError(/maxSockets must be an integer in \[1, 8388608\], got 0/)
    expect(() => new SocketTable({ maxSockets: 2 ** 23 + 1 })).toThrowError(code('ERR_INVALID_CONFIG'))
    expect(() => new SocketTable({ maxSockets: 1.5 })).toThrowError(/maxSockets/)
    expect(() => new SocketTable({ maxSockets: 1024, generationBits: 22 })).toThrowError(/generationBits must be an integer in \[2, 21\], got 22/)
    expect(() => new SocketTable({ generationBits: 1 })).toThrowError(code('ERR_INVALID_CONFIG'))
    expect(() => new SocketTable({ onGenerationWrap: 'never' as GenerationWrapPolicy })).toThrowError(/onGenerationWrap/)
  })
})

/** A reference model: a Map of live ids, a FIFO array of free slots, and per-slot allocation counts. */
class SocketTableModel {
  readonly live = new Map<SocketId, number>()
  readonly free: number[]
  readonly allocations: number[]
  retired = 0
  readonly maxGeneration: number

  constructor(
    readonly capacity: number,
    readonly slotBits: number,
    generationBits: number,
    readonly policy: GenerationWrapPolicy,
  ) {
    this.free = Array.from({ length: capacity }, (_, slot) => slot)
    this.allocations = new Array<number>(capacity).fill(0)
    this.maxGeneration = 2 ** generationBits - 1
  }

  allocate(value: number): SocketId | undefined {
    const slot = this.free.shift()
    if (slot === undefined) return undefined
    const generation = (this.allocations[slot]! % this.maxGeneration) + 1
    this.allocations[slot]!++
    const id = generation * 2 ** this.slotBits + slot
    this.live.set(id, value)
    return id
  }

  release(id: SocketId): boolean {
    if (!this.live.delete(id)) return false
    const slot = id % 2 ** this.slotBits
    if (this.policy === 'retire' && this.allocations[slot]! % this.maxGeneration === 0) this.retired++
    else this.free.push(slot)
    return true
  }
}

type SocketOp =
  | { kind: 'allocate'; value: number }
  | { kind: 'release'; pick: number }
  | { kind: 'get'; pick: number }
  | { kind: 'set'; pick: number; value: number }

const socketOp: fc.Arbitrary<SocketOp> = fc.oneof(
  fc.record({ kind: fc.constant('allocate' as const), value: fc.integer() }),
  fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('get' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('set' as const), pick: fc.nat(), value: fc.integer() }),
)

describe('SocketTable against a Map model', () => {
  it('agrees on every operation, including stale ids, exhaustion and generation wrap', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 2, max: 4 }),
        fc.constantFrom<GenerationWrapPolicy>('reuse', 'retire'),
        fc.array(socketOp, { maxLength: 300 }),
        (maxSockets, generationBits, policy, ops) => {
          const sockets = new SocketTable<number>({ maxSockets, generationBits, onGenerationWrap: policy })
          const model = new SocketTableModel(maxSockets, sockets.slotBits, generationBits, policy)
          // Ids to pick from: every id ever issued (live or stale) and a few never issued.
          const pool: SocketId[] = [0, -1, 2 ** 31 - 1]
          for (const op of ops) {
            const id = pool[op.kind === 'allocate' ? 0 : op.pick % pool.length]!
            switch (op.kind) {
              case 'allocate': {
                const got = sockets.allocate(op.value)
                expect(got).toBe(model.allocate(op.value))
                if (got !== undefined) pool.push(got)
                break
              }
              case 'release':
                expect(sockets.release(id)).toBe(model.release(id))
                break
              case 'get':
                expect(sockets.get(id)).toBe(model.live.get(id))
                expect(sockets.has(id)).toBe(model.live.has(id))
                break
              case 'set':
                expect(sockets.set(id, op.value)).toBe(model.live.has(id))
                if (model.live.has(id)) model.live.set(id, op.value)
                break
            }
            expect(sockets.size).toBe(model.live.size)
            expect(sockets.available).toBe(model.free.length)
          }
          expect(sockets.stats.retiredSlots).toBe(model.retired)
          expect(new Map(sockets)).toEqual(model.live)
          for (const id of pool) expect(sockets.get(id)).toBe(model.live.get(id))
        },
      ),
    )
  })
})
