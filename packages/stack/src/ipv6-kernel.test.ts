// TCP over IPv6 against the Linux kernel (root only; addresses inside the test's own namespace only):
// Neighbor Discovery both ways (RFC 4861), ping6 (RFC 4443 §4) whole and in fragments (RFC 8200 §4.5, the
// kernel fragments the request, the stack its reply), 100 MB each way with SHA-256, a reset for a closed port,
// one dual-stack listener serving an IPv4 and an IPv6 kernel client at once, the stack's DAD (RFC 4862 §5.4,
// on by default on a real port) passing and failing against a kernel that holds the address, and a router
// advertisement sent from the kernel making it the stack's default router (RFC 4861 §6.3.4). Skipped where
// the native addon, root or a tool is missing, except in CI.
//
//   this namespace                              namespace KERNEL
//   OURS (veth, no kernel addresses) ──────── KB 10.206.0.2/24, fd00:206::2/64 (no DAD); 2001:db8:206::1 on lo
//   the stack: 10.206.0.1/24, fd00:206::1/64
//   OURS2 (veth, no kernel addresses) ─────── KB2 fd00:207::5/64 (no DAD)
//   a second stack: fd00:207::5/64 (the kernel's address: its DAD fails)
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { openPacketPort, type Port } from '@mtcp/dpdk-io'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { skipReason, suiteTitle } from '../../../test/support/environment.js'
import { createStack, type Stack } from './stack.js'
import { rxFramesAccounted } from './stats.js'
import { StackError } from './errors.js'
import { inNamespace, ip, macOf, nativeReady, patternHash, peer, quiet, receiveOne, sendPattern } from './test-support/kernel-peer.js'

const skip = skipReason({ root: true, tools: ['ip', 'ethtool', 'python3', 'ping'], native: await nativeReady() })
const enabled = skip === undefined

const tag = String(process.pid % 100000)
const KERNEL = `mtcp6k${tag}`
const OURS = `m6${tag}a`
const KB = `m6${tag}b`
const OURS2 = `m7${tag}a`
const KB2 = `m7${tag}b`
const DUPLICATE_IP6 = 'fd00:207::5'
const BEHIND_ROUTER_IP6 = '2001:db8:206::1'
const OUR_IP = '10.206.0.1'
const KERNEL_IP = '10.206.0.2'
const OUR_IP6 = 'fd00:206::1'
const KERNEL_IP6 = 'fd00:206::2'
const MB = 1_000_000

function cleanUp(): void {
  spawnSync('ip', ['netns', 'del', KERNEL], { stdio: 'ignore' })
  spawnSync('ip', ['link', 'del', OURS], { stdio: 'ignore' })
  spawnSync('ip', ['link', 'del', OURS2], { stdio: 'ignore' })
}

/** A command in the kernel's namespace; resolves with its output and exit code. */
async function inKernel(...args: string[]): Promise<{ output: string; code: number | null }> {
  const child = spawn('ip', ['netns', 'exec', KERNEL, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (data: Buffer) => (output += data.toString()))
  child.stderr!.on('data', (data: Buffer) => (output += data.toString()))
  const [code] = (await once(child, 'close')) as [number | null]
  return { output, code }
}

let port: Port
let stack: Stack

describe.runIf(enabled)(suiteTitle('TCP over IPv6 against the Linux kernel', skip), () => {
  beforeAll(async () => {
    cleanUp()
    try {
      ip('netns', 'add', KERNEL)
      ip('link', 'add', OURS, 'type', 'veth', 'peer', 'name', KB, 'netns', KERNEL)
      // No kernel IPv6 on our side of the veth: the stack alone answers for its addresses.
      quiet(() => ip('link', 'set', OURS, 'addrgenmode', 'none'))
      spawnSync('ethtool', ['-K', OURS, 'tso', 'off', 'gso', 'off', 'gro', 'off'], { stdio: 'ignore' })
      inNamespace(KERNEL, 'ethtool', '-K', KB, 'tso', 'off', 'gso', 'off', 'gro', 'off')
      ip('link', 'set', OURS, 'up')
      ip('-n', KERNEL, 'addr', 'add', `${KERNEL_IP}/24`, 'dev', KB)
      // nodad: the kernel's address is usable at once (RFC 4862 §5.4 would hold it tentative for a second).
      ip('-n', KERNEL, '-6', 'addr', 'add', `${KERNEL_IP6}/64`, 'dev', KB, 'nodad')
      ip('-n', KERNEL, 'link', 'set', KB, 'up')
      ip('-n', KERNEL, 'link', 'set', 'lo', 'up')
      // An address only reachable through the kernel as a router (the router advertisement test).
      ip('-n', KERNEL, '-6', 'addr', 'add', `${BEHIND_ROUTER_IP6}/128`, 'dev', 'lo')
      // A second link where the kernel holds the address a second stack is given (the DAD test).
      ip('link', 'add', OURS2, 'type', 'veth', 'peer', 'name', KB2, 'netns', KERNEL)
      quiet(() => ip('link', 'set', OURS2, 'addrgenmode', 'none'))
      ip('link', 'set', OURS2, 'up')
      ip('-n', KERNEL, '-6', 'addr', 'add', `${DUPLICATE_IP6}/64`, 'dev', KB2, 'nodad')
      ip('-n', KERNEL, 'link', 'set', KB2, 'up')
      port = await openPacketPort({ interface: OURS, offloads: false })
      stack = createStack({ port, address: `${OUR_IP}/24`, ipv6: `${OUR_IP6}/64` })
    } catch (error) {
      cleanUp()
      throw error
    }
  })

  afterAll(() => {
    stack?.stop()
    port?.close()
    cleanUp()
  })

  it('sends 100 MB to a kernel server over IPv6 (resolving it by Neighbor Discovery), SHA-256 equal', async () => {
    const total = 100 * MB
    const sink = peer(KERNEL, 'sink', KERNEL_IP6, '7601')
    await sink.ready
    const ndpBefore = stack.stats.tx.ndp
    const socket = stack.connect({ host: KERNEL_IP6, port: 7601 })
    await once(socket, 'connect')
    expect(socket.remoteFamily).toBe('IPv6')
    expect(socket.localAddress).toBe(OUR_IP6)
    expect(stack.stats.tx.ndp).toBeGreaterThan(ndpBefore) // our solicitation for the kernel's address (the first IPv6 of this suite)
    expect(stack.tcpInfo(socket.fd).mss).toBe(1440 - 12) // the kernel offered 1440 (1500 − 60); timestamps take 12
    await sendPattern(socket, total)
    const [bytes, hash] = (await sink.result).split(' ')
    expect(Number(bytes)).toBe(total)
    expect(hash).toBe(patternHash(total))
    expect(rxFramesAccounted(stack.stats)).toBe(stack.stats.rx.frames)
  }, 180_000)

  it('answers ping6 from the kernel: the kernel, its neighbour cache flushed, resolves us by Neighbor Discovery first', async () => {
    inNamespace(KERNEL, 'ip', '-6', 'neigh', 'flush', 'dev', KB)
    const ndpBefore = stack.stats.tx.ndp
    const icmpv6Before = stack.stats.tx.icmpv6
    const { output } = await inKernel('ping', '-6', '-c', '3', '-i', '0.2', '-W', '2', '-s', '1000', OUR_IP6)
    expect(output).toMatch(/3 received/)
    expect(output).toMatch(/1008 bytes from fd00:206::1/)
    expect(stack.stats.tx.ndp).toBeGreaterThan(ndpBefore) // our advertisement, answering the kernel's solicitation
    expect(stack.stats.tx.icmpv6 - icmpv6Before).toBe(3)
    // The kernel's neighbour entry for us holds our MAC (from our advertisement's target link-layer address).
    const neighbour = inNamespace(KERNEL, 'ip', '-6', 'neigh', 'show', OUR_IP6, 'dev', KB)
    expect(neighbour).toMatch(/lladdr [0-9a-f:]{17}/)
  }, 30_000)

  it('answers ping -6 -s 3000: the kernel fragments each request, the stack reassembles it (RFC 8200 §4.5) and fragments its reply', async () => {
    const reassembledBefore = stack.stats.reassembly6.reassembled
    const fragmentsBefore = stack.stats.rx.fragments
    const { output } = await inKernel('ping', '-6', '-c', '3', '-i', '0.2', '-W', '2', '-s', '3000', OUR_IP6)
    expect(output).toMatch(/3 received/)
    expect(output).toMatch(/3008 bytes from fd00:206::1/)
    expect(stack.stats.reassembly6.reassembled - reassembledBefore).toBe(3)
    expect(stack.stats.rx.fragments - fragmentsBefore).toBe(3 * 2) // three pieces each over a 1500-byte MTU, the last counting as the datagram
    expect(rxFramesAccounted(stack.stats)).toBe(stack.stats.rx.frames)
  }, 30_000)

  it('ran DAD on its addresses (on by default on a real port): both preferred, none duplicate', () => {
    expect(stack.stats.dad).toMatchObject({ preferred: 2, duplicates: 0 })
    expect(stack.stats.dad.probes).toBeGreaterThanOrEqual(2)
  })

  it('finds its address duplicate when a kernel interface holds it (RFC 4862 §5.4.4): reported with ERR_DUPLICATE_ADDRESS, not used', async () => {
    const port2 = await openPacketPort({ interface: OURS2, offloads: false })
    let second: Stack | undefined
    try {
      const reported = new Promise<StackError>((resolve) => {
        second = createStack({ port: port2, address: '10.207.0.1/24', ipv6: `${DUPLICATE_IP6}/64`, onError: resolve })
      })
      const error = await reported
      expect(error).toBeInstanceOf(StackError)
      expect(error.code).toBe('ERR_DUPLICATE_ADDRESS')
      expect(error.message).toMatch(/fd00:207::5/)
      expect(second!.stats.dad.duplicates).toBe(1)
      expect(() => second!.connect(second!.socket(), 'fd00:207::9', 80)).toThrowError(/EADDRNOTAVAIL/)
    } finally {
      second?.stop()
      port2.close()
    }
  }, 30_000)

  it('takes the kernel as its default router from a router advertisement the kernel sends (RFC 4861 §6.3.4) and reaches an address behind it', async () => {
    const kernelMac = macOf(KERNEL, KB)
    const mac = [...kernelMac].map((byte) => byte.toString(16).padStart(2, '0')).join('')
    // A router advertisement (lifetime 1800 s) with the source link-layer address option, from the kernel's
    // link-local address to all nodes, hop limit 255 (RFC 4861 §6.1.2); the kernel computes the checksum.
    const script = [
      'import socket, struct',
      `index = socket.if_nametoindex('${KB}')`,
      's = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)',
      's.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)',
      's.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)',
      `ra = struct.pack('!BBHBBHII', 134, 0, 0, 64, 0, 1800, 0, 0) + bytes([1, 1]) + bytes.fromhex('${mac}')`,
      "s.sendto(ra, ('ff02::1', 0, 0, index))",
      "print('sent')",
    ].join('\n')
    const advertisementsBefore = stack.stats.routerDiscovery.advertisements
    const sent = await inKernel('python3', '-c', script)
    expect(sent.output.trim()).toBe('sent')
    const sink = peer(KERNEL, 'sink', BEHIND_ROUTER_IP6, '7605')
    await sink.ready
    expect(stack.stats.routerDiscovery.advertisements).toBe(advertisementsBefore + 1)
    const socket = stack.connect({ host: BEHIND_ROUTER_IP6, port: 7605 })
    await once(socket, 'connect')
    await sendPattern(socket, MB)
    const [bytes, hash] = (await sink.result).split(' ')
    expect(Number(bytes)).toBe(MB)
    expect(hash).toBe(patternHash(MB))
  }, 30_000)

  it('receives 100 MB from a kernel client over IPv6, SHA-256 equal', async () => {
    const total = 100 * MB
    const received = receiveOne(stack, 7602)
    const sender = peer(KERNEL, 'send', OUR_IP6, '7602', String(total))
    const [bytes, hash] = (await sender.result).split(' ')
    const ours = await received
    expect(Number(bytes)).toBe(total)
    expect(ours.bytes).toBe(total)
    expect(ours.sha256).toBe(hash)
    expect(ours.sha256).toBe(patternHash(total))
  }, 180_000)

  it('a connect to a closed kernel port is reset: ECONNREFUSED; a kernel connect to a closed port of ours too', async () => {
    const socket = stack.connect({ host: KERNEL_IP6, port: 7609 })
    const [error] = (await once(socket, 'error')) as [Error & { code?: string }]
    expect(error.code).toBe('ECONNREFUSED')
    const resetsBefore = stack.stats.tx.resets
    const refused = await inKernel('python3', '-c', `import socket\ntry:\n  socket.create_connection(('${OUR_IP6}', 7610), timeout=5)\n  print('connected')\nexcept ConnectionRefusedError:\n  print('refused')`)
    expect(refused.output.trim()).toBe('refused')
    expect(stack.stats.tx.resets).toBe(resetsBefore + 1)
  }, 30_000)

  it('serves an IPv4 and an IPv6 kernel client at once on one dual-stack listener', async () => {
    const total = 10 * MB
    const seen: Array<{ family: string | undefined; address: string | undefined; bytes: number; sha256: Promise<string> }> = []
    const { createHash } = await import('node:crypto')
    const server = stack.createServer((socket) => {
      const hash = createHash('sha256')
      const entry = { family: socket.remoteFamily, address: socket.remoteAddress, bytes: 0, sha256: new Promise<string>((resolve) => socket.on('end', () => {
        socket.end()
        resolve(hash.digest('hex'))
      })) }
      socket.on('data', (data: Buffer) => {
        hash.update(data)
        entry.bytes += data.length
      })
      seen.push(entry)
    })
    server.listen(7603) // no host: `::`, both families
    await once(server, 'listening')
    expect(server.address()).toEqual({ address: '::', port: 7603, family: 'IPv6' })
    const over4 = peer(KERNEL, 'send', OUR_IP, '7603', String(total))
    const over6 = peer(KERNEL, 'send', OUR_IP6, '7603', String(total))
    const results = await Promise.all([over4.result, over6.result])
    expect(seen).toHaveLength(2)
    const byAddress = new Map(seen.map((entry) => [entry.address, entry]))
    expect([...byAddress.keys()].sort()).toEqual([`::ffff:${KERNEL_IP}`, KERNEL_IP6])
    for (const entry of seen) {
      expect(entry.family).toBe('IPv6')
      expect(await entry.sha256).toBe(patternHash(total))
      expect(entry.bytes).toBe(total)
    }
    for (const result of results) expect(result).toBe(`${total} ${patternHash(total)}`)
    server.close()
  }, 120_000)
})
