// Small transactions (connect, 64-byte request, 64-byte response, close) per second from kernel clients
// in namespace B to our stack, as a cluster of 2 workers vs 1 worker, each worker a packet socket in one
// PACKET_FANOUT_HASH group on a veth end. Root only. The generator shares the machine's cores with the
// workers (and, on a shared machine, with everything else): see docs/guides/many-cores.md.
// On 2 cores throughput cannot show scaling (the generator needs a core too), so the second figure is the
// server's CPU time per transaction (this process: main thread and worker threads, process.cpuUsage), 2
// workers over 1: whether splitting the work costs CPU (target ≤ 1.1). Fair because both clusters serve the
// same generator over the same path in the same run, and both CPU figures count the same threads.
import { requireRoot, withKernelPaths } from './kernel-paths.mjs'
import { report } from './lib.mjs'
import { describe, generatorCommand, measureCluster, prepareClientNamespace, serverCpuPerTransaction } from './workers-lib.mjs'

requireRoot('workers-scaling')
const generator = generatorCommand()
const { one, two } = await withKernelPaths('mws', 216, async (paths) => {
  prepareClientNamespace(paths.B)
  const one = await measureCluster(paths, 1, generator)
  const two = await measureCluster(paths, 2, generator)
  return { one, two }
})
console.log(`workers-scaling: generator ${generator.kind}`)
console.log(describe('1 worker', one))
console.log(describe('2 workers', two))
report({
  id: 'workers-scaling-cpu',
  metric: 'server CPU µs per small transaction (main and worker threads, user + system), our stack with 2 workers',
  unit: 'µs',
  value: serverCpuPerTransaction(two) * 1e6,
  baseline: { name: 'our stack with 1 worker, same path and generator', value: serverCpuPerTransaction(one) * 1e6 },
  target: 'ratio ≤ 1.1',
})
report({
  id: 'workers-scaling',
  metric: 'small transactions/s (connect, 64 B request, 64 B response, close) from kernel clients, our stack with 2 workers on AF_PACKET fanout',
  unit: 'transactions/s',
  value: two.rate,
  baseline: { name: 'our stack with 1 worker, same path and generator', value: one.rate },
  target: 'ratio ≥ 1.8 on 2 free cores',
})
