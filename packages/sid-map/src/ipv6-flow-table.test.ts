/** Tests of Ipv6FlowTable: every operation, lookups in place from a frame, errors, growth, iteration, the hash, and a Map model. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Ipv6FlowTable } from './ipv6-flow-table.js'

const code = (value: string) => expect.objectContaining({ code: value })
const hashKey = [0x243f6a88, 0x85a308d3] as const

/** A 16-byte address from eight groups. */
function addr(...groups: number[]): Uint8Array {
  const bytes = new Uint8Array(16)
  groups.forEach((group, i) => {
    bytes[i * 2] = group >>> 8
    bytes[i * 2 + 1] = group & 0xff
  })
  return bytes
}

const A = addr(0xfd00, 0, 0, 0, 0, 0, 0, 1) // fd00::1
const B = addr(0xfd00, 0, 0, 0, 0, 0, 0, 2) // fd00::2

describe('Ipv6FlowTable', () => {
  it('inserts, finds, and deletes a flow', () => {
    const flows = new Ipv6FlowTable<number>({ hashKey })
    flows.insert(A, 80, B, 49152, 7)
    expect(flows.size).toBe(1)
    expect(flows.get(A, 80, B, 49152)).toBe(7)
    expect(flows.has(A, 80, B, 49152)).toBe(true)
    expect(flows.get(B, 80, A, 49152)).toBeUndefined()
    expect(flows.delete(A, 80, B, 49152)).toBe(true)
    expect(flows.get(A, 80, B, 49152)).toBeUndefined()
    expect(flows.delete(A, 80, B, 49152)).toBe(false)
    expect(flows.size).toBe(0)
  })

  it('looks up in place from a frame: the destination is the local address, the source the remote', () => {
    const flows = new Ipv6FlowTable<string>({ hashKey })
    flows.insert(A, 443, B, 50000, 'conn')
    // An Ethernet frame with an IPv6 header: source at 14 + 8, destination at 14 + 24.
    const frame = new Uint8Array(14 + 40 + 20)
    frame.set(B, 14 + 8)
    frame.set(A, 14 + 24)
    expect(flows.get(frame, 443, frame, 50000, 14 + 24, 14 + 8)).toBe('conn')
    expect(flows.get(frame, 443, frame, 50000, 14 + 8, 14 + 24)).toBeUndefined()
    frame[14 + 8 + 15] = frame[14 + 8 + 15]! ^ 1 // another peer
    expect(flows.get(frame, 443, frame, 50000, 14 + 24, 14 + 8)).toBeUndefined()
  })

  it('copies the addresses on insert: changing the caller array afterwards changes nothing', () => {
    const flows = new Ipv6FlowTable<number>({ hashKey })
    const local = A.slice()
    flows.insert(local, 1, B, 2, 1)
    local.fill(0)
    expect(flows.get(A, 1, B, 2)).toBe(1)
    expect(flows.get(local, 1, B, 2)).toBeUndefined()
  })

  it('tells apart flows that differ in any one byte of an address, in a port, or with the ends swapped', () => {
    const flows = new Ipv6FlowTable<string>({ hashKey })
    const entries: Array<[Uint8Array, number, Uint8Array, number]> = [[A, 80, B, 49152], [B, 49152, A, 80], [A, 81, B, 49152], [A, 80, B, 49153]]
    for (let byte = 0; byte < 16; byte++) {
      const local = A.slice()
      local[byte] = local[byte]! ^ 0x80
      entries.push([local, 80, B, 49152])
      const remote = B.slice()
      remote[byte] = remote[byte]! ^ 0x01
      entries.push([A, 80, remote, 49152])
    }
    entries.forEach((entry, i) => flows.insert(...entry, String(i)))
    entries.forEach((entry, i) => expect(flows.get(...entry)).toBe(String(i)))
    expect(flows.size).toBe(entries.length)
  })

  it('throws EADDRINUSE on a duplicate 4-tuple and keeps the first value', () => {
    const flows = new Ipv6FlowTable<number>({ hashKey })
    flows.insert(A, 80, B, 49152, 1)
    expect(() => flows.insert(A, 80, B, 49152, 2)).toThrowError(code('EADDRINUSE'))
    expect(() => flows.insert(A, 80, B, 49152, 2)).toThrowError(/flow \[fd00:0:0:0:0:0:0:1\]:80 <-> \[fd00:0:0:0:0:0:0:2\]:49152 is already in the table/)
    expect(flows.get(A, 80, B, 49152)).toBe(1)
  })

  it('throws ERR_INVALID_ARG for an address outside its array, a bad offset, or a bad port', () => {
    const flows = new Ipv6FlowTable<number>({ hashKey })
    expect(() => flows.get(new Uint8Array(15), 1, B, 1)).toThrowError(/local must be a Uint8Array holding an IPv6 address/)
    expect(() => flows.get(A, 1, B, 1, 1)).toThrowError(code('ERR_INVALID_ARG'))
    expect(() => flows.get(A, 1, B, 1, 0, -1)).toThrowError(/remote/)
    expect(() => flows.get(A, 1, B, 1, 0.5)).toThrowError(code('ERR_INVALID_ARG'))
    expect(() => flows.insert(A, 65536, B, 1, 0)).toThrowError(/localPort must be a port/)
    expect(() => flows.has(A, 1, B, -1)).toThrowError(/remotePort/)
    expect(() => flows.delete('fd00::1' as unknown as Uint8Array, 1, B, 1)).toThrowError(/local/)
    expect(flows.size).toBe(0)
  })

  it('names the option and its range on bad options', () => {
    expect(() => new Ipv6FlowTable({ maxLoadFactor: 1 })).toThrowError(code('ERR_INVALID_CONFIG'))
    expect(() => new Ipv6FlowTable({ initialCapacity: -1 })).toThrowError(/initialCapacity must be an integer/)
    expect(() => new Ipv6FlowTable({ hashKey: [1] as unknown as [number, number] })).toThrowError(/hashKey/)
  })

  it('grows past the load factor keeping every flow, and leaves no tombstones after deleting everything', () => {
    const flows = new Ipv6FlowTable<number>({ hashKey, initialCapacity: 4 })
    const start = flows.capacity
    const peer = B.slice()
    for (let port = 0; port < 3000; port++) {
      peer[15] = port & 0xff
      peer[14] = port >>> 8
      flows.insert(A, 443, peer, port, port)
    }
    expect(flows.capacity).toBeGreaterThan(start)
    expect(flows.size).toBe(3000)
    for (let port = 0; port < 3000; port++) {
      peer[15] = port & 0xff
      peer[14] = port >>> 8
      expect(flows.get(A, 443, peer, port)).toBe(port)
    }
    expect(flows.probeStats().occupiedSlots).toBe(3000)
    for (let port = 0; port < 3000; port++) {
      peer[15] = port & 0xff
      peer[14] = port >>> 8
      expect(flows.delete(A, 443, peer, port)).toBe(true)
    }
    expect(flows.probeStats()).toMatchObject({ size: 0, occupiedSlots: 0, maxProbeLength: 0 })
  })

  it('lets forEach delete the visited flow, visits every flow once, and refuses other changes', () => {
    const flows = new Ipv6FlowTable<number>({ hashKey })
    for (let port = 0; port < 200; port++) flows.insert(A, 80, B, port, port)
    const seen = new Set<number>()
    flows.forEach((value, local, localPort, remote, remotePort) => {
      expect(local).toEqual(A)
      expect(remote).toEqual(B)
      expect(localPort).toBe(80)
      expect(remotePort).toBe(value)
      expect(seen.has(value)).toBe(false)
      seen.add(value)
      if (value % 3 === 0) flows.delete(local, localPort, remote, remotePort)
    })
    expect(seen.size).toBe(200)
    expect(flows.size).toBe(200 - 67)
    expect(() => flows.forEach(() => flows.insert(B, 1, A, 1, 0))).toThrowError(code('ERR_CONCURRENT_MODIFICATION'))
  })
})

type Tuple = [localByte: number, localPort: number, remoteByte: number, remotePort: number]
type FlowOp = { kind: 'insert'; tuple: Tuple; value: number } | { kind: 'get'; tuple: Tuple } | { kind: 'delete'; tuple: Tuple }

/** Addresses differing in their first and last bytes (so both ends of the key matter). */
function address(byte: number): Uint8Array {
  const bytes = new Uint8Array(16)
  bytes[0] = 0xfd
  bytes[1] = byte >>> 4
  bytes[15] = byte
  return bytes
}

const tuple: fc.Arbitrary<Tuple> = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.constantFrom(0, 80, 65535), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 30 }))
const flowOp: fc.Arbitrary<FlowOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('insert' as const), tuple, value: fc.integer() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('get' as const), tuple }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), tuple }) },
)

describe('Ipv6FlowTable against a Map model', () => {
  it('agrees on every operation, through growth and backward-shift deletion', () => {
    fc.assert(
      fc.property(fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })), fc.double({ min: 0.25, max: 0.9, noNaN: true }), fc.array(flowOp, { maxLength: 400 }), (key, maxLoadFactor, ops) => {
        const flows = new Ipv6FlowTable<number>({ hashKey: key, maxLoadFactor, initialCapacity: 0 })
        const model = new Map<string, number>()
        for (const op of ops) {
          const [l, lp, r, rp] = op.tuple
          const name = op.tuple.join()
          if (op.kind === 'insert') {
            if (model.has(name)) expect(() => flows.insert(address(l), lp, address(r), rp, op.value)).toThrowError(code('EADDRINUSE'))
            else {
              flows.insert(address(l), lp, address(r), rp, op.value)
              model.set(name, op.value)
            }
          } else if (op.kind === 'get') {
            expect(flows.get(address(l), lp, address(r), rp)).toBe(model.get(name))
          } else {
            expect(flows.delete(address(l), lp, address(r), rp)).toBe(model.delete(name))
          }
          expect(flows.size).toBe(model.size)
        }
        const walked = new Map<string, number>()
        flows.forEach((value, local, localPort, remote, remotePort) => walked.set([local[15], localPort, remote[15], remotePort].join(), value))
        expect(walked).toEqual(model)
        expect(flows.probeStats().occupiedSlots).toBe(model.size)
      }),
    )
  })
})
