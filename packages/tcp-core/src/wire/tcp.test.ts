import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { foldChecksum, internetChecksum, ipv4PseudoHeaderSum } from './checksum.js'
import { WireError } from './errors.js'
import { emitEthernet, type EthernetRepr, EthernetView, EtherType, parseEthernet } from './ethernet.js'
import type { CapturedFrame } from './fixtures/captured-frames.js'
import { addressField, arbitraryBytes, bytesAt, capturedFrame, filled, framesWhere, numberField } from './fixtures/frame-helpers.js'
import { emitIpv4, IpProtocol, type Ipv4Repr, Ipv4View, parseIpv4 } from './ipv4.js'
import { completeTcpChecksum, emitTcp, parseTcp, TCP_HEADER_LENGTH, TcpFlags, tcpHeaderLength, type TcpRepr, TcpView } from './tcp.js'
import type { TcpOptions } from './tcp-options.js'

interface ParsedFrame {
  ethernet: EthernetRepr
  ip: Ipv4Repr
  tcp: TcpRepr
  view: TcpView
}

/** Ethernet → IPv4 → TCP, as a stack's receive path does; the first error wins. */
function parseFrame(bytes: Uint8Array, checksum: 'verify' | 'skip' = 'verify'): ParsedFrame | WireError {
  const ethernetView = EthernetView.checked(bytes)
  if (ethernetView instanceof WireError) return ethernetView
  const ethernet = parseEthernet(ethernetView)
  if (ethernet instanceof WireError) return ethernet
  if (ethernet.etherType !== EtherType.IPV4) return new WireError('ethernet', 'UNSUPPORTED', 'not IPv4')
  const ipView = Ipv4View.checked(ethernetView.payload, checksum)
  if (ipView instanceof WireError) return ipView
  const ip = parseIpv4(ipView)
  if (ip instanceof WireError) return ip
  if (ip.protocol !== IpProtocol.TCP) return new WireError('ipv4', 'UNSUPPORTED', 'not TCP')
  const view = TcpView.checked(ipView.payload)
  if (view instanceof WireError) return view
  const tcp = parseTcp(view, ip.src, ip.dst, checksum)
  if (tcp instanceof WireError) return tcp
  return { ethernet, ip, tcp, view }
}

function parsed(frame: CapturedFrame): ParsedFrame {
  const result = parseFrame(bytesAt(frame))
  if (result instanceof WireError) throw new Error(`${frame.name}: ${result}`)
  return result
}

/** Emit a whole frame from its reprs at `offset` into a buffer pre-filled with 0xa5; returns the frame. */
function emitFrame(p: ParsedFrame, offset: number, checksum: 'compute' | 'offload' = 'compute'): { out: Uint8Array; frame: Uint8Array } {
  const out = filled(offset + 14 + 20 + tcpHeaderLength(p.tcp) + p.tcp.payload.length + 4)
  let at = offset
  at += emitEthernet(p.ethernet, out, at)
  at += emitIpv4(p.ip, out, at, checksum)
  at += emitTcp(p.tcp, p.ip.src, p.ip.dst, out, at, checksum)
  return { out, frame: out.subarray(offset, at) }
}

/** The captured segment of a frame as its own array. */
function segmentOf(name: string): Uint8Array {
  return bytesAt(capturedFrame(name)).subarray(34).slice()
}

const tcpFrames = framesWhere((frame) => frame.tshark['tcp.srcport'] !== undefined)
const SRC = 0x0a63_0001
const DST = 0x0a63_0002

describe('TCP (RFC 9293 §3.1)', () => {
  it('has the captured handshake, data, FIN and SACK segments to test', () => {
    expect(tcpFrames.length).toBeGreaterThanOrEqual(20)
    for (const name of ['syn', 'synAck', 'data', 'dataReply', 'fin', 'sackAck', 'dsackAck']) {
      expect(tcpFrames.map((f) => f.name)).toContain(name)
    }
  })

  it('parses every captured segment as tshark decoded it', () => {
    for (const frame of tcpFrames) {
      const { tcp, view } = parsed(frame)
      expect(view.headerLength, frame.name).toBe(numberField(frame, 'tcp.hdr_len'))
      expect(view.checksum).toBe(numberField(frame, 'tcp.checksum'))
      expect(view.verifyChecksum(addressField(frame, 'ip.src'), addressField(frame, 'ip.dst'))).toBe(true)
      expect(tcp).toEqual({
        srcPort: numberField(frame, 'tcp.srcport'),
        dstPort: numberField(frame, 'tcp.dstport'),
        seqNumber: numberField(frame, 'tcp.seq_raw'),
        ackNumber: numberField(frame, 'tcp.ack_raw'),
        flags: numberField(frame, 'tcp.flags'),
        window: numberField(frame, 'tcp.window_size_value'),
        urgentPointer: numberField(frame, 'tcp.urgent_pointer'),
        options: expect.any(Object) as TcpOptions, // compared with tshark's in tcp-options.test.ts
        payload: view.payload,
      })
      expect(tcp.payload.length).toBe(numberField(frame, 'tcp.len'))
    }
  })

  it('emits every captured frame again, byte for byte, checksums included', () => {
    for (const frame of tcpFrames) {
      const { out, frame: emitted } = emitFrame(parsed(frame), 5)
      expect(emitted, frame.name).toEqual(bytesAt(frame))
      expect(out[4]).toBe(0xa5)
      expect(out[5 + emitted.length]).toBe(0xa5)
    }
  })

  it('with offload, leaves the pseudo-header sum for the NIC; finishing it gives the captured bytes', () => {
    for (const frame of tcpFrames) {
      const p = parsed(frame)
      const { frame: emitted } = emitFrame(p, 0, 'offload')
      const segment = emitted.subarray(34)
      const pseudo = foldChecksum(ipv4PseudoHeaderSum(p.ip.src, p.ip.dst, IpProtocol.TCP, segment.length))
      expect((segment[16]! << 8) | segment[17]!).toBe(pseudo)
      completeTcpChecksum(segment, 0, segment.length)
      const ipHeader = emitted.subarray(14, 34)
      const ipChecksum = internetChecksum(ipHeader)
      ipHeader[10] = ipChecksum >>> 8
      ipHeader[11] = ipChecksum & 0xff
      expect(emitted, frame.name).toEqual(bytesAt(frame))
    }
  })

  it('reads the captured SYN, SYN-ACK, data and FIN', () => {
    const syn = parsed(capturedFrame('syn')).tcp
    expect(syn.flags).toBe(TcpFlags.SYN)
    expect(syn.options).toMatchObject({ mss: 1460, sackPermitted: true })
    const synAck = parsed(capturedFrame('synAck')).tcp
    expect(synAck.flags).toBe(TcpFlags.SYN | TcpFlags.ACK)
    expect(synAck.ackNumber).toBe((syn.seqNumber + 1) >>> 0)
    const data = parsed(capturedFrame('data')).tcp
    expect(new TextDecoder().decode(data.payload)).toBe('GET / mtcp wire fixture\r\n')
    expect(data.flags).toBe(TcpFlags.PSH | TcpFlags.ACK)
    expect(parsed(capturedFrame('fin')).tcp.flags & TcpFlags.FIN).toBe(TcpFlags.FIN)
  })

  it('does not copy a payload already in place', () => {
    const p = parsed(capturedFrame('data'))
    const segment = segmentOf('data')
    const payload = segment.subarray(tcpHeaderLength(p.tcp))
    segment.fill(0xa5, 0, tcpHeaderLength(p.tcp))
    expect(emitTcp({ ...p.tcp, payload }, p.ip.src, p.ip.dst, segment)).toBe(segment.length)
    expect(segment).toEqual(segmentOf('data'))
  })

  describe('reports malformed segments with their codes', () => {
    it('TRUNCATED under 20 bytes', () => {
      expect(TcpView.checked(segmentOf('syn').subarray(0, 19))).toMatchObject({ protocol: 'tcp', code: 'TRUNCATED' })
    })

    it('BAD_HEADER_LENGTH: data offset below 5 or past the segment', () => {
      const low = segmentOf('data')
      low[12] = 0x40
      expect(TcpView.checked(low)).toMatchObject({ code: 'BAD_HEADER_LENGTH' })
      const high = segmentOf('synAck') // 40 bytes
      high[12] = 0xb0 // 44-byte header
      expect(TcpView.checked(high)).toMatchObject({ code: 'BAD_HEADER_LENGTH' })
      expect(TcpView.checked(segmentOf('synAck').subarray(0, 39))).toMatchObject({ code: 'BAD_HEADER_LENGTH' })
    })

    it('BAD_CHECKSUM: a payload bit flipped, or the wrong pseudo-header; not with skip', () => {
      const frame = capturedFrame('data')
      const src = addressField(frame, 'ip.src')
      const dst = addressField(frame, 'ip.dst')
      const corrupted = segmentOf('data')
      corrupted[corrupted.length - 3] = corrupted[corrupted.length - 3]! ^ 0x10
      const view = TcpView.checked(corrupted) as TcpView
      expect(parseTcp(view, src, dst)).toMatchObject({ code: 'BAD_CHECKSUM' })
      expect(parseTcp(view, src, dst, 'skip')).toMatchObject({ srcPort: numberField(frame, 'tcp.srcport') })
      const intact = TcpView.checked(segmentOf('data')) as TcpView
      expect(parseTcp(intact, src, (dst + 1) >>> 0)).toMatchObject({ code: 'BAD_CHECKSUM' })
      expect(parseTcp(intact, dst, src)).not.toBeInstanceOf(WireError) // the sum is symmetric in src and dst
    })

    it('BAD_OPTION: an option length of 0 in the captured SYN', () => {
      const syn = segmentOf('syn')
      syn[20 + 1] = 0 // MSS option length
      const view = TcpView.checked(syn) as TcpView
      expect(parseTcp(view, SRC, DST, 'skip')).toMatchObject({ protocol: 'tcp', code: 'BAD_OPTION' })
    })
  })

  it('throws ERR_BUFFER_TOO_SMALL when the segment does not fit', () => {
    const p = parsed(capturedFrame('data'))
    const length = tcpHeaderLength(p.tcp) + p.tcp.payload.length
    expect(() => emitTcp(p.tcp, SRC, DST, new Uint8Array(length - 1))).toThrowError(expect.objectContaining({ code: 'ERR_BUFFER_TOO_SMALL' }))
    expect(() => emitTcp(p.tcp, SRC, DST, new Uint8Array(length), 1)).toThrowError(expect.objectContaining({ code: 'ERR_BUFFER_TOO_SMALL' }))
  })

  it('never throws on arbitrary frames or segments', () => {
    fc.assert(
      fc.property(arbitraryBytes, fc.boolean(), (bytes, skip) => {
        parseFrame(bytes, skip ? 'skip' : 'verify')
        const view = TcpView.checked(bytes.subarray(Math.min(34, bytes.length)))
        if (!(view instanceof WireError)) {
          parseTcp(view, SRC, DST, skip ? 'skip' : 'verify')
          expect(view.payload.length + view.headerLength).toBe(view.bytes.length)
        }
      }),
      { numRuns: 3000 },
    )
  })

  it('round-trips arbitrary segments with options, at any offset, both checksum modes', () => {
    const uint32 = fc.integer({ min: 0, max: 0xffff_ffff })
    const port = fc.integer({ min: 0, max: 0xffff })
    const options = fc.record({
      // An MSS of 0 is written and read as no option (tcp-options.ts: as Linux, it cannot be honoured).
      mss: fc.option(fc.integer({ min: 1, max: 0xffff }), { nil: undefined }),
      windowScale: fc.option(fc.integer({ min: 0, max: 14 }), { nil: undefined }),
      sackPermitted: fc.boolean(),
      sackBlocks: fc.array(fc.record({ left: uint32, right: uint32 }), { maxLength: 2 }),
      timestamp: fc.option(fc.record({ tsVal: uint32, tsEcr: uint32 }), { nil: undefined }),
    })
    const segment = fc.record({
      srcPort: port,
      dstPort: port,
      seqNumber: uint32,
      ackNumber: uint32,
      flags: fc.integer({ min: 0, max: 255 }),
      window: port,
      urgentPointer: port,
      options,
      payload: fc.uint8Array({ maxLength: 100 }),
    })
    fc.assert(
      fc.property(segment, uint32, uint32, fc.nat(7), fc.boolean(), (tcp: TcpRepr, src, dst, offset, offload) => {
        const length = tcpHeaderLength(tcp) + tcp.payload.length
        const out = filled(offset + length + 1)
        expect(emitTcp(tcp, src, dst, out, offset, offload ? 'offload' : 'compute')).toBe(length)
        expect(out[offset + length]).toBe(0xa5)
        const bytes = out.subarray(offset, offset + length)
        if (offload) completeTcpChecksum(bytes, 0, length)
        const view = TcpView.checked(bytes)
        if (view instanceof WireError) throw new Error(String(view))
        expect(view.headerLength).toBe(tcpHeaderLength(tcp))
        expect(view.headerLength).toBeGreaterThanOrEqual(TCP_HEADER_LENGTH)
        expect(parseTcp(view, src, dst)).toEqual(tcp)
      }),
    )
  })
})
