/** Tests of Pacer: settings, the quantum rule, super segments, rate changes, idle periods, exactness, and long runs. */
import { describe, expect, it } from 'vitest'
import { PacerError } from './errors.js'
import { DEFAULT_PACING_QUANTUM, Pacer } from './pacer.js'

const code = (value: string) => expect.objectContaining({ code: value })
const MSS = 1448
const FRAME = 1514
/** Bytes per second from bits per second. */
const bits = (bitsPerSecond: number) => bitsPerSecond / 8

/** What a simulated greedy sender saw: totals and the worst bursts and windows. */
interface Run {
  /** Bytes whose send started before `duration`. */
  bytesBefore: number
  /** Largest number of bytes sent at one instant. */
  largestBurst: number
  /** Smallest number of bytes sent at an instant the sender woke up at. */
  smallestBurst: number
  /** Largest excess over `rate × (t − s)` of the bytes sent in a window [s, t] spanning up to `WINDOW` bursts. */
  largestWindowExcess: number
  /** Sends made. */
  sends: number
  /** The time the run stopped at. */
  end: number
}

/** A thousandth of a byte: room for the rounding of window lengths when checking rate × (t − s) + quantum. */
const TOLERANCE = 1e-3
/** Bursts per sliding window checked against rate × (t − s) + quantum. */
const WINDOW = 8

/**
 * A greedy, always-backlogged sender on a virtual time line: at each instant it sends `size`-byte packets
 * while `canSend(now, size)`, then jumps to `nextSendAt` (for one packet, or for a whole quantum with
 * `wake: 'quantum'`). Streams the checks so that ten seconds at 10 Gbit/s need no big arrays.
 */
function greedy(
  pacer: Pacer,
  options: { size: number; duration: number; wake?: 'packet' | 'quantum'; start?: number; rateAt?: (now: number) => number },
): Run {
  const { size, duration, wake = 'packet', start = 0 } = options
  const rateAt = options.rateAt ?? (() => pacer.rate)
  const end = start + duration
  let now = start
  let bytesBefore = 0
  let largestBurst = 0
  let smallestBurst = Number.POSITIVE_INFINITY
  let largestWindowExcess = Number.NEGATIVE_INFINITY
  let sends = 0
  // The last WINDOW bursts (time, bytes) in a ring, for the sliding-window check (only while the rate is constant).
  const recentTimes = new Float64Array(WINDOW)
  const recentBytes = new Float64Array(WINDOW)
  let bursts = 0
  while (now < end) {
    const rate = rateAt(now)
    const rateChanged = rate !== pacer.rate
    if (rateChanged) pacer.setRate(rate, now)
    let burst = 0
    while (pacer.canSend(now, size)) {
      pacer.onSend(size, now)
      burst += size
      sends++
      if (burst > 2 * Math.max(pacer.quantum, size)) throw new Error(`unbounded burst at ${now}`)
    }
    // canSend holds at nextSendAt exactly; only a rate change in between may move it (by rounding).
    if (burst === 0 && !rateChanged) throw new Error(`nextSendAt returned ${now}, where canSend is false`)
    bytesBefore += burst
    if (burst > largestBurst) largestBurst = burst
    if (burst < smallestBurst && !rateChanged) smallestBurst = burst
    recentTimes[bursts % WINDOW] = now
    recentBytes[bursts % WINDOW] = burst
    bursts++
    if (options.rateAt === undefined) {
      let sum = 0
      for (let k = bursts - 1; k >= 0 && k >= bursts - WINDOW; k--) {
        sum += recentBytes[k % WINDOW]!
        // Less the rounding of the window's length (times near 10^7 µs carry about 2e-9 µs).
        const excess = sum - (pacer.rate * (now - recentTimes[k % WINDOW]!)) / 1e6 - TOLERANCE
        if (excess > largestWindowExcess) largestWindowExcess = excess
      }
    }
    const next = wake === 'packet' ? pacer.nextSendAt(now, size) : pacer.nextSendAt(now)
    if (!(next > now || burst === 0)) throw new Error(`no progress at ${now}`)
    now = next
  }
  return { bytesBefore, largestBurst, smallestBurst, largestWindowExcess, sends, end: now }
}

describe('Pacer settings', () => {
  it('defaults the quantum to two full-size Ethernet frames and reports its settings', () => {
    const pacer = new Pacer({ rate: 1000 })
    expect(pacer.quantum).toBe(DEFAULT_PACING_QUANTUM)
    expect(DEFAULT_PACING_QUANTUM).toBe(2 * 1514)
    expect(pacer.rate).toBe(1000)
    expect(pacer.paced).toBe(true)
    expect(new Pacer({ rate: 1000, quantum: 1 }).quantum).toBe(1)
  })

  it.each([-1, -Infinity, Number.NaN, '1000' as unknown as number])('rejects rate %s with ERR_INVALID_CONFIG naming it and its range', (rate) => {
    expect(() => new Pacer({ rate })).toThrow(code('ERR_INVALID_CONFIG'))
    expect(() => new Pacer({ rate })).toThrow(/^rate must be a number of bytes per second in \[0, Infinity\]/)
    const pacer = new Pacer({ rate: 1000 })
    expect(() => pacer.setRate(rate, 0)).toThrow(code('ERR_INVALID_CONFIG'))
    expect(pacer.rate).toBe(1000)
  })

  it.each([0, 0.5, -3, 1.5, Number.NaN, Infinity, 2 ** 52 + 2])('rejects quantum %s with ERR_INVALID_CONFIG naming it and its range', (quantum) => {
    expect(() => new Pacer({ rate: 1000, quantum })).toThrow(code('ERR_INVALID_CONFIG'))
    expect(() => new Pacer({ rate: 1000, quantum })).toThrow('quantum must be an integer number of bytes in [1, 4503599627370496]')
  })

  it('throws a PacerError with ERR_INVALID_ARG for a byte count or a time that is not one', () => {
    const pacer = new Pacer({ rate: 1000 })
    const error = (() => {
      try {
        pacer.onSend(-1, 0)
      } catch (caught) {
        return caught
      }
    })()
    expect(error).toBeInstanceOf(PacerError)
    expect(error).toMatchObject({ name: 'PacerError', code: 'ERR_INVALID_ARG' })
    expect(() => pacer.onSend(1.5, 0)).toThrow(/^bytes must be an integer number of bytes/)
    expect(() => pacer.onSend(100, Number.NaN)).toThrow(/^now must be a finite time in µs/)
    expect(() => pacer.canSend(Infinity)).toThrow(code('ERR_INVALID_ARG'))
    expect(() => pacer.canSend(0, -5)).toThrow(code('ERR_INVALID_ARG'))
    expect(() => pacer.nextSendAt(0, Number.NaN)).toThrow(code('ERR_INVALID_ARG'))
    expect(() => pacer.setRate(10, Number.NaN)).toThrow(code('ERR_INVALID_ARG'))
  })
})

describe('Pacer unpaced', () => {
  it.each([0, Infinity])('with rate %s allows every send at once', (rate) => {
    const pacer = new Pacer({ rate })
    expect(pacer.paced).toBe(false)
    for (let i = 0; i < 100; i++) {
      expect(pacer.canSend(5, 65_536)).toBe(true)
      pacer.onSend(65_536, 5)
    }
    expect(pacer.nextSendAt(5)).toBe(5)
    expect(pacer.nextSendAt(7.25, 1)).toBe(7.25)
  })
})

describe('Pacer quantum', () => {
  it('lets one quantum go back to back, then spaces the next by bytes / rate', () => {
    const rate = bits(1e9) // 125 bytes per µs
    const pacer = new Pacer({ rate, quantum: 2 * MSS })
    expect(pacer.canSend(0)).toBe(true)
    pacer.onSend(MSS, 0)
    expect(pacer.canSend(0, MSS)).toBe(true)
    expect(pacer.canSend(0)).toBe(false) // a whole quantum no longer fits
    pacer.onSend(MSS, 0)
    expect(pacer.canSend(0, MSS)).toBe(false)
    expect(pacer.canSend(0, 1)).toBe(false)
    expect(pacer.nextSendAt(0, MSS)).toBe(MSS / 125) // 11.584 µs: one segment's room
    expect(pacer.nextSendAt(0)).toBe((2 * MSS) / 125) // 23.168 µs: the whole quantum
    expect(pacer.canSend(11.583, MSS)).toBe(false)
    expect(pacer.canSend(11.584, MSS)).toBe(true)
    expect(pacer.canSend(11.584, MSS + 1)).toBe(false)
  })

  it('never lets a burst exceed the quantum when it is not a multiple of the packet size', () => {
    const pacer = new Pacer({ rate: 1_000_000, quantum: 3000 }) // 1 byte per µs
    let burst = 0
    while (pacer.canSend(0, MSS) && burst < 10 * MSS) {
      pacer.onSend(MSS, 0)
      burst += MSS
    }
    expect(burst).toBe(2 * MSS)
    // 2896 bytes ahead; a third segment fits once 2896 − t + 1448 ≤ 3000, at t = 1344 µs.
    expect(pacer.nextSendAt(0, MSS)).toBe(1344)
    expect(pacer.canSend(1343.999, MSS)).toBe(false)
    expect(pacer.canSend(1344, MSS)).toBe(true)
  })

  it('keeps fractions of a µs', () => {
    const pacer = new Pacer({ rate: 3_000_000, quantum: 1 }) // 3 bytes per µs
    pacer.onSend(1, 0)
    expect(pacer.nextSendAt(0)).toBe(1 / 3)
    pacer.onSend(1, 1 / 3)
    expect(pacer.nextSendAt(0)).toBe(2 / 3)
  })

  it('grants no credit when time goes backwards', () => {
    const pacer = new Pacer({ rate: 1_000_000, quantum: 3000 })
    pacer.onSend(3000, 100)
    expect(pacer.canSend(50, 1)).toBe(false)
    expect(pacer.nextSendAt(50, 1)).toBe(100 + 3000 - 2999)
    pacer.onSend(500, 50) // accounted even though it was not allowed
    expect(pacer.nextSendAt(50)).toBe(100 + 3500)
  })
})

describe('Pacer super segments', () => {
  it('lets a super segment go once caught up and spends its whole size', () => {
    const rate = bits(1e9)
    const pacer = new Pacer({ rate, quantum: 2 * MSS })
    const superSegment = 45 * MSS // 65,160 bytes
    expect(pacer.canSend(0, superSegment)).toBe(true)
    pacer.onSend(superSegment, 0)
    expect(pacer.nextSendAt(0)).toBeCloseTo(superSegment / 125, 9) // 521.28 µs
    expect(pacer.nextSendAt(0, MSS)).toBeCloseTo((superSegment - MSS) / 125, 9)
    expect(pacer.canSend(400, MSS)).toBe(false)
  })

  it('holds a super segment until the schedule has fully caught up', () => {
    const pacer = new Pacer({ rate: 1_000_000, quantum: 3000 })
    pacer.onSend(MSS, 0)
    expect(pacer.canSend(0, 1552)).toBe(true) // still fits the quantum
    expect(pacer.canSend(0, 65_160)).toBe(false)
    expect(pacer.nextSendAt(0, 65_160)).toBe(MSS)
    pacer.onSend(65_160, MSS)
    expect(pacer.nextSendAt(MSS)).toBe(MSS + 65_160)
  })

  it('paces a stream of 64 KB super segments at the rate', () => {
    const rate = bits(1e9)
    const pacer = new Pacer({ rate, quantum: 2 * MSS })
    const run = greedy(pacer, { size: 45 * MSS, duration: 10e6 })
    expect(run.largestBurst).toBe(45 * MSS) // one super segment at a time
    expect(Math.abs(run.bytesBefore / (rate * 10) - 1)).toBeLessThan(0.01)
    expect(run.largestWindowExcess).toBeLessThanOrEqual(45 * MSS)
  })
})

describe('Pacer long runs: a greedy sender gets rate × t within 1%', () => {
  const rates: Array<[string, number]> = [
    ['10 Mbit/s', bits(10e6)],
    ['1 Gbit/s', bits(1e9)],
    ['10 Gbit/s', bits(10e9)],
    ['100,003 bytes/s', 100_003],
    ['31,415,926.535 bytes/s', 31_415_926.535],
    ['777,777,777 bytes/s', 777_777_777],
    ['4e9 / 3 bytes/s', 4e9 / 3],
  ]
  it.each(rates)('%s, waking per packet', (_name, rate) => {
    const pacer = new Pacer({ rate, quantum: 2 * MSS })
    const run = greedy(pacer, { size: MSS, duration: 10e6 })
    const target = rate * 10
    expect(Math.abs(run.bytesBefore / target - 1)).toBeLessThan(0.01)
    // Tighter than 1%: within one quantum plus one segment of rate × t.
    expect(run.bytesBefore).toBeLessThanOrEqual(target + 2 * MSS + MSS)
    expect(run.bytesBefore).toBeGreaterThanOrEqual(target - MSS)
    expect(run.largestBurst).toBeLessThanOrEqual(2 * MSS)
    expect(run.largestWindowExcess).toBeLessThanOrEqual(2 * MSS)
  })

  it.each(rates.slice(0, 5))('%s, 1514-byte frames, waking per quantum', (_name, rate) => {
    const pacer = new Pacer({ rate })
    const run = greedy(pacer, { size: FRAME, duration: 10e6, wake: 'quantum' })
    expect(Math.abs(run.bytesBefore / (rate * 10) - 1)).toBeLessThan(0.01)
    // Every wake-up sends exactly one whole quantum: never less (no rounding leaves a frame behind).
    expect(run.largestBurst).toBe(2 * FRAME)
    expect(run.smallestBurst).toBe(2 * FRAME)
    expect(run.largestWindowExcess).toBeLessThanOrEqual(DEFAULT_PACING_QUANTUM)
  })
})

describe('Pacer exact arithmetic', () => {
  it('computes the k-th send time from the byte count, with no per-packet drift', () => {
    const rate = bits(10e9) // a 1514-byte frame lasts 1.2112 µs, not a binary fraction
    const pacer = new Pacer({ rate, quantum: FRAME })
    let now = 0
    let worst = 0
    let naive = 0
    let naiveWorst = 0
    const packets = 2_000_000
    for (let k = 0; k < packets; k++) {
      const exact = (k * FRAME * 1e6) / rate // correctly rounded from exact integers
      worst = Math.max(worst, Math.abs(now - exact))
      naiveWorst = Math.max(naiveWorst, Math.abs(naive - exact))
      pacer.onSend(FRAME, now)
      now = pacer.nextSendAt(now)
      naive += (FRAME * 1e6) / rate // what accumulating per packet would do
    }
    expect(worst).toBe(0)
    expect(now).toBe((packets * FRAME * 1e6) / rate)
    // The check can fail: accumulating per packet is already measurably off.
    expect(naiveWorst).toBeGreaterThan(1e-7)
  })

  it('counts exactly the packets rate × t allows over ten seconds at 10 Gbit/s', () => {
    const rate = bits(10e9)
    const pacer = new Pacer({ rate, quantum: FRAME })
    let now = 0
    let packets = 0
    while (now < 10e6) {
      pacer.onSend(FRAME, now)
      packets++
      const next = pacer.nextSendAt(now)
      if (!(next > now)) throw new Error(`no progress at ${now}`)
      now = next
    }
    // Packet k starts at k × 1.2112 µs; those with k × 1.2112 < 10^7 are k = 0 … 8,256,274.
    expect(packets).toBe(8_256_275)
  })
})

describe('Pacer rate changes', () => {
  it('keeps the bytes already ahead owed at the new rate: no burst when it drops', () => {
    const pacer = new Pacer({ rate: bits(1e9), quantum: 2 * MSS })
    pacer.onSend(2 * MSS, 0)
    pacer.setRate(bits(10e6), 10) // 10 µs later, 2896 − 1250 = 1646 bytes are still ahead
    expect(pacer.rate).toBe(bits(10e6))
    expect(pacer.nextSendAt(10)).toBeCloseTo(10 + 1646 / 1.25, 9)
    expect(pacer.canSend(10, MSS)).toBe(false)
    expect(pacer.nextSendAt(10, MSS)).toBeCloseTo(10 + (1646 - (2 * MSS - MSS)) / 1.25, 9)
  })

  it('does not make the sender wait out a delay computed at the old rate: no stall when it rises', () => {
    const pacer = new Pacer({ rate: bits(10e6), quantum: 2 * MSS })
    pacer.onSend(65_160, 0) // 52,128 µs at 10 Mbit/s
    pacer.setRate(bits(10e9), 1000) // 63,910 bytes still ahead: 51.128 µs at 10 Gbit/s
    expect(pacer.nextSendAt(1000)).toBeCloseTo(1051.128, 9)
  })

  it('changes nothing when the same rate is set again', () => {
    const pacer = new Pacer({ rate: 3_333_333.3, quantum: 2 * MSS })
    pacer.onSend(10_000, 0)
    const before = pacer.nextSendAt(1)
    pacer.setRate(3_333_333.3, 1)
    expect(pacer.nextSendAt(1)).toBe(before)
  })

  it('starts caught up when pacing is switched on, and forgets the schedule when it is switched off', () => {
    const pacer = new Pacer({ rate: 1_000_000, quantum: 3000 })
    pacer.onSend(3000, 0)
    pacer.setRate(Infinity, 1)
    expect(pacer.canSend(1, 65_536)).toBe(true)
    pacer.onSend(65_536, 1)
    pacer.setRate(1_000_000, 2)
    expect(pacer.canSend(2)).toBe(true)
    pacer.onSend(3000, 2)
    expect(pacer.nextSendAt(2)).toBe(3002)
    pacer.setRate(0, 3)
    expect(pacer.nextSendAt(3)).toBe(3)
  })

  it('keeps the long-run rate right when the rate changes every 50 ms', () => {
    const schedule = [bits(10e6), bits(1e9), 12_345_678.9, bits(10e9), bits(100e6)]
    const rateAt = (now: number) => schedule[Math.floor(now / 50_000) % schedule.length]!
    const pacer = new Pacer({ rate: rateAt(0), quantum: 2 * MSS })
    const run = greedy(pacer, { size: MSS, duration: 10e6, rateAt })
    // 200 periods of 50 ms, each rate 40 times.
    const target = schedule.reduce((sum, rate) => sum + rate * 0.05 * 40, 0)
    expect(Math.abs(run.bytesBefore / target - 1)).toBeLessThan(0.01)
    expect(run.largestBurst).toBeLessThanOrEqual(2 * MSS)
  })
})

describe('Pacer idle periods', () => {
  it('lets at most one quantum go after a pause, however long', () => {
    const pacer = new Pacer({ rate: bits(1e9), quantum: 2 * MSS })
    let end = greedy(pacer, { size: MSS, duration: 1e6 }).end
    for (const pause of [1, 30, 1e3, 5e6, 1e9]) {
      const resume = end + pause
      // After more than a quantum's time (23.168 µs) the schedule has caught up: a whole quantum may go.
      expect(pacer.canSend(resume)).toBe(pause > 23.168)
      const after = greedy(pacer, { size: MSS, duration: 1e5, start: resume })
      end = after.end
      expect(after.largestBurst).toBeLessThanOrEqual(2 * MSS)
      expect(after.largestWindowExcess).toBeLessThanOrEqual(2 * MSS)
      expect(after.bytesBefore).toBeLessThanOrEqual(bits(1e9) * 0.1 + 2 * MSS + MSS)
    }
  })

  it('banks no credit from idle time at the byte level', () => {
    const pacer = new Pacer({ rate: 1_000_000, quantum: 3000 })
    pacer.onSend(100, 0)
    expect(pacer.canSend(1e9, 3000)).toBe(true)
    pacer.onSend(3000, 1e9)
    expect(pacer.canSend(1e9, 1)).toBe(false)
    expect(pacer.nextSendAt(1e9, 1)).toBe(1e9 + 1)
  })
})
