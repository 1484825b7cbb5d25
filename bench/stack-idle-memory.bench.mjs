// Resident memory for 100,000 established idle connections. Both ends live in this process (two stacks
// on a memory link), so the figure covers 200,000 connection endpoints: a conservative measure.
// Baseline: the same process before the connections exist.
import { createMemoryLink, VirtualClock } from '@mtcp/dpdk-io'
import { createStack } from '@mtcp/stack'
import { report } from './lib.mjs'

const CONNECTIONS = 100_000
const PORTS = 4

function rss() {
  globalThis.gc?.()
  globalThis.gc?.()
  return process.memoryUsage().rss
}

const clock = new VirtualClock()
const link = createMemoryLink({ clock })
const options = { maxConnections: CONNECTIONS + 16, ephemeralPorts: [1024, 65535], arp: { maxQueuedPerDestination: 65536, maxQueuedTotal: 1 << 20 } }
const server = createStack({ port: link.a, address: '10.0.0.1/24', ...options })
const client = createStack({ port: link.b, address: '10.0.0.2/24', ...options })
const before = rss()
for (let p = 0; p < PORTS; p++) {
  const listener = server.socket()
  server.bind(listener, '0.0.0.0', 8000 + p)
  server.listen(listener, CONNECTIONS)
}
for (let i = 0; i < CONNECTIONS; i++) {
  const fd = client.socket()
  client.connect(fd, '10.0.0.1', 8000 + (i % PORTS))
  if (i % 1000 === 999) clock.runUntilIdle(clock.now() + 10_000)
}
const deadline = clock.now() + 60_000_000
while ((client.connectionsByState().ESTABLISHED ?? 0) < CONNECTIONS && clock.now() < deadline) clock.advanceBy(10_000)
const established = client.connectionsByState().ESTABLISHED ?? 0
if (established !== CONNECTIONS) throw new Error(`only ${established} of ${CONNECTIONS} connections established`)
const after = rss()
console.log(`  ${CONNECTIONS} connections (both ends in this process): RSS ${(before / 2 ** 20).toFixed(0)} MiB before, ${(after / 2 ** 20).toFixed(0)} MiB after, ${((after - before) / CONNECTIONS).toFixed(0)} bytes per connection pair`)
report({
  id: 'stack-idle-memory',
  metric: 'RSS with 100,000 established idle connections (both ends in one process)',
  unit: 'bytes',
  value: after,
  baseline: { name: 'RSS of the same process before the connections', value: before },
  target: '≤ 1 GiB',
})
