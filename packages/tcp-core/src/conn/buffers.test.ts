import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ReceiveBuffer } from './receive-buffer.js'
import { RttEstimator } from './rtt-estimator.js'
import { SendBuffer } from './send-buffer.js'

describe('SendBuffer', () => {
  it('stores, copies out across the ring edge, and consumes', () => {
    const buffer = new SendBuffer(5000)
    expect(buffer.allocated).toBe(0)
    expect(buffer.write(Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff))).toBe(3000)
    buffer.consume(2500)
    expect(buffer.write(Uint8Array.from({ length: 4000 }, (_, i) => (i + 7) & 0xff))).toBe(4000)
    expect(buffer.length).toBe(4500)
    expect(buffer.free).toBe(500)
    const out = new Uint8Array(4500)
    buffer.copyOut(0, 4500, out, 0)
    expect(out[0]).toBe(2500 & 0xff)
    expect(out[500]).toBe(7)
    expect(out[4499]).toBe((3999 + 7) & 0xff)
    expect(buffer.allocated).toBeLessThanOrEqual(5000)
  })

  it('takes only what fits', () => {
    const buffer = new SendBuffer(10)
    expect(buffer.write(new Uint8Array(25))).toBe(10)
    expect(buffer.write(new Uint8Array(1))).toBe(0)
  })

  it('behaves like a byte queue under random writes and consumes', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3000 })), { maxLength: 60 }), (operations) => {
        const buffer = new SendBuffer(6000)
        const model: number[] = []
        let counter = 0
        for (const [isWrite, n] of operations) {
          if (isWrite) {
            const data = Uint8Array.from({ length: n }, () => counter++ & 0xff)
            const taken = buffer.write(data)
            expect(taken).toBe(Math.min(n, 6000 - model.length))
            model.push(...data.subarray(0, taken))
          } else {
            buffer.consume(n)
            model.splice(0, n)
          }
          const out = new Uint8Array(model.length)
          buffer.copyOut(0, model.length, out, 0)
          expect([...out]).toEqual(model)
        }
      }),
    )
  })
})

describe('ReceiveBuffer', () => {
  it('reassembles out-of-order data and reports its ranges', () => {
    const buffer = new ReceiveBuffer(10_000)
    expect(buffer.insert(100, new Uint8Array(50).fill(2))).toBe(0)
    expect(buffer.insert(300, new Uint8Array(50).fill(4))).toBe(0)
    expect(buffer.rangeCount).toBe(2)
    expect(buffer.range(0)).toEqual([100, 150])
    expect(buffer.insert(140, new Uint8Array(170).fill(3))).toBe(0)
    expect(buffer.rangeCount).toBe(1)
    expect(buffer.range(0)).toEqual([100, 350])
    expect(buffer.insert(0, new Uint8Array(100).fill(1))).toBe(350)
    expect(buffer.readable).toBe(350)
    const out = new Uint8Array(350)
    buffer.read(out)
    expect(out[99]).toBe(1)
    expect(out[100]).toBe(2)
    expect(out[300]).toBe(3) // overlapping bytes are the same data in TCP; the later write wins here
    expect(buffer.outOfOrderBytes).toBe(0)
  })

  it('keeps every out-of-order full segment of a window with a hole before each (issue 15: a cap of 64 ranges dropped the rest)', () => {
    // A 4 MiB window of 1448-byte segments where every other one was lost (a slow-start overshoot into a
    // full queue loses far more than 64 in one window): all the others must be kept, none dropped.
    const mss = 1448
    const buffer = new ReceiveBuffer(4 << 20)
    const segment = new Uint8Array(mss).fill(7)
    let kept = 0
    for (let offset = mss; offset + mss <= buffer.window; offset += 2 * mss) {
      expect(buffer.insert(offset, segment)).toBe(0)
      kept++
    }
    expect(buffer.rangeCount).toBe(kept)
    expect(kept).toBeGreaterThan(1000)
    // Filling the holes in order delivers everything.
    let advanced = 0
    for (let k = 0; k < kept; k++) {
      const advance = buffer.insert(0, segment) // the hole at RCV.NXT, joining the island after it
      expect(advance).toBe(2 * mss)
      advanced += advance
      buffer.consume(advance)
    }
    expect(advanced).toBe(2 * kept * mss)
    expect(buffer.rangeCount).toBe(0)
  })

  it('bounds the out-of-order ranges by the capacity: 1-byte islands beyond it are dropped', () => {
    const buffer = new ReceiveBuffer(1 << 20)
    const byte = new Uint8Array(1)
    let dropped = 0
    for (let offset = 2; offset < 1 << 20; offset += 2) if (buffer.insert(offset, byte) < 0) dropped++
    expect(buffer.rangeCount).toBe(1024) // capacity / 1024
    expect(dropped).toBe((1 << 19) - 1 - 1024)
  })

  it('cuts data at the window', () => {
    const buffer = new ReceiveBuffer(100)
    expect(buffer.insert(0, new Uint8Array(150))).toBe(100)
    expect(buffer.window).toBe(0)
    expect(buffer.insert(0, new Uint8Array(1))).toBe(0)
  })

  it('delivers the stream intact whatever the arrival order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 1, max: 600 })), { minLength: 1, maxLength: 40 }),
        (pieces) => {
          const stream = Uint8Array.from({ length: 5000 }, (_, i) => (i * 13 + 5) & 0xff)
          const buffer = new ReceiveBuffer(8000)
          const got: number[] = []
          let next = 0 // RCV.NXT as a stream offset
          const deliver = (start: number, length: number): void => {
            const end = Math.min(start + length, stream.length)
            if (end <= next) return
            const from = Math.max(start, next)
            const advance = buffer.insert(from - next, stream.subarray(from, end))
            if (advance > 0) next += advance
            const out = new Uint8Array(buffer.readable)
            buffer.read(out)
            got.push(...out)
          }
          for (const [start, length] of pieces) deliver(start, length)
          deliver(0, stream.length) // a final retransmission of everything
          expect(next).toBe(stream.length)
          expect(Uint8Array.from(got)).toEqual(stream)
        },
      ),
    )
  })
})

describe('RttEstimator (RFC 6298)', () => {
  const options = { minRto: 200_000, maxRto: 60_000_000, initialRto: 1_000_000, granularity: 1000 }

  it('starts at the initial RTO and follows §2.2–2.3', () => {
    const rtt = new RttEstimator(options)
    expect(rtt.rto).toBe(1_000_000)
    rtt.sample(100_000)
    expect(rtt.smoothedRtt).toBe(100_000)
    expect(rtt.rttVariation).toBe(50_000)
    expect(rtt.rto).toBe(300_000)
    rtt.sample(200_000)
    expect(rtt.rttVariation).toBe(0.75 * 50_000 + 0.25 * 100_000)
    expect(rtt.smoothedRtt).toBe(0.875 * 100_000 + 0.125 * 200_000)
  })

  it('applies the minimum and the maximum, and doubles on backoff', () => {
    const rtt = new RttEstimator(options)
    rtt.sample(1000)
    expect(rtt.rto).toBe(200_000)
    rtt.backOff()
    rtt.backOff()
    expect(rtt.rto).toBe(800_000)
    for (let i = 0; i < 20; i++) rtt.backOff()
    expect(rtt.rto).toBe(60_000_000)
    rtt.resetBackoff()
    expect(rtt.rto).toBe(200_000)
  })
})
