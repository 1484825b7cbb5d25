// Short connections per second: connect + 64-byte request + 64-byte response + close, node:http on both
// ends. Ours: two stacks in one process over a memory link. Baseline, in the same run and process:
// node:http over kernel sockets on loopback. Same concurrency for both, each with a warm-up outside the
// timed part, three runs each, alternating which goes first. This one favours us (no syscalls, no
// device); kernel-short-connections.bench.mjs measures the same transactions over a real veth path.
import http from 'node:http'
import { createMemoryLink } from '@mtcp/dpdk-io'
import { createStack } from '@mtcp/stack'
import { httpTransactionRate, report, shortConnectionHandler } from './lib.mjs'

const SECONDS = 4
const CONCURRENCY = 16

const measure = (connect, seconds) => httpTransactionRate(connect, seconds, CONCURRENCY)

async function ours() {
  const link = createMemoryLink()
  const server = createStack({ port: link.a, address: '10.0.0.1/24', tcp: { timeWaitTimeout: 1_000_000 } })
  const client = createStack({ port: link.b, address: '10.0.0.2/24', tcp: { timeWaitTimeout: 1_000_000 } })
  const httpServer = http.createServer(shortConnectionHandler)
  server.createServer((socket) => httpServer.emit('connection', socket)).listen(80)
  const connect = () => ({ createConnection: () => client.connect({ host: '10.0.0.1', port: 80 }) })
  await measure(connect, 0.5) // warm-up
  const rate = await measure(connect, SECONDS)
  server.stop()
  client.stop()
  link.close()
  return rate
}

async function kernel() {
  const httpServer = http.createServer(shortConnectionHandler)
  await new Promise((resolve) => httpServer.listen(0, '127.0.0.1', resolve))
  const { port } = httpServer.address()
  const connect = () => ({ host: '127.0.0.1', port, agent: false })
  await measure(connect, 0.5)
  const rate = await measure(connect, SECONDS)
  httpServer.close()
  return rate
}

const runs = []
for (let run = 0; run < 3; run++) {
  const result = {}
  for (const side of run % 2 === 0 ? ['ours', 'kernel'] : ['kernel', 'ours']) result[side] = await (side === 'ours' ? ours() : kernel())
  console.log(`  run ${run + 1}: ours ${result.ours.toFixed(0)} connections/s, kernel ${result.kernel.toFixed(0)} connections/s; ratio ${(result.ours / result.kernel).toFixed(2)}`)
  runs.push(result)
}
const median = (values) => [...values].sort((a, b) => a - b)[1]
const value = median(runs.map((run) => run.ours))
const baseline = median(runs.map((run) => run.kernel))
report({
  id: 'stack-short-connections',
  metric: `node:http connections per second (connect, 64 B request, 64 B response, close), ${CONCURRENCY} at a time; median of 3, alternating`,
  unit: 'connections/s',
  value,
  baseline: { name: 'node:http over kernel sockets on loopback, same process', value: baseline },
  target: 'ratio ≥ 2',
})
