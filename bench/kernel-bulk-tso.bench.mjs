// Bulk goodput with segmentation offload: our stack (packet socket with the virtio-net header on a veth
// end, TSO super segments cut by the kernel) to a kernel sink in namespace B, against the kernel as a
// sender over the same kind of path in the same run: iperf3 (A → B, as long as our stack took) and a
// Node sender in A (the same bytes). Root only; without iperf3 only the Node baseline is reported.
import { bulkToKernel, haveIperf3, requireRoot, withKernelPaths } from './kernel-paths.mjs'
import { report } from './lib.mjs'

const BYTES = 8_000_000_000 // long enough (≈4 s) that slow start and the first RTTs do not weigh on either side
const ID = 'kernel-bulk-tso'

requireRoot(ID)
const iperf3 = haveIperf3(ID)
const result = await withKernelPaths('mtt', 206, (paths) => bulkToKernel(paths, { bytes: BYTES, offloads: true, iperf3 }))
const measured = {
  metric: 'bulk goodput to a kernel receiver with segmentation offload (AF_PACKET + virtio-net header)',
  unit: 'bit/s',
  value: (BYTES * 8) / result.ours.seconds,
  target: 'ratio ≥ 1.0',
}
const node = { name: 'kernel TCP sender with TSO (Node in a namespace) over the same kind of veth path', value: (BYTES * 8) / result.kernel.seconds }
if (result.iperf3 !== undefined) {
  report({ id: ID, ...measured, baseline: { name: `iperf3 (kernel TCP with TSO, ${result.iperf3.seconds.toFixed(1)} s) over the same kind of veth path`, value: result.iperf3.bitsPerSecond } })
  report({ id: `${ID}-node`, ...measured, baseline: node })
} else {
  report({ id: ID, ...measured, baseline: node })
}
