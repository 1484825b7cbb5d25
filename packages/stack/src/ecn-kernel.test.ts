// ECN (RFC 3168) against the Linux kernel with net.ipv4.tcp_ecn = 1 in its namespace: the handshake with
// the kernel as server and as client (checked on both sides: our negotiated state, and TCPI_OPT_ECN in
// the kernel socket's TCP_INFO), and CE marks both ways. This kernel has no ECN-marking qdisc (red,
// fq_codel, codel, pie, choke, fq are not built: `tc qdisc add … red … ecn` answers "unknown qdisc"), so a
// congested router is emulated by nftables on the bridge in front of the kernel: it rewrites the ECN field
// of one ECT packet in 20 to CE (`ip ecn set ce`), before the kernel's TCP sees it (our data) or after the
// kernel's TCP sent it (its data). Root only; skipped (with the reason) where root, a tool or the native
// addon is missing, except in CI.
//
//   this namespace                      namespace NS (the kernel, tcp_ecn = 1)
//   OURS ─────────────── veth ───────── THEIRS ── bridge BRIDGE, 10.202.0.2
//    └ the stack, 10.202.0.1                      └ nftables (bridge family): CE marks
import { execFileSync, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { openPacketPort, type Port } from '@mtcp/dpdk-io'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { skipReason, suiteTitle } from '../../../test/support/environment.js'
import type { TcpConnectionStats } from '@mtcp/tcp-core'
import { createStack, type Stack } from './stack.js'
import { counterDelta, inNamespace, ip, kernelCounters, nativeReady, patternHash, peer as peerIn, quiet, receiveOne, sendPattern } from './test-support/kernel-peer.js'

const skip = skipReason({ root: true, tools: ['ip', 'ethtool', 'python3', 'nft', 'sysctl'], native: await nativeReady() })
const enabled = skip === undefined

const tag = String(process.pid % 100000)
const NS = `mtcpe${tag}`
const OURS = `me${tag}a`
const THEIRS = `me${tag}b`
const BRIDGE = `me${tag}r`
const KERNEL_IP = '10.202.0.2'
const OUR_IP = '10.202.0.1'
const MARK_TABLE = 'mtcp_ce'

const inKernel = (...command: string[]): string => inNamespace(NS, ...command)
const peer = (...args: string[]) => peerIn(NS, ...args)

function cleanUp(): void {
  spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' })
  spawnSync('ip', ['link', 'del', OURS], { stdio: 'ignore' })
}

/** TCPI_OPT_ECN in tcp_info's tcpi_options: the kernel's socket uses ECN. */
const TCPI_OPT_ECN = 8

/**
 * Whether the kernel peer's socket had ECN on, from the `tcpi_options` it printed (TCP_INFO). `ss -ti`
 * would show `ecn`, but the ss of this machine (iproute2 6.1 on a 6.18 kernel) prints none of the
 * option flags (`ts`, `sack`, `ecn`), not even for the kernel's own loopback connections.
 */
async function kernelEcn(peer: { output: Promise<string> }): Promise<boolean> {
  const match = /tcpi_options (\d+)/.exec(await peer.output)
  if (match === null) throw new Error('the kernel peer printed no tcpi_options')
  return (Number(match[1]) & TCPI_OPT_ECN) !== 0
}

/**
 * CE marks on the bridge: one ECT packet in `every` from our address (bridge input hook, before the
 * kernel's TCP) and/or to it (bridge output hook, after the kernel's TCP sent it), rewritten to CE.
 */
function addMarks(every: number, directions: { fromUs: boolean; toUs: boolean }): void {
  const rule = (field: 'saddr' | 'daddr') => `ip ${field} ${OUR_IP} ip protocol tcp ip ecn ect0 numgen inc mod ${every} 0 counter ip ecn set ce;`
  const script = `table bridge ${MARK_TABLE} {
  chain from_us { type filter hook input priority 0; ${directions.fromUs ? rule('saddr') : ''} }
  chain to_us { type filter hook output priority 0; ${directions.toUs ? rule('daddr') : ''} }
}\n`
  execFileSync('ip', ['netns', 'exec', NS, 'nft', '-f', '-'], { input: script, stdio: ['pipe', 'pipe', 'pipe'] })
}

function removeMarks(): void {
  spawnSync('ip', ['netns', 'exec', NS, 'nft', 'delete', 'table', 'bridge', MARK_TABLE], { stdio: 'ignore' })
}

/** Packets each marking chain rewrote so far. */
function marks(): { fromUs: number; toUs: number } {
  const listing = JSON.parse(inKernel('nft', '-j', 'list', 'table', 'bridge', MARK_TABLE)) as {
    nftables: Array<{ rule?: { chain: string; expr: Array<{ counter?: { packets: number } }> } }>
  }
  const seen = { fromUs: 0, toUs: 0 }
  for (const item of listing.nftables) {
    const packets = item.rule?.expr.find((e) => e.counter !== undefined)?.counter?.packets ?? 0
    if (item.rule?.chain === 'from_us') seen.fromUs += packets
    if (item.rule?.chain === 'to_us') seen.toUs += packets
  }
  return seen
}

let port: Port
let stack: Stack

describe.runIf(enabled)(suiteTitle('ECN with the Linux kernel (net.ipv4.tcp_ecn = 1)', skip), () => {
  beforeAll(async () => {
    cleanUp()
    try {
      ip('netns', 'add', NS)
      ip('link', 'add', OURS, 'type', 'veth', 'peer', 'name', THEIRS, 'netns', NS)
      quiet(() => ip('link', 'set', OURS, 'addrgenmode', 'none'))
      execFileSync('ethtool', ['-K', OURS, 'tx', 'off', 'gro', 'on'], { stdio: 'pipe' })
      ip('link', 'set', OURS, 'up')
      ip('-n', NS, 'link', 'set', 'lo', 'up')
      ip('-n', NS, 'link', 'add', BRIDGE, 'type', 'bridge', 'forward_delay', '0')
      ip('-n', NS, 'link', 'set', THEIRS, 'master', BRIDGE)
      for (const dev of [THEIRS, BRIDGE]) quiet(() => ip('-n', NS, 'link', 'set', dev, 'addrgenmode', 'none'))
      inKernel('ethtool', '-K', THEIRS, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off')
      // One segment per packet from the kernel, so a mark is one segment's.
      ip('-n', NS, 'addr', 'add', `${KERNEL_IP}/24`, 'dev', BRIDGE)
      ip('-n', NS, 'link', 'set', THEIRS, 'up')
      ip('-n', NS, 'link', 'set', BRIDGE, 'up')
      inKernel('ethtool', '-K', BRIDGE, 'tso', 'off', 'gso', 'off')
      // RFC 3168 in the kernel's namespace: ask for ECN on connect, accept it on accept.
      inKernel('sysctl', '-q', '-w', 'net.ipv4.tcp_ecn=1')
      port = await openPacketPort({ interface: OURS, offloads: true })
      stack = createStack({ port, address: `${OUR_IP}/24`, tcp: { sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20, ecn: 'on' } })
    } catch (error) {
      cleanUp()
      throw error
    }
  })

  afterAll(() => {
    stack?.stop()
    port?.close()
    removeMarks()
    cleanUp()
  })

  it('our client and a kernel server negotiate ECN (RFC 3168 §6.1.1): ours says so, and so does TCP_INFO on the kernel socket', async () => {
    const sink = peer('sink', KERNEL_IP, '7101')
    await sink.ready
    const socket = stack.connect({ host: KERNEL_IP, port: 7101 })
    await once(socket, 'connect')
    expect(stack.connectionOf(socket.fd)!.negotiated.ecn).toBe(true)
    await sendPattern(socket, 4 << 20)
    const [bytes, hash] = (await sink.result).split(' ')
    expect(Number(bytes)).toBe(4 << 20)
    expect(hash).toBe(patternHash(4 << 20))
    expect(await kernelEcn(sink)).toBe(true)
  }, 60_000)

  it('a kernel client and our server (passive side) negotiate ECN', async () => {
    const total = 64 << 20
    let negotiated: boolean | undefined
    const server = stack.createServer((socket) => {
      negotiated = stack.connectionOf(socket.fd)!.negotiated.ecn
      socket.resume()
      socket.on('end', () => {
        socket.end()
        server.close()
      })
    })
    server.listen(7102)
    const sender = peer('send', OUR_IP, '7102', String(total))
    await sender.result
    expect(negotiated).toBe(true)
    expect(await kernelEcn(sender)).toBe(true)
  }, 60_000)

  it('a kernel server with tcp_ecn = 0 refuses: our ECN-setup SYN gets a plain SYN-ACK, and ECN stays off', async () => {
    inKernel('sysctl', '-q', '-w', 'net.ipv4.tcp_ecn=0')
    try {
      const sink = peer('sink', KERNEL_IP, '7103')
      await sink.ready
      const socket = stack.connect({ host: KERNEL_IP, port: 7103 })
      await once(socket, 'connect')
      expect(stack.connectionOf(socket.fd)!.negotiated.ecn).toBe(false)
      socket.end()
      await sink.result
      expect(await kernelEcn(sink)).toBe(false)
    } finally {
      inKernel('sysctl', '-q', '-w', 'net.ipv4.tcp_ecn=1')
    }
  }, 60_000)

  it('CE marks on our data: the kernel echoes ECE, we reduce once per window with CWR, and nothing is retransmitted', async () => {
    addMarks(20, { fromUs: true, toUs: false })
    try {
      const sink = peer('sink', KERNEL_IP, '7104')
      await sink.ready
      const socket = stack.connect({ host: KERNEL_IP, port: 7104 })
      await once(socket, 'connect')
      const stats = stack.connectionOf(socket.fd)!.stats // the object outlives the connection
      const total = 32 << 20
      await sendPattern(socket, total)
      const [bytes, hash] = (await sink.result).split(' ')
      expect(Number(bytes)).toBe(total)
      expect(hash).toBe(patternHash(total))
      expect(await kernelEcn(sink)).toBe(true)
      expect(marks().fromUs).toBeGreaterThan(0)
      expect(stats.eceReceived).toBeGreaterThan(0)
      expect(stats.ecnReductions).toBeGreaterThan(0)
      expect(stats.ecnReductions).toBeLessThan(stats.eceReceived)
      expect(stats.cwrSent).toBe(stats.ecnReductions)
      expect(stats.retransmittedSegments).toBe(0)
    } finally {
      removeMarks()
    }
  }, 60_000)

  it('CE marks on the kernel data: we echo ECE, the kernel reduces and counts the marks delivered', async () => {
    addMarks(20, { fromUs: false, toUs: true })
    try {
      const kernelBefore = kernelCounters(NS)
      let stats: TcpConnectionStats | undefined
      const received = receiveOne(stack, 7105, (fd) => (stats = stack.connectionOf(fd)!.stats))
      const sender = peer('send', OUR_IP, '7105', String(32 << 20))
      const { bytes, sha256 } = await received
      const [sentBytes, sentHash] = (await sender.result).split(' ')
      expect(bytes).toBe(Number(sentBytes))
      expect(sha256).toBe(sentHash)
      expect(marks().toUs).toBeGreaterThan(0)
      expect(stats!.ceReceived).toBe(marks().toUs)
      // Linux counts, per ACK with ECE, the segments it delivered (TcpExtTCPDeliveredCE).
      expect(counterDelta(kernelBefore, kernelCounters(NS), 'TcpExt.TCPDeliveredCE')).toBeGreaterThan(0)
    } finally {
      removeMarks()
    }
  }, 60_000)
})
