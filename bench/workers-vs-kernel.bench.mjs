// The workload of workers-scaling (connect, 64-byte request, 64-byte response, close, from kernel clients
// in namespace B): our stack with 2 workers on AF_PACKET fanout vs a Node `net` server with 2
// node:cluster workers on kernel sockets in namespace A, over the same kind of veth path. Also reports
// the load generator's own ceiling: transactions per CPU-second it spends (kernel time included), and each
// server's CPU time per transaction (ours: this process's threads; the kernel server: its process tree from
// /proc, node:cluster workers included), which is what 2 cores can compare (target ≤ 0.5). Fair because
// both servers face the same generator over the same kind of veth path in the same run, with 2 workers each,
// and each CPU figure counts the server's own processes or threads (user + system) over the whole run;
// three rounds, alternating which server goes first, with the ratios per round as min/median/max. Root only.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { loadavg } from 'node:os'
import { requireRoot, spread, withKernelPaths } from './kernel-paths.mjs'
import { report } from './lib.mjs'
import { describe, generate, generatorCommand, measureCluster, prepareClientNamespace, serverCpuPerTransaction, treeCpuSeconds } from './workers-lib.mjs'

const SERVER = fileURLToPath(new URL('./workers-kernel-server.mjs', import.meta.url))

requireRoot('workers-vs-kernel')
const generator = generatorCommand()
const ROUNDS = 3
const load = loadavg()[0]
const rounds = await withKernelPaths('mwk', 218, async (paths) => {
  prepareClientNamespace(paths.B)
  const kernelServer = async () => {
    const kernelServerIp = paths.kernelPeerIp.replace(/\.2$/, '.1') // namespace A's end of the kernel path
    const server = spawn('ip', ['netns', 'exec', paths.A, process.execPath, SERVER, kernelServerIp, '7', '2'], { stdio: ['ignore', 'pipe', 'inherit'] })
    try {
      await once(server.stdout, 'data')
      const cpuBefore = treeCpuSeconds(server.pid)
      const kernel = await generate(paths.B, kernelServerIp, 7, { generator })
      kernel.serverCpuSeconds = treeCpuSeconds(server.pid) - cpuBefore
      return kernel
    } finally {
      server.kill('SIGTERM')
      await once(server, 'exit')
    }
  }
  const rounds = []
  for (let round = 0; round < ROUNDS; round++) {
    const result = {}
    for (const side of round % 2 === 0 ? ['ours', 'kernel'] : ['kernel', 'ours']) result[side] = side === 'ours' ? await measureCluster(paths, 2, generator) : await kernelServer()
    rounds.push(result)
  }
  return rounds
})
console.log(`workers-vs-kernel: generator ${generator.kind}; load average ${load.toFixed(2)} at the start`)
for (const [i, { ours, kernel }] of rounds.entries()) {
  console.log(`  round ${i + 1}:`)
  console.log(describe('our stack, 2 workers', ours))
  console.log(describe('Node net, 2 cluster workers, kernel TCP', kernel))
}
const cpuRatio = spread(rounds.map(({ ours, kernel }) => serverCpuPerTransaction(ours) / serverCpuPerTransaction(kernel)))
const rateRatio = spread(rounds.map(({ ours, kernel }) => ours.rate / kernel.rate))
console.log(`  server CPU per transaction, ours / kernel, min/median/max ${cpuRatio.min.toFixed(2)}/${cpuRatio.median.toFixed(2)}/${cpuRatio.max.toFixed(2)}`)
console.log(`  transactions/s, ours / kernel, min/median/max ${rateRatio.min.toFixed(2)}/${rateRatio.median.toFixed(2)}/${rateRatio.max.toFixed(2)}`)
// The reported values: the round with the median CPU ratio.
const { ours, kernel } = rounds.find(({ ours, kernel }) => serverCpuPerTransaction(ours) / serverCpuPerTransaction(kernel) === cpuRatio.median)
report({
  id: 'workers-vs-kernel',
  metric: 'small transactions/s (connect, 64 B request, 64 B response, close) from kernel clients, our stack with 2 workers on AF_PACKET fanout',
  unit: 'transactions/s',
  value: ours.rate,
  baseline: { name: 'Node net server, 2 node:cluster workers (SCHED_NONE) on kernel sockets', value: kernel.rate },
  target: 'ratio ≥ 2',
})
report({
  id: 'workers-vs-kernel-cpu',
  metric: 'server CPU µs per small transaction (user + system), our stack with 2 workers on AF_PACKET fanout',
  unit: 'µs',
  value: serverCpuPerTransaction(ours) * 1e6,
  baseline: { name: 'Node net server, 2 node:cluster workers on kernel sockets (its process tree)', value: serverCpuPerTransaction(kernel) * 1e6 },
  target: 'ratio ≤ 0.5',
})
report({
  id: 'workers-generator-ceiling',
  metric: `load generator (${generator.kind}): transactions per second of its own CPU time (kernel included), i.e. what one free core would let it drive, against the kernel server`,
  unit: 'transactions/s',
  value: 1 / kernel.cpuPerTransaction,
  baseline: { name: 'transactions/s it reached against the kernel server', value: kernel.rate },
})
