// The stack against the Linux kernel: our stack on a packet socket bound to one end of a veth pair, the
// kernel in a network namespace of its own on the other end (root only; addresses inside the test's
// namespace only). Skipped where the native addon, root or a tool is missing, except in CI.
//
//   this namespace                               namespace NS (the kernel)
//   OURS ───────────────────────────── veth ───── THEIRS ── bridge BRIDGE, 10.201.0.2
//   no address; tx checksum off, GRO on            offloads off   └ nftables (bridge family): path loss
//    ├ the stack, 10.201.0.1                       └ dumpcap: one capture of the whole run
//    ├ a stack without offloads, .3 (one test)
//    └ two stacks in one fanout group, .4 (one test)
//
// Every checksum on the wire is final, so the capture of the whole run (started in beforeAll, dissected
// by the last test) can verify them. OURS has transmit checksum offload off: the kernel cuts our super
// segments and completes their checksums before they leave it, and GRO coalesces what arrives before our
// packet socket, as a NIC with TSO and GRO would. THEIRS has every offload off: the kernel's super
// segments (built on the bridge) are cut and checksummed on their way out, and what arrives is not
// coalesced, so the capture on THEIRS sees frames as they crossed. The bridge is there so that nftables
// can drop the kernel's segments on the path after the kernel's TCP has sent them: a drop in the inet
// output hook is reported back to the sending socket and retried in order, which is not loss.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { openPacketPort, type Port } from '@mtcp/dpdk-io'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { formatMacAddress } from '@mtcp/tcp-core'
import { skipReason, suiteTitle } from '../../../test/support/environment.js'
import { createStack, type Stack } from './stack.js'
import {
  counterDelta,
  echoFlows,
  expectSpread,
  has,
  inCI,
  inNamespace,
  ip,
  kernelCounters as countersIn,
  macOf,
  nativeReady,
  patternHash,
  peer as peerIn,
  ping,
  quiet,
  receiveOne,
  sendPattern,
} from './test-support/kernel-peer.js'

const skip = skipReason({ root: true, tools: ['ip', 'ethtool', 'python3', 'ping', 'tc'], native: await nativeReady() })
const enabled = skip === undefined
const canCapture = (enabled && has('dumpcap') && has('tshark')) || inCI
const canDrop = (enabled && has('nft')) || inCI

const tag = String(process.pid % 100000)
const NS = `mtcpk${tag}`
const OURS = `mk${tag}a`
const THEIRS = `mk${tag}b`
const BRIDGE = `mk${tag}r`
const KERNEL_IP = '10.201.0.2'
const OUR_IP = '10.201.0.1'
const THIRD_IP = '10.201.0.3'
const SPREAD_IP = '10.201.0.4'
const LOSS_TABLE = 'mtcp_loss'
/** The port of the test against a kernel peer without SACK. */
const NO_SACK_PORT = 7013
const CAPTURE = join(tmpdir(), `mtcp-kernel-${process.pid}.pcapng`)
/** The ports of the bulk transfers (hundreds of thousands of segments): sampled in the capture, not kept whole. */
const BULK_PORTS = [7001, 7002, 7005, 7009, 7011, 7012, 7013, 7015]
/**
 * What the capture keeps, whole: every frame that is not a TCP segment of a bulk transfer; of the bulk
 * transfers, every SYN, FIN and RST, every segment with options beyond timestamps (SACK blocks), and one
 * plain segment in 256, chosen by the low byte of its TCP checksum, which is as likely to be 0 for a
 * wrong checksum as for a right one.
 */
const CAPTURE_FILTER = [
  `not (${BULK_PORTS.map((p) => `tcp port ${p}`).join(' or ')})`,
  '(tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0)',
  '((tcp[12] & 0xf0) > 0x80)',
  '((tcp[16:2] & 0xff) = 0)',
].join(' or ')

/** Run a command in the kernel's namespace; returns its standard output. */
function inKernel(...command: string[]): string {
  return inNamespace(NS, ...command)
}

function peer(...args: string[]): ReturnType<typeof peerIn> {
  return peerIn(NS, ...args)
}

function kernelCounters(): Map<string, number> {
  return countersIn(NS)
}

function cleanUp(): void {
  spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' })
  spawnSync('ip', ['link', 'del', OURS], { stdio: 'ignore' })
}

/**
 * Path loss on the bridge in the kernel's namespace: `percent` of the TCP segments from our address
 * (bridge input hook: they never reach the kernel's TCP) and/or to it (bridge output hook: the kernel's
 * TCP has sent them, they never reach the wire), chosen at random per frame by nftables.
 */
function addLoss(percent: number, directions: { fromUs: boolean; toUs: boolean }): void {
  const rule = (field: 'saddr' | 'daddr') => `ip ${field} ${OUR_IP} ip protocol tcp numgen random mod 100 < ${percent} counter drop;`
  const script = `table bridge ${LOSS_TABLE} {
  chain from_us { type filter hook input priority 0; ${directions.fromUs ? rule('saddr') : ''} }
  chain to_us { type filter hook output priority 0; ${directions.toUs ? rule('daddr') : ''} }
}\n`
  execFileSync('ip', ['netns', 'exec', NS, 'nft', '-f', '-'], { input: script, stdio: ['pipe', 'pipe', 'pipe'] })
  // Connections made from now on send one segment per packet, so a drop is one segment, not a 64 KB burst.
  inKernel('ethtool', '-K', BRIDGE, 'tso', 'off', 'gso', 'off')
}

function removeLoss(): void {
  spawnSync('ip', ['netns', 'exec', NS, 'nft', 'delete', 'table', 'bridge', LOSS_TABLE], { stdio: 'ignore' })
  spawnSync('ip', ['netns', 'exec', NS, 'ethtool', '-K', BRIDGE, 'tso', 'on', 'gso', 'on'], { stdio: 'ignore' })
}

/** Frames each loss chain dropped so far. */
function lossDrops(): { fromUs: number; toUs: number } {
  const listing = JSON.parse(inKernel('nft', '-j', 'list', 'table', 'bridge', LOSS_TABLE)) as {
    nftables: Array<{ rule?: { chain: string; expr: Array<{ counter?: { packets: number } }> } }>
  }
  const drops = { fromUs: 0, toUs: 0 }
  for (const item of listing.nftables) {
    const packets = item.rule?.expr.find((e) => e.counter !== undefined)?.counter?.packets ?? 0
    if (item.rule?.chain === 'from_us') drops.fromUs += packets
    if (item.rule?.chain === 'to_us') drops.toUs += packets
  }
  return drops
}

let port: Port
let stack: Stack
let dumpcap: ChildProcess | undefined
let dumpcapLog = ''
let dumpcapExit: Promise<unknown> | undefined

/** Start dumpcap on the kernel's veth, whole frames, {@link CAPTURE_FILTER}. */
async function startCapture(): Promise<void> {
  dumpcap = spawn('ip', ['netns', 'exec', NS, 'dumpcap', '-q', '-B', '64', '-i', THEIRS, '-s', '0', '-f', CAPTURE_FILTER, '-w', CAPTURE], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  dumpcapExit = once(dumpcap, 'exit')
  await new Promise<void>((resolve, reject) => {
    dumpcap!.stderr!.on('data', (data: Buffer) => {
      dumpcapLog += data.toString()
      if (dumpcapLog.includes('Capturing on')) resolve()
    })
    dumpcap!.on('exit', (code) => reject(new Error(`dumpcap exited ${code}: ${dumpcapLog}`)))
  })
}

async function stopCapture(): Promise<void> {
  if (dumpcap === undefined) return
  if (dumpcap.exitCode === null && dumpcap.signalCode === null) dumpcap.kill('SIGINT')
  await dumpcapExit
  dumpcap = undefined
}

describe.runIf(enabled)(suiteTitle('interoperability with the Linux kernel', skip), () => {
  beforeAll(async () => {
    cleanUp()
    try {
      ip('netns', 'add', NS)
      ip('link', 'add', OURS, 'type', 'veth', 'peer', 'name', THEIRS, 'netns', NS)
      // No kernel address on our side (only our stack answers for 10.201.0.x) and no IPv6 chatter from it.
      quiet(() => ip('link', 'set', OURS, 'addrgenmode', 'none'))
      // Our super segments are cut and checksummed by the kernel before the wire; what arrives is
      // coalesced again (GRO) before our packet socket, as a NIC with TSO and GRO would do.
      execFileSync('ethtool', ['-K', OURS, 'tx', 'off', 'gro', 'on'], { stdio: 'pipe' })
      ip('link', 'set', OURS, 'up')
      ip('-n', NS, 'link', 'set', 'lo', 'up')
      ip('-n', NS, 'link', 'add', BRIDGE, 'type', 'bridge', 'forward_delay', '0')
      ip('-n', NS, 'link', 'set', THEIRS, 'master', BRIDGE)
      for (const dev of [THEIRS, BRIDGE]) quiet(() => ip('-n', NS, 'link', 'set', dev, 'addrgenmode', 'none'))
      // The kernel's super segments are cut and checksummed in software on their way out of THEIRS, and
      // what arrives on THEIRS is not coalesced: the capture there sees the frames as they were sent.
      inKernel('ethtool', '-K', THEIRS, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off')
      ip('-n', NS, 'addr', 'add', `${KERNEL_IP}/24`, 'dev', BRIDGE)
      ip('-n', NS, 'link', 'set', THEIRS, 'up')
      ip('-n', NS, 'link', 'set', BRIDGE, 'up')
      if (canCapture) await startCapture()
      port = await openPacketPort({ interface: OURS, offloads: true })
      stack = createStack({ port, address: `${OUR_IP}/24`, tcp: { sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } })
    } catch (error) {
      await stopCapture()
      cleanUp()
      throw error
    }
  })

  afterAll(async () => {
    stack?.stop()
    port?.close()
    await stopCapture()
    removeLoss()
    cleanUp()
    if (process.env.MTCP_KEEP_CAPTURE === undefined) rmSync(CAPTURE, { force: true })
  })

  it('answers ARP and ping from the kernel', async () => {
    expect(await ping(NS, OUR_IP, 3)).toMatch(/3 received/)
    expect(stack.stats.rx.arp).toBeGreaterThan(0)
    expect(stack.stats.tx.icmp).toBeGreaterThanOrEqual(3)
    expect(inKernel('ip', 'neigh', 'show', OUR_IP)).toContain(formatMacAddress(port.link.mac))
  })

  it('our client sends 1 GB to a kernel server, SHA-256 equal, with window scaling, timestamps and SACK', async () => {
    const sink = peer('sink', KERNEL_IP, '7001')
    await sink.ready
    const socket = stack.connect({ host: KERNEL_IP, port: 7001 })
    await once(socket, 'connect')
    const negotiated = stack.connectionOf(socket.fd)!.negotiated
    expect(negotiated.timestamps).toBe(true)
    expect(negotiated.sack).toBe(true)
    expect(negotiated.sendShift).toBeGreaterThan(0)
    const total = 1_000_000_000
    await sendPattern(socket, total)
    const [bytes, hash] = (await sink.result).split(' ')
    expect(Number(bytes)).toBe(total)
    expect(hash).toBe(patternHash(total))
  }, 120_000)

  it('a kernel client sends 1 GB to our server, SHA-256 equal', async () => {
    const received = receiveOne(stack, 7002)
    const sender = peer('send', OUR_IP, '7002', String(1_000_000_000))
    const { bytes, sha256 } = await received
    const [sentBytes, sentHash] = (await sender.result).split(' ')
    expect(bytes).toBe(Number(sentBytes))
    expect(sha256).toBe(sentHash)
  }, 120_000)

  it('receives intact from a kernel sender whose packets a tbf limiter drops', async () => {
    // The limiter sits on the bridge port, after the kernel's TCP: its drops are loss on the path.
    inKernel('tc', 'qdisc', 'add', 'dev', THEIRS, 'root', 'tbf', 'rate', '200mbit', 'burst', '10kb', 'limit', '15kb')
    try {
      const received = receiveOne(stack, 7005)
      const sender = peer('send', OUR_IP, '7005', String(20_000_000))
      const { bytes, sha256 } = await received
      const [sentBytes, sentHash] = (await sender.result).split(' ')
      expect(bytes).toBe(Number(sentBytes))
      expect(sha256).toBe(sentHash)
      const stats = inKernel('tc', '-s', 'qdisc', 'show', 'dev', THEIRS)
      expect(Number(/dropped (\d+)/.exec(stats)?.[1] ?? 0)).toBeGreaterThan(0)
    } finally {
      spawnSync('ip', ['netns', 'exec', NS, 'tc', 'qdisc', 'del', 'dev', THEIRS, 'root'], { stdio: 'ignore' })
    }
  }, 120_000)

  it.runIf(canDrop)(suiteTitle('recovers when the path drops 1% of our segments: 200 MB to a kernel server, SHA-256 equal, retransmissions counted', canDrop ? undefined : 'needs nft on PATH'), async () => {
    addLoss(1, { fromUs: true, toUs: false })
    try {
      const retransmittedBefore = stack.stats.tcp.retransmittedSegments
      const kernelBefore = kernelCounters()
      const sink = peer('sink', KERNEL_IP, '7009')
      await sink.ready
      const socket = stack.connect({ host: KERNEL_IP, port: 7009 })
      await once(socket, 'connect')
      const total = 200_000_000
      await sendPattern(socket, total)
      const [bytes, hash] = (await sink.result).split(' ')
      expect(Number(bytes)).toBe(total)
      expect(hash).toBe(patternHash(total))
      const drops = lossDrops()
      expect(drops.fromUs).toBeGreaterThan(0)
      // Not compared with the drops: some were pure ACKs, which are not sent again, and a retransmission can be dropped too.
      expect(stack.stats.tcp.retransmittedSegments - retransmittedBefore).toBeGreaterThan(0)
      const kernelAfter = kernelCounters()
      // The kernel saw the holes (out-of-order data it queued) and never had to discard our segments as bad.
      expect(counterDelta(kernelBefore, kernelAfter, 'TcpExt.TCPOFOQueue')).toBeGreaterThan(0)
      expect(counterDelta(kernelBefore, kernelAfter, 'Tcp.InCsumErrors')).toBe(0)
    } finally {
      removeLoss()
    }
  }, 120_000)

  it.runIf(canDrop)(suiteTitle('RACK-TLP repairs 5% path loss to a kernel server: 50 MB, SHA-256 equal, lost retransmissions found without waiting for the RTO', canDrop ? undefined : 'needs nft on PATH'), async () => {
    addLoss(5, { fromUs: true, toUs: false })
    try {
      const sink = peer('sink', KERNEL_IP, '7015')
      await sink.ready
      const socket = stack.connect({ host: KERNEL_IP, port: 7015 })
      await once(socket, 'connect')
      const connection = stack.connectionOf(socket.fd)!
      expect(connection.config.lossDetection).toBe('rack')
      const total = 50_000_000
      await sendPattern(socket, total)
      const [bytes, hash] = (await sink.result).split(' ')
      expect(Number(bytes)).toBe(total)
      expect(hash).toBe(patternHash(total))
      expect(lossDrops().fromUs).toBeGreaterThan(0)
      // RFC 8985 §6: losses marked by time; at 5% some retransmissions are lost again and found the same way.
      expect(connection.stats.rackLostSegments).toBeGreaterThan(0)
      expect(connection.stats.lostRetransmissions).toBeGreaterThan(0)
    } finally {
      removeLoss()
    }
  }, 120_000)

  it.runIf(canDrop)(suiteTitle('recovers when the path drops 1% each way: 40 MB each way at once, SHA-256 equal, both sides retransmit', canDrop ? undefined : 'needs nft on PATH'), async () => {
    addLoss(1, { fromUs: true, toUs: true })
    try {
      const retransmittedBefore = stack.stats.tcp.retransmittedSegments
      const kernelBefore = kernelCounters()
      // Smaller than the one-way case: with the kernel's ACKs lost too, our sender waits out a retransmission
      // timeout now and then (no tail loss probe), at 200 ms each.
      const total = 40_000_000
      const sink = peer('sink', KERNEL_IP, '7011')
      await sink.ready
      const received = receiveOne(stack, 7012)
      const sender = peer('send', OUR_IP, '7012', String(total))
      const socket = stack.connect({ host: KERNEL_IP, port: 7011 })
      await once(socket, 'connect')
      await sendPattern(socket, total)
      const [sinkBytes, sinkHash] = (await sink.result).split(' ')
      expect(Number(sinkBytes)).toBe(total)
      expect(sinkHash).toBe(patternHash(total))
      const { bytes, sha256 } = await received
      const [sentBytes, sentHash] = (await sender.result).split(' ')
      expect(bytes).toBe(Number(sentBytes))
      expect(sha256).toBe(sentHash)
      const drops = lossDrops()
      expect(drops.fromUs).toBeGreaterThan(0)
      expect(drops.toUs).toBeGreaterThan(0)
      expect(stack.stats.tcp.retransmittedSegments - retransmittedBefore).toBeGreaterThan(0)
      const kernelAfter = kernelCounters()
      // The kernel retransmitted what the path lost (and what our packet socket's queue dropped, see
      // docs/real-networks.md), recovering through our SACK blocks, none of them invalid.
      expect(counterDelta(kernelBefore, kernelAfter, 'Tcp.RetransSegs')).toBeGreaterThan(0)
      expect(counterDelta(kernelBefore, kernelAfter, 'TcpExt.TCPSackRecovery')).toBeGreaterThan(0)
      expect(counterDelta(kernelBefore, kernelAfter, 'TcpExt.TCPSACKDiscard')).toBe(0)
    } finally {
      removeLoss()
    }
  }, 120_000)

  it.runIf(canDrop)('a kernel echo server without SACK repairs its losses by fast retransmit on our duplicate ACKs while we send too', async () => {
    // RFC 5681 §2: an ACK that carries data is not a duplicate. With data flowing both ways, our duplicate
    // ACKs must leave as segments of their own, or a peer without SACK never counts three of them and
    // every loss waits for its retransmission timeout.
    inKernel('sysctl', '-q', '-w', 'net.ipv4.tcp_sack=0')
    addLoss(2, { fromUs: false, toUs: true })
    try {
      const kernelBefore = kernelCounters()
      const echo = peer('echo', KERNEL_IP, String(NO_SACK_PORT), '1')
      await echo.ready
      const socket = stack.connect({ host: KERNEL_IP, port: NO_SACK_PORT })
      await once(socket, 'connect')
      const connection = stack.connectionOf(socket.fd)!
      const total = 20_000_000
      const hash = createHash('sha256')
      let received = 0
      socket.on('data', (data: Buffer) => {
        hash.update(data)
        received += data.length
      })
      const ended = once(socket, 'end')
      await sendPattern(socket, total)
      await ended
      expect(received).toBe(total)
      expect(hash.digest('hex')).toBe(patternHash(total))
      expect(await echo.result).toBe('done')
      expect(lossDrops().toUs).toBeGreaterThan(0)
      const kernelAfter = kernelCounters()
      expect(counterDelta(kernelBefore, kernelAfter, 'TcpExt.TCPSackRecovery')).toBe(0)
      // Our side of the rule, which does not depend on timing: every out-of-order segment was answered by an
      // ACK of its own (RFC 5681 §4.2), never by one riding on our data (§2). Riding on data, they gave the
      // kernel 1 Reno recovery and 55 timeouts in one measurement; as segments of their own, 3 to 34
      // recoveries, as many as the random drops let it count three duplicates in a row.
      expect(connection.stats.outOfOrderSegments).toBeGreaterThan(0)
      expect(connection.stats.pureAcksSent).toBeGreaterThanOrEqual(connection.stats.outOfOrderSegments)
      expect(counterDelta(kernelBefore, kernelAfter, 'TcpExt.TCPRenoRecovery')).toBeGreaterThan(0)
    } finally {
      removeLoss()
      spawnSync('ip', ['netns', 'exec', NS, 'sysctl', '-q', '-w', 'net.ipv4.tcp_sack=1'], { stdio: 'ignore' })
    }
  }, 120_000)

  it('serves 100 concurrent connections against a kernel echo server', async () => {
    const echo = peer('echo', KERNEL_IP, '7004', '100')
    await echo.ready
    const results = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const socket = stack.connect({ host: KERNEL_IP, port: 7004 })
        await once(socket, 'connect')
        const message = Buffer.alloc(10_000, i)
        const chunks: Buffer[] = []
        socket.on('data', (data: Buffer) => chunks.push(data))
        const ended = once(socket, 'end')
        socket.end(message)
        await ended
        return Buffer.concat(chunks).equals(message)
      }),
    )
    expect(results.every(Boolean)).toBe(true)
    expect(await echo.result).toBe('done')
  }, 120_000)

  it('a stack on a port without offloads (checksums made on our side, not by the kernel): the kernel accepts every one', async () => {
    const plainPort = await openPacketPort({ interface: OURS, offloads: false })
    const plain = createStack({ port: plainPort, address: `${THIRD_IP}/24` })
    try {
      const kernelBefore = kernelCounters()
      const sink = peer('sink', KERNEL_IP, '7006')
      await sink.ready
      const socket = plain.connect({ host: KERNEL_IP, port: 7006 })
      await once(socket, 'connect')
      socket.end(Buffer.alloc(2_000_000, 0x61))
      expect((await sink.result).split(' ')[0]).toBe('2000000')
      expect(await ping(NS, THIRD_IP, 2)).toMatch(/2 received/)
      const kernelAfter = kernelCounters()
      expect(counterDelta(kernelBefore, kernelAfter, 'Tcp.InSegs')).toBeGreaterThan(1000)
      expect(counterDelta(kernelBefore, kernelAfter, 'Tcp.InCsumErrors')).toBe(0)
      expect(plain.stats.rx.drops.badTcpChecksum + plain.stats.rx.drops.badIpv4Checksum).toBe(0)
    } finally {
      plain.stop()
      plainPort.close()
    }
  }, 120_000)

  it('closes with FIN and aborts with RST, and the kernel sees each', async () => {
    for (const [port, how, expected] of [
      ['7007', 'end', 'eof'],
      ['7008', 'destroy', 'reset'],
    ] as const) {
      const waiter = peer('wait', KERNEL_IP, port)
      await waiter.ready
      const socket = stack.connect({ host: KERNEL_IP, port: Number(port) })
      await once(socket, 'connect')
      socket.write('some data first')
      if (how === 'end') socket.end()
      else socket.destroy()
      expect(await waiter.result).toBe(expected)
    }
  })

  it('gets a reset from the kernel for a closed port (ECONNREFUSED)', async () => {
    const socket = stack.connect({ host: KERNEL_IP, port: 7999 })
    const closed = new Promise((resolve) => socket.on('close', resolve))
    const [error] = (await once(socket, 'error')) as [Error & { code: string }]
    expect(error.code).toBe('ECONNREFUSED')
    await closed
  })

  it('spreads flows over two packet sockets in one fanout group: each flow to exactly one stack, data intact', async () => {
    // Two stacks with one address and one MAC, as two workers would be. Each flow's frames reach one
    // socket of the group by flow hash; ARP frames all hash alike, so the stacks are given the kernel's
    // MAC (a static ARP table, as mTCP uses) rather than each resolving it.
    const group = 1 + (process.pid % 65000)
    const mac = Uint8Array.from([0x02, 0x6d, 0x74, 0x63, 0x70, 0x04])
    const ports = [await openPacketPort({ interface: OURS, offloads: true, fanoutGroup: group, mac }), await openPacketPort({ interface: OURS, offloads: true, fanoutGroup: group, mac })]
    const stacks = ports.map((p) => createStack({ port: p, address: `${SPREAD_IP}/24`, staticArp: [{ ip: KERNEL_IP, mac: macOf(NS, BRIDGE) }] }))
    try {
      const flowCount = 32
      const { served, clients } = await echoFlows(stacks, NS, SPREAD_IP, 7020, flowCount, 262_144)
      expectSpread(served, clients, flowCount)
      for (const [index, s] of stacks.entries()) {
        // A frame of another stack's flow would have met no connection here and been answered with a reset.
        expect(s.stats.tcp.passiveOpens).toBe(served[index]!.size)
        expect(s.stats.rx.drops.noSocket).toBe(0)
        expect(s.stats.tx.resets).toBe(0)
      }
    } finally {
      for (const s of stacks) s.stop()
      for (const p of ports) p.close()
    }
  }, 120_000)

  it.runIf(canCapture)(suiteTitle('leaves a capture of the whole run with no malformed frame and no bad checksum, every SYN with the options negotiated', canCapture ? undefined : 'needs dumpcap and tshark on PATH'), async ({ annotate }) => {
    await stopCapture()
    const onWire = ['rx_packets', 'tx_packets'].reduce((sum, name) => sum + Number(inKernel('cat', `/sys/class/net/${THEIRS}/statistics/${name}`)), 0)
    const [, kept = '?', dropped = '?'] = /received\/dropped on interface '[^']+': (\d+)\/(\d+)/.exec(dumpcapLog) ?? []
    // Only Ethernet, ARP, IPv4, ICMP and TCP are dissected: the payload is test data, and a dissector
    // registered for one of the test's ports must not judge it.
    const fields = ['frame.number', 'ip.src', 'ip.dst', 'frame.len', 'frame.cap_len', '_ws.malformed', 'ip.checksum.status', 'tcp.checksum.status', 'tcp.checksum', 'tcp.checksum_calculated', 'icmp.checksum.status', 'tcp.len', 'tcp.stream', 'tcp.srcport', 'tcp.dstport', 'tcp.flags.syn', 'tcp.flags.reset', 'tcp.flags.fin', 'tcp.options.wscale.shift', 'tcp.options.sack_perm', 'tcp.options.timestamp.tsval', 'tcp.options.sack_le', 'arp.opcode', 'icmp.type']
    const tshark = spawn(
      'tshark',
      [
        '-r', CAPTURE, '-n',
        '--disable-protocol', 'ALL',
        ...['frame', 'eth', 'ethertype', 'arp', 'ip', 'icmp', 'tcp'].flatMap((name) => ['--enable-protocol', name]),
        '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'tcp.analyze_sequence_numbers:FALSE',
        '-T', 'fields', '-E', 'separator=\t', ...fields.flatMap((field) => ['-e', field]),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let tsharkErrors = ''
    tshark.stderr!.on('data', (data: Buffer) => (tsharkErrors += data.toString()))
    const tally = {
      frames: 0, truncated: 0, malformed: 0, badIp: 0, badTcp: 0, negativeZero: 0, badIcmp: 0, tcpUnverified: 0, tcpVerified: 0,
      bulkPlainSampled: 0, withSack: 0, arpRequests: 0, arpReplies: 0, echoRequests: 0, echoReplies: 0, resets: 0, fins: 0, syns: 0,
      synsWithoutOptions: 0, withoutTimestamps: 0,
    }
    const streams = new Set<string>()
    const problems: string[] = []
    const bulk = new Set(BULK_PORTS.map(String))
    for await (const line of createInterface({ input: tshark.stdout! })) {
      const [number, source, destination, length, captured, malformed, ipStatus, tcpStatus, tcpChecksum, tcpComputed, icmpStatus, tcpLength, stream, srcPort, dstPort, syn, reset, fin, wscale, sackPerm, tsval, sackLeft, arpOp, icmpType] = line.split('\t')
      tally.frames++
      const problemsBefore = tally.truncated + tally.malformed + tally.badIp + tally.badIcmp + tally.badTcp + tally.tcpUnverified
      if (captured !== length) tally.truncated++
      if (malformed !== '') tally.malformed++
      // Checksum status: 1 good, 0 bad, 2 unverified (tshark verifies whatever it has whole).
      if (ipStatus !== '' && ipStatus !== '1') tally.badIp++
      if (icmpStatus !== '' && icmpStatus !== '1') tally.badIcmp++
      // 0xffff for a computed 0x0000 is the same number in one's complement (RFC 1624 §3), accepted by
      // every receiver; tshark calls it bad, with a warning saying so. The kernel's software completion of a
      // partial checksum (skb_checksum_help) writes 0xffff (CSUM_MANGLED_0) for a zero result, once in 65536.
      if (tcpStatus === '0' && tcpChecksum === '0xffff' && tcpComputed === '0x0000') tally.negativeZero++
      else if (tcpStatus === '0') tally.badTcp++
      if (tcpStatus === '2') tally.tcpUnverified++
      if (tcpStatus === '1') tally.tcpVerified++
      if (tally.truncated + tally.malformed + tally.badIp + tally.badIcmp + tally.badTcp + tally.tcpUnverified > problemsBefore && problems.length < 10) {
        problems.push(`frame ${number}: ${source}:${srcPort} > ${destination}:${dstPort}, ${length} bytes, tcp payload ${tcpLength}`)
      }
      if (arpOp === '1') tally.arpRequests++
      if (arpOp === '2') tally.arpReplies++
      if (icmpType === '8') tally.echoRequests++
      if (icmpType === '0') tally.echoReplies++
      if (stream === '') continue
      streams.add(stream!)
      if (sackLeft !== '') tally.withSack++
      if (reset === '1') tally.resets++
      if (fin === '1') tally.fins++
      if (syn === '1') {
        tally.syns++
        // The kernel's SYN-ACK on NO_SACK_PORT leaves out SACK-permitted: SACK is off in its namespace for that test.
        const sackExpected = srcPort !== String(NO_SACK_PORT)
        if (wscale === '' || (sackExpected && sackPerm === '') || tsval === '') tally.synsWithoutOptions++
      }
      // Timestamps on every segment once negotiated (RFC 7323 §3.2); a reset may go without them.
      if (reset !== '1' && tsval === '') tally.withoutTimestamps++
      if ((bulk.has(srcPort!) || bulk.has(dstPort!)) && syn !== '1' && fin !== '1' && reset !== '1' && sackLeft === '' && Number(tcpLength) > 0) tally.bulkPlainSampled++
    }
    const [code] = await once(tshark, 'close')
    expect(code, tsharkErrors).toBe(0)
    annotate(`${onWire} frames on the kernel's veth, ${kept} kept by the capture filter (${dropped} dropped by the kernel): ${JSON.stringify(tally)}`)
    expect(tally, problems.join('; ')).toMatchObject({ truncated: 0, malformed: 0, badIp: 0, badTcp: 0, badIcmp: 0, tcpUnverified: 0, synsWithoutOptions: 0, withoutTimestamps: 0 })
    // The run's traffic is in it: every test's connections, ARP both ways, the pings, FINs and resets,
    // SACK blocks from the loss tests and a sample of every bulk transfer.
    expect(streams.size).toBeGreaterThan(130)
    expect(tally.arpRequests).toBeGreaterThan(0)
    expect(tally.arpReplies).toBeGreaterThan(0)
    // The pings are present (5 were sent; under load dumpcap may report 'Capturing on' a moment before its
    // socket sees the first frame, so the very first one is not required).
    expect(tally.echoRequests).toBeGreaterThanOrEqual(4)
    expect(tally.echoReplies).toBeGreaterThanOrEqual(4)
    expect(tally.resets).toBeGreaterThanOrEqual(2)
    expect(tally.fins).toBeGreaterThan(100)
    expect(tally.withSack).toBeGreaterThan(0)
    expect(tally.bulkPlainSampled).toBeGreaterThan(1000)
    // Not a sample: the kernel verified every segment we sent it, and our stack every one it received.
    expect(kernelCounters().get('Tcp.InCsumErrors')).toBe(0)
    expect(stack.stats.rx.drops.badTcpChecksum + stack.stats.rx.drops.badIpv4Checksum).toBe(0)
  }, 120_000)
})
