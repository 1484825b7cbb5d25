/** Tests of the block checks: each rejection code, D-SACK recognition (RFC 2883 §5), wraparound, properties. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { seqAdd, seqLe, seqLt } from './seq.js'
import { validateSackBlocks } from './validate-sack-blocks.js'

const block = (left: number, right: number) => ({ left: left >>> 0, right: right >>> 0 })

describe('validateSackBlocks', () => {
  it('accepts blocks between the cumulative ACK and SND.NXT', () => {
    const blocks = [block(8000, 8500), block(7000, 7500), block(6000, 6500)]
    const result = validateSackBlocks(blocks, 5500, 9000)
    expect(result).toEqual({ valid: blocks, dsack: false, rejected: 0, error: undefined })
    expect(result.valid[0]).toBe(blocks[0]) // the received objects, not copies
  })

  it('accepts a block ending exactly at SND.NXT and rejects one past it (BEYOND_SENT)', () => {
    expect(validateSackBlocks([block(8500, 9000)], 5500, 9000).rejected).toBe(0)
    const result = validateSackBlocks([block(8500, 9001)], 5500, 9000)
    expect(result.valid).toEqual([])
    expect(result.rejected).toBe(1)
    expect(result.error?.code).toBe('BEYOND_SENT')
    expect(result.error?.message).toMatch(/runs past SND.NXT 9000/)
  })

  it.each([
    ['EMPTY_BLOCK', block(6000, 6000)],
    ['INVERTED_BLOCK', block(6500, 6000)],
    ['INVERTED_BLOCK', block(6000, 6000 + 2 ** 31 + 1000)], // longer than 2^31: left is after right modulo 2^32
    ['INVERTED_BLOCK', block(6000, 6000 + 2 ** 31)], // exactly 2^31: neither edge is before the other
    ['BEYOND_SENT', block(9500, 10_000)],
    ['BEYOND_SENT', block(6000, 9001)],
    ['TOO_OLD', block(5500 - 2 ** 31, 5600 - 2 ** 31)], // left edge 2^31 below the ACK, one past the oldest
    ['BEYOND_SENT', block(8990, 5511 - 2 ** 31)], // from below SND.NXT round past it to just above the oldest
  ])('rejects %s %o', (code, bad) => {
    const good = block(6000, 6500)
    const result = validateSackBlocks([good, bad, good], 5500, 9000)
    expect(result.valid).toEqual([good, good])
    expect(result.rejected).toBe(1)
    expect(result.error?.code).toBe(code)
  })

  it('reports the first rejection when several blocks are bad', () => {
    const result = validateSackBlocks([block(1, 1), block(9500, 9600), block(7000, 6000)], 5500, 9000)
    expect(result.rejected).toBe(3)
    expect(result.error?.code).toBe('EMPTY_BLOCK')
  })

  it('accepts the oldest left edge, 2^31 − 1 below the ACK', () => {
    expect(validateSackBlocks([block(5500 - (2 ** 31 - 1), 5000)], 5500, 9000).rejected).toBe(0)
  })

  describe('D-SACK (RFC 2883)', () => {
    it('§4 example 1: a first block below the cumulative ACK is a D-SACK', () => {
      const result = validateSackBlocks([block(3000, 3500)], 4000, 4000)
      expect(result).toMatchObject({ dsack: true, rejected: 0 })
      expect(result.valid).toEqual([block(3000, 3500)])
    })

    it('§4 example 2: a D-SACK below the ACK followed by an ordinary block', () => {
      const result = validateSackBlocks([block(3000, 3500), block(4500, 5000)], 4000, 5000)
      expect(result.dsack).toBe(true)
      expect(result.valid).toHaveLength(2)
    })

    it('§4 example 3: a first block inside the second is a D-SACK above the ACK', () => {
      expect(validateSackBlocks([block(5000, 5500), block(4500, 5500)], 4000, 5500).dsack).toBe(true)
      // The ordinary ACK before it: not a D-SACK.
      expect(validateSackBlocks([block(4500, 5500)], 4000, 5500).dsack).toBe(false)
      // A first block larger than the second is not inside it.
      expect(validateSackBlocks([block(4500, 5500), block(5000, 5500)], 4000, 5500).dsack).toBe(false)
    })

    it('§4 example 4: a D-SACK of a subsegment', () => {
      expect(validateSackBlocks([block(1000, 1500)], 2500, 2500).dsack).toBe(true)
    })

    it('§5: compares with the ACK of the same segment, and only the first block can be a D-SACK', () => {
      // A reordered older ACK (2000) carrying a block above it: an ordinary SACK, whatever SND.UNA is now.
      expect(validateSackBlocks([block(3000, 3500)], 2000, 5000).dsack).toBe(false)
      // A block below the ACK in second place is not a D-SACK.
      expect(validateSackBlocks([block(4500, 5000), block(3000, 3500)], 4000, 5000).dsack).toBe(false)
    })

    it('is not reported when the first block is invalid, or the second block it sits in is', () => {
      expect(validateSackBlocks([block(3500, 3000)], 4000, 5000).dsack).toBe(false)
      expect(validateSackBlocks([block(5000, 5500), block(4500, 9000)], 4000, 5500).dsack).toBe(false)
    })

    it('works across 2^32', () => {
      const ack = 100 // the ACK has wrapped; the duplicate is just below 2^32
      const result = validateSackBlocks([block(-400, 0), block(300, 600)], ack, 1000)
      expect(result).toMatchObject({ dsack: true, rejected: 0 })
      expect(validateSackBlocks([block(-400, 50)], ack, 1000).dsack).toBe(true) // straddles 0 and the ACK
    })
  })

  it('handles blocks crossing 2^32 like any other', () => {
    const ack = 2 ** 32 - 1000
    const result = validateSackBlocks([block(-500, 500), block(600, 700), block(700, 1200)], ack, 1000)
    expect(result.valid).toEqual([block(-500, 500), block(600, 700)])
    expect(result.error?.code).toBe('BEYOND_SENT')
  })

  it('never throws, and every accepted block lies within [ack − (2^31 − 1), SND.NXT] with left before right', () => {
    const uint32 = fc.nat({ max: 0xffffffff })
    fc.assert(
      fc.property(fc.array(fc.record({ left: uint32, right: uint32 }), { maxLength: 4 }), uint32, fc.nat({ max: 2 ** 30 }), (blocks, ack, flight) => {
        const sndNxt = seqAdd(ack, flight)
        const result = validateSackBlocks(blocks, ack, sndNxt)
        expect(result.valid.length + result.rejected).toBe(blocks.length)
        expect(result.error === undefined).toBe(result.rejected === 0)
        const lowest = seqAdd(ack, -(2 ** 31 - 1))
        for (const { left, right } of result.valid) {
          expect(seqLt(left, right)).toBe(true)
          // Linear containment in the window, which may be wider than 2^31: lowest ≤ left < right ≤ SND.NXT.
          expect((left - lowest) >>> 0).toBeLessThan((right - lowest) >>> 0)
          expect((right - lowest) >>> 0).toBeLessThanOrEqual((sndNxt - lowest) >>> 0)
          if (seqLe(ack, left)) expect(seqLe(right, sndNxt)).toBe(true)
        }
        if (result.dsack) expect(result.valid[0]).toBe(blocks[0])
      }),
      { numRuns: 2000 },
    )
  })

  it('accepts every non-empty block inside [ack, SND.NXT], near 0 and near 2^32', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0, 2 ** 31 - 50, 2 ** 32 - 50),
        fc.nat({ max: 200 }),
        fc.nat({ max: 200 }),
        fc.nat({ max: 200 }),
        (ack, a, b, flight) => {
          fc.pre(a !== b && Math.max(a, b) <= flight)
          const result = validateSackBlocks([block(ack + Math.min(a, b), ack + Math.max(a, b))], ack, seqAdd(ack, flight))
          expect(result).toMatchObject({ rejected: 0, dsack: false })
        },
      ),
    )
  })
})
