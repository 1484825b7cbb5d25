// An AF_PACKET port with offloads (virtio-net headers) sends a TCP-over-IPv6 super segment that the Linux
// kernel segments (VIRTIO_NET_HDR_GSO_TCPV6): a handshake written out here with a kernel listener in the
// test's own namespace, then 20,000 bytes in one frame flagged for segmentation, then FIN; the listener
// counts and sums what it read. Root and the native addon only; never skipped in CI.
//
//   this process (root namespace)           namespace NS
//   packet port on VR, fd6e:x::1  ── veth ── VN, fd6e:x::2, node:net listener
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomInt } from 'node:crypto'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { foldChecksum, onesComplementSum } from '@mtcp/primitives'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { skipReason, suiteTitle } from '../../../../test/support/environment.js'
import { BufferPool, OffloadFlags, type PacketBuffer } from '../buffer-pool.js'
import type { Port } from '../port.js'
import { openPacketPort } from './native-port.js'

const native = (await import('@mtcp/dpdk-io-native').catch(() => undefined)) as { nativeAvailable(): boolean } | undefined
const skip = skipReason({ root: true, tools: ['ip'], native: native?.nativeAvailable() === true })

const tag = `${process.pid}`.slice(-6)
const ns = `m6t${tag}`
const vethRoot = `m6t${tag}a`
const vethNs = `m6t${tag}b`
const subnet = randomInt(1, 0xffff)
const ours = `fd6e:${subnet.toString(16)}::1`
const theirs = `fd6e:${subnet.toString(16)}::2`
const OUR_IP = Uint8Array.of(0xfd, 0x6e, subnet >>> 8, subnet & 0xff, ...new Array<number>(11).fill(0), 1)
const THEIR_IP = Uint8Array.of(0xfd, 0x6e, subnet >>> 8, subnet & 0xff, ...new Array<number>(11).fill(0), 2)
const OUR_MAC = Uint8Array.of(0x02, 0, 0, 0x6e, 0, 1)
const LISTEN_PORT = 5001
const PAYLOAD = 20_000
const MSS = 1400

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}
const undo: (() => void)[] = []
let listener: ChildProcess | undefined
let listenerLines: AsyncIterableIterator<string> | undefined
let theirMac = new Uint8Array(6)

beforeAll(async () => {
  if (skip !== undefined) return
  ip('netns', 'add', ns)
  undo.push(() => ip('netns', 'del', ns))
  ip('link', 'add', vethRoot, 'type', 'veth', 'peer', 'name', vethNs)
  undo.push(() => ip('link', 'del', vethRoot))
  ip('link', 'set', vethNs, 'netns', ns)
  execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=0'], { stdio: 'ignore' })
  ip('-n', ns, 'addr', 'add', `${theirs}/64`, 'dev', vethNs, 'nodad')
  ip('-n', ns, 'link', 'set', vethNs, 'up')
  ip('-n', ns, 'neigh', 'replace', ours, 'lladdr', [...OUR_MAC].map((b) => b.toString(16).padStart(2, '0')).join(':'), 'dev', vethNs, 'nud', 'permanent')
  ip('link', 'set', 'dev', vethRoot, 'addrgenmode', 'none')
  ip('link', 'set', 'dev', vethRoot, 'up')
  const link = JSON.parse(ip('-n', ns, '-j', 'link', 'show', vethNs)) as { address: string }[]
  theirMac = Uint8Array.from(link[0]!.address.split(':'), (h) => parseInt(h, 16))
  // The kernel's side: count and sum what one connection sends, print it when the sender closes.
  const script =
    `const s = require('node:net').createServer((c) => { let n = 0, sum = 0; c.on('data', (d) => { n += d.length; for (const b of d) sum = (sum + b) % 4294967296 });` +
    ` c.on('end', () => { console.log(JSON.stringify({ n, sum })); process.exit(0) }) });` +
    ` s.listen(${LISTEN_PORT}, '${theirs}', () => console.log('ready'))`
  listener = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  undo.push(() => listener?.kill())
  listenerLines = createInterface({ input: listener.stdout! })[Symbol.asyncIterator]()
  expect((await listenerLines.next()).value).toBe('ready')
})

afterAll(() => {
  for (const step of undo.reverse()) {
    try {
      step()
    } catch {
      // best effort: the namespace takes the veth with it
    }
  }
})

/** Ethernet + IPv6 + a 20-byte TCP header (with `options`) + `payload`, into a fresh buffer; checksum left to the caller. */
function tcpFrame(pool: BufferPool, seq: number, ack: number, flags: number, payload: Uint8Array, options: number[] = []): PacketBuffer {
  const buffer = pool.alloc()!
  const o = buffer.offset
  const b = buffer.data
  const v = buffer.view
  const l4Length = 20 + options.length
  b.set(theirMac, o)
  b.set(OUR_MAC, o + 6)
  v.setUint16(o + 12, 0x86dd)
  const ip6 = o + 14
  v.setUint32(ip6, 6 << 28) // RFC 8200 §3: version 6, Traffic Class 0, flow label 0
  v.setUint16(ip6 + 4, l4Length + payload.length)
  b[ip6 + 6] = 6
  b[ip6 + 7] = 64
  b.set(OUR_IP, ip6 + 8)
  b.set(THEIR_IP, ip6 + 24)
  const tcp = ip6 + 40
  v.setUint16(tcp, sourcePort)
  v.setUint16(tcp + 2, LISTEN_PORT)
  v.setUint32(tcp + 4, seq >>> 0)
  v.setUint32(tcp + 8, ack >>> 0)
  b[tcp + 12] = (l4Length / 4) << 4
  b[tcp + 13] = flags
  v.setUint16(tcp + 14, 65535)
  v.setUint16(tcp + 16, 0)
  v.setUint16(tcp + 18, 0)
  b.set(options, tcp + 20)
  b.set(payload, tcp + l4Length)
  buffer.length = 14 + 40 + l4Length + payload.length
  buffer.l2Length = 14
  buffer.l3Length = 40
  buffer.l4Length = l4Length
  return buffer
}

/** The folded RFC 8200 §8.1 pseudo-header sum of a frame made by {@link tcpFrame}, with the TCP length. */
function pseudoHeaderSum(buffer: PacketBuffer): number {
  const tcpLength = buffer.length - 54
  return foldChecksum(onesComplementSum(buffer.data, buffer.offset + 22, 32, 6 + tcpLength))
}

/** Complete the TCP checksum in software (for the handshake). */
function withChecksum(buffer: PacketBuffer): PacketBuffer {
  const tcp = buffer.offset + 54
  buffer.view.setUint16(tcp + 16, ~foldChecksum(onesComplementSum(buffer.data, tcp, buffer.length - 54, pseudoHeaderSum(buffer))) & 0xffff)
  return buffer
}

let sourcePort = 0

/** Read frames until a TCP segment from the listener to `sourcePort` with all of `flags` arrives; bounded by a count of empty polls. */
async function receiveSegment(port: Port, pool: BufferPool, flags: number): Promise<{ seq: number; ack: number }> {
  const got: PacketBuffer[] = []
  for (let polls = 0; polls < 20_000; polls++) {
    const n = port.rxBurst(got, 32)
    for (let i = 0; i < n; i++) {
      const f = got[i]!
      const d = f.data
      const o = f.offset
      const match = f.length >= 74 && f.view.getUint16(o + 12) === 0x86dd && d[o + 20] === 6 && f.view.getUint16(o + 54) === LISTEN_PORT && f.view.getUint16(o + 56) === sourcePort
      if (match && (d[o + 67]! & flags) === flags) {
        const result = { seq: f.view.getUint32(o + 58), ack: f.view.getUint32(o + 62) }
        pool.freeBulk(got, n)
        return result
      }
    }
    pool.freeBulk(got, n)
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error(`no segment with flags 0x${flags.toString(16)} from the listener`)
}

describe.skipIf(skip !== undefined)(suiteTitle('AF_PACKET with offloads: TCP over IPv6 segmentation by the kernel (VIRTIO_NET_HDR_GSO_TCPV6)', skip), () => {
  it('sends a 20,000-byte IPv6 super segment that a kernel TCP listener receives whole', async () => {
    const pool = new BufferPool({ count: 64, dataRoom: 70_000 })
    const port = await openPacketPort({ interface: vethRoot, offloads: true, mac: OUR_MAC, pool })
    try {
      expect(port.offloads.segmentation.tcp6).toBe(true)
      sourcePort = randomInt(40_000, 60_000)
      const iss = 0xfffff000 // the sequence space wraps inside the transfer
      // SYN with MSS (RFC 9293 §3.7.1), then the kernel's SYN-ACK, then our ACK.
      expect(port.txBurst([withChecksum(tcpFrame(pool, iss, 0, 0x02, new Uint8Array(0), [2, 4, MSS >>> 8, MSS & 0xff]))], 1)).toBe(1)
      const synAck = await receiveSegment(port, pool, 0x12)
      expect(synAck.ack).toBe((iss + 1) >>> 0)
      const ack = (synAck.seq + 1) >>> 0
      expect(port.txBurst([withChecksum(tcpFrame(pool, iss + 1, ack, 0x10, new Uint8Array(0)))], 1)).toBe(1)
      // One frame of 20,000 bytes, cut by the kernel into MSS-sized segments.
      const payload = Uint8Array.from({ length: PAYLOAD }, (_, i) => (i * 7 + 3) & 0xff)
      const big = tcpFrame(pool, iss + 1, ack, 0x18, payload)
      big.segmentSize = MSS
      big.offloadFlags = OffloadFlags.TX_TCP_CHECKSUM | OffloadFlags.TX_TCP_SEGMENTATION
      big.view.setUint16(big.offset + 54 + 16, pseudoHeaderSum(big)) // the partial checksum, as for IPv4
      expect(port.txBurst([big], 1)).toBe(1)
      expect(port.stats.drops.oversize).toBe(0)
      expect(port.txBurst([withChecksum(tcpFrame(pool, iss + 1 + PAYLOAD, ack, 0x11, new Uint8Array(0)))], 1)).toBe(1)
      const result = JSON.parse((await listenerLines!.next()).value as string) as { n: number; sum: number }
      expect(result).toEqual({ n: PAYLOAD, sum: payload.reduce((s, b) => s + b, 0) })
    } finally {
      port.close()
    }
  })
})
