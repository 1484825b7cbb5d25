// Goodput over a 100 Mbit/s, 20 ms emulated link on the virtual clock, as a fraction of the link rate.
import { bulkTransfer, stackPair } from '@mtcp/stack/testing'
import { report } from './lib.mjs'

const RATE = 100e6
const BYTES = 250_000_000 // 20 s at the link rate

const results = {}
for (const congestionControl of ['cubic', 'reno']) {
  const pair = stackPair({
    impairments: { rate: RATE, delay: 20_000, queuePackets: 1000 },
    stack: { congestionControl, tcp: { sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } },
  })
  const wall = performance.now()
  const result = bulkTransfer(pair, BYTES, 5001, 64 * 1024, false)
  if (result.bytes !== BYTES) throw new Error('transfer incomplete')
  const seconds = result.elapsed / 1e6
  const retransmits = result.clientStats.retransmittedSegments
  results[congestionControl] = { fraction: (BYTES * 8) / seconds / RATE, wall: (performance.now() - wall) / 1000, seconds, retransmits }
}
console.log(`  cubic: ${results.cubic.fraction.toFixed(3)} of the link (${results.cubic.seconds.toFixed(1)} s simulated in ${results.cubic.wall.toFixed(1)} s, ${results.cubic.retransmits} retransmissions); reno: ${results.reno.fraction.toFixed(3)}`)
report({
  id: 'stack-emulated-100M',
  metric: 'goodput over a 100 Mbit/s 20 ms emulated link (CUBIC), as a fraction of the link rate',
  unit: 'fraction',
  value: results.cubic.fraction,
  baseline: { name: 'the link rate', value: 1 },
  target: '≥ 0.95',
})
