// 64-byte request/response round trip against a kernel echo server (Node, in namespace B): our stack
// (a packet socket on a veth end, no kernel address) vs a kernel client (Node in namespace A) over the
// same kind of path, in the same run. Root only; namespaces and veths are made here and removed after.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { openPacketPort } from '@mtcp/dpdk-io'
import { createStack } from '@mtcp/stack'
import { report } from './lib.mjs'

const ROUNDS = 3000
const tag = String(process.pid % 10000)
const A = `mtrA${tag}`
const B = `mtrB${tag}`
const OURS = `mr${tag}o`
const OURS_PEER = `mr${tag}p`
const KA = `mr${tag}a`
const KB = `mr${tag}b`
const ip = (...args) => execFileSync('ip', args, { stdio: 'pipe' })

function cleanUp() {
  spawnSync('ip', ['netns', 'del', A], { stdio: 'ignore' })
  spawnSync('ip', ['netns', 'del', B], { stdio: 'ignore' })
  spawnSync('ip', ['link', 'del', OURS], { stdio: 'ignore' })
}

const ECHO = "require('node:net').createServer((s) => s.pipe(s)).listen(7100, () => console.log('ready'))"
const CLIENT = `
const net = require('node:net')
const [host, rounds] = [process.argv[1], Number(process.argv[2])]
const socket = net.connect(7100, host, async () => {
  socket.setNoDelay(true)
  const message = Buffer.alloc(64, 1)
  const times = []
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint()
    await new Promise((resolve) => { let got = 0; const on = (d) => { got += d.length; if (got >= 64) { socket.off('data', on); resolve() } }; socket.on('data', on); socket.write(message) })
    times.push(Number(process.hrtime.bigint() - start) / 1000)
  }
  times.sort((a, b) => a - b)
  console.log(times[Math.floor(times.length / 2)])
  socket.end()
})`

async function median(socket) {
  socket.setNoDelay(true)
  const message = Buffer.alloc(64, 1)
  const times = []
  for (let i = 0; i < ROUNDS; i++) {
    const start = process.hrtime.bigint()
    await new Promise((resolve) => {
      let got = 0
      const on = (data) => {
        got += data.length
        if (got >= 64) {
          socket.off('data', on)
          resolve()
        }
      }
      socket.on('data', on)
      socket.write(message)
    })
    times.push(Number(process.hrtime.bigint() - start) / 1000)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]
}

if (process.getuid?.() !== 0) {
  console.log('kernel-rr-latency: skipped (needs root for network namespaces)')
  process.exit(0)
}
cleanUp()
try {
  ip('netns', 'add', A)
  ip('netns', 'add', B)
  ip('-n', B, 'link', 'set', 'lo', 'up')
  ip('link', 'add', OURS, 'type', 'veth', 'peer', 'name', OURS_PEER, 'netns', B)
  ip('link', 'set', OURS, 'up')
  ip('-n', B, 'addr', 'add', '10.202.0.2/24', 'dev', OURS_PEER)
  ip('-n', B, 'link', 'set', OURS_PEER, 'up')
  ip('link', 'add', KA, 'netns', A, 'type', 'veth', 'peer', 'name', KB, 'netns', B)
  ip('-n', A, 'addr', 'add', '10.203.0.1/24', 'dev', KA)
  ip('-n', A, 'link', 'set', KA, 'up')
  ip('-n', B, 'addr', 'add', '10.203.0.2/24', 'dev', KB)
  ip('-n', B, 'link', 'set', KB, 'up')
  const echo = spawn('ip', ['netns', 'exec', B, process.execPath, '-e', ECHO], { stdio: ['ignore', 'pipe', 'inherit'] })
  await once(echo.stdout, 'data')

  const port = await openPacketPort({ interface: OURS, offloads: true })
  const stack = createStack({ port, address: '10.202.0.1/24', tcp: { noDelay: true } })
  const socket = stack.connect({ host: '10.202.0.2', port: 7100 })
  await once(socket, 'connect')
  await median(socket) // warm-up
  const ours = await median(socket)
  socket.destroy()
  stack.stop()
  port.close()

  const client = spawn('ip', ['netns', 'exec', A, process.execPath, '-e', CLIENT, '10.203.0.2', String(ROUNDS * 2)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  client.stdout.on('data', (data) => (output += data))
  await once(client, 'exit')
  const kernel = Number(output.trim())
  echo.kill()
  report({
    id: 'kernel-rr-latency',
    metric: '64-byte request/response round trip to a kernel echo server, median',
    unit: 'µs',
    value: ours,
    baseline: { name: 'kernel TCP client (Node in a namespace) over the same kind of veth path', value: kernel },
    target: 'ratio ≤ 1.5',
  })
} finally {
  cleanUp()
}
