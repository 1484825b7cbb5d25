// The dpdk backend on DPDK's virtual devices against the af-packet backend, side by side in one run, to the
// same kernel receiver: bulk sends of 200 MB from our stack, (1) with offloads off, in data packets per
// second, and (2) with offloads on, in Gbit/s (af-packet then uses TSO through virtio-net headers; DPDK's
// vdevs have no usable TSO, so the dpdk ports send MTU-sized frames with checksums completed in C).
// Two DPDK vdevs in one EAL, each on its own veth pair into the receiver's namespace: net_af_xdp (copy mode
// on a veth; the issue's target) and net_af_packet (MTCP_BENCH_VDEVS=net_af_xdp,net_af_packet to choose).
// Our CPU time (user + system of this process, over the transfer) per data packet is the fair measure on a
// 2-core machine. The kernel as a sender (Node in namespace A, same bytes, same receiver) is the last
// column. Fair: one sink in namespace B for all; each sender on its own veth pair into B, configured alike
// (offloads off on both ends for (1)); the order alternates run by run (forward, then reversed; 3 runs);
// setup (EAL, ports, connection) is outside the timer. The kernel facing a DPDK vdev sends complete
// checksums (no virtio-net header there). With offloads on, a "packet" is what the veth counts: one per
// TSO super segment for af-packet and the kernel, so compare Gbit/s there. Root and DPDK (@mtcp/dpdk-io-dpdk) only.
// Each mode runs in a child process of its own, with its own namespaces: the EAL starts once per process, and
// DPDK 22.11's net_af_xdp cannot set up a queue again after a stop (it binds a second XDP socket to it).
// MTCP_BENCH_BYTES, MTCP_BENCH_RUNS and MTCP_BENCH_DEBUG shorten and trace a run; MTCP_BENCH_ONLY=<sender>
// (dpdk-net_af_xdp, dpdk-net_af_packet, afPacket, kernel) with MTCP_BENCH_MODES=plain (or tso) runs one
// sender and mode alone in this process, for `node --cpu-prof`.
import { execFileSync, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { openDpdkPort, openPacketPort } from '@mtcp/dpdk-io'
import { createStack } from '@mtcp/stack'
import { requireRoot, SINK, withKernelPaths } from './kernel-paths.mjs'
import { report } from './lib.mjs'

const ID = 'dpdk-vs-afpacket'
const BYTES = Number(process.env.MTCP_BENCH_BYTES ?? 200_000_000)
const RUNS = Number(process.env.MTCP_BENCH_RUNS ?? 3)

requireRoot(ID)
try {
  const module = await import('@mtcp/dpdk-io-dpdk')
  if (!module.dpdkAvailable()) throw new Error('addon not built')
} catch (error) {
  console.log(`${ID}: skipped (needs @mtcp/dpdk-io-dpdk built against libdpdk-dev: ${error.message})`)
  process.exit(0)
}

const KERNEL_SENDER = `
const net = require('node:net')
const [host, total] = [process.argv[1], Number(process.argv[2])]
const chunk = Buffer.alloc(65536, 0x61)
const t0 = process.cpuUsage()
const socket = net.connect(7200, host, () => {
  let sent = 0
  const write = () => { while (sent < total) { sent += chunk.length; if (!socket.write(chunk)) return socket.once('drain', write) } socket.end() }
  write()
})
socket.resume()
socket.on('close', () => { const c = process.cpuUsage(t0); console.log(JSON.stringify(c)) })`

const ethtool = (ns, dev, on) => {
  const command = ['ethtool', '-K', dev, 'tx', on, 'tso', on, 'gso', on, 'gro', on]
  execFileSync(ns ? 'ip' : command[0], ns ? ['netns', 'exec', ns, ...command] : command.slice(1), { stdio: 'pipe' })
}

/** One bulk send from `stack` on `dev`: seconds, data packets the veth sent, our CPU µs. */
async function bulk(paths, stack, dev, peerIp) {
  const socket = stack.connect({ host: peerIp, port: 7200 })
  // once() rejects on 'error', so a failed connection unwinds through withKernelPaths' clean-up.
  await once(socket, 'connect')
  const chunk = Buffer.alloc(65536, 0x61)
  const packetsBefore = paths.txPackets(undefined, dev)
  const cpuBefore = process.cpuUsage()
  const start = performance.now()
  await new Promise((resolve, reject) => {
    socket.on('error', reject)
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
  const seconds = (performance.now() - start) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  return { seconds, packets: paths.txPackets(undefined, dev) - packetsBefore, cpuUs: cpu.user + cpu.system, userUs: cpu.user, systemUs: cpu.system }
}

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted.at(-1) }
}

const VDEVS = (process.env.MTCP_BENCH_VDEVS ?? 'net_af_xdp,net_af_packet').split(',')
const ONLY = process.env.MTCP_BENCH_ONLY
const MODES = (process.env.MTCP_BENCH_MODES ?? 'plain,tso').split(',')

/** Measure every sender in `mode` (this process's one EAL); returns `{ senders, results }`. */
const measure = (mode) => withKernelPaths('mdb', 206, async (paths) => {
  // One more veth pair into B per DPDK vdev, configured as the first: 10.(208 + i).0.1 ours, .2 B's.
  const devices = VDEVS.map((vdev, i) => ({
    vdev,
    name: `dpdk-${vdev}`,
    dev: `${paths.ours.slice(0, -1)}${i}`,
    peer: `${paths.ours.slice(0, -1)}${i}q`,
    ourIp: `10.${208 + i}.0.1`,
    peerIp: `10.${208 + i}.0.2`,
  }))
  const ip = (...args) => execFileSync('ip', args, { stdio: 'pipe' })
  let sink
  try {
    for (const d of devices) {
      ip('link', 'add', d.dev, 'type', 'veth', 'peer', 'name', d.peer, 'netns', paths.B)
      ip('link', 'set', d.dev, 'up')
      ip('-n', paths.B, 'addr', 'add', `${d.peerIp}/24`, 'dev', d.peer)
      ip('-n', paths.B, 'link', 'set', d.peer, 'up')
    }
    sink = paths.python(paths.B, SINK)
    await once(sink.stdout, 'data')
    const eal = ['--no-huge', '-m', '512', '--no-pci', '-l', '0', '--no-shconf', '--no-telemetry', '--log-level=lib.eal:error']
    for (const d of devices) eal.push(`--vdev=${d.vdev}0,iface=${d.dev}`)
    const senders = ['afPacket', ...devices.map((d) => d.name), 'kernel'].filter((who) => ONLY === undefined || ONLY === who)
    const results = {}
    {
      results[mode] = Object.fromEntries(senders.map((who) => [who, []]))
      const on = mode === 'tso' ? 'on' : 'off'
      for (const [ns, dev] of [[undefined, paths.ours], [paths.B, paths.oursPeer], [paths.A, paths.kernelA], [paths.B, paths.kernelB], ...devices.map((d) => [undefined, d.dev])]) ethtool(ns, dev, on)
      // DPDK's vdevs take frames without a virtio-net header, so the kernel facing them must send complete
      // checksums (a partial one would look corrupt): offloads off on that side in both modes.
      for (const d of devices) ethtool(paths.B, d.peer, 'off')
      const offloads = mode === 'tso'
      const tcp = { sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 }
      const afPort = await openPacketPort({ interface: paths.ours, offloads })
      const afStack = createStack({ port: afPort, address: `${paths.ourIp}/24`, tcp })
      const dpdk = new Map()
      for (const d of devices) {
        const port = await openDpdkPort({ eal, port: `${d.vdev}0`, offloads })
        if (process.env.MTCP_BENCH_DEBUG) {
          // Frames per transmit burst, printed at the end of the mode.
          const txBurst = port.txBurst.bind(port)
          const counts = { calls: 0, frames: 0 }
          port.txBurst = (bufs, count) => {
            counts.calls++
            counts.frames += count
            return txBurst(bufs, count)
          }
          process.on('exit', () => console.error(`${d.vdev}: ${counts.frames} frames in ${counts.calls} txBurst calls`))
        }
        dpdk.set(d.name, { d, port, stack: createStack({ port, address: `${d.ourIp}/24`, tcp }) })
      }
      for (let run = 0; run < RUNS; run++) {
        const order = run % 2 === 0 ? senders : [...senders].reverse()
        for (const who of order) {
          if (process.env.MTCP_BENCH_DEBUG) console.error(mode, run, who)
          if (who === 'afPacket') results[mode].afPacket.push(await bulk(paths, afStack, paths.ours, paths.peerIp))
          else if (dpdk.has(who)) {
            const { d, port, stack } = dpdk.get(who)
            results[mode][who].push({ ...(await bulk(paths, stack, d.dev, d.peerIp)), copies: port.copies })
          } else {
            const before = paths.txPackets(paths.A, paths.kernelA)
            const start = performance.now()
            const sender = paths.node(paths.A, KERNEL_SENDER, paths.kernelPeerIp, String(BYTES))
            let out = ''
            sender.stdout.on('data', (d) => (out += d))
            await once(sender, 'exit')
            const cpu = JSON.parse(out.trim())
            results[mode].kernel.push({ seconds: (performance.now() - start) / 1000, packets: paths.txPackets(paths.A, paths.kernelA) - before, cpuUs: cpu.user + cpu.system, userUs: cpu.user, systemUs: cpu.system })
          }
        }
      }
      afStack.stop()
      afPort.close()
      for (const { port, stack } of dpdk.values()) {
        stack.stop()
        port.close()
      }
    }
    return { senders, results: results[mode] }
  } finally {
    sink?.kill()
    for (const d of devices) spawnSync('ip', ['link', 'del', d.dev], { stdio: 'ignore' })
  }
})

if (process.env.MTCP_BENCH_CHILD) {
  const mode = MODES[0]
  console.log(`RESULTS ${JSON.stringify(await measure(mode))}`)
  process.exit(0)
}
const loadBefore = loadavg().map((l) => l.toFixed(2)).join(' ')
const results = {}
let senders = []
for (const mode of MODES) {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], {
    env: { ...process.env, MTCP_BENCH_CHILD: '1', MTCP_BENCH_MODES: mode },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 24,
  })
  const line = child.stdout.split('\n').find((l) => l.startsWith('RESULTS '))
  if (child.status !== 0 || line === undefined) throw new Error(`${ID}: the ${mode} run failed (exit ${child.status}): ${child.stdout}`)
  const measured = JSON.parse(line.slice('RESULTS '.length))
  senders = measured.senders
  results[mode] = measured.results
}
const devices = VDEVS.map((vdev) => ({ vdev, name: `dpdk-${vdev}` }))
const load = loadavg().map((l) => l.toFixed(2)).join(' ')
const line = (name, runs) => {
  const pps = stats(runs.map((r) => r.packets / r.seconds))
  const gbps = stats(runs.map((r) => (BYTES * 8) / r.seconds / 1e9))
  const cpp = stats(runs.map((r) => r.cpuUs / r.packets))
  const user = stats(runs.map((r) => r.userUs / r.packets)).median
  const system = stats(runs.map((r) => r.systemUs / r.packets)).median
  return `${name}: ${(pps.min / 1e3).toFixed(0)}/${(pps.median / 1e3).toFixed(0)}/${(pps.max / 1e3).toFixed(0)} kpps, ${gbps.min.toFixed(2)}/${gbps.median.toFixed(2)}/${gbps.max.toFixed(2)} Gbit/s, CPU ${cpp.min.toFixed(2)}/${cpp.median.toFixed(2)}/${cpp.max.toFixed(2)} µs/packet (min/median/max of ${runs.length}; median user ${user.toFixed(2)} + system ${system.toFixed(2)})`
}
for (const mode of MODES) {
  console.log(`${ID} ${mode === 'plain' ? 'offloads off' : 'offloads on (af-packet TSO)'}; load average ${loadBefore} before, ${load} after`)
  for (const who of senders) {
    const runs = results[mode][who]
    const name = who === 'kernel' ? 'kernel sender (Node, CPU of its process only)' : who === 'afPacket' ? 'af-packet' : who
    console.log(`  ${line(name, runs)}${runs[0].copies !== undefined ? `; copies ${runs.at(-1).copies}` : ''}`)
  }
}
if (ONLY !== undefined || !MODES.includes('plain') || !MODES.includes('tso')) process.exit(0)
const median = (runs, f) => stats(runs.map(f)).median
const p = results.plain
const t = results.tso
for (const d of devices) {
  report({
    id: `${ID}-pps-${d.vdev}`,
    metric: `bulk send with offloads off, data packets per second, dpdk backend on ${d.vdev}`,
    unit: 'packets/s',
    value: median(p[d.name], (r) => r.packets / r.seconds),
    baseline: { name: 'af-packet backend, same receiver, same run', value: median(p.afPacket, (r) => r.packets / r.seconds) },
  })
  report({
    id: `${ID}-cpu-per-packet-${d.vdev}`,
    metric: `our CPU time per data packet with offloads off, dpdk backend on ${d.vdev}`,
    unit: 'µs/packet',
    value: median(p[d.name], (r) => r.cpuUs / r.packets),
    baseline: { name: 'af-packet backend, same run', value: median(p.afPacket, (r) => r.cpuUs / r.packets) },
    target: '≤ 0.5 × af-packet',
  })
  report({
    id: `${ID}-gbps-${d.vdev}`,
    metric: `bulk send with offloads on, Gbit/s, dpdk backend on ${d.vdev} (no TSO)`,
    unit: 'Gbit/s',
    value: median(t[d.name], (r) => (BYTES * 8) / r.seconds / 1e9),
    baseline: { name: 'af-packet backend with TSO, same run', value: median(t.afPacket, (r) => (BYTES * 8) / r.seconds / 1e9) },
  })
}
report({
  id: `${ID}-pps-kernel`,
  metric: 'bulk send with offloads off, data packets per second, the kernel sender (Node)',
  unit: 'packets/s',
  value: median(p.kernel, (r) => r.packets / r.seconds),
})
