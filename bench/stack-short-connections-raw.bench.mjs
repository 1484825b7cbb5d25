// The mTCP paper's 64-byte transaction test on the raw socket APIs: connect, a 64-byte request, a 64-byte
// response, close, CONCURRENCY connections at a time, for SECONDS. Ours: the mTCP-style calls (socket,
// connect, watch, accept, read, write, close) of two stacks in one process over a memory link on the real
// clock. Baseline, in the same run and process: node:net (the API a Node program has for TCP) over kernel
// sockets on loopback, with the same concurrency, the same bytes and the same close order (the client
// closes after the response). Each side runs three times, alternating which goes first; the figure is
// transactions per second and CPU time per transaction (process.cpuUsage, user + system, which counts the
// kernel's work for the baseline and all of ours, since both ends run in this process either way).
// Why it is fair: the same process runs both ends in both cases, so neither side gets a second core the
// other lacks; the kernel path has no NIC either (loopback), so both compare TCP implementations and
// their APIs, not devices. It favours neither side's start-up: stacks, links and servers are created
// before the timer starts, and each run has a 0.5 s warm-up.
import net from 'node:net'
import { createMemoryLink } from '@mtcp/dpdk-io'
import { createStack, PollEvents } from '@mtcp/stack'
import { report } from './lib.mjs'

const SECONDS = 3
const WARMUP = 0.5
const CONCURRENCY = 16
const REQUEST = new Uint8Array(64).fill(0x71)
const RESPONSE = new Uint8Array(64).fill(0x72)

/**
 * CONCURRENCY loops of transactions for `seconds`, the same for both sides: `open(finish)` starts one and
 * calls `finish(ok)` when it is over; resolves with how many succeeded.
 */
function loops(seconds, open) {
  return new Promise((resolve) => {
    let done = 0
    let running = 0
    const end = performance.now() + seconds * 1000
    const next = () => {
      running++
      open((ok) => {
        running--
        if (ok) done++
        if (performance.now() < end) next()
        else if (running === 0) resolve(done)
      })
    }
    for (let i = 0; i < CONCURRENCY; i++) next()
  })
}

/** Transactions per second and CPU µs per transaction of `run(seconds)`, which resolves with its count. */
async function measured(run) {
  await run(WARMUP)
  const cpu = process.cpuUsage()
  const start = performance.now()
  const count = await run(SECONDS)
  const elapsed = (performance.now() - start) / 1000
  const used = process.cpuUsage(cpu)
  return { rate: count / elapsed, cpuPerTransaction: (used.user + used.system) / count }
}

function ours() {
  const link = createMemoryLink()
  const tcp = { timeWaitTimeout: 1_000_000 }
  const server = createStack({ port: link.a, address: '10.0.0.1/24', maxConnections: 65_536, tcp })
  const client = createStack({ port: link.b, address: '10.0.0.2/24', maxConnections: 65_536, tcp })
  const scratch = new Uint8Array(256)
  const listener = server.socket()
  server.bind(listener, '0.0.0.0', 80)
  server.listen(listener, 4096)
  // The server: accept everything waiting; answer each 64-byte request with 64 bytes and close.
  const serve = (fd, events) => {
    if (events & (PollEvents.ERR | PollEvents.HUP)) return server.close(fd)
    let got = 0
    try {
      got = server.read(fd, scratch)
    } catch (error) {
      if (error.code === 'EAGAIN') return
      return server.close(fd)
    }
    if (got === 0) return server.close(fd)
    server.write(fd, RESPONSE)
    server.close(fd)
  }
  server.watch(listener, () => {
    for (let fd = server.tryAccept(listener); fd !== -1; fd = server.tryAccept(listener)) server.watch(fd, serve)
  })
  const run = (seconds) =>
    loops(seconds, (finish) => {
      const fd = client.socket()
      let sent = false
      client.watch(fd, (_, events) => {
        if (!sent && events & PollEvents.OUT) {
          sent = true
          client.write(fd, REQUEST)
        }
        if (events & PollEvents.IN) {
          let got = 0
          try {
            got = client.read(fd, scratch)
          } catch (error) {
            if (error.code === 'EAGAIN') return
          }
          if (got !== RESPONSE.length && !(events & PollEvents.HUP)) return
          client.close(fd)
          finish(got === RESPONSE.length)
        }
      })
      client.connect(fd, '10.0.0.1', 80)
    })
  const stop = () => {
    server.stop()
    client.stop()
    link.close()
  }
  return { run, stop }
}

async function kernel() {
  const server = net.createServer((socket) => {
    socket.on('data', () => socket.end(RESPONSE))
    socket.on('error', () => {})
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  const run = (seconds) =>
    loops(seconds, (finish) => {
      let got = 0
      const socket = net.connect({ host: '127.0.0.1', port, noDelay: true }, () => socket.write(REQUEST))
      socket.on('data', (data) => {
        got += data.length
        if (got === RESPONSE.length) socket.destroy()
      })
      socket.on('error', () => {})
      socket.on('close', () => finish(got === RESPONSE.length))
    })
  return { run, stop: () => server.close() }
}

const runs = []
for (let i = 0; i < 3; i++) {
  const order = i % 2 === 0 ? ['ours', 'kernel'] : ['kernel', 'ours']
  const result = {}
  for (const side of order) {
    const setup = side === 'ours' ? ours() : await kernel()
    result[side] = await measured(setup.run)
    setup.stop()
  }
  runs.push(result)
  console.log(
    `  run ${i + 1} (${order.join(' then ')}): ours ${result.ours.rate.toFixed(0)}/s at ${result.ours.cpuPerTransaction.toFixed(1)} µs CPU each; node:net ${result.kernel.rate.toFixed(0)}/s at ${result.kernel.cpuPerTransaction.toFixed(1)} µs CPU each; ratio ${(result.ours.rate / result.kernel.rate).toFixed(2)}`,
  )
}
const ratios = runs.map((r) => r.ours.rate / r.kernel.rate).sort((a, b) => a - b)
const cpuRatios = runs.map((r) => r.ours.cpuPerTransaction / r.kernel.cpuPerTransaction).sort((a, b) => a - b)
const median = runs.map((r) => r.ours.rate).sort((a, b) => a - b)[1]
const baseline = runs.map((r) => r.kernel.rate).sort((a, b) => a - b)[1]
console.log(
  `  transactions/s ratio min/median/max ${ratios.map((r) => r.toFixed(2)).join('/')}; CPU per transaction, ours over node:net, min/median/max ${cpuRatios.map((r) => r.toFixed(2)).join('/')}`,
)
report({
  id: 'stack-short-connections-raw',
  metric: `64-byte transactions per second (connect, 64 B request, 64 B response, close) on the mTCP-style API, ${CONCURRENCY} at a time (median of 3)`,
  unit: 'transactions/s',
  value: median,
  baseline: { name: 'node:net over kernel sockets on loopback, same process, alternating order (median of 3)', value: baseline },
  target: 'ratio ≥ 3',
})
