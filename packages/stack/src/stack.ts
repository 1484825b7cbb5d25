/**
 * The stack: the driver loop over one `@mtcp/dpdk-io` port (receive burst → parse → ARP/ICMP/TCP →
 * connections → one transmit burst per iteration), the socket tables, and the mTCP-style socket API.
 *
 * Only this file reads the clock and arms timers; `@mtcp/tcp-core` gets `now` as an argument.
 * @module
 */
import { BufferPool, type Clock, type Micros, type PacketBuffer, type Port, type Timer } from '@mtcp/dpdk-io'
import { TokenBucket } from '@mtcp/pacer'
import {
  type CongestionControl,
  createCongestionControl,
  formatIpv4Address,
  formatIpv6Address,
  initialSequenceNumber,
  ipv6PseudoHeaderSumOf,
  Ipv6NextHeader,
  type NativeCongestionControlName,
  type OutboundSegment,
  type InboundSegment,
  parseIpv4Address,
  parseIpv6Address,
  resolveTcpConfig,
  RingStoragePool,
  type RingStoragePoolStats,
  type TcpConfig,
  TcpConnection,
  TcpEvents,
  TcpFlags,
  type TcpState,
  TimeWaitAction,
} from '@mtcp/tcp-core'
import { CcpControl, StackCcp } from './ccp.js'
import { type CongestionControlChoice, congestionControlProblem, type ResolvedStackOptions, resolveStackOptions, type StackOptions } from './config.js'
import { StackError, WOULD_BLOCK } from './errors.js'
import { Ipv4Host } from './ipv4-host.js'
import { Ipv6FrameKind, Ipv6Host } from './ipv6-host.js'
import { TransmitQueue } from './transmit-queue.js'
import { FrameKind, FrameReader } from './frames.js'
import { type TcpConnectOptions, TcpServer, type TcpServerOptions, TcpSocket } from './node-socket.js'
import { ReusedList } from './reused-list.js'
import { type ListenState, PollEvents, type SocketRecord } from './socket-record.js'
import { StackSocketTable } from './socket-table.js'
import type { StackHooks } from './stack-hooks.js'
import { ConnectionDrops, createStackStats, type StackStats, tcpLevelDrops } from './stats.js'
import { icmpErrorInput } from './icmp-errors.js'
import { readTcpInfo, type TcpInfo } from './tcp-info.js'
import { TimerQueue } from './timer-queue.js'
import { drawSecrets, flowLabel, ipv6AddressDigest, type StackSecrets, timestampOffset } from './secrets.js'
import { SynCookies, SynQueue } from './syn-queue.js'

/** Socket options for {@link Stack.setsockopt}. */
export type SocketOption =
  | 'noDelay'
  | 'keepAlive'
  | 'keepAliveIdle'
  | 'sendBufferSize'
  | 'receiveBufferSize'
  | 'congestionControl'
  /** Pace at the native rate (gain × cwnd / srtt). */
  | 'pacing'
  /** Cap the sending rate, bytes/s (SO_MAX_PACING_RATE); Infinity for none. */
  | 'maxPacingRate'

/** An address as `getsockname`/`getpeername` return it. */
export interface SocketAddress {
  address: string
  port: number
  /** `'IPv6'` for a connection over IPv6, and (as Node) for an IPv4 one accepted by a dual-stack listener (its address then IPv4-mapped, `::ffff:10.0.0.2`). */
  family: 'IPv4' | 'IPv6'
}

/** Receive bursts per loop iteration before other work gets a turn. */
const RX_BURSTS_PER_POLL = 8
/**
 * Frames queued for the port above which no further connection is dispatched in this iteration (a
 * connection's own burst stays below the transmit queue's hard limit, TX_BACKLOG_LIMIT).
 */
const TX_SOFT_LIMIT = 4096
/** Dispatch rounds after the applications' callbacks within one loop iteration. */
const APPLICATION_ROUNDS = 2
/** A bit of SocketRecord.pendingEvents above every PollEvents bit: the record is in the notify queue. */
const NOTIFY_QUEUED = 1 << 30

/**
 * A user-level TCP/IPv4 stack over one port. Create with {@link createStack}.
 *
 * Sockets are small integers (socket ids with a generation: a closed id never reaches a newer socket).
 * Calls never block: where POSIX would block they throw `EAGAIN`; readiness comes from
 * {@link Stack.watch} or from an {@link Epoll}.
 */
export class Stack {
  readonly stats: StackStats = createStackStats()
  readonly port: Port
  readonly clock: Clock
  readonly pool: BufferPool
  readonly address: number
  readonly options: ResolvedStackOptions
  /** Socket ids, flows, listeners, TIME-WAIT entries and ephemeral ports (socket-table.ts). */
  readonly #table: StackSocketTable
  readonly #timers = new TimerQueue()
  readonly #reader = new FrameReader(this.stats.rx.icmpIn)
  /** Counts what a connection refused of a segment, by reason (stats.ts). */
  readonly #connectionDrops = new ConnectionDrops()
  /** Whether the segment being processed came in fragments (then no cluster hand-over: the frame is not the datagram). */
  #reassembled = false
  /** Routing, ARP, ICMP echo, resets (ipv4-host.ts). */
  readonly #host: Ipv4Host
  /** IPv6: Neighbor Discovery, ICMPv6, TCP segments in and out (ipv6-host.ts); undefined without the `ipv6` option. */
  readonly #host6: Ipv6Host | undefined
  /** The TCP settings of connections over IPv6: the MSS 20 bytes smaller (RFC 8200 §8.3), super segments only when the port offers them over IPv6. */
  readonly #tcpConfig6: TcpConfig
  /** Keys from the random source (secrets.ts): ISN, ports, timestamp offsets, SYN cookies. */
  readonly #secrets: StackSecrets
  /** SYN-ACKs with cookies and their ACKs (syn-queue.ts). */
  readonly #cookies: SynCookies
  readonly #sendTimeWaitAck = (segment: OutboundSegment, remoteIp: number, localPort: number, remotePort: number): void => {
    this.#host.sendSegment(this.clock.now(), remoteIp, localPort, remotePort, segment)
  }
  readonly #chooseIsn: StackOptions['initialSequenceNumber']
  readonly #callbackError: (error: unknown) => void
  readonly #tcpConfig: TcpConfig
  readonly #wake: Timer
  readonly #rx: PacketBuffer[] = []
  /** Frames waiting for the port (transmit-queue.ts). */
  readonly #txQueue: TransmitQueue
  #dirty = new ReusedList<number>()
  /** Sockets with readiness to deliver once the iteration is over (see #notify). */
  readonly #notifyQueue = new ReusedList<SocketRecord>()
  /** The other half of the dirty list, swapped in while one is dispatched (no array per iteration). */
  #dirtySpare = new ReusedList<number>()
  /** The connection being dispatched, for {@link #emitSegment} (one callback for every connection). */
  #emitting: SocketRecord | undefined = undefined
  #emitNow: Micros = 0
  readonly #emitSegment = (segment: OutboundSegment): void => {
    const record = this.#emitting!
    if (segment.retransmission) this.stats.tcp.retransmittedSegments++
    if (segment.flags & TcpFlags.RST) this.stats.tx.resets++
    if (record.family === 6) this.#host6!.sendConnectionSegment(this.#emitNow, record, segment)
    else this.#host.sendConnectionSegment(this.#emitNow, record, segment)
  }
  #polling = false
  #wakeRequested = false
  #closed = false
  /** Cluster hooks (stack-hooks.ts); empty for a stack alone. */
  readonly #hooks: StackHooks
  /** The CCP datapath, when the stack was given one. */
  readonly #ccp: StackCcp | undefined

  /** @internal */
  constructor(options: StackOptions) {
    this.options = resolveStackOptions(options)
    this.port = this.options.port
    this.clock = this.port.clock
    const segmentation = this.port.offloads.segmentation
    // A port whose buffers are device memory (DPDK mbufs) transmits its own pool's buffers without a copy.
    this.pool = options.pool ?? this.port.devicePool ?? new BufferPool({ count: 16_384, dataRoom: segmentation.tcp4 ? 65_536 + 256 : Math.max(2048, this.port.link.maxFrameSize + 64) })
    this.address = this.options.address
    this.#secrets = drawSecrets(this.options.random)
    this.#cookies = new SynCookies(this.#secrets.cookie)
    this.#chooseIsn = options.initialSequenceNumber
    this.#callbackError =
      options.onCallbackError ??
      ((error) =>
        queueMicrotask(() => {
          throw error
        }))
    this.#tcpConfig = resolveTcpConfig(
      {
        mss: this.options.mtu - 40,
        // With segmentation offload, new data leaves in super segments up to the port's limit (IP header
        // and the largest TCP header deducted).
        segmentationMax: segmentation.tcp4 && this.port.offloads.txChecksum.tcp ? Math.min(65_000, segmentation.maxSize - 20 - 60) : 0,
        // The rings of finished connections go back to one pool per stack for the next ones.
        ringStorage: new RingStoragePool(),
        ...this.options.tcp,
      },
      (mss) => createCongestionControl(nativeFallback(this.options.congestionControl), { mss }),
    )
    this.#ccp = options.ccp === undefined ? undefined : new StackCcp(options.ccp, this.clock)
    this.#hooks = options.hooks ?? {}
    const hooks = this.#hooks
    this.#table = new StackSocketTable({
      address: this.address,
      maxConnections: this.options.maxConnections,
      timeWaitLimit: this.options.timeWaitLimit,
      timeWaitTimeout: this.#tcpConfig.timeWaitTimeout,
      ephemeralPorts: this.options.ephemeralPorts,
      secrets: this.#secrets,
      clock: this.clock,
      stats: this.stats,
      acceptEphemeralPort: hooks.acceptEphemeralPort === undefined ? undefined : (port, remoteIp, remotePort, remote6, local6) => hooks.acceptEphemeralPort!(port, remoteIp, remotePort, remote6, local6),
    })
    this.#txQueue = new TransmitQueue(this.port, this.clock, this.options.burstSize, options.rateLimit === undefined ? undefined : new TokenBucket(options.rateLimit), this.stats)
    this.#host = new Ipv4Host({
      address: this.address,
      prefixLength: this.options.prefixLength,
      gateway: this.options.gateway,
      mac: this.options.mac,
      checksumOffload: this.port.offloads.txChecksum.tcp,
      arp: options.arp,
      staticArp: options.staticArp,
      pool: this.pool,
      transmit: (buffer) => this.#queueTx(buffer),
      flush: () => this.#flush(),
      stats: this.stats,
      hooks: this.#hooks,
      mtu: this.options.mtu,
      reassembly: options.reassembly,
    })
    const ipv6 = this.options.ipv6
    this.#host6 =
      ipv6 === undefined
        ? undefined
        : new Ipv6Host({
            address: ipv6.address,
            prefixLength: ipv6.prefixLength,
            gateway: this.options.ipv6Gateway,
            mac: this.options.mac,
            pool: this.pool,
            transmit: (buffer) => this.#queueTx(buffer),
            flush: () => this.#flush(),
            stats: this.stats,
            neighbors: options.neighbors,
            staticNeighbors: options.staticNeighbors,
            checksumOffload: this.port.offloads.txChecksum.tcp6,
          })
    // RFC 8200 §8.3: the IPv6 header is 20 bytes longer than IPv4's, and so the MSS 20 bytes smaller
    // (1440 on a 1500-byte MTU); never below 1220 (1280 − 60), the IPv6 minimum MTU's. Super segments
    // when the port cuts and checksums TCP over IPv6 (offloads.segmentation.tcp6, txChecksum.tcp6).
    const tso6 = segmentation.tcp6 && this.port.offloads.txChecksum.tcp6
    this.#tcpConfig6 = { ...this.#tcpConfig, mss: Math.max(1220, this.#tcpConfig.mss - 20), segmentationMax: tso6 ? Math.min(this.#tcpConfig.segmentationMax, segmentation.maxSize - 40 - 60) : 0 }
    this.#wake = this.clock.createTimer(() => this.poll())
    this.port.busyPoll = this.options.busyPoll
    this.port.onReadable(() => this.poll())
    this.port.onWritable(() => this.poll())
    if (this.options.busyPoll) this.#scheduleSoon()
  }

  // ------------------------------------------------------------------ driver

  /**
   * Run one iteration of the loop: receive bursts, process, dispatch every connection with work,
   * transmit, and arm the next wake-up. Ports and timers call it; call it yourself only in busy-poll mode.
   */
  poll(): void {
    if (this.#closed || this.#polling) return
    this.#wakeRequested = false
    this.#txQueue.portBusy = false
    const now = this.clock.now()
    this.#ccp?.hold()
    this.#phase(now, true)
    // What the applications wrote or read when told goes out in the same iteration: one more dispatch
    // and transmit phase, and the events it raises (a bounded number of rounds; the rest waits for the
    // next iteration, which #scheduleSoon asks for).
    for (let round = 0; round < APPLICATION_ROUNDS && this.#dirty.length > 0 && !this.#closed; round++) this.#phase(now, false)
    // Last, what the CCP agent decided during the iteration (decision 0011's order).
    this.#ccp?.applyHeld()
    if (this.#wakeRequested || this.#dirty.length > 0) this.#scheduleSoon()
  }

  /**
   * One pass of the driver: receive bursts, parse, find the flow, feed the connection (events are only
   * collected), run timers, dispatch every connection with work, transmit; then deliver the events to the
   * applications, whose callbacks run here and nowhere else.
   */
  #phase(now: Micros, receive: boolean): void {
    this.#polling = true
    try {
      if (receive) {
        this.#receive(now)
        this.#runTimers(now)
        this.#host.poll(now)
        this.#host6?.poll(now)
      }
      this.#dispatchDirty(now)
      this.#flush()
      this.#armWake(now)
    } finally {
      this.#polling = false
    }
    this.#deliverEvents()
  }

  #receive(now: Micros): void {
    const rx = this.#rx
    const burst = this.options.burstSize
    for (let round = 0; round < RX_BURSTS_PER_POLL; round++) {
      const n = this.port.rxBurst(rx, burst)
      for (let i = 0; i < n; i++) {
        const buffer = rx[i]!
        try {
          this.#input(now, buffer)
        } catch (error) {
          // Only a hook (a cluster's, arpLearned) can throw here: the frame is lost, the burst goes on.
          this.#reportCallbackError(error)
        } finally {
          buffer.release() // whatever happens, the buffer goes back to the pool
        }
      }
      if (n < burst) return
    }
    this.#wakeRequested = true // more may be waiting: come back after other work
  }

  #input(now: Micros, buffer: PacketBuffer): void {
    const stats = this.stats
    stats.rx.frames++
    stats.rx.bytes += buffer.length
    // EtherType 0x86dd (RFC 2464 §3), untagged: the IPv6 host (ipv6-host.ts), when the stack has an IPv6 address.
    if (this.#host6 !== undefined && buffer.length >= 14 && buffer.data[buffer.offset + 12] === 0x86 && buffer.data[buffer.offset + 13] === 0xdd) {
      this.#input6(now, buffer)
      return
    }
    const reader = this.#reader
    let kind = reader.parse(buffer, this.options.mac, this.address, stats.rx.drops)
    this.#reassembled = kind === FrameKind.Fragment
    if (kind === FrameKind.Fragment) {
      // RFC 1122 §3.3.2 (ipv4-reassembly.ts): held, dropped (both counted), or the datagram it completed.
      const datagram = this.#host.reassembly.insert(now, reader.fragmentData, reader.fragmentAt)
      if (datagram === undefined) return
      kind = reader.parseDatagram(datagram, this.address, stats.rx.drops)
    }
    // Each frame is counted once by what became of it (stats.ts: rx.frames = arp + ipv4 + fragments + drops).
    switch (kind) {
      case FrameKind.Arp:
        stats.rx.arp++
        this.#host.arpInput(now, this.#reader)
        return
      case FrameKind.IcmpEcho:
        stats.rx.ipv4++
        stats.rx.icmp++
        this.#host.echoReply(now, buffer, this.#reader)
        return
      case FrameKind.IcmpOther:
        stats.rx.ipv4++
        stats.rx.icmp++
        return
      case FrameKind.IcmpError: {
        const quoted = reader.quoted
        const id = this.#table.flows.get(this.address, quoted.localPort, quoted.remoteIp, quoted.remotePort)
        const record = id === undefined ? undefined : this.#table.get(id)
        if (icmpErrorInput(quoted, record?.connection, stats)) {
          stats.rx.ipv4++
          stats.rx.icmp++
          if (record !== undefined) this.#afterConnectionWork(record) // resend at the new size now
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

  /** A frame for the IPv6 host: counted once by what became of it, as {@link #input} counts IPv4. */
  #input6(now: Micros, buffer: PacketBuffer): void {
    const stats = this.stats
    const host = this.#host6!
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
    const stats = this.stats
    const q = host.quoted
    const id = this.#table.flows6.get(host.data, q.localPort, host.data, q.remotePort, q.localOffset, q.remoteOffset)
    const record = id === undefined ? undefined : this.#table.get(id)
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
    this.#afterConnectionWork(record!)
  }

  /** RFC 9293 §3.10.7 over IPv6: the connection, or the listener, or a reset. No compact TIME-WAIT entries and no SYN cookies over IPv6 yet. */
  #tcpInput6(now: Micros): void {
    const host = this.#host6!
    const segment = host.segment
    const id = this.#table.flows6.get(host.data, host.dstPort, host.data, host.srcPort, host.dstOffset, host.srcOffset)
    if (id !== undefined) {
      this.#connectionInput(now, id, segment)
      return
    }
    const flags = segment.flags
    const listenerId = this.#table.listeners6.lookup(0, host.dstPort)
    if (listenerId !== undefined && (flags & (TcpFlags.SYN | TcpFlags.ACK | TcpFlags.RST)) === TcpFlags.SYN) {
      this.#passiveOpen6(now, this.#table.get(listenerId)!)
      return
    }
    if (flags & TcpFlags.RST) {
      this.stats.rx.drops.resetNoSocket++ // RFC 9293 §3.10.7.1: discarded
      return
    }
    this.stats.rx.drops.noSocket++
    // RFC 9293 §3.10.7.1: a segment for no connection gets a reset.
    const length = segment.payloadLength + (flags & TcpFlags.SYN ? 1 : 0) + (flags & TcpFlags.FIN ? 1 : 0)
    if (flags & TcpFlags.ACK) host.sendReset(now, segment.ack, 0, TcpFlags.RST)
    else host.sendReset(now, 0, (segment.seq + length) >>> 0, TcpFlags.RST | TcpFlags.ACK)
  }

  /** A SYN for a listener over IPv6 (RFC 9293 §3.10.7.2): a half-open connection in its SYN queue, or dropped (counted) when a queue is full. */
  #passiveOpen6(now: Micros, listener: SocketRecord): void {
    const listen = listener.listen!
    const host = this.#host6!
    if (listen.accepted.length >= listen.backlog) {
      this.stats.rx.drops.listenOverflow++
      return
    }
    if (listen.synQueue.full) {
      this.stats.rx.drops.synQueueOverflow++
      return
    }
    const record = this.#childOf(listener)
    if (record === undefined) return
    const local = host.isOurs(host.data, host.dstOffset) && host.data[host.dstOffset] === 0xfe ? host.linkLocal : host.address
    this.#setIpv6Addresses(record, local, host.data.slice(host.srcOffset, host.srcOffset + 16), host.dstPort, host.srcPort)
    const iss = this.#initialSequence(now, record.localIp, record.localPort, record.remoteIp, record.remotePort)
    record.connection = TcpConnection.accept(this.#configFor(record), now, iss, host.segment, this.#timestampOffset6(record))
    this.#table.addFlow(record)
    listen.synQueue.length++
    this.stats.tcp.passiveOpens++
    this.#afterConnectionWork(record)
  }

  /** Make `record` a connection over IPv6 between `local` and `remote` (16 bytes each, kept): digests, pseudo-header sum, flow label. */
  #setIpv6Addresses(record: SocketRecord, local: Uint8Array, remote: Uint8Array, localPort: number, remotePort: number): void {
    record.family = 6
    record.mapped = false
    record.localIp6 = local
    record.remoteIp6 = remote
    record.localIp = ipv6AddressDigest(this.#secrets, local)
    record.remoteIp = ipv6AddressDigest(this.#secrets, remote)
    record.localPort = localPort
    record.remotePort = remotePort
    record.bound = true
    // RFC 8200 §8.1: the addresses' part of the TCP pseudo-header, once per connection.
    record.addressSum = ipv6PseudoHeaderSumOf(local, remote, Ipv6NextHeader.TCP, 0)
    record.flowLabel = flowLabel(this.#secrets, record.localIp, localPort, record.remoteIp, remotePort)
  }

  /** The timestamp offset of a connection over IPv6: the configured one, else the keyed hash of its 4-tuple's digests. */
  #timestampOffset6(record: SocketRecord): number {
    return this.#tcpConfig.timestampOffset ?? timestampOffset(this.#secrets, record.localIp, record.localPort, record.remoteIp, record.remotePort)
  }

  /** RFC 9293 §3.10.7: find the connection, or the listener, or answer with a reset. */
  /**
   * A segment of a flow with a socket (either family). The ACK that would complete a handshake while the
   * listener's accept queue is full is dropped (as Linux does); the connection stays in the SYN queue and
   * the handshake completes on a retransmission.
   */
  #connectionInput(now: Micros, id: number, segment: InboundSegment): void {
    const record = this.#table.get(id)!
    if (record.parent >= 0 && segment.flags & TcpFlags.ACK && record.connection!.state === 'SYN-RECEIVED' && this.#acceptQueueFull(record.parent)) {
      this.stats.rx.drops.listenOverflow++
      return
    }
    const connection = record.connection!
    this.#connectionDrops.before(connection.stats)
    connection.process(now, segment)
    this.#connectionDrops.after(connection.stats, this.stats.rx.drops)
    this.#afterConnectionWork(record)
  }

  #tcpInput(now: Micros, frame: PacketBuffer): void {
    const reader = this.#reader
    const segment = reader.segment
    const id = this.#table.flows.get(this.address, reader.dstPort, reader.srcIp, reader.srcPort)
    if (id !== undefined) {
      this.#connectionInput(now, id, segment)
      return
    }
    const flags = segment.flags
    // A 4-tuple in TIME-WAIT whose socket is gone answers from its compact entry (time-wait-table.ts); a
    // SYN that RFC 6191 lets in, or a segment for an entry just over, goes on as if there were none.
    if (this.#table.timeWait.size > 0) {
      const slot = this.#table.timeWait.find(this.address, reader.dstPort, reader.srcIp, reader.srcPort)
      if (slot >= 0 && this.#table.timeWait.input(now, slot, segment.seq, flags, segment.payloadLength, segment.tsValue, this.#tcpConfig.timeWaitTimeout, this.#sendTimeWaitAck) !== TimeWaitAction.Reuse) return
    }
    const listenerId = this.#table.listeners.lookup(this.address, reader.dstPort)
    if (listenerId !== undefined) {
      const control = flags & (TcpFlags.SYN | TcpFlags.ACK | TcpFlags.RST)
      if (control === TcpFlags.SYN) {
        this.#passiveOpen(now, this.#table.get(listenerId)!)
        return
      }
      // The third segment of a handshake answered with a SYN cookie (syn-queue.ts).
      if (control === TcpFlags.ACK && this.#cookieAck(now, this.#table.get(listenerId)!)) return
    }
    // A cluster worker hands a segment of another worker's flow over to it (stack-hooks.ts).
    if (!this.#reassembled && this.#hooks.unmatchedSegment?.(frame, reader.dstPort, reader.srcIp, reader.srcPort) === true) return
    if (flags & TcpFlags.RST) {
      this.stats.rx.drops.resetNoSocket++ // RFC 9293 §3.10.7.1: discarded
      return
    }
    this.stats.rx.drops.noSocket++
    // RFC 9293 §3.10.7.1: a segment for no connection gets a reset.
    const length = segment.payloadLength + (flags & TcpFlags.SYN ? 1 : 0) + (flags & TcpFlags.FIN ? 1 : 0)
    if (flags & TcpFlags.ACK) this.#host.sendReset(now, reader.srcIp, reader.dstPort, reader.srcPort, segment.ack, 0, TcpFlags.RST)
    else this.#host.sendReset(now, reader.srcIp, reader.dstPort, reader.srcPort, 0, (segment.seq + length) >>> 0, TcpFlags.RST | TcpFlags.ACK)
  }

  /**
   * A SYN for a listener (RFC 9293 §3.10.7.2). The accept queue full: dropped (the peer retries). Else a
   * half-open connection in the listener's SYN queue, or, when the queue is full (or always, per the
   * `synCookies` option), a SYN-ACK carrying a cookie and no state at all (RFC 4987 §3.6, syn-queue.ts).
   */
  #passiveOpen(now: Micros, listener: SocketRecord): void {
    const listen = listener.listen!
    const reader = this.#reader
    if (listen.accepted.length >= listen.backlog) {
      this.stats.rx.drops.listenOverflow++
      return
    }
    const queue = listen.synQueue
    if (queue.wantsCookie(this.options.synCookies)) {
      const localPort = reader.dstPort
      const receiveBufferSize = listener.receiveBufferSize ?? this.#tcpConfig.receiveBufferSize
      const out = this.#cookies.synAck(now, this.#tcpConfig, receiveBufferSize, this.address, localPort, reader.srcIp, reader.srcPort, reader.segment, this.#timestampOffset(localPort, reader.srcIp, reader.srcPort))
      queue.lastCookieAt = now
      this.stats.synCookies.sent++
      this.#host.sendSegment(now, reader.srcIp, localPort, reader.srcPort, out)
      return
    }
    if (queue.full) {
      this.stats.rx.drops.synQueueOverflow++
      return
    }
    const record = this.#childOf(listener)
    if (record === undefined) return
    const iss = this.#initialSequence(now, record.localIp, record.localPort, record.remoteIp, record.remotePort)
    record.connection = TcpConnection.accept(this.#configFor(record), now, iss, reader.segment, this.#timestampOffset(record.localPort, record.remoteIp, record.remotePort))
    this.#table.addFlow(record)
    queue.length++
    this.stats.tcp.passiveOpens++
    this.#afterConnectionWork(record)
  }

  /**
   * An ACK for no connection on a listener's port: if it carries one of our SYN cookies back (checked only
   * while cookies may be out, syn-queue.ts), the connection is made from the cookie, established by this
   * ACK. @returns false when it is no cookie's (the caller answers with a reset).
   */
  #cookieAck(now: Micros, listener: SocketRecord): boolean {
    const listen = listener.listen!
    const reader = this.#reader
    const segment = reader.segment
    if (!listen.synQueue.checksCookies(this.options.synCookies, now)) return false
    const localPort = reader.dstPort
    const syn = this.#cookies.validate(now, this.#tcpConfig, this.address, localPort, reader.srcIp, reader.srcPort, segment)
    if (syn === undefined) {
      this.stats.synCookies.failed++
      return false
    }
    this.stats.synCookies.validated++
    // The accept queue full: the ACK is dropped, as Linux does. But the peer believes in the connection and
    // may have nothing to send, so, if the SYN queue has room, the connection is kept half-open there (the
    // peer proved its address by echoing the cookie: no spoofed flood can fill the queue this way), its
    // SYN-ACK sent again so that the peer's answer completes it once accept makes room.
    const acceptFull = listen.accepted.length >= listen.backlog
    if (acceptFull) {
      this.stats.rx.drops.listenOverflow++
      if (listen.synQueue.full) return true
    }
    const record = this.#childOf(listener)
    if (record === undefined) return true
    const iss = (segment.ack - 1) >>> 0
    record.connection = TcpConnection.acceptCookie(this.#configFor(record), now, iss, syn, this.#timestampOffset(localPort, reader.srcIp, reader.srcPort), acceptFull)
    this.#table.addFlow(record)
    listen.synQueue.length++ // until established (the CONNECTED event counts it out): at once, unless the accept queue is full
    this.stats.tcp.passiveOpens++
    if (!acceptFull) record.connection.process(now, segment)
    this.#afterConnectionWork(record)
    return true
  }

  /** Whether the listener `id`'s accept queue is full. */
  #acceptQueueFull(id: number): boolean {
    const listen = this.#table.get(id)?.listen
    return listen !== undefined && listen.accepted.length >= listen.backlog
  }

  /** A socket for a connection of `listener`'s, with its addresses and the listener's options; undefined (counted) when no id is free. */
  #childOf(listener: SocketRecord): SocketRecord | undefined {
    const reader = this.#reader
    const record = this.#table.allocate()
    if (record === undefined) {
      this.stats.rx.drops.tooManyConnections++
      return undefined
    }
    record.localIp = this.address
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

  /** A connection's timestamp offset: the configured one, else a keyed hash of the 4-tuple (secrets.ts). */
  #timestampOffset(localPort: number, remoteIp: number, remotePort: number): number {
    return this.#tcpConfig.timestampOffset ?? timestampOffset(this.#secrets, this.address, localPort, remoteIp, remotePort)
  }

  /** After a connection processed input or an application call: turn its events into notifications and queue it for dispatch. */
  #afterConnectionWork(record: SocketRecord): void {
    const connection = record.connection!
    const events = connection.takeEvents()
    if (events !== 0) this.#connectionEvents(record, events)
    if (!record.dirty && this.#table.has(record.id)) {
      record.dirty = true
      this.#dirty.push(record.id)
    }
  }

  #connectionEvents(record: SocketRecord, events: number): void {
    const connection = record.connection!
    if (events & TcpEvents.CONNECTED && record.parent >= 0) {
      const listener = this.#table.get(record.parent)
      if (listener?.listen !== undefined) {
        listener.listen.synQueue.length--
        listener.listen.accepted.push(record.id)
        this.#notify(listener, PollEvents.IN)
      }
    }
    if (events & TcpEvents.CLOSED) {
      if (record.parent >= 0) {
        // Died before accept: forget it quietly (RFC 9293: back to LISTEN).
        const listener = this.#table.get(record.parent)
        if (listener?.listen !== undefined) {
          if (listener.listen.accepted.includes(record.id)) listener.listen.accepted.splice(listener.listen.accepted.indexOf(record.id), 1)
          else listener.listen.synQueue.length--
        }
        record.appClosed = true
      }
      if (connection.error !== undefined) this.stats.tcp.failedConnections++
      else this.stats.tcp.closedConnections++
    }
    // A CCP flow ends when the connection has nothing more to send: CLOSED, or TIME-WAIT (close MEASURE).
    if (connection.congestion instanceof CcpControl && (events & TcpEvents.CLOSED || connection.state === 'TIME-WAIT')) connection.congestion.free()
    this.#notify(record, this.#readiness(record))
    if (events & TcpEvents.CLOSED) this.#maybeRelease(record)
  }

  /**
   * Tell `record`'s watchers about `events`. During a loop iteration the bits are kept and delivered
   * after it ({@link #deliverEvents}): no application code runs in the middle of a burst, so a callback
   * that reads, writes or closes finds the stack between iterations, never half way through one.
   */
  #notify(record: SocketRecord, events: number): void {
    if (record.watchers.length === 0) return
    if (this.#polling) {
      if (record.pendingEvents === 0) this.#notifyQueue.push(record)
      record.pendingEvents |= events | NOTIFY_QUEUED
      return
    }
    this.#callWatchers(record, events)
  }

  /** Count an application callback's error and hand it to `onCallbackError` (which may throw too). */
  #reportCallbackError(error: unknown): void {
    this.stats.callbackErrors++
    try {
      this.#callbackError(error)
    } catch (again) {
      queueMicrotask(() => {
        throw again
      })
    }
  }

  /** Deliver what {@link #notify} kept during the iteration, in the order the sockets were first notified. */
  #deliverEvents(): void {
    const queue = this.#notifyQueue
    for (let i = 0; i < queue.length; i++) {
      const record = queue.get(i)
      const events = record.pendingEvents & ~NOTIFY_QUEUED
      record.pendingEvents = 0
      this.#callWatchers(record, events)
      if (record.releasedWithPending) {
        record.releasedWithPending = false
        record.watchers.length = 0
      }
    }
    queue.clear()
  }

  /**
   * Call the watchers. A watcher that throws does not disturb the stack or the other watchers: the
   * error is counted and handed to `onCallbackError` (by default thrown again from a microtask, where
   * Node reports it as it would any callback's).
   */
  #callWatchers(record: SocketRecord, events: number): void {
    const watchers = record.watchers
    for (let i = 0; i < watchers.length; i++) {
      try {
        watchers[i]!(record.id, events)
      } catch (error) {
        this.#reportCallbackError(error)
      }
    }
  }

  #runTimers(now: Micros): void {
    if (this.#table.timeWait.size > 0) this.#table.timeWait.expire(now)
    for (let id = this.#timers.popDue(now); id !== -1; id = this.#timers.popDue(now)) {
      const record = this.#table.get(id)
      if (record === undefined || record.timerAt === undefined || record.timerAt > now) continue
      record.timerAt = undefined
      if (!record.dirty) {
        record.dirty = true
        this.#dirty.push(id)
      }
    }
  }

  #dispatchDirty(now: Micros): void {
    // Dispatching may make more connections dirty (events); loop until quiet.
    while (this.#dirty.length > 0) {
      const ids = this.#dirty
      this.#dirty = this.#dirtySpare
      this.#dirtySpare = ids
      for (let i = 0; i < ids.length; i++) {
        const id = ids.get(i)
        // Backpressure, not drops: with a full backlog the port gets what is queued first, and when it
        // cannot take more, the connections not yet served wait for the next iteration, in order.
        if (this.#txQueue.length >= TX_SOFT_LIMIT) {
          this.#flush()
          if (this.#txQueue.length >= TX_SOFT_LIMIT) {
            for (let j = i; j < ids.length; j++) this.#dirty.push(ids.get(j))
            ids.clear()
            this.#wakeRequested = true
            return
          }
        }
        const record = this.#table.get(id)
        if (record === undefined) continue
        record.dirty = false
        const connection = record.connection
        if (connection === undefined) continue
        this.#emitting = record
        this.#emitNow = now
        connection.dispatch(now, this.#emitSegment)
        this.#emitting = undefined
        const events = connection.takeEvents()
        if (events !== 0) this.#connectionEvents(record, events)
        if (record.appClosed) this.#maybeRelease(record)
        if (!this.#table.has(id)) continue
        const at = connection.pollAt()
        if (at !== undefined && at !== record.timerAt) {
          record.timerAt = at
          this.#timers.push(at, id)
        } else if (at === undefined) {
          record.timerAt = undefined
        }
        if (connection.hasPendingOutput) this.#wakeRequested = true
      }
      ids.clear()
    }
  }

  #armWake(now: Micros): void {
    if (this.options.busyPoll) {
      this.#wakeRequested = true
      return
    }
    let at = this.#timers.peekTime()
    const arpAt = this.#host.arp.pollAt()
    if (arpAt !== undefined && (at === undefined || arpAt < at)) at = arpAt
    const neighborAt = this.#host6?.pollAt()
    if (neighborAt !== undefined && (at === undefined || neighborAt < at)) at = neighborAt
    const timeWaitAt = this.#table.timeWait.nextExpiry()
    if (timeWaitAt !== undefined && (at === undefined || timeWaitAt < at)) at = timeWaitAt
    const rateLimitAt = this.#txQueue.rateLimitAt
    if (rateLimitAt !== undefined && (at === undefined || rateLimitAt < at)) at = rateLimitAt
    if (at === undefined) {
      this.#wake.cancel()
      return
    }
    if (this.#wake.at !== at) this.#wake.arm(Math.max(at, now))
  }

  /** Run the loop again as soon as possible (after the current call returns). */
  #scheduleSoon(): void {
    if (this.#closed) return
    if (this.#polling) {
      this.#wakeRequested = true
      return
    }
    const now = this.clock.now()
    if (this.#wake.at === undefined || this.#wake.at > now) this.#wake.arm(now)
  }

  // ------------------------------------------------------------------ transmit

  #queueTx(buffer: PacketBuffer): void {
    const burstWaiting = this.#txQueue.push(buffer)
    if (burstWaiting && !this.#polling && !this.#txQueue.portBusy) this.#flush()
  }

  /** Hand the queued frames to the port (transmit-queue.ts); come back soon if it pushed back. */
  #flush(): void {
    if (!this.#txQueue.flush()) this.#wakeRequested = true
  }

  // ------------------------------------------------------------------ sockets

  /** The ISS of a new connection: the user's `initialSequenceNumber` if it gives a valid one, else RFC 6528's. */
  #initialSequence(now: Micros, localIp: number, localPort: number, remoteIp: number, remotePort: number): number {
    const chosen = this.#chooseIsn
    if (chosen !== undefined) {
      try {
        const iss = chosen(now, localIp, localPort, remoteIp, remotePort)
        if (Number.isInteger(iss) && iss >= 0 && iss <= 0xffffffff) return iss
      } catch {
        // A throwing callback must not break the stack: the default generator takes over.
      }
    }
    return initialSequenceNumber(this.#secrets.isn, now, localIp, localPort, remoteIp, remotePort)
  }

  #record(fd: number): SocketRecord {
    const record = this.#table.get(fd)
    if (record === undefined || (record.appClosed && record.parent < 0)) throw new StackError('EBADF', `socket ${fd} is not open`)
    return record
  }

  #configFor(record: SocketRecord): TcpConfig {
    const base = record.family === 6 ? this.#tcpConfig6 : this.#tcpConfig
    if (
      !this.#usesCcp(record) &&
      record.noDelay === undefined &&
      record.keepAlive === undefined &&
      record.keepAliveIdle === undefined &&
      record.sendBufferSize === undefined &&
      record.receiveBufferSize === undefined &&
      record.congestionControl === undefined &&
      record.pacing === undefined &&
      record.maxPacingRate === undefined
    ) {
      return base
    }
    const congestion = record.congestionControl ?? this.options.congestionControl
    return {
      ...base,
      noDelay: record.noDelay ?? this.#tcpConfig.noDelay,
      keepAlive: record.keepAlive ?? this.#tcpConfig.keepAlive,
      keepAliveIdle: record.keepAliveIdle ?? this.#tcpConfig.keepAliveIdle,
      sendBufferSize: record.sendBufferSize ?? this.#tcpConfig.sendBufferSize,
      receiveBufferSize: record.receiveBufferSize ?? this.#tcpConfig.receiveBufferSize,
      congestionControl: this.#congestionFactory(congestion, record),
      pacing: record.pacing ?? this.#tcpConfig.pacing,
      maxPacingRate: record.maxPacingRate ?? this.#tcpConfig.maxPacingRate,
    }
  }

  #usesCcp(record: SocketRecord): boolean {
    return (record.congestionControl ?? this.options.congestionControl).startsWith('ccp')
  }

  /** How a connection of `record` makes its controller: native, or CCP with the native one as fallback. */
  #congestionFactory(choice: CongestionControlChoice, record: SocketRecord): (mss: number) => CongestionControl {
    const ccp = this.#ccp
    if (!choice.startsWith('ccp')) return (mss) => createCongestionControl(choice as NativeCongestionControlName, { mss })
    if (ccp === undefined) throw new StackError('EINVAL', `congestionControl ${JSON.stringify(choice)} needs CCP: create the stack with the ccp option`)
    const algorithm = choice.length > 4 ? choice.slice(4) : ccp.defaultAlgorithm
    return (mss) => new CcpControl(createCongestionControl(nativeFallback(choice), { mss }), ccp, record, algorithm, mss)
  }

  /**
   * Release the id once the application has closed it and the connection is over, or in TIME-WAIT: that
   * goes on as a compact entry of the TIME-WAIT table, without the socket (time-wait-table.ts).
   */
  #maybeRelease(record: SocketRecord): void {
    const connection = record.connection
    if (!record.appClosed) return
    // Not before the last segment (a FIN's ACK, a reset) has been dispatched.
    if (connection !== undefined && connection.hasPendingOutput) return
    if (connection !== undefined && connection.state !== 'CLOSED') {
      if (connection.state !== 'TIME-WAIT' || !record.bound) return
      // Over IPv6 the socket itself stays in TIME-WAIT until the connection's timer ends it (the compact table
      // keys IPv4 4-tuples); its rings go back to the pool now (a TIME-WAIT connection has nothing to send or read).
      if (record.family === 6) {
        connection.releaseBuffers()
        return
      }
      // A full table drops the entry (counted): the connection then ends without TIME-WAIT.
      this.#table.timeWait.add(record.localIp, record.localPort, record.remoteIp, record.remotePort, connection.timeWaitHandoff()!)
      this.stats.tcp.closedConnections++
    }
    if (connection !== undefined && record.bound) this.#table.removeFlow(record)
    if (record.listen !== undefined) this.#unlisten(record)
    if (record.pendingEvents !== 0) record.releasedWithPending = true
    else record.watchers.length = 0
    connection?.releaseBuffers()
    this.#table.release(record.id)
  }

  /** The readiness of a socket as {@link PollEvents} bits. */
  #readiness(record: SocketRecord): number {
    if (record.listen !== undefined) return record.listen.accepted.length > 0 ? PollEvents.IN : 0
    const connection = record.connection
    if (connection === undefined) return PollEvents.OUT | PollEvents.HUP
    let events = 0
    const state = connection.state
    if (connection.readableBytes > 0 || connection.readEnded || state === 'CLOSED') events |= PollEvents.IN
    if (connection.writable && state !== 'SYN-SENT' && state !== 'SYN-RECEIVED' && connection.sendBuffer.free > 0) events |= PollEvents.OUT
    if (connection.error !== undefined) events |= PollEvents.ERR
    if (connection.readEnded) events |= PollEvents.RDHUP
    if (state === 'CLOSED' || state === 'TIME-WAIT') events |= PollEvents.HUP
    return events
  }

  /** Create a TCP socket. @returns its id. @throws `EMFILE` when {@link StackOptions.maxConnections} sockets exist. */
  socket(): number {
    this.#checkOpen()
    const record = this.#table.allocate()
    if (record === undefined) throw new StackError('EMFILE', `no more than ${this.options.maxConnections} sockets (maxConnections)`)
    return record.id
  }

  /** Bind to a local port (address `'0.0.0.0'` or the stack's own). Port 0 picks an ephemeral port. */
  bind(fd: number, address: string, port: number): void {
    const record = this.#record(fd)
    if (record.bound) throw new StackError('EINVAL', `socket ${fd} is already bound`)
    checkPort('port', port)
    const families = this.#bindFamilies(address)
    const chosen = port === 0 ? this.#table.ephemeralListenPort() : port
    if (this.#table.portInUse(chosen)) {
      throw new StackError('EADDRINUSE', `port ${chosen} is in use`)
    }
    record.localIp = this.address
    record.localPort = chosen
    record.listenFamilies = families
    record.bound = true
  }

  /**
   * The families a bind address stands for: 4 for 0.0.0.0 or the IPv4 address, 6 for the IPv6 address,
   * 46 for `::` (dual-stack, as Linux with `IPV6_V6ONLY` off; 4 alone on a stack without IPv6).
   */
  #bindFamilies(address: string): 4 | 6 | 46 {
    if (typeof address === 'string' && address.includes(':')) {
      const ip6 = parseIpv6Address(address)
      if (ip6 === undefined) throw new StackError('EINVAL', `not an IP address: ${JSON.stringify(address)}`)
      if (ip6.every((byte) => byte === 0)) return this.#host6 === undefined ? 4 : 46
      if (this.#host6 !== undefined && this.#host6.isOurs(ip6, 0)) return 6
      throw new StackError('EADDRNOTAVAIL', `${address} is not this stack's address`)
    }
    const ip = parseAddress(address)
    if (ip !== 0 && ip !== this.address) throw new StackError('EADDRNOTAVAIL', `${address} is not this stack's address (${formatIpv4Address(this.address)})`)
    return 4
  }

  /** Take a listener out of the listener tables of its families. */
  #unlisten(record: SocketRecord): void {
    if (record.listenFamilies !== 6) this.#table.listeners.delete(record.localIp, record.localPort)
    if (record.listenFamilies !== 4) this.#table.listeners6.delete(0, record.localPort)
  }

  /**
   * Listen for connections; `backlog` bounds the established connections waiting for `accept` (the accept
   * queue). Connections still being set up are the SYN queue's (syn-queue.ts), bounded by `backlog` too, as
   * Linux bounds its request queue by the listen backlog, but never below the `synBacklog` option.
   */
  listen(fd: number, backlog = 511): void {
    const record = this.#record(fd)
    if (!record.bound) throw new StackError('EINVAL', `socket ${fd} must be bound before listen`)
    if (record.connection !== undefined) throw new StackError('EISCONN', `socket ${fd} is connected`)
    if (!Number.isInteger(backlog) || backlog < 1) throw new StackError('EINVAL', `backlog must be a positive integer, got ${backlog}`)
    const synLimit = Math.max(this.options.synBacklog, backlog)
    if (record.listen !== undefined) {
      record.listen.backlog = backlog
      record.listen.synQueue.limit = synLimit
      return
    }
    const listen: ListenState = { backlog, synQueue: new SynQueue(synLimit), accepted: [] }
    if (record.listenFamilies !== 6) this.#table.listeners.insert(this.address, record.localPort, record.id)
    if (record.listenFamilies !== 4) {
      try {
        this.#table.listeners6.insert(0, record.localPort, record.id)
      } catch (error) {
        if (record.listenFamilies !== 6) this.#table.listeners.delete(this.address, record.localPort)
        if (error instanceof Error && 'code' in error && error.code === 'EADDRINUSE') throw new StackError('EADDRINUSE', `port ${record.localPort} is already listened on over IPv6`)
        throw error
      }
    }
    record.listen = listen
  }

  /** Take an established connection. @throws `EAGAIN` when none is waiting, `EINVAL` when `fd` is not listening. */
  accept(fd: number): number {
    const id = this.tryAccept(fd)
    if (id === -1) throw WOULD_BLOCK
    return id
  }

  /**
   * Take an established connection, or -1 when none is waiting: {@link accept} without the exception, for
   * a loop that drains the queue on every readiness event.
   * @throws `EINVAL` when `fd` is not listening (a bug, not a condition to poll for).
   */
  tryAccept(fd: number): number {
    const record = this.#record(fd)
    if (record.listen === undefined) throw new StackError('EINVAL', `socket ${fd} is not listening`)
    const id = record.listen.accepted.shift()
    if (id === undefined) return -1
    const accepted = this.#table.get(id)!
    accepted.parent = -1
    return id
  }

  /**
   * mTCP style, `connect(fd, address, port)`: start connecting a socket (non-blocking); completion
   * shows as OUT (or ERR) readiness and in {@link state}.
   * @throws `EISCONN`, `EADDRINUSE` (no free ephemeral port), `EHOSTUNREACH` (no route).
   */
  connect(fd: number, address: string, port: number): void
  /**
   * Node style, `connect({ host, port }, listener?)`: a {@link TcpSocket} (a `Duplex` like
   * `net.Socket`) that emits `'connect'` once established; failures arrive as `'error'`.
   */
  connect(options: TcpConnectOptions, connectListener?: () => void): TcpSocket
  connect(first: number | TcpConnectOptions, second?: string | (() => void), port?: number): void | TcpSocket {
    if (typeof first === 'number') {
      this.#connectSocket(first, second as string, port as number)
      return
    }
    return this.createConnection(first, second as (() => void) | undefined)
  }

  /** Node style: the same as `connect(options, listener)`, under the name `http.request({ createConnection })` uses. */
  createConnection(options: TcpConnectOptions, connectListener?: () => void): TcpSocket {
    const fd = this.socket()
    const socket = new TcpSocket(this, fd, { connecting: true, allowHalfOpen: options.allowHalfOpen ?? false })
    if (connectListener !== undefined) socket.once('connect', connectListener)
    try {
      socket.startConnect(options)
    } catch (error) {
      queueMicrotask(() => socket.destroy(error as Error))
    }
    return socket
  }

  /** Node style: a {@link TcpServer} (like `net.Server`); call `listen(port)` on it. */
  createServer(options?: TcpServerOptions | ((socket: TcpSocket) => void), connectionListener?: (socket: TcpSocket) => void): TcpServer {
    if (typeof options === 'function') return new TcpServer(this, {}, options)
    return new TcpServer(this, options ?? {}, connectionListener)
  }

  #connectSocket(fd: number, address: string, port: number): void {
    const record = this.#record(fd)
    if (record.connection !== undefined) throw new StackError(record.connection.state === 'SYN-SENT' ? 'EALREADY' : 'EISCONN', `socket ${fd} is already connecting or connected`)
    if (record.listen !== undefined) throw new StackError('EINVAL', `socket ${fd} is listening`)
    checkPort('port', port)
    if (typeof address === 'string' && address.includes(':') && !address.toLowerCase().startsWith('::ffff:')) {
      this.#connectSocket6(record, address, port)
      return
    }
    const remoteIp = parseAddress(address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address)
    if (this.#host.routes.lookupRoute(remoteIp) === undefined) throw new StackError('EHOSTUNREACH', `no route to ${address}`)
    record.localIp = this.address
    record.remoteIp = remoteIp
    record.remotePort = port
    if (!record.bound) {
      record.localPort = this.#table.ephemeralPortFor(remoteIp, port)
      record.bound = true
    } else if (this.#table.flows.has(record.localIp, record.localPort, remoteIp, port) || !this.#table.timeWaitAllows(record.localPort, remoteIp, port)) {
      throw new StackError('EADDRINUSE', `${formatIpv4Address(this.address)}:${record.localPort} is already connected to ${address}:${port}`)
    }
    const now = this.clock.now()
    const iss = this.#initialSequence(now, record.localIp, record.localPort, remoteIp, port)
    record.connection = TcpConnection.connect(this.#configFor(record), now, iss, this.#timestampOffset(record.localPort, remoteIp, port))
    this.#table.addFlow(record)
    this.stats.tcp.activeOpens++
    this.#touch(record)
  }

  /** connect over IPv6 (the address has a colon and is not IPv4-mapped). */
  #connectSocket6(record: SocketRecord, address: string, port: number): void {
    const host = this.#host6
    if (host === undefined) throw new StackError('EAFNOSUPPORT', `connect to ${address}: the stack has no IPv6 address (the ipv6 option)`)
    const remote = parseIpv6Address(address)
    if (remote === undefined || remote[0] === 0xff || remote.every((byte) => byte === 0)) throw new StackError('EINVAL', `not a unicast IPv6 address: ${JSON.stringify(address)}`)
    if (host.nextHop(remote) === undefined) throw new StackError('EHOSTUNREACH', `no route to ${address}`)
    const local = remote[0] === 0xfe && (remote[1]! & 0xc0) === 0x80 ? host.linkLocal : host.address
    const localDigest = ipv6AddressDigest(this.#secrets, local)
    const remoteDigest = ipv6AddressDigest(this.#secrets, remote)
    let localPort = record.localPort
    if (!record.bound) localPort = this.#table.ephemeralPortFor6(local, localDigest, remote, remoteDigest, port)
    else if (this.#table.flows6.has(local, localPort, remote, port)) throw new StackError('EADDRINUSE', `[${formatIpv6Address(local)}]:${localPort} is already connected to [${address}]:${port}`)
    this.#setIpv6Addresses(record, local, remote, localPort, port)
    const now = this.clock.now()
    const iss = this.#initialSequence(now, record.localIp, record.localPort, record.remoteIp, record.remotePort)
    record.connection = TcpConnection.connect(this.#configFor(record), now, iss, this.#timestampOffset6(record))
    this.#table.addFlow(record)
    this.stats.tcp.activeOpens++
    this.#touch(record)
  }

  /**
   * Read up to `length` bytes into `buffer` at `offset`.
   * @returns the count, or 0 at the end of the stream.
   * @throws `EAGAIN` when nothing is buffered yet, or the connection's error (`ECONNRESET`, …).
   */
  read(fd: number, buffer: Uint8Array, offset = 0, length = buffer.byteLength - offset): number {
    checkRange('buffer', buffer, offset, length)
    const connection = this.#connection(fd)
    const n = connection.read(buffer, offset, length)
    if (n > 0) {
      this.#touch(this.#record(fd))
      return n
    }
    if (connection.error !== undefined) throw new StackError(connection.error, `socket ${fd}: ${connection.error}`)
    if (connection.readEnded || connection.state === 'CLOSED') return 0
    throw WOULD_BLOCK
  }

  /** Read into several buffers in order (scatter). @returns the total count. */
  readv(fd: number, buffers: readonly Uint8Array[]): number {
    return vectored(buffers, (buffer) => this.read(fd, buffer))
  }

  /**
   * Queue bytes for sending.
   * @returns how many were taken; fewer than asked when the send buffer is full.
   * @throws `EAGAIN` when nothing fits, `EPIPE` after `shutdown`, or the connection's error.
   */
  write(fd: number, data: Uint8Array, offset = 0, length = data.byteLength - offset): number {
    checkRange('data', data, offset, length)
    const record = this.#record(fd)
    const connection = this.#connection(fd)
    if (connection.error !== undefined) throw new StackError(connection.error, `socket ${fd}: ${connection.error}`)
    if (!connection.writable) throw new StackError('EPIPE', `socket ${fd} cannot send any more (state ${connection.state})`)
    const n = connection.write(data, offset, length)
    if (n === 0 && length > 0) throw WOULD_BLOCK
    this.#touch(record)
    return n
  }

  /** Write several buffers in order (gather). @returns the total count. */
  writev(fd: number, buffers: readonly Uint8Array[]): number {
    return vectored(buffers, (buffer) => this.write(fd, buffer))
  }

  /** Close the sending side: a FIN follows the queued data. */
  shutdown(fd: number): void {
    const record = this.#record(fd)
    record.connection?.shutdown()
    if (record.connection !== undefined) this.#touch(record)
  }

  /**
   * Close the socket. A connection closes gracefully (FIN after the queued data) unless unread data
   * is left, in which case it is reset (as Linux does, RFC 9293 §3.10.4 / RFC 2525 §2.17).
   * The id stays reserved until the connection is over.
   */
  close(fd: number): void {
    const record = this.#record(fd)
    record.appClosed = true
    record.watchers.length = 0
    if (record.listen !== undefined) {
      for (const id of record.listen.accepted) {
        const child = this.#table.get(id)
        if (child?.connection !== undefined) {
          child.connection.abort()
          child.appClosed = true
          this.#touch(child)
        }
      }
      record.listen.accepted.length = 0
      this.#unlisten(record)
      record.listen = undefined
    }
    const connection = record.connection
    if (connection === undefined) {
      this.#table.release(record.id)
      return
    }
    if (connection.readableBytes > 0) connection.abort()
    else connection.shutdown()
    this.#touch(record)
    this.#maybeRelease(record)
  }

  /** Reset the connection at once (RST) and close the socket. */
  abort(fd: number): void {
    const record = this.#record(fd)
    record.connection?.abort()
    record.appClosed = true
    record.watchers.length = 0
    if (record.connection === undefined) this.close(fd)
    else this.#touch(record)
    this.#maybeRelease(record)
  }

  /** The local address of a socket. */
  getsockname(fd: number): SocketAddress {
    const record = this.#record(fd)
    if (record.family === 6) return { address: formatIpv6Address(record.localIp6!), port: record.localPort, family: 'IPv6' }
    if (record.listenFamilies === 46 && record.connection === undefined) return { address: '::', port: record.localPort, family: 'IPv6' }
    if (record.listenFamilies === 6 && record.connection === undefined) return { address: formatIpv6Address(this.#host6!.address), port: record.localPort, family: 'IPv6' }
    const ip = formatIpv4Address(record.bound ? record.localIp : 0)
    if (record.mapped) return { address: `::ffff:${ip}`, port: record.localPort, family: 'IPv6' }
    return { address: ip, port: record.localPort, family: 'IPv4' }
  }

  /** The remote address of a connected socket. @throws `ENOTCONN`. */
  getpeername(fd: number): SocketAddress {
    const record = this.#record(fd)
    if (record.connection === undefined) throw new StackError('ENOTCONN', `socket ${fd} is not connected`)
    if (record.family === 6) return { address: formatIpv6Address(record.remoteIp6!), port: record.remotePort, family: 'IPv6' }
    const ip = formatIpv4Address(record.remoteIp)
    if (record.mapped) return { address: `::ffff:${ip}`, port: record.remotePort, family: 'IPv6' }
    return { address: ip, port: record.remotePort, family: 'IPv4' }
  }

  /**
   * Set an option. Before `connect`/`listen` it applies to the connection to come (and to accepted
   * connections of a listener); on a live connection `noDelay` and keep-alive apply at once.
   */
  setsockopt(fd: number, option: SocketOption, value: boolean | number | string): void {
    const record = this.#record(fd)
    switch (option) {
      case 'noDelay':
        record.noDelay = Boolean(value)
        break
      case 'keepAlive':
        record.keepAlive = Boolean(value)
        break
      case 'keepAliveIdle':
        if (typeof value !== 'number' || !(value >= 1_000_000)) throw new StackError('EINVAL', `keepAliveIdle must be at least 1,000,000 µs, got ${String(value)}`)
        record.keepAliveIdle = value
        break
      case 'sendBufferSize':
      case 'receiveBufferSize':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 1 << 30) throw new StackError('EINVAL', `${option} must be an integer in [1, 1073741824], got ${String(value)}`)
        if (record.connection !== undefined) throw new StackError('EISCONN', `${option} must be set before connect or listen`)
        record[option] = value
        break
      case 'pacing':
        record.pacing = Boolean(value)
        break
      case 'maxPacingRate':
        if (typeof value !== 'number' || !(value >= 1)) throw new StackError('EINVAL', `maxPacingRate must be a number of bytes/s in [1, Infinity], got ${String(value)}`)
        record.maxPacingRate = value
        break
      case 'congestionControl': {
        const problem = congestionControlProblem(value, this.#ccp !== undefined)
        if (problem !== undefined) throw new StackError('EINVAL', problem)
        if (record.connection !== undefined) throw new StackError('EISCONN', 'congestionControl must be set before connect or listen')
        record.congestionControl = value as CongestionControlChoice
        break
      }
      default:
        throw new StackError('ENOPROTOOPT', `unknown socket option ${String(option)}`)
    }
    if (record.connection !== undefined && (option === 'noDelay' || option === 'keepAlive' || option === 'keepAliveIdle' || option === 'pacing' || option === 'maxPacingRate')) {
      record.connection.setOptions({
        noDelay: record.noDelay,
        keepAlive: record.keepAlive,
        keepAliveIdle: record.keepAliveIdle,
        pacing: record.pacing,
        maxPacingRate: record.maxPacingRate,
      })
      this.#touch(record)
    }
  }

  /** Read an option back. */
  getsockopt(fd: number, option: SocketOption): boolean | number | string {
    const record = this.#record(fd)
    const config = record.connection?.config ?? this.#configFor(record)
    switch (option) {
      case 'noDelay':
        return config.noDelay
      case 'keepAlive':
        return config.keepAlive
      case 'keepAliveIdle':
        return config.keepAliveIdle
      case 'sendBufferSize':
        return config.sendBufferSize
      case 'receiveBufferSize':
        return config.receiveBufferSize
      case 'pacing':
        return config.pacing
      case 'maxPacingRate':
        return config.maxPacingRate
      case 'congestionControl':
        return record.connection?.congestion.name ?? record.congestionControl ?? this.options.congestionControl
      default:
        throw new StackError('ENOPROTOOPT', `unknown socket option ${String(option)}`)
    }
  }

  /** The TCP state of a socket (`'LISTEN'` for a listener, `'CLOSED'` before connect). */
  state(fd: number): TcpState {
    const record = this.#record(fd)
    if (record.listen !== undefined) return 'LISTEN'
    return record.connection?.state ?? 'CLOSED'
  }

  /**
   * A snapshot of a connection's TCP state (windows, RTT, counters, pacing), like Linux's `TCP_INFO`.
   * Throws `ENOTCONN` for a socket with no connection (a listener, or before connect).
   */
  tcpInfo(fd: number): TcpInfo {
    const connection = this.#record(fd).connection
    if (connection === undefined) throw new StackError('ENOTCONN', `socket ${fd} has no connection`)
    return readTcpInfo(connection)
  }

  /** The connection behind a socket, for inspection (stats, RTT, windows). */
  connectionOf(fd: number): TcpConnection | undefined {
    return this.#record(fd).connection
  }

  /** Current readiness of a socket as {@link PollEvents} bits. */
  readiness(fd: number): number {
    return this.#readiness(this.#record(fd))
  }

  /**
   * Be told of a socket's readiness whenever its state changes (as {@link PollEvents} bits), after the
   * loop iteration that changed it. A socket that is already readable, failed or closed is reported at the
   * next delivery too (level-triggered, as epoll).
   * @returns a function that stops watching.
   */
  watch(fd: number, watcher: (fd: number, events: number) => void): () => void {
    const record = this.#record(fd)
    record.watchers.push(watcher)
    // Level-triggered, as epoll: a socket that is already readable (data that arrived before anyone
    // watched, as on a connection accepted in the iteration that brought its first data), failed or closed
    // is reported to its watchers at the next delivery, not only at its next change.
    const ready = (record.connection !== undefined || record.listen !== undefined ? this.#readiness(record) : 0) & (PollEvents.IN | PollEvents.ERR | PollEvents.HUP | PollEvents.RDHUP)
    if (ready !== 0) {
      if (record.pendingEvents === 0) this.#notifyQueue.push(record)
      record.pendingEvents |= ready | NOTIFY_QUEUED
      if (!this.#polling) this.#scheduleSoon()
    }
    return () => {
      const index = record.watchers.indexOf(watcher)
      if (index >= 0) record.watchers.splice(index, 1)
    }
  }

  /**
   * Merge a neighbour learned elsewhere (by another worker of a cluster) into the ARP cache, as an ARP
   * reply addressed to this stack would be (RFC 826 merge); frames waiting for it are sent. Does not call
   * `hooks.arpLearned`. @throws `EINVAL` for a bad address or a MAC that is not 6 bytes.
   */
  addArpEntry(ip: string | number, mac: Uint8Array): void {
    const address = typeof ip === 'number' ? ip : parseAddress(ip)
    if (!Number.isInteger(address) || address < 0 || address > 0xffffffff) throw new StackError('EINVAL', `ip must be an IPv4 address, got ${String(ip)}`)
    if (!(mac instanceof Uint8Array) || mac.byteLength !== 6) throw new StackError('EINVAL', 'mac must be a 6-byte Uint8Array')
    if (this.#closed) return
    const result = this.#host.arp.onArpPacket(this.clock.now(), { operation: 2, senderMac: mac, senderIp: address, targetIp: this.address }, this.address)
    this.#host.releaseResolved(result.ready, result.mac!)
    if (result.ready.length > 0) this.#scheduleSoon()
  }

  /** Connections by TCP state, for monitoring. */
  connectionsByState(): Partial<Record<TcpState, number>> {
    const counts: Partial<Record<TcpState, number>> = {}
    this.#table.ids.forEach((record) => {
      const state: TcpState = record.listen !== undefined ? 'LISTEN' : (record.connection?.state ?? 'CLOSED')
      counts[state] = (counts[state] ?? 0) + 1
    })
    if (this.#table.timeWait.size > 0) counts['TIME-WAIT'] = (counts['TIME-WAIT'] ?? 0) + this.#table.timeWait.size
    return counts
  }

  /**
   * Sockets in use (including closing connections the application let go, and connections in TIME-WAIT
   * the application has not closed; closed ones in TIME-WAIT are entries of the TIME-WAIT table instead,
   * counted in {@link connectionsByState} and {@link timeWaitCount}).
   */
  get socketCount(): number {
    return this.#table.ids.size
  }

  /**
   * Counters of the pool that recycles the send and receive rings of finished connections (the stack's
   * own, or the `tcp.ringStorage` it was given): how much storage was reused, allocated, and held now.
   */
  get ringStorage(): RingStoragePoolStats | undefined {
    return this.#tcpConfig.ringStorage?.stats
  }

  /** Connections in TIME-WAIT kept as compact entries after their sockets were closed (at most the `timeWaitLimit` option). */
  get timeWaitCount(): number {
    return this.#table.timeWait.size
  }

  /** Stop the stack: cancel the wake-up, stop listening to the port, free queued frames. Connections are abandoned without resets. Idempotent. */
  stop(): void {
    if (this.#closed) return
    this.#closed = true
    this.#wake.cancel()
    this.port.onReadable(undefined)
    this.port.onWritable(undefined)
    this.#txQueue.clear()
    this.#host.arp.clear((buffer) => buffer.release())
    this.#host.reassembly.clear()
    this.#host6?.neighbors.clear((buffer) => buffer.release())
    if (this.#ccp !== undefined) {
      this.#table.ids.forEach((record) => {
        if (record.connection?.congestion instanceof CcpControl) record.connection.congestion.free()
      })
      this.#ccp.close()
    }
  }

  /** The stack's CCP datapath (libccp's `Datapath`), when it was created with the `ccp` option: stats, agent presence. */
  get ccpDatapath(): StackCcp['datapath'] | undefined {
    return this.#ccp?.datapath
  }

  #connection(fd: number) {
    const connection = this.#record(fd).connection
    if (connection === undefined) throw new StackError('ENOTCONN', `socket ${fd} is not connected`)
    return connection
  }

  /** After an application call changed a connection: notify, queue for dispatch, make sure the loop runs. */
  #touch(record: SocketRecord): void {
    if (record.connection !== undefined) this.#afterConnectionWork(record)
    this.#scheduleSoon()
  }

  #checkOpen(): void {
    if (this.#closed) throw new StackError('ERR_STACK_CLOSED', 'the stack is closed')
  }
}

/**
 * Scatter/gather: apply `transfer` to each buffer in order until one is not filled (or emptied) whole.
 * `EAGAIN` after some bytes moved ends the call with that count, as readv/writev do.
 */
function vectored(buffers: readonly Uint8Array[], transfer: (buffer: Uint8Array) => number): number {
  let total = 0
  for (const buffer of buffers) {
    let n: number
    try {
      n = transfer(buffer)
    } catch (error) {
      if (total > 0 && error === WOULD_BLOCK) return total
      throw error
    }
    total += n
    if (n < buffer.byteLength) break
  }
  return total
}


function checkPort(name: string, port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new StackError('EINVAL', `${name} must be an integer in [0, 65535], got ${String(port)}`)
}

function parseAddress(address: string): number {
  try {
    return parseIpv4Address(address)
  } catch {
    throw new StackError('EINVAL', `not an IPv4 address: ${JSON.stringify(address)}`)
  }
}

/**
 * Create a stack over a port.
 *
 * @example
 * ```ts
 * const link = createMemoryLink()
 * const server = createStack({ port: link.a, address: '10.0.0.1/24' })
 * const client = createStack({ port: link.b, address: '10.0.0.2/24' })
 * ```
 */
export function createStack(options: StackOptions): Stack {
  return new Stack(options)
}

/** The native controller behind a choice: itself, or for CCP the one that governs until the agent does (Cubic, or Reno for 'ccp:reno'). */
function nativeFallback(choice: CongestionControlChoice): NativeCongestionControlName {
  if (!choice.startsWith('ccp')) return choice as NativeCongestionControlName
  return choice === 'ccp:reno' ? 'reno' : 'cubic'
}

/**
 * `EINVAL` unless `bytes` is a Uint8Array and `offset`, `length` are integers with the range inside it: a
 * length past the end would send bytes that were never written, or read into nowhere.
 */
function checkRange(name: string, bytes: Uint8Array, offset: number, length: number): void {
  if (!(bytes instanceof Uint8Array)) throw new StackError('EINVAL', `${name} must be a Uint8Array, got ${typeof bytes}`)
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > bytes.byteLength) {
    throw new StackError('EINVAL', `offset and length must be integers with offset + length within the ${bytes.byteLength}-byte ${name}, got offset ${String(offset)}, length ${String(length)}`)
  }
}
