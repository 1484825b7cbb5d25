// A cluster of 2 workers against the Linux kernel: on AF_PACKET fanout (one packet socket per worker in
// one fanout group on a veth end, in 'ports' mode and in 'hash' mode) and on a multi-queue TAP (one queue per worker), with 100
// concurrent kernel clients in a network namespace of their own, and kernel servers for connections
// the workers open. Root only (skipped otherwise, except in CI); every address is inside the test's
// namespaces. Uses the built package, as the workers run plain JavaScript.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { portsFanoutHash } from '@mtcp/dpdk-io'
import { type Cluster, type ClusterStats, createCluster } from '@mtcp/stack/cluster'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { skipReason, suiteTitle } from '../../../../test/support/environment.js'

let nativeReady = false
try {
  const native = (await import('@mtcp/dpdk-io-native' as string)) as { nativeAvailable(): boolean }
  nativeReady = native.nativeAvailable()
} catch {
  nativeReady = false
}
// ip and ping for the namespaces and the ARP and ping checks; python3 for the kernel clients.
const skip = skipReason({ root: true, tools: ['ip', 'ping', 'python3'], native: nativeReady })

const tag = String(process.pid % 100000)
const ECHO_APP = new URL('./fixtures/echo-app.mjs', import.meta.url)
const CLIENTS = join(import.meta.dirname, '..', '..', 'test-peers', 'cluster_clients.py')

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' })
}

/** Run cluster_clients.py in namespace `ns`; resolves with its last output line. */
function python(ns: string, ...args: string[]): { child: ChildProcess; ready: Promise<void>; result: Promise<string> } {
  const child = spawn('ip', ['netns', 'exec', ns, 'python3', CLIENTS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  let errors = ''
  let readyResolve: () => void = () => {}
  const ready = new Promise<void>((resolve) => (readyResolve = resolve))
  child.stdout!.on('data', (data: Buffer) => {
    output += data.toString()
    if (output.includes('ready')) readyResolve()
  })
  child.stderr!.on('data', (data: Buffer) => (errors += data.toString()))
  const result = new Promise<string>((resolve, reject) => {
    child.on('exit', (code) => (code === 0 ? resolve(output.trim().split('\n').at(-1)!) : reject(new Error(`cluster_clients.py exited ${code}: ${output}${errors}`))))
  })
  return { child, ready, result }
}

/** The checks both backends share. */
async function exercise(cluster: Cluster, ns: string, ourIp: string, peerIp: string, port: number, ownerOf: (localPort: number, remotePort: number) => number): Promise<{ forwarded: number; stats: ClusterStats }> {
  // ARP and ping, answered by whichever worker gets them.
  const ping = spawn('ip', ['netns', 'exec', ns, 'ping', '-c', '4', '-i', '0.2', '-W', '2', ourIp], { stdio: ['ignore', 'pipe', 'pipe'] })
  let pingOutput = ''
  ping.stdout!.on('data', (data: Buffer) => (pingOutput += data.toString()))
  await once(ping, 'exit')
  expect(pingOutput).toMatch(/4 received/)

  // 100 concurrent kernel clients, 20 KB each way, every byte checked by the client.
  const clients = python(ns, 'clients', ourIp, '7', '100', '20000')
  const report = JSON.parse(await clients.result) as { ok: number; failed: string[]; ports: number[] }
  expect(report.failed).toEqual([])
  expect(report.ok).toBe(100)
  // Every connection owned by exactly one worker, and both workers got some.
  const accepted = (await cluster.invoke('accepted')) as { remotePort: number; remoteAddress: string }[][]
  const owners = new Map<number, number>()
  accepted.forEach((list, worker) => {
    for (const { remotePort, remoteAddress } of list.filter((a) => a.remoteAddress === peerIp)) {
      expect(owners.has(remotePort)).toBe(false)
      owners.set(remotePort, worker)
    }
  })
  expect([...owners.keys()].sort()).toEqual([...report.ports].sort())
  for (const list of accepted) expect(list.length).toBeGreaterThan(0)

  // Connections the workers open, to a kernel echo server: 20 each.
  const server = python(ns, 'echo', peerIp, String(port), '40')
  await server.ready
  const out = (await cluster.invoke('connectOut', peerIp, port, 20, 20000)) as { ok: boolean; localPort: number; error?: string }[][]
  out.forEach((list, worker) => {
    for (const result of list) {
      expect(result).toMatchObject({ ok: true })
      expect(ownerOf(result.localPort, port)).toBe(worker) // the ports each backend lets a worker choose
    }
  })
  expect(await server.result).toBe('done')
  const stats = await cluster.stats()
  expect(stats.totals.tcp.passiveOpens).toBe(100)
  expect(stats.totals.tcp.activeOpens).toBe(40)
  expect(stats.totals.tx.icmp).toBeGreaterThanOrEqual(4)
  return { forwarded: stats.workers.reduce((sum, w) => sum + w.steering.forwarded, 0), stats }
}

describe.skipIf(skip !== undefined)(suiteTitle('a cluster against the Linux kernel', skip), () => {
  const NS = `mtcpc${tag}`
  const VETH = `mc${tag}a`
  const VETH_PEER = `mc${tag}b`
  const VETH2 = `mc${tag}c`
  const VETH2_PEER = `mc${tag}d`
  const TAP = `mq${tag}t`

  const cleanUp = (): void => {
    spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' })
    spawnSync('ip', ['link', 'del', VETH], { stdio: 'ignore' })
    spawnSync('ip', ['link', 'del', VETH2], { stdio: 'ignore' })
    spawnSync('ip', ['link', 'del', TAP], { stdio: 'ignore' })
  }

  beforeAll(() => {
    cleanUp()
    ip('netns', 'add', NS)
    ip('-n', NS, 'link', 'set', 'lo', 'up')
  })

  afterAll(cleanUp)

  /** A veth pair: our end in the test's namespace without an address, the kernel's end in `NS` as `.2`. */
  const veth = (ours: string, theirs: string, subnet: string): void => {
    ip('link', 'add', ours, 'type', 'veth', 'peer', 'name', theirs, 'netns', NS)
    ip('link', 'set', ours, 'up') // no address: only our stack answers for .1
    ip('-n', NS, 'addr', 'add', `${subnet}.2/24`, 'dev', theirs)
    ip('-n', NS, 'link', 'set', theirs, 'up')
  }

  it("2 workers on AF_PACKET fanout, 'ports' mode (default): 100 concurrent kernel clients intact, ARP and ping, and connections the workers open, none forwarded", async () => {
    veth(VETH, VETH_PEER, '10.209.0')
    const cluster = await createCluster({ workers: 2, port: { type: 'af-packet', interface: VETH, offloads: true }, stack: { address: '10.209.0.1/24' }, worker: ECHO_APP })
    try {
      // The fanout program sends a TCP flow to worker portsFanoutHash(a, b) % 2, so each worker picks such ports.
      const { forwarded, stats } = await exercise(cluster, NS, '10.209.0.1', '10.209.0.2', 7301, (local, remote) => portsFanoutHash(local, remote) % 2)
      expect(stats.workers.map((w) => w.fanoutMode)).toEqual(['ports', 'ports'])
      expect(forwarded).toBe(0)
    } finally {
      await cluster.close()
    }
  }, 120_000)

  it("2 workers on AF_PACKET fanout, 'hash' mode: the same, replies to the workers' connections steered to their owner", async () => {
    veth(VETH2, VETH2_PEER, '10.211.0')
    const cluster = await createCluster({ workers: 2, port: { type: 'af-packet', interface: VETH2, offloads: true, fanoutMode: 'hash' }, stack: { address: '10.211.0.1/24' }, worker: ECHO_APP })
    try {
      const { forwarded, stats } = await exercise(cluster, NS, '10.211.0.1', '10.211.0.2', 7303, (local) => local % 2)
      expect(stats.workers.map((w) => w.fanoutMode)).toEqual(['hash', 'hash'])
      // The kernel's fanout hash ignores our port partition: about half the replies reached the other worker.
      expect(forwarded).toBeGreaterThan(0)
    } finally {
      await cluster.close()
    }
  }, 120_000)

  it('2 workers on a multi-queue TAP: the same, one queue per worker', async () => {
    const cluster = await createCluster({ workers: 2, port: { type: 'tap', name: TAP }, stack: { address: '10.210.0.1/24' }, worker: ECHO_APP })
    try {
      // The first worker created the device in this namespace; the kernel's end moves to the test's.
      ip('link', 'set', TAP, 'netns', NS)
      ip('-n', NS, 'addr', 'add', '10.210.0.2/24', 'dev', TAP)
      ip('-n', NS, 'link', 'set', TAP, 'up')
      await exercise(cluster, NS, '10.210.0.1', '10.210.0.2', 7302, (local) => local % 2)
    } finally {
      await cluster.close()
    }
  }, 120_000)
})
