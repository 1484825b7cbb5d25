// Short connections per second over a real path: a kernel client (node:http in namespace B, a new
// connection per request) makes connect + 64 B request + 64 B response + close against two servers in
// turn. Ours: node:http served through our stack's Node-style sockets, the stack on a packet socket
// (AF_PACKET) on a veth end in this namespace. Baseline: node:http on kernel sockets in namespace A, behind
// a veth pair of the same kind. Fair because the same client program, with the same concurrency and for the
// same seconds, meets both servers over the same kind of path (veth pairs with their default offloads);
// each server is one Node process running the same node:http handler; process start-up and a warm-up
// stay outside the timed part; three runs each, alternating which goes first. Root only.
import { once } from 'node:events'
import http from 'node:http'
import { loadavg } from 'node:os'
import { openPacketPort } from '@mtcp/dpdk-io'
import { createStack } from '@mtcp/stack'
import { requireRoot, spread, withKernelPaths } from './kernel-paths.mjs'
import { report, shortConnectionHandler } from './lib.mjs'

const ID = 'kernel-short-connections'
const SECONDS = 4
const CONCURRENCY = 16
const RUNS = 3
const PORT = 8080


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
  const client = async (host) => {
    const child = paths.node(paths.B, CLIENT, host, String(PORT), String(SECONDS), String(CONCURRENCY))
    let output = ''
    child.stdout.on('data', (data) => (output += data))
    const [code] = await once(child, 'exit')
    if (code !== 0) throw new Error(`the client exited ${code}: ${output}`)
    const result = JSON.parse(output.trim())
    if (result.failed > 0) console.error(`  ${result.failed} requests failed against ${host}`)
    return result.rate
  }
  const ours = async () => {
    const port = await openPacketPort({ interface: paths.ours, offloads: true })
    const stack = createStack({ port, address: `${paths.ourIp}/24`, maxConnections: 65_536 })
    const server = http.createServer(shortConnectionHandler)
    stack.createServer((socket) => server.emit('connection', socket)).listen(PORT)
    try {
      return await client(paths.ourIp)
    } finally {
      stack.stop()
      port.close()
    }
  }
  const kernel = async () => {
    const server = paths.node(paths.A, KERNEL_SERVER, `10.${224 + 1}.0.1`, String(PORT))
    try {
      await once(server.stdout, 'data')
      return await client(`10.${224 + 1}.0.1`)
    } finally {
      server.kill()
    }
  }
  const results = []
  for (let run = 0; run < RUNS; run++) {
    const result = {}
    for (const side of run % 2 === 0 ? ['ours', 'kernel'] : ['kernel', 'ours']) result[side] = await (side === 'ours' ? ours() : kernel())
    console.log(`  run ${run + 1}: ours ${result.ours.toFixed(0)} connections/s, kernel ${result.kernel.toFixed(0)} connections/s; ratio ${(result.ours / result.kernel).toFixed(2)}`)
    results.push(result)
  }
  return results
})

const ratios = spread(runs.map((run) => run.ours / run.kernel))
console.log(`  ratio per run min/median/max ${ratios.min.toFixed(2)}/${ratios.median.toFixed(2)}/${ratios.max.toFixed(2)}; load average ${load.toFixed(2)} at the start`)
report({
  id: ID,
  metric: `node:http connections per second from a kernel client in another namespace (connect, 64 B request, 64 B response, close), ${CONCURRENCY} at a time; median of ${RUNS}, alternating`,
  unit: 'connections/s',
  value: spread(runs.map((run) => run.ours)).median,
  baseline: { name: 'node:http on kernel sockets in a namespace behind the same kind of veth path', value: spread(runs.map((run) => run.kernel)).median },
  target: 'ratio ≥ 2',
})
