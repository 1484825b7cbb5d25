// Shared by the kernel benchmarks: two paths to one kernel in namespace B, made here and removed after.
//   ours:   a veth end in this namespace with no kernel address (the stack's, x.y.0.1) ↔ B (x.y.0.2)
//   kernel: namespace A with a kernel address (x.(y+1).0.1) ↔ B (x.(y+1).0.2), for the kernel baseline
// Root only; every name carries the process id so parallel runs do not collide.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { openPacketPort } from '@mtcp/dpdk-io'
import { runIperf3Client } from '@mtcp/perf'
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
    python(ns, script) {
      return spawn('ip', ['netns', 'exec', ns, 'python3', '-c', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    },
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

// The receiver both senders write to: a loop of recv_into over a 4 MB buffer, so that the kernel's TCP
// receive path, not the receiving program, is what limits (a Node 'data' loop tops out near 10 Gbit/s here).
export const SINK = `import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 7200))
s.listen(8)
print('ready', flush=True)
buffer = memoryview(bytearray(4 << 20))
while True:
    c, _ = s.accept()
    while c.recv_into(buffer):
        pass
    c.close()`
const SENDER = `
const net = require('node:net')
const [host, total] = [process.argv[1], Number(process.argv[2])]
const chunk = Buffer.alloc(65536, 0x61)
let start = 0
const socket = net.connect(7200, host, () => {
  start = performance.now()
  let sent = 0
  const write = () => { while (sent < total) { sent += chunk.length; if (!socket.write(chunk)) return socket.once('drain', write) } socket.end() }
  write()
})
socket.resume()
socket.on('close', () => console.log(JSON.stringify({ seconds: (performance.now() - start) / 1000 })))`

/** Whether iperf3 is on the PATH; when not, say what the benchmark falls back to. */
export function haveIperf3(id) {
  if (spawnSync('sh', ['-c', 'command -v iperf3'], { stdio: 'ignore' }).status === 0) return true
  console.log(`${id}: iperf3 not found (apt-get install -y iperf3): the Node kernel sender is the only baseline`)
  return false
}

/**
 * iperf3 over the kernel path: `iperf3 -s` in B, `iperf3 -c` in A for `seconds` whole seconds (iperf3
 * takes no fraction). Returns the receiver's goodput, the sender's seconds and the packets A's interface
 * sent meanwhile (the control connection's few included).
 */
export async function iperf3ToKernel(paths, seconds) {
  const server = await iperf3Server(paths, '-1', '-B', paths.kernelPeerIp)
  try {
    const { result, packets } = await iperf3Client(paths, seconds)
    return { bitsPerSecond: result.end.sum_received.bits_per_second, seconds: result.end.sum_sent.seconds, packets }
  } finally {
    server.kill()
  }
}

/**
 * Send `bytes` in bulk to a kernel sink in B: once from our stack (a packet socket on `ours`, with or
 * without offloads), once from a kernel sender in A (Node), and, when `iperf3` is set, with iperf3 from
 * A for as many whole seconds as our stack took. Returns, for ours and the Node sender, the seconds
 * taken and the data packets its interface sent; for iperf3, what {@link iperf3ToKernel} returns.
 */
export async function bulkToKernel(paths, { bytes, offloads, iperf3 = false }) {
  if (!offloads) {
    paths.noOffloads(undefined, paths.ours)
    paths.noOffloads(paths.B, paths.oursPeer)
    paths.noOffloads(paths.A, paths.kernelA)
    paths.noOffloads(paths.B, paths.kernelB)
  }
  const sink = paths.python(paths.B, SINK)
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

    // The Node sender times itself from its connection's establishment to its close, as ours is timed
    // above: process start-up and the handshake stay outside both timers.
    const kernelBefore = paths.txPackets(paths.A, paths.kernelA)
    const sender = paths.node(paths.A, SENDER, paths.kernelPeerIp, String(bytes))
    let output = ''
    sender.stdout.on('data', (data) => (output += data))
    await once(sender, 'exit')
    const kernel = { seconds: JSON.parse(output.trim()).seconds, packets: paths.txPackets(paths.A, paths.kernelA) - kernelBefore }
    return { ours, kernel, iperf3: iperf3 ? await iperf3ToKernel(paths, Math.max(1, Math.round(ours.seconds))) : undefined }
  } finally {
    sink.kill()
  }
}

/**
 * `iperf3 -c` from A to B's kernel address on port 7201 for `seconds`: its JSON report, and the packets
 * A's interface sent meanwhile (the control connection's few included).
 */
async function iperf3Client(paths, seconds) {
  const before = paths.txPackets(paths.A, paths.kernelA)
  const client = spawn('ip', ['netns', 'exec', paths.A, 'iperf3', '-c', paths.kernelPeerIp, '-p', '7201', '-t', String(seconds), '-J'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  client.stdout.on('data', (data) => (output += data))
  const [code] = await once(client, 'exit')
  let result
  try {
    result = JSON.parse(output)
  } catch {
    throw new Error(`iperf3 -c exited ${code} without its JSON report: ${output}`)
  }
  if (code !== 0 || result.error !== undefined) throw new Error(`iperf3 -c failed (exit ${code}): ${result.error ?? output}`)
  return { result, packets: paths.txPackets(paths.A, paths.kernelA) - before }
}

/** `iperf3 -s` in B on port 7201 with `args` (none: test after test on every address of B); resolves once it listens. */
async function iperf3Server(paths, ...args) {
  // --forceflush: the "Server listening" line reaches the pipe at once, not when iperf3 exits.
  const server = spawn('ip', ['netns', 'exec', paths.B, 'iperf3', '-s', '--forceflush', '-p', '7201', ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  let banner = ''
  await new Promise((resolve, reject) => {
    server.stdout.on('data', (data) => {
      banner += data
      if (banner.includes('Server listening')) resolve()
    })
    server.on('exit', (code) => reject(new Error(`iperf3 -s exited ${code}: ${banner}`)))
  })
  return server
}

/**
 * Bulk sending into one sink, `iperf3 -s` in B, for `seconds` each: our stack (a packet socket on
 * `ours`, with or without offloads, sending past the queueing discipline as a DPDK port does; the veth's
 * default qdisc is noqueue, so the kernel's frames wait in no queue either) as an iperf3 client (`runIperf3Client` of @mtcp/perf), and the kernel's
 * `iperf3 -c` from A, `runs` times each, alternating which goes first. Per run and side: the seconds the
 * client sent for (from the test's start to the end of sending: handshakes and process start-up outside),
 * the data packets its interface sent, and the bytes the server counted.
 */
export async function iperf3SideBySide(paths, { seconds, offloads, runs = 3 }) {
  if (!offloads) {
    paths.noOffloads(undefined, paths.ours)
    paths.noOffloads(paths.B, paths.oursPeer)
    paths.noOffloads(paths.A, paths.kernelA)
    paths.noOffloads(paths.B, paths.kernelB)
  }
  const server = await iperf3Server(paths)
  const ours = async () => {
    // Past the qdisc, as a DPDK port sends: the veth's own is noqueue, so nothing is queued either way.
    const port = await openPacketPort({ interface: paths.ours, offloads, qdiscBypass: true })
    const stack = createStack({ port, address: `${paths.ourIp}/24`, tcp: { sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } })
    try {
      const before = paths.txPackets(undefined, paths.ours)
      const result = await runIperf3Client({ connect: () => stack.connect({ host: paths.peerIp, port: 7201 }), seconds })
      return { seconds: result.seconds, packets: paths.txPackets(undefined, paths.ours) - before, bytes: result.serverBytes }
    } finally {
      stack.stop()
      port.close()
    }
  }
  const kernel = async () => {
    const { result, packets } = await iperf3Client(paths, seconds)
    return { seconds: result.end.sum_sent.seconds, packets, bytes: result.end.sum_received.bytes }
  }
  try {
    const results = []
    for (let run = 0; run < runs; run++) {
      const result = {}
      for (const side of run % 2 === 0 ? ['ours', 'kernel'] : ['kernel', 'ours']) result[side] = await (side === 'ours' ? ours() : kernel())
      results.push(result)
    }
    return results
  } finally {
    server.kill()
  }
}

/** Min, median and max of `values`. */
export function spread(values) {
  const sorted = [...values].sort((a, b) => a - b)
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1] }
}
