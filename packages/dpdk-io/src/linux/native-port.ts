/**
 * The Linux backends: a TAP device (`tap`) or an existing interface through a packet socket
 * (`af-packet`), both on the optional native addon `@mtcp/dpdk-io-native`. Frames carry the 10-byte
 * virtio-net header when offloads are on, so the kernel completes checksums and cuts TCP super
 * segments (TSO) on the way out, and may hand over coalesced frames (GRO) on the way in.
 * @module
 */
import { BufferPool, OffloadFlags, type PacketBuffer } from '../buffer-pool.js'
import { type Clock, realClock } from '../clock.js'
import { checkInteger, DpdkIoError } from '../errors.js'
import { internetChecksum } from '@mtcp/primitives'
import { type CaptureSink, createPortStats, type LinkInfo, type OffloadCapabilities, type Port, type PortStats } from '../port.js'

/** The calls this backend needs from `@mtcp/dpdk-io-native`. @internal */
interface NativeIo {
  nativeAvailable(): boolean
  /** Why the addon did not load, with the fix (absent from old versions of the package). */
  nativeUnavailableReason?(): string | undefined
  tapOpen(name: string, options: { vnetHeader: boolean; multiQueue: boolean; offloads: boolean }): number
  packetOpen(ifname: string, options: PacketOpenOptions): number
  readBurst(fd: number, buffers: Uint8Array[], offsets: Int32Array, lengths: Int32Array, max: number, vnetHeader: boolean, vnetOut: Uint8Array): number
  writeBurst(fd: number, buffers: Uint8Array[], offsets: Int32Array, lengths: Int32Array, count: number, vnetIn: Uint8Array): number
  watch(fd: number, callback: () => void): unknown
  unwatch(handle: unknown): void
  close(fd: number): void
  /** Absent from addons built before it existed. */
  kernelDrops?(fd: number): number
}

const VNET_HEADER = 10
const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1
const VIRTIO_NET_HDR_F_DATA_VALID = 2
const VIRTIO_NET_HDR_GSO_TCPV4 = 1
/** virtio spec 5.1.6: `VIRTIO_NET_HDR_GSO_TCPV6`. */
const VIRTIO_NET_HDR_GSO_TCPV6 = 4
const ETHERNET_HEADER = 14
const EMPTY = new Uint8Array(0)

/** Options shared by the Linux backends. */
export interface NativePortOptions {
  /** The stack's MAC address on this link (the kernel's own MAC of the device is not the stack's). Default a random locally administered one. */
  mac?: Uint8Array
  /** IP MTU, in [68, 65535]. Default 1500. */
  mtu?: number
  /** Use the virtio-net header: checksum and segmentation offload both ways. Default true. */
  offloads?: boolean
  /** Buffers for received frames. Default 4096 slots of 64 KB + headroom with offloads, 2 KB without. */
  pool?: BufferPool
  /** Most frames per receive call. Default 64. */
  burst?: number
  /** The clock for capture timestamps. Default the real clock. */
  clock?: Clock
  /** The package that holds the addon. Default `@mtcp/dpdk-io-native`. */
  nativePackage?: string
  /**
   * Without `offloads`, complete IPv4, TCP and UDP checksums in the native addon (C) instead of leaving
   * them to the caller's JavaScript: the port then reports `txChecksum` support. Default true.
   */
  softwareChecksum?: boolean
}

/** Options of {@link openTapPort}. */
export interface TapPortOptions extends NativePortOptions {
  /** The TAP device to create or attach to (a persistent one made with `ip tuntap add mode tap user …` needs no root at run time). */
  name: string
  /** Open one queue of a multi-queue TAP (IFF_MULTI_QUEUE), so each worker owns a queue. Default false. */
  multiQueue?: boolean
}

/** Options of {@link openPacketPort}. */
export interface PacketPortOptions extends NativePortOptions {
  /** The interface to bind to (a veth end or a NIC). Give it no kernel address, so the kernel does not answer for the stack. */
  interface: string
  /** Share the interface between workers in this PACKET_FANOUT group (0-65535), spread as {@link PacketPortOptions.fanoutMode} says. */
  fanoutGroup?: number
  /**
   * How the fanout group spreads frames; every member must ask for the same (the first fixes it). Needs `fanoutGroup`.
   * - `'hash'` (default): the kernel's flow hash (PACKET_FANOUT_HASH), keyed by a boot-time secret, so
   *   nobody can predict which member a flow reaches.
   * - `'ports'`: a classic BPF program (PACKET_FANOUT_CBPF, Linux 4.6+): TCP over IPv4, or over IPv6
   *   with no extension header, with ports `a` and `b` reaches member {@link portsFanoutHash}`(a, b) % members`
   *   in both directions, members numbered in join order; every other frame (ARP, ICMP, ICMPv6 and
   *   neighbour discovery, UDP, IPv6 with extension headers, VLAN-tagged) reaches member 0.
   */
  fanoutMode?: 'hash' | 'ports'
  /**
   * Move frames through PACKET_MMAP rings (TPACKET_V2: one `send()` per transmit burst, received frames
   * read from shared memory) instead of `recvmmsg`/`sendmmsg`. `true` fails when the kernel cannot
   * (rings with `offloads` need Linux 5.8+); `false` never uses them. Default: rings without `offloads`
   * when the kernel has them (falling back silently), none with `offloads` (measured slower for 64 KB frames).
   */
  ring?: boolean
  /**
   * Slots of the receive ring, in [2, 65536]. Default 4096 (2 KB each), or 64 with `offloads` (64 KB
   * each). A full ring drops what arrives, so it must hold every frame that comes in while the caller is
   * busy elsewhere: a bulk sender hears an ACK for every few of the hundreds of segments it sends per loop.
   */
  ringRxFrames?: number
  /** Slots of the transmit ring, in [2, 65536]. Default 512, or 64 with `offloads`. A full ring is backpressure: `txBurst` takes fewer frames. */
  ringTxFrames?: number
  /**
   * Hand transmitted frames straight to the driver, past the interface's queueing discipline
   * (PACKET_QDISC_BYPASS, Linux 3.14+), as a DPDK port sends. On a veth this took about 10% off the CPU
   * time per packet of a bulk sender without offloads (bench/kernel-bulk-nooffload.bench.mjs uses it). The
   * price: `tc` rules on the interface (rate limits, shaping) no longer apply to our frames, and what the
   * device cannot take is dropped rather than queued. Default false.
   */
  qdiscBypass?: boolean
}

/**
 * The value of the `'ports'` fanout program (see {@link PacketPortOptions.fanoutMode}) for a TCP segment
 * with ports `portA` and `portB`, in either order: `((portA ^ portB) * 0x9e3779b1 mod 2^32) >> 16`
 * (Knuth's multiplicative hash of the XOR, so every bit of both ports counts). The kernel hands the
 * segment to member `portsFanoutHash(portA, portB) % members`, members numbered in join order; a worker
 * that joined as member `i` gets the replies of a connection whose ports give `i`.
 */
export function portsFanoutHash(portA: number, portB: number): number {
  return Math.imul((portA ^ portB) & 0xffff, 0x9e3779b1) >>> 16
}

/** The addon's `packetOpen` options. @internal */
interface PacketOpenOptions {
  vnetHeader: boolean
  qdiscBypass?: boolean
  fanoutGroup?: number
  fanoutMode?: 'hash' | 'ports'
  ringRxFrames?: number
  ringTxFrames?: number
  ringFrameSize?: number
}

/** The package that holds the addon. */
const NATIVE_PACKAGE = '@mtcp/dpdk-io-native'

async function loadNative(packageName: string): Promise<NativeIo> {
  let native: NativeIo
  try {
    // A variable, so bundlers leave the optional package to run time.
    native = (await import(packageName)) as NativeIo
  } catch (error) {
    throw new DpdkIoError(
      'ERR_NATIVE_UNAVAILABLE',
      `the tap and af-packet backends need the optional package ${packageName} (Linux only), which is not installed: \`npm i ${packageName}\` or \`pnpm add ${packageName}\` (it ships prebuilt for linux-x64 and linux-arm64; nothing to compile, no build to approve) (${(error as Error).message})`,
      { cause: error },
    )
  }
  if (!native.nativeAvailable()) {
    throw new DpdkIoError('ERR_NATIVE_UNAVAILABLE', `${packageName} is installed but its addon does not load: ${native.nativeUnavailableReason?.() ?? 'build it from source (python3, make, g++)'}`)
  }
  return native
}

/** Open (or attach to) a TAP device as a {@link Port}. Throws `ERR_NATIVE_UNAVAILABLE` without the addon, and the OS error (`EPERM`, `ENOENT`, …) naming the cause otherwise. */
export async function openTapPort(options: TapPortOptions): Promise<Port> {
  const native = await loadNative(options.nativePackage ?? NATIVE_PACKAGE)
  const offloads = options.offloads ?? true
  const fd = native.tapOpen(options.name, { vnetHeader: offloads, multiQueue: options.multiQueue ?? false, offloads })
  return new NativePort(native, fd, options.name, offloads, options)
}

/**
 * Bind to an existing interface with a packet socket as a {@link Port}. Frames go through PACKET_MMAP
 * rings where that is the default or asked for (see {@link PacketPortOptions.ring}).
 */
export async function openPacketPort(options: PacketPortOptions): Promise<Port> {
  const fanout = fanoutOptions(options)
  const native = await loadNative(options.nativePackage ?? NATIVE_PACKAGE)
  const offloads = options.offloads ?? false
  if (options.ring !== undefined && typeof options.ring !== 'boolean') {
    throw new DpdkIoError('ERR_INVALID_CONFIG', `ring must be a boolean, got ${typeof options.ring}`)
  }
  const ringRxFrames = checkInteger('ringRxFrames', options.ringRxFrames ?? (offloads ? 64 : 4096), 2, 65_536)
  const ringTxFrames = checkInteger('ringTxFrames', options.ringTxFrames ?? (offloads ? 64 : 512), 2, 65_536)
  const mtu = options.mtu ?? 1500
  if (options.qdiscBypass !== undefined && typeof options.qdiscBypass !== 'boolean') {
    throw new DpdkIoError('ERR_INVALID_CONFIG', `qdiscBypass must be a boolean, got ${typeof options.qdiscBypass}`)
  }
  const packetOptions: PacketOpenOptions = { vnetHeader: offloads, ...fanout, ...(options.qdiscBypass === true ? { qdiscBypass: true } : {}) }
  // Rings pay off for MTU-sized frames (one system call per burst instead of one per frame inside
  // sendmmsg); with offloads a frame is already up to 64 KB, and every slot would have to be that big.
  const ring = options.ring ?? !offloads
  if (ring) {
    const ringOptions = { ...packetOptions, ringRxFrames, ringTxFrames, ringFrameSize: offloads ? 65_535 + ETHERNET_HEADER + 4 : mtu + ETHERNET_HEADER + 4 }
    try {
      return new NativePort(native, native.packetOpen(options.interface, ringOptions), options.interface, offloads, options)
    } catch (error) {
      // Asked for explicitly, or failing for a reason the plain socket shares (no such device, no permission): report it.
      const code = (error as { code?: string }).code
      if (options.ring === true || (code !== 'EINVAL' && code !== 'ENOPROTOOPT' && code !== 'EOPNOTSUPP' && code !== 'ENOMEM')) throw error
    }
  }
  const fd = native.packetOpen(options.interface, packetOptions)
  return new NativePort(native, fd, options.interface, offloads, options)
}

/** The fanout group and mode of `options`, checked before the addon is loaded. */
function fanoutOptions(options: PacketPortOptions): Pick<PacketOpenOptions, 'fanoutGroup' | 'fanoutMode'> {
  const out: Pick<PacketOpenOptions, 'fanoutGroup' | 'fanoutMode'> = {}
  if (options.fanoutGroup !== undefined) out.fanoutGroup = checkInteger('fanoutGroup', options.fanoutGroup, 0, 0xffff)
  if (options.fanoutMode !== undefined) {
    if (options.fanoutMode !== 'hash' && options.fanoutMode !== 'ports') {
      throw new DpdkIoError('ERR_INVALID_CONFIG', `fanoutMode must be 'hash' or 'ports', got ${JSON.stringify(String(options.fanoutMode)).slice(0, 60)}`)
    }
    if (out.fanoutGroup === undefined) throw new DpdkIoError('ERR_INVALID_CONFIG', `fanoutMode '${options.fanoutMode}' needs fanoutGroup`)
    out.fanoutMode = options.fanoutMode
  }
  return out
}

function randomMac(): Uint8Array {
  const mac = new Uint8Array(6)
  crypto.getRandomValues(mac)
  mac[0] = (mac[0]! & 0xfe) | 0x02 // unicast, locally administered
  return mac
}

/** @internal A port over a native file descriptor. */
class NativePort implements Port {
  readonly #stats: PortStats = createPortStats()
  readonly link: LinkInfo
  readonly offloads: OffloadCapabilities
  readonly clock: Clock
  busyPoll = false
  readonly #pool: BufferPool
  readonly #burst: number
  /** Frames travel with a virtio-net header: to and from the kernel (`vnetHeader`), or to the addon's software checksum. */
  readonly #headers: boolean
  readonly #slots: Uint8Array[] = []
  readonly #offsets: Int32Array
  readonly #lengths: Int32Array
  readonly #vnet: Uint8Array
  /** Receive buffers kept stocked between calls, as a NIC keeps its RX descriptors filled: `#rxSlots`/`#rxOffsets` mirror them. */
  readonly #rxBuffers: PacketBuffer[] = []
  readonly #rxSlots: Uint8Array[] = []
  readonly #rxOffsets: Int32Array
  #rxStocked = 0
  #watch: unknown = undefined
  #readable: (() => void) | undefined = undefined
  #capture: CaptureSink | undefined = undefined
  #closed = false

  constructor(
    private readonly native: NativeIo,
    private readonly fd: number,
    name: string,
    private readonly vnetHeader: boolean,
    options: NativePortOptions,
  ) {
    const mtu = options.mtu ?? 1500
    this.clock = options.clock ?? realClock
    this.link = Object.freeze({ name, mtu, mac: options.mac ?? randomMac(), maxFrameSize: mtu + ETHERNET_HEADER, speed: undefined })
    const txChecksum = vnetHeader || (options.softwareChecksum ?? true)
    this.#headers = txChecksum
    this.offloads = Object.freeze({
      txChecksum: Object.freeze({ ipv4: txChecksum, tcp: txChecksum, udp: txChecksum, tcp6: txChecksum }),
      rxChecksum: vnetHeader,
      segmentation: Object.freeze({ tcp4: vnetHeader, tcp6: vnetHeader, maxSize: vnetHeader ? 65535 : 0 }),
      largeReceive: vnetHeader,
    })
    this.#pool = options.pool ?? new BufferPool({ count: 4096, dataRoom: vnetHeader ? 65_536 + 256 : 2048 })
    this.#burst = options.burst ?? 64
    this.#offsets = new Int32Array(this.#burst)
    this.#rxOffsets = new Int32Array(this.#burst)
    this.#lengths = new Int32Array(this.#burst)
    this.#vnet = new Uint8Array(this.#burst * VNET_HEADER)
  }

  rxBurst(bufs: PacketBuffer[], max: number): number {
    if (this.#closed) return 0
    const want = Math.min(max, this.#burst)
    const rx = this.#rxBuffers
    // Top the stock up to `want`; buffers not filled stay stocked for the next call (no alloc/free churn
    // per call when one ACK arrives at a time).
    while (this.#rxStocked < want) {
      const buffer = this.#pool.alloc()
      if (buffer === undefined) break
      rx[this.#rxStocked] = buffer
      this.#rxSlots[this.#rxStocked] = buffer.data
      this.#rxOffsets[this.#rxStocked] = buffer.offset
      this.#rxStocked++
    }
    const allocated = Math.min(want, this.#rxStocked)
    if (allocated === 0) {
      this.#stats.drops.noBuffer++
      return 0
    }
    let n: number
    try {
      n = this.native.readBurst(this.fd, this.#rxSlots, this.#rxOffsets, this.#lengths, allocated, this.vnetHeader, this.#vnet)
    } catch {
      n = 0 // an error after nothing was read (the device went away): nothing to hand over
    }
    if (n === 0) return 0
    const now = this.clock.now()
    let delivered = 0
    for (let i = 0; i < n; i++) {
      const buffer = rx[i]!
      if (this.#lengths[i]! < 0) {
        // Larger than the buffer: the addon reports the full length negated. Counted and dropped.
        this.#stats.drops.oversize++
        buffer.release()
        continue
      }
      buffer.length = this.#lengths[i]!
      if (this.vnetHeader) {
        const flags = this.#vnet[i * VNET_HEADER]!
        // A partial checksum from this host's kernel is trusted: honour the flag, don't drop (virtio spec 5.1.6.2.1).
        if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) buffer.offloadFlags |= OffloadFlags.RX_IP_CHECKSUM_GOOD | OffloadFlags.RX_L4_CHECKSUM_PARTIAL
        if (flags & VIRTIO_NET_HDR_F_DATA_VALID) buffer.offloadFlags |= OffloadFlags.RX_IP_CHECKSUM_GOOD | OffloadFlags.RX_L4_CHECKSUM_GOOD
      }
      this.#stats.rxPackets++
      this.#stats.rxBytes += buffer.length
      this.#capture?.record(buffer.data, buffer.offset, buffer.length, now, 'rx')
      bufs[delivered++] = buffer
    }
    // The first n left the stock: move the rest down (n is small, and usually all there is).
    const stocked = this.#rxStocked
    for (let i = n; i < stocked; i++) {
      rx[i - n] = rx[i]!
      this.#rxSlots[i - n] = this.#rxSlots[i]!
      this.#rxOffsets[i - n] = this.#rxOffsets[i]!
    }
    this.#rxStocked = stocked - n
    return delivered
  }

  txBurst(bufs: PacketBuffer[], count: number): number {
    if (this.#closed) throw new DpdkIoError('ERR_PORT_CLOSED', `port ${this.link.name} is closed`)
    const now = this.clock.now()
    // Invalid frames at the front are dropped (counted, never thrown); the valid run after them goes in one
    // native call; an invalid frame after a valid one waits for the next call, so the caller keeps order.
    let dropped = 0
    while (dropped < count && !this.#sendable(bufs[dropped]!)) {
      const buffer = bufs[dropped]!
      this.#stats.drops[buffer.length < ETHERNET_HEADER ? 'runt' : 'oversize']++
      buffer.release()
      dropped++
    }
    let ready = 0
    while (dropped + ready < count && ready < this.#burst && this.#sendable(bufs[dropped + ready]!)) {
      const buffer = bufs[dropped + ready]!
      this.#slots[ready] = buffer.data
      this.#offsets[ready] = buffer.offset
      this.#lengths[ready] = buffer.length
      if (this.#headers) this.#writeVnetHeader(ready, buffer)
      ready++
    }
    let sent = 0
    if (ready > 0) {
      try {
        // Without vnetHeader the headers go to the addon, which completes the checksums they ask for in C.
        sent = this.native.writeBurst(this.fd, this.#slots, this.#offsets, this.#lengths, ready, this.#headers ? this.#vnet : EMPTY)
      } catch (error) {
        // The kernel rejected the first frame (EMSGSIZE, EINVAL, …) or the link is down: drop it, counted, and carry on.
        const code = (error as { code?: string }).code
        this.#stats.drops[code === 'ENETDOWN' || code === 'EIO' || code === 'ENXIO' ? 'linkDown' : 'oversize']++
        bufs[dropped]!.release()
        return dropped + 1
      }
    }
    for (let i = 0; i < sent; i++) {
      const buffer = bufs[dropped + i]!
      this.#stats.txPackets++
      this.#stats.txBytes += buffer.length
      this.#capture?.record(buffer.data, buffer.offset, buffer.length, now, 'tx')
      buffer.release() // the kernel has its own copy
    }
    return dropped + sent
  }

  #sendable(buffer: PacketBuffer): boolean {
    if (buffer.length < ETHERNET_HEADER) return false
    if (buffer.length <= this.link.maxFrameSize) return true
    return this.vnetHeader && (buffer.offloadFlags & OffloadFlags.TX_TCP_SEGMENTATION) !== 0 && buffer.length - buffer.l2Length <= 65535
  }

  #writeVnetHeader(index: number, buffer: PacketBuffer): void {
    const at = index * VNET_HEADER
    const header = this.#vnet
    header.fill(0, at, at + VNET_HEADER)
    const flags = buffer.offloadFlags
    if (flags & OffloadFlags.TX_IP_CHECKSUM && buffer.data[buffer.offset + buffer.l2Length]! >>> 4 === 4) {
      // virtio-net offloads only the L4 checksum; the IPv4 header checksum is done here (RFC 791 §3.1).
      // IPv6 has none (RFC 8200 §3).
      const ip = buffer.offset + buffer.l2Length
      const data = buffer.data
      data[ip + 10] = 0
      data[ip + 11] = 0
      buffer.view.setUint16(ip + 10, buffer.l3Length === 20 ? ipv4HeaderChecksum20(data, ip) : internetChecksum(data, ip, buffer.l3Length))
    }
    if (flags & (OffloadFlags.TX_TCP_CHECKSUM | OffloadFlags.TX_TCP_SEGMENTATION)) {
      const start = buffer.l2Length + buffer.l3Length
      header[at] = VIRTIO_NET_HDR_F_NEEDS_CSUM
      writeLe16(header, at + 6, start) // csum_start
      writeLe16(header, at + 8, 16) // csum_offset: the TCP checksum field
    } else if (flags & OffloadFlags.TX_UDP_CHECKSUM) {
      header[at] = VIRTIO_NET_HDR_F_NEEDS_CSUM
      writeLe16(header, at + 6, buffer.l2Length + buffer.l3Length)
      writeLe16(header, at + 8, 6) // csum_offset: the UDP checksum field
    }
    if (flags & OffloadFlags.TX_TCP_SEGMENTATION) {
      // The kernel cuts it (virtio spec 5.1.6.2); the GSO type names the family, from the IP version nibble.
      header[at + 1] = buffer.data[buffer.offset + buffer.l2Length]! >>> 4 === 6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4
      writeLe16(header, at + 2, buffer.l2Length + buffer.l3Length + buffer.l4Length) // hdr_len
      writeLe16(header, at + 4, buffer.segmentSize) // gso_size
    }
  }

  onReadable(listener: (() => void) | undefined): void {
    this.#readable = listener
    if (listener !== undefined && this.#watch === undefined && !this.#closed) this.#watch = this.native.watch(this.fd, () => this.#readable?.())
    if (listener === undefined && this.#watch !== undefined) {
      this.native.unwatch(this.#watch)
      this.#watch = undefined
    }
  }

  onWritable(_listener: (() => void) | undefined): void {
    // The kernel queues what it accepts; a refused burst is retried on the next loop iteration.
  }

  capture(sink: CaptureSink | undefined): void {
    this.#capture = sink
  }

  /** The counters; reading them asks the kernel for the frames it dropped before we read them (`drops.kernel`). */
  get stats(): PortStats {
    if (!this.#closed && this.native.kernelDrops !== undefined) this.#stats.drops.kernel = this.native.kernelDrops(this.fd)
    return this.#stats
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#watch !== undefined) this.native.unwatch(this.#watch)
    this.native.close(this.fd)
    for (let i = 0; i < this.#rxStocked; i++) this.#rxBuffers[i]!.release()
    this.#rxStocked = 0
  }
}

/** The checksum of a 20-byte IPv4 header at `at` (RFC 1071), unrolled: it runs for every frame. */
function ipv4HeaderChecksum20(d: Uint8Array, at: number): number {
  let sum =
    ((d[at]! << 8) | d[at + 1]!) + ((d[at + 2]! << 8) | d[at + 3]!) + ((d[at + 4]! << 8) | d[at + 5]!) + ((d[at + 6]! << 8) | d[at + 7]!) +
    ((d[at + 8]! << 8) | d[at + 9]!) + ((d[at + 10]! << 8) | d[at + 11]!) + ((d[at + 12]! << 8) | d[at + 13]!) + ((d[at + 14]! << 8) | d[at + 15]!) +
    ((d[at + 16]! << 8) | d[at + 17]!) + ((d[at + 18]! << 8) | d[at + 19]!)
  sum = (sum & 0xffff) + (sum >>> 16)
  sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}

function writeLe16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff
  bytes[at + 1] = value >>> 8
}
