// Bulk sending with offloads off, in packets per second: our stack (packet socket on a veth end) to a
// kernel sink in namespace B, against the kernel as a sender over the same kind of path in the same run:
// iperf3 (A → B, as long as our stack took) and a Node sender in A (the same bytes). Root only; without
// iperf3 only the Node baseline is reported.
import { bulkToKernel, haveIperf3, requireRoot, withKernelPaths } from './kernel-paths.mjs'
import { report } from './lib.mjs'

const ID = 'kernel-bulk-nooffload'

requireRoot(ID)
const iperf3 = haveIperf3(ID)
const result = await withKernelPaths('mtb', 204, (paths) => bulkToKernel(paths, { bytes: 400_000_000, offloads: false, iperf3 }))
const measured = {
  metric: 'bulk send to a kernel receiver with offloads off, data packets sent per second (the sender interface tx counter)',
  unit: 'packets/s',
  value: result.ours.packets / result.ours.seconds,
  target: '≥ 350,000 packets/s',
}
const node = { name: 'kernel TCP sender (Node in a namespace) over the same kind of veth path', value: result.kernel.packets / result.kernel.seconds }
if (result.iperf3 !== undefined) {
  report({ id: ID, ...measured, baseline: { name: `iperf3 (kernel TCP, ${result.iperf3.seconds.toFixed(1)} s) over the same kind of veth path`, value: result.iperf3.packets / result.iperf3.seconds } })
  report({ id: `${ID}-node`, ...measured, baseline: node })
} else {
  report({ id: ID, ...measured, baseline: node })
}
