/**
 * The IPv4 host under the stack's TCP (RFC 1122 §3): routing by longest prefix, ARP (RFC 826) resolution
 * with frames parked until the reply, answers to ARP requests and ICMP echo (RFC 792), the IPv4
 * identification of the frames it writes, resets for segments that have no connection (RFC 9293
 * §3.10.7.1), reassembly of fragments (ipv4-reassembly.ts) and fragmentation of echo replies larger than
 * the MTU (RFC 791 §3.2). It writes frames into pool buffers and hands resolved ones to the transmit queue.
 * @module
 */
import type { BufferPool, Micros, PacketBuffer } from '@mtcp/dpdk-io'
import { ArpCache, type ArpCacheOptions, emitEthernet, emitIpv4Fragment, EtherType, ipv4FragmentPayloadLength, networkAddress, type OutboundSegment, parseIpv4Address, RouteTable } from '@mtcp/tcp-core'
import { type FrameReader, FrameWriter, UNRESOLVED_MAC } from './frames.js'
import { Ipv4Reassembly, type ReassemblyOptions } from './ipv4-reassembly.js'
import type { StackHooks } from './stack-hooks.js'
import type { StackStats } from './stats.js'
import type { SocketRecord } from './socket-record.js'
import { TcpHeaderTemplate } from './tcp-header-template.js'

/** What the host needs to know of the stack. */
export interface Ipv4HostOptions {
  address: number
  prefixLength: number
  gateway: number | undefined
  mac: Uint8Array
  checksumOffload: boolean
  arp: ArpCacheOptions | undefined
  staticArp: ReadonlyArray<{ ip: string; mac: Uint8Array }> | undefined
  pool: BufferPool
  /** Queue a frame whose destination MAC is filled in (the stack's transmit queue). */
  transmit: (buffer: PacketBuffer) => void
  /** Hand the transmit queue to the port now (between the bursts of frames an ARP reply releases). */
  flush: () => void
  stats: StackStats
  hooks: StackHooks
  /** The interface MTU: larger echo replies are sent in fragments. */
  mtu: number
  reassembly: ReassemblyOptions | undefined
}

/**
 * Frames that may wait for one next hop's ARP reply. A user-level stack opens thousands of connections
 * to one next hop at once (10,000 SYNs in one burst): each waits in its pool buffer until the reply, so
 * the bound is the pool's size, not a small queue (RFC 1122 §2.3.2.2 asks only that at least one be kept;
 * Linux keeps about 100). Bounded all the same: the cache's total below caps what ARP may hold.
 */
export const ARP_QUEUE_PER_DESTINATION = 65_536
/** Frames that may wait for ARP replies in all. */
export const ARP_QUEUE_TOTAL = 262_144
/** Frames released by an ARP reply between two hand-overs of the transmit queue to the port. */
const RELEASE_CHUNK = 1024

/** @internal */
export class Ipv4Host {
  readonly address: number
  readonly routes = new RouteTable()
  readonly arp: ArpCache<PacketBuffer>
  readonly writer: FrameWriter
  readonly #pool: BufferPool
  readonly #transmit: (buffer: PacketBuffer) => void
  readonly #flush: () => void
  readonly #stats: StackStats
  readonly #hooks: StackHooks
  #ipId = 0
  readonly #mtu: number
  /** IPv4 reassembly (ipv4-reassembly.ts). */
  readonly reassembly: Ipv4Reassembly
  /** Where an echo reply larger than the MTU is built before it is cut into fragments; made on first use. */
  #scratch: Uint8Array | undefined = undefined
  /** The ARP cache's callbacks, made once: a request to send, and a frame whose next hop did not resolve. */
  readonly #arpRequest = (ip: number, mac: Uint8Array | undefined): void => this.sendArp(1, ip, mac)
  readonly #arpGaveUp = (buffer: PacketBuffer): void => {
    this.#stats.tx.drops.arpUnresolved++
    buffer.release()
  }

  constructor(options: Ipv4HostOptions) {
    this.address = options.address
    this.#pool = options.pool
    this.#transmit = options.transmit
    this.#flush = options.flush
    this.#stats = options.stats
    this.#hooks = options.hooks
    this.#mtu = options.mtu
    this.reassembly = new Ipv4Reassembly(options.reassembly, options.stats)
    // A user-level stack opens many connections to one next hop at once: queue up to the pool's size
    // while ARP resolves, not the cache's default 4 per destination (see ARP_QUEUE_PER_DESTINATION).
    this.arp = new ArpCache<PacketBuffer>({ maxQueuedPerDestination: Math.min(ARP_QUEUE_PER_DESTINATION, options.pool.count), maxQueuedTotal: ARP_QUEUE_TOTAL, ...options.arp })
    for (const entry of options.staticArp ?? []) this.arp.addStatic(parseIpv4Address(entry.ip), entry.mac)
    const network = networkAddress(this.address, options.prefixLength)
    this.routes.add({ destination: network, prefixLength: options.prefixLength })
    if (options.gateway !== undefined) this.routes.add({ destination: 0, prefixLength: 0, gateway: options.gateway })
    this.writer = new FrameWriter(options.mac, this.address, options.checksumOffload)
  }

  /** A buffer for a frame to send, or undefined (counted) when the pool is empty. */
  allocTx(): PacketBuffer | undefined {
    const buffer = this.#pool.alloc()
    if (buffer === undefined) this.#stats.tx.drops.noBuffer++
    return buffer
  }

  /** The next IPv4 identification (RFC 6864: any value for atomic datagrams; a counter, as Linux). */
  nextIpId(): number {
    this.#ipId = (this.#ipId + 1) & 0xffff
    return this.#ipId
  }

  /** Resolve the next hop and queue the frame (or park it in the ARP cache until the reply). */
  route(now: Micros, buffer: PacketBuffer, destination: number): void {
    const route = this.routes.lookupRoute(destination) // (lookup() would make an object per frame)
    if (route === undefined) {
      this.#stats.tx.drops.noRoute++
      buffer.release()
      return
    }
    const nextHop = route.gateway ?? destination
    const mac = this.arp.resolve(now, nextHop)
    if (mac !== undefined) {
      this.transmitResolved(buffer, mac)
      return
    }
    const dropped = this.arp.enqueue(now, nextHop, buffer)
    if (dropped !== undefined) {
      this.#stats.tx.drops.arpUnresolved++
      dropped.release()
    }
    this.poll(now)
  }

  /** Fill in the destination MAC and queue the frame. */
  transmitResolved(buffer: PacketBuffer, mac: Uint8Array): void {
    buffer.data.set(mac, buffer.offset)
    this.#transmit(buffer)
  }

  /** ARP's timers: requests to (re)send, frames to give up on; reassembly's timeout. */
  poll(now: Micros): void {
    this.arp.poll(now, this.#arpRequest, this.#arpGaveUp)
    this.reassembly.expire(now)
  }

  /** An ARP request (1) or reply (2). */
  sendArp(operation: 1 | 2, targetIp: number, targetMac: Uint8Array | undefined): void {
    const buffer = this.allocTx()
    if (buffer === undefined) return
    this.writer.arp(buffer, operation, targetIp, targetMac)
    this.#stats.tx.arp++
    this.#transmit(buffer)
  }

  /** The ARP packet just parsed: learn, answer, and send what waited for the sender's address. */
  arpInput(now: Micros, reader: FrameReader): void {
    const arp = reader.arp
    const result = this.arp.onArpPacket(now, arp, this.address)
    if (result.replyOwed) this.sendArp(2, arp.senderIp, arp.senderMac)
    if (result.learned) this.#hooks.arpLearned?.(arp.senderIp, result.mac!)
    this.#release(result.ready, result.mac!)
  }

  /**
   * Send the frames that waited for `mac`: thousands after a burst of connections to one next hop, more
   * than the transmit queue holds (TX_BACKLOG_LIMIT), so the queue goes to the port every
   * {@link RELEASE_CHUNK} frames.
   */
  #release(ready: readonly PacketBuffer[], mac: Uint8Array): void {
    for (let i = 0; i < ready.length; i++) {
      this.transmitResolved(ready[i]!, mac)
      if (i % RELEASE_CHUNK === RELEASE_CHUNK - 1) this.#flush()
    }
  }

  /** Frames an ARP reply releases: the ARP input of the stack and addArpEntry. */
  releaseResolved(ready: readonly PacketBuffer[], mac: Uint8Array): void {
    this.#release(ready, mac)
  }

  /** Answer the echo request just parsed (RFC 792). */
  echoReply(now: Micros, request: PacketBuffer, reader: FrameReader): void {
    if (20 + 8 + reader.echoData.byteLength > this.#mtu) {
      this.#fragmentedEchoReply(now, reader)
      return
    }
    const buffer = this.allocTx()
    if (buffer === undefined) return
    this.writer.echoReply(buffer, request, reader)
    this.#stats.tx.icmp++
    this.route(now, buffer, reader.srcIp)
  }

  /**
   * An echo reply larger than the MTU (the request came in fragments, RFC 1122 §3.2.2.6 says to echo all
   * its data): built whole, then sent in fragments (RFC 791 §3.2) under one fresh identification.
   */
  #fragmentedEchoReply(now: Micros, reader: FrameReader): void {
    const datagram = (this.#scratch ??= new Uint8Array(65_535))
    const length = this.writer.echoReplyDatagram(datagram, reader, this.nextIpId())
    if (length === undefined) return
    const whole = datagram.subarray(0, length)
    for (let at = 0; at < length - 20; ) {
      const buffer = this.allocTx()
      if (buffer === undefined) return
      const carried = ipv4FragmentPayloadLength(whole, at, this.#mtu)
      emitEthernet({ dst: UNRESOLVED_MAC, src: this.writer.mac, etherType: EtherType.IPV4 }, buffer.data, buffer.offset)
      buffer.length = 14 + emitIpv4Fragment(whole, at, this.#mtu, buffer.data, buffer.offset + 14)
      buffer.offloadFlags = 0
      this.#stats.tx.icmp++
      this.route(now, buffer, reader.srcIp)
      at += carried
    }
  }

  /** A TCP segment of a connection. */
  sendSegment(now: Micros, remoteIp: number, localPort: number, remotePort: number, segment: OutboundSegment): void {
    const buffer = this.allocTx()
    if (buffer === undefined) return
    this.writer.tcp(buffer, remoteIp, localPort, remotePort, segment, this.nextIpId())
    this.#stats.tx.tcp++
    this.route(now, buffer, remoteIp)
  }

  /** A segment of a connection with a socket: written from the connection's header template, made here at its first segment. */
  sendConnectionSegment(now: Micros, record: SocketRecord, segment: OutboundSegment): void {
    const buffer = this.allocTx()
    if (buffer === undefined) return
    const template = (record.template ??= new TcpHeaderTemplate(this.writer.mac, this.address, record.remoteIp, record.localPort, record.remotePort))
    template.write(buffer, segment, this.nextIpId(), this.writer.checksumOffload)
    this.#stats.tx.tcp++
    this.route(now, buffer, record.remoteIp)
  }

  /** A reset for a segment that has no connection (RFC 9293 §3.10.7.1). */
  sendReset(now: Micros, remoteIp: number, localPort: number, remotePort: number, seq: number, ack: number, flags: number): void {
    const buffer = this.allocTx()
    if (buffer === undefined) return
    this.writer.reset(buffer, remoteIp, localPort, remotePort, seq, ack, flags, this.nextIpId())
    this.#stats.tx.tcp++
    this.#stats.tx.resets++
    this.route(now, buffer, remoteIp)
  }
}
