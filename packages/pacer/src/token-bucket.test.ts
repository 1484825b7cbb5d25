/** Tests of TokenBucket: settings, the burst cap, exact refill over a million tiny steps, timeUntil, rate changes. */
import { describe, expect, it } from 'vitest'
import { TokenBucket } from './token-bucket.js'

const code = (value: string) => expect.objectContaining({ code: value })

describe('TokenBucket settings', () => {
  it('starts full and reports its settings', () => {
    const bucket = new TokenBucket({ rate: 1000, burst: 3000 })
    expect(bucket.rate).toBe(1000)
    expect(bucket.burst).toBe(3000)
    expect(bucket.available(0)).toBe(3000)
    expect(bucket.available(-5e9)).toBe(3000)
  })

  it.each([-1, -Infinity, Number.NaN])('rejects rate %s with ERR_INVALID_CONFIG naming it and its range', (rate) => {
    expect(() => new TokenBucket({ rate, burst: 10 })).toThrow(code('ERR_INVALID_CONFIG'))
    expect(() => new TokenBucket({ rate, burst: 10 })).toThrow(
      /^rate must be a number of bytes per second in \[0, Infinity\] \(0: never refills, Infinity: always full\)/,
    )
    const bucket = new TokenBucket({ rate: 1000, burst: 10 })
    expect(() => bucket.setRate(rate, 0)).toThrow(code('ERR_INVALID_CONFIG'))
    expect(bucket.rate).toBe(1000)
  })

  it.each([0, 0.5, -1, 2.5, Number.NaN, Infinity])('rejects burst %s with ERR_INVALID_CONFIG naming it and its range', (burst) => {
    expect(() => new TokenBucket({ rate: 1000, burst })).toThrow(code('ERR_INVALID_CONFIG'))
    expect(() => new TokenBucket({ rate: 1000, burst })).toThrow('burst must be an integer number of bytes in [1, 4503599627370496]')
  })

  it('rejects byte counts and times that are not ones with ERR_INVALID_ARG', () => {
    const bucket = new TokenBucket({ rate: 1000, burst: 10 })
    expect(() => bucket.tryConsume(-1, 0)).toThrow(code('ERR_INVALID_ARG'))
    expect(() => bucket.tryConsume(0.5, 0)).toThrow(/^bytes must be an integer number of bytes in \[0, 9007199254740991\]/)
    expect(() => bucket.tryConsume(1, Number.NaN)).toThrow(code('ERR_INVALID_ARG'))
    expect(() => bucket.available(Infinity)).toThrow(/^now must be a finite time in µs/)
    expect(() => bucket.timeUntil(Number.NaN, 0)).toThrow(code('ERR_INVALID_ARG'))
    expect(() => bucket.setRate(5, -Infinity)).toThrow(code('ERR_INVALID_ARG'))
  })
})

describe('TokenBucket burst cap', () => {
  it('never holds more than burst, however long it sits idle', () => {
    const bucket = new TokenBucket({ rate: 1_000_000, burst: 3000 })
    expect(bucket.tryConsume(3000, 0)).toBe(true)
    expect(bucket.available(0)).toBe(0)
    expect(bucket.available(1000)).toBe(1000)
    expect(bucket.available(1e12)).toBe(3000)
    expect(bucket.tryConsume(3000, 1e12)).toBe(true)
    expect(bucket.tryConsume(1, 1e12)).toBe(false)
  })

  it('never grants more than burst at once', () => {
    const bucket = new TokenBucket({ rate: 1e9, burst: 3000 })
    expect(bucket.tryConsume(3001, 1e9)).toBe(false)
    expect(bucket.timeUntil(3001, 1e9)).toBe(Infinity)
    expect(bucket.available(1e9)).toBe(3000) // a refused request takes nothing
  })

  it('takes exactly what it grants, down to the last byte', () => {
    const bucket = new TokenBucket({ rate: 0, burst: 10 })
    expect(bucket.tryConsume(4, 0)).toBe(true)
    expect(bucket.tryConsume(0, 0)).toBe(true)
    expect(bucket.tryConsume(6, 5)).toBe(true)
    expect(bucket.tryConsume(1, 1e15)).toBe(false) // rate 0: never refills
    expect(bucket.timeUntil(1, 1e15)).toBe(Infinity)
    expect(bucket.timeUntil(0, 1e15)).toBe(0)
  })

  it('is always full at rate Infinity', () => {
    const bucket = new TokenBucket({ rate: Infinity, burst: 1500 })
    for (let i = 0; i < 10; i++) expect(bucket.tryConsume(1500, 0)).toBe(true)
    expect(bucket.available(0)).toBe(1500)
    expect(bucket.timeUntil(1500, 0)).toBe(0)
    expect(bucket.tryConsume(1501, 0)).toBe(false)
  })

  it('adds no tokens when time goes backwards', () => {
    const bucket = new TokenBucket({ rate: 1_000_000, burst: 3000 })
    bucket.tryConsume(3000, 5000)
    expect(bucket.available(1000)).toBe(0)
    expect(bucket.tryConsume(1, 1000)).toBe(false)
    expect(bucket.available(5500)).toBe(500)
  })
})

describe('TokenBucket exact refill', () => {
  it('loses no fraction of a byte over 1,000,000 refills of a tenth of a byte', () => {
    // 1 byte per µs, stepped every 0.1 µs: each refill is 0.1 byte, which no binary fraction holds exactly.
    const burst = 10
    const bucket = new TokenBucket({ rate: 1_000_000, burst })
    const steps = 1_000_000
    let consumed = 0
    // A bucket topped up by `+=` on every refill, for comparison.
    let naiveTokens = burst
    let naiveConsumed = 0
    for (let step = 0; step <= steps; step++) {
      const now = step / 10 // the clock itself is exact: no accumulated time
      if (bucket.tryConsume(1, now)) consumed++
      if (step > 0) naiveTokens = Math.min(burst, naiveTokens + 0.1)
      if (naiveTokens >= 1) {
        naiveTokens -= 1
        naiveConsumed++
      }
    }
    const end = steps / 10
    // Everything the bucket ever held: the initial burst plus 100,000 µs × 1 byte/µs, to the last byte,
    // which falls due exactly at the end and is granted there.
    expect(consumed).toBe(burst + 100_000)
    expect(bucket.available(end)).toBe(0)
    // The check can fail: summing the refills drifts (0.999999999999998 bytes where 1 is due), and the last
    // byte is not there on time.
    expect(naiveTokens).toBeLessThan(1)
    expect(naiveConsumed).toBe(burst + 100_000 - 1)
  })

  it('refills exactly in binary fractions: a million quarter-byte refills are 250,000 bytes', () => {
    const bucket = new TokenBucket({ rate: 1_000_000, burst: 10 })
    let consumed = 0
    for (let step = 0; step <= 1_000_000; step++) {
      if (bucket.tryConsume(1, step * 0.25)) consumed++
    }
    expect(consumed + bucket.available(250_000)).toBe(250_010)
  })

  it('matches one refill of the whole interval at an odd rate and odd steps', () => {
    const rate = 1e9 / 7 // 142.857… bytes per µs
    const bucket = new TokenBucket({ rate, burst: 1_000_000 })
    bucket.tryConsume(1_000_000, 0)
    let consumed = 0
    for (let step = 1; step <= 1_000_000; step++) {
      const now = step / 3
      if (bucket.tryConsume(100, now)) consumed += 100
    }
    const end = 1_000_000 / 3
    expect(Math.abs(consumed + bucket.available(end) - (rate * end) / 1e6)).toBeLessThan(1e-6)
  })
})

describe('TokenBucket timeUntil', () => {
  it('says how long until the tokens are there, and tryConsume agrees at that instant', () => {
    const bucket = new TokenBucket({ rate: 1_000_000, burst: 3000 })
    bucket.tryConsume(3000, 0)
    expect(bucket.timeUntil(1500, 0)).toBe(1500)
    expect(bucket.timeUntil(1500, 1000)).toBe(500)
    expect(bucket.timeUntil(1500, 2000)).toBe(0)
    expect(bucket.tryConsume(1500, 1499.999)).toBe(false)
    expect(bucket.tryConsume(1500, 1500)).toBe(true)
  })

  it.each([
    [1e9 / 7, 1448],
    [123_456.789, 1],
    [bitsToBytes(10e9), 65_160],
    [3.3, 7],
    [bitsToBytes(1e9), 1514],
  ])('at %s bytes/s, for %s bytes: exact enough to succeed, not late', (rate, bytes) => {
    const bucket = new TokenBucket({ rate, burst: 70_000 })
    let now = 12_345.678_9
    bucket.tryConsume(70_000, now)
    for (let round = 0; round < 200; round++) {
      const wait = bucket.timeUntil(bytes, now)
      expect(wait).toBeGreaterThan(0)
      const ideal = ((bytes - bucket.available(now)) * 1e6) / rate
      expect(Math.abs(wait - ideal)).toBeLessThanOrEqual(1e-9 * Math.max(1, ideal))
      expect(bucket.tryConsume(bytes, now + wait * (1 - 1e-6))).toBe(false)
      now += wait
      expect(bucket.available(now)).toBeGreaterThanOrEqual(bytes)
      expect(bucket.tryConsume(bytes, now)).toBe(true)
    }
  })
})

describe('TokenBucket rate changes', () => {
  it('keeps the tokens it holds and refills at the new rate from then on', () => {
    const bucket = new TokenBucket({ rate: 1_000_000, burst: 3000 })
    bucket.tryConsume(3000, 0)
    bucket.setRate(2_000_000, 1000) // 1000 tokens at 1 byte/µs
    expect(bucket.rate).toBe(2_000_000)
    expect(bucket.available(1000)).toBe(1000)
    expect(bucket.available(1500)).toBe(2000) // 500 µs at 2 bytes/µs
    bucket.setRate(0, 1500)
    expect(bucket.available(1e9)).toBe(2000)
    bucket.setRate(Infinity, 2000)
    expect(bucket.available(2000)).toBe(3000)
    bucket.setRate(1, 3000)
    expect(bucket.available(3000)).toBe(3000)
  })

  it('changes nothing when the same rate is set again', () => {
    const bucket = new TokenBucket({ rate: 1e9 / 7, burst: 3000 })
    bucket.tryConsume(3000, 0)
    const before = bucket.available(7.7)
    bucket.setRate(1e9 / 7, 3.3)
    expect(bucket.available(7.7)).toBe(before)
  })
})

function bitsToBytes(bitsPerSecond: number): number {
  return bitsPerSecond / 8
}
