// Loss recovery on the emulated link (virtual clock, deterministic): goodput of one bulk transfer through
// 1% loss, 5% loss, 25% reordering and both, with each loss-detection algorithm of tcp-core: RACK-TLP
// (RFC 8985, the default) against RFC 6675 SACK recovery (the algorithm before RACK-TLP became the
// default) and NewReno duplicate ACKs. Fair: the same link model, seed, rate, delay, buffers and byte count
// for every run; only `tcp.lossDetection` differs; the virtual clock makes the figures independent of CPU load.
import { bulkTransfer, stackPair } from '@mtcp/stack/testing'
import { report } from './lib.mjs'

const BYTES = Number(process.env.LOSS_BYTES ?? 20_000_000)
const RATE = 100e6
const DELAY = 5_000 // one way: 10 ms RTT

export const SCENARIOS = [
  { name: 'none', impairments: {} },
  { name: '1% loss', impairments: { loss: 0.01 } },
  { name: '5% loss', impairments: { loss: 0.05 } },
  { name: '25% reordering', impairments: { reorder: 0.25, reorderDelay: 2_000 } },
  { name: '5% loss + 25% reordering', impairments: { loss: 0.05, reorder: 0.25, reorderDelay: 2_000 } },
]

function run(lossDetection, impairments) {
  const pair = stackPair({
    seed: 7,
    impairments: { rate: RATE, delay: DELAY, ...impairments },
    stack: { tcp: { ...(lossDetection === undefined ? {} : { lossDetection }), sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } },
  })
  const result = bulkTransfer(pair, BYTES, 5001, 64 * 1024, false)
  if (result.bytes !== BYTES) throw new Error('transfer incomplete')
  return { mbps: (BYTES * 8) / result.elapsed, timeouts: result.clientStats.retransmitTimeouts, retransmitted: result.clientStats.retransmittedBytes }
}

const modes = (process.env.LOSS_MODES ?? 'rack,rfc6675,newreno').split(',').map((m) => (m === 'default' ? undefined : m))
let worst = Number.POSITIVE_INFINITY
for (const scenario of SCENARIOS) {
  const row = modes.map((mode) => ({ mode: mode ?? 'default', ...run(mode, scenario.impairments) }))
  console.log(`  ${scenario.name.padEnd(26)} ${row.map((r) => `${r.mode}: ${r.mbps.toFixed(1)} Mbit/s (${r.timeouts} RTOs, ${(r.retransmitted / 1e6).toFixed(2)} MB rexmit)`).join('; ')}`)
  if (row.length > 1 && row[1].mbps > 0 && Object.keys(scenario.impairments).length > 0) worst = Math.min(worst, row[0].mbps / row[1].mbps)
}
if (modes.length > 1 && Number.isFinite(worst)) {
  report({
    id: 'loss-recovery-emulated',
    metric: `worst ratio over the impaired scenarios of ${modes[0] ?? 'default'} goodput to ${modes[1] ?? 'default'}, 100 Mbit/s 10 ms RTT`,
    unit: 'ratio',
    value: worst,
    baseline: { name: `${modes[1] ?? 'default'} on the same link and seed`, value: 1 },
    target: '≥ 1.0',
  })
}
