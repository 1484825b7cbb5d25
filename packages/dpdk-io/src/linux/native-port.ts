/**
 * The Linux backends: a TAP device (`tap`) or an existing interface through a packet socket
 * (`af-packet`), both on the optional native addon `@mtcp/dpdk-io-native`. Frames carry the 10-byte
 * virtio-net header when offloads are on, so the kernel completes checksums and cuts TCP super
 * segments (TSO) on the way out, and may hand over coalesced frames (GRO) on the way in.
 * @module
 */
import { BufferPool, OffloadFlags, type PacketBuffer } from '../buffer-pool.js'
import { type Clock, realClock } from '../clock.js'
import { DpdkIoError } from '../errors.js'
import { internetChecksum } from '../offload/software-offload.js'
import { type CaptureSink, createPortStats, type LinkInfo, type OffloadCapabilities, type Port, type PortStats } from '../port.js'

/** The calls this backend needs from `@mtcp/dpdk-io-native`. @internal */
interface NativeIo {
  nativeAvailable(): boolean
  tapOpen(name: string, options: { vnetHeader: boolean; multiQueue: boolean; offloads: boolean }): number
  packetOpen(ifname: string, options: { vnetHeader: boolean; fanoutGroup?: number }): number
  readBurst(fd: number, buffers: Uint8Array[], offsets: Int32Array, lengths: Int32Array, max: number, vnetHeader: boolean, vnetOut: Uint8Array): number
  writeBurst(fd: number, buffers: Uint8Array[], offsets: Int32Array, lengths: Int32Array, count: number, vnetIn: Uint8Array): number
  watch(fd: number, callback: () => void): unknown
  unwatch(handle: unknown): void
  close(fd: number): void
}

const VNET_HEADER = 10
const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1
const VIRTIO_NET_HDR_F_DATA_VALID = 2
const VIRTIO_NET_HDR_GSO_TCPV4 = 1
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
  /** Share the interface between workers by flow hash (PACKET_FANOUT_HASH) in this group. */
  fanoutGroup?: number
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
      `the tap and af-packet backends need the optional package ${packageName} (Linux only): install it with \`npm i ${packageName}\` on a machine with python3, make and g++ (${(error as Error).message})`,
      { cause: error },
    )
  }
  if (!native.nativeAvailable()) {
    throw new DpdkIoError('ERR_NATIVE_UNAVAILABLE', `${packageName} is installed but its addon was not built: install python3, make and g++ and reinstall it`)
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

/** Bind to an existing interface with a packet socket as a {@link Port}. */
export async function openPacketPort(options: PacketPortOptions): Promise<Port> {
  const native = await loadNative(options.nativePackage ?? NATIVE_PACKAGE)
  const offloads = options.offloads ?? false
  const packetOptions: { vnetHeader: boolean; fanoutGroup?: number } = { vnetHeader: offloads }
  if (options.fanoutGroup !== undefined) packetOptions.fanoutGroup = options.fanoutGroup
  const fd = native.packetOpen(options.interface, packetOptions)
  return new NativePort(native, fd, options.interface, offloads, options)
}

function randomMac(): Uint8Array {
  const mac = new Uint8Array(6)
  crypto.getRandomValues(mac)
  mac[0] = (mac[0]! & 0xfe) | 0x02 // unicast, locally administered
  return mac
}

/** @internal A port over a native file descriptor. */
class NativePort implements Port {
  readonly stats: PortStats = createPortStats()
  readonly link: LinkInfo
  readonly offloads: OffloadCapabilities
  readonly clock: Clock
  busyPoll = false
  readonly #pool: BufferPool
  readonly #burst: number
  readonly #slots: Uint8Array[] = []
  readonly #offsets: Int32Array
  readonly #lengths: Int32Array
  readonly #vnet: Uint8Array
  readonly #rxBuffers: PacketBuffer[] = []
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
    this.offloads = Object.freeze({
      txChecksum: Object.freeze({ ipv4: vnetHeader, tcp: vnetHeader, udp: vnetHeader }),
      rxChecksum: vnetHeader,
      segmentation: Object.freeze({ tcp4: vnetHeader, tcp6: false, maxSize: vnetHeader ? 65535 : 0 }),
      largeReceive: vnetHeader,
    })
    this.#pool = options.pool ?? new BufferPool({ count: 4096, dataRoom: vnetHeader ? 65_536 + 256 : 2048 })
    this.#burst = options.burst ?? 64
    this.#offsets = new Int32Array(this.#burst)
    this.#lengths = new Int32Array(this.#burst)
    this.#vnet = new Uint8Array(this.#burst * VNET_HEADER)
  }

  rxBurst(bufs: PacketBuffer[], max: number): number {
    if (this.#closed) return 0
    const want = Math.min(max, this.#burst)
    const rx = this.#rxBuffers
    let allocated = 0
    for (; allocated < want; allocated++) {
      const buffer = this.#pool.alloc()
      if (buffer === undefined) break
      rx[allocated] = buffer
      this.#slots[allocated] = buffer.data
      this.#offsets[allocated] = buffer.offset
    }
    if (allocated === 0) {
      this.stats.drops.noBuffer++
      return 0
    }
    let n: number
    try {
      n = this.native.readBurst(this.fd, this.#slots, this.#offsets, this.#lengths, allocated, this.vnetHeader, this.#vnet)
    } catch {
      n = 0 // an error after nothing was read (the device went away): nothing to hand over
    }
    const now = this.clock.now()
    let delivered = 0
    for (let i = 0; i < n; i++) {
      const buffer = rx[i]!
      if (this.#lengths[i]! < 0) {
        // Larger than the buffer: the addon reports the full length negated. Counted and dropped.
        this.stats.drops.oversize++
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
      this.stats.rxPackets++
      this.stats.rxBytes += buffer.length
      this.#capture?.record(buffer.data, buffer.offset, buffer.length, now, 'rx')
      bufs[delivered++] = buffer
    }
    for (let i = n; i < allocated; i++) rx[i]!.release()
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
      this.stats.drops[buffer.length < ETHERNET_HEADER ? 'runt' : 'oversize']++
      buffer.release()
      dropped++
    }
    let ready = 0
    while (dropped + ready < count && ready < this.#burst && this.#sendable(bufs[dropped + ready]!)) {
      const buffer = bufs[dropped + ready]!
      this.#slots[ready] = buffer.data
      this.#offsets[ready] = buffer.offset
      this.#lengths[ready] = buffer.length
      if (this.vnetHeader) this.#writeVnetHeader(ready, buffer)
      ready++
    }
    let sent = 0
    if (ready > 0) {
      try {
        sent = this.native.writeBurst(this.fd, this.#slots, this.#offsets, this.#lengths, ready, this.vnetHeader ? this.#vnet : EMPTY)
      } catch {
        // The kernel rejected the first frame (EMSGSIZE, EINVAL, …): drop it, counted, and carry on.
        this.stats.drops.oversize++
        bufs[dropped]!.release()
        return dropped + 1
      }
    }
    for (let i = 0; i < sent; i++) {
      const buffer = bufs[dropped + i]!
      this.stats.txPackets++
      this.stats.txBytes += buffer.length
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
    if (flags & OffloadFlags.TX_IP_CHECKSUM) {
      // virtio-net offloads only the L4 checksum; the 20-byte IPv4 header checksum is done here.
      const ip = buffer.offset + buffer.l2Length
      buffer.view.setUint16(ip + 10, 0)
      buffer.view.setUint16(ip + 10, internetChecksum(buffer.data, ip, buffer.l3Length))
    }
    if (flags & (OffloadFlags.TX_TCP_CHECKSUM | OffloadFlags.TX_TCP_SEGMENTATION)) {
      const start = buffer.l2Length + buffer.l3Length
      header[at] = VIRTIO_NET_HDR_F_NEEDS_CSUM
      writeLe16(header, at + 6, start) // csum_start
      writeLe16(header, at + 8, 16) // csum_offset: the TCP checksum field
    }
    if (flags & OffloadFlags.TX_TCP_SEGMENTATION) {
      header[at + 1] = VIRTIO_NET_HDR_GSO_TCPV4
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

  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#watch !== undefined) this.native.unwatch(this.#watch)
    this.native.close(this.fd)
  }
}

function writeLe16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff
  bytes[at + 1] = value >>> 8
}
