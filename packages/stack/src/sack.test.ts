// SACK between two stacks over the emulated link (RFC 2018, RFC 6675).
import { describe, expect, it } from 'vitest'
import { bulkTransfer, stackPair } from './testing.js'

const MB = 1_000_000
const link = { rate: 100e6, delay: 20_000 }
const buffers = { sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 }

describe('SACK recovery between two stacks', () => {
  it('moves 100 MB over a 100 Mbit/s, 20 ms link with 1% random loss, intact and without a single timeout', () => {
    const pair = stackPair({ seed: 11, impairments: { ...link, loss: 0.01 }, stack: { tcp: buffers } })
    const result = bulkTransfer(pair, 100 * MB)
    expect(result.receivedHash).toBe(result.sentHash)
    expect(result.clientStats.retransmitTimeouts).toBe(0)
    expect(result.clientStats.fastRetransmits).toBeGreaterThan(100)
    // Only what was lost goes again (data frames dropped in the a → b direction).
    const lost = pair.link.stats('aToB').randomLosses
    expect(result.clientStats.retransmittedSegments).toBeLessThanOrEqual(Math.ceil(lost * 1.1))
  }, 120_000)

  it('moves 100 MB intact under bursty loss (Gilbert–Elliott, bursts of about 4)', () => {
    const pair = stackPair({ seed: 5, impairments: { ...link, burstLoss: { p: 0.0025, r: 0.25 } }, stack: { tcp: buffers } })
    const result = bulkTransfer(pair, 100 * MB)
    expect(result.receivedHash).toBe(result.sentHash)
    expect(pair.link.stats('aToB').burstLosses).toBeGreaterThan(100)
  }, 120_000)

  it('falls back to NewReno when one side does not offer SACK, still intact', () => {
    const pair = stackPair({ seed: 11, impairments: { ...link, loss: 0.01 }, stack: { tcp: { ...buffers, sack: false } } })
    const result = bulkTransfer(pair, 20 * MB)
    expect(result.receivedHash).toBe(result.sentHash)
  }, 120_000)
})
