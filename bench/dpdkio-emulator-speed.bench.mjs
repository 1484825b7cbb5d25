// Simulated seconds per wall-clock second for a saturated 1 Gbit/s, 50 ms emulated link on the virtual clock.
// Baseline: real time (one simulated second per wall second), which is what the same link costs on the real clock.
import { BufferPool, createMemoryLink, VirtualClock } from '@mtcp/dpdk-io'
import { report } from './lib.mjs'

const FRAME = 1514
const SIMULATED_SECONDS = 30

const clock = new VirtualClock()
const pool = new BufferPool({ count: 8192 })
const link = createMemoryLink({ clock, impairments: { rate: 1e9, delay: 50_000, backpressure: true, queuePackets: 1000 } })
let delivered = 0
const rx = []
link.b.onReadable(() => {
  for (;;) {
    const n = link.b.rxBurst(rx, 64)
    if (n === 0) break
    for (let i = 0; i < n; i++) delivered += rx[i].length
    pool.freeBulk(rx, n)
  }
})
const tx = []
let held = 0
const fill = () => {
  for (;;) {
    if (held === 0) {
      if (!pool.allocBulk(tx, 32)) return
      for (let i = 0; i < 32; i++) tx[i].length = FRAME
      held = 32
    }
    const sent = link.a.txBurst(tx, held)
    if (sent < held) {
      tx.copyWithin(0, sent, held)
      held -= sent
      return
    }
    held = 0
  }
}
link.a.onWritable(fill)
fill()
const start = performance.now()
clock.runUntilIdle(SIMULATED_SECONDS * 1e6)
const wall = (performance.now() - start) / 1000
const utilisation = (delivered * 8) / 1e9 / (SIMULATED_SECONDS - 0.05)
if (utilisation < 0.99) throw new Error(`link not saturated: ${(utilisation * 100).toFixed(1)}% of 1 Gbit/s`)
report({
  id: 'dpdkio-emulator-speed',
  metric: `simulated seconds per wall second, saturated 1 Gbit/s 50 ms link (${(utilisation * 100).toFixed(1)}% utilised)`,
  unit: 'x',
  value: SIMULATED_SECONDS / wall,
  baseline: { name: 'real time', value: 1 },
  target: '≥ 10x',
})
