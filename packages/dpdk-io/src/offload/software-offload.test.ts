import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { BufferPool, OffloadFlags, type PacketBuffer } from '../buffer-pool.js'
import { VirtualClock } from '../clock.js'
import { createMemoryLink } from '../memory/memory-link.js'
import { PcapWriter } from '../pcap.js'
import { foldChecksum, onesComplementSum } from '@mtcp/primitives'
import { completeChecksums, segmentTcp4, segmentTcp6 } from './software-offload.js'

/** Reference checksum, written independently of the module: byte pairs, 32-bit accumulate, fold. */
function referenceChecksum(bytes: Uint8Array, pseudo: number[] = []): number {
  let sum = 0
  for (const word of pseudo) sum += word
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) + (bytes[i + 1] ?? 0)
  while (sum >>> 16) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

const TCP_OPTIONS = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2] // NOP NOP timestamps

/** An Ethernet/IPv4/TCP super segment with timestamps, `payload` bytes, checksums left for offload. */
function superSegment(pool: BufferPool, payload: number, flags: number, mss: number): PacketBuffer {
  const buffer = pool.alloc()!
  const o = buffer.offset
  const b = buffer.data
  const v = buffer.view
  const l4Length = 20 + TCP_OPTIONS.length
  b.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00], o)
  const ip = o + 14
  b[ip] = 0x45
  v.setUint16(ip + 2, 20 + l4Length + payload)
  v.setUint16(ip + 4, 0xfffe) // the id wraps during segmentation
  v.setUint16(ip + 6, 0x4000)
  b[ip + 8] = 64
  b[ip + 9] = 6
  b.set([10, 0, 0, 1, 10, 0, 0, 2], ip + 12)
  const tcp = ip + 20
  v.setUint16(tcp, 40000)
  v.setUint16(tcp + 2, 5001)
  v.setUint32(tcp + 4, 0xffffff00) // the sequence number wraps too
  v.setUint32(tcp + 8, 12345)
  b[tcp + 12] = (l4Length / 4) << 4
  b[tcp + 13] = flags
  v.setUint16(tcp + 14, 65535)
  b.set(TCP_OPTIONS, tcp + 20)
  for (let i = 0; i < payload; i++) b[tcp + l4Length + i] = (i * 31 + 7) & 0xff
  buffer.length = 14 + 20 + l4Length + payload
  buffer.l2Length = 14
  buffer.l3Length = 20
  buffer.l4Length = l4Length
  buffer.segmentSize = mss
  buffer.offloadFlags = OffloadFlags.TX_IP_CHECKSUM | OffloadFlags.TX_TCP_CHECKSUM | OffloadFlags.TX_TCP_SEGMENTATION
  v.setUint16(tcp + 16, foldChecksum(onesComplementSum(b, ip + 12, 8, 6 + l4Length + payload))) // the pseudo-header sum, as a stack leaves it
  return buffer
}

function verifyTcpFrame(frame: Uint8Array): { seq: number; id: number; flags: number; payload: Uint8Array } {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength)
  const ipHeader = frame.subarray(14, 34)
  expect(referenceChecksum(ipHeader)).toBe(0)
  const totalLength = v.getUint16(16)
  expect(totalLength).toBe(frame.length - 14)
  const segment = frame.subarray(34)
  const pseudo = [(10 << 8) | 0, 1, (10 << 8) | 0, 2, 6, segment.length]
  expect(referenceChecksum(segment, pseudo)).toBe(0)
  const headerLength = (segment[12]! >> 4) * 4
  return { seq: v.getUint32(38), id: v.getUint16(18), flags: segment[13]!, payload: segment.subarray(headerLength) }
}

const SRC6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
const DST6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0, 2]

/**
 * An Ethernet/IPv6/TCP super segment (RFC 8200 §3) with timestamps and `payload` bytes, flow label 0x12345,
 * the TCP checksum field holding the IPv6 pseudo-header sum as a stack leaves it for offload.
 */
function superSegment6(pool: BufferPool, payload: number, flags: number, mss: number): PacketBuffer {
  const buffer = pool.alloc()!
  const o = buffer.offset
  const b = buffer.data
  const v = buffer.view
  const l4Length = 20 + TCP_OPTIONS.length
  b.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x86, 0xdd], o)
  const ip = o + 14
  v.setUint32(ip, (6 << 28) | (0x02 << 20) | 0x12345) // ECT(0) in the Traffic Class
  v.setUint16(ip + 4, l4Length + payload)
  b[ip + 6] = 6
  b[ip + 7] = 64
  b.set(SRC6, ip + 8)
  b.set(DST6, ip + 24)
  const tcp = ip + 40
  v.setUint16(tcp, 40000)
  v.setUint16(tcp + 2, 5001)
  v.setUint32(tcp + 4, 0xffffff00)
  v.setUint32(tcp + 8, 12345)
  b[tcp + 12] = (l4Length / 4) << 4
  b[tcp + 13] = flags
  v.setUint16(tcp + 14, 65535)
  b.set(TCP_OPTIONS, tcp + 20)
  for (let i = 0; i < payload; i++) b[tcp + l4Length + i] = (i * 31 + 7) & 0xff
  buffer.length = 14 + 40 + l4Length + payload
  buffer.l2Length = 14
  buffer.l3Length = 40
  buffer.l4Length = l4Length
  buffer.segmentSize = mss
  buffer.offloadFlags = OffloadFlags.TX_TCP_CHECKSUM | OffloadFlags.TX_TCP_SEGMENTATION
  v.setUint16(tcp + 16, foldChecksum(onesComplementSum(b, ip + 8, 32, 6 + l4Length + payload)))
  return buffer
}

/** Check an IPv6/TCP frame with an independent checksum over the RFC 8200 §8.1 pseudo-header. */
function verifyTcp6Frame(frame: Uint8Array): { seq: number; flags: number; payload: Uint8Array; word0: number } {
  const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength)
  expect(v.getUint16(18)).toBe(frame.length - 14 - 40) // Payload Length
  const segment = frame.subarray(54)
  const words = (bytes: number[]): number[] => bytes.flatMap((_, i) => (i % 2 === 0 ? [(bytes[i]! << 8) | bytes[i + 1]!] : []))
  const pseudo = [...words(SRC6), ...words(DST6), segment.length >>> 16, segment.length & 0xffff, 0, 6]
  expect(referenceChecksum(segment, pseudo)).toBe(0)
  const headerLength = (segment[12]! >> 4) * 4
  return { seq: v.getUint32(58), flags: segment[13]!, payload: segment.subarray(headerLength), word0: v.getUint32(14) }
}

describe('checksums', () => {
  it('completes IPv4 and TCP checksums from the pseudo-header sum, and clears the flags', () => {
    const pool = new BufferPool({ count: 4 })
    const buffer = superSegment(pool, 100, 0x18, 1460)
    buffer.offloadFlags &= ~OffloadFlags.TX_TCP_SEGMENTATION
    completeChecksums(buffer)
    verifyTcpFrame(buffer.frame())
    expect(buffer.offloadFlags).toBe(0)
  })

  it('writes 0xffff for a UDP checksum that computes to zero (RFC 768)', () => {
    const pool = new BufferPool({ count: 1 })
    const buffer = pool.alloc()!
    // An 8-byte UDP header whose words sum to 0xffff, so the checksum would be 0.
    buffer.setFrame(Uint8Array.of(...new Array(14).fill(0), 0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0))
    buffer.l2Length = 14
    buffer.l3Length = 20
    buffer.offloadFlags = OffloadFlags.TX_UDP_CHECKSUM
    completeChecksums(buffer)
    expect(buffer.view.getUint16(buffer.offset + 34 + 6)).toBe(0xffff)
  })
})

describe('TCP segmentation', () => {
  it('cuts a super segment into MSS pieces with ids, sequence numbers, flags and checksums right', () => {
    const pool = new BufferPool({ count: 64, dataRoom: 70_000 })
    const payload = 10_000
    const mss = 1448
    const buffer = superSegment(pool, payload, 0x80 | 0x18 | 0x01, mss) // CWR PSH ACK FIN
    const original = buffer.frame().slice(66)
    const out: PacketBuffer[] = []
    const n = segmentTcp4(buffer, out)
    expect(n).toBe(Math.ceil(payload / mss))
    const pieces = out.slice(0, n).map((segment) => verifyTcpFrame(segment.frame()))
    expect(pieces.map((p) => p.id)).toEqual(pieces.map((_, i) => (0xfffe + i) & 0xffff))
    expect(pieces.map((p) => p.seq)).toEqual(pieces.map((_, i) => (0xffffff00 + i * mss) >>> 0))
    expect(pieces.map((p) => p.payload.length)).toEqual(pieces.map((_, i) => Math.min(mss, payload - i * mss)))
    expect(pieces[0]!.flags).toBe(0x80 | 0x10)
    for (const p of pieces.slice(1, -1)) expect(p.flags).toBe(0x10)
    expect(pieces.at(-1)!.flags).toBe(0x18 | 0x01)
    const joined = new Uint8Array(payload)
    let at = 0
    for (const p of pieces) {
      joined.set(p.payload, at)
      at += p.payload.length
    }
    expect(joined).toEqual(original)
  })

  it('cuts an IPv6 super segment: Payload Length per piece, sequence numbers across the wrap, flags, TCP checksums over the IPv6 pseudo-header', () => {
    const pool = new BufferPool({ count: 64, dataRoom: 70_000 })
    const payload = 10_000
    const mss = 1428
    const buffer = superSegment6(pool, payload, 0x80 | 0x18 | 0x01, mss) // CWR PSH ACK FIN
    const header = buffer.frame().slice(0, 86)
    const original = buffer.frame().slice(86)
    const out: PacketBuffer[] = []
    const n = segmentTcp6(buffer, out)
    expect(n).toBe(Math.ceil(payload / mss))
    const pieces = out.slice(0, n).map((segment) => verifyTcp6Frame(segment.frame()))
    expect(pieces.map((p) => p.seq)).toEqual(pieces.map((_, i) => (0xffffff00 + i * mss) >>> 0))
    expect(pieces.map((p) => p.payload.length)).toEqual(pieces.map((_, i) => Math.min(mss, payload - i * mss)))
    // Version, Traffic Class (ECT(0)) and flow label are copied unchanged.
    expect(new Set(pieces.map((p) => p.word0))).toEqual(new Set([header[14]! * 2 ** 24 + header[15]! * 2 ** 16 + header[16]! * 2 ** 8 + header[17]!]))
    expect(pieces[0]!.flags).toBe(0x80 | 0x10)
    for (const p of pieces.slice(1, -1)) expect(p.flags).toBe(0x10)
    expect(pieces.at(-1)!.flags).toBe(0x18 | 0x01)
    const joined = new Uint8Array(payload)
    let at = 0
    for (const p of pieces) {
      joined.set(p.payload, at)
      at += p.payload.length
    }
    expect(joined).toEqual(original)
    // Everything but Payload Length, the sequence number, the flags and the checksum is the super segment's header.
    for (let i = 0; i < n; i++) {
      const frame = out[i]!.frame()
      const same = [...header.keys()].filter((k) => ![18, 19, 58, 59, 60, 61, 67, 70, 71].includes(k))
      expect(same.every((k) => frame[k] === header[k])).toBe(true)
    }
  })

  it('ignores TX_IP_CHECKSUM on an IPv6 packet (no header checksum, RFC 8200 §3) and completes its TCP checksum', () => {
    const pool = new BufferPool({ count: 4 })
    const buffer = superSegment6(pool, 300, 0x18, 1428)
    buffer.offloadFlags = OffloadFlags.TX_IP_CHECKSUM | OffloadFlags.TX_TCP_CHECKSUM
    const addresses = buffer.frame().slice(22, 54)
    completeChecksums(buffer)
    expect(buffer.frame().subarray(22, 54)).toEqual(addresses) // an IPv4 checksum at offset 10 would land in the source address
    verifyTcp6Frame(buffer.frame())
    expect(buffer.offloadFlags).toBe(0)
  })

  it('gives -1 and keeps nothing when the pool runs short', () => {
    const pool = new BufferPool({ count: 4, dataRoom: 70_000 })
    const buffer = superSegment(pool, 10_000, 0x10, 1000)
    expect(segmentTcp4(buffer, [])).toBe(-1)
    expect(pool.inUse).toBe(1)
  })

  it.runIf(spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0 || process.env.CI !== undefined)(
    'produces segments tshark checks as valid TCP',
    () => {
      const directory = mkdtempSync(join(tmpdir(), 'mtcp-tso-'))
      try {
        const pool = new BufferPool({ count: 64, dataRoom: 70_000 })
        const out: PacketBuffer[] = []
        const n4 = segmentTcp4(superSegment(pool, 20_000, 0x18, 1448), out)
        const pieces = out.slice(0, n4)
        const n6 = segmentTcp6(superSegment6(pool, 20_000, 0x18, 1428), out)
        pieces.push(...out.slice(0, n6))
        const n = n4 + n6
        const path = join(directory, 'tso.pcap')
        const pcap = PcapWriter.open(path)
        for (let i = 0; i < n; i++) pcap.write(pieces[i]!.frame(), i)
        pcap.close()
        const rows = execFileSync(
          'tshark',
          ['-r', path, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-T', 'fields', '-E', 'separator=,', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status', '-e', 'tcp.len', '-e', '_ws.malformed'],
          { encoding: 'utf8' },
        )
          .trim()
          .split('\n')
        expect(rows.length).toBe(n)
        for (const row of rows.slice(0, n4)) expect(row).toMatch(/^1,1,\d+,$/)
        for (const row of rows.slice(n4)) expect(row).toMatch(/^,1,\d+,$/) // IPv6: no header checksum
      } finally {
        rmSync(directory, { recursive: true, force: true })
      }
    },
  )
})

describe('memory link offload emulation', () => {
  it('cuts super segments when segmentation is offered, and drops them as oversize when it is not', () => {
    const clock = new VirtualClock()
    const pool = new BufferPool({ count: 128, dataRoom: 70_000 })
    const offloading = createMemoryLink({ clock, offloads: { checksum: true, segmentation: true } })
    expect(offloading.a.offloads.segmentation).toEqual({ tcp4: true, tcp6: true, maxSize: 65535 })
    expect(offloading.a.txBurst([superSegment(pool, 30_000, 0x18, 1448)], 1)).toBe(1)
    const got: PacketBuffer[] = []
    const n = offloading.b.rxBurst(got, 64)
    expect(n).toBe(Math.ceil(30_000 / 1448))
    for (let i = 0; i < n; i++) expect(got[i]!.length).toBeLessThanOrEqual(1514)
    for (let i = 0; i < n; i++) verifyTcpFrame(got[i]!.frame())
    pool.freeBulk(got, n)
    expect(pool.inUse).toBe(0)

    const plain = createMemoryLink({ clock })
    expect(plain.a.offloads.segmentation.tcp4).toBe(false)
    plain.a.txBurst([superSegment(pool, 30_000, 0x18, 1448)], 1)
    expect(plain.a.stats.drops.oversize).toBe(1)
    expect(pool.inUse).toBe(0)
  })

  it('cuts IPv6 super segments too, and drops them as oversize on a link without segmentation', () => {
    const clock = new VirtualClock()
    const pool = new BufferPool({ count: 128, dataRoom: 70_000 })
    const offloading = createMemoryLink({ clock, offloads: { checksum: true, segmentation: true } })
    expect(offloading.a.txBurst([superSegment6(pool, 30_000, 0x18, 1428)], 1)).toBe(1)
    const got: PacketBuffer[] = []
    const n = offloading.b.rxBurst(got, 64)
    expect(n).toBe(Math.ceil(30_000 / 1428))
    for (let i = 0; i < n; i++) expect(got[i]!.length).toBeLessThanOrEqual(1514)
    expect(got.slice(0, n).reduce((sum, b) => sum + verifyTcp6Frame(b.frame()).payload.length, 0)).toBe(30_000)
    pool.freeBulk(got, n)
    const plain = createMemoryLink({ clock })
    expect(plain.a.offloads.segmentation.tcp6).toBe(false)
    plain.a.txBurst([superSegment6(pool, 30_000, 0x18, 1428)], 1)
    expect(plain.a.stats.drops.oversize).toBe(1)
    expect(pool.inUse).toBe(0)
  })

  it('passes checksum-offloaded frames through untouched and flagged as trusted, as veth does', () => {
    const pool = new BufferPool({ count: 8 })
    const link = createMemoryLink({ offloads: { checksum: true } })
    expect(link.b.offloads.rxChecksum).toBe(true)
    const buffer = superSegment(pool, 500, 0x18, 1460)
    buffer.offloadFlags &= ~OffloadFlags.TX_TCP_SEGMENTATION
    const before = buffer.frame().slice()
    link.a.txBurst([buffer], 1)
    const got: PacketBuffer[] = []
    link.b.rxBurst(got, 1)
    expect(got[0]!.frame()).toEqual(before)
    expect(got[0]!.offloadFlags).toBe(OffloadFlags.RX_IP_CHECKSUM_GOOD | OffloadFlags.RX_L4_CHECKSUM_PARTIAL)
  })

  it('completes checksums in software on a direction that corrupts frames', () => {
    const pool = new BufferPool({ count: 8 })
    const link = createMemoryLink({ offloads: { checksum: true }, aToB: { corrupt: 1e-12 } })
    const buffer = superSegment(pool, 500, 0x18, 1460)
    buffer.offloadFlags &= ~OffloadFlags.TX_TCP_SEGMENTATION
    link.a.txBurst([buffer], 1)
    const got: PacketBuffer[] = []
    link.b.rxBurst(got, 1)
    verifyTcpFrame(got[0]!.frame())
    expect(got[0]!.offloadFlags).toBe(0)
  })

  it('names the setting when the segmentation limit is out of range', () => {
    expect(() => createMemoryLink({ offloads: { segmentation: { maxSize: 100 } } })).toThrowError(/offloads\.segmentation\.maxSize must be in \[1280, 65535\]/)
  })
})
