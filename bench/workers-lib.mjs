// Shared by the workers benchmarks: the load generator run in namespace B, and the servers under test.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const NODE_CLIENT = fileURLToPath(new URL('./tx-clients.mjs', import.meta.url))
const C_CLIENT = fileURLToPath(new URL('./tx-clients.c', import.meta.url))

/**
 * The generator command: tx-clients.c built with `cc -O2` when a C compiler is there (the native addon
 * needs one anyway), else tx-clients.mjs on Node. Returns { command, args, kind, http } (`http`: whether it
 * can make HTTP/1.1 transactions, `generate(…, { http: true })`).
 */
export function generatorCommand() {
  const directory = mkdtempSync(join(tmpdir(), 'mtcp-tx-'))
  process.on('exit', () => rmSync(directory, { recursive: true, force: true }))
  const binary = join(directory, 'tx-clients')
  const built = spawnSync('cc', ['-O2', '-o', binary, C_CLIENT], { stdio: 'ignore' })
  if (built.status === 0) return { command: binary, args: [], kind: 'C (epoll)', http: true }
  return { command: process.execPath, args: [NODE_CLIENT], kind: 'Node net', http: false }
}

/**
 * Let the clients in namespace `ns` open connections faster than TIME-WAIT ends: the whole port range,
 * and reuse of TIME-WAIT ports after a second (RFC 7323 timestamps keep old segments apart).
 */
export function prepareClientNamespace(ns) {
  execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv4.ip_local_port_range=1024 65000', 'net.ipv4.tcp_tw_reuse=1'], { stdio: 'pipe' })
}

/**
 * Run `processes` generator processes in `ns` against host:port for `seconds` (after `warmup`), each with
 * `concurrency` connection loops. Returns the summed transactions/s, errors, and the generators' CPU
 * seconds per transaction.
 */
export async function generate(ns, host, port, { generator = generatorCommand(), processes = 2, concurrency = 64, warmup = 1, seconds = 5, http = false } = {}) {
  if (http && !generator.http) throw new Error(`the ${generator.kind} generator has no HTTP mode`)
  const children = Array.from({ length: processes }, () => {
    const args = [...generator.args, host, String(port), String(concurrency), String(warmup), String(seconds), ...(http ? ['http'] : [])]
    const child = spawn('ip', ['netns', 'exec', ns, generator.command, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    let output = ''
    child.stdout.on('data', (data) => (output += data))
    return once(child, 'exit').then(() => JSON.parse(output.trim().split('\n').at(-1)))
  })
  const results = await Promise.all(children)
  const transactions = results.reduce((sum, r) => sum + r.transactions, 0)
  const elapsed = Math.max(...results.map((r) => r.seconds))
  const cpuSeconds = results.reduce((sum, r) => sum + r.cpuSeconds, 0)
  const allTransactions = results.reduce((sum, r) => sum + (r.allTransactions ?? r.transactions), 0)
  return { rate: transactions / elapsed, errors: results.reduce((sum, r) => sum + r.errors, 0), cpuPerTransaction: cpuSeconds / Math.max(1, transactions), transactions, allTransactions }
}

/**
 * CPU seconds (user + system, every thread) used so far by process `pid` and all its descendants, from
 * /proc/<pid>/stat (utime, stime: fields 14 and 15, in clock ticks of 1/100 s on Linux).
 */
export function treeCpuSeconds(pid) {
  const parents = new Map()
  const ticks = new Map()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
    } catch {
      continue // exited meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // after "pid (comm) ": field 3 is fields[0]
    parents.set(Number(entry), Number(fields[1]))
    ticks.set(Number(entry), Number(fields[11]) + Number(fields[12]))
  }
  let total = 0
  for (const [candidate, used] of ticks) {
    for (let at = candidate; at > 1; at = parents.get(at) ?? 0) {
      if (at === pid) {
        total += used
        break
      }
    }
  }
  return total / 100
}

/** A server's CPU seconds per transaction over its whole run (warm-up included on both counts). */
export function serverCpuPerTransaction(result) {
  return result.serverCpuSeconds / Math.max(1, result.allTransactions)
}

/** The workers' event-loop busy fraction over a window: `before` and `after` are `cluster.stats()` results. */
export function loopUtilization(before, after) {
  return after.workers.map((worker, i) => {
    const active = worker.eventLoop.active - before.workers[i].eventLoop.active
    const idle = worker.eventLoop.idle - before.workers[i].eventLoop.idle
    return active / Math.max(1e-9, active + idle)
  })
}

/**
 * Transactions/s of our stack with `workers` workers on AF_PACKET fanout on `paths.ours`, driven from
 * namespace B; with the workers' event-loop utilization during the run. The MAC is fixed so the kernel's
 * neighbour entry stays right from one cluster to the next.
 */
export async function measureCluster(paths, workers, generator) {
  const { createCluster } = await import('@mtcp/stack/cluster')
  const cluster = await createCluster({
    workers,
    mac: Uint8Array.of(0x02, 0x6d, 0x74, 0x63, 0x70, 0x01),
    port: { type: 'af-packet', interface: paths.ours, offloads: true },
    stack: { address: `${paths.ourIp}/24` },
    worker: new URL('./workers-app.mjs', import.meta.url),
  })
  try {
    const before = await cluster.stats()
    // The server's CPU time: this process, its main thread and every worker thread (the generator runs in
    // other processes). It includes the warm-up second, as the kernel server's measurement does.
    const cpuBefore = process.cpuUsage()
    const result = await generate(paths.B, paths.ourIp, 7, { generator })
    const cpu = process.cpuUsage(cpuBefore)
    const after = await cluster.stats()
    return {
      ...result,
      serverCpuSeconds: (cpu.user + cpu.system) / 1e6,
      utilization: loopUtilization(before, after),
      forwarded: after.workers.reduce((sum, w) => sum + w.steering.forwarded, 0),
    }
  } finally {
    await cluster.close()
  }
}

/** One line about a measurement, for the console. */
export function describe(name, result) {
  const loops = result.utilization === undefined ? '' : `, worker loops busy ${result.utilization.map((u) => `${Math.round(u * 100)}%`).join('/')}`
  const server = result.serverCpuSeconds === undefined ? '' : `, server ${(serverCpuPerTransaction(result) * 1e6).toFixed(1)} CPU-µs per transaction`
  return `  ${name}: ${Math.round(result.rate)} transactions/s, ${result.errors} errors, generator ${(result.cpuPerTransaction * 1e6).toFixed(1)} CPU-µs per transaction${server}${loops}`
}
