// PACKET_MMAP rings: live tests on veth pairs made here and removed after (root only).
//   pair: two veth ends in this namespace, no addresses, a ring socket on each (frames both ways)
//   peer: a veth end in this namespace ↔ a private namespace with 10.198.x.2 (a kernel receiver)
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { once } from 'node:events'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  close,
  decodeVnetHeader,
  encodeVnetHeader,
  nativeAvailable,
  packetOpen,
  readBurst,
  ringStats,
  unwatch,
  VNET_HEADER_LENGTH,
  VnetFlags,
  VnetGsoType,
  watch,
  writeBurst,
} from './index.js'

const live = process.getuid?.() === 0 && nativeAvailable()
const tag = randomBytes(3).toString('hex')
const pairA = `mra${tag}`
const pairB = `mrb${tag}`
const ns = `mtcpr-${tag}`
const peerOuter = `mro${tag}`
const peerInner = `mri${tag}`
const subnet = randomInt(1, 255)
const ourIp = [10, 198, subnet, 1]
const peerIp = [10, 198, subnet, 2]
const undo: Array<() => void> = []
let setupError: unknown
let peerMac: Uint8Array

/** The experimental EtherType of IEEE 802 (local use): nothing in the kernel answers or forwards it. */
const ETHERTYPE_TEST = 0x88b5

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
function macOf(dev: string, namespace?: string): Uint8Array {
  const json = JSON.parse(namespace ? run('ip', '-n', namespace, '-j', 'link', 'show', 'dev', dev) : run('ip', '-j', 'link', 'show', 'dev', dev)) as Array<{ address: string }>
  return Uint8Array.from(json[0]!.address.split(':').map((h) => Number.parseInt(h, 16)))
}

beforeAll(() => {
  if (!live) return
  try {
    run('ip', 'link', 'add', pairA, 'type', 'veth', 'peer', 'name', pairB)
    undo.push(() => run('ip', 'link', 'del', pairA))
    for (const dev of [pairA, pairB]) {
      quiet(() => run('ip', 'link', 'set', 'dev', dev, 'addrgenmode', 'none')) // no IPv6 link-local chatter
      run('ip', 'link', 'set', dev, 'up')
    }
    run('ip', 'netns', 'add', ns)
    undo.push(() => run('ip', 'netns', 'del', ns))
    run('ip', 'link', 'add', peerOuter, 'type', 'veth', 'peer', 'name', peerInner)
    undo.push(() => quiet(() => run('ip', 'link', 'del', peerOuter)))
    run('ip', 'link', 'set', peerInner, 'netns', ns)
    quiet(() => run('ip', 'link', 'set', 'dev', peerOuter, 'addrgenmode', 'none'))
    run('ip', 'link', 'set', peerOuter, 'up')
    quiet(() => run('ip', '-n', ns, 'link', 'set', 'dev', peerInner, 'addrgenmode', 'none'))
    run('ip', '-n', ns, 'addr', 'add', `${peerIp.join('.')}/24`, 'dev', peerInner)
    run('ip', '-n', ns, 'link', 'set', peerInner, 'up')
    peerMac = macOf(peerInner, ns)
  } catch (err) {
    setupError = err
  }
})

afterAll(() => {
  for (const step of undo.reverse()) quiet(step)
})

// ------------------------------------------------------------------------------------------------
// Frames

const OUR_MAC = Uint8Array.from([0x02, 0x6d, 0x74, 0x63, 0x70, 0x01])

/** A test frame: broadcast, EtherType 0x88b5, then `seq` (uint32) and `length - 18` bytes derived from it. */
function testFrame(seq: number, length = 60 + (seq % 7) * 211): Uint8Array {
  const f = new Uint8Array(length)
  f.fill(0xff, 0, 6)
  f.set(OUR_MAC, 6)
  f[12] = ETHERTYPE_TEST >> 8
  f[13] = ETHERTYPE_TEST & 0xff
  new DataView(f.buffer).setUint32(14, seq)
  for (let i = 18; i < length; i++) f[i] = (seq * 31 + i) & 0xff
  return f
}
function isTestFrame(frame: Uint8Array): boolean {
  return frame.length >= 18 && frame[12] === ETHERTYPE_TEST >> 8 && frame[13] === (ETHERTYPE_TEST & 0xff)
}
function seqOf(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(14)
}

/** RFC 1071, byte by byte: an independent check of the addon's checksum. */
function checksum(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial
  for (let i = start; i < end; i += 2) sum += (bytes[i]! << 8) | (i + 1 < end ? bytes[i + 1]! : 0)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

/** Ethernet + IPv4 (checksum filled) + UDP to the peer, UDP checksum 0 (none) unless `pseudoSum`, which puts the folded pseudo-header sum in the field for completion. */
function udpFrame(payload: Uint8Array, pseudoSum = false): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8 + payload.length)
  const v = new DataView(f.buffer)
  f.set(peerMac, 0)
  f.set(OUR_MAC, 6)
  v.setUint16(12, 0x0800)
  v.setUint8(14, 0x45)
  v.setUint16(16, 20 + 8 + payload.length)
  v.setUint8(22, 64)
  v.setUint8(23, 17)
  f.set(ourIp, 26)
  f.set(peerIp, 30)
  v.setUint16(24, checksum(f, 14, 34))
  v.setUint16(34, 40000)
  v.setUint16(36, 7300)
  v.setUint16(38, 8 + payload.length)
  f.set(payload, 42)
  if (pseudoSum) {
    const udpLength = 8 + payload.length
    let sum = ((ourIp[0]! << 8) | ourIp[1]!) + ((ourIp[2]! << 8) | ourIp[3]!) + ((peerIp[0]! << 8) | peerIp[1]!) + ((peerIp[2]! << 8) | peerIp[3]!) + 17 + udpLength
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
    v.setUint16(40, sum)
  }
  return f
}

// ------------------------------------------------------------------------------------------------
// Burst helpers

interface Reader {
  slots: Uint8Array[]
  offsets: Int32Array
  lengths: Int32Array
  vnet: Uint8Array
}
function reader(count: number, headroom = 64): Reader {
  return {
    slots: Array.from({ length: count }, () => new Uint8Array(2048)),
    offsets: new Int32Array(count).fill(headroom),
    lengths: new Int32Array(count),
    vnet: new Uint8Array(count * VNET_HEADER_LENGTH),
  }
}

/** Read what is waiting; test frames (copied) are pushed to `into`. Returns how many frames were read. */
function drain(fd: number, r: Reader, into: Uint8Array[], vnetHeader = false, vnets?: Uint8Array[]): number {
  let total = 0
  for (;;) {
    const n = readBurst(fd, r.slots, r.offsets, r.lengths, r.slots.length, vnetHeader, r.vnet)
    for (let i = 0; i < n; i++) {
      expect(r.lengths[i]).toBeGreaterThan(0)
      const frame = r.slots[i]!.subarray(r.offsets[i]!, r.offsets[i]! + r.lengths[i]!)
      if (!isTestFrame(frame) && !vnets) continue
      into.push(frame.slice())
      vnets?.push(r.vnet.slice(i * 10, i * 10 + 10))
    }
    total += n
    if (n < r.slots.length) return total
  }
}

/** Resolve once `done()` holds, checking on every turn of the event loop (the deadline only turns a hang into a failure). */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 15_000
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await nextTurn()
  }
}

function writeAll(fd: number, frames: Uint8Array[], vnetIn?: Uint8Array): number {
  const offsets = new Int32Array(frames.length)
  const lengths = Int32Array.from(frames, (f) => f.length)
  return writeBurst(fd, frames, offsets, lengths, frames.length, vnetIn)
}

// ------------------------------------------------------------------------------------------------

describe.runIf(live)('PACKET_MMAP rings on a veth pair', { timeout: 20_000 }, () => {
  it('carry frames both ways, byte for byte and in order, many times around small rings', async () => {
    expect(setupError).toBeUndefined()
    const a = packetOpen(pairA, { ringRxFrames: 8, ringTxFrames: 8 })
    const b = packetOpen(pairB, { ringRxFrames: 8, ringTxFrames: 8 })
    try {
      expect(ringStats(a)).toMatchObject({ rxSlots: 8, txSlots: 8, frameSize: 2048 })
      for (const [from, to] of [
        [a, b],
        [b, a],
      ] as const) {
        const got: Uint8Array[] = []
        const r = reader(8)
        // 100 frames in bursts of 5: the 8-slot rings wrap twelve times in each direction.
        for (let seq = 0; seq < 100; seq += 5) {
          const burst = Array.from({ length: 5 }, (_, k) => testFrame(seq + k))
          expect(writeAll(from, burst)).toBe(5)
          const want = seq + 5
          await until(() => (drain(to, r, got), got.length >= want), `frame ${want - 1}`)
        }
        expect(got.map(seqOf)).toEqual(Array.from({ length: 100 }, (_, i) => i))
        for (const frame of got) expect(frame).toEqual(testFrame(seqOf(frame)))
      }
      expect(ringStats(a)).toMatchObject({ txFrames: 100, rxKernelDrops: 0, txRefused: 0, txWrongFormat: 0 })
      expect(ringStats(b)).toMatchObject({ txFrames: 100, rxKernelDrops: 0 })
      expect(ringStats(a)!.txKicks).toBe(20) // one send() per burst
    } finally {
      close(a)
      close(b)
    }
  })

  it('wakes a watcher when a frame lands in the ring', async () => {
    const a = packetOpen(pairA, { ringRxFrames: 8, ringTxFrames: 8 })
    const b = packetOpen(pairB, { ringRxFrames: 8, ringTxFrames: 8 })
    const got: Uint8Array[] = []
    try {
      const arrived = new Promise<void>((resolve, reject) => {
        const handle = watch(b, (error) => {
          if (error) return reject(error)
          drain(b, reader(8), got)
          if (got.length > 0) {
            unwatch(handle)
            resolve()
          }
        })
      })
      expect(writeAll(a, [testFrame(7)])).toBe(1)
      await arrived
      expect(got[0]).toEqual(testFrame(7))
    } finally {
      close(a)
      close(b)
    }
  })

  it('counts what the kernel drops when the receive ring is full, and loses nothing it kept', async () => {
    const a = packetOpen(pairA, { ringRxFrames: 8, ringTxFrames: 32 })
    const b = packetOpen(pairB, { ringRxFrames: 8, ringTxFrames: 8 })
    try {
      expect(writeAll(a, Array.from({ length: 20 }, (_, i) => testFrame(i)))).toBe(20)
      // Nothing is read until the kernel has counted the drops (tp_drops; possibly a little later when
      // softirqs run in ksoftirqd): the eight slots hold the first eight frames, the other twelve are dropped.
      await until(() => ringStats(b)!.rxKernelDrops >= 12, 'twelve drops')
      const got: Uint8Array[] = []
      drain(b, reader(32), got)
      expect(got.length).toBe(8)
      expect(got.map(seqOf)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]) // the first eight, in order
      expect(ringStats(b)!.rxKernelDrops).toBe(12)
    } finally {
      close(a)
      close(b)
    }
  })

  it('refuses frames while the transmit ring is full, counts them, and sends them all once there is room', async () => {
    // A slow token bucket holds transmitted frames in the qdisc, so their slots stay TP_STATUS_SENDING.
    run('tc', 'qdisc', 'add', 'dev', pairA, 'root', 'tbf', 'rate', '200kbit', 'burst', '1600', 'limit', '100000')
    const a = packetOpen(pairA, { ringRxFrames: 8, ringTxFrames: 8 })
    const b = packetOpen(pairB, { ringRxFrames: 64, ringTxFrames: 8 })
    try {
      const frames = Array.from({ length: 40 }, (_, i) => testFrame(i, 100))
      const got: Uint8Array[] = []
      const r = reader(64)
      let sent = 0
      let refusedCalls = 0
      await until(() => {
        const rest = frames.slice(sent)
        const n = rest.length === 0 ? 0 : writeAll(a, rest)
        if (n < rest.length) refusedCalls++
        sent += n
        drain(b, r, got)
        return sent === frames.length && got.length === frames.length
      }, 'all 40 frames through a full ring')
      expect(refusedCalls).toBeGreaterThan(0)
      const stats = ringStats(a)!
      expect(stats.txRefused).toBeGreaterThan(0)
      expect(stats.txFrames).toBe(40)
      expect(got.map(seqOf)).toEqual(frames.map((_, i) => i)) // nothing lost, nothing twice, in order
    } finally {
      close(a)
      close(b)
      run('tc', 'qdisc', 'del', 'dev', pairA, 'root')
    }
  })

  it('completes checksums (NEEDS_CSUM) in software for a descriptor without virtio-net headers, ring or not', async () => {
    for (const rings of [true, false]) {
      const ringOptions = rings ? { ringRxFrames: 8, ringTxFrames: 8 } : {}
      const a = packetOpen(pairA, ringOptions)
      const b = packetOpen(pairB, ringOptions)
      try {
        const frames = [udpFrame(randomBytes(333), true), udpFrame(randomBytes(1000), true), udpFrame(randomBytes(7), true)]
        for (const f of frames) f[12] = ETHERTYPE_TEST >> 8 // keep them away from the kernel: only the checksum matters here
        for (const f of frames) f[13] = ETHERTYPE_TEST & 0xff
        const vnetIn = new Uint8Array(frames.length * 10)
        frames.forEach((_, i) => encodeVnetHeader({ flags: VnetFlags.NEEDS_CSUM, csumStart: 34, csumOffset: 6 }, vnetIn, i * 10))
        const pseudo = frames.map((f) => (f[40]! << 8) | f[41]!)
        expect(writeAll(a, frames.map((f) => f.slice()), vnetIn)).toBe(3)
        const got: Uint8Array[] = []
        await until(() => (drain(b, reader(8), got), got.length >= 3), 'three datagrams')
        got.forEach((frame, i) => {
          // With the pseudo-header sum back in, the completed UDP checksum verifies to zero.
          const field = (frame[40]! << 8) | frame[41]!
          expect(field).not.toBe(pseudo[i])
          frame[40] = 0
          frame[41] = 0
          expect(checksum(frame, 34, frame.length, pseudo[i]!)).toBe(field === 0xffff ? 0 : field)
        })
        // Segmentation cannot be done without virtio-net headers: a clear error, nothing sent.
        expect(() => writeAll(a, [frames[0]!], encodeVnetHeader({ gsoType: VnetGsoType.TCPV4, gsoSize: 1000 }))).toThrow(
          expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringMatching(/gsoType/) }),
        )
      } finally {
        close(a)
        close(b)
      }
    }
  })

  it('passes virtio-net headers through the rings', async () => {
    const a = packetOpen(pairA, { vnetHeader: true, ringRxFrames: 8, ringTxFrames: 8 })
    const b = packetOpen(pairB, { vnetHeader: true, ringRxFrames: 8, ringTxFrames: 8 })
    try {
      expect(ringStats(a)!.frameSize).toBeGreaterThanOrEqual(65_536) // slots for 64 KB frames by default
      const frame = testFrame(42, 1200)
      expect(writeAll(a, [frame], encodeVnetHeader({}))).toBe(1)
      const got: Uint8Array[] = []
      const vnets: Uint8Array[] = []
      const r = reader(8)
      await until(() => (drain(b, r, got, true, vnets), got.some(isTestFrame)), 'the frame')
      const i = got.findIndex(isTestFrame)
      expect(got[i]).toEqual(frame)
      const header = decodeVnetHeader(vnets[i]!)
      expect(header.gsoType).toBe(VnetGsoType.NONE)
      expect(header.flags & ~(VnetFlags.NEEDS_CSUM | VnetFlags.DATA_VALID)).toBe(0)
    } finally {
      close(a)
      close(b)
    }
  })

  it('rejects a frame larger than its slots with EMSGSIZE, and ring sizes given for one direction only', () => {
    const a = packetOpen(pairA, { ringRxFrames: 4, ringTxFrames: 4, ringFrameSize: 200 })
    try {
      expect(() => writeAll(a, [testFrame(1, 1500)])).toThrow(expect.objectContaining({ code: 'EMSGSIZE' }))
      expect(writeAll(a, [testFrame(2, 100)])).toBe(1) // the ring is still usable
    } finally {
      close(a)
    }
    expect(() => packetOpen(pairA, { ringRxFrames: 8 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
    expect(ringStats(packetOpenPlain())).toBeUndefined()
  })
})

let plainFd: number | undefined
function packetOpenPlain(): number {
  plainFd = packetOpen(pairA, {})
  return plainFd
}
afterAll(() => {
  if (plainFd !== undefined) quiet(() => close(plainFd!))
})

// ------------------------------------------------------------------------------------------------
// Slot reuse against a kernel receiver that has not read yet. tpacket_snd attaches the ring page to the
// skb, and the slot is back to AVAILABLE as soon as the skb is orphaned, which the veth peer's IP layer
// does (ip_rcv_core) while the datagram still sits in the receiver's queue. The kernel copies such pages
// first ("packet: copy user buffers before orphan or clone", Linux 4.20): rewriting the slot must not
// change what the receiver reads later. The addon depends on that, and this pins it down.

const RECEIVER = `
const dgram = require('node:dgram')
const fs = require('node:fs')
const want = Number(process.argv[1])
const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 })
const got = []
socket.on('message', (m) => { got.push(m.toString('hex')); if (got.length === want) { console.log(JSON.stringify(got)); socket.close() } })
socket.bind(7300, () => {
  console.log('ready')
  fs.readSync(0, Buffer.alloc(1)) // block (reading nothing) until the sender is done: datagrams wait in the queue
})`

describe.runIf(live)('PACKET_MMAP TX ring and a kernel receiver', { timeout: 20_000 }, () => {
  let receiver: ChildProcess | undefined
  afterAll(() => receiver?.kill())

  it('never changes a datagram the receiver has queued but not read, however soon its slot is reused', async () => {
    expect(setupError).toBeUndefined()
    run('ethtool', '-K', peerOuter, 'tx', 'on', 'sg', 'on') // fragments allowed: the case that needs the copy
    const count = 48
    receiver = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', RECEIVER, String(count)], { stdio: ['pipe', 'pipe', 'inherit'] })
    let out = ''
    const outputHas = (text: string) =>
      new Promise<void>((resolve, reject) => {
        const check = () => out.includes(text) && (receiver!.stdout!.off('data', onData), resolve())
        const onData = (d: Buffer) => ((out += d.toString()), check())
        receiver!.stdout!.on('data', onData)
        receiver!.once('exit', () => reject(new Error(`the receiver exited before printing ${text}: ${out}`)))
        check()
      })
    await outputHas('ready')
    const fd = packetOpen(peerOuter, { ringRxFrames: 8, ringTxFrames: 8 })
    const payloads = Array.from({ length: count }, (_, i) => Buffer.alloc(900 + i, i + 1))
    try {
      // One frame per burst through 8 slots: each slot is rewritten six times while the first datagrams wait.
      for (const payload of payloads) {
        const frame = udpFrame(payload)
        await until(() => writeAll(fd, [frame]) === 1, 'a free slot')
      }
      receiver.stdin!.end('g')
      await outputHas(']')
      const got = JSON.parse(out.slice(out.indexOf('['))) as string[]
      expect(got).toEqual(payloads.map((p) => p.toString('hex')))
    } finally {
      close(fd)
    }
    await once(receiver, 'exit')
  })
})
