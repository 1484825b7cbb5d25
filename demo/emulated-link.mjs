// A saturating frame sender over the emulated link (no TCP), reported per simulated second.
//   node demo/emulated-link.mjs [--rate 100e6] [--delay-ms 20] [--loss 0.01] [--seconds 5] [--seed 1] [--pcap out.pcap] [--real]
import { BufferPool, createMemoryLink, PcapWriter, realClock, VirtualClock } from '@mtcp/dpdk-io'
import { numberFlag, parseFlags } from './flags.mjs'

const values = parseFlags({
  rate: { type: 'string' },
  'delay-ms': { type: 'string' },
  loss: { type: 'string' },
  seconds: { type: 'string' },
  seed: { type: 'string' },
  pcap: { type: 'string' },
  real: { type: 'boolean' },
})
const rate = numberFlag(values, 'rate', 100e6, 1e3, 100e9)
const delayMs = numberFlag(values, 'delay-ms', 20, 0, 10_000)
const loss = numberFlag(values, 'loss', 0.01, 0, 1)
const seconds = numberFlag(values, 'seconds', 5, 0.1, 3600)
const seed = numberFlag(values, 'seed', 1, 0, 2 ** 32 - 1)

const clock = values.real ? realClock : new VirtualClock()
const pool = new BufferPool({ count: 16_384 })
const link = createMemoryLink({ clock, seed, aToB: { rate, delay: delayMs * 1000, loss, queuePackets: 200 } })
const pcap = values.pcap ? PcapWriter.open(values.pcap) : undefined
if (pcap) link.b.capture(pcap)

console.log(`emulated link: ${rate / 1e6} Mbit/s, ${delayMs} ms one way, ${loss * 100}% loss, seed ${seed}, ${clock.kind} clock`)
console.log('  time   delivered Mbit/s   frames   lost   queue drops')
const start = clock.now()
const end = start + seconds * 1e6
let delivered = 0
let frames = 0
const rx = []
link.b.onReadable(() => {
  const n = link.b.rxBurst(rx, 64)
  for (let i = 0; i < n; i++) delivered += rx[i].length
  frames += n
  pool.freeBulk(rx, n)
})
// The sender offers 10% more than the link rate, so the queue stays full and the drop-tail queue works.
const tx = []
const interval = 10_000
const perInterval = Math.ceil((rate * 1.1 * interval) / 1e6 / 8 / 1514)
const sender = clock.createTimer(() => {
  if (pool.allocBulk(tx, perInterval)) {
    for (let i = 0; i < perInterval; i++) {
      tx[i].setFrame(FRAME)
    }
    link.a.txBurst(tx, perInterval)
  }
  if (clock.now() + interval < end) sender.arm(clock.now() + interval)
})
const FRAME = new Uint8Array(1514)
FRAME.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5])
sender.arm(start)
let second = 0
let lostBefore = 0
let queueDropsBefore = 0
const reporter = clock.createTimer(() => {
  second++
  const drops = link.a.stats.drops
  console.log(
    `${String(second).padStart(5)} s ${((delivered * 8) / 1e6).toFixed(3).padStart(18)} ${String(frames).padStart(8)} ${String(drops.randomLoss - lostBefore).padStart(6)} ${String(drops.queueFull - queueDropsBefore).padStart(13)}`,
  )
  lostBefore = drops.randomLoss
  queueDropsBefore = drops.queueFull
  delivered = 0
  frames = 0
  if (second < seconds) reporter.arm(start + (second + 1) * 1e6)
  else finish()
})
reporter.arm(start + 1e6)

function finish() {
  sender.cancel()
  link.close()
  pcap?.close()
  if (pcap) console.log(`wrote ${pcap.stats.frames} frames to ${values.pcap}`)
}

if (clock.kind === 'virtual') {
  const wallStart = performance.now()
  clock.runUntilIdle()
  const wall = (performance.now() - wallStart) / 1000
  console.log(`simulated ${seconds} s in ${wall.toFixed(2)} s of wall time (${(seconds / wall).toFixed(1)}x real time)`)
}
