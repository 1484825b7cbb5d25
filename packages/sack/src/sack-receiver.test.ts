/**
 * Tests of the receiver's block choice on the worked examples of RFC 2018 §7 (for the rules of §4) and RFC 2883 §4, a Linux
 * capture, wraparound, and properties over random arrivals.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { capturedFrames, capturedTcp } from './fixtures/captured-frames.js'
import { maxSackBlocks, type SackBlock } from './sack-block.js'
import { encodeSackOption } from './sack-option.js'
import { SackReceiver } from './sack-receiver.js'
import { seqGt, seqLe, seqLt } from './seq.js'

/** The blocks `receiver` would put in an ACK of `rcvNxt`, as [left, right] pairs relative to `base`. */
function ack(receiver: SackReceiver, rcvNxt: number, max = 3, base = 0): Array<[number, number]> {
  const out: SackBlock[] = []
  const count = receiver.blocks((base + rcvNxt) >>> 0, max, out)
  return out.slice(0, count).map(({ left, right }) => [(left - base) | 0, (right - base) | 0])
}

describe.each([
  ['from 0', 0],
  ['across 2^32', 2 ** 32 - 7000], // 5000 + base wraps to 2^32 − 2000; the blocks cross 0
])('SackReceiver on the RFC 2018 §7 examples %s', (_name, base) => {
  const at = (x: number) => (base + x) >>> 0
  /** Segments of 500 octets from 5000, as in the RFC: segment n covers [5000 + 500n, 5500 + 500n). */
  const receive = (receiver: SackReceiver, first: number) => receiver.onSegment(at(first), at(first + 500))

  it('case 2: the first segment is lost, the other seven arrive; each ACK carries the one growing block', () => {
    const receiver = new SackReceiver()
    receiver.onInOrder(at(5000))
    const expected = [6000, 6500, 7000, 7500, 8000, 8500, 9000]
    for (const [i, right] of expected.entries()) {
      receive(receiver, 5500 + 500 * i)
      expect(ack(receiver, 5000, 3, base)).toEqual([[5500, right]])
    }
  })

  it('case 3: the 2nd, 4th, 6th and 8th segments are lost; then the 4th arrives; then the 2nd', () => {
    const receiver = new SackReceiver()
    receiver.onInOrder(at(5500)) // 5000 arrives in order and is ACKed normally
    receive(receiver, 6000)
    expect(ack(receiver, 5500, 3, base)).toEqual([[6000, 6500]])
    receive(receiver, 7000)
    expect(ack(receiver, 5500, 3, base)).toEqual([
      [7000, 7500],
      [6000, 6500],
    ])
    receive(receiver, 8000)
    expect(ack(receiver, 5500, 3, base)).toEqual([
      [8000, 8500],
      [7000, 7500],
      [6000, 6500],
    ])
    // "Suppose at this point, the 4th packet is received out of order": only two blocks remain.
    receive(receiver, 6500)
    expect(ack(receiver, 5500, 3, base)).toEqual([
      [6000, 7500],
      [8000, 8500],
    ])
    // "Suppose at this point, the 2nd segment is received": the ACK advances to 7500.
    receiver.onInOrder(at(7500))
    expect(ack(receiver, 7500, 3, base)).toEqual([[8000, 8500]])
    expect(receiver.rangeCount).toBe(1)
  })
})

describe('SackReceiver recency (RFC 2018 §4)', () => {
  it('repeats the most recent blocks so each is reported in at least three successive ACKs', () => {
    const receiver = new SackReceiver()
    receiver.onInOrder(0)
    const reports = new Map<number, number>() // block left edge → ACKs that carried it
    for (let k = 0; k < 10; k++) {
      receiver.onSegment(1000 * k + 500, 1000 * k + 1000) // a new isolated block each time
      const blocks = ack(receiver, 0, 3)
      expect(blocks[0]).toEqual([1000 * k + 500, 1000 * k + 1000]) // the triggering segment's block first
      for (const [left] of blocks) reports.set(left, (reports.get(left) ?? 0) + 1)
    }
    for (let k = 0; k < 8; k++) expect(reports.get(1000 * k + 500)).toBe(3)
  })

  it('puts first the block holding the newest segment, also when it joins an older block', () => {
    const receiver = new SackReceiver()
    receiver.onInOrder(0)
    receiver.onSegment(1000, 1500)
    receiver.onSegment(3000, 3500)
    receiver.onSegment(5000, 5500)
    receiver.onSegment(1500, 2000) // grows the oldest block
    expect(ack(receiver, 0, 4)).toEqual([
      [1000, 2000],
      [5000, 5500],
      [3000, 3500],
    ])
    receiver.onSegment(3200, 3300) // already held: still the newest change reported first
    expect(ack(receiver, 0, 2)).toEqual([
      [3000, 3500],
      [1000, 2000],
    ])
    receiver.onSegment(2000, 3000) // bridges two blocks into one
    expect(ack(receiver, 0, 4)).toEqual([
      [1000, 3500],
      [5000, 5500],
    ])
  })

  it('never reports a block at or below RCV.NXT, even when the caller is late to say so', () => {
    const receiver = new SackReceiver()
    receiver.onInOrder(1000)
    receiver.onSegment(2000, 2500)
    receiver.onSegment(3000, 3500)
    expect(ack(receiver, 2500, 4)).toEqual([[3000, 3500]]) // RCV.NXT passed with the ACK
    expect(receiver.rcvNxt).toBe(2500)
    receiver.onSegment(500, 1500) // at or below RCV.NXT: ignored
    receiver.onSegment(2400, 2600) // straddles it: only the part above is kept, and it touches RCV.NXT
    expect(ack(receiver, 2500, 4)).toEqual([[3000, 3500]])
    receiver.onInOrder(2000) // RCV.NXT never moves back
    expect(receiver.rcvNxt).toBe(2500)
  })

  it('writes into the caller’s objects, allocating nothing when they are there', () => {
    const receiver = new SackReceiver()
    receiver.onInOrder(0)
    receiver.onSegment(100, 200)
    receiver.onSegment(300, 400)
    const a = { left: 0, right: 0 }
    const b = { left: 0, right: 0 }
    const c = { left: 7, right: 7 }
    const out = [a, b, c]
    expect(receiver.blocks(0, 3, out)).toBe(2)
    expect(out).toEqual([
      { left: 300, right: 400 },
      { left: 100, right: 200 },
      { left: 7, right: 7 }, // beyond the count: untouched
    ])
    expect(out[0]).toBe(a)
    expect(out[1]).toBe(b)
    expect(receiver.blocks(0, 1, out)).toBe(1)
    expect(receiver.blocks(0, 0, out)).toBe(0)
  })

  it('throws ERR_INVALID_ARG for a range that ends before it starts, or a bad max', () => {
    const receiver = new SackReceiver()
    expect(() => receiver.onSegment(200, 100)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringMatching(/^end must be after seq/) }))
    expect(() => receiver.onDuplicate(0, 2 ** 31)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
    expect(() => receiver.onSegment(-1, 100)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
    expect(() => receiver.blocks(0, -1, [])).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
    receiver.onSegment(5, 5) // empty: nothing
    expect(receiver.rangeCount).toBe(0)
  })
})

describe('SackReceiver D-SACK (RFC 2883 §4)', () => {
  it('example 1: reports a duplicate below the cumulative ACK, in the next ACK only', () => {
    const receiver = new SackReceiver()
    receiver.onInOrder(3500) // ACK dropped
    receiver.onInOrder(4000) // ACK dropped
    receiver.onDuplicate(3000, 3500)
    expect(receiver.hasDsack).toBe(true)
    expect(ack(receiver, 4000, 4)).toEqual([[3000, 3500]])
    expect(receiver.hasDsack).toBe(false)
    expect(ack(receiver, 4000, 4)).toEqual([]) // reported once
  })

  it('example 2: the D-SACK first, then the out-of-order block', () => {
    const receiver = new SackReceiver()
    receiver.onInOrder(4000)
    receiver.onSegment(4500, 5000) // 4000-4499 lost
    expect(ack(receiver, 4000)).toEqual([[4500, 5000]])
    receiver.onDuplicate(3000, 3500)
    expect(ack(receiver, 4000)).toEqual([
      [3000, 3500],
      [4500, 5000],
    ])
  })

  it('example 3: a duplicate of an out-of-order segment, then the block holding it', () => {
    const receiver = new SackReceiver()
    receiver.onInOrder(4000)
    receiver.onSegment(4500, 5000)
    expect(ack(receiver, 4000)).toEqual([[4500, 5000]])
    receiver.onSegment(5000, 5500)
    expect(ack(receiver, 4000)).toEqual([[4500, 5500]])
    receiver.onDuplicate(5000, 5500)
    expect(ack(receiver, 4000)).toEqual([
      [5000, 5500],
      [4500, 5500],
    ])
  })

  it('example 3 with more blocks: the holding block comes second even when another changed later', () => {
    const receiver = new SackReceiver()
    receiver.onInOrder(4000)
    receiver.onSegment(4500, 5500)
    receiver.onDuplicate(5000, 5500)
    receiver.onSegment(7000, 7500) // arrives before the ACK is built
    expect(ack(receiver, 4000, 4)).toEqual([
      [5000, 5500],
      [4500, 5500],
      [7000, 7500],
    ])
  })

  it('keeps the block holding a duplicate among the most recent afterwards', () => {
    const receiver = new SackReceiver()
    receiver.onInOrder(4000)
    receiver.onSegment(4500, 5000)
    receiver.onSegment(6000, 6500)
    receiver.onDuplicate(4500, 5000)
    expect(ack(receiver, 4000)).toEqual([
      [4500, 5000],
      [4500, 5000],
      [6000, 6500],
    ])
    // The next ACK: no D-SACK; the block just reported for the duplicate is the most recent.
    expect(ack(receiver, 4000)).toEqual([
      [4500, 5000],
      [6000, 6500],
    ])
  })

  it('example 4: a single duplicate subsegment of a larger retransmission', () => {
    const receiver = new SackReceiver()
    receiver.onInOrder(1000) // 500-999
    receiver.onSegment(2000, 2500) // 1000-1499 delayed, 1500-1999 dropped
    expect(ack(receiver, 1000)).toEqual([[2000, 2500]])
    receiver.onInOrder(1500) // the delayed 1000-1499
    expect(ack(receiver, 1500)).toEqual([[2000, 2500]])
    // 1000-1999 retransmitted in one segment: 1000-1499 is a duplicate, 1500-1999 fills the hole up to 2500.
    receiver.onDuplicate(1000, 1500)
    receiver.onInOrder(2500)
    expect(ack(receiver, 2500)).toEqual([[1000, 1500]])
  })

  it('example 5: two duplicate subsegments in one segment: only the first is reported', () => {
    const receiver = new SackReceiver()
    receiver.onInOrder(1000)
    receiver.onSegment(3000, 3500)
    expect(ack(receiver, 1000)).toEqual([[3000, 3500]])
    receiver.onInOrder(1500) // the delayed 1000-1499
    expect(ack(receiver, 1500)).toEqual([[3000, 3500]])
    receiver.onSegment(2000, 2500) // the delayed 2000-2499
    expect(ack(receiver, 1500)).toEqual([
      [2000, 2500],
      [3000, 3500],
    ])
    // 1000-2499 retransmitted: 1000-1499 and 2000-2499 are duplicates, 1500-1999 is new.
    receiver.onDuplicate(1000, 1500)
    receiver.onDuplicate(2000, 2500)
    receiver.onInOrder(2500)
    expect(ack(receiver, 2500)).toEqual([
      [1000, 1500],
      [3000, 3500],
    ])
  })

  it('extends the pending D-SACK with a duplicate that touches it', () => {
    const receiver = new SackReceiver()
    receiver.onInOrder(5000)
    receiver.onDuplicate(3000, 3500)
    receiver.onDuplicate(3500, 4000)
    expect(ack(receiver, 5000)).toEqual([[3000, 4000]])
  })

  it('keeps the D-SACK when asked for no blocks', () => {
    const receiver = new SackReceiver()
    receiver.onInOrder(5000)
    receiver.onDuplicate(3000, 3500)
    expect(ack(receiver, 5000, 0)).toEqual([])
    expect(ack(receiver, 5000, 1)).toEqual([[3000, 3500]])
  })

  it('reports a duplicate across 2^32', () => {
    const receiver = new SackReceiver()
    receiver.onInOrder(200)
    receiver.onSegment(700, 900)
    receiver.onDuplicate(2 ** 32 - 300, 100)
    const out: SackBlock[] = []
    expect(receiver.blocks(200, 3, out)).toBe(2)
    expect(out).toEqual([
      { left: 2 ** 32 - 300, right: 100 },
      { left: 700, right: 900 },
    ])
  })
})

describe('SackReceiver on a captured Linux exchange', () => {
  it('sends the SACK and the D-SACK Linux sent, byte for byte', () => {
    const first = capturedTcp(capturedFrames.firstSegment)
    const injected = capturedTcp(capturedFrames.injected)
    const second = capturedTcp(capturedFrames.secondSegment)
    const third = capturedTcp(capturedFrames.thirdSegment)
    const sackAck = capturedTcp(capturedFrames.sackAck)
    const fillAck = capturedTcp(capturedFrames.fillAck)
    const dsackAck = capturedTcp(capturedFrames.dsackAck)
    const end = (segment: typeof first) => (segment.seq + segment.payloadLength) >>> 0
    const option = (tcp: typeof first) => Array.from(tcp.options.subarray(tcp.sackAt, tcp.sackAt + tcp.options[tcp.sackAt + 1]!))

    const receiver = new SackReceiver()
    const out: SackBlock[] = []
    const buffer = new Uint8Array(40)
    receiver.onInOrder(end(first))
    receiver.onSegment(injected.seq, end(injected))
    let count = receiver.blocks(sackAck.ack, maxSackBlocks(true), out)
    expect(Array.from(buffer.subarray(0, encodeSackOption(out.slice(0, count), buffer, 0, maxSackBlocks(true))))).toEqual(option(sackAck))

    // The second segment fills the hole; the receive buffer delivers the held segment with it, so RCV.NXT
    // jumps past both.
    expect(end(second)).toBe(injected.seq)
    expect(fillAck.ack).toBe(end(injected))
    receiver.onInOrder(fillAck.ack)
    expect(receiver.rangeCount).toBe(0)
    expect(fillAck.sackAt).toBe(-1)
    expect(receiver.blocks(fillAck.ack, maxSackBlocks(true), out)).toBe(0)

    receiver.onDuplicate(third.seq, end(third))
    count = receiver.blocks(dsackAck.ack, maxSackBlocks(true), out)
    expect(Array.from(buffer.subarray(0, encodeSackOption(out.slice(0, count), buffer, 0, maxSackBlocks(true))))).toEqual(option(dsackAck))
  })
})

describe('SackReceiver properties', () => {
  it('reports disjoint blocks of held data above RCV.NXT, the newest first, near 0 and near 2^32', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('segment' as const), offset: fc.nat({ max: 300 }), length: fc.integer({ min: 1, max: 40 }) }),
      fc.record({ kind: fc.constant('inOrder' as const), advance: fc.nat({ max: 60 }) }),
      fc.record({ kind: fc.constant('duplicate' as const), offset: fc.integer({ min: -100, max: 300 }), length: fc.integer({ min: 1, max: 40 }) }),
    )
    fc.assert(
      fc.property(fc.constantFrom(0, 2 ** 31 - 100, 2 ** 32 - 100), fc.array(step, { maxLength: 40 }), fc.integer({ min: 1, max: 4 }), (base, steps, max) => {
        const receiver = new SackReceiver()
        const held = new Set<number>() // model: relative offsets of octets held above RCV.NXT
        let rcvNxt = 0
        receiver.onInOrder(base)
        const out: SackBlock[] = []
        for (const s of steps) {
          let newest: [number, number] | undefined
          let duplicate: [number, number] | undefined
          if (s.kind === 'segment') {
            const from = rcvNxt + 1 + s.offset // strictly above RCV.NXT
            for (let x = from; x < from + s.length; x++) held.add(x)
            receiver.onSegment((base + from) >>> 0, (base + from + s.length) >>> 0)
            newest = [from, from + s.length]
          } else if (s.kind === 'inOrder') {
            rcvNxt += s.advance
            while (held.has(rcvNxt)) rcvNxt++ // delivering in-order data also takes what was held next
            for (const x of held) if (x < rcvNxt) held.delete(x)
            receiver.onInOrder((base + rcvNxt) >>> 0)
          } else {
            const from = rcvNxt + s.offset
            duplicate = [from, from + s.length]
            receiver.onDuplicate((base + from) >>> 0, (base + from + s.length) >>> 0)
          }
          const count = receiver.blocks((base + rcvNxt) >>> 0, max, out)
          expect(count).toBeLessThanOrEqual(max)
          const blocks = out.slice(0, count).map(({ left, right }) => [(left - base) | 0, (right - base) | 0] as [number, number])
          let ordinary = blocks
          if (duplicate !== undefined) {
            expect(blocks[0]).toEqual(duplicate) // RFC 2883 §4: the D-SACK first
            ordinary = blocks.slice(1)
          }
          const runs = heldRuns(held)
          for (const [left, right] of ordinary) {
            expect(left).toBeGreaterThan(rcvNxt) // never at or below RCV.NXT
            expect(runs).toContainEqual([left, right]) // exactly one maximal run of held data
          }
          expect(new Set(ordinary.map(([left]) => left)).size).toBe(ordinary.length) // distinct
          expect(ordinary.length).toBe(Math.min(runs.length, max - (duplicate === undefined ? 0 : 1)))
          if (newest !== undefined) {
            const [from] = newest
            const containing = runs.find(([left, right]) => left <= from && from < right)!
            expect(ordinary[0]).toEqual(containing) // RFC 2018 §4: the block with the triggering segment first
          }
          // The serial order of what was written agrees with the model's integer order.
          for (const { left, right } of out.slice(duplicate === undefined ? 0 : 1, count)) {
            expect(seqLt(left, right)).toBe(true)
            expect(seqGt(left, (base + rcvNxt) >>> 0)).toBe(true)
            expect(seqLe(right, (base + rcvNxt + 400) >>> 0)).toBe(true)
          }
        }
      }),
      { numRuns: 300 },
    )
  })
})

/** Maximal runs [left, right) of consecutive numbers in `set`, ascending. */
function heldRuns(set: Set<number>): Array<[number, number]> {
  const sorted = [...set].sort((a, b) => a - b)
  const runs: Array<[number, number]> = []
  for (const x of sorted) {
    const last = runs[runs.length - 1]
    if (last !== undefined && last[1] === x) last[1] = x + 1
    else runs.push([x, x + 1])
  }
  return runs
}
