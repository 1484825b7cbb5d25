// The stack on a TAP device against the Linux kernel (root only; addresses inside the test's namespace
// only). Skipped where the native addon, root or a tool is missing, except in CI.
//
//   this process                     namespace NS (the kernel)
//   the stack, 10.202.x.1 ── fd ──── TAP device, 10.202.x.2
//
// A TAP device has two sides: the file descriptor, which our stack reads and writes frames on, and a
// network interface, which belongs to the kernel. The test opens the TAP here and moves its interface
// into a namespace of its own, where the kernel gets an address on it: our stack and the kernel then
// talk over the TAP as over a wire, and the kernel's side is an ordinary interface nothing else uses.
// Each case has its own TAP: with the virtio-net header (checksum offload and TSO both ways: the kernel
// hands us super segments with partial checksums, we hand it ours), without it (full-size frames and
// checksums only), and one multi-queue TAP with a stack on each of two queues.
import { spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { openTapPort, type Port } from '@mtcp/dpdk-io'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { formatMacAddress } from '@mtcp/tcp-core'
import { skipReason, suiteTitle } from '../../../test/support/environment.js'
import { createStack, type Stack } from './stack.js'
import {
  counterDelta,
  echoFlows,
  expectSpread,
  inNamespace,
  ip,
  kernelCounters,
  macOf,
  nativeReady,
  patternHash,
  peer,
  ping,
  quiet,
  receiveOne,
  sendPattern,
} from './test-support/kernel-peer.js'

const skip = skipReason({ root: true, tools: ['ip', 'python3', 'ping'], native: await nativeReady() })
const enabled = skip === undefined

const tag = String(process.pid % 100000)
const NS = `mtcpt${tag}`
/** Largest Ethernet frame without segmentation offload: MTU 1500 + 14. */
const FULL_FRAME = 1514

function cleanUp(): void {
  // The TAP devices go when their last descriptor closes; the namespace takes any left.
  spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' })
}

/** Give the interface of TAP `name` (opened in this namespace) to the kernel in NS with `address`. */
function handToKernel(name: string, address: string): void {
  ip('link', 'set', name, 'netns', NS)
  quiet(() => ip('-n', NS, 'link', 'set', name, 'addrgenmode', 'none'))
  ip('-n', NS, 'addr', 'add', address, 'dev', name)
  ip('-n', NS, 'link', 'set', name, 'up')
}

describe.runIf(enabled)(suiteTitle('a TAP device whose kernel side is in another namespace', skip), () => {
  beforeAll(() => {
    cleanUp()
    ip('netns', 'add', NS)
    ip('-n', NS, 'link', 'set', 'lo', 'up')
  })

  afterAll(() => {
    cleanUp()
  })

  describe.each([
    { header: 'with the virtio-net header (checksum offload and TSO)', offloads: true, subnet: 0, suffix: 'v' },
    { header: 'without the virtio-net header', offloads: false, subnet: 1, suffix: 'p' },
  ])('$header', ({ offloads, subnet, suffix }) => {
    const tap = `mt${tag}${suffix}`
    const kernelIp = `10.202.${subnet}.2`
    const ourIp = `10.202.${subnet}.1`
    let port: Port
    let stack: Stack

    beforeAll(async () => {
      port = await openTapPort({ name: tap, offloads })
      handToKernel(tap, `${kernelIp}/24`)
      stack = createStack({ port, address: `${ourIp}/24`, tcp: { sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } })
    })

    afterAll(() => {
      stack?.stop()
      port?.close()
    })

    it('answers ARP and ping from the kernel', async () => {
      expect(await ping(NS, ourIp, 3)).toMatch(/3 received/)
      expect(stack.stats.rx.arp).toBeGreaterThan(0)
      expect(stack.stats.tx.icmp).toBeGreaterThanOrEqual(3)
      expect(inNamespace(NS, 'ip', 'neigh', 'show', ourIp)).toContain(formatMacAddress(port.link.mac))
    })

    it('sends 100 MB to a kernel server, SHA-256 equal, and the kernel finds no bad checksum', async () => {
      const before = kernelCounters(NS)
      const framesBefore = port.stats.txPackets
      const bytesBefore = port.stats.txBytes
      const sink = peer(NS, 'sink', kernelIp, '7101')
      await sink.ready
      const socket = stack.connect({ host: kernelIp, port: 7101 })
      await once(socket, 'connect')
      const total = 100_000_000
      await sendPattern(socket, total)
      const [bytes, hash] = (await sink.result).split(' ')
      expect(Number(bytes)).toBe(total)
      expect(hash).toBe(patternHash(total))
      const after = kernelCounters(NS)
      expect(counterDelta(before, after, 'Tcp.InSegs')).toBeGreaterThan(0)
      expect(counterDelta(before, after, 'Tcp.InCsumErrors')).toBe(0)
      // With TSO our frames are super segments the kernel cuts; without, none is larger than the MTU allows.
      const averageFrame = (port.stats.txBytes - bytesBefore) / (port.stats.txPackets - framesBefore)
      if (offloads) expect(averageFrame).toBeGreaterThan(FULL_FRAME)
      else expect(averageFrame).toBeLessThanOrEqual(FULL_FRAME)
    }, 120_000)

    it('receives 100 MB from a kernel client, SHA-256 equal', async () => {
      const framesBefore = port.stats.rxPackets
      const bytesBefore = port.stats.rxBytes
      const received = receiveOne(stack, 7102)
      const sender = peer(NS, 'send', ourIp, '7102', String(100_000_000))
      const { bytes, sha256 } = await received
      const [sentBytes, sentHash] = (await sender.result).split(' ')
      expect(bytes).toBe(Number(sentBytes))
      expect(sha256).toBe(sentHash)
      expect(stack.stats.rx.drops.badTcpChecksum + stack.stats.rx.drops.badIpv4Checksum).toBe(0)
      // With offloads the kernel hands over super segments with partial checksums (GSO), never cut.
      const averageFrame = (port.stats.rxBytes - bytesBefore) / (port.stats.rxPackets - framesBefore)
      if (offloads) expect(averageFrame).toBeGreaterThan(FULL_FRAME)
      else expect(averageFrame).toBeLessThanOrEqual(FULL_FRAME)
    }, 120_000)
  })

  it('spreads flows over the two queues of a multi-queue TAP: each flow to exactly one stack, data intact', async () => {
    // One TAP, two queues, a stack on each with one address and one MAC, as two workers would be. The
    // kernel picks a queue per flow (by flow hash, then the queue the flow's packets last came from).
    // ARP requests all hash alike, so the stacks are given the kernel's MAC (a static ARP table).
    const tap = `mt${tag}q`
    const mac = Uint8Array.from([0x02, 0x6d, 0x74, 0x63, 0x70, 0x05])
    const ports = [await openTapPort({ name: tap, multiQueue: true, mac }), await openTapPort({ name: tap, multiQueue: true, mac })]
    try {
      handToKernel(tap, '10.202.2.2/24')
      expect(inNamespace(NS, 'ls', `/sys/class/net/${tap}/queues`).split(/\s+/)).toEqual(expect.arrayContaining(['tx-0', 'tx-1']))
      const stacks = ports.map((p) => createStack({ port: p, address: '10.202.2.1/24', staticArp: [{ ip: '10.202.2.2', mac: macOf(NS, tap) }] }))
      try {
        const flowCount = 32
        const { served, clients } = await echoFlows(stacks, NS, '10.202.2.1', 7120, flowCount, 262_144)
        expectSpread(served, clients, flowCount)
        for (const [index, s] of stacks.entries()) {
          // A frame of another stack's flow would have met no connection here and been answered with a reset.
          expect(s.stats.tcp.passiveOpens).toBe(served[index]!.size)
          expect(s.stats.rx.drops.noSocket).toBe(0)
          expect(s.stats.tx.resets).toBe(0)
        }
      } finally {
        for (const s of stacks) s.stop()
      }
    } finally {
      for (const p of ports) p.close()
    }
  }, 120_000)
})
