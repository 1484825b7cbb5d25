// A hand-driven peer on one end of a memory link: it writes IPv4 datagrams of its own making (whole or in
// fragments) and reads what the stack sends back. Tests only.
import { BufferPool, type Port, type PacketBuffer, type VirtualClock } from '@mtcp/dpdk-io'
import { emitIcmp, emitIpv4, emitTcp, type IcmpRepr, IpProtocol, fragmentIpv4, type TcpRepr } from '@mtcp/tcp-core'

/** An IPv4 datagram around `payload`. */
export function ipv4Datagram(src: number, dst: number, protocol: number, payload: Uint8Array, options: { identification?: number; dontFragment?: boolean; ttl?: number } = {}): Uint8Array {
  const out = new Uint8Array(20 + payload.byteLength)
  out.set(payload, 20)
  emitIpv4({ src, dst, protocol, ttl: options.ttl ?? 64, identification: options.identification ?? 0x4242, dontFragment: options.dontFragment ?? false, payloadLength: payload.byteLength }, out)
  return out
}

/** A TCP segment in an IPv4 datagram. */
export function tcpDatagram(src: number, dst: number, repr: Partial<TcpRepr> & Pick<TcpRepr, 'srcPort' | 'dstPort' | 'flags'>, ip: { identification?: number; dontFragment?: boolean } = {}): Uint8Array {
  const full: TcpRepr = { seqNumber: 0, ackNumber: 0, window: 65535, urgentPointer: 0, options: {}, payload: new Uint8Array(0), ...repr }
  const segment = new Uint8Array(60 + full.payload.byteLength)
  const length = emitTcp(full, src, dst, segment)
  return ipv4Datagram(src, dst, IpProtocol.TCP, segment.subarray(0, length), ip)
}

/** An ICMP message in an IPv4 datagram. */
export function icmpDatagram(src: number, dst: number, repr: IcmpRepr, ip: { identification?: number } = {}): Uint8Array {
  const message = new Uint8Array(8 + repr.data.byteLength)
  emitIcmp(repr, message)
  return ipv4Datagram(src, dst, IpProtocol.ICMP, message, ip)
}

export class RawPeer {
  readonly pool = new BufferPool({ count: 1024, dataRoom: 2048 })
  readonly #rx: PacketBuffer[] = []

  constructor(
    readonly port: Port,
    readonly clock: VirtualClock,
    /** The stack's MAC (the destination of what the peer sends). */
    readonly stackMac: Uint8Array,
  ) {}

  /** Send one IPv4 datagram (a fragment or whole) in an Ethernet frame. */
  send(datagram: Uint8Array): void {
    const frame = new Uint8Array(14 + datagram.byteLength)
    frame.set(this.stackMac, 0)
    frame.set(this.port.link.mac, 6)
    frame[12] = 0x08
    frame[13] = 0x00
    frame.set(datagram, 14)
    const buffer = this.pool.alloc()!.setFrame(frame)
    if (this.port.txBurst([buffer], 1) !== 1) throw new Error('the link refused a frame')
  }

  /** Send `datagram` cut into fragments of at most `mtu` bytes, in the order `order` gives (default as cut). */
  sendFragments(datagram: Uint8Array, mtu: number, order?: (fragments: Uint8Array[]) => Uint8Array[]): number {
    const fragments = fragmentIpv4(datagram, mtu)
    for (const fragment of order === undefined ? fragments : order(fragments)) this.send(fragment)
    return fragments.length
  }

  /** Run the clock for `within` µs and return the IPv4 datagrams the stack sent (copies; ARP frames skipped). */
  receive(within = 1_000): Uint8Array[] {
    this.clock.runUntilIdle(this.clock.now() + within)
    const out: Uint8Array[] = []
    for (;;) {
      const n = this.port.rxBurst(this.#rx, 64)
      for (let i = 0; i < n; i++) {
        const frame = this.#rx[i]!.frame()
        if (frame[12] === 0x08 && frame[13] === 0x00) out.push(frame.slice(14))
        this.#rx[i]!.release()
      }
      if (n === 0) return out
    }
  }
}
