import { describe, expect, it } from 'vitest'
import { acceptable } from './segment-arrival.js'

/** RFC 9293 §3.10.7.4's acceptability table, with RCV.NXT just below 2^32 and just below 2^31 so the window wraps. */
describe('acceptability test (RFC 9293 §3.10.7.4)', () => {
  const add = (a: number, b: number) => (a + b) >>> 0
  for (const rcvNxt of [0xffff_fff0, 0x7fff_fff8]) {
    const window = 0x20
    const label = `RCV.NXT ${rcvNxt.toString(16)}, window ${window} across the wrap`

    it(`length 0, window 0: only SEG.SEQ = RCV.NXT (${label})`, () => {
      expect(acceptable(rcvNxt, rcvNxt, 0, 0)).toBe(true)
      expect(acceptable(rcvNxt, add(rcvNxt, 1), 0, 0)).toBe(false)
      expect(acceptable(rcvNxt, add(rcvNxt, -1), 0, 0)).toBe(false)
    })

    it(`length 0, window > 0: RCV.NXT ≤ SEG.SEQ < RCV.NXT+RCV.WND (${label})`, () => {
      expect(acceptable(rcvNxt, rcvNxt, 0, window)).toBe(true)
      expect(acceptable(rcvNxt, add(rcvNxt, window - 1), 0, window)).toBe(true)
      expect(acceptable(rcvNxt, add(rcvNxt, window), 0, window)).toBe(false)
      expect(acceptable(rcvNxt, add(rcvNxt, -1), 0, window)).toBe(false)
    })

    it(`length > 0, window 0: never (${label})`, () => {
      expect(acceptable(rcvNxt, rcvNxt, 1, 0)).toBe(false)
      expect(acceptable(rcvNxt, rcvNxt, 100, 0)).toBe(false)
    })

    it(`length > 0, window > 0: the first or the last sequence number in the window (${label})`, () => {
      // Starts before RCV.NXT, ends inside: acceptable (the new part is taken).
      expect(acceptable(rcvNxt, add(rcvNxt, -5), 10, window)).toBe(true)
      // Starts inside, ends past the window: acceptable.
      expect(acceptable(rcvNxt, add(rcvNxt, window - 1), 10, window)).toBe(true)
      // Entirely before RCV.NXT (a duplicate): last = RCV.NXT − 1.
      expect(acceptable(rcvNxt, add(rcvNxt, -10), 10, window)).toBe(false)
      // Entirely past the window.
      expect(acceptable(rcvNxt, add(rcvNxt, window), 10, window)).toBe(false)
      // Covers the whole window, first and last both outside it: not acceptable by the table.
      expect(acceptable(rcvNxt, add(rcvNxt, -1), window + 2, window)).toBe(false)
    })
  }
})
