/**
 * Test support: hand-made TCP segments put on a memory link as if from anywhere (spoofed sources), to flood
 * a stack with SYNs or to send it forged ACKs, without a stack of our own behind them.
 * @internal
 */
import { BufferPool, type MemoryPort, type PacketBuffer, type Port } from '@mtcp/dpdk-io'
import { emitEthernet, emitIpv4, type EthernetRepr, EtherType, IpProtocol, OutboundSegment, TcpFlags, writeTcpSegment } from '@mtcp/tcp-core'

/** Options of a forged segment. */
export interface ForgedSegment {
  srcIp: number
  srcPort: number
  dstPort: number
  seq: number
  ack?: number
  flags: number
  /** Options as a typical client's SYN has them: MSS 1460, window scale 7, SACK-permitted, timestamps. */
  synOptions?: boolean
  tsValue?: number
  tsEcho?: number
}

/** Fill `out` with a forged segment's TCP fields (no payload); a SYN's options as a typical client's, with MSS `mss`. */
export function forgeTcpFields(out: OutboundSegment, segment: Omit<ForgedSegment, 'srcIp' | 'srcPort' | 'dstPort'>, mss: number): OutboundSegment {
  out.seq = segment.seq >>> 0
  out.ack = (segment.ack ?? 0) >>> 0
  out.flags = segment.flags
  out.window = 64_240
  const syn = segment.synOptions === true
  out.mss = syn ? mss : 0
  out.windowScale = syn ? 7 : -1
  out.sackPermitted = syn
  out.timestamps = segment.tsValue !== undefined
  out.tsValue = segment.tsValue ?? 0
  out.tsEcho = segment.tsEcho ?? 0
  out.sackCount = 0
  out.payloadLength = 0
  return out
}

/** Writes forged frames into `port` (one end of a memory link), addressed to the stack at the other end. */
export class Spoofer {
  readonly #pool = new BufferPool({ count: 4096, dataRoom: 256 })
  readonly #out = new OutboundSegment()
  readonly #eth: EthernetRepr
  readonly #ip = { src: 0, dst: 0, protocol: IpProtocol.TCP as number, ttl: 64, identification: 0, dontFragment: true, payloadLength: 0 }
  readonly #burst: PacketBuffer[] = []
  sent = 0

  constructor(
    readonly port: MemoryPort,
    readonly dstIp: number,
  ) {
    this.#eth = { dst: port.peer.link.mac, src: port.link.mac, etherType: EtherType.IPV4 }
  }

  /** Queue one segment; {@link flush} sends what is queued. */
  add(segment: ForgedSegment): void {
    const buffer = this.#pool.alloc()
    if (buffer === undefined) {
      this.flush()
      return this.add(segment)
    }
    const out = forgeTcpFields(this.#out, segment, 1460)
    const data = buffer.data
    const start = buffer.offset
    emitEthernet(this.#eth, data, start)
    const tcpLength = writeTcpSegment(out, segment.srcPort, segment.dstPort, segment.srcIp, this.dstIp, data, start + 34, 'compute')
    this.#ip.src = segment.srcIp
    this.#ip.dst = this.dstIp
    this.#ip.payloadLength = tcpLength
    emitIpv4(this.#ip, data, start + 14, 'compute')
    buffer.length = 34 + tcpLength
    this.#burst.push(buffer)
    this.sent++
  }

  /** Put the queued frames on the link. */
  flush(): void {
    flushBurst(this.port, this.#burst)
  }
}

/** Put `burst` on `port`, releasing what it refused; empties the array. */
export function flushBurst(port: Port, burst: PacketBuffer[]): void {
  if (burst.length === 0) return
  const sent = port.txBurst(burst, burst.length)
  for (let i = sent; i < burst.length; i++) burst[i]!.release()
  burst.length = 0
}

/** A SYN flag set, for readability at call sites. */
export const SYN = TcpFlags.SYN
