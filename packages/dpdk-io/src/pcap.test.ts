import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { BufferPool, type PacketBuffer } from './buffer-pool.js'
import { VirtualClock } from './clock.js'
import { DpdkIoError } from './errors.js'
import { createMemoryLink } from './memory/memory-link.js'
import { PcapWriter } from './pcap.js'
import { kernelFrameBytes, kernelIpv6Frames } from './ipv6-test-frames.js'

const directory = mkdtempSync(join(tmpdir(), 'mtcp-pcap-'))
afterAll(() => rmSync(directory, { recursive: true, force: true }))

const hasTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0
/** CI installs tshark (.ci/run); on a developer machine without it the tshark checks are skipped. */
const runTshark = hasTshark || process.env.CI !== undefined

/** A valid Ethernet/IPv4/UDP frame with correct IP and UDP checksums, `payload` bytes of payload. */
function udpFrame(payload: number, id: number): Uint8Array {
  const frame = new Uint8Array(14 + 20 + 8 + payload)
  const v = new DataView(frame.buffer)
  frame.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1], 0)
  v.setUint16(12, 0x0800)
  v.setUint8(14, 0x45)
  v.setUint16(16, 20 + 8 + payload)
  v.setUint16(18, id)
  v.setUint16(20, 0x4000)
  v.setUint8(22, 64)
  v.setUint8(23, 17)
  frame.set([10, 0, 0, 1, 10, 0, 0, 2], 26)
  v.setUint16(24, checksum(frame, 14, 20, 0))
  v.setUint16(34, 40000)
  v.setUint16(36, 9)
  v.setUint16(38, 8 + payload)
  for (let i = 0; i < payload; i++) frame[42 + i] = (i * 7 + id) & 0xff
  const pseudo = 0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 8 + payload
  v.setUint16(40, checksum(frame, 34, 8 + payload, pseudo) || 0xffff)
  return frame
}

function checksum(bytes: Uint8Array, offset: number, length: number, initial: number): number {
  let sum = initial
  for (let i = 0; i < length; i += 2) sum += (bytes[offset + i]! << 8) | (bytes[offset + i + 1] ?? 0)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

/** The frames of a classic libpcap file (Ethernet, either timestamp magic), read back with no code under test. */
function readPcapRecords(file: Buffer): Uint8Array[] {
  expect(file.readUInt32LE(20)).toBe(1) // LINKTYPE_ETHERNET
  const records: Uint8Array[] = []
  for (let at = 24; at < file.length; ) {
    const captured = file.readUInt32LE(at + 8)
    expect(file.readUInt32LE(at + 12)).toBe(captured) // nothing was cut
    records.push(new Uint8Array(file.subarray(at + 16, at + 16 + captured)))
    at += 16 + captured
  }
  return records
}

/** tshark's fields of every frame of `path`, one row per frame. */
function tsharkFields(path: string, fields: string[]): string[][] {
  const options = ['-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE']
  const out = execFileSync('tshark', ['-r', path, ...options, '-T', 'fields', '-E', 'separator=;', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8' })
  return out.trim().split('\n').map((line) => line.split(';'))
}

describe('PcapWriter', () => {
  it('writes the libpcap file and record headers', () => {
    const chunks: Uint8Array[] = []
    const pcap = new PcapWriter((chunk) => chunks.push(Uint8Array.from(chunk)), { timeOrigin: 1_700_000_000e6 })
    const frame = udpFrame(10, 1)
    pcap.write(frame, 1_500_000.4)
    pcap.close()
    const file = Buffer.concat(chunks)
    expect(file.readUInt32LE(0)).toBe(0xa1b2c3d4)
    expect(file.readUInt16LE(4)).toBe(2)
    expect(file.readUInt16LE(6)).toBe(4)
    expect(file.readUInt32LE(16)).toBe(262_144)
    expect(file.readUInt32LE(20)).toBe(1)
    expect(file.readUInt32LE(24)).toBe(1_700_000_001)
    expect(file.readUInt32LE(28)).toBe(500_000)
    expect(file.readUInt32LE(32)).toBe(frame.length)
    expect(file.readUInt32LE(36)).toBe(frame.length)
    expect(file.subarray(40)).toEqual(Buffer.from(frame))
  })

  it('writes nanosecond timestamps when asked', () => {
    const chunks: Uint8Array[] = []
    const pcap = new PcapWriter((chunk) => chunks.push(Uint8Array.from(chunk)), { nanosecond: true, timeOrigin: 0 })
    pcap.write(udpFrame(0, 1), 2_000_000.25)
    pcap.close()
    const file = Buffer.concat(chunks)
    expect(file.readUInt32LE(0)).toBe(0xa1b23c4d)
    expect(file.readUInt32LE(24)).toBe(2)
    expect(file.readUInt32LE(28)).toBe(250)
  })

  it('cuts frames to the snap length and keeps the original length', () => {
    const chunks: Uint8Array[] = []
    const pcap = new PcapWriter((chunk) => chunks.push(Uint8Array.from(chunk)), { snapLength: 64, timeOrigin: 0 })
    pcap.write(udpFrame(200, 1), 0)
    pcap.close()
    const file = Buffer.concat(chunks)
    expect(file.readUInt32LE(32)).toBe(64)
    expect(file.readUInt32LE(36)).toBe(242)
    expect(file.length).toBe(24 + 16 + 64)
    expect(pcap.stats.truncated).toBe(1)
  })

  it('flushes in order when frames overflow the buffer, including frames larger than it', () => {
    const chunks: Uint8Array[] = []
    const pcap = new PcapWriter((chunk) => chunks.push(Uint8Array.from(chunk)), { bufferSize: 4096, timeOrigin: 0 })
    const frames = [udpFrame(1000, 1), udpFrame(3000, 2), udpFrame(6000, 3), udpFrame(20, 4)]
    for (const [i, frame] of frames.entries()) pcap.write(frame, i)
    pcap.close()
    const file = Buffer.concat(chunks)
    let at = 24
    for (const frame of frames) {
      expect(file.readUInt32LE(at + 8)).toBe(frame.length)
      expect(file.subarray(at + 16, at + 16 + frame.length)).toEqual(Buffer.from(frame))
      at += 16 + frame.length
    }
    expect(at).toBe(file.length)
  })

  it('names the path when a file cannot be opened', () => {
    expect(() => PcapWriter.open(join(directory, 'missing', 'x.pcap'))).toThrowError(DpdkIoError)
    expect(() => PcapWriter.open(join(directory, 'missing', 'x.pcap'))).toThrowError(/missing\/x\.pcap/)
  })

  it.runIf(runTshark)('records both directions of a port into a file tshark reads with no malformed frame', () => {
    const clock = new VirtualClock()
    const pool = new BufferPool({ count: 256 })
    const link = createMemoryLink({ clock, impairments: { rate: 10e6, delay: 2000 } })
    const path = join(directory, 'link.pcap')
    const pcap = PcapWriter.open(path, { timeOrigin: 1_700_000_000e6 })
    link.a.capture(pcap)
    const rx: PacketBuffer[] = []
    for (let i = 0; i < 20; i++) {
      const size = [0, 18, 200, 1472][i % 4]!
      link.a.txBurst([pool.alloc()!.setFrame(udpFrame(size, i))], 1)
      link.b.txBurst([pool.alloc()!.setFrame(udpFrame(size, 1000 + i))], 1)
      clock.advanceBy(5000)
      const n = link.a.rxBurst(rx, 32)
      pool.freeBulk(rx, n)
      pool.freeBulk(rx, link.b.rxBurst(rx, 32))
    }
    pcap.close()
    expect(pcap.stats.frames).toBe(40)
    const fields = execFileSync(
      'tshark',
      ['-r', path, '-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-T', 'fields', '-E', 'separator=,', '-e', 'frame.len', '-e', 'ip.id', '-e', 'ip.checksum.status', '-e', 'udp.checksum.status', '-e', '_ws.malformed', '-e', '_ws.expert.severity'],
      { encoding: 'utf8' },
    )
    const rows = fields.trim().split('\n').map((line) => line.split(','))
    expect(rows.length).toBe(40)
    for (const [length, , ipStatus, udpStatus, malformed, severity] of rows) {
      expect(Number(length)).toBeGreaterThanOrEqual(42)
      expect(ipStatus).toBe('1') // good
      expect(udpStatus).toBe('1')
      expect(malformed).toBe('')
      expect(severity).toBe('')
    }
    const ids = rows.map((row) => Number(row[1]))
    expect(ids.filter((id) => id < 1000).length).toBe(20) // sent by a
    expect(ids.filter((id) => id >= 1000).length).toBe(20) // received by a
    expect(readFileSync(path).readUInt32LE(0)).toBe(0xa1b2c3d4)
  })

  it.runIf(runTshark)('round-trips kernel-captured IPv6 frames through the emulated link into pcap files that tshark decodes as the kernel capture', () => {
    const clock = new VirtualClock()
    const pool = new BufferPool({ count: 64 })
    const link = createMemoryLink({ clock, impairments: { rate: 100e6, delay: 1000 } })
    const sentPath = join(directory, 'ipv6-tx.pcap')
    const receivedPath = join(directory, 'ipv6-rx.pcap')
    const sent = PcapWriter.open(sentPath, { timeOrigin: 1_700_000_000e6, directions: 'tx' })
    const received = PcapWriter.open(receivedPath, { timeOrigin: 1_700_000_000e6, directions: 'rx', nanosecond: true })
    link.a.capture(sent)
    link.b.capture(received)
    const originals = kernelIpv6Frames.map(kernelFrameBytes)
    const rx: PacketBuffer[] = []
    for (const frame of originals) {
      expect(link.a.txBurst([pool.alloc()!.setFrame(frame)], 1)).toBe(1)
      clock.advanceBy(2000)
      pool.freeBulk(rx, link.b.rxBurst(rx, 8))
    }
    sent.close()
    received.close()
    // Byte for byte, both directions' files hold the frames as the kernel sent them.
    expect(readPcapRecords(readFileSync(sentPath))).toEqual(originals)
    expect(readPcapRecords(readFileSync(receivedPath))).toEqual(originals)
    const checksums = ['tcp.checksum.status', 'udp.checksum.status', 'icmpv6.checksum.status']
    for (const path of [sentPath, receivedPath]) {
      const rows = tsharkFields(path, ['ipv6.src', 'ipv6.dst', 'ipv6.nxt', 'ipv6.plen', ...checksums, '_ws.malformed'])
      expect(rows.map(([src, dst, nxt, plen]) => ({ src, dst, nxt: Number(nxt), plen: Number(plen) }))).toEqual(
        kernelIpv6Frames.map(({ src, dst, nxt, plen }) => ({ src, dst, nxt, plen })),
      )
      for (const row of rows) {
        // Each frame's TCP, UDP or ICMPv6 checksum is good ('1'); fragments have none tshark checks without the
        // whole datagram (the capture holds the first and last of three).
        const statuses = row.slice(4, 7).filter((status) => status !== '')
        expect(statuses).toEqual(row[2] === '44' ? [] : ['1'])
        expect(row[7]).toBe('')
      }
    }
  })

  it.runIf(runTshark)('records IPv6 frames the emulated queue marked CE with the mark in the Traffic Class and the TCP checksum still good', () => {
    const clock = new VirtualClock()
    const pool = new BufferPool({ count: 64 })
    const link = createMemoryLink({ clock, impairments: { rate: 1e6, ecnMarkPackets: 1 } })
    const path = join(directory, 'ipv6-ce.pcap')
    const pcap = PcapWriter.open(path, { timeOrigin: 1_700_000_000e6, directions: 'rx' })
    link.b.capture(pcap)
    const tcp = kernelIpv6Frames.filter((frame) => frame.nxt === 6).map(kernelFrameBytes)
    const frames = tcp.map((bytes) => {
      const frame = bytes.slice()
      frame[15] = (frame[15]! & 0xcf) | 0x20 // ECT(0): Traffic Class bits 1..0 are octet 1's bits 5..4 (RFC 8200 §3)
      return pool.alloc()!.setFrame(frame)
    })
    expect(link.a.txBurst(frames, frames.length)).toBe(frames.length)
    clock.runUntilIdle()
    clock.advanceBy(1e6)
    const rx: PacketBuffer[] = []
    expect(link.b.rxBurst(rx, 16)).toBe(tcp.length)
    pool.freeBulk(rx, tcp.length)
    pcap.close()
    const rows = tsharkFields(path, ['ipv6.tclass.ecn', 'tcp.checksum.status', 'ipv6.flow'])
    // The first frame found an empty queue; every later one found one or more queued and was marked.
    expect(rows.map((row) => Number(row[0]))).toEqual(tcp.map((_, i) => (i === 0 ? 2 : 3)))
    expect(rows.every((row) => row[1] === '1')).toBe(true)
    expect(rows.map((row) => Number(row[2]))).toEqual(tcp.map((frame) => ((frame[15]! & 0x0f) << 16) | (frame[16]! << 8) | frame[17]!))
  })
})
