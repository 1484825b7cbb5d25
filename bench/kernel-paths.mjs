// Shared by the kernel benchmarks: two paths to one kernel in namespace B, made here and removed after.
//   ours:   a veth end in this namespace with no kernel address (the stack's, x.y.0.1) ↔ B (x.y.0.2)
//   kernel: namespace A with a kernel address (x.(y+1).0.1) ↔ B (x.(y+1).0.2), for the kernel baseline
// Root only; every name carries the process id so parallel runs do not collide.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { openPacketPort } from '@mtcp/dpdk-io'
import { createStack } from '@mtcp/stack'

/** Exit 0 with one line when not root (network namespaces need it). */
export function requireRoot(id) {
  if (process.getuid?.() === 0) return
  console.log(`${id}: skipped (needs root for network namespaces)`)
  process.exit(0)
}

/**
 * Build both paths on subnets 10.`subnet`.0.0/24 (ours) and 10.`subnet + 1`.0.0/24 (kernel), run
 * `body(paths)`, and remove everything, also when `body` throws.
 */
export async function withKernelPaths(prefix, subnet, body) {
  const tag = String(process.pid % 10000)
  const paths = {
    A: `${prefix}A${tag}`,
    B: `${prefix}B${tag}`,
    ours: `${prefix}${tag}o`,
    oursPeer: `${prefix}${tag}p`,
    kernelA: `${prefix}${tag}a`,
    kernelB: `${prefix}${tag}b`,
    ourIp: `10.${subnet}.0.1`,
    peerIp: `10.${subnet}.0.2`,
    kernelPeerIp: `10.${subnet + 1}.0.2`,
    /** Run a Node script in namespace `ns` with `args`; stdout piped. */
    node(ns, script, ...args) {
      return spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    },
    /** The tx packet counter of `dev`, in namespace `ns` (or this one). */
    txPackets(ns, dev) {
      return ns === undefined
        ? Number(readFileSync(`/sys/class/net/${dev}/statistics/tx_packets`, 'utf8'))
        : Number(execFileSync('ip', ['netns', 'exec', ns, 'cat', `/sys/class/net/${dev}/statistics/tx_packets`], { encoding: 'utf8' }))
    },
    /** Turn checksum, segmentation and receive offloads off on `dev` in `ns` (or this namespace). */
    noOffloads(ns, dev) {
      const command = ['ethtool', '-K', dev, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']
      execFileSync(ns ? 'ip' : command[0], ns ? ['netns', 'exec', ns, ...command] : command.slice(1), { stdio: 'pipe' })
    },
  }
  const ip = (...args) => execFileSync('ip', args, { stdio: 'pipe' })
  const cleanUp = () => {
    spawnSync('ip', ['netns', 'del', paths.A], { stdio: 'ignore' })
    spawnSync('ip', ['netns', 'del', paths.B], { stdio: 'ignore' })
    spawnSync('ip', ['link', 'del', paths.ours], { stdio: 'ignore' })
  }
  const { A, B } = paths
  cleanUp()
  try {
    ip('netns', 'add', A)
    ip('netns', 'add', B)
    ip('-n', B, 'link', 'set', 'lo', 'up')
    ip('link', 'add', paths.ours, 'type', 'veth', 'peer', 'name', paths.oursPeer, 'netns', B)
    ip('link', 'set', paths.ours, 'up')
    ip('-n', B, 'addr', 'add', `${paths.peerIp}/24`, 'dev', paths.oursPeer)
    ip('-n', B, 'link', 'set', paths.oursPeer, 'up')
    ip('link', 'add', paths.kernelA, 'netns', A, 'type', 'veth', 'peer', 'name', paths.kernelB, 'netns', B)
    ip('-n', A, 'addr', 'add', `10.${subnet + 1}.0.1/24`, 'dev', paths.kernelA)
    ip('-n', A, 'link', 'set', paths.kernelA, 'up')
    ip('-n', B, 'addr', 'add', `${paths.kernelPeerIp}/24`, 'dev', paths.kernelB)
    ip('-n', B, 'link', 'set', paths.kernelB, 'up')
    return await body(paths)
  } finally {
    cleanUp()
  }
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

/**
 * Send `bytes` in bulk to a kernel sink in B: once from our stack (a packet socket on `ours`, with or
 * without offloads), once from a kernel sender in A. Returns, for each, the seconds taken and the data
 * packets its interface sent.
 */
export async function bulkToKernel(paths, { bytes, offloads }) {
  if (!offloads) {
    paths.noOffloads(undefined, paths.ours)
    paths.noOffloads(paths.B, paths.oursPeer)
    paths.noOffloads(paths.A, paths.kernelA)
    paths.noOffloads(paths.B, paths.kernelB)
  }
  const sink = paths.node(paths.B, SINK)
  try {
    await once(sink.stdout, 'data')
    const port = await openPacketPort({ interface: paths.ours, offloads })
    const stack = createStack({ port, address: `${paths.ourIp}/24`, tcp: { sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } })
    const socket = stack.connect({ host: paths.peerIp, port: 7200 })
    await once(socket, 'connect')
    const chunk = Buffer.alloc(65536, 0x61)
    const packetsBefore = paths.txPackets(undefined, paths.ours)
    const start = performance.now()
    await new Promise((resolve) => {
      let sent = 0
      const write = () => {
        while (sent < bytes) {
          sent += chunk.length
          if (!socket.write(chunk)) return void socket.once('drain', write)
        }
        socket.end()
      }
      socket.resume()
      socket.on('close', resolve)
      write()
    })
    const ours = { seconds: (performance.now() - start) / 1000, packets: paths.txPackets(undefined, paths.ours) - packetsBefore }
    stack.stop()
    port.close()

    const kernelBefore = paths.txPackets(paths.A, paths.kernelA)
    const kernelStart = performance.now()
    const sender = paths.node(paths.A, SENDER, paths.kernelPeerIp, String(bytes))
    await once(sender, 'exit')
    const kernel = { seconds: (performance.now() - kernelStart) / 1000, packets: paths.txPackets(paths.A, paths.kernelA) - kernelBefore }
    return { ours, kernel }
  } finally {
    sink.kill()
  }
}
