// The af-packet port against the Linux kernel, with and without PACKET_MMAP rings: a private namespace
// with 10.197.x.2 behind a veth pair made here and removed after (root and the native addon only).
// The kernel is the judge: it answers a TCP SYN to a closed port with a reset only when the checksums
// are right (RFC 9293 §3.10.7.1), and each reset names the SYN it answers (ack = seq + 1).
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes, randomInt } from 'node:crypto'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BufferPool, OffloadFlags, type PacketBuffer } from '../buffer-pool.js'
import type { Port } from '../port.js'
import { openPacketPort, type PacketPortOptions } from './native-port.js'

let nativeAvailable = false
try {
  const native = (await import('@mtcp/dpdk-io-native')) as { nativeAvailable(): boolean }
  nativeAvailable = native.nativeAvailable()
} catch {
  // not installed: the live tests are skipped
}
const live = process.getuid?.() === 0 && nativeAvailable

const tag = randomBytes(3).toString('hex')
const ns = `mtcpp-${tag}`
const outer = `mpo${tag}`
const inner = `mpi${tag}`
const subnet = randomInt(1, 255)
const ourIp = [10, 197, subnet, 1]
const peerIp = [10, 197, subnet, 2]
const ourMac = Uint8Array.from([0x02, 0x6d, 0x74, 0x63, 0x70, 0x02])
const undo: Array<() => void> = []
let setupError: unknown
let peerMac: Uint8Array

function run(command: string, ...args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}
function quiet(fn: () => void): void {
  try {
    fn()
  } catch {
    // best effort
  }
}

beforeAll(() => {
  if (!live) return
  try {
    run('ip', 'netns', 'add', ns)
    undo.push(() => run('ip', 'netns', 'del', ns))
    run('ip', 'link', 'add', outer, 'type', 'veth', 'peer', 'name', inner)
    undo.push(() => quiet(() => run('ip', 'link', 'del', outer)))
    run('ip', 'link', 'set', inner, 'netns', ns)
    quiet(() => run('ip', 'link', 'set', 'dev', outer, 'addrgenmode', 'none'))
    run('ip', 'link', 'set', outer, 'up')
    quiet(() => run('ip', '-n', ns, 'link', 'set', 'dev', inner, 'addrgenmode', 'none'))
    run('ip', '-n', ns, 'addr', 'add', `${peerIp.join('.')}/24`, 'dev', inner)
    run('ip', '-n', ns, 'link', 'set', inner, 'up')
    // The kernel's checksum offload must not hide ours: it verifies what arrives in software.
    run('ethtool', '-K', outer, 'tx', 'off', 'tso', 'off', 'gso', 'off')
    run('ip', 'netns', 'exec', ns, 'ethtool', '-K', inner, 'rx', 'off', 'gro', 'off')
    // The stack's MAC for our address, so the resets need no ARP.
    run('ip', '-n', ns, 'neigh', 'replace', ourIp.join('.'), 'lladdr', [...ourMac].map((b) => b.toString(16).padStart(2, '0')).join(':'), 'dev', inner, 'nud', 'permanent')
    const link = JSON.parse(run('ip', '-n', ns, '-j', 'link', 'show', 'dev', inner)) as Array<{ address: string }>
    peerMac = Uint8Array.from(link[0]!.address.split(':').map((h) => Number.parseInt(h, 16)))
  } catch (err) {
    setupError = err
  }
})

afterAll(() => {
  for (const step of undo.reverse()) quiet(step)
})

const txPool = new BufferPool({ count: 256 })

/** A SYN from our address to a closed port of the peer, checksums left to the port (TX_IP_CHECKSUM | TX_TCP_CHECKSUM). */
function syn(seq: number, srcPort = 40000 + (seq % 20000), dstPort = 9): PacketBuffer {
  const b = txPool.alloc()!
  const d = b.data
  const v = b.view
  const o = b.offset
  d.set(peerMac, o)
  d.set(ourMac, o + 6)
  v.setUint16(o + 12, 0x0800)
  const ip = o + 14
  d.fill(0, ip, ip + 40)
  v.setUint8(ip, 0x45)
  v.setUint16(ip + 2, 40)
  v.setUint16(ip + 4, seq & 0xffff)
  v.setUint8(ip + 8, 64)
  v.setUint8(ip + 9, 6)
  d.set(ourIp, ip + 12)
  d.set(peerIp, ip + 16)
  const tcp = ip + 20
  v.setUint16(tcp, srcPort)
  v.setUint16(tcp + 2, dstPort) // 9 (discard): nothing listens in a fresh namespace
  v.setUint32(tcp + 4, seq >>> 0)
  v.setUint8(tcp + 12, 5 << 4)
  v.setUint8(tcp + 13, 0x02) // SYN
  v.setUint16(tcp + 14, 65535)
  // TX_TCP_CHECKSUM: the field holds the folded pseudo-header sum (RFC 9293 §3.1), the port completes it.
  let sum = ((ourIp[0]! << 8) | ourIp[1]!) + ((ourIp[2]! << 8) | ourIp[3]!) + ((peerIp[0]! << 8) | peerIp[1]!) + ((peerIp[2]! << 8) | peerIp[3]!) + 6 + 20
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  v.setUint16(tcp + 16, sum)
  b.length = 54
  b.l2Length = 14
  b.l3Length = 20
  b.l4Length = 20
  b.offloadFlags = OffloadFlags.TX_IP_CHECKSUM | OffloadFlags.TX_TCP_CHECKSUM
  return b
}

/** The SYN sequence number a received frame resets (a RST|ACK from the peer, ack = seq + 1), or undefined. */
function resetFor(b: PacketBuffer): number | undefined {
  const v = b.view
  const o = b.offset
  if (b.length < 54 || v.getUint16(o + 12) !== 0x0800 || v.getUint8(o + 23) !== 6) return undefined
  const tcp = o + 14 + (v.getUint8(o + 14) & 0x0f) * 4
  if ((v.getUint8(tcp + 13) & 0x04) === 0) return undefined
  return (v.getUint32(tcp + 8) - 1) >>> 0
}

/** The SYN sequence number a received SYN-ACK answers, or undefined. */
function synAckFor(b: PacketBuffer): number | undefined {
  const v = b.view
  const o = b.offset
  if (b.length < 54 || v.getUint16(o + 12) !== 0x0800 || v.getUint8(o + 23) !== 6) return undefined
  const tcp = o + 14 + (v.getUint8(o + 14) & 0x0f) * 4
  if ((v.getUint8(tcp + 13) & 0x12) !== 0x12) return undefined
  return (v.getUint32(tcp + 8) - 1) >>> 0
}

/** Whether a received IPv4/TCP frame's TCP checksum verifies (RFC 9293 §3.1: the sum over the pseudo-header and segment is all ones). */
function tcpChecksumValid(b: PacketBuffer): boolean {
  const v = b.view
  const ip = b.offset + 14
  const ihl = (v.getUint8(ip) & 0x0f) * 4
  const total = v.getUint16(ip + 2)
  const length = total - ihl
  let sum = v.getUint16(ip + 12) + v.getUint16(ip + 14) + v.getUint16(ip + 16) + v.getUint16(ip + 18) + 6 + length
  for (let i = 0; i + 1 < length; i += 2) sum += v.getUint16(ip + ihl + i)
  if (length % 2 === 1) sum += v.getUint8(ip + ihl + length - 1) << 8
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return sum === 0xffff
}

/** Send `bufs` until the port has taken them all (re-offering what it refused), collecting resets. */
async function exchange(port: Port, bufs: PacketBuffer[], resets: number[], expected: number, checksums?: boolean[]): Promise<{ refusedBursts: number }> {
  const rx: PacketBuffer[] = []
  let next = 0
  let refusedBursts = 0
  const deadline = performance.now() + 15_000
  while (next < bufs.length || resets.length < expected) {
    if (performance.now() > deadline) throw new Error(`${resets.length} of ${expected} resets, ${next} of ${bufs.length} frames taken`)
    if (next < bufs.length) {
      const offered = bufs.slice(next, next + 8)
      const taken = port.txBurst(offered, offered.length)
      if (taken < offered.length) {
        refusedBursts++
        for (const kept of offered.slice(taken)) expect(kept.free).toBe(false) // still the caller's
      }
      next += taken
    }
    for (;;) {
      const n = port.rxBurst(rx, 32)
      for (let i = 0; i < n; i++) {
        const seq = resetFor(rx[i]!) ?? synAckFor(rx[i]!)
        if (seq !== undefined) {
          resets.push(seq)
          checksums?.push(tcpChecksumValid(rx[i]!))
        }
        rx[i]!.release()
      }
      if (n < 32) break
    }
    await nextTurn()
  }
  return { refusedBursts }
}

const variants: Array<[string, Partial<PacketPortOptions>]> = [
  ['rings', { ring: true }],
  ['recvmmsg/sendmmsg', { ring: false }],
]

describe.runIf(live)('af-packet port and the kernel', { timeout: 30_000 }, () => {
  it.each(variants)('%s: the kernel accepts the checksums the port completes in native code', async (_, options) => {
    expect(setupError).toBeUndefined()
    const port = await openPacketPort({ interface: outer, mac: ourMac, ...options })
    try {
      expect(port.offloads.txChecksum).toEqual({ ipv4: true, tcp: true, udp: true, tcp6: true })
      expect(port.offloads.segmentation.tcp4).toBe(false)
      const resets: number[] = []
      await exchange(port, [syn(1001), syn(1002), syn(1003)], resets, 3)
      expect(resets.sort()).toEqual([1001, 1002, 1003])
      expect(port.stats.txPackets).toBe(3)
    } finally {
      port.close()
    }
  })

  it.each(variants)('%s: frames the kernel hands over checksum-partial (its veth offloads checksums) arrive complete', async (_, options) => {
    expect(setupError).toBeUndefined()
    // The peer's veth keeps transmit checksum offload on (the default): a listening socket's SYN-ACKs leave
    // checksum-partial, flagged TP_STATUS_CSUMNOTREADY, and the port must complete them, not pass on a bad sum.
    const listener = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', "import socket,sys\ns=socket.socket()\ns.bind(('0.0.0.0',8080))\ns.listen(64)\nprint('ready',flush=True)\nsys.stdin.read()"], { stdio: ['pipe', 'pipe', 'inherit'] })
    const port = await openPacketPort({ interface: outer, mac: ourMac, ...options })
    try {
      await once(listener.stdout!, 'data')
      const replies: number[] = []
      const checksums: boolean[] = []
      const base = options.ring ? 2001 : 3001
      await exchange(port, [0, 1, 2, 3].map((i) => syn(base + i, 45000 + base + i, 8080)), replies, 4, checksums)
      expect(replies.sort()).toEqual([base, base + 1, base + 2, base + 3])
      expect(checksums).toEqual([true, true, true, true])
    } finally {
      port.close()
      listener.stdin!.end()
      listener.kill()
    }
  })

  it('without softwareChecksum the port offers no checksum offload', async () => {
    const port = await openPacketPort({ interface: outer, mac: ourMac, ring: true, softwareChecksum: false })
    try {
      expect(port.offloads.txChecksum).toEqual({ ipv4: false, tcp: false, udp: false, tcp6: false })
    } finally {
      port.close()
    }
  })

  it('rings: hundreds of frames through 8-slot rings both ways, every one answered once', async () => {
    const port = await openPacketPort({ interface: outer, mac: ourMac, ring: true, ringRxFrames: 8, ringTxFrames: 8 })
    try {
      const resets: number[] = []
      const seqs = Array.from({ length: 200 }, (_, i) => 5000 + i)
      // Bursts of 8 into 8-slot rings: the transmit ring wraps 25 times, and so does the receive ring as
      // long as each burst's resets are read before the next.
      await exchange(port, seqs.map((s) => syn(s)), resets, seqs.length)
      expect([...resets].sort((a, b) => a - b)).toEqual(seqs)
      expect(port.stats.drops.noBuffer).toBe(0)
      expect(txPool.inUse).toBe(0) // every frame the port took was released
    } finally {
      port.close()
    }
  })

  it('rings: what the kernel drops on a full receive ring shows in stats.drops.kernel, and nothing else is lost', async () => {
    const port = await openPacketPort({ interface: outer, mac: ourMac, ring: true, ringRxFrames: 8, ringTxFrames: 256 })
    try {
      // 200 SYNs at once, nothing read: 200 resets come back to an 8-slot receive ring.
      const frames = Array.from({ length: 200 }, (_, i) => syn(9000 + i))
      let taken = 0
      while (taken < frames.length) taken += port.txBurst(frames.slice(taken), frames.length - taken)
      // Wait (by condition, not time) until the kernel has dropped some, then drain: every reset was either read or dropped.
      const deadline = performance.now() + 15_000
      while (port.stats.drops.kernel === 0 && performance.now() < deadline) await nextTurn()
      expect(port.stats.drops.kernel).toBeGreaterThan(0)
      const rx: PacketBuffer[] = []
      let received = 0
      while (received + port.stats.drops.kernel < frames.length && performance.now() < deadline) {
        const n = port.rxBurst(rx, 32)
        for (let i = 0; i < n; i++) {
          if (resetFor(rx[i]!) !== undefined) received++
          rx[i]!.release()
        }
        if (n === 0) await nextTurn()
      }
      expect(received + port.stats.drops.kernel).toBe(frames.length)
      expect(received).toBeGreaterThanOrEqual(8)
    } finally {
      port.close()
    }
  })

  it('rings: a full transmit ring is backpressure, not loss: the caller keeps the frames and they all go later', async () => {
    // A slow token bucket holds sent frames in the qdisc, so their slots stay busy.
    run('tc', 'qdisc', 'add', 'dev', outer, 'root', 'tbf', 'rate', '300kbit', 'burst', '1600', 'limit', '100000')
    const port = await openPacketPort({ interface: outer, mac: ourMac, ring: true, ringRxFrames: 64, ringTxFrames: 4 })
    try {
      const resets: number[] = []
      const seqs = Array.from({ length: 40 }, (_, i) => 9000 + i)
      const { refusedBursts } = await exchange(port, seqs.map((s) => syn(s)), resets, seqs.length)
      expect(refusedBursts).toBeGreaterThan(0)
      expect([...resets].sort((a, b) => a - b)).toEqual(seqs)
      expect(port.stats.txPackets).toBe(40)
      expect(port.stats.drops.queueFull).toBe(0)
    } finally {
      port.close()
      run('tc', 'qdisc', 'del', 'dev', outer, 'root')
    }
  })

  it.each(variants)('%s: qdiscBypass sends past the interface queueing discipline, which then counts none of our frames', async (_, options) => {
    // A root qdisc counts what passes it (`tc -s`): every frame without the bypass, none of ours with it.
    run('tc', 'qdisc', 'add', 'dev', outer, 'root', 'tbf', 'rate', '100mbit', 'burst', '64kb', 'limit', '1000000')
    const qdiscPackets = (): number => Number(/Sent \d+ bytes (\d+) pkt/.exec(run('tc', '-s', 'qdisc', 'show', 'dev', outer))?.[1])
    try {
      const passed: number[] = []
      for (const qdiscBypass of [false, true]) {
        const port = await openPacketPort({ interface: outer, mac: ourMac, ...options, qdiscBypass })
        try {
          const before = qdiscPackets()
          const resets: number[] = []
          const seqs = Array.from({ length: 20 }, (_, i) => (qdiscBypass ? 7100 : 7000) + i)
          await exchange(port, seqs.map((s) => syn(s)), resets, seqs.length)
          expect([...resets].sort((a, b) => a - b)).toEqual(seqs)
          passed.push(qdiscPackets() - before)
        } finally {
          port.close()
        }
      }
      expect(passed[0]).toBeGreaterThanOrEqual(20)
      expect(passed[1]).toBeLessThan(20) // the kernel's own frames on the interface may still pass it
    } finally {
      run('tc', 'qdisc', 'del', 'dev', outer, 'root')
    }
  })

  it('rejects a qdiscBypass option that is not a boolean', async () => {
    await expect(openPacketPort({ interface: outer, qdiscBypass: 1 as unknown as boolean })).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG' })
  })

  it('rings with offloads: virtio-net headers go through the ring and the kernel completes the checksum', async () => {
    const port = await openPacketPort({ interface: outer, mac: ourMac, offloads: true, ring: true, ringRxFrames: 8, ringTxFrames: 8 })
    try {
      expect(port.offloads.segmentation.tcp4).toBe(true)
      const resets: number[] = []
      await exchange(port, [syn(77), syn(78)], resets, 2)
      expect(resets.sort()).toEqual([77, 78])
    } finally {
      port.close()
    }
  })

  it.each(variants)('%s: a frame sent while the link is down is dropped and counted as linkDown', async (_, options) => {
    const port = await openPacketPort({ interface: outer, mac: ourMac, ...options })
    run('ip', 'link', 'set', outer, 'down')
    try {
      const frame = syn(4242)
      expect(port.txBurst([frame], 1)).toBe(1) // taken: dropped, not left with the caller
      expect(frame.free).toBe(true)
      expect(port.stats.drops.linkDown).toBe(1)
      expect(port.stats.txPackets).toBe(0)
    } finally {
      run('ip', 'link', 'set', outer, 'up')
      port.close()
    }
  })

  it('rejects a ring option that is not a boolean', async () => {
    await expect(openPacketPort({ interface: outer, ring: 'yes' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG' })
    await expect(openPacketPort({ interface: outer, ring: true, ringTxFrames: 1 })).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG' })
  })
})
