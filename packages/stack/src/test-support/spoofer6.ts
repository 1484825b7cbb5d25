/**
 * Test support: {@link Spoofer} over IPv6. Hand-made TCP segments from any IPv6 source put on a memory
 * link, to flood a stack with SYNs or send it forged ACKs and FINs, without a stack of our own behind them.
 * @internal
 */
import { BufferPool, type MemoryPort, type PacketBuffer } from '@mtcp/dpdk-io'
import { emitEthernet, emitIpv6, type EthernetRepr, EtherType, type Ipv6Repr, Ipv6NextHeader, ipv6PseudoHeaderSumOf, OutboundSegment, writeTcpSegmentWithAddressSum } from '@mtcp/tcp-core'
import { type ForgedSegment, flushBurst, forgeTcpFields } from './spoofer.js'

/** A forged segment over IPv6: its source address (16 bytes) instead of `srcIp`. */
export interface ForgedSegment6 extends Omit<ForgedSegment, 'srcIp'> {
  src: Uint8Array
}

/** Writes forged IPv6 frames into `port` (one end of a memory link), addressed to `dst` at the other end. */
export class Spoofer6 {
  readonly #pool = new BufferPool({ count: 4096, dataRoom: 256 })
  readonly #out = new OutboundSegment()
  readonly #eth: EthernetRepr
  readonly #ip: Ipv6Repr
  readonly #burst: PacketBuffer[] = []
  sent = 0

  constructor(
    readonly port: MemoryPort,
    readonly dst: Uint8Array,
  ) {
    this.#eth = { dst: port.peer.link.mac, src: port.link.mac, etherType: EtherType.IPV6 }
    this.#ip = { src: dst, dst, nextHeader: Ipv6NextHeader.TCP, hopLimit: 64, payloadLength: 0 }
  }

  /** Queue one segment; {@link flush} sends what is queued. */
  add(segment: ForgedSegment6): void {
    const buffer = this.#pool.alloc()
    if (buffer === undefined) {
      this.flush()
      return this.add(segment)
    }
    const out = forgeTcpFields(this.#out, segment, 1440)
    const data = buffer.data
    const start = buffer.offset
    emitEthernet(this.#eth, data, start)
    const addressSum = ipv6PseudoHeaderSumOf(segment.src, this.dst, Ipv6NextHeader.TCP, 0)
    const tcpLength = writeTcpSegmentWithAddressSum(out, segment.srcPort, segment.dstPort, addressSum, data, start + 54, 'compute')
    this.#ip.src = segment.src
    this.#ip.payloadLength = tcpLength
    emitIpv6(this.#ip, data, start + 14)
    buffer.length = 54 + tcpLength
    this.#burst.push(buffer)
    this.sent++
  }

  /** Put the queued frames on the link. */
  flush(): void {
    flushBurst(this.port, this.#burst)
  }
}
