// Frames per second through a memory port pair: 32-frame bursts of 1514-byte frames, no impairment.
// Baseline, in the same run: the kernel's packet path as Node reaches it, 1472-byte UDP datagrams over loopback.
// Both move the bytes they count: our sender writes every frame's bytes into its buffer (one copy from the
// application's frame, as the kernel copies a datagram in from user memory) and our receiver copies every
// received frame out into the application's memory (as the kernel copies a datagram out to user memory),
// so neither side counts frames whose contents nothing touched. Alternating order, three runs each.
import { createSocket } from 'node:dgram'
import { BufferPool, createMemoryLink } from '@mtcp/dpdk-io'
import { report, timeLoop } from './lib.mjs'

const BURST = 32
const FRAME = 1514

function memoryPps(seconds) {
  const pool = new BufferPool({ count: 1024 })
  const link = createMemoryLink()
  const tx = []
  const rx = []
  const frame = new Uint8Array(FRAME).fill(0x5a) // what the application sends
  const application = new Uint8Array(FRAME) // where the application receives
  let touched = 0
  const step = () => {
    pool.allocBulk(tx, BURST)
    for (let i = 0; i < BURST; i++) {
      const buffer = tx[i]
      buffer.data.set(frame, buffer.offset)
      buffer.length = FRAME
    }
    const sent = link.a.txBurst(tx, BURST)
    const received = link.b.rxBurst(rx, BURST)
    for (let i = 0; i < received; i++) {
      const buffer = rx[i]
      application.set(buffer.data.subarray(buffer.offset, buffer.offset + buffer.length))
      touched += application[FRAME - 1]
    }
    pool.freeBulk(rx, received)
    return sent === BURST ? received : 0
  }
  const { count, seconds: elapsed } = timeLoop(step, seconds)
  if (touched === 0) throw new Error('no frame arrived with its bytes')
  return count / elapsed
}

async function kernelUdpPps(seconds) {
  const receiver = createSocket('udp4')
  const sender = createSocket('udp4')
  await new Promise((resolve) => receiver.bind(0, '127.0.0.1', resolve))
  const { port } = receiver.address()
  let received = 0
  receiver.on('message', (data) => {
    if (data.length === FRAME - 42) received++
  })
  const payload = Buffer.alloc(FRAME - 42, 0x5a)
  let running = true
  const start = performance.now()
  const pump = () => {
    if (!running) return
    let pending = BURST
    for (let i = 0; i < BURST; i++) sender.send(payload, port, '127.0.0.1', () => { if (--pending === 0) setImmediate(pump) })
  }
  pump()
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  running = false
  const elapsed = (performance.now() - start) / 1000
  const count = received
  sender.close()
  receiver.close()
  return count / elapsed
}

const ours = []
const kernel = []
for (let run = 0; run < 3; run++) {
  if (run % 2 === 0) {
    ours.push(memoryPps(2))
    kernel.push(await kernelUdpPps(2))
  } else {
    kernel.push(await kernelUdpPps(2))
    ours.push(memoryPps(2))
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[1]
console.log(`  ours ${ours.map((v) => (v / 1e6).toFixed(2)).join(' / ')} M frames/s; kernel UDP ${kernel.map((v) => (v / 1e3).toFixed(0)).join(' / ')} k datagrams/s`)
const value = median(ours)
const baseline = median(kernel)
report({
  id: 'dpdkio-memory-pps',
  metric: 'frames per second, memory port pair, 32-frame bursts of 1514 bytes, every frame written and read by the application (median of 3)',
  unit: 'frames/s',
  value,
  baseline: { name: 'node:dgram UDP over kernel loopback, 1472-byte payloads', value: baseline },
  target: '≥ 2M frames/s (each frame copied in and out: about 6 GB/s of memory traffic at that rate)',
})
