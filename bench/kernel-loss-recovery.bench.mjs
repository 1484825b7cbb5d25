// Loss recovery against Linux's: goodput of one bulk transfer from our stack and from the kernel's TCP to
// the same kernel receiver, through the same router namespace that drops (nft `numgen random`) and
// reorders (a share of packets through a slow htb class, chosen by nft) the data on its way to the receiver, for no
// impairment, 1% loss, 5% loss, 25% reordering and 5% loss + 25% reordering. Fair: one path, one
// receiver (a Python recv_into loop in namespace B), the same bytes; offloads off on every interface so
// both senders put MSS-sized packets on the wire and the router drops packets, not 64 KB GSO bursts; the
// senders alternate which goes first in each run; each timer starts once the connection is established
// (process start-up and the handshake outside it); the receiver reports the bytes of every connection and a
// transfer cut short fails the run. RTO counts: ours from the connection's stats, the
// kernel's from TCPTimeouts in namespace A's /proc/net/netstat (only the kernel sender runs there; its
// socket is gone when the sender exits, so `ss -ti` cannot be read at the end); retransmitted segments
// (RetransSegs), D-SACKs received and undone recoveries the same way. Each row also prints the
// normalised ratio: each sender's goodput over its own unimpaired median, ours over the kernel's. Root only.
//   our stack (packet socket on veth O, 10.S.0.2) ─┐
//                                                   R (10.S.{0,1,2}.1, forwarding, nft + htb toward B) ─ B (10.S.2.2, sink)
//   kernel sender in namespace A (10.S.1.2) ───────┘
// Env: LOSS_BYTES (default 30 MB), LOSS_RUNS (3), LOSS_DETECTION (our stack's lossDetection, default rack).
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { openPacketPort } from '@mtcp/dpdk-io'
import { createStack } from '@mtcp/stack'
import { requireRoot } from './kernel-paths.mjs'
import { report } from './lib.mjs'

const ID = 'kernel-loss-recovery'
/** Whole 64 KiB chunks, as both senders write them. */
const BYTES = Math.ceil(Number(process.env.LOSS_BYTES ?? 30_000_000) / 65536) * 65536
const RUNS = Number(process.env.LOSS_RUNS ?? 3)
const LOSS_DETECTION = process.env.LOSS_DETECTION ?? 'rack'
const SUBNET = 212
const TIMEOUT_MS = 120_000

const SCENARIOS = [
  { name: 'no impairment', loss: 0, reorder: 0 },
  { name: '1% loss', loss: 1, reorder: 0 },
  { name: '5% loss', loss: 5, reorder: 0 },
  { name: '25% reordering', loss: 0, reorder: 25 },
  { name: '5% loss + 25% reordering', loss: 5, reorder: 25 },
]

const SINK = `import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 7200))
s.listen(8)
print('ready', flush=True)
buffer = memoryview(bytearray(4 << 20))
while True:
    c, _ = s.accept()
    total = 0
    while True:
        n = c.recv_into(buffer)
        if not n:
            break
        total += n
    c.close()
    print(total, flush=True)`

// The kernel sender: times from the established connection to the close, and prints the seconds.
const SENDER = `
const net = require('node:net')
const [host, total] = [process.argv[1], Number(process.argv[2])]
const chunk = Buffer.alloc(65536, 0x61)
let start
const socket = net.connect(7200, host, () => {
  start = performance.now()
  let sent = 0
  const write = () => { while (sent < total) { sent += chunk.length; if (!socket.write(chunk)) return socket.once('drain', write) } socket.end() }
  write()
})
socket.resume()
socket.on('close', () => console.log(String((performance.now() - start) / 1000)))`

requireRoot(ID)
for (const tool of ['nft', 'tc', 'ethtool', 'python3']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) {
    console.log(`${ID}: skipped (${tool} not found)`)
    process.exit(0)
  }
}

const tag = String(process.pid % 10000)
const ns = { R: `mtlR${tag}`, A: `mtlA${tag}`, B: `mtlB${tag}` }
const dev = { O: `mtl${tag}o`, Or: `mtl${tag}r`, Aa: `mtl${tag}a`, Ra: `mtl${tag}s`, Rb: `mtl${tag}t`, Bb: `mtl${tag}b` }
const run = (...args) => execFileSync(args[0], args.slice(1), { stdio: 'pipe', encoding: 'utf8' })
const inNs = (name, ...args) => run('ip', 'netns', 'exec', name, ...args)

function cleanUp() {
  for (const name of Object.values(ns)) spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' })
  spawnSync('ip', ['link', 'del', dev.O], { stdio: 'ignore' })
}

function build() {
  for (const name of Object.values(ns)) run('ip', 'netns', 'add', name)
  for (const name of Object.values(ns)) run('ip', '-n', name, 'link', 'set', 'lo', 'up')
  run('ip', 'link', 'add', dev.O, 'type', 'veth', 'peer', 'name', dev.Or, 'netns', ns.R)
  run('ip', 'link', 'add', dev.Aa, 'netns', ns.A, 'type', 'veth', 'peer', 'name', dev.Ra, 'netns', ns.R)
  run('ip', 'link', 'add', dev.Rb, 'netns', ns.R, 'type', 'veth', 'peer', 'name', dev.Bb, 'netns', ns.B)
  run('ip', '-n', ns.R, 'addr', 'add', `10.${SUBNET}.0.1/24`, 'dev', dev.Or)
  run('ip', '-n', ns.R, 'addr', 'add', `10.${SUBNET}.1.1/24`, 'dev', dev.Ra)
  run('ip', '-n', ns.R, 'addr', 'add', `10.${SUBNET}.2.1/24`, 'dev', dev.Rb)
  run('ip', '-n', ns.A, 'addr', 'add', `10.${SUBNET}.1.2/24`, 'dev', dev.Aa)
  run('ip', '-n', ns.B, 'addr', 'add', `10.${SUBNET}.2.2/24`, 'dev', dev.Bb)
  run('ip', 'link', 'set', dev.O, 'up')
  for (const d of [dev.Or, dev.Ra, dev.Rb]) run('ip', '-n', ns.R, 'link', 'set', d, 'up')
  run('ip', '-n', ns.A, 'link', 'set', dev.Aa, 'up')
  run('ip', '-n', ns.B, 'link', 'set', dev.Bb, 'up')
  run('ip', '-n', ns.A, 'route', 'add', 'default', 'via', `10.${SUBNET}.1.1`)
  run('ip', '-n', ns.B, 'route', 'add', 'default', 'via', `10.${SUBNET}.2.1`)
  inNs(ns.R, 'sysctl', '-qw', 'net.ipv4.ip_forward=1')
  const off = ['tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']
  run('ethtool', '-K', dev.O, ...off)
  for (const d of [dev.Or, dev.Ra, dev.Rb]) inNs(ns.R, 'ethtool', '-K', d, ...off)
  inNs(ns.A, 'ethtool', '-K', dev.Aa, ...off)
  inNs(ns.B, 'ethtool', '-K', dev.Bb, ...off)
  // Reordering: packets whose priority nft set to 1:20 go through a slow htb class (htb classifies by
  // skb->priority when it names one of its classes, no filter module needed), the rest through a fast one.
  inNs(ns.R, 'tc', 'qdisc', 'add', 'dev', dev.Rb, 'root', 'handle', '1:', 'htb', 'default', '10')
  inNs(ns.R, 'tc', 'class', 'add', 'dev', dev.Rb, 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit')
  inNs(ns.R, 'tc', 'class', 'add', 'dev', dev.Rb, 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '50mbit')
}

/** The router's rules for one scenario: drop `loss`% and mark `reorder`% of the data toward B. */
function impair({ loss, reorder }) {
  spawnSync('ip', ['netns', 'exec', ns.R, 'nft', 'delete', 'table', 'ip', 'mtl'], { stdio: 'ignore' })
  const rules = [`table ip mtl {`, `  chain forwarding {`, `    type filter hook forward priority 0; policy accept;`]
  if (loss > 0) rules.push(`    oifname "${dev.Rb}" numgen random mod 100 < ${loss} drop`)
  if (reorder > 0) rules.push(`    oifname "${dev.Rb}" numgen random mod 100 < ${reorder} meta priority set 1:20`)
  rules.push('  }', '}')
  execFileSync('ip', ['netns', 'exec', ns.R, 'nft', '-f', '-'], { input: rules.join('\n'), stdio: ['pipe', 'pipe', 'pipe'] })
}

/** Namespace A's counters: from /proc/net/netstat (TcpExt) and /proc/net/snmp (Tcp), by name. */
function kernelCounters() {
  const counters = {}
  for (const file of ['/proc/net/netstat', '/proc/net/snmp']) {
    const lines = inNs(ns.A, 'cat', file).split('\n')
    for (let i = 0; i + 1 < lines.length; i += 2) {
      if (!lines[i].startsWith('TcpExt:') && !lines[i].startsWith('Tcp:')) continue
      const names = lines[i].split(' ')
      const values = lines[i + 1].split(' ')
      for (let j = 1; j < names.length; j++) counters[names[j]] = Number(values[j])
    }
  }
  return counters
}

/**
 * What the kernel sender's connection did, as the difference of namespace A's counters (only the sender
 * runs there): timeouts, retransmitted segments, D-SACKs received, undone recoveries (D-SACK and Eifel).
 */
function kernelDelta(before, after) {
  const d = (name) => (after[name] ?? 0) - (before[name] ?? 0)
  return {
    timeouts: d('TCPTimeouts'),
    retransmitted: d('RetransSegs'),
    dsacks: d('TCPDSACKRecv') + d('TCPDSACKOfoRecv'),
    undone: d('TCPDSACKUndo') + d('TCPFullUndo') + d('TCPPartialUndo') + d('TCPLossUndo') + d('TCPSpuriousRTOs'),
  }
}

async function ours() {
  const port = await openPacketPort({ interface: dev.O, offloads: false })
  const stack = createStack({ port, address: `10.${SUBNET}.0.2/24`, gateway: `10.${SUBNET}.0.1`, tcp: { sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20, lossDetection: LOSS_DETECTION } })
  try {
    const socket = stack.connect({ host: `10.${SUBNET}.2.2`, port: 7200 })
    await once(socket, 'connect')
    const connection = stack.connectionOf(socket.fd)
    const chunk = Buffer.alloc(65536, 0x61)
    const start = performance.now()
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`our transfer took more than ${TIMEOUT_MS} ms`)), TIMEOUT_MS)
      let sent = 0
      const write = () => {
        while (sent < BYTES) {
          sent += chunk.length
          if (!socket.write(chunk)) return void socket.once('drain', write)
        }
        socket.end()
      }
      socket.resume()
      socket.on('close', () => {
        clearTimeout(timer)
        resolve()
      })
      write()
    })
    const seconds = (performance.now() - start) / 1000
    const st = connection.stats
    return { mbps: (BYTES * 8) / seconds / 1e6, timeouts: st.retransmitTimeouts, retransmitted: st.retransmittedSegments, dsacks: undefined, undone: st.spuriousRecoveries + st.spuriousTimeouts }
  } finally {
    stack.stop()
    port.close()
  }
}

async function kernel() {
  const before = kernelCounters()
  const sender = spawn('ip', ['netns', 'exec', ns.A, process.execPath, '-e', SENDER, `10.${SUBNET}.2.2`, String(BYTES)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  sender.stdout.on('data', (data) => (output += data))
  const timer = setTimeout(() => sender.kill(), TIMEOUT_MS)
  await once(sender, 'exit')
  clearTimeout(timer)
  const seconds = Number(output.trim())
  if (!(seconds > 0)) throw new Error(`kernel sender failed: ${output}`)
  return { mbps: (BYTES * 8) / seconds / 1e6, ...kernelDelta(before, kernelCounters()) }
}

/** Lines the sink prints: the bytes each connection delivered, so a transfer cut short is not counted as done. */
const sinkLines = []
let sinkWaiter
function onSinkData(data) {
  for (const line of String(data).split('\n')) if (line.trim() !== '') sinkLines.push(line.trim())
  if (sinkWaiter !== undefined && sinkLines.length > 0) sinkWaiter()
}
async function delivered() {
  while (sinkLines.length === 0) await new Promise((resolve) => (sinkWaiter = resolve))
  sinkWaiter = undefined
  const bytes = Number(sinkLines.shift())
  if (bytes !== BYTES) throw new Error(`the receiver got ${bytes} bytes of ${BYTES}`)
}

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1] }
}

cleanUp()
let worst = Number.POSITIVE_INFINITY
let worstNormalised = Number.POSITIVE_INFINITY
/** The medians of the no-impairment row (the first scenario). */
let unimpaired = { ours: Number.NaN, kernel: Number.NaN }
try {
  build()
  const sink = spawn('ip', ['netns', 'exec', ns.B, 'python3', '-c', SINK], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    await once(sink.stdout, 'data') // 'ready'
    sink.stdout.on('data', onSinkData)
    for (const scenario of SCENARIOS) {
      impair(scenario)
      const rows = []
      for (let r = 0; r < RUNS; r++) {
        // Alternate which sender goes first.
        const first = r % 2 === 0 ? await ours() : await kernel()
        await delivered()
        const second = r % 2 === 0 ? await kernel() : await ours()
        await delivered()
        rows.push(r % 2 === 0 ? { ours: first, kernel: second } : { ours: second, kernel: first })
      }
      const ratio = stats(rows.map((row) => row.ours.mbps / row.kernel.mbps))
      const o = stats(rows.map((row) => row.ours.mbps))
      const k = stats(rows.map((row) => row.kernel.mbps))
      // Normalised: each sender's goodput as a share of its own unimpaired median, ours over the kernel's;
      // it takes out the CPU bound of each sender (ours is CPU-bound far below the kernel's rate).
      if (scenario.loss === 0 && scenario.reorder === 0) unimpaired = { ours: o.median, kernel: k.median }
      const normalised = o.median / unimpaired.ours / (k.median / unimpaired.kernel)
      const each = (side, key) => rows.map((row) => row[side][key] ?? '-').join('/')
      console.log(
        `  ${scenario.name.padEnd(26)} ours ${o.median.toFixed(0)} Mbit/s (RTOs ${each('ours', 'timeouts')}, rexmit segs ${each('ours', 'retransmitted')}, undone ${each('ours', 'undone')}), ` +
          `kernel ${k.median.toFixed(0)} Mbit/s (RTOs ${each('kernel', 'timeouts')}, rexmit segs ${each('kernel', 'retransmitted')}, D-SACKs ${each('kernel', 'dsacks')}, undone ${each('kernel', 'undone')}); ` +
          `ratio min/median/max ${ratio.min.toFixed(2)}/${ratio.median.toFixed(2)}/${ratio.max.toFixed(2)}, normalised ${normalised.toFixed(2)}`,
      )
      if (scenario.loss > 0 || scenario.reorder > 0) worstNormalised = Math.min(worstNormalised, normalised)
      if (scenario.loss > 0 || scenario.reorder > 0) worst = Math.min(worst, ratio.median)
    }
  } finally {
    sink.kill()
  }
} finally {
  cleanUp()
}
report({
  id: ID,
  metric: `worst median ratio over the impaired scenarios of our goodput (lossDetection ${LOSS_DETECTION}) to the kernel sender's, same router path and receiver`,
  unit: 'ratio',
  value: worst,
  baseline: { name: 'kernel TCP sender on the same path', value: 1 },
  target: '≥ 1.0 in every row',
})
console.log(`  worst normalised ratio over the impaired rows (each sender's goodput over its own unimpaired goodput, ours / kernel's): ${worstNormalised.toFixed(2)}`)
