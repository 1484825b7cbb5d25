// 64-byte request/response round trip against a kernel echo server (Node, in namespace B): our stack
// (a packet socket on a veth end, no kernel address) vs a kernel client (Node in namespace A) over the
// same kind of path, in the same run. Root only.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { openPacketPort } from '@mtcp/dpdk-io'
import { createStack } from '@mtcp/stack'
import { requireRoot, withKernelPaths } from './kernel-paths.mjs'
import { report } from './lib.mjs'
import { medianRoundTrip } from './rr-client.mjs'

const ROUNDS = 3000
const ECHO = "require('node:net').createServer((s) => s.pipe(s)).listen(7100, () => console.log('ready'))"
const CLIENT = fileURLToPath(new URL('./rr-client.mjs', import.meta.url))

requireRoot('kernel-rr-latency')
const { ours, kernel } = await withKernelPaths('mtr', 202, async (paths) => {
  const echo = paths.node(paths.B, ECHO)
  try {
    await once(echo.stdout, 'data')
    const port = await openPacketPort({ interface: paths.ours, offloads: true })
    const stack = createStack({ port, address: `${paths.ourIp}/24`, tcp: { noDelay: true } })
    const socket = stack.connect({ host: paths.peerIp, port: 7100 })
    await once(socket, 'connect')
    await medianRoundTrip(socket, ROUNDS) // warm-up
    const ours = await medianRoundTrip(socket, ROUNDS)
    socket.destroy()
    stack.stop()
    port.close()

    // The kernel client warms up in the same way: twice the rounds, the median of all.
    const client = spawn('ip', ['netns', 'exec', paths.A, process.execPath, CLIENT, paths.kernelPeerIp, String(ROUNDS * 2)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    client.stdout.on('data', (data) => (output += data))
    await once(client, 'exit')
    return { ours, kernel: Number(output.trim()) }
  } finally {
    echo.kill()
  }
})
report({
  id: 'kernel-rr-latency',
  metric: '64-byte request/response round trip to a kernel echo server, median',
  unit: 'µs',
  value: ours,
  baseline: { name: 'kernel TCP client (Node in a namespace) over the same kind of veth path', value: kernel },
  target: 'ratio ≤ 1.5',
})
