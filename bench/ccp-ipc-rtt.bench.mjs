// CCP IPC round trip: a 64-byte datagram from a datapath to an echoing agent and back, p50 and p99 over
// 20,000 round trips after 2,000 of warm-up. The unix transport runs the agent in its own process (as portus
// is), with sockets in a temp directory; the in-process channel (InProcessHub, asynchronous) runs both ends
// in this process. Baseline, in the same run: the same round trip in C over unix datagrams between two
// processes (bench/unix-dgram-rtt.c, built here with `cc -O2`), which is what portus and the C libccp pay;
// the C run goes first and last, around ours, and the baseline is the better of the two (the kindest to C).
// Fair because both sides send the same 64 bytes over the same socket kind between two processes on the
// same machine, timed per round trip from send to receive, with the same warm-up and count. For context, the
// same round trip on bare @mtcp/unix-dgram-native sockets (no transport layer, no checks): what Node and the
// addon cost.
import { spawn, spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { InProcessHub, openUnixDatapath } from '@mtcp/ccp-ipc'
import { report } from './lib.mjs'

const ROUNDS = 20_000
const WARMUP = 2_000
const root = join(dirname(fileURLToPath(import.meta.url)), '..')

// A 64-byte MEASURE (type 1, len 16 + 8 × 6 fields = 64, sid 1), as a datapath sends once per RTT.
const message = new Uint8Array(64)
const view = new DataView(message.buffer)
view.setUint16(0, 1, true)
view.setUint16(2, 64, true)
view.setUint32(4, 1, true)
view.setUint32(12, 6, true)

/** Run `warmup + rounds` round trips as a chain (each echo sends the next); resolves with the µs of the last `rounds`. */
function roundTrips(datapath, warmup, rounds) {
  const samples = new Float64Array(rounds)
  return new Promise((resolve, reject) => {
    let index = -warmup
    let start = 0
    const next = () => {
      start = performance.now()
      const result = datapath.send(message)
      if (result !== 0) reject(new Error(`send returned ${result}`))
    }
    datapath.onMessage(() => {
      const elapsed = (performance.now() - start) * 1000
      if (index >= 0) samples[index] = elapsed
      index++
      if (index < rounds) next()
      else resolve(samples)
    })
    next()
  })
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

function summarize(samples) {
  const sorted = Float64Array.from(samples).sort()
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) }
}

/** Run `measure(dir)` against an echoing agent started with `source` in another process. */
async function withEchoProcess(source, measure) {
  const dir = mkdtempSync(join(tmpdir(), 'ccp-ipc-rtt-'))
  const echo = spawn(process.execPath, ['--input-type=module', '-e', source, dir], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] })
  try {
    await once(echo.stdout, 'data')
    return await measure(dir)
  } finally {
    echo.stdin.end()
    await once(echo, 'exit')
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The C round trip (bench/unix-dgram-rtt.c) in this run: { p50, p99 } in µs. */
function cRoundTrips() {
  const dir = mkdtempSync(join(tmpdir(), 'ccp-rtt-c-'))
  try {
    const binary = join(dir, 'unix-dgram-rtt')
    const built = spawnSync('cc', ['-O2', '-o', binary, join(root, 'bench', 'unix-dgram-rtt.c')], { stdio: 'inherit' })
    if (built.status !== 0) throw new Error('the C baseline needs a C compiler (cc) to build bench/unix-dgram-rtt.c')
    const run = spawnSync(binary, [dir, String(ROUNDS), String(WARMUP)], { encoding: 'utf8' })
    if (run.status !== 0) throw new Error(`bench/unix-dgram-rtt.c failed: ${run.stderr}`)
    const [p50, p99] = run.stdout.trim().split(' ').map(Number)
    return { p50, p99 }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const cBefore = cRoundTrips()

// Unix datagrams through @mtcp/ccp-ipc at both ends, agent in another process.
const ECHO = `
import { openUnixAgent } from '@mtcp/ccp-ipc'
const agent = openUnixAgent({ dir: process.argv[1] })
agent.onMessage((bytes, from) => agent.sendTo(from, bytes))
process.stdin.on('end', () => agent.close())
process.stdin.resume()
process.stdout.write('ready\\n')
`
const unix = await withEchoProcess(ECHO, async (dir) => {
  const datapath = openUnixDatapath({ dir, name: 'bench-datapath' })
  try {
    return summarize(await roundTrips(datapath, WARMUP, ROUNDS))
  } finally {
    datapath.close()
  }
})

// The same on bare @mtcp/unix-dgram-native sockets (no transport layer, no checks), for context.
const nativePath = createRequire(join(root, 'packages', 'ccp-ipc', 'package.json')).resolve('@mtcp/unix-dgram-native')
const native = createRequire(import.meta.url)(nativePath)
const RAW_ECHO = `
import { createRequire } from 'node:module'
const { bindUnixDatagram } = createRequire(import.meta.url)(${JSON.stringify(nativePath)})
const socket = bindUnixDatagram(process.argv[1] + '/portus', (bytes, from) => socket.send(bytes, from))
process.stdin.on('end', () => socket.close())
process.stdin.resume()
process.stdout.write('ready\\n')
`
const bare = await withEchoProcess(RAW_ECHO, async (dir) => {
  let handler
  const socket = native.bindUnixDatagram(join(dir, 'bench-datapath'), (bytes) => handler(bytes))
  const agentPath = join(dir, 'portus')
  const rawDatapath = {
    send: (bytes) => socket.send(bytes, agentPath),
    onMessage: (h) => (handler = h),
  }
  try {
    return summarize(await roundTrips(rawDatapath, WARMUP, ROUNDS))
  } finally {
    socket.close()
  }
})

// The in-process channel, asynchronous (a microtask per delivery batch).
const hub = new InProcessHub()
const agent = hub.agent()
agent.onMessage((bytes, from) => agent.sendTo(from, bytes))
const inProcess = summarize(await roundTrips(hub.datapath('bench-datapath'), WARMUP, ROUNDS))

const cAfter = cRoundTrips()
const C_P50 = Math.min(cBefore.p50, cAfter.p50)
const C_P99 = Math.min(cBefore.p99, cAfter.p99)

console.log(
  `C (this run, before and after): p50 ${cBefore.p50.toFixed(1)} / ${cAfter.p50.toFixed(1)} µs, p99 ${cBefore.p99.toFixed(1)} / ${cAfter.p99.toFixed(1)} µs; unix: p50 ${unix.p50.toFixed(1)} µs, p99 ${unix.p99.toFixed(1)} µs; bare addon: p50 ${bare.p50.toFixed(1)} µs, p99 ${bare.p99.toFixed(1)} µs; in-process: p50 ${inProcess.p50.toFixed(2)} µs, p99 ${inProcess.p99.toFixed(2)} µs (${ROUNDS} round trips each)`,
)
report({
  id: 'ccp-ipc-rtt',
  metric: `64-byte datagram round trip datapath → echoing agent (another process) → datapath over unix datagrams, p50 of ${ROUNDS}`,
  unit: 'µs',
  value: unix.p50,
  baseline: { name: 'C over unix datagrams between two processes, this run, p50', value: C_P50 },
})
report({
  id: 'ccp-ipc-rtt-p99',
  metric: `64-byte datagram round trip over unix datagrams, p99 of ${ROUNDS}`,
  unit: 'µs',
  value: unix.p99,
  baseline: { name: 'C over unix datagrams between two processes, this run, p99', value: C_P99 },
})
report({
  id: 'ccp-ipc-rtt-inprocess',
  metric: `64-byte round trip through InProcessHub (asynchronous), p50 of ${ROUNDS}`,
  unit: 'µs',
  value: inProcess.p50,
  baseline: { name: 'C over unix datagrams between two processes, this run, p50', value: C_P50 },
})
