// Fragments and path MTU discovery against the Linux kernel, through a Linux router (root only; addresses
// inside the test's own namespaces only). Skipped where the native addon, root or a tool is missing, except in CI.
//
//   this namespace            namespace ROUTER (forwarding)                 namespace KERNEL
//   OURS ──── veth ──── RA 10.204.0.254/24 (MTU 1500)   RB 10.205.0.254/24 ──── veth ──── KB 10.205.0.2/24
//   the stack, 10.204.0.1                               MTU 1000 (the far link)           MTU 1500
//   (gateway .254)
//
// The kernel's interface has MTU 1500 and its route MTU 1000 with an advertised MSS of 1460 (so it sends
// datagrams of at most 1000 bytes, fragmenting a large echo request, and offers us 1460); the router's far
// side carries 1000. Our stack sends TCP with Don't Fragment (RFC 1191), so the router answers its full
// segments with ICMP "fragmentation needed" and a next-hop MTU of 1000.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { openPacketPort, type Port } from '@mtcp/dpdk-io'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { skipReason, suiteTitle } from '../../../test/support/environment.js'
import { createStack, type Stack } from './stack.js'
import { rxFramesAccounted } from './stats.js'
import { inNamespace, ip, nativeReady, patternHash, peer, quiet, sendPattern } from './test-support/kernel-peer.js'

const skip = skipReason({ root: true, tools: ['ip', 'ethtool', 'python3', 'ping', 'sysctl'], native: await nativeReady() })
const enabled = skip === undefined

const tag = String(process.pid % 100000)
const ROUTER = `mtcpr${tag}`
const KERNEL = `mtcpf${tag}`
const OURS = `mf${tag}a`
const RA = `mf${tag}b`
const RB = `mf${tag}c`
const KB = `mf${tag}d`
const OUR_IP = '10.204.0.1'
const ROUTER_NEAR = '10.204.0.254'
const ROUTER_FAR = '10.205.0.254'
const KERNEL_IP = '10.205.0.2'

function cleanUp(): void {
  spawnSync('ip', ['netns', 'del', ROUTER], { stdio: 'ignore' })
  spawnSync('ip', ['netns', 'del', KERNEL], { stdio: 'ignore' })
  spawnSync('ip', ['link', 'del', OURS], { stdio: 'ignore' })
}

/** `ping` in the kernel's namespace; resolves with its output (whatever its exit status). */
async function pingFromKernel(...args: string[]): Promise<string> {
  const child = spawn('ip', ['netns', 'exec', KERNEL, 'ping', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (data: Buffer) => (output += data.toString()))
  await once(child, 'close')
  return output
}

let port: Port
let stack: Stack

describe.runIf(enabled)(suiteTitle('fragments and path MTU against the Linux kernel, through a router', skip), () => {
  beforeAll(async () => {
    cleanUp()
    try {
      ip('netns', 'add', ROUTER)
      ip('netns', 'add', KERNEL)
      ip('link', 'add', OURS, 'type', 'veth', 'peer', 'name', RA, 'netns', ROUTER)
      ip('-n', ROUTER, 'link', 'add', RB, 'type', 'veth', 'peer', 'name', KB, 'netns', KERNEL)
      quiet(() => ip('link', 'set', OURS, 'addrgenmode', 'none'))
      for (const [ns, dev] of [[ROUTER, RA], [ROUTER, RB], [KERNEL, KB]] as const) {
        quiet(() => ip('-n', ns, 'link', 'set', dev, 'addrgenmode', 'none'))
        // Frames as they are: no super segments either way (what the router forwards is what was sent).
        inNamespace(ns, 'ethtool', '-K', dev, 'tso', 'off', 'gso', 'off', 'gro', 'off')
      }
      spawnSync('ethtool', ['-K', OURS, 'tso', 'off', 'gso', 'off', 'gro', 'off'], { stdio: 'ignore' })
      ip('link', 'set', OURS, 'up')
      ip('-n', ROUTER, 'addr', 'add', `${ROUTER_NEAR}/24`, 'dev', RA)
      ip('-n', ROUTER, 'addr', 'add', `${ROUTER_FAR}/24`, 'dev', RB)
      ip('-n', ROUTER, 'link', 'set', RB, 'mtu', '1000')
      ip('-n', KERNEL, 'addr', 'add', `${KERNEL_IP}/24`, 'dev', KB)
      for (const [ns, dev] of [[ROUTER, RA], [ROUTER, RB], [KERNEL, KB], [ROUTER, 'lo'], [KERNEL, 'lo']] as const) ip('-n', ns, 'link', 'set', dev, 'up')
      // What the kernel sends leaves in datagrams of at most 1000 bytes (RB drops larger frames as it
      // receives them), while it still offers an MSS of 1460 to our stack.
      ip('-n', KERNEL, 'route', 'add', 'default', 'via', ROUTER_FAR, 'mtu', '1000', 'advmss', '1460')
      inNamespace(ROUTER, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1')
      port = await openPacketPort({ interface: OURS, offloads: false })
      stack = createStack({ port, address: `${OUR_IP}/24`, gateway: ROUTER_NEAR })
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

  it('answers `ping -s 3000` (the kernel fragments the request, we reassemble it and fragment the reply)', async () => {
    const output = await pingFromKernel('-c', '3', '-i', '0.2', '-W', '2', '-s', '3000', OUR_IP)
    expect(output).toMatch(/3 received/)
    expect(output).toMatch(/3008 bytes from 10\.204\.0\.1/) // the whole reply, put back together by the kernel
    expect(stack.stats.reassembly.reassembled).toBe(3)
    expect(stack.stats.rx.icmpIn.echoRequest).toBe(3)
    expect(stack.stats.rx.fragments).toBeGreaterThanOrEqual(3)
  }, 30_000)

  it('sends 20 MB to a kernel server behind a 1000-byte link: the router\'s frag-needed lowers the MSS, SHA-256 equal', async () => {
    const total = 20_000_000
    const sink = peer(KERNEL, 'sink', KERNEL_IP, '7301')
    await sink.ready
    const socket = stack.connect({ host: KERNEL_IP, port: 7301 })
    await once(socket, 'connect')
    expect(stack.tcpInfo(socket.fd).mss).toBe(1460 - 12) // the kernel offered 1460; timestamps take 12
    await sendPattern(socket, total)
    const [bytes, hash] = (await sink.result).split(' ')
    expect(Number(bytes)).toBe(total)
    expect(hash).toBe(patternHash(total))
    const stats = stack.stats
    expect(stats.rx.icmpIn.fragmentationNeeded).toBeGreaterThan(0)
    expect(stats.rx.icmpErrors.pathMtuLowered).toBe(1)
    expect(rxFramesAccounted(stats)).toBe(stats.rx.frames)
  }, 120_000)
})
