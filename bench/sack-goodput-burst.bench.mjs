// Goodput with SACK vs NewReno on the same link with bursty loss (Gilbert–Elliott: 1% on average in
// bursts of about 4 packets), 100 Mbit/s, 20 ms, same seed, run side by side.
import { bulkTransfer, stackPair } from '@mtcp/stack/testing'
import { report } from './lib.mjs'

const BYTES = 50_000_000

function goodput(sack) {
  const pair = stackPair({
    seed: 8,
    impairments: { rate: 100e6, delay: 20_000, burstLoss: { p: 0.0025, r: 0.25 } },
    stack: { tcp: { sack, sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } },
  })
  const result = bulkTransfer(pair, BYTES, 5001, 64 * 1024, false)
  if (result.bytes !== BYTES) throw new Error('transfer incomplete')
  const stats = pair.link.stats('aToB')
  return { bitsPerSecond: (BYTES * 8) / (result.elapsed / 1e6), lossRate: stats.burstLosses / stats.enqueued, timeouts: result.clientStats.retransmitTimeouts }
}

const sack = goodput(true)
const newReno = goodput(false)
console.log(`  loss ${(sack.lossRate * 100).toFixed(2)}%; SACK ${(sack.bitsPerSecond / 1e6).toFixed(2)} Mbit/s (${sack.timeouts} timeouts), NewReno ${(newReno.bitsPerSecond / 1e6).toFixed(2)} Mbit/s (${newReno.timeouts} timeouts)`)
report({
  id: 'sack-goodput-burst',
  metric: 'goodput with SACK under bursty loss (1% in bursts of ~4), 100 Mbit/s 20 ms',
  unit: 'bit/s',
  value: sack.bitsPerSecond,
  baseline: { name: 'NewReno on the same link and seed', value: newReno.bitsPerSecond },
  target: 'ratio ≥ 1.3',
})
