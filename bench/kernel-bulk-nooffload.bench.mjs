// Bulk sending with offloads off, in packets per second: our stack (packet socket on a veth end) to a
// kernel sink in namespace B, against a kernel sender (Node in namespace A) over the same kind of path,
// in the same run. Root only.
import { bulkToKernel, requireRoot, withKernelPaths } from './kernel-paths.mjs'
import { report } from './lib.mjs'

requireRoot('kernel-bulk-nooffload')
const { ours, kernel } = await withKernelPaths('mtb', 204, (paths) => bulkToKernel(paths, { bytes: 400_000_000, offloads: false }))
report({
  id: 'kernel-bulk-nooffload',
  metric: 'bulk send to a kernel receiver with offloads off, data packets sent per second (the sender interface tx counter)',
  unit: 'packets/s',
  value: ours.packets / ours.seconds,
  baseline: { name: 'kernel TCP sender (Node in a namespace) over the same kind of veth path', value: kernel.packets / kernel.seconds },
  target: '≥ 350,000 packets/s',
})
