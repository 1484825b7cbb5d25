/** Tests of FlowTable: every operation, errors, growth, no tombstones, iteration, and a Map model. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SidMapError } from './errors.js'
import { FlowTable } from './flow-table.js'

const code = (value: string) => expect.objectContaining({ code: value })
const hashKey = [0x243f6a88, 0x85a308d3] as const

const A = 0x0a000001 // 10.0.0.1
const B = 0x0a000002 // 10.0.0.2

type Tuple = [localIp: number, localPort: number, remoteIp: number, remotePort: number]

describe('FlowTable', () => {
  it('inserts, finds, and deletes a flow', () => {
    const flows = new FlowTable<number>({ hashKey })
    flows.insert(A, 80, B, 49152, 7)
    expect(flows.size).toBe(1)
    expect(flows.get(A, 80, B, 49152)).toBe(7)
    expect(flows.has(A, 80, B, 49152)).toBe(true)
    expect(flows.delete(A, 80, B, 49152)).toBe(true)
    expect(flows.get(A, 80, B, 49152)).toBeUndefined()
    expect(flows.has(A, 80, B, 49152)).toBe(false)
    expect(flows.delete(A, 80, B, 49152)).toBe(false)
    expect(flows.size).toBe(0)
  })

  it('tells apart flows that differ in one field, or with local and remote swapped', () => {
    const flows = new FlowTable<string>({ hashKey })
    const tuples: Tuple[] = [
      [A, 80, B, 49152],
      [B, 80, B, 49152],
      [A, 81, B, 49152],
      [A, 80, A, 49152],
      [A, 80, B, 49153],
      [B, 49152, A, 80],
    ]
    for (const tuple of tuples) flows.insert(...tuple, tuple.join())
    for (const tuple of tuples) expect(flows.get(...tuple)).toBe(tuple.join())
    expect(flows.size).toBe(tuples.length)
  })

  it('handles the extremes of every field', () => {
    const flows = new FlowTable<string>({ hashKey })
    const tuples: Tuple[] = [
      [0, 0, 0, 0],
      [0xffffffff, 65535, 0xffffffff, 65535],
      [0x80000000, 32768, 0x7fffffff, 32767],
    ]
    for (const tuple of tuples) flows.insert(...tuple, tuple.join())
    for (const tuple of tuples) expect(flows.get(...tuple)).toBe(tuple.join())
    const seen: string[] = []
    flows.forEach((value, ...tuple) => {
      expect(tuple.join()).toBe(value)
      seen.push(value)
    })
    expect(seen.sort()).toEqual(tuples.map((t) => t.join()).sort())
  })

  it('throws EADDRINUSE on a duplicate 4-tuple and keeps the first value', () => {
    const flows = new FlowTable<number>({ hashKey })
    flows.insert(A, 80, B, 49152, 1)
    expect(() => flows.insert(A, 80, B, 49152, 2)).toThrowError(code('EADDRINUSE'))
    expect(() => flows.insert(A, 80, B, 49152, 2)).toThrowError(/flow 10\.0\.0\.1:80 <-> 10\.0\.0\.2:49152 is already in the table/)
    expect(flows.get(A, 80, B, 49152)).toBe(1)
    expect(flows.size).toBe(1)
  })

  it('throws ERR_INVALID_ARG naming the argument for a bad address or port', () => {
    const flows = new FlowTable<number>({ hashKey })
    expect(() => flows.insert(A, 65536, B, 1, 0)).toThrowError(/localPort must be a port, an integer in \[0, 65535\], got 65536/)
    expect(() => flows.get(A, 1, B, -1)).toThrowError(/remotePort/)
    expect(() => flows.has(A, 1.5, B, 1)).toThrowError(code('ERR_INVALID_ARG'))
    expect(() => flows.delete(-1, 1, B, 1)).toThrowError(/localIp must be an IPv4 address as an integer in \[0, 4294967295\], got -1/)
    expect(() => flows.get(A, 1, 2 ** 32, 1)).toThrowError(/remoteIp/)
    expect(() => flows.get(A, 1, Number.NaN, 1)).toThrowError(SidMapError)
    expect(() => flows.get('10.0.0.1' as unknown as number, 1, B, 1)).toThrowError(/localIp/)
    expect(flows.size).toBe(0)
  })

  it('names the option and its range on bad options', () => {
    expect(() => new FlowTable({ maxLoadFactor: 0.95 })).toThrowError(/maxLoadFactor must be a number in \[0\.25, 0\.9\], got 0\.95/)
    expect(() => new FlowTable({ initialCapacity: -1 })).toThrowError(code('ERR_INVALID_CONFIG'))
    expect(() => new FlowTable({ initialCapacity: 2 ** 26 + 1 })).toThrowError(/initialCapacity/)
    expect(() => new FlowTable({ hashKey: [1, -1] })).toThrowError(/hashKey\[1\]/)
    expect(() => new FlowTable({ hashKey: [1] as unknown as [number, number] })).toThrowError(/hashKey/)
  })

  it('sizes for initialCapacity and grows by doubling past the load factor, keeping every flow', () => {
    const flows = new FlowTable<number>({ hashKey, initialCapacity: 100, maxLoadFactor: 0.5 })
    expect(flows.capacity).toBe(256)
    for (let i = 0; i < 128; i++) flows.insert(A, 80, B + i, 1000 + i, i)
    expect(flows.capacity).toBe(256) // 128 = 256 × 0.5 still fits
    flows.insert(A, 80, B + 128, 1128, 128)
    expect(flows.capacity).toBe(512)
    for (let i = 0; i <= 128; i++) expect(flows.get(A, 80, B + i, 1000 + i)).toBe(i)
    expect(new FlowTable({ initialCapacity: 0 }).capacity).toBe(8)
  })

  it('leaves no tombstones: after deleting everything every slot is empty', () => {
    const flows = new FlowTable<number>({ hashKey, initialCapacity: 0, maxLoadFactor: 0.9 })
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 500; i++) flows.insert(A, 80, B, i + round, i)
      for (let i = 0; i < 500; i++) expect(flows.delete(A, 80, B, i + round)).toBe(true)
    }
    expect(flows.size).toBe(0)
    expect(flows.probeStats()).toEqual({ size: 0, capacity: flows.capacity, occupiedSlots: 0, maxProbeLength: 0, meanProbeLength: 0 })
  })

  it('keeps probes short for a port scan from one peer', () => {
    const flows = new FlowTable<number>({ hashKey, initialCapacity: 0 })
    for (let port = 0; port < 65_536; port++) flows.insert(A, 80, B, port, port)
    const stats = flows.probeStats()
    expect(stats.occupiedSlots).toBe(65_536)
    expect(stats.meanProbeLength).toBeLessThan(2)
    expect(stats.maxProbeLength).toBeLessThan(40)
  })

  it('lets forEach delete the visited flow, and visits every flow exactly once', () => {
    const flows = new FlowTable<number>({ hashKey, initialCapacity: 0, maxLoadFactor: 0.9 })
    for (let i = 0; i < 1000; i++) flows.insert(A, 80, B, i, i)
    const visits = new Int32Array(1000)
    flows.forEach((value, localIp, localPort, remoteIp, remotePort) => {
      visits[value]!++
      if (value % 3 !== 0) expect(flows.delete(localIp, localPort, remoteIp, remotePort)).toBe(true)
    })
    expect(visits.every((count) => count === 1)).toBe(true)
    expect(flows.size).toBe(334)
    for (let i = 0; i < 1000; i++) expect(flows.has(A, 80, B, i)).toBe(i % 3 === 0)
  })

  it('throws ERR_CONCURRENT_MODIFICATION when forEach inserts or deletes another flow', () => {
    const flows = new FlowTable<number>({ hashKey })
    for (let i = 0; i < 4; i++) flows.insert(A, 80, B, i, i)
    expect(() => flows.forEach(() => flows.insert(A, 80, B, 100, 100))).toThrowError(code('ERR_CONCURRENT_MODIFICATION'))
    expect(() =>
      flows.forEach((value) => {
        flows.delete(A, 80, B, value === 0 ? 1 : 0)
      }),
    ).toThrowError(code('ERR_CONCURRENT_MODIFICATION'))
  })
})

type FlowOp =
  | { kind: 'insert'; tuple: Tuple; value: number }
  | { kind: 'get'; tuple: Tuple }
  | { kind: 'delete'; tuple: Tuple }

// Small domains so that duplicates, misses and long clusters are common.
const tuple: fc.Arbitrary<Tuple> = fc.tuple(
  fc.constantFrom(0, 1, A, 0xffffffff),
  fc.constantFrom(0, 80, 65535),
  fc.constantFrom(0, B, 0x80000000),
  fc.integer({ min: 0, max: 40 }),
)
const flowOp: fc.Arbitrary<FlowOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('insert' as const), tuple, value: fc.integer() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('get' as const), tuple }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), tuple }) },
)

describe('FlowTable against a Map model', () => {
  it('agrees on every operation, through growth and backward-shift deletion', () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })),
        fc.double({ min: 0.25, max: 0.9, noNaN: true }),
        fc.array(flowOp, { maxLength: 400 }),
        (key, maxLoadFactor, ops) => {
          const flows = new FlowTable<number>({ hashKey: key, initialCapacity: 0, maxLoadFactor })
          const model = new Map<string, number>()
          for (const op of ops) {
            const name = op.tuple.join()
            switch (op.kind) {
              case 'insert':
                if (model.has(name)) {
                  expect(() => flows.insert(...op.tuple, op.value)).toThrowError(code('EADDRINUSE'))
                } else {
                  flows.insert(...op.tuple, op.value)
                  model.set(name, op.value)
                }
                break
              case 'get':
                expect(flows.get(...op.tuple)).toBe(model.get(name))
                expect(flows.has(...op.tuple)).toBe(model.has(name))
                break
              case 'delete':
                expect(flows.delete(...op.tuple)).toBe(model.delete(name))
                break
            }
            expect(flows.size).toBe(model.size)
          }
          const listed = new Map<string, number>()
          flows.forEach((value, ...t) => listed.set(t.join(), value))
          expect(listed).toEqual(model)
          for (const [name, value] of model) {
            expect(flows.get(...(name.split(',').map(Number) as Tuple))).toBe(value)
          }
          const stats = flows.probeStats()
          expect(stats.occupiedSlots).toBe(model.size)
          expect(stats.size).toBe(model.size)
          expect(model.size).toBeLessThanOrEqual(flows.capacity * maxLoadFactor)
        },
      ),
    )
  })

  it('visits each flow once while forEach deletes a random subset of visited flows', () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })),
        fc.uniqueArray(fc.integer({ min: 0, max: 65535 }), { maxLength: 300 }),
        fc.func(fc.boolean()),
        (key, ports, shouldDelete) => {
          const flows = new FlowTable<number>({ hashKey: key, initialCapacity: 0, maxLoadFactor: 0.9 })
          for (const port of ports) flows.insert(A, 80, B, port, port)
          const visits = new Map<number, number>()
          const kept = new Set<number>()
          flows.forEach((port) => {
            visits.set(port, (visits.get(port) ?? 0) + 1)
            if (shouldDelete(port)) flows.delete(A, 80, B, port)
            else kept.add(port)
          })
          expect(visits.size).toBe(ports.length)
          for (const count of visits.values()) expect(count).toBe(1)
          expect(flows.size).toBe(kept.size)
          for (const port of ports) expect(flows.has(A, 80, B, port)).toBe(kept.has(port))
        },
      ),
    )
  })
})
