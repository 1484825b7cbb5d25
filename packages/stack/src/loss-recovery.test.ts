// Loss recovery on the emulated link (virtual clock, fixed seed): RACK-TLP with PRR (the default) against
// the RFC 6675 mode on the same link, seed and bytes. Each assertion compares two deterministic runs.
import { describe, expect, it } from 'vitest'
import type { LinkImpairments } from '@mtcp/dpdk-io'
import { bulkTransfer, stackPair } from './testing.js'

const BYTES = 4_000_000

function run(lossDetection: 'rack' | 'rfc6675', impairments: LinkImpairments) {
  const pair = stackPair({
    seed: 7,
    impairments: { rate: 100e6, delay: 5_000, ...impairments },
    stack: { tcp: { lossDetection, sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } },
  })
  const result = bulkTransfer(pair, BYTES)
  expect(result.bytes).toBe(BYTES)
  expect(result.receivedHash).toBe(result.sentHash)
  return result
}

describe('RACK-TLP on the emulated link', () => {
  it('25% reordering within the RTT: almost no retransmission once D-SACK has grown the reordering window', () => {
    const impairments = { reorder: 0.25, reorderDelay: 2_000 }
    const rack = run('rack', impairments)
    const rfc6675 = run('rfc6675', impairments)
    // Nothing is lost on this link: every retransmission is spurious.
    expect(rack.clientStats.retransmittedBytes * 10).toBeLessThan(rfc6675.clientStats.retransmittedBytes)
    expect(rack.elapsed).toBeLessThan(rfc6675.elapsed)
  })

  it('5% loss: lost retransmissions are found without the RTO, so fewer timeouts than the RFC 6675 mode', () => {
    const rack = run('rack', { loss: 0.05 })
    const rfc6675 = run('rfc6675', { loss: 0.05 })
    expect(rack.clientStats.lostRetransmissions).toBeGreaterThan(0)
    expect(rack.clientStats.retransmitTimeouts).toBeLessThan(rfc6675.clientStats.retransmitTimeouts)
  })
})

describe('a slow-start overshoot into a full drop-tail queue (issue 15, stack-emulated-100M)', () => {
  // 100 Mbit/s, 20 ms each way, 1000-packet queue: slow start ends with hundreds of segments of one window
  // dropped by the queue. Every one must be retransmitted exactly once, without a timeout. The receiver
  // used to keep at most 64 out-of-order ranges (dropping everything past the 64th hole), and RACK's
  // repair of the first hole, queued behind a full buffer, arrived after an RTO still counting from the
  // last cumulative ACK: 4,561 retransmissions for 1,918 drops in the benchmark.
  it.each(['rack', 'rfc6675'] as const)('%s: retransmissions = segments the queue dropped, no timeout', (lossDetection) => {
    const pair = stackPair({
      impairments: { rate: 100e6, delay: 20_000, queuePackets: 1000 },
      stack: { congestionControl: 'cubic', tcp: { lossDetection, sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } },
    })
    const result = bulkTransfer(pair, 30_000_000, 5001, 64 * 1024, false)
    const drops = pair.link.stats('aToB').queueDrops
    expect(drops).toBeGreaterThan(64)
    expect(result.clientStats.retransmitTimeouts).toBe(0)
    expect(result.clientStats.retransmittedSegments).toBe(drops)
  }, 120_000)
})
