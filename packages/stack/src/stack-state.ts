/**
 * The stack's shared internal state: one object that the driver loop (driver.ts), the receive-side
 * demultiplexer (demultiplexer.ts) and the socket API (stack.ts) all read, so that nothing is kept twice.
 * It holds the port, the hosts, the socket table, the timer and transmit queues, the keys, the loop's
 * flags, and what a new connection is made from (its configuration, ISS, timestamp offset, IPv6 addresses).
 * @internal
 * @module
 */
import { BufferPool, type Clock, type Micros, type PacketBuffer, type Port } from '@mtcp/dpdk-io'
import { TokenBucket } from '@mtcp/pacer'
import {
  type CongestionControl,
  createCongestionControl,
  formatIpv6Address,
  initialSequenceNumber,
  ipv6PseudoHeaderSumOf,
  Ipv6NextHeader,
  type NativeCongestionControlName,
  resolveTcpConfig,
  RingStoragePool,
  type TcpConfig,
} from '@mtcp/tcp-core'
import { CcpControl, StackCcp } from './ccp.js'
import { type CongestionControlChoice, type ResolvedStackOptions, resolveStackOptions, type StackOptions } from './config.js'
import { StackError } from './errors.js'
import { Ipv4Host } from './ipv4-host.js'
import { Ipv6Host } from './ipv6-host.js'
import { drawSecrets, flowLabel, ipv6AddressDigest, type StackSecrets, timestampOffset } from './secrets.js'
import type { SocketRecord } from './socket-record.js'
import { StackSocketTable } from './socket-table.js'
import type { StackHooks } from './stack-hooks.js'
import { createStackStats, type StackStats } from './stats.js'
import { SynCookies } from './syn-queue.js'
import { TimerQueue } from './timer-queue.js'
import { TransmitQueue } from './transmit-queue.js'

/** @internal The state every part of the stack shares (see the module). */
export class StackState {
  readonly stats: StackStats = createStackStats()
  readonly options: ResolvedStackOptions
  readonly port: Port
  readonly clock: Clock
  readonly pool: BufferPool
  readonly address: number
  /** Socket ids, flows, listeners, TIME-WAIT entries and ephemeral ports (socket-table.ts). */
  readonly table: StackSocketTable
  /** Connections' deadlines (timer-queue.ts). */
  readonly timers = new TimerQueue()
  /** Routing, ARP, ICMP echo, resets (ipv4-host.ts). */
  readonly host: Ipv4Host
  /** IPv6: Neighbor Discovery, ICMPv6, TCP segments in and out (ipv6-host.ts); undefined without the `ipv6` option. */
  readonly host6: Ipv6Host | undefined
  /** Frames waiting for the port (transmit-queue.ts). */
  readonly txQueue: TransmitQueue
  /** Keyed digests (secrets.ts) of the IPv6 address and the link-local one: what stands for them in cookies and TIME-WAIT keys' hashes; 0 without IPv6. */
  readonly address6Digest: number
  readonly linkLocal6Digest: number
  /** The TCP settings of connections over IPv4. */
  readonly tcpConfig: TcpConfig
  /** The TCP settings of connections over IPv6: the MSS 20 bytes smaller (RFC 8200 §8.3), super segments only when the port offers them over IPv6. */
  readonly tcpConfig6: TcpConfig
  /** Keys from the random source (secrets.ts): ISN, ports, timestamp offsets, SYN cookies. */
  readonly secrets: StackSecrets
  /** SYN-ACKs with cookies and their ACKs (syn-queue.ts). */
  readonly cookies: SynCookies
  /** Cluster hooks (stack-hooks.ts); empty for a stack alone. */
  readonly hooks: StackHooks
  /** The CCP datapath, when the stack was given one. */
  readonly ccp: StackCcp | undefined
  readonly #chooseIsn: StackOptions['initialSequenceNumber']
  readonly #callbackError: (error: unknown) => void
  /** A loop iteration is running (driver.ts): events are kept for delivery after it, frames wait for its transmit phase. */
  polling = false
  /** The loop must run again soon (more to receive, a port that pushed back, output left). */
  wakeRequested = false
  /** `Stack.stop` was called. */
  closed = false

  constructor(options: StackOptions) {
    this.options = resolveStackOptions(options)
    this.port = this.options.port
    this.clock = this.port.clock
    const segmentation = this.port.offloads.segmentation
    // A port whose buffers are device memory (DPDK mbufs) transmits its own pool's buffers without a copy.
    this.pool = options.pool ?? this.port.devicePool ?? new BufferPool({ count: 16_384, dataRoom: segmentation.tcp4 ? 65_536 + 256 : Math.max(2048, this.port.link.maxFrameSize + 64) })
    this.address = this.options.address
    this.secrets = drawSecrets(this.options.random)
    this.cookies = new SynCookies(this.secrets.cookie)
    this.#chooseIsn = options.initialSequenceNumber
    this.#callbackError =
      options.onCallbackError ??
      ((error) =>
        queueMicrotask(() => {
          throw error
        }))
    this.tcpConfig = resolveTcpConfig(
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
    this.ccp = options.ccp === undefined ? undefined : new StackCcp(options.ccp, this.clock)
    this.hooks = options.hooks ?? {}
    const hooks = this.hooks
    this.table = new StackSocketTable({
      address: this.address,
      maxConnections: this.options.maxConnections,
      timeWaitLimit: this.options.timeWaitLimit,
      timeWaitTimeout: this.tcpConfig.timeWaitTimeout,
      ephemeralPorts: this.options.ephemeralPorts,
      secrets: this.secrets,
      clock: this.clock,
      stats: this.stats,
      acceptEphemeralPort: hooks.acceptEphemeralPort === undefined ? undefined : (port, remoteIp, remotePort, remote6, local6) => hooks.acceptEphemeralPort!(port, remoteIp, remotePort, remote6, local6),
    })
    this.txQueue = new TransmitQueue(this.port, this.clock, this.options.burstSize, options.rateLimit === undefined ? undefined : new TokenBucket(options.rateLimit), this.stats)
    this.host = new Ipv4Host({
      address: this.address,
      prefixLength: this.options.prefixLength,
      gateway: this.options.gateway,
      mac: this.options.mac,
      checksumOffload: this.port.offloads.txChecksum.tcp,
      arp: options.arp,
      staticArp: options.staticArp,
      pool: this.pool,
      transmit: (buffer) => this.queueTx(buffer),
      flush: () => this.flush(),
      stats: this.stats,
      hooks: this.hooks,
      mtu: this.options.mtu,
      reassembly: options.reassembly,
    })
    const ipv6 = this.options.ipv6
    this.host6 =
      ipv6 === undefined
        ? undefined
        : new Ipv6Host({
            address: ipv6.address,
            prefixLength: ipv6.prefixLength,
            gateway: this.options.ipv6Gateway,
            mac: this.options.mac,
            pool: this.pool,
            transmit: (buffer) => this.queueTx(buffer),
            flush: () => this.flush(),
            stats: this.stats,
            neighbors: options.neighbors,
            staticNeighbors: options.staticNeighbors,
            // Issue 20 (ipv6-host.ts): reassembly as IPv4's, DAD, router solicitations, duplicates reported.
            mtu: this.options.mtu,
            reassembly: options.reassembly,
            dad: this.options.ipv6Dad,
            routerSolicitation: this.options.ipv6RouterSolicitation,
            now: this.clock.now(),
            checksumOffload: this.port.offloads.txChecksum.tcp6,
            onDuplicate: (address) => this.#reportStackError(new StackError('ERR_DUPLICATE_ADDRESS', `${formatIpv6Address(address)} is in use by another node on the link (RFC 4862 §5.4.5): not used`), options.onError),
          })
    // RFC 8200 §8.3: the IPv6 header is 20 bytes longer than IPv4's, and so the MSS 20 bytes smaller
    // (1440 on a 1500-byte MTU); never below 1220 (1280 − 60), the IPv6 minimum MTU's. Super segments
    // when the port cuts and checksums TCP over IPv6 (offloads.segmentation.tcp6, txChecksum.tcp6).
    const tso6 = segmentation.tcp6 && this.port.offloads.txChecksum.tcp6
    this.tcpConfig6 = { ...this.tcpConfig, mss: Math.max(1220, this.tcpConfig.mss - 20), segmentationMax: tso6 ? Math.min(this.tcpConfig.segmentationMax, segmentation.maxSize - 40 - 60) : 0 }
    this.address6Digest = this.host6 === undefined ? 0 : ipv6AddressDigest(this.secrets, this.host6.address)
    this.linkLocal6Digest = this.host6 === undefined ? 0 : ipv6AddressDigest(this.secrets, this.host6.linkLocal)
  }

  // ------------------------------------------------------------------ transmit

  /** Queue a frame for the port; a full burst goes out at once outside a loop iteration. */
  queueTx(buffer: PacketBuffer): void {
    const burstWaiting = this.txQueue.push(buffer)
    if (burstWaiting && !this.polling && !this.txQueue.portBusy) this.flush()
  }

  /** Hand the queued frames to the port (transmit-queue.ts); come back soon if it pushed back. */
  flush(): void {
    if (!this.txQueue.flush()) this.wakeRequested = true
  }

  /** An error the stack found on its own (ipv6-host.ts: a duplicate address) to `onError`, by default a process warning; a throwing handler counts as a callback error. */
  #reportStackError(error: StackError, onError: ((error: StackError) => void) | undefined): void {
    try {
      if (onError === undefined) process.emitWarning(error)
      else onError(error)
    } catch (thrown) {
      this.reportCallbackError(thrown)
    }
  }

  /** Count an application callback's error and hand it to `onCallbackError` (which may throw too). */
  reportCallbackError(error: unknown): void {
    this.stats.callbackErrors++
    try {
      this.#callbackError(error)
    } catch (again) {
      queueMicrotask(() => {
        throw again
      })
    }
  }

  // ------------------------------------------------------------------ new connections

  /** The ISS of a new connection: the user's `initialSequenceNumber` if it gives a valid one, else RFC 6528's. */
  initialSequence(now: Micros, localIp: number, localPort: number, remoteIp: number, remotePort: number): number {
    const chosen = this.#chooseIsn
    if (chosen !== undefined) {
      try {
        const iss = chosen(now, localIp, localPort, remoteIp, remotePort)
        if (Number.isInteger(iss) && iss >= 0 && iss <= 0xffffffff) return iss
      } catch {
        // A throwing callback must not break the stack: the default generator takes over.
      }
    }
    return initialSequenceNumber(this.secrets.isn, now, localIp, localPort, remoteIp, remotePort)
  }

  /** A connection's timestamp offset over IPv4: the configured one, else a keyed hash of the 4-tuple (secrets.ts). */
  timestampOffset(localPort: number, remoteIp: number, remotePort: number): number {
    return this.tcpConfig.timestampOffset ?? timestampOffset(this.secrets, this.address, localPort, remoteIp, remotePort)
  }

  /** The timestamp offset of a connection over IPv6: the configured one, else the keyed hash of its 4-tuple, the addresses as their digests. */
  timestampOffset6(localDigest: number, localPort: number, remoteDigest: number, remotePort: number): number {
    return this.tcpConfig.timestampOffset ?? timestampOffset(this.secrets, localDigest, localPort, remoteDigest, remotePort)
  }

  /** Make `record` a connection over IPv6 between `local` and `remote` (16 bytes each, kept): digests, pseudo-header sum, flow label. */
  setIpv6Addresses(record: SocketRecord, local: Uint8Array, remote: Uint8Array, localPort: number, remotePort: number): void {
    record.family = 6
    record.mapped = false
    record.localIp6 = local
    record.remoteIp6 = remote
    record.localIp = ipv6AddressDigest(this.secrets, local)
    record.remoteIp = ipv6AddressDigest(this.secrets, remote)
    record.localPort = localPort
    record.remotePort = remotePort
    record.bound = true
    // RFC 8200 §8.1: the addresses' part of the TCP pseudo-header, once per connection.
    record.addressSum = ipv6PseudoHeaderSumOf(local, remote, Ipv6NextHeader.TCP, 0)
    record.flowLabel = flowLabel(this.secrets, record.localIp, localPort, record.remoteIp, remotePort)
  }

  /** The TCP configuration of `record`'s connection: its family's, with the socket's options on top. */
  configFor(record: SocketRecord): TcpConfig {
    const base = record.family === 6 ? this.tcpConfig6 : this.tcpConfig
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
      noDelay: record.noDelay ?? this.tcpConfig.noDelay,
      keepAlive: record.keepAlive ?? this.tcpConfig.keepAlive,
      keepAliveIdle: record.keepAliveIdle ?? this.tcpConfig.keepAliveIdle,
      sendBufferSize: record.sendBufferSize ?? this.tcpConfig.sendBufferSize,
      receiveBufferSize: record.receiveBufferSize ?? this.tcpConfig.receiveBufferSize,
      congestionControl: this.#congestionFactory(congestion, record),
      pacing: record.pacing ?? this.tcpConfig.pacing,
      maxPacingRate: record.maxPacingRate ?? this.tcpConfig.maxPacingRate,
    }
  }

  #usesCcp(record: SocketRecord): boolean {
    return (record.congestionControl ?? this.options.congestionControl).startsWith('ccp')
  }

  /** How a connection of `record` makes its controller: native, or CCP with the native one as fallback. */
  #congestionFactory(choice: CongestionControlChoice, record: SocketRecord): (mss: number) => CongestionControl {
    const ccp = this.ccp
    if (!choice.startsWith('ccp')) return (mss) => createCongestionControl(choice as NativeCongestionControlName, { mss })
    if (ccp === undefined) throw new StackError('EINVAL', `congestionControl ${JSON.stringify(choice)} needs CCP: create the stack with the ccp option`)
    const algorithm = choice.length > 4 ? choice.slice(4) : ccp.defaultAlgorithm
    return (mss) => new CcpControl(createCongestionControl(nativeFallback(choice), { mss }), ccp, record, algorithm, mss)
  }

  /** Take a listener out of the listener tables of its families. */
  unlisten(record: SocketRecord): void {
    if (record.listenFamilies !== 6) this.table.listeners.delete(record.localIp, record.localPort)
    if (record.listenFamilies !== 4) this.table.listeners6.delete(0, record.localPort)
  }
}

/** The native controller behind a choice: itself, or for CCP the one that governs until the agent does (Cubic, or Reno for 'ccp:reno'). */
function nativeFallback(choice: CongestionControlChoice): NativeCongestionControlName {
  if (!choice.startsWith('ccp')) return choice as NativeCongestionControlName
  return choice === 'ccp:reno' ? 'reno' : 'cubic'
}
