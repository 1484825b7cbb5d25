// The header template against the general frame writer: for any segment (flags, options, SACK blocks,
// payload, ECN codepoint, sequence numbers anywhere in the 32-bit space) and either checksum mode, the
// frame written from the template is byte for byte the one FrameWriter.tcp writes field by field, and
// its checksums verify.
import { BufferPool, completeChecksums, OffloadFlags, type PacketBuffer, segmentTcp6 } from '@mtcp/dpdk-io'
import { internetChecksum, ipv4PseudoHeaderSum, ipv6PseudoHeaderSumOf, OutboundSegment, parseIpv6Address, tcpSegmentHeaderLength } from '@mtcp/tcp-core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FrameWriter } from './frames.js'
import { Ipv6FrameWriter } from './ipv6-frames.js'
import { Tcp6HeaderTemplate, TcpHeaderTemplate } from './tcp-header-template.js'

const MAC = Uint8Array.of(0x02, 0, 0, 0, 0, 0x0a)
const SRC = 0x0a630001
const DST = 0xc0a80102
const uint32 = fc.integer({ min: 0, max: 0xffff_ffff })
const nearWraps = fc.oneof(uint32, fc.constantFrom(0, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0xffff_fa00))

const segmentArbitrary = fc.record({
  seq: nearWraps,
  ack: nearWraps,
  flags: fc.integer({ min: 0, max: 0xff }),
  window: fc.integer({ min: 0, max: 0xffff }),
  mss: fc.constantFrom(0, 1460, 536),
  windowScale: fc.integer({ min: -1, max: 14 }),
  sackPermitted: fc.boolean(),
  timestamps: fc.boolean(),
  tsValue: nearWraps,
  tsEcho: nearWraps,
  sack: fc.array(fc.tuple(uint32, uint32), { maxLength: 3 }),
  payload: fc.uint8Array({ maxLength: 1460 }),
  ecn: fc.constantFrom(0, 1, 2, 3),
  ipId: fc.integer({ min: 0, max: 0xffff }),
  srcPort: fc.integer({ min: 1, max: 0xffff }),
  dstPort: fc.integer({ min: 1, max: 0xffff }),
})

type SegmentInput = typeof segmentArbitrary extends fc.Arbitrary<infer T> ? T : never

function outbound(input: SegmentInput): OutboundSegment {
  const out = new OutboundSegment()
  Object.assign(out, { seq: input.seq, ack: input.ack, flags: input.flags, window: input.window, mss: input.mss, windowScale: input.windowScale })
  Object.assign(out, { sackPermitted: input.sackPermitted, timestamps: input.timestamps, tsValue: input.tsValue, tsEcho: input.tsEcho, ecn: input.ecn })
  out.sackCount = input.sack.length
  input.sack.forEach(([left, right], i) => {
    out.sackLeft[i] = left
    out.sackRight[i] = right
  })
  out.payloadLength = input.payload.byteLength
  // copyFrom is the send buffer's hook, internal to tcp-core's types: here the payload comes from the input.
  ;(out as unknown as { copyFrom: (from: number, length: number, target: Uint8Array, offset: number) => void }).copyFrom = (from, length, target, offset) =>
    target.set(input.payload.subarray(from, from + length), offset)
  return out
}

function bytes(buffer: PacketBuffer): Uint8Array {
  return buffer.data.slice(buffer.offset, buffer.offset + buffer.length)
}

describe('TcpHeaderTemplate', () => {
  for (const offload of [false, true]) {
    it(`writes the frame FrameWriter.tcp writes, checksums ${offload ? 'left to the port' : 'computed'}`, () => {
      const pool = new BufferPool({ count: 4 })
      const writer = new FrameWriter(MAC, SRC, offload)
      fc.assert(
        fc.property(segmentArbitrary, (input) => {
          const segment = outbound(input)
          const expected = pool.alloc()!
          const actual = pool.alloc()!
          // Stale bytes from an earlier frame must not leak into the template's frame.
          actual.data.fill(0xa5, actual.offset, actual.offset + 1600)
          writer.tcp(expected, DST, input.srcPort, input.dstPort, segment, input.ipId)
          new TcpHeaderTemplate(MAC, SRC, DST, input.srcPort, input.dstPort).write(actual, segment, input.ipId, offload)
          expect(bytes(actual)).toEqual(bytes(expected))
          expect([actual.offloadFlags, actual.l2Length, actual.l3Length, actual.l4Length]).toEqual([expected.offloadFlags, expected.l2Length, expected.l3Length, expected.l4Length])
          const frame = bytes(actual)
          const tcpLength = frame.byteLength - 34
          if (!offload) {
            expect(internetChecksum(frame, 14, 20)).toBe(0)
            expect(internetChecksum(frame, 34, tcpLength, ipv4PseudoHeaderSum(SRC, DST, 6, tcpLength))).toBe(0)
          }
          expected.release()
          actual.release()
        }),
        { numRuns: 500 },
      )
    })
  }

  it('patches one template for many segments: each frame carries only its own fields', () => {
    const pool = new BufferPool({ count: 4 })
    const writer = new FrameWriter(MAC, SRC, false)
    const template = new TcpHeaderTemplate(MAC, SRC, DST, 40000, 80)
    const withOptions = outbound({ seq: 1, ack: 2, flags: 0x12, window: 100, mss: 1460, windowScale: 7, sackPermitted: true, timestamps: true, tsValue: 5, tsEcho: 6, sack: [], payload: new Uint8Array(0), ecn: 0, ipId: 1, srcPort: 40000, dstPort: 80 })
    const bare = outbound({ seq: 0xffff_ffff, ack: 0x8000_0000, flags: 0x10, window: 7, mss: 0, windowScale: -1, sackPermitted: false, timestamps: false, tsValue: 0, tsEcho: 0, sack: [], payload: Uint8Array.of(1, 2, 3), ecn: 2, ipId: 2, srcPort: 40000, dstPort: 80 })
    for (const segment of [withOptions, bare, withOptions]) {
      const expected = pool.alloc()!
      const actual = pool.alloc()!
      writer.tcp(expected, DST, 40000, 80, segment, 9)
      template.write(actual, segment, 9, false)
      expect(bytes(actual)).toEqual(bytes(expected))
      expected.release()
      actual.release()
    }
  })
})

describe('Tcp6HeaderTemplate', () => {
  const LOCAL = parseIpv6Address('fd00:1::a')!
  const REMOTE = parseIpv6Address('2001:db8::7:1')!
  const ADDRESS_SUM = ipv6PseudoHeaderSumOf(LOCAL, REMOTE, 6, 0)
  const flowLabel = fc.integer({ min: 0, max: 0xfffff })

  it('writes the frame Ipv6FrameWriter.tcp writes, checksum computed', () => {
    const pool = new BufferPool({ count: 4 })
    const writer = new Ipv6FrameWriter(MAC)
    fc.assert(
      fc.property(segmentArbitrary, flowLabel, (input, label) => {
        const segment = outbound(input)
        const expected = pool.alloc()!
        const actual = pool.alloc()!
        actual.data.fill(0xa5, actual.offset, actual.offset + 1600)
        writer.tcp(expected, LOCAL, REMOTE, 0, input.srcPort, input.dstPort, ADDRESS_SUM, label, segment)
        new Tcp6HeaderTemplate(MAC, LOCAL, REMOTE, input.srcPort, input.dstPort, ADDRESS_SUM, label).write(actual, segment, false)
        expect(bytes(actual)).toEqual(bytes(expected))
        expect(actual.offloadFlags).toBe(0)
        const frame = bytes(actual)
        expect(internetChecksum(frame, 54, frame.byteLength - 54, ipv6PseudoHeaderSumOf(LOCAL, REMOTE, 6, frame.byteLength - 54))).toBe(0)
        expected.release()
        actual.release()
      }),
      { numRuns: 500 },
    )
  })

  it('with checksum offload: the frame asks the port for the TCP checksum, and completing it gives the computed frame', () => {
    const pool = new BufferPool({ count: 4 })
    const writer = new Ipv6FrameWriter(MAC)
    fc.assert(
      fc.property(segmentArbitrary, flowLabel, (input, label) => {
        const segment = outbound(input)
        const expected = pool.alloc()!
        const actual = pool.alloc()!
        writer.tcp(expected, LOCAL, REMOTE, 0, input.srcPort, input.dstPort, ADDRESS_SUM, label, segment)
        new Tcp6HeaderTemplate(MAC, LOCAL, REMOTE, input.srcPort, input.dstPort, ADDRESS_SUM, label).write(actual, segment, true)
        expect([actual.offloadFlags, actual.l2Length, actual.l3Length]).toEqual([OffloadFlags.TX_TCP_CHECKSUM, 14, 40])
        expect(actual.l4Length).toBe(tcpSegmentHeaderLength(segment))
        completeChecksums(actual) // what the port does (software-offload.ts)
        expect(bytes(actual)).toEqual(bytes(expected))
        expected.release()
        actual.release()
      }),
      { numRuns: 300 },
    )
  })

  it('a super segment asks for segmentation, and the pieces the port cuts all verify', () => {
    const pool = new BufferPool({ count: 64, dataRoom: 65_536 + 256 })
    const template = new Tcp6HeaderTemplate(MAC, LOCAL, REMOTE, 40000, 443, ADDRESS_SUM, 0x12345)
    const payload = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 31) & 0xff)
    const segment = outbound({ seq: 0xffff_f000, ack: 9, flags: 0x18, window: 500, mss: 0, windowScale: -1, sackPermitted: false, timestamps: true, tsValue: 1, tsEcho: 2, sack: [], payload, ecn: 2, ipId: 0, srcPort: 40000, dstPort: 443 })
    segment.segmentSize = 1428
    const buffer = pool.alloc()!
    template.write(buffer, segment, true)
    expect(buffer.offloadFlags).toBe(OffloadFlags.TX_TCP_CHECKSUM | OffloadFlags.TX_TCP_SEGMENTATION)
    const pieces: PacketBuffer[] = []
    const n = segmentTcp6(buffer, pieces)
    expect(n).toBe(Math.ceil(10_000 / 1428))
    const received: number[] = []
    for (let i = 0; i < n; i++) {
      const frame = bytes(pieces[i]!)
      const tcpLength = frame.byteLength - 54
      expect((frame[18]! << 8) | frame[19]!).toBe(tcpLength) // Payload Length per piece
      expect(((frame[15]! >>> 4) & 3) === 2 && (frame[15]! & 0x0f) === 0x1 && frame[16] === 0x23 && frame[17] === 0x45).toBe(true) // ECN and flow label kept
      expect(internetChecksum(frame, 54, tcpLength, ipv6PseudoHeaderSumOf(LOCAL, REMOTE, 6, tcpLength))).toBe(0)
      received.push(...frame.subarray(54 + 32))
      pieces[i]!.release()
    }
    expect(Uint8Array.from(received)).toEqual(payload)
  })
})
