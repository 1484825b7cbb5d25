// Small transactions (connect, 64-byte request, 64-byte response, close) per second from kernel clients
// in namespace B to our stack, as a cluster of 2 workers vs 1 worker, each worker a packet socket in one
// PACKET_FANOUT_HASH group on a veth end. Root only. The generator shares the machine's cores with the
// workers (and, on a shared machine, with everything else): see docs/guides/many-cores.md.
// On 2 cores throughput cannot show scaling (the generator needs a core too), so the second figure is the
// server's CPU time per transaction (this process: main thread and worker threads, process.cpuUsage), 2
// workers over 1: whether splitting the work costs CPU (target ≤ 1.1). Fair because both clusters serve the
// same generator over the same path in the same run, and both CPU figures count the same threads; three
// rounds, alternating which cluster goes first, and the ratios per round as min/median/max.
import { loadavg } from 'node:os'
import { requireRoot, spread, withKernelPaths } from './kernel-paths.mjs'
import { report } from './lib.mjs'
import { describe, generatorCommand, measureCluster, prepareClientNamespace, serverCpuPerTransaction } from './workers-lib.mjs'

requireRoot('workers-scaling')
const generator = generatorCommand()
const ROUNDS = 3
const load = loadavg()[0]
const rounds = await withKernelPaths('mws', 216, async (paths) => {
  prepareClientNamespace(paths.B)
  const rounds = []
  for (let round = 0; round < ROUNDS; round++) {
    const result = {}
    for (const workers of round % 2 === 0 ? [1, 2] : [2, 1]) result[workers === 1 ? 'one' : 'two'] = await measureCluster(paths, workers, generator)
    rounds.push(result)
  }
  return rounds
})
console.log(`workers-scaling: generator ${generator.kind}; load average ${load.toFixed(2)} at the start`)
for (const [i, { one, two }] of rounds.entries()) {
  console.log(`  round ${i + 1}:`)
  console.log(describe('1 worker', one))
  console.log(describe('2 workers', two))
}
const cpuRatio = spread(rounds.map(({ one, two }) => serverCpuPerTransaction(two) / serverCpuPerTransaction(one)))
const rateRatio = spread(rounds.map(({ one, two }) => two.rate / one.rate))
console.log(`  CPU per transaction, 2 workers / 1, min/median/max ${cpuRatio.min.toFixed(2)}/${cpuRatio.median.toFixed(2)}/${cpuRatio.max.toFixed(2)}`)
console.log(`  transactions/s, 2 workers / 1, min/median/max ${rateRatio.min.toFixed(2)}/${rateRatio.median.toFixed(2)}/${rateRatio.max.toFixed(2)}`)
// The reported values: the round with the median CPU ratio.
const { one, two } = rounds.find(({ one, two }) => serverCpuPerTransaction(two) / serverCpuPerTransaction(one) === cpuRatio.median)
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
