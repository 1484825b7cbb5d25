// A cluster of 2 workers on one DPDK device with 2 queue pairs (decision record 0031), against the Linux
// kernel: net_af_packet with qpairs=2 on a veth whose other end is in a namespace of the test's own (the
// vdev's sockets form a PACKET_FANOUT_HASH group: one flow, one queue). The main thread initialises the
// EAL once and starts the device; each worker registers its thread with DPDK and polls its own queue.
// Checked: 24 concurrent kernel clients, 64 KB each, their bytes' SHA-256 as each worker received them
// and the echo compared by the client; both workers served flows; each worker received exactly what
// its own queue received (the device's per-queue counters); distinct lcore ids; connections the workers
// open come back (forwarded between workers where the device's hash put a reply on the other queue).
// Root only, and the @mtcp/dpdk-io-dpdk addon (built with libdpdk-dev); skipped with the reason
// otherwise, never in CI. Uses the built package, as the workers run plain JavaScript.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { createCluster } from '@mtcp/stack/cluster'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { skipReason, suiteTitle } from '../../../../test/support/environment.js'
import { inNamespace, ip, quiet } from '../test-support/kernel-peer.js'

async function dpdkReady(): Promise<boolean> {
  try {
    const module = (await import('@mtcp/dpdk-io-dpdk' as string)) as { dpdkAvailable(): boolean }
    return module.dpdkAvailable()
  } catch {
    return false
  }
}

const skip =
  skipReason({ root: true, tools: ['ip', 'ethtool', 'python3'] }) ??
  (process.env.CI !== undefined || (await dpdkReady()) ? undefined : 'needs @mtcp/dpdk-io-dpdk built against DPDK (apt-get install dpdk libdpdk-dev libxdp-dev; pnpm --filter @mtcp/dpdk-io-dpdk build:native)')

const tag = String(process.pid % 100000)
const NS = `mtcpq${tag}`
const OURS = `mq${tag}a`
const THEIRS = `mq${tag}b`
const OUR_IP = '10.217.0.1'
const PEER_IP = '10.217.0.2'
const APP = new URL('./fixtures/hashing-echo-app.mjs', import.meta.url)
const CLIENTS = join(import.meta.dirname, '..', '..', 'test-peers', 'cluster_clients.py')
const FLOWS = 24
const BYTES = 65_536

/** What cluster_clients.py sends on connection `index`: SHA-256 blocks of "<index>:<k>" (its data_for). */
function clientData(index: number, length: number): Buffer {
  const blocks: Buffer[] = []
  for (let k = 0; k * 32 < length; k++) blocks.push(createHash('sha256').update(`${index}:${k}`).digest())
  return Buffer.concat(blocks).subarray(0, length)
}

/** Run cluster_clients.py in the namespace; resolves with its last output line. */
function python(...args: string[]): { child: ChildProcess; ready: Promise<void>; result: Promise<string> } {
  const child = spawn('ip', ['netns', 'exec', NS, 'python3', CLIENTS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
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

function cleanUp(): void {
  spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' })
  spawnSync('ip', ['link', 'del', OURS], { stdio: 'ignore' })
}

describe.skipIf(skip !== undefined)(suiteTitle('a cluster on one DPDK device, one queue pair per worker', skip), () => {
  beforeAll(() => {
    cleanUp()
    try {
      ip('netns', 'add', NS)
      ip('-n', NS, 'link', 'set', 'lo', 'up')
      // No IPv6 on the kernel's end (no router solicitations or MLD reports): after the flows end nothing
      // else arrives, so the per-queue counters can be compared with the workers'.
      inNamespace(NS, 'sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1')
      ip('link', 'add', OURS, 'type', 'veth', 'peer', 'name', THEIRS, 'netns', NS)
      quiet(() => ip('link', 'set', OURS, 'addrgenmode', 'none'))
      // The kernel's segments arrive cut and checksummed: net_af_packet takes frames as they are.
      inNamespace(NS, 'ethtool', '-K', THEIRS, 'tx', 'off', 'tso', 'off', 'gso', 'off')
      spawnSync('ethtool', ['-K', OURS, 'gro', 'off'], { stdio: 'ignore' })
      ip('link', 'set', OURS, 'up')
      ip('-n', NS, 'addr', 'add', `${PEER_IP}/24`, 'dev', THEIRS)
      ip('-n', NS, 'link', 'set', THEIRS, 'up')
    } catch (error) {
      cleanUp()
      throw error
    }
  })

  afterAll(cleanUp)

  it('2 workers on net_af_packet qpairs=2: kernel flows intact (SHA-256) and spread, each worker fed by its own queue only, lcores apart, own connections come back', async () => {
    const eal = [
      '--no-huge', '-m', '512', '--no-pci', '-l', '0', '--no-shconf', `--file-prefix=mtcpq${tag}`, '--log-level=lib.eal:error', '--no-telemetry',
      // framecnt: room for every flow's window, so the group's rollover (to another queue when one is full) never happens.
      `--vdev=net_af_packet0,iface=${OURS},qpairs=2,framecnt=4096`,
    ]
    const cluster = await createCluster({ workers: 2, port: { type: 'dpdk', eal, port: 'net_af_packet0', poolSize: 8192 }, stack: { address: `${OUR_IP}/24` }, worker: APP })
    try {
      const before = await cluster.stats()
      expect(before.workers.map((w) => w.dpdk?.queue)).toEqual([0, 1])
      expect(before.workers.map((w) => w.dpdk?.steering)).toEqual(['opaque', 'opaque'])
      const lcores = before.workers.map((w) => w.dpdk?.lcore)
      expect(lcores.every((lcore) => typeof lcore === 'number' && lcore > 0)).toBe(true) // the EAL's own thread is lcore 0 (-l 0)
      expect(new Set(lcores).size).toBe(2)

      const clients = python('clients', OUR_IP, '8', String(FLOWS), String(BYTES))
      const report = JSON.parse(await clients.result) as { ok: number; failed: string[]; ports: number[] }
      expect(report.failed).toEqual([])
      expect(report.ok).toBe(FLOWS)

      // What each worker received, hashed as it arrived: exactly the clients' data, each flow on one worker.
      const received = (await cluster.invoke('received')) as { remotePort: number; bytes: number; sha256: string }[][]
      const expected = Array.from({ length: FLOWS }, (_, i) => createHash('sha256').update(clientData(i, BYTES)).digest('hex')).sort()
      expect(received.flat().map((r) => r.sha256).sort()).toEqual(expected)
      expect(received.flat().map((r) => r.remotePort).sort()).toEqual([...report.ports].sort())
      for (const list of received) expect(list.length).toBeGreaterThan(0)

      // Connections the workers open to a kernel echo server: 4 each, their echo checked by SHA-256.
      const server = python('echo', PEER_IP, '7411', '8')
      await server.ready
      const out = (await cluster.invoke('connectOut', PEER_IP, 7411, 4, 20_000)) as { ok: boolean; localPort: number; sha256?: string; hash?: string }[][]
      out.forEach((list, worker) => {
        for (const result of list) {
          expect(result).toMatchObject({ ok: true })
          expect(result.localPort % 2).toBe(worker) // the ephemeral ports are partitioned: the device's hash is not computable
        }
      })
      expect(await server.result).toBe('done')

      // Each worker read its own queue and nothing else: its port's receive count is its queue's.
      const after = await cluster.stats()
      const device = cluster.deviceStats()!
      const perQueue = [device.rx_q0_packets, device.rx_q1_packets]
      expect(perQueue.every((n) => typeof n === 'number' && n > 0)).toBe(true)
      expect(after.workers.map((w) => w.port.rxPackets)).toEqual(perQueue)
      expect(after.totals.tcp.passiveOpens).toBe(FLOWS)
      expect(after.totals.tcp.activeOpens).toBe(8)
      // No accepted flow's segment reached the other worker (it would have been reset, and the flow failed above).
      expect(after.totals.tx.resets).toBe(0)
    } finally {
      await cluster.close()
    }
  }, 120_000)
})
