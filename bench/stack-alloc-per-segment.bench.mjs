// JS heap bytes allocated per TCP segment on the stack's segment path (issue 14: target 0), in a long bulk
// transfer and in a 64-byte request/response loop, two stacks in one process over the memory link.
//
// How it is measured: the measuring process runs with a young generation of 512 MB (--min/--max-semi-
// space-size), so no garbage collection happens inside the measured window; heapUsed after minus before
// is then every byte allocated in it. A PerformanceObserver counts collections, and a window in which one
// ran is not reported. The count covers both stacks (each segment is written by one and read by the
// other) and the harness (its reads of 256 KB and its writes); "per segment" divides by the segments both
// stacks sent. No baseline: the target is an absolute 0, and what remains is named in the output.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { PerformanceObserver } from 'node:perf_hooks'
import { report } from './lib.mjs'

if (process.argv[2] !== '--child') {
  const child = spawnSync(process.execPath, ['--expose-gc', '--min-semi-space-size=512', '--max-semi-space-size=512', fileURLToPath(import.meta.url), '--child'], { stdio: 'inherit' })
  process.exit(child.status ?? 1)
}

const { bulkTransfer, connectSockets, stackPair } = await import('@mtcp/stack/testing')
const { PollEvents } = await import('@mtcp/stack')

let collections = 0
new PerformanceObserver((list) => (collections += list.getEntries().length)).observe({ entryTypes: ['gc'] })

/** Run `work` in a window without garbage collection; returns the bytes it allocated. */
async function allocatedBy(work) {
  globalThis.gc()
  await new Promise((resolve) => setTimeout(resolve, 20))
  collections = 0
  const before = process.memoryUsage().heapUsed
  work()
  const after = process.memoryUsage().heapUsed
  await new Promise((resolve) => setTimeout(resolve, 20))
  if (collections > 0) throw new Error(`a garbage collection ran inside the window (${collections}): the count is not exact`)
  return after - before
}

function segmentsSent(pair) {
  return pair.a.stats.tx.tcp + pair.b.stats.tx.tcp
}

// Bulk: 40 MB one way, MSS 1460, checksums offloaded as on veth; a warm-up transfer first.
const bulk = stackPair({ link: { offloads: { checksum: true } }, stack: { tcp: { sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } } })
bulkTransfer(bulk, 20_000_000, 5001, 64 * 1024, false)
const bulkBefore = segmentsSent(bulk)
const bulkBytes = await allocatedBy(() => bulkTransfer(bulk, 40_000_000, 5002, 64 * 1024, false))
const bulkSegments = segmentsSent(bulk) - bulkBefore

// Request/response: one connection, 64-byte request, 64-byte response, 20,000 times, with the raw API.
const rr = stackPair({ impairments: { delay: 10 }, stack: { tcp: { noDelay: true } } })
const { a, b, clock } = rr
const { client, server } = connectSockets(rr, 6001)
const message = new Uint8Array(64).fill(1)
const scratch = new Uint8Array(4096)
let exchanges = 0
let target = 0
b.watch(server, (_fd, events) => {
  if (!(events & PollEvents.IN)) return
  while (b.readiness(server) & PollEvents.IN) if (b.read(server, scratch) > 0) b.write(server, message)
})
a.watch(client, (_fd, events) => {
  if (!(events & PollEvents.IN)) return
  while (a.readiness(client) & PollEvents.IN) {
    if (a.read(client, scratch) > 0 && ++exchanges < target) a.write(client, message)
  }
})
const run = (count) => {
  target = exchanges + count
  a.write(client, message)
  while (exchanges < target) if (!clock.step()) throw new Error('request/response loop stalled')
}
run(2000) // warm-up
const rrBefore = segmentsSent(rr)
const rrBytes = await allocatedBy(() => run(20_000))
const rrSegments = segmentsSent(rr) - rrBefore

const perBulk = bulkBytes / bulkSegments
const perRr = rrBytes / rrSegments
report({ id: 'stack-alloc-per-segment', metric: 'JS heap bytes allocated per segment, bulk transfer', unit: 'bytes', value: perBulk, baseline: null, target: '0' })
console.log(`  request/response (64 B each way): ${perRr.toFixed(0)} bytes per segment (${rrSegments} segments)`)
console.log(
  '  what remains (heap profile with collected objects included): one view of the payload range per copy (send ring to frame, frame to receive ring; TypedArray.prototype.set takes whole arrays, Node 20 has no ranged copy between two buffers that does not make one, and a JavaScript copy loop costs more than the view), and numbers at or above 2^31 (sequence numbers, TSvals) stored into fields that also hold undefined (InboundSegment.tsValue, tsEcho), which V8 boxes as a heap number per store',
)
