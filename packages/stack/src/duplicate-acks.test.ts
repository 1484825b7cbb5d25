// Duplicate ACKs leave as ACK-only segments even while data flows the other way (RFC 5681 §2 and §4.2), so
// a sender without SACK counts them and repairs a loss by fast retransmit instead of a timeout.
import { describe, expect, it } from 'vitest'
import { runStreams } from './test-support/streams.js'
import { stackPair } from './testing.js'

describe('without SACK, data both ways at once, 1% loss from a to b', () => {
  it('most losses are repaired by fast retransmit, on duplicate ACKs of their own', () => {
    const pair = stackPair({ impairments: { rate: 1e9, delay: 1000, queuePackets: 1000 }, seed: 11, stack: { tcp: { sack: false } } })
    const bytes = 20_000_000
    pair.link.configure('aToB', { rate: 1e9, delay: 1000, queuePackets: 1000, loss: 0.01 })
    const result = runStreams(pair, { aToB: bytes, bToA: 4 * bytes })
    expect(result.receivedByB).toBe(bytes)
    expect(result.receivedByA).toBe(4 * bytes)
    expect(result.connectionA.negotiated.sack).toBe(false)
    const fast = result.a.fastRetransmits
    const timeouts = result.a.retransmitTimeouts
    // b answered every out-of-order segment with an ACK-only segment, although it had data to send.
    expect(result.b.outOfOrderSegments).toBeGreaterThan(0)
    expect(result.b.pureAcksSent).toBeGreaterThanOrEqual(result.b.outOfOrderSegments)
    expect(fast).toBeGreaterThan(timeouts)
  }, 60_000)
})
