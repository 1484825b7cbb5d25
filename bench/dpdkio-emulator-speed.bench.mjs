// Simulated seconds per wall-clock second for a saturated 1 Gbit/s, 50 ms emulated link on the virtual clock,
// twice: the link alone (frames pushed by a loop: what the emulator costs), and with a TCP stack in the loop
// (two stacks, one bulk transfer: what a study of a transport costs). Baseline: real time
// (one simulated second per wall second), what the same link costs on the real clock. Targets that can be
// met: the link alone must leave room for a TCP stack (≥ 2x: the stack's per-segment work is of the same
// order as the emulator's), and a study must run at least as fast as real time (≥ 1x).
import { BufferPool, createMemoryLink, VirtualClock } from '@mtcp/dpdk-io'
import { report } from './lib.mjs'
import { bulkTransfer, stackPair } from '@mtcp/stack/testing'

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
// With a TCP stack in the loop: a 400 MB bulk transfer (CUBIC, the link's drop-tail queue) between two stacks.
const pair = stackPair({ impairments: { rate: 1e9, delay: 50_000, queuePackets: 1000 }, stack: { tcp: { sendBufferSize: 32 << 20, receiveBufferSize: 32 << 20 } } })
const BULK = 400_000_000
const tcpStart = performance.now()
const bulk = bulkTransfer(pair, BULK, 5001, 64 * 1024, false)
const tcpWall = (performance.now() - tcpStart) / 1000
const tcpSimulated = bulk.elapsed / 1e6
console.log(`  with a TCP stack in the loop: ${tcpSimulated.toFixed(1)} s simulated in ${tcpWall.toFixed(2)} s wall (${((BULK * 8) / tcpSimulated / 1e6).toFixed(0)} Mbit/s goodput)`)
report({
  id: 'dpdkio-emulator-speed-tcp',
  metric: 'simulated seconds per wall second, bulk TCP transfer between two stacks over a 1 Gbit/s 50 ms emulated link',
  unit: 'x',
  value: tcpSimulated / tcpWall,
  baseline: { name: 'real time', value: 1 },
  target: '≥ 1x',
})
report({
  id: 'dpdkio-emulator-speed',
  metric: `simulated seconds per wall second, saturated 1 Gbit/s 50 ms link (${(utilisation * 100).toFixed(1)}% utilised)`,
  unit: 'x',
  value: SIMULATED_SECONDS / wall,
  baseline: { name: 'real time', value: 1 },
  target: '≥ 2x',
})
