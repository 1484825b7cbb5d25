// Bulk goodput with segmentation offload: our stack (packet socket with the virtio-net header on a veth
// end, TSO super segments cut by the kernel) to a kernel sink in namespace B, against a kernel sender
// (Node in namespace A, kernel TSO) over the same kind of path, in the same run. Root only.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { openPacketPort } from '@mtcp/dpdk-io'
import { createStack } from '@mtcp/stack'
import { report } from './lib.mjs'

const BYTES = 2_000_000_000
const tag = String(process.pid % 10000)
const A = `mttA${tag}`
const B = `mttB${tag}`
const OURS = `mt${tag}o`
const OURS_PEER = `mt${tag}p`
const KA = `mt${tag}a`
const KB = `mt${tag}b`
const ip = (...args) => execFileSync('ip', args, { stdio: 'pipe' })

function cleanUp() {
  spawnSync('ip', ['netns', 'del', A], { stdio: 'ignore' })
  spawnSync('ip', ['netns', 'del', B], { stdio: 'ignore' })
  spawnSync('ip', ['link', 'del', OURS], { stdio: 'ignore' })
}

const SINK = "require('node:net').createServer((s) => { s.resume(); s.on('end', () => s.end()) }).listen(7200, () => console.log('ready'))"
const SENDER = `
const net = require('node:net')
const [host, total] = [process.argv[1], Number(process.argv[2])]
const chunk = Buffer.alloc(65536, 0x61)
const socket = net.connect(7200, host, () => {
  let sent = 0
  const write = () => { while (sent < total) { sent += chunk.length; if (!socket.write(chunk)) return socket.once('drain', write) } socket.end() }
  write()
})
socket.resume()
socket.on('close', () => console.log('done'))`

if (process.getuid?.() !== 0) {
  console.log('kernel-bulk-tso: skipped (needs root for network namespaces)')
  process.exit(0)
}
cleanUp()
try {
  ip('netns', 'add', A)
  ip('netns', 'add', B)
  ip('-n', B, 'link', 'set', 'lo', 'up')
  ip('link', 'add', OURS, 'type', 'veth', 'peer', 'name', OURS_PEER, 'netns', B)
  ip('link', 'set', OURS, 'up')
  ip('-n', B, 'addr', 'add', '10.206.0.2/24', 'dev', OURS_PEER)
  ip('-n', B, 'link', 'set', OURS_PEER, 'up')
  ip('link', 'add', KA, 'netns', A, 'type', 'veth', 'peer', 'name', KB, 'netns', B)
  ip('-n', A, 'addr', 'add', '10.207.0.1/24', 'dev', KA)
  ip('-n', A, 'link', 'set', KA, 'up')
  ip('-n', B, 'addr', 'add', '10.207.0.2/24', 'dev', KB)
  ip('-n', B, 'link', 'set', KB, 'up')
  const sink = spawn('ip', ['netns', 'exec', B, process.execPath, '-e', SINK], { stdio: ['ignore', 'pipe', 'inherit'] })
  await once(sink.stdout, 'data')

  const port = await openPacketPort({ interface: OURS, offloads: true })
  const stack = createStack({ port, address: '10.206.0.1/24', tcp: { sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } })
  const socket = stack.connect({ host: '10.206.0.2', port: 7200 })
  await once(socket, 'connect')
  const chunk = Buffer.alloc(65536, 0x61)
    const start = performance.now()
  await new Promise((resolve) => {
    let sent = 0
    const write = () => {
      while (sent < BYTES) {
        sent += chunk.length
        if (!socket.write(chunk)) return void socket.once('drain', write)
      }
      socket.end()
    }
    socket.resume()
    socket.on('close', resolve)
    write()
  })
  const ours = (BYTES * 8) / ((performance.now() - start) / 1000)
  stack.stop()
  port.close()

    const kernelStart = performance.now()
  const sender = spawn('ip', ['netns', 'exec', A, process.execPath, '-e', SENDER, '10.207.0.2', String(BYTES)], { stdio: ['ignore', 'ignore', 'inherit'] })
  await once(sender, 'exit')
  const kernel = (BYTES * 8) / ((performance.now() - kernelStart) / 1000)
  sink.kill()
  report({
    id: 'kernel-bulk-tso',
    metric: 'bulk goodput to a kernel receiver with segmentation offload (AF_PACKET + virtio-net header)',
    unit: 'bit/s',
    value: ours,
    baseline: { name: 'kernel TCP sender with TSO (Node in a namespace) over the same kind of veth path', value: kernel },
    target: 'ratio ≥ 1.0',
  })
} finally {
  cleanUp()
}
