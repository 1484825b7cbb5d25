// mtcp-perf over IPv6 beyond the emulated link: our stack on AF_PACKET (and TAP) in namespace A, the Linux
// kernel in namespace B with fd00:200::2/64 on the other end of a veth pair. A's kernel has IPv6 switched
// off on its veth end, so only our stack answers for fd00:200::1 (Neighbor Discovery included). Root only
// (skipped elsewhere, except in CI); each test makes namespaces of its own (named with this process's id)
// and removes them, also on failure.
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it, onTestFinished } from 'vitest'
import { skipReason, suiteTitle } from '../../../test/support/environment.js'

const root = join(import.meta.dirname, '..', '..', '..')
const perfCli = join(root, 'apps/perf/dist/cli.js')
const recvCli = join(root, 'apps/recv/dist/cli.js')
let nativeReady = false
try {
  const path = createRequire(join(root, 'packages', 'dpdk-io', 'package.json')).resolve('@mtcp/dpdk-io-native')
  nativeReady = ((await import(pathToFileURL(path).href)) as { nativeAvailable(): boolean }).nativeAvailable()
} catch {
  nativeReady = false
}
const skip = skipReason({ root: true, tools: ['ip', 'ss'], native: nativeReady })
const iperf3Skip = skipReason({ tools: ['iperf3'] })

const OURS = 'fd00:200::1'
const PEER = 'fd00:200::2'

/** Namespaces A and B joined by a veth pair; with `tap`, a TAP device for the stack bridged to A's veth end. Removed when the test ends. */
function hosts(tag: string, tap = false): { a: string; b: string; dev: string } {
  const a = `m6a${tag}`
  const b = `m6b${tag}`
  const down = (): void => {
    spawnSync('ip', ['netns', 'del', a], { stdio: 'ignore' })
    spawnSync('ip', ['netns', 'del', b], { stdio: 'ignore' })
  }
  onTestFinished(down)
  down()
  const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: 'pipe' })
  ip('netns', 'add', a)
  ip('netns', 'add', b)
  ip('link', 'add', 'v6a0', 'netns', a, 'type', 'veth', 'peer', 'name', 'v6b0', 'netns', b)
  // No IPv6 on A's kernel side: our stack owns fd00:200::1 there.
  execFileSync('ip', ['netns', 'exec', a, 'sysctl', '-qw', 'net.ipv6.conf.v6a0.disable_ipv6=1'])
  ip('-n', a, 'link', 'set', 'lo', 'up')
  ip('-n', b, 'link', 'set', 'lo', 'up')
  ip('-n', a, 'link', 'set', 'v6a0', 'up')
  ip('-n', b, 'link', 'set', 'v6b0', 'up')
  ip('-n', b, 'addr', 'add', `${PEER}/64`, 'dev', 'v6b0', 'nodad')
  if (!tap) return { a, b, dev: 'v6a0' }
  ip('-n', a, 'link', 'add', 'v6br0', 'type', 'bridge')
  execFileSync('ip', ['netns', 'exec', a, 'sysctl', '-qw', 'net.ipv6.conf.v6br0.disable_ipv6=1'])
  ip('-n', a, 'link', 'set', 'v6a0', 'master', 'v6br0')
  execFileSync('ip', ['netns', 'exec', a, 'ip', 'tuntap', 'add', 'mode', 'tap', 'name', 'v6tap0'])
  execFileSync('ip', ['netns', 'exec', a, 'sysctl', '-qw', 'net.ipv6.conf.v6tap0.disable_ipv6=1'])
  ip('-n', a, 'link', 'set', 'v6tap0', 'master', 'v6br0')
  ip('-n', a, 'link', 'set', 'v6tap0', 'up')
  ip('-n', a, 'link', 'set', 'v6br0', 'up')
  return { a, b, dev: 'v6tap0' }
}

/** Wait until the kernel in `ns` listens on TCP `port` (asked with ss there, no traffic sent). */
async function listening(ns: string, port: number, exited: () => boolean, what: string): Promise<void> {
  for (;;) {
    expect(exited(), `${what} exited before listening`).toBe(false)
    if (spawnSync('ip', ['netns', 'exec', ns, 'ss', '-Hltn', `sport = :${port}`], { encoding: 'utf8' }).stdout.includes(String(port))) return
    await new Promise((resolve) => setImmediate(resolve))
  }
}

describe.skipIf(skip !== undefined)(suiteTitle('mtcp-perf over IPv6 across two network namespaces (root)', skip), () => {
  it.each(['af-packet', 'tap'])('--io %s: mtcp-perf on our stack sends over IPv6 to mtcp-recv on the kernel; every byte counted', { timeout: 120_000 }, async (io) => {
    for (const cli of [perfCli, recvCli]) expect(existsSync(cli), `${cli} must be built`).toBe(true)
    const { a, b, dev } = hosts(`${process.pid % 100000}${io === 'tap' ? 't' : 'p'}`, io === 'tap')
    const receiver = spawn('ip', ['netns', 'exec', b, process.execPath, recvCli, 'wait', PEER, '5001', '--once'], { stdio: ['ignore', 'pipe', 'pipe'] })
    onTestFinished(() => void receiver.kill())
    let received = ''
    receiver.stdout.on('data', (data: Buffer) => (received += data.toString()))
    receiver.stderr.on('data', (data: Buffer) => (received += data.toString()))
    let receiverExited = false
    const receiverDone = once(receiver, 'close').then(() => (receiverExited = true))
    await listening(b, 5001, () => receiverExited, `mtcp-recv: ${received}`)
    const run = spawnSync('ip', ['netns', 'exec', a, process.execPath, perfCli, 'send', `[${PEER}]:5001`, '1', '--io', io, '--dev', dev, '--address', `${OURS}/64`, '--cc', 'reno'], { encoding: 'utf8', timeout: 60_000 })
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0)
    await receiverDone
    const output = run.stdout
    // The report names the IPv6 endpoints.
    expect(output).toMatch(new RegExp(`^mtcp-perf: send \\[fd00:200::2\\]:5001 for 1 s over ${io} ${dev} as fd00:200::1/64, congestion control reno$`, 'm'))
    const sent = Number(/^Sent (\d+) bytes in \d+\.\d{6} s$/m.exec(output)![1])
    expect(sent).toBeGreaterThan(0)
    // mtcp-recv counts the perf protocol's one-byte END after the data (decision 0040).
    const done = /^Done with \[?fd00:200::1\]?:\d+, bytes_rcvd: (\d+), /m.exec(received)
    expect(done, received).not.toBeNull()
    expect(Number(done![1])).toBe(sent + 1)
  })

  it.skipIf(iperf3Skip !== undefined)(
    suiteTitle('send --protocol iperf3 over IPv6 from our stack (af-packet) to a stock iperf3 -s on the kernel, --json saying IPv6', iperf3Skip),
    { timeout: 120_000 },
    async () => {
      expect(existsSync(perfCli), `${perfCli} must be built`).toBe(true)
      const { a, b, dev } = hosts(`${process.pid % 100000}i`)
      const server = spawn('ip', ['netns', 'exec', b, 'iperf3', '-s', '-1', '-B', PEER, '-p', '5201', '-J'], { stdio: ['ignore', 'pipe', 'pipe'] })
      onTestFinished(() => void server.kill())
      let serverJson = ''
      server.stdout.on('data', (data: Buffer) => (serverJson += data.toString()))
      let serverExited = false
      const serverDone = once(server, 'close').then(() => (serverExited = true))
      await listening(b, 5201, () => serverExited, `iperf3 -s: ${serverJson}`)
      const client = spawnSync('ip', ['netns', 'exec', a, process.execPath, perfCli, 'send', `[${PEER}]:5201`, '1', '--protocol', 'iperf3', '--io', 'af-packet', '--dev', dev, '--address', `${OURS}/64`, '--json'], { encoding: 'utf8', timeout: 60_000 })
      expect(client.status, `${client.stdout}\n${client.stderr}`).toBe(0)
      const ours = JSON.parse(client.stdout) as { options: { family: number; ip: string; port: number; address: string }; bytesSent: number; serverBytes: number }
      expect(ours.options).toMatchObject({ family: 6, ip: PEER, port: 5201, address: `${OURS}/64` })
      await serverDone
      const theirs = JSON.parse(serverJson) as { start: { connected: { local_host: string; remote_host: string }[] }; end: { sum_received: { bytes: number } } }
      // The kernel's side saw an IPv6 connection from our address.
      expect(theirs.start.connected[0]).toMatchObject({ local_host: PEER, remote_host: OURS })
      expect(ours.bytesSent).toBeGreaterThan(0)
      expect(ours.serverBytes).toBe(theirs.end.sum_received.bytes)
      expect(ours.serverBytes).toBeLessThanOrEqual(ours.bytesSent)
      expect(ours.serverBytes).toBeGreaterThan(0)
    },
  )
})
