/**
 * The receive side of the stack, for both families: what a frame is (frames.ts, the IPv6 host), then for
 * a TCP segment the flow it belongs to, in the order of RFC 9293 §3.10.7: the exact 4-tuple (the
 * connection's input), a compact TIME-WAIT entry, a listener (a passive open, or the ACK of a SYN cookie),
 * a cluster worker's hand-over, else a reset for no socket. ICMP errors and IPv6 packet-too-big messages
 * find their connection the same way.
 *
 * Nothing here calls application code: connections only collect events, which the driver (driver.ts)
 * delivers after the burst.
 * @internal
 * @module
 */
import type { Micros, PacketBuffer } from '@mtcp/dpdk-io'
import { type InboundSegment, ipv6PseudoHeaderSumOf, Ipv6NextHeader, type OutboundSegment, TcpConnection, TcpFlags, TimeWaitAction } from '@mtcp/tcp-core'
import type { Driver } from './driver.js'
import { FrameKind, FrameReader } from './frames.js'
import { icmpErrorInput } from './icmp-errors.js'
import { Ipv6FrameKind, type Ipv6Host } from './ipv6-host.js'
import { flowLabel, ipv6AddressDigest } from './secrets.js'
import type { SocketRecord } from './socket-record.js'
import type { StackState } from './stack-state.js'
import { ConnectionDrops, tcpLevelDrops } from './stats.js'
import type { TimeWaitSender } from './time-wait-table.js'

/** @internal The receive-side demultiplexer (see the module). */
export class Demultiplexer {
  readonly #state: StackState
  readonly #driver: Driver
  readonly #reader: FrameReader
  /** Counts what a connection refused of a segment, by reason (stats.ts). */
  readonly #connectionDrops = new ConnectionDrops()
  /** Whether the segment being processed came in fragments (then no cluster hand-over: the frame is not the datagram). */
  #reassembled = false
  /** Where the TIME-WAIT table's ACKs go, by family. */
  readonly #timeWaitSender: TimeWaitSender = {
    send: (segment: OutboundSegment, remoteIp: number, localPort: number, remotePort: number): void => {
      this.#state.host.sendSegment(this.#state.clock.now(), remoteIp, localPort, remotePort, segment)
    },
    send6: (segment: OutboundSegment, local: Uint8Array, remote: Uint8Array, localPort: number, remotePort: number, addressSum: number, label: number): void => {
      this.#state.host6!.sendSegment(this.#state.clock.now(), local, remote, localPort, remotePort, addressSum, label, segment)
    },
  }
  /** The source address of the IPv6 segment being answered with a cookie, copied here (no array per SYN). */
  readonly #remote6 = new Uint8Array(16)

  constructor(state: StackState, driver: Driver) {
    this.#state = state
    this.#driver = driver
    this.#reader = new FrameReader(state.stats.rx.icmpIn)
  }

  /** One received frame: counted once by what became of it (stats.ts: rx.frames = arp + ipv4 + fragments + drops). */
  input(now: Micros, buffer: PacketBuffer): void {
    const state = this.#state
    const stats = state.stats
    stats.rx.frames++
    stats.rx.bytes += buffer.length
    // EtherType 0x86dd (RFC 2464 §3), untagged: the IPv6 host (ipv6-host.ts), when the stack has an IPv6 address.
    if (state.host6 !== undefined && buffer.length >= 14 && buffer.data[buffer.offset + 12] === 0x86 && buffer.data[buffer.offset + 13] === 0xdd) {
      this.#input6(now, buffer)
      return
    }
    const reader = this.#reader
    let kind = reader.parse(buffer, state.options.mac, state.address, stats.rx.drops)
    this.#reassembled = kind === FrameKind.Fragment
    if (kind === FrameKind.Fragment) {
      // RFC 1122 §3.3.2 (ipv4-reassembly.ts): held, dropped (both counted), or the datagram it completed.
      const datagram = state.host.reassembly.insert(now, reader.fragmentData, reader.fragmentAt)
      if (datagram === undefined) return
      kind = reader.parseDatagram(datagram, state.address, stats.rx.drops)
    }
    switch (kind) {
      case FrameKind.Arp:
        stats.rx.arp++
        state.host.arpInput(now, reader)
        return
      case FrameKind.IcmpEcho:
        stats.rx.ipv4++
        stats.rx.icmp++
        state.host.echoReply(now, buffer, reader)
        return
      case FrameKind.IcmpOther:
        stats.rx.ipv4++
        stats.rx.icmp++
        return
      case FrameKind.IcmpError: {
        const quoted = reader.quoted
        const id = state.table.flows.get(state.address, quoted.localPort, quoted.remoteIp, quoted.remotePort)
        const record = id === undefined ? undefined : state.table.get(id)
        if (icmpErrorInput(quoted, record?.connection, stats)) {
          stats.rx.ipv4++
          stats.rx.icmp++
          if (record !== undefined) this.#driver.afterConnectionWork(record) // resend at the new size now
        }
        return
      }
      case FrameKind.Tcp: {
        const dropsBefore = tcpLevelDrops(stats.rx.drops)
        this.#tcpInput(now, buffer)
        if (tcpLevelDrops(stats.rx.drops) === dropsBefore) {
          stats.rx.ipv4++
          stats.rx.tcp++
        }
        return
      }
      default:
        return
    }
  }

  /** A frame for the IPv6 host: counted once by what became of it, as {@link input} counts IPv4. */
  #input6(now: Micros, buffer: PacketBuffer): void {
    const stats = this.#state.stats
    const host = this.#state.host6!
    const kind = host.input(now, buffer)
    if (kind === Ipv6FrameKind.Tcp) {
      const dropsBefore = tcpLevelDrops(stats.rx.drops)
      this.#tcpInput6(now)
      if (tcpLevelDrops(stats.rx.drops) === dropsBefore) {
        stats.rx.ipv6++
        stats.rx.tcp++
      }
    } else if (kind === Ipv6FrameKind.PacketTooBig) {
      this.#packetTooBig6(host)
    }
  }

  /**
   * RFC 4443 §3.2, RFC 8201 §4: a packet too big for one of our connections lowers its path MTU, and so its
   * segment size (tcp-core's path-mtu rule, which counts an IPv4 header: the IPv6 MTU is given 20 bytes
   * smaller). The quoted sequence number must be in flight (RFC 5927 §4.1, icmp-errors.ts).
   */
  #packetTooBig6(host: Ipv6Host): void {
    const state = this.#state
    const stats = state.stats
    const q = host.quoted
    const id = state.table.flows6.get(host.data, q.localPort, host.data, q.remotePort, q.localOffset, q.remoteOffset)
    const record = id === undefined ? undefined : state.table.get(id)
    const connection = record?.connection
    if (connection === undefined) {
      stats.rx.drops.icmpNoConnection++
      return
    }
    if (!connection.icmpSequenceAcceptable(q.seq)) {
      stats.rx.drops.icmpOutOfWindow++
      return
    }
    if (connection.pathMtuChanged(q.mtu - 20)) stats.rx.icmpErrors.pathMtuLowered++
    else stats.rx.icmpErrors.pathMtuNotLower++
    stats.rx.ipv6++
    stats.rx.icmpv6++
    this.#driver.afterConnectionWork(record!)
  }

  /**
   * RFC 9293 §3.10.7 over IPv6, as {@link #tcpInput} over IPv4: the connection, or its compact TIME-WAIT
   * entry, or the listener (a SYN, or the ACK of a SYN cookie), or a reset. The addresses are read in place
   * from the frame (flows6 and the TIME-WAIT table take offsets): nothing is allocated for a lookup.
   */
  #tcpInput6(now: Micros): void {
    const state = this.#state
    const table = state.table
    const host = state.host6!
    const segment = host.segment
    const id = table.flows6.get(host.data, host.dstPort, host.data, host.srcPort, host.dstOffset, host.srcOffset)
    if (id !== undefined) this.#connectionInput(now, id, segment)
    else this.#noFlow6(now, host)
  }

  /** An IPv6 segment of no flow (kept apart from {@link #tcpInput6}, the hot path, which stays small). */
  #noFlow6(now: Micros, host: Ipv6Host): void {
    const state = this.#state
    const table = state.table
    const segment = host.segment
    const flags = segment.flags
    // RFC 9293 §3.10.7.4 from the compact entry (time-wait-table.ts), RFC 6191 reuse included, as over IPv4.
    if (table.timeWait.size > 0) {
      const slot = table.timeWait.find6(host.data, host.dstOffset, host.dstPort, host.data, host.srcOffset, host.srcPort)
      if (slot >= 0 && table.timeWait.input(now, slot, segment.seq, flags, segment.payloadLength, segment.tsValue, state.tcpConfig6.timeWaitTimeout, this.#timeWaitSender) !== TimeWaitAction.Reuse) return
    }
    const listenerId = table.listeners6.lookup(0, host.dstPort)
    if (listenerId !== undefined) {
      const control = flags & (TcpFlags.SYN | TcpFlags.ACK | TcpFlags.RST)
      if (control === TcpFlags.SYN) {
        this.#passiveOpen6(now, table.get(listenerId)!)
        return
      }
      // RFC 4987 §3.6: the third segment of a handshake answered with a SYN cookie (syn-queue.ts).
      if (control === TcpFlags.ACK && this.#cookieAck6(now, table.get(listenerId)!)) return
    }
    if (flags & TcpFlags.RST) {
      state.stats.rx.drops.resetNoSocket++ // RFC 9293 §3.10.7.1: discarded
      return
    }
    state.stats.rx.drops.noSocket++
    // RFC 9293 §3.10.7.1: a segment for no connection gets a reset.
    const length = segment.payloadLength + (flags & TcpFlags.SYN ? 1 : 0) + (flags & TcpFlags.FIN ? 1 : 0)
    if (flags & TcpFlags.ACK) host.sendReset(now, segment.ack, 0, TcpFlags.RST)
    else host.sendReset(now, 0, (segment.seq + length) >>> 0, TcpFlags.RST | TcpFlags.ACK)
  }

  /** Whether the IPv6 segment being read was sent to our link-local address (then we answer from it). */
  #toLinkLocal(host: Ipv6Host): boolean {
    return host.data[host.dstOffset] === 0xfe && host.isOurs(host.data, host.dstOffset)
  }

  /**
   * A SYN for a listener over IPv6 (RFC 9293 §3.10.7.2), as {@link #passiveOpen}: the accept queue full,
   * dropped; else a half-open connection in the listener's SYN queue or, when it is full (or always, per the
   * `synCookies` option), a SYN-ACK carrying a cookie and no state (RFC 4987 §3.6). The cookie is keyed over
   * the IPv6 4-tuple: both addresses enter it as their keyed digests (secrets.ts), which every bit of the
   * 128-bit address changes and which a peer, not knowing the key, cannot aim at.
   */
  #passiveOpen6(now: Micros, listener: SocketRecord): void {
    const state = this.#state
    const stats = state.stats
    const listen = listener.listen!
    const host = state.host6!
    if (listen.accepted.length >= listen.backlog) {
      stats.rx.drops.listenOverflow++
      return
    }
    const queue = listen.synQueue
    if (queue.wantsCookie(state.options.synCookies)) {
      const toLinkLocal = this.#toLinkLocal(host)
      const local = toLinkLocal ? host.linkLocal : host.address
      const localDigest = toLinkLocal ? state.linkLocal6Digest : state.address6Digest
      const remoteDigest = ipv6AddressDigest(state.secrets, host.data, host.srcOffset)
      const localPort = host.dstPort
      const remotePort = host.srcPort
      const config = state.tcpConfig6
      const receiveBufferSize = listener.receiveBufferSize ?? config.receiveBufferSize
      const out = state.cookies.synAck(now, config, receiveBufferSize, localDigest, localPort, remoteDigest, remotePort, host.segment, state.timestampOffset6(localDigest, localPort, remoteDigest, remotePort))
      queue.lastCookieAt = now
      stats.synCookies.sent++
      const remote = this.#remote6
      const data = host.data
      for (let i = 0, at = host.srcOffset; i < 16; i++) remote[i] = data[at + i]!
      // RFC 8200 §8.1's pseudo-header and RFC 6437's flow label, as the connection's own segments would carry.
      host.sendSegment(now, local, remote, localPort, remotePort, ipv6PseudoHeaderSumOf(local, remote, Ipv6NextHeader.TCP, 0), flowLabel(state.secrets, localDigest, localPort, remoteDigest, remotePort), out)
      return
    }
    if (queue.full) {
      stats.rx.drops.synQueueOverflow++
      return
    }
    const record = this.#childOf(listener)
    if (record === undefined) return
    this.#setAddresses6(record, host)
    const iss = state.initialSequence(now, record.localIp, record.localPort, record.remoteIp, record.remotePort)
    record.connection = TcpConnection.accept(state.configFor(record), now, iss, host.segment, state.timestampOffset6(record.localIp, record.localPort, record.remoteIp, record.remotePort))
    state.table.addFlow(record)
    queue.length++
    stats.tcp.passiveOpens++
    this.#driver.afterConnectionWork(record)
  }

  /** Give a child socket the IPv6 4-tuple of the segment being read (the remote address copied: once per connection). */
  #setAddresses6(record: SocketRecord, host: Ipv6Host): void {
    const local = this.#toLinkLocal(host) ? host.linkLocal : host.address
    this.#state.setIpv6Addresses(record, local, host.data.slice(host.srcOffset, host.srcOffset + 16), host.dstPort, host.srcPort)
  }

  /**
   * An ACK for no connection on an IPv6 listener's port: the connection made from one of our SYN cookies
   * (RFC 4987 §3.6), as {@link #cookieAck} over IPv4. @returns false when it carries no cookie of ours.
   */
  #cookieAck6(now: Micros, listener: SocketRecord): boolean {
    const state = this.#state
    const host = state.host6!
    if (!listener.listen!.synQueue.checksCookies(state.options.synCookies, now)) return false
    const localDigest = this.#toLinkLocal(host) ? state.linkLocal6Digest : state.address6Digest
    const remoteDigest = ipv6AddressDigest(state.secrets, host.data, host.srcOffset)
    const syn = state.cookies.validate(now, state.tcpConfig6, localDigest, host.dstPort, remoteDigest, host.srcPort, host.segment)
    if (syn === undefined) {
      state.stats.synCookies.failed++
      return false
    }
    this.#connectFromCookie(now, listener, host.segment, syn, 6)
    return true
  }

  /**
   * A segment of a flow with a socket (either family). The ACK that would complete a handshake while the
   * listener's accept queue is full is dropped (as Linux does); the connection stays in the SYN queue and
   * the handshake completes on a retransmission.
   */
  #connectionInput(now: Micros, id: number, segment: InboundSegment): void {
    const state = this.#state
    const record = state.table.get(id)!
    if (record.parent >= 0 && segment.flags & TcpFlags.ACK && record.connection!.state === 'SYN-RECEIVED' && this.#acceptQueueFull(record.parent)) {
      state.stats.rx.drops.listenOverflow++
      return
    }
    const connection = record.connection!
    this.#connectionDrops.before(connection.stats)
    connection.process(now, segment)
    this.#connectionDrops.after(connection.stats, state.stats.rx.drops)
    this.#driver.afterConnectionWork(record)
  }

  /** RFC 9293 §3.10.7 over IPv4: find the connection, or its TIME-WAIT entry, or the listener, or answer with a reset. */
  #tcpInput(now: Micros, frame: PacketBuffer): void {
    const state = this.#state
    const table = state.table
    const reader = this.#reader
    const segment = reader.segment
    const id = table.flows.get(state.address, reader.dstPort, reader.srcIp, reader.srcPort)
    if (id !== undefined) {
      this.#connectionInput(now, id, segment)
      return
    }
    const flags = segment.flags
    // A 4-tuple in TIME-WAIT whose socket is gone answers from its compact entry (time-wait-table.ts); a
    // SYN that RFC 6191 lets in, or a segment for an entry just over, goes on as if there were none.
    if (table.timeWait.size > 0) {
      const slot = table.timeWait.find(state.address, reader.dstPort, reader.srcIp, reader.srcPort)
      if (slot >= 0 && table.timeWait.input(now, slot, segment.seq, flags, segment.payloadLength, segment.tsValue, state.tcpConfig.timeWaitTimeout, this.#timeWaitSender) !== TimeWaitAction.Reuse) return
    }
    const listenerId = table.listeners.lookup(state.address, reader.dstPort)
    if (listenerId !== undefined) {
      const control = flags & (TcpFlags.SYN | TcpFlags.ACK | TcpFlags.RST)
      if (control === TcpFlags.SYN) {
        this.#passiveOpen(now, table.get(listenerId)!)
        return
      }
      // The third segment of a handshake answered with a SYN cookie (syn-queue.ts).
      if (control === TcpFlags.ACK && this.#cookieAck(now, table.get(listenerId)!)) return
    }
    // A cluster worker hands a segment of another worker's flow over to it (stack-hooks.ts).
    if (!this.#reassembled && state.hooks.unmatchedSegment?.(frame, reader.dstPort, reader.srcIp, reader.srcPort) === true) return
    if (flags & TcpFlags.RST) {
      state.stats.rx.drops.resetNoSocket++ // RFC 9293 §3.10.7.1: discarded
      return
    }
    state.stats.rx.drops.noSocket++
    // RFC 9293 §3.10.7.1: a segment for no connection gets a reset.
    const length = segment.payloadLength + (flags & TcpFlags.SYN ? 1 : 0) + (flags & TcpFlags.FIN ? 1 : 0)
    if (flags & TcpFlags.ACK) state.host.sendReset(now, reader.srcIp, reader.dstPort, reader.srcPort, segment.ack, 0, TcpFlags.RST)
    else state.host.sendReset(now, reader.srcIp, reader.dstPort, reader.srcPort, 0, (segment.seq + length) >>> 0, TcpFlags.RST | TcpFlags.ACK)
  }

  /**
   * A SYN for a listener (RFC 9293 §3.10.7.2). The accept queue full: dropped (the peer retries). Else a
   * half-open connection in the listener's SYN queue, or, when the queue is full (or always, per the
   * `synCookies` option), a SYN-ACK carrying a cookie and no state at all (RFC 4987 §3.6, syn-queue.ts).
   */
  #passiveOpen(now: Micros, listener: SocketRecord): void {
    const state = this.#state
    const listen = listener.listen!
    const reader = this.#reader
    if (listen.accepted.length >= listen.backlog) {
      state.stats.rx.drops.listenOverflow++
      return
    }
    const queue = listen.synQueue
    if (queue.wantsCookie(state.options.synCookies)) {
      const localPort = reader.dstPort
      const receiveBufferSize = listener.receiveBufferSize ?? state.tcpConfig.receiveBufferSize
      const out = state.cookies.synAck(now, state.tcpConfig, receiveBufferSize, state.address, localPort, reader.srcIp, reader.srcPort, reader.segment, state.timestampOffset(localPort, reader.srcIp, reader.srcPort))
      queue.lastCookieAt = now
      state.stats.synCookies.sent++
      state.host.sendSegment(now, reader.srcIp, localPort, reader.srcPort, out)
      return
    }
    if (queue.full) {
      state.stats.rx.drops.synQueueOverflow++
      return
    }
    const record = this.#childOf(listener)
    if (record === undefined) return
    const iss = state.initialSequence(now, record.localIp, record.localPort, record.remoteIp, record.remotePort)
    record.connection = TcpConnection.accept(state.configFor(record), now, iss, reader.segment, state.timestampOffset(record.localPort, record.remoteIp, record.remotePort))
    state.table.addFlow(record)
    queue.length++
    state.stats.tcp.passiveOpens++
    this.#driver.afterConnectionWork(record)
  }

  /**
   * An ACK for no connection on a listener's port: if it carries one of our SYN cookies back (checked only
   * while cookies may be out, syn-queue.ts), the connection is made from the cookie, established by this
   * ACK. @returns false when it is no cookie's (the caller answers with a reset).
   */
  #cookieAck(now: Micros, listener: SocketRecord): boolean {
    const state = this.#state
    const listen = listener.listen!
    const reader = this.#reader
    const segment = reader.segment
    if (!listen.synQueue.checksCookies(state.options.synCookies, now)) return false
    const localPort = reader.dstPort
    const syn = state.cookies.validate(now, state.tcpConfig, state.address, localPort, reader.srcIp, reader.srcPort, segment)
    if (syn === undefined) {
      state.stats.synCookies.failed++
      return false
    }
    this.#connectFromCookie(now, listener, segment, syn, 4)
    return true
  }

  /**
   * A validated cookie ACK (either family) becomes a connection, established by this ACK. The accept queue
   * full: the ACK is dropped, as Linux does. But the peer believes in the connection and may have nothing
   * to send, so, if the SYN queue has room, the connection is kept half-open there (the peer proved its
   * address by echoing the cookie: no spoofed flood can fill the queue this way), its SYN-ACK sent again so
   * that the peer's answer completes it once accept makes room.
   */
  #connectFromCookie(now: Micros, listener: SocketRecord, segment: InboundSegment, syn: InboundSegment, family: 4 | 6): void {
    const state = this.#state
    const listen = listener.listen!
    state.stats.synCookies.validated++
    const acceptFull = listen.accepted.length >= listen.backlog
    if (acceptFull) {
      state.stats.rx.drops.listenOverflow++
      if (listen.synQueue.full) return
    }
    const record = this.#childOf(listener)
    if (record === undefined) return
    if (family === 6) this.#setAddresses6(record, state.host6!)
    const tsOffset = family === 6 ? state.timestampOffset6(record.localIp, record.localPort, record.remoteIp, record.remotePort) : state.timestampOffset(record.localPort, record.remoteIp, record.remotePort)
    const iss = (segment.ack - 1) >>> 0
    record.connection = TcpConnection.acceptCookie(state.configFor(record), now, iss, syn, tsOffset, acceptFull)
    state.table.addFlow(record)
    listen.synQueue.length++ // until established (the CONNECTED event counts it out): at once, unless the accept queue is full
    state.stats.tcp.passiveOpens++
    if (!acceptFull) record.connection.process(now, segment)
    this.#driver.afterConnectionWork(record)
  }

  /** Whether the listener `id`'s accept queue is full. */
  #acceptQueueFull(id: number): boolean {
    const listen = this.#state.table.get(id)?.listen
    return listen !== undefined && listen.accepted.length >= listen.backlog
  }

  /** A socket for a connection of `listener`'s, with its addresses and the listener's options; undefined (counted) when no id is free. */
  #childOf(listener: SocketRecord): SocketRecord | undefined {
    const state = this.#state
    const reader = this.#reader
    const record = state.table.allocate()
    if (record === undefined) {
      state.stats.rx.drops.tooManyConnections++
      return undefined
    }
    record.localIp = state.address
    record.localPort = reader.dstPort
    record.remoteIp = reader.srcIp
    record.remotePort = reader.srcPort
    record.bound = true
    record.parent = listener.id
    record.mapped = listener.listenFamilies === 46 // an IPv4 connection of a dual-stack listener (Node shows ::ffff:a.b.c.d)
    record.noDelay = listener.noDelay
    record.keepAlive = listener.keepAlive
    record.keepAliveIdle = listener.keepAliveIdle
    record.sendBufferSize = listener.sendBufferSize
    record.receiveBufferSize = listener.receiveBufferSize
    record.congestionControl = listener.congestionControl
    record.pacing = listener.pacing
    record.maxPacingRate = listener.maxPacingRate
    return record
  }
}
