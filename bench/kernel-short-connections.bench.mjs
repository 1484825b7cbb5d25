// Short connections per second over a real path: a kernel client in namespace B (a new connection per
// request) makes connect + 64 B HTTP/1.1 request + 64 B response + close against two servers in turn. The
// client is tx-clients.c in its HTTP mode (one epoll thread; bench/workers-lib.mjs), so that the client is
// not what limits the rate — a node:http client tops out near the kernel server's rate on this machine —
// or, without a C compiler, a node:http client with `agent: false`. Ours: node:http served through our stack's Node-style sockets, the stack on a packet socket
// (AF_PACKET) on a veth end in this namespace. Baseline: node:http on kernel sockets in namespace A, behind
// a veth pair of the same kind. Fair because the same client program, with the same concurrency and for the
// same seconds, meets both servers over the same kind of path (veth pairs with their default offloads);
// each server is one Node process running the same node:http handler; process start-up and a warm-up
// stay outside the timed part; three runs each, alternating which goes first. Each server's CPU time per
// connection is reported too (the server process's user + system time over the client's whole run,
// warm-up included, divided by every connection it served): on 2 cores the client and the kernel's share
// of the path compete with the server, so CPU per connection is the figure that does not depend on
// who gets the cores. Root only.
import { once } from 'node:events'
import http from 'node:http'
import { loadavg } from 'node:os'
import { openPacketPort } from '@mtcp/dpdk-io'
import { createStack } from '@mtcp/stack'
import { requireRoot, spread, withKernelPaths } from './kernel-paths.mjs'
import { report, shortConnectionHandler } from './lib.mjs'
import { generate, generatorCommand, prepareClientNamespace, treeCpuSeconds } from './workers-lib.mjs'

const ID = 'kernel-short-connections'
const SECONDS = 4
const GENERATOR = generatorCommand()
/** Connections at a time: enough to keep a C client's server busy; the node:http client's fallback uses fewer. */
const CONCURRENCY = GENERATOR.http ? 64 : 16
const RUNS = 3
const PORT = 8080
const STACK_MAC = Uint8Array.of(0x02, 0x6d, 0x74, 0x63, 0x70, 0x02)


// The client: a warm-up, then CONCURRENCY workers making requests until the time is up; prints its rate.
const CLIENT = `
const http = require('node:http')
const [host, port, seconds, concurrency] = process.argv.slice(1).map((v, i) => (i === 0 ? v : Number(v)))
const body = 'x'.repeat(64)
async function measure(seconds) {
  let done = 0, failed = 0
  const end = performance.now() + seconds * 1000
  const worker = async () => {
    while (performance.now() < end) {
      try {
        await new Promise((resolve, reject) => {
          const request = http.request({ host, port, method: 'POST', path: '/', agent: false, headers: { 'content-length': 64 } }, (response) => {
            response.resume()
            response.on('end', resolve)
          })
          request.on('error', reject)
          request.end(body)
        })
        done++
      } catch {
        failed++
      }
    }
  }
  const start = performance.now()
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { rate: done / ((performance.now() - start) / 1000), failed }
}
measure(0.5).then(() => measure(seconds)).then((result) => console.log(JSON.stringify(result)))
`

// The kernel's server: node:http on the kernel's sockets in namespace A; prints "listening" once it does.
const KERNEL_SERVER = `
const http = require('node:http')
const server = http.createServer(${shortConnectionHandler.toString()})
server.listen(Number(process.argv[2]), process.argv[1], () => console.log('listening'))
`

requireRoot(ID)
const load = loadavg()[0]

const runs = await withKernelPaths('ksc', 224, async (paths) => {
  prepareClientNamespace(paths.B)
  // Returns { rate, served }: connections/s in the timed part, and every connection served (warm-up included).
  const client = async (host) => {
    if (GENERATOR.http) {
      const result = await generate(paths.B, host, PORT, { generator: GENERATOR, processes: 1, concurrency: CONCURRENCY, warmup: 0.5, seconds: SECONDS, http: true })
      if (result.errors > 0) console.error(`  ${result.errors} requests failed against ${host}`)
      return { rate: result.rate, served: result.allTransactions }
    }
    const child = paths.node(paths.B, CLIENT, host, String(PORT), String(SECONDS), String(CONCURRENCY))
    let output = ''
    child.stdout.on('data', (data) => (output += data))
    const [code] = await once(child, 'exit')
    if (code !== 0) throw new Error(`the client exited ${code}: ${output}`)
    const result = JSON.parse(output.trim())
    if (result.failed > 0) console.error(`  ${result.failed} requests failed against ${host}`)
    return { rate: result.rate, served: undefined }
  }
  const ours = async () => {
    // One MAC for every run, as a NIC keeps its address when the stack restarts: with a new random MAC per
    // run the client's neighbour entry (learned from the first run's SYN-ACKs) would still point at the old
    // one, and every SYN would go to it until the entry aged out.
    const port = await openPacketPort({ interface: paths.ours, offloads: true, mac: STACK_MAC })
    const stack = createStack({ port, address: `${paths.ourIp}/24`, maxConnections: 65_536 })
    const server = http.createServer(shortConnectionHandler)
    stack.createServer((socket) => server.emit('connection', socket)).listen(PORT)
    const cpu = process.cpuUsage()
    try {
      const result = await client(paths.ourIp)
      const used = process.cpuUsage(cpu)
      return { ...result, cpu: (used.user + used.system) / 1e6 }
    } finally {
      stack.stop()
      port.close()
    }
  }
  const kernel = async () => {
    const server = paths.node(paths.A, KERNEL_SERVER, `10.${224 + 1}.0.1`, String(PORT))
    try {
      await once(server.stdout, 'data')
      const cpu = treeCpuSeconds(server.pid)
      const result = await client(`10.${224 + 1}.0.1`)
      return { ...result, cpu: treeCpuSeconds(server.pid) - cpu }
    } finally {
      server.kill()
    }
  }
  const results = []
  for (let run = 0; run < RUNS; run++) {
    const result = {}
    for (const side of run % 2 === 0 ? ['ours', 'kernel'] : ['kernel', 'ours']) result[side] = await (side === 'ours' ? ours() : kernel())
    const perConnection = (side) => (side.served === undefined ? '' : `, ${((side.cpu / side.served) * 1e6).toFixed(0)} µs CPU per connection`)
    console.log(`  run ${run + 1}: ours ${result.ours.rate.toFixed(0)} connections/s${perConnection(result.ours)}; kernel ${result.kernel.rate.toFixed(0)} connections/s${perConnection(result.kernel)}; ratio ${(result.ours.rate / result.kernel.rate).toFixed(2)}`)
    results.push(result)
  }
  return results
})

const ratios = spread(runs.map((run) => run.ours.rate / run.kernel.rate))
console.log(`  client: ${GENERATOR.kind}${GENERATOR.http ? ' HTTP/1.1' : ' node:http'}, ${CONCURRENCY} connections at a time`)
console.log(`  ratio per run min/median/max ${ratios.min.toFixed(2)}/${ratios.median.toFixed(2)}/${ratios.max.toFixed(2)}; load average ${load.toFixed(2)} at the start`)
if (GENERATOR.http) {
  // Ours' CPU per connection over the kernel server's (below 1: ours costs less per connection).
  const cpu = spread(runs.map((run) => run.ours.cpu / run.ours.served / (run.kernel.cpu / run.kernel.served)))
  console.log(`  server CPU per connection, ours/kernel, min/median/max ${cpu.min.toFixed(2)}/${cpu.median.toFixed(2)}/${cpu.max.toFixed(2)}`)
}
report({
  id: ID,
  metric: `node:http server connections per second for a kernel client (${GENERATOR.kind}) in another namespace (connect, 64 B request, 64 B response, close), ${CONCURRENCY} at a time; median of ${RUNS}, alternating`,
  unit: 'connections/s',
  value: spread(runs.map((run) => run.ours.rate)).median,
  baseline: { name: 'node:http on kernel sockets in a namespace behind the same kind of veth path', value: spread(runs.map((run) => run.kernel.rate)).median },
  target: 'ratio ≥ 2',
})
