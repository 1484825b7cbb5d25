// Bulk sending with offloads off, in data packets per second (each sender interface's tx counter over the
// seconds its client sent for). Ours: our stack on a packet socket on a veth end, as an iperf3 client
// (@mtcp/perf's runIperf3Client). Baseline, in the same run: the kernel's own iperf3 -c from namespace A over
// the same kind of veth path. Fair because both write into the same sink (one iperf3 -s in namespace B), for
// the same seconds, with offloads off on every interface of both paths, three times each with the order
// alternating; start-up and handshakes stay outside the timed part on both sides. Root and iperf3 only.
import { iperf3SideBySide, requireRoot, spread, withKernelPaths } from './kernel-paths.mjs'
import { report } from './lib.mjs'
import { loadavg } from 'node:os'
import { spawnSync } from 'node:child_process'

const ID = 'kernel-bulk-nooffload'
const SECONDS = 5

requireRoot(ID)
if (spawnSync('sh', ['-c', 'command -v iperf3'], { stdio: 'ignore' }).status !== 0) {
  console.log(`${ID}: skipped (needs iperf3: apt-get install -y iperf3)`)
  process.exit(0)
}
const load = loadavg()[0]
const runs = await withKernelPaths('mtb', 204, (paths) => iperf3SideBySide(paths, { seconds: SECONDS, offloads: false }))
const pps = (side) => side.packets / side.seconds
for (const [index, run] of runs.entries()) {
  console.log(`  run ${index + 1}: ours ${pps(run.ours).toFixed(0)} packets/s (${((run.ours.bytes * 8) / run.ours.seconds / 1e6).toFixed(0)} Mbit/s), iperf3 ${pps(run.kernel).toFixed(0)} packets/s; ratio ${(pps(run.ours) / pps(run.kernel)).toFixed(2)}`)
}
const ratios = spread(runs.map((run) => pps(run.ours) / pps(run.kernel)))
console.log(`  ratio min/median/max ${ratios.min.toFixed(2)}/${ratios.median.toFixed(2)}/${ratios.max.toFixed(2)}; load average ${load.toFixed(2)} at the start`)
report({
  id: ID,
  metric: `bulk send with offloads off into one iperf3 -s, data packets sent per second (median of ${runs.length}, alternating order)`,
  unit: 'packets/s',
  value: spread(runs.map((run) => pps(run.ours))).median,
  baseline: { name: `the kernel's iperf3 -c over the same kind of veth path into the same iperf3 -s (median of ${runs.length})`, value: spread(runs.map((run) => pps(run.kernel))).median },
  target: '≥ 350,000 packets/s and ratio ≥ 1.0',
})
