// A router between two memory links, as a bridge that forwards frames unchanged both ways, except that a
// datagram from left to right larger than `mtu` with Don't Fragment set is dropped and answered with an
// ICMP "fragmentation needed" (RFC 1191 §4) from `routerIp` — what a router with a small far link does.
// It can also send hand-made ICMP errors to the left side. Tests only.
import type { Port, PacketBuffer } from '@mtcp/dpdk-io'
import { BufferPool } from '@mtcp/dpdk-io'
import { emitIcmp, emitIpv4, IpProtocol } from '@mtcp/tcp-core'

export class MtuRouter {
  mtu: number
  /** Sizes (IP total length) of the datagrams forwarded left to right, in order. */
  readonly forwarded: number[] = []
  /** Sizes of every datagram from left to right, forwarded or not, in order. */
  readonly attempts: number[] = []
  /** Datagrams dropped for their size (each answered with an ICMP error). */
  tooBig = 0
  /** The index in {@link attempts} of the last datagram dropped for its size. */
  lastTooBig = -1
  /** A copy of the last TCP frame carrying data forwarded from left to right. */
  lastData: Uint8Array | undefined = undefined
  readonly #pool = new BufferPool({ count: 256, dataRoom: 2048 })
  readonly #rx: PacketBuffer[] = []

  constructor(
    readonly left: Port,
    readonly right: Port,
    mtu: number,
    readonly routerIp: number,
  ) {
    this.mtu = mtu
    left.onReadable(() => this.#pump(left, right, true))
    right.onReadable(() => this.#pump(right, left, false))
  }

  #pump(from: Port, to: Port, checkSize: boolean): void {
    for (;;) {
      const n = from.rxBurst(this.#rx, 32)
      for (let i = 0; i < n; i++) {
        const buffer = this.#rx[i]!
        const frame = buffer.frame()
        const ipv4 = frame[12] === 0x08 && frame[13] === 0x00
        if (checkSize && ipv4) {
          const totalLength = (frame[16]! << 8) | frame[17]!
          this.attempts.push(totalLength)
          if (totalLength > this.mtu && (frame[20]! & 0x40) !== 0) {
            this.tooBig++
            this.lastTooBig = this.attempts.length - 1
            this.sendIcmpError(frame, 3, 4, this.mtu)
            buffer.release()
            continue
          }
          this.forwarded.push(totalLength)
          if (frame[23] === IpProtocol.TCP && totalLength > 20 + 20 + 12) this.lastData = frame.slice()
        }
        if (to.txBurst([buffer], 1) !== 1) buffer.release()
      }
      if (n < 32) return
    }
  }

  /**
   * Send to the left an ICMP error about `offending` (an Ethernet frame that came from the left): type,
   * code, the next-hop MTU in the low 16 bits of the rest of the header, and the quoted IP header plus the
   * first 8 bytes of its payload (RFC 792). `edit` may change the quoted bytes first (to forge one).
   */
  sendIcmpError(offending: Uint8Array, type: number, code: number, nextHopMtu = 0, edit?: (quoted: Uint8Array) => void): void {
    const headerLength = (offending[14]! & 0x0f) * 4
    const quoted = offending.slice(14, 14 + headerLength + 8)
    edit?.(quoted)
    const src = ((offending[26]! << 24) | (offending[27]! << 16) | (offending[28]! << 8) | offending[29]!) >>> 0
    const frame = new Uint8Array(14 + 20 + 8 + quoted.byteLength)
    frame.set(offending.subarray(6, 12), 0) // back to the sender's MAC
    frame.set(this.left.link.mac, 6)
    frame[12] = 0x08
    frame[13] = 0x00
    const icmpLength = emitIcmp({ kind: 'other', type, code, restOfHeader: nextHopMtu & 0xffff, data: quoted }, frame, 34)
    emitIpv4({ src: this.routerIp, dst: src, protocol: IpProtocol.ICMP, ttl: 64, identification: 1, dontFragment: false, payloadLength: icmpLength }, frame, 14)
    const buffer = this.#pool.alloc()!.setFrame(frame)
    if (this.left.txBurst([buffer], 1) !== 1) buffer.release()
  }
}
