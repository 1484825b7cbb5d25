// Frames per second through a memory port pair: 32-frame bursts of 1514-byte frames, no impairment.
// Baseline, in the same run: the kernel's packet path as Node reaches it, 1472-byte UDP datagrams over loopback.
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
  pool.allocBulk(tx, BURST)
  for (const buffer of tx) buffer.data.fill(0x5a)
  pool.freeBulk(tx, BURST)
  const step = () => {
    pool.allocBulk(tx, BURST)
    for (let i = 0; i < BURST; i++) tx[i].length = FRAME
    const sent = link.a.txBurst(tx, BURST)
    const received = link.b.rxBurst(rx, BURST)
    pool.freeBulk(rx, received)
    return sent === BURST ? received : 0
  }
  const { count, seconds: elapsed } = timeLoop(step, seconds)
  return count / elapsed
}

async function kernelUdpPps(seconds) {
  const receiver = createSocket('udp4')
  const sender = createSocket('udp4')
  await new Promise((resolve) => receiver.bind(0, '127.0.0.1', resolve))
  const { port } = receiver.address()
  let received = 0
  receiver.on('message', () => received++)
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

const value = memoryPps(3)
const baseline = await kernelUdpPps(3)
report({
  id: 'dpdkio-memory-pps',
  metric: 'frames per second, memory port pair, 32-frame bursts of 1514 bytes',
  unit: 'frames/s',
  value,
  baseline: { name: 'node:dgram UDP over kernel loopback, 1472-byte payloads', value: baseline },
  target: '≥ 5M frames/s',
})
