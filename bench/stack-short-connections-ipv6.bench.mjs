// Issue 20 (5): short connections per second over IPv6 against the same over IPv4, in the same run:
// connect + 64-byte request + 64-byte response + close, node:http on both ends, two stacks in one process
// over a memory link, alternating rounds and which family goes first (median of each). Same concurrency for
// both. Fair because both families run the same client, server and stack code in one process, in turn.
import http from 'node:http'
import { createMemoryLink } from '@mtcp/dpdk-io'
import { createStack } from '@mtcp/stack'
import { httpTransactionRate, report, shortConnectionHandler } from './lib.mjs'

const SECONDS = 3
const ROUNDS = 3
const CONCURRENCY = 16

const measure = (connect, seconds) => httpTransactionRate(connect, seconds, CONCURRENCY)

async function rate(family) {
  const link = createMemoryLink()
  const six = family === 6
  const server = createStack({ port: link.a, address: '10.0.0.1/24', ...(six ? { ipv6: 'fd00::1/64' } : {}), tcp: { timeWaitTimeout: 1_000_000 } })
  const client = createStack({ port: link.b, address: '10.0.0.2/24', ...(six ? { ipv6: 'fd00::2/64' } : {}), tcp: { timeWaitTimeout: 1_000_000 } })
  const httpServer = http.createServer(shortConnectionHandler)
  server.createServer((socket) => httpServer.emit('connection', socket)).listen(80)
  const host = six ? 'fd00::1' : '10.0.0.1'
  const connect = () => ({ createConnection: () => client.connect({ host, port: 80 }) })
  await measure(connect, 0.5) // warm-up
  const result = await measure(connect, SECONDS)
  if (six && server.stats.rx.ipv6 === 0) throw new Error('not over IPv6')
  server.stop()
  client.stop()
  link.close()
  return result
}

const median = (values) => values.slice().sort((x, y) => x - y)[Math.floor(values.length / 2)]
const four = []
const six = []
for (let round = 0; round < ROUNDS; round++) {
  for (const family of round % 2 === 0 ? [4, 6] : [6, 4]) (family === 4 ? four : six).push(await rate(family))
}
report({
  id: 'stack-short-connections-ipv6',
  metric: `node:http connections per second over IPv6 (connect, 64 B request, 64 B response, close), ${CONCURRENCY} at a time (median of ${ROUNDS})`,
  unit: 'connections/s',
  value: median(six),
  baseline: { name: `the same over IPv4, alternating rounds in the same run (median of ${ROUNDS})`, value: median(four) },
  target: 'ratio ≥ 0.95 (within 5% of IPv4)',
})
