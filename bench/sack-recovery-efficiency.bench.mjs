// Recovery efficiency: bytes retransmitted divided by bytes actually lost, on the same 1%-loss emulated
// link (100 Mbit/s, 20 ms, same seed), SACK (RFC 6675) vs NewReno (RFC 6582), run side by side.
import { bulkTransfer, stackPair } from '@mtcp/stack/testing'
import { report } from './lib.mjs'

const BYTES = 100_000_000
const MSS = 1448 // with timestamps

function run(sack) {
  const pair = stackPair({
    seed: 21,
    impairments: { rate: 100e6, delay: 20_000, loss: 0.01 },
    stack: { tcp: { sack, sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } },
  })
  const result = bulkTransfer(pair, BYTES, 5001, 64 * 1024, false)
  if (result.bytes !== BYTES) throw new Error('transfer incomplete')
  const lostBytes = pair.link.stats('aToB').randomLosses * MSS // the a → b frames are full data segments
  return { efficiency: result.clientStats.retransmittedBytes / lostBytes, timeouts: result.clientStats.retransmitTimeouts, seconds: result.elapsed / 1e6 }
}

const sack = run(true)
const newReno = run(false)
console.log(`  SACK: ${sack.efficiency.toFixed(3)} (${sack.timeouts} timeouts, ${sack.seconds.toFixed(1)} s); NewReno: ${newReno.efficiency.toFixed(3)} (${newReno.timeouts} timeouts, ${newReno.seconds.toFixed(1)} s)`)
report({
  id: 'sack-recovery-efficiency',
  metric: 'bytes retransmitted / bytes lost, 1% loss, 100 Mbit/s 20 ms, with SACK',
  unit: 'ratio',
  value: sack.efficiency,
  baseline: { name: 'NewReno on the same link and seed', value: newReno.efficiency },
  target: '≤ 1.1 with SACK',
})
