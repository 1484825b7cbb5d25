// The segment path's codec reads and writes exactly what the views and reprs do (the same wire rules),
// without allocating: checked against emitTcp/parseTcp on arbitrary segments, and on malformed input.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { emitTcp, parseTcp, type TcpRepr, TcpView } from '../wire/tcp.js'
import { WireError } from '../wire/errors.js'
import { emptyInboundSegment, OutboundSegment } from './segment.js'
import { TcpReadStatus, TcpSegmentReader, tcpSegmentHeaderLength, writeTcpSegment } from './segment-codec.js'

const SRC = 0x0a000001
const DST = 0x0a000002
const uint32 = fc.integer({ min: 0, max: 0xffffffff })

const outbound = fc.record({
  seq: uint32,
  ack: uint32,
  flags: fc.integer({ min: 0, max: 0xff }),
  window: fc.integer({ min: 0, max: 0xffff }),
  mss: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0xffff })),
  windowScale: fc.integer({ min: -1, max: 14 }),
  sackPermitted: fc.boolean(),
  timestamps: fc.boolean(),
  tsValue: uint32,
  tsEcho: uint32,
  sack: fc.array(fc.tuple(uint32, uint32), { maxLength: 4 }),
  payload: fc.uint8Array({ maxLength: 1600 }),
  offset: fc.integer({ min: 0, max: 64 }),
})

function segmentFrom(c: { seq: number; ack: number; flags: number; window: number; mss: number; windowScale: number; sackPermitted: boolean; timestamps: boolean; tsValue: number; tsEcho: number; sack: Array<[number, number]>; payload: Uint8Array }): OutboundSegment {
  const out = new OutboundSegment()
  out.seq = c.seq
  out.ack = c.ack
  out.flags = c.flags
  out.window = c.window
  out.mss = c.mss
  out.windowScale = c.windowScale
  out.sackPermitted = c.sackPermitted
  out.timestamps = c.timestamps
  out.tsValue = c.tsValue
  out.tsEcho = c.tsEcho
  out.sackCount = c.sack.length
  c.sack.forEach(([left, right], i) => {
    out.sackLeft[i] = left
    out.sackRight[i] = right
  })
  out.payloadLength = c.payload.byteLength
  out.copyFrom = (from, length, target, at) => target.set(c.payload.subarray(from, from + length), at)
  return out
}

function reprOf(out: OutboundSegment, payload: Uint8Array): TcpRepr {
  return {
    srcPort: 1234,
    dstPort: 80,
    seqNumber: out.seq,
    ackNumber: out.ack,
    flags: out.flags,
    window: out.window,
    urgentPointer: 0,
    options: {
      mss: out.mss > 0 ? out.mss : undefined,
      windowScale: out.windowScale >= 0 ? out.windowScale : undefined,
      sackPermitted: out.sackPermitted,
      timestamp: out.timestamps ? { tsVal: out.tsValue, tsEcr: out.tsEcho } : undefined,
      sackBlocks: Array.from({ length: out.sackCount }, (_, i) => ({ left: out.sackLeft[i]!, right: out.sackRight[i]! })),
    },
    payload,
  }
}

describe('writeTcpSegment and TcpSegmentReader', () => {
  it('write the bytes emitTcp writes, and read back what parseTcp reads, in both checksum modes', () => {
    fc.assert(
      fc.property(outbound, fc.constantFrom('compute' as const, 'offload' as const), (c, mode) => {
        const out = segmentFrom(c)
        const size = tcpSegmentHeaderLength(out) + c.payload.byteLength
        const ours = new Uint8Array(c.offset + size)
        expect(writeTcpSegment(out, 1234, 80, SRC, DST, ours, c.offset, mode)).toBe(size)
        const theirs = new Uint8Array(c.offset + size)
        expect(emitTcp(reprOf(out, c.payload), SRC, DST, theirs, c.offset, mode)).toBe(size)
        expect(ours).toEqual(theirs)
        if (mode === 'offload') return
        const reader = new TcpSegmentReader(emptyInboundSegment())
        expect(reader.read(ours, c.offset, size, SRC, DST, 'verify')).toBe(TcpReadStatus.OK)
        const parsed = parseTcp(TcpView.checked(ours.subarray(c.offset)) as TcpView, SRC, DST) as TcpRepr
        const s = reader.segment
        expect([reader.srcPort, reader.dstPort, s.seq, s.ack, s.flags, s.window]).toEqual([parsed.srcPort, parsed.dstPort, parsed.seqNumber, parsed.ackNumber, parsed.flags, parsed.window])
        expect([s.mss, s.windowScale, s.sackPermitted, s.tsValue, s.tsValue === undefined ? undefined : s.tsEcho]).toEqual([
          parsed.options.mss,
          parsed.options.windowScale,
          parsed.options.sackPermitted,
          parsed.options.timestamp?.tsVal,
          parsed.options.timestamp?.tsEcr,
        ])
        expect(s.sackBlocks).toEqual(parsed.options.sackBlocks)
        expect(s.payload.subarray(s.payloadOffset, s.payloadOffset + s.payloadLength)).toEqual(parsed.payload)
      }),
      { numRuns: 500 },
    )
  })

  it('report a changed byte as a bad checksum, and malformed headers by status, never throwing', () => {
    const out = segmentFrom({ seq: 1, ack: 2, flags: 0x18, window: 100, mss: 0, windowScale: -1, sackPermitted: false, timestamps: true, tsValue: 5, tsEcho: 6, sack: [], payload: new Uint8Array(100).fill(7) })
    const bytes = new Uint8Array(200)
    const size = writeTcpSegment(out, 1, 2, SRC, DST, bytes, 0, 'compute')
    const reader = new TcpSegmentReader(emptyInboundSegment())
    bytes[50]! ^= 1
    expect(reader.read(bytes, 0, size, SRC, DST, 'verify')).toBe(TcpReadStatus.BAD_CHECKSUM)
    expect(reader.read(bytes, 0, size, SRC, DST, 'skip')).toBe(TcpReadStatus.OK)
    expect(reader.read(bytes, 0, 19, SRC, DST, 'skip')).toBe(TcpReadStatus.MALFORMED)
    bytes[12] = 0x40 // data offset 4
    expect(reader.read(bytes, 0, size, SRC, DST, 'skip')).toBe(TcpReadStatus.MALFORMED)
    bytes[12] = 0x60
    bytes[20] = 2 // an MSS option of length 3
    bytes[21] = 3
    expect(reader.read(bytes, 0, size, SRC, DST, 'skip')).toBe(TcpReadStatus.BAD_OPTION)
    expect(reader.problem).toMatch(/MSS option of length 3/)
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (junk) => {
        const status = reader.read(junk, 0, junk.byteLength, SRC, DST, 'skip')
        const view = TcpView.checked(junk)
        const repr = view instanceof WireError ? view : parseTcp(view, SRC, DST, 'skip')
        expect(status === TcpReadStatus.OK).toBe(!(repr instanceof WireError))
      }),
    )
  })
})
