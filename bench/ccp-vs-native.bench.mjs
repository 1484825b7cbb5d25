// Goodput of CCP-Reno (the stack's datapath driven by @mtcp/ccp-agent's Reno through the in-process
// channel) against native Reno, over a 100 Mbit/s, 20 ms emulated link with 0.1% loss, side by side on
// the virtual clock with the same seeds.
import { Agent, Reno } from '@mtcp/ccp-agent'
import { InProcessHub } from '@mtcp/ccp-ipc'
import { bulkTransfer, stackPair } from '@mtcp/stack/testing'
import { report } from './lib.mjs'

const RATE = 100e6
const BYTES = 125_000_000 // 10 s at the link rate
const SEEDS = [1, 2, 3]

function run(kind, seed) {
  const hub = new InProcessHub({ synchronous: true })
  const ccp = kind === 'ccp'
  const pair = stackPair({
    impairments: { rate: RATE, delay: 10_000, queuePackets: 1000, loss: 0.001 },
    seed,
    stack: { tcp: { sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } },
    stackA: ccp ? { congestionControl: 'ccp:reno', ccp: { transport: hub.datapath('bench') } } : { congestionControl: 'reno' },
  })
  const agent = ccp ? new Agent({ transport: hub.agent(), algorithms: [new Reno()], now: () => pair.clock.now() }) : undefined
  agent?.start()
  const wall = performance.now()
  const result = bulkTransfer(pair, BYTES, 5001, 64 * 1024, false)
  if (result.bytes !== BYTES) throw new Error('transfer incomplete')
  agent?.close()
  return { goodput: (BYTES * 8) / (result.elapsed / 1e6), wall: (performance.now() - wall) / 1000, reports: agent?.stats.reports ?? 0, retransmits: result.clientStats.retransmittedSegments }
}

const totals = { native: 0, ccp: 0 }
for (const seed of SEEDS) {
  const native = run('native', seed)
  const ccp = run('ccp', seed)
  totals.native += native.goodput
  totals.ccp += ccp.goodput
  console.log(`  seed ${seed}: native Reno ${(native.goodput / 1e6).toFixed(1)} Mbit/s (${native.retransmits} rtx), CCP-Reno ${(ccp.goodput / 1e6).toFixed(1)} Mbit/s (${ccp.retransmits} rtx, ${ccp.reports} reports, ${ccp.wall.toFixed(1)} s wall)`)
}
report({
  id: 'ccp-vs-native',
  metric: 'goodput of CCP-Reno (TypeScript agent) over a 100 Mbit/s 20 ms emulated link with 0.1% loss, mean of 3 seeds',
  unit: 'bit/s',
  value: totals.ccp / SEEDS.length,
  baseline: { name: 'native Reno, same link and seeds', value: totals.native / SEEDS.length },
  target: 'ratio ≥ 0.95',
})
