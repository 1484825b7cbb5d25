// Is DPDK's net_af_xdp slower than an AF_XDP socket of our own would be? bench/dpdk-afxdp-tx.c sends the
// same 1514-byte frames in bursts of 32 over one veth in copy mode, once through DPDK 22.11's net_af_xdp
// (rte_eth_tx_burst) and once through libxdp's xsk rings directly, 3 runs alternating the order, each run
// 1,000,000 frames (MTCP_BENCH_FRAMES). Fair: same frame, same burst, same memcpy per frame, same kick
// rule (sendto when the kernel asks), frames counted when completed and checked against the veth's own tx
// counter; the peer drops them on arrival (a MAC nobody has), so both measure the transmit path only, not
// a receiver. No TCP stack in the loop: this isolates the driver from our JavaScript. One more DPDK run with
// the mempool made as rte_pktmbuf_pool_create makes it shows the frames decision 0032 stopped losing. Root, cc, libdpdk-dev
// and libxdp-dev only; prints min/median/max of frames/s and of CPU (user + system) per frame.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { report } from './lib.mjs'

const ID = 'dpdk-afxdp-tx'
const FRAMES = Number(process.env.MTCP_BENCH_FRAMES ?? 1_000_000)
const RUNS = Number(process.env.MTCP_BENCH_RUNS ?? 3)
const root = dirname(fileURLToPath(import.meta.url))

if (process.getuid?.() !== 0) {
  console.log(`${ID}: skipped (needs root for network namespaces)`)
  process.exit(0)
}
const flags = spawnSync('pkg-config', ['--cflags', '--libs', 'libdpdk', 'libxdp'], { encoding: 'utf8' })
if (flags.status !== 0) {
  console.log(`${ID}: skipped (needs libdpdk-dev and libxdp-dev: apt-get install dpdk libdpdk-dev libxdp-dev)`)
  process.exit(0)
}

const dir = mkdtempSync(join(tmpdir(), `${ID}-`))
const tag = String(process.pid % 100000)
const ns = `mxt${tag}`
const ours = `mxt${tag}a`
const theirs = `mxt${tag}b`
const cleanUp = () => {
  spawnSync('ip', ['link', 'del', ours], { stdio: 'ignore' })
  spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
  rmSync(dir, { recursive: true, force: true })
}
try {
  const binary = join(dir, ID)
  const built = spawnSync('cc', ['-O2', '-o', binary, join(root, `${ID}.c`), ...flags.stdout.trim().split(/\s+/)], { stdio: 'inherit' })
  if (built.status !== 0) throw new Error(`${ID}: cc failed to build bench/${ID}.c`)
  const ip = (...args) => execFileSync('ip', args, { stdio: 'pipe' })
  ip('netns', 'add', ns)
  ip('link', 'add', ours, 'type', 'veth', 'peer', 'name', theirs, 'netns', ns)
  ip('link', 'set', ours, 'up')
  ip('-n', ns, 'link', 'set', theirs, 'up')
  // The kernel releases an XDP socket's queue after its process exits, not at once: a run started right after
  // another may find the queue busy (EBUSY). Such a run has sent nothing yet, so it is started again, at most
  // 20 times 100 ms apart, and the number of such restarts is printed.
  let restarts = 0
  const runProgram = (mode) => {
    for (let attempt = 0; ; attempt++) {
      const child = spawnSync(binary, [mode, ours, String(FRAMES)], { encoding: 'utf8' })
      const busy = child.status !== 0 && /busy/i.test(child.stderr)
      if (!busy || attempt === 20) return child
      restarts++
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
    }
  }
  const txPackets = () => Number(readFileSync(`/sys/class/net/${ours}/statistics/tx_packets`, 'utf8'))
  const loadBefore = loadavg().map((l) => l.toFixed(2)).join(' ')
  const results = { dpdk: [], direct: [] }
  for (let run = 0; run < RUNS; run++) {
    for (const mode of run % 2 === 0 ? ['dpdk', 'direct'] : ['direct', 'dpdk']) {
      const before = txPackets()
      const child = runProgram(mode)
      const line = child.stdout.split('\n').find((l) => l.startsWith('{'))
      if (child.status !== 0 || line === undefined) throw new Error(`${ID} ${mode} failed (exit ${child.status}): ${child.stderr}`)
      const result = JSON.parse(line)
      const wire = txPackets() - before
      // Every frame the program counts as completed must have left through the veth (a few of the kernel's own may add).
      if (wire < result.frames) throw new Error(`${ID} ${mode}: ${result.frames} frames completed but the veth sent ${wire}`)
      results[mode].push(result)
    }
  }
  // What decision 0032 fixed: the same run with the pool made as rte_pktmbuf_pool_create makes it.
  const before = txPackets()
  const unpacked = runProgram('dpdk-unpacked')
  const unpackedLine = unpacked.stdout.split('\n').find((l) => l.startsWith('{'))
  const lost = unpackedLine === undefined ? undefined : JSON.parse(unpackedLine).frames - (txPackets() - before)
  const load = loadavg().map((l) => l.toFixed(2)).join(' ')
  const stats = (values) => {
    const sorted = [...values].sort((a, b) => a - b)
    return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted.at(-1) }
  }
  const fmt = (s, digits) => `${s.min.toFixed(digits)}/${s.median.toFixed(digits)}/${s.max.toFixed(digits)}`
  console.log(`${ID}: ${FRAMES} frames of 1514 bytes per run, ${RUNS} runs alternating; load average ${loadBefore} before, ${load} after; ${restarts} runs restarted on a busy queue`)
  for (const mode of ['dpdk', 'direct']) {
    const runs = results[mode]
    const kpps = stats(runs.map((r) => r.frames / r.seconds / 1e3))
    const cpu = stats(runs.map((r) => (r.userUs + r.systemUs) / r.frames))
    const user = stats(runs.map((r) => r.userUs / r.frames))
    const name = mode === 'dpdk' ? 'DPDK net_af_xdp (rte_eth_tx_burst)' : 'AF_XDP socket of our own (libxdp xsk)'
    console.log(`  ${name}: ${fmt(kpps, 0)} kframes/s, CPU ${fmt(cpu, 3)} µs/frame, of it user ${fmt(user, 3)} (min/median/max)`)
  }
  console.log(
    lost === undefined
      ? `  with an unpacked pool: the program failed (exit ${unpacked.status})`
      : `  with an unpacked pool (as before decision 0032): ${Math.max(0, lost)} of ${FRAMES} frames counted as sent never reached the veth`,
  )
  const median = (mode, f) => stats(results[mode].map(f)).median
  report({
    id: `${ID}-pps`,
    metric: 'AF_XDP transmit on a veth (copy mode), frames per second through DPDK 22.11 net_af_xdp',
    unit: 'frames/s',
    value: median('dpdk', (r) => r.frames / r.seconds),
    baseline: { name: 'a direct AF_XDP socket (libxdp), same run', value: median('direct', (r) => r.frames / r.seconds) },
  })
  report({
    id: `${ID}-cpu-per-frame`,
    metric: 'AF_XDP transmit on a veth (copy mode), CPU per frame through DPDK 22.11 net_af_xdp',
    unit: 'µs/frame',
    value: median('dpdk', (r) => (r.userUs + r.systemUs) / r.frames),
    baseline: { name: 'a direct AF_XDP socket (libxdp), same run', value: median('direct', (r) => (r.userUs + r.systemUs) / r.frames) },
  })
} finally {
  cleanUp()
}
