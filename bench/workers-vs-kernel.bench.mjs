// The workload of workers-scaling (connect, 64-byte request, 64-byte response, close, from kernel clients
// in namespace B): our stack with 2 workers on AF_PACKET fanout vs a Node `net` server with 2
// node:cluster workers on kernel sockets in namespace A, over the same kind of veth path. Also reports
// the load generator's own ceiling: transactions per CPU-second it spends (kernel time included), and each
// server's CPU time per transaction (ours: this process's threads; the kernel server: its process tree from
// /proc, node:cluster workers included), which is what 2 cores can compare (target ≤ 0.5). Fair because
// both servers face the same generator over the same kind of veth path in the same run, with 2 workers each,
// and each CPU figure counts the server's own processes or threads (user + system) over the whole run.
// Root only.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { requireRoot, withKernelPaths } from './kernel-paths.mjs'
import { report } from './lib.mjs'
import { describe, generate, generatorCommand, measureCluster, prepareClientNamespace, serverCpuPerTransaction, treeCpuSeconds } from './workers-lib.mjs'

const SERVER = fileURLToPath(new URL('./workers-kernel-server.mjs', import.meta.url))

requireRoot('workers-vs-kernel')
const generator = generatorCommand()
const { ours, kernel } = await withKernelPaths('mwk', 218, async (paths) => {
  prepareClientNamespace(paths.B)
  const ours = await measureCluster(paths, 2, generator)
  const kernelServerIp = paths.kernelPeerIp.replace(/\.2$/, '.1') // namespace A's end of the kernel path
  const server = spawn('ip', ['netns', 'exec', paths.A, process.execPath, SERVER, kernelServerIp, '7', '2'], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    await once(server.stdout, 'data')
    const cpuBefore = treeCpuSeconds(server.pid)
    const kernel = await generate(paths.B, kernelServerIp, 7, { generator })
    kernel.serverCpuSeconds = treeCpuSeconds(server.pid) - cpuBefore
    return { ours, kernel }
  } finally {
    server.kill('SIGTERM')
    await once(server, 'exit')
  }
})
console.log(`workers-vs-kernel: generator ${generator.kind}`)
console.log(describe('our stack, 2 workers', ours))
console.log(describe('Node net, 2 cluster workers, kernel TCP', kernel))
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
