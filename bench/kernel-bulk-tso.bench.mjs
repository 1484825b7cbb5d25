// Bulk goodput with segmentation offload: our stack (packet socket with the virtio-net header on a veth
// end, TSO super segments cut by the kernel) to a kernel sink in namespace B, against a kernel sender
// (Node in namespace A, kernel TSO) over the same kind of path, in the same run. Root only.
import { bulkToKernel, requireRoot, withKernelPaths } from './kernel-paths.mjs'
import { report } from './lib.mjs'

const BYTES = 2_000_000_000

requireRoot('kernel-bulk-tso')
const { ours, kernel } = await withKernelPaths('mtt', 206, (paths) => bulkToKernel(paths, { bytes: BYTES, offloads: true }))
report({
  id: 'kernel-bulk-tso',
  metric: 'bulk goodput to a kernel receiver with segmentation offload (AF_PACKET + virtio-net header)',
  unit: 'bit/s',
  value: (BYTES * 8) / ours.seconds,
  baseline: { name: 'kernel TCP sender with TSO (Node in a namespace) over the same kind of veth path', value: (BYTES * 8) / kernel.seconds },
  target: 'ratio ≥ 1.0',
})
