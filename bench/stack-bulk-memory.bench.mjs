// Goodput between two stacks in one process over an unimpaired memory link, MSS 1460 (MTU 1500).
// Baseline, in the same run: node:net between two kernel sockets on loopback, same bytes, same process.
import net from 'node:net'
import { bulkTransfer, stackPair } from '@mtcp/stack/testing'
import { report } from './lib.mjs'

const BYTES = 400_000_000

function ours() {
  // Checksum offload on the memory link, as on Linux's veth and loopback: no checksum is computed.
  const pair = stackPair({ link: { offloads: { checksum: true } }, stack: { tcp: { sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } } })
  const check = bulkTransfer(pair, 20_000_000) // warm-up, with the data checked by SHA-256
  if (check.receivedHash !== check.sentHash) throw new Error('data corrupted')
  const start = performance.now()
  const result = bulkTransfer(pair, BYTES, 5002, 64 * 1024, false)
  const seconds = (performance.now() - start) / 1000
  if (result.bytes !== BYTES) throw new Error('bytes lost')
  return (BYTES * 8) / seconds
}

async function kernel() {
  const chunk = Buffer.alloc(64 * 1024, 0x5a)
  const server = net.createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  let received = 0
  const done = new Promise((resolve) =>
    server.on('connection', (socket) => {
      socket.on('data', (data) => (received += data.length))
      socket.on('end', resolve)
    }),
  )
  const start = performance.now()
  const client = net.connect(port, '127.0.0.1')
  await new Promise((resolve) => client.on('connect', resolve))
  let sent = 0
  await new Promise((resolve) => {
    const write = () => {
      while (sent < BYTES) {
        sent += chunk.length
        if (!client.write(chunk)) return client.once('drain', write)
      }
      client.end()
      resolve()
    }
    write()
  })
  await done
  const seconds = (performance.now() - start) / 1000
  server.close()
  return (received * 8) / seconds
}

const value = ours()
const baseline = await kernel()
report({
  id: 'stack-bulk-memory',
  metric: 'goodput between two stacks in one process, memory link, MSS 1460',
  unit: 'bit/s',
  value,
  baseline: { name: 'node:net over kernel loopback (MTU 65536), same process', value: baseline },
  target: '≥ 5 Gbit/s',
})
