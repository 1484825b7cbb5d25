// How frames cross threads on the memory backend of @mtcp/stack/cluster (docs/decisions/0009-workers.md):
// frames/s echoed by a worker thread, at most 256 frames in flight, bursts of 32, each side copying
// frames in and out of its own buffer pool as a port does: (a) through the cluster's shared-memory
// rings (SharedArrayBuffer, Atomics.waitAsync doorbells; its host port and a queue port), vs (b) a
// MessagePort carrying each burst as one transferred ArrayBuffer. Also prints (c): a message per frame.
import { once } from 'node:events'
import { MessageChannel, Worker } from 'node:worker_threads'
import { createMultiQueueLink } from '@mtcp/stack/cluster'
import { BufferPool } from '@mtcp/dpdk-io'
import { MessagePortLink } from './message-port-link.mjs'
import { report } from './lib.mjs'

const WORKER = new URL('./workers-transport-worker.mjs', import.meta.url)
const SECONDS = 2
const WINDOW = 256
const BURST = 32

function frameBytes(size) {
  const frame = new Uint8Array(size)
  new DataView(frame.buffer).setUint16(12, 0x0800)
  frame[14] = 0x45
  frame[23] = 6
  return frame
}

/** Frames/s echoed by a worker: `mode` 'ring' (the cluster's ports), 'batched' or 'per-frame' (MessagePortLink). */
async function measure(mode, size, window = WINDOW, burstSize = BURST) {
  let host
  let worker
  if (mode === 'ring') {
    const link = createMultiQueueLink({ queues: 1 })
    host = link.host
    worker = new Worker(WORKER, { workerData: { mode, endpoint: link.endpoints[0] } })
  } else {
    const { port1, port2 } = new MessageChannel()
    host = new MessagePortLink(port1, mode === 'per-frame')
    worker = new Worker(WORKER, { workerData: { mode, channel: port2 }, transferList: [port2] })
  }
  await once(worker, 'message')
  const pool = new BufferPool({ count: 1024 })
  const frame = frameBytes(size)
  const burst = []
  const rx = []
  let inFlight = 0
  let received = 0
  const end = performance.now() + SECONDS * 1000
  await new Promise((resolve) => {
    const pump = () => {
      for (let n = host.rxBurst(rx, burstSize); n > 0; n = host.rxBurst(rx, burstSize)) {
        for (let i = 0; i < n; i++) rx[i].release()
        inFlight -= n
        received += n
      }
      if (performance.now() >= end) return resolve()
      while (inFlight + burstSize <= window) {
        for (let i = 0; i < burstSize; i++) burst[i] = pool.alloc().setFrame(frame)
        const sent = host.txBurst(burst, burstSize)
        for (let i = sent; i < burstSize; i++) burst[i].release()
        inFlight += sent
        if (sent < burstSize) break
      }
    }
    host.onReadable(pump)
    pump()
  })
  await worker.terminate()
  host.close()
  return received / SECONDS
}

const results = {}
for (const size of [64, 1514]) {
  results[size] = { ring: await measure('ring', size), batched: await measure('batched', size), perFrame: await measure('per-frame', size) }
  const r = results[size]
  console.log(`  ${size}-byte frames: shared-memory rings ${Math.round(r.ring)}/s, MessagePort batched ${Math.round(r.batched)}/s, MessagePort per frame ${Math.round(r.perFrame)}/s`)
}
// One frame at a time: the round trip, wake-up included.
const ringTrip = 1e6 / (await measure('ring', 64, 1, 1))
const portTrip = 1e6 / (await measure('batched', 64, 1, 1))
console.log(`  one 64-byte frame at a time: round trip ${ringTrip.toFixed(1)} µs through the rings, ${portTrip.toFixed(1)} µs through a MessagePort`)
report({
  id: 'workers-memory-transport',
  metric: '64-byte frames/s echoed by a worker thread through the memory backend\'s shared-memory rings',
  unit: 'frames/s',
  value: results[64].ring,
  baseline: { name: 'a MessagePort carrying bursts of 32 frames in one transferred ArrayBuffer', value: results[64].batched },
})
