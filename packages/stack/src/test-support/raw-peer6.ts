// A hand-driven IPv6 peer on one end of a memory link: it writes IPv6 datagrams of its own making (whole or in
// fragments, with extension headers, Neighbor Discovery messages) and reads what the stack sends back. Tests only.
import { BufferPool, type PacketBuffer, type Port, type VirtualClock } from '@mtcp/dpdk-io'
import { emitIcmpv6, emitIpv6, icmpv6Length, emitNdp, emitTcp, type Icmpv6Repr, Ipv6NextHeader, ipv6UpperLayerChecksum, type NdpRepr, type TcpRepr } from '@mtcp/tcp-core'

/** An IPv6 datagram: the fixed header, then `payload` (extension headers and upper layer) with `nextHeader` naming its first header. */
export function ipv6Datagram(src: Uint8Array, dst: Uint8Array, nextHeader: number, payload: Uint8Array, hopLimit = 64): Uint8Array {
  const out = new Uint8Array(40 + payload.byteLength)
  emitIpv6({ src, dst, nextHeader, hopLimit, payloadLength: payload.byteLength }, out)
  out.set(payload, 40)
  return out
}

/** An ICMPv6 message (checksum over the pseudo-header of `src` → `dst`). */
export function icmpv6Message(src: Uint8Array, dst: Uint8Array, repr: Icmpv6Repr): Uint8Array {
  const out = new Uint8Array(icmpv6Length(repr))
  emitIcmpv6(repr, out, 0, src, dst)
  return out
}

/** An ICMPv6 datagram. */
export function icmpv6Datagram(src: Uint8Array, dst: Uint8Array, repr: Icmpv6Repr): Uint8Array {
  return ipv6Datagram(src, dst, Ipv6NextHeader.ICMPV6, icmpv6Message(src, dst, repr))
}

/** A Neighbor Discovery datagram (hop limit 255, RFC 4861 §7.1). */
export function ndpDatagram(src: Uint8Array, dst: Uint8Array, repr: NdpRepr): Uint8Array {
  const message = new Uint8Array(256)
  const length = emitNdp(repr, message, 0, src, dst)
  return ipv6Datagram(src, dst, Ipv6NextHeader.ICMPV6, message.subarray(0, length), 255)
}

/** A TCP segment (RFC 9293) with its IPv6 pseudo-header checksum (RFC 8200 §8.1). */
export function tcpSegment6(src: Uint8Array, dst: Uint8Array, repr: Partial<TcpRepr> & Pick<TcpRepr, 'srcPort' | 'dstPort' | 'flags'>): Uint8Array {
  const full: TcpRepr = { seqNumber: 0, ackNumber: 0, window: 65535, urgentPointer: 0, options: {}, payload: new Uint8Array(0), ...repr }
  const segment = new Uint8Array(60 + full.payload.byteLength)
  const length = emitTcp(full, 0, 0, segment)
  const out = segment.slice(0, length)
  out[16] = 0
  out[17] = 0
  const sum = ipv6UpperLayerChecksum(out, 0, length, src, dst, Ipv6NextHeader.TCP)
  out[16] = sum >>> 8
  out[17] = sum & 0xff
  return out
}

/**
 * `datagram` (a fixed header and no extension headers) cut into fragments (RFC 8200 §4.5) carrying `size`
 * payload bytes each (a multiple of 8) but the last, under `identification`.
 */
export function fragments6(datagram: Uint8Array, size: number, identification: number): Uint8Array[] {
  const payload = datagram.subarray(40)
  const out: Uint8Array[] = []
  for (let start = 0; start < payload.byteLength; start += size) {
    const end = Math.min(payload.byteLength, start + size)
    out.push(fragment6(datagram, start, end, end < payload.byteLength, identification))
  }
  return out
}

/** One fragment of `datagram`'s payload [start, end), as {@link fragments6} makes them (any range: for overlaps). */
export function fragment6(datagram: Uint8Array, start: number, end: number, more: boolean, identification: number): Uint8Array {
  const out = new Uint8Array(40 + 8 + end - start)
  out.set(datagram.subarray(0, 40))
  out[4] = (8 + end - start) >>> 8
  out[5] = (8 + end - start) & 0xff
  out[6] = Ipv6NextHeader.FRAGMENT
  out[40] = datagram[6]!
  const field = start | (more ? 1 : 0)
  out[42] = field >>> 8
  out[43] = field & 0xff
  new DataView(out.buffer).setUint32(44, identification)
  out.set(datagram.subarray(40 + start, 40 + end), 48)
  return out
}

/** A peer that sends IPv6 datagrams to the stack's MAC (or a multicast MAC) and collects the IPv6 datagrams it gets back. */
export class RawPeer6 {
  readonly pool = new BufferPool({ count: 4096, dataRoom: 2048 })
  readonly #rx: PacketBuffer[] = []
  /** Every IPv6 frame received, whole (Ethernet header included), in order. */
  readonly frames: Uint8Array[] = []

  constructor(
    readonly port: Port,
    readonly clock: VirtualClock,
    /** The stack's MAC (the destination of what the peer sends). */
    readonly stackMac: Uint8Array,
  ) {
    port.onReadable(() => this.collect())
  }

  /** Send one IPv6 datagram in an Ethernet frame, to the stack's MAC or `dstMac`. */
  send(datagram: Uint8Array, dstMac: Uint8Array = this.stackMac): void {
    const frame = new Uint8Array(14 + datagram.byteLength)
    frame.set(dstMac, 0)
    frame.set(this.port.link.mac, 6)
    frame[12] = 0x86
    frame[13] = 0xdd
    frame.set(datagram, 14)
    const buffer = this.pool.alloc()!.setFrame(frame)
    if (this.port.txBurst([buffer], 1) !== 1) throw new Error('the link refused a frame')
  }

  collect(): void {
    for (;;) {
      const n = this.port.rxBurst(this.#rx, 32)
      for (let i = 0; i < n; i++) {
        const frame = this.#rx[i]!.frame()
        if (frame[12] === 0x86 && frame[13] === 0xdd) this.frames.push(frame.slice())
        this.#rx[i]!.release()
      }
      if (n < 32) return
    }
  }

  /** Run the clock for `within` µs; @returns the IPv6 datagrams (from the IPv6 header) received meanwhile. */
  receive(within = 1_000): Uint8Array[] {
    const from = this.frames.length
    this.clock.advanceBy(within)
    this.collect()
    return this.frames.slice(from).map((frame) => frame.subarray(14))
  }
}
