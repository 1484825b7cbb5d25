/**
 * Raw Linux packet I/O for `@mtcp/dpdk-io`: TAP devices and AF_PACKET sockets with burst reads and
 * writes, virtio-net headers and libuv readiness callbacks, from a Node-API addon.
 *
 * The package carries the addon prebuilt for linux-x64 and linux-arm64 (glibc), loaded with node-gyp-build;
 * a build from source (`scripts/install.cjs`, into `native/build/Release`) is loaded first when there is one. The
 * addon is optional: where it does not load (not Linux, another architecture, musl) every native function
 * throws an Error with code `ERR_NATIVE_UNAVAILABLE`; check {@link nativeAvailable} first, and
 * {@link nativeUnavailableReason} says why and how to build it.
 * @module
 */
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { endianness } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Options of {@link tapOpen}. */
export interface TapOpenOptions {
  /** Prepend a 10-byte virtio-net header to every frame (IFF_VNET_HDR). */
  vnetHeader?: boolean
  /** Open one queue of a multi-queue TAP (IFF_MULTI_QUEUE); every opener must agree. */
  multiQueue?: boolean
  /** Accept checksum-partial and TSO frames (TUN_F_CSUM | TUN_F_TSO4 [| TUN_F_TSO6]). Needs `vnetHeader`. */
  offloads?: boolean
}

/** Options of {@link packetOpen}. */
export interface PacketOpenOptions {
  /** Exchange a 10-byte virtio-net header with every frame (PACKET_VNET_HDR). */
  vnetHeader?: boolean
  /** Send past the interface's queueing discipline, straight to the driver (PACKET_QDISC_BYPASS, Linux 3.14+). */
  qdiscBypass?: boolean
  /** Join this PACKET_FANOUT group (0-65535), to spread flows over several sockets (see {@link PacketOpenOptions.fanoutMode}). */
  fanoutGroup?: number
  /**
   * How the group spreads frames; the first member fixes it, and every member must ask for the same.
   * - `'hash'` (default): PACKET_FANOUT_HASH, the kernel's symmetric flow hash, keyed by a boot-time
   *   secret: user space cannot tell which member a flow reaches.
   * - `'ports'`: PACKET_FANOUT_CBPF with a classic BPF program that returns {@link portsFanoutHash}`(a, b)`
   *   for TCP over IPv4, or over IPv6 with no extension header, with ports `a` and `b` (the same both
   *   ways), and 0 for every other frame (ARP, ICMP, ICMPv6, UDP, non-first IPv4 fragments, IPv6 with
   *   extension headers, VLAN-tagged frames). The kernel takes that value modulo the
   *   member count, and members are numbered in the order they joined (a member that leaves is replaced
   *   by the last one), so a TCP flow reaches member `portsFanoutHash(a, b) % members` in both directions.
   *   Needs Linux 4.6+ and `fanoutGroup`.
   */
  fanoutMode?: 'hash' | 'ports'
  /**
   * Receive through a PACKET_MMAP ring (TPACKET_V2) of this many slots instead of `recvmmsg`; give
   * {@link PacketOpenOptions.ringTxFrames} too. 0 or absent for no rings, else at least 2 (rounded up to
   * fill whole pages). Needs TPACKET_V2 (Linux 2.6.31+), and Linux 5.8+ with `vnetHeader`; the open fails with the errno otherwise.
   */
  ringRxFrames?: number
  /** Transmit through a PACKET_MMAP ring of this many slots instead of `sendmmsg`: 0 or absent with `ringRxFrames`, else at least 2. */
  ringTxFrames?: number
  /** Largest frame, Ethernet header included, a ring slot must hold. Default 1518, or 65553 with `vnetHeader`. */
  ringFrameSize?: number
}

/** Counters of a descriptor's PACKET_MMAP rings, from {@link ringStats}. */
export interface RingStats {
  /** Slots of the RX ring. */
  rxSlots: number
  /** Slots of the TX ring. */
  txSlots: number
  /** Bytes per slot (ring header and virtio-net header included). */
  frameSize: number
  /** Frames read out of the RX ring. */
  rxFrames: number
  /** Frames the kernel dropped because the RX ring was full (PACKET_STATISTICS `tp_drops`). */
  rxKernelDrops: number
  /** Frames the kernel took from the TX ring. */
  txFrames: number
  /** Frames offered to {@link writeBurst} but not taken (ring or send buffer full): left with the caller, not lost. */
  txRefused: number
  /** Bursts in which the kernel marked a frame TP_STATUS_WRONG_FORMAT. */
  txWrongFormat: number
  /** `send()` calls that handed a burst to the kernel. */
  txKicks: number
}

/** An opaque handle from {@link watch}. */
export type WatchHandle = { readonly __brand: 'WatchHandle' }

/** The addon's functions. */
export interface NativeBinding {
  /** Open (or attach to) a TAP device; returns its file descriptor. See {@link tapOpen}. */
  tapOpen(name: string, options: TapOpenOptions): number
  /** Open an AF_PACKET socket bound to an interface; returns its file descriptor. See {@link packetOpen}. */
  packetOpen(ifname: string, options: PacketOpenOptions): number
  /** Read up to `max` frames into the slots, with the virtio-net headers into `vnetOut`; returns how many. See {@link readBurst}. */
  readBurst(fd: number, buffers: readonly Uint8Array[], offsets: Int32Array, lengths: Int32Array, max: number, vnetHeader: boolean, vnetOut: Uint8Array): number
  /** Write up to `count` frames from the slots, with the virtio-net headers from `vnetIn`; returns how many went out. See {@link writeBurst}. */
  writeBurst(fd: number, buffers: readonly Uint8Array[], offsets: Int32Array, lengths: Int32Array, count: number, vnetIn: Uint8Array): number
  /** Call `callback` whenever `fd` is readable, on the event loop. See {@link watch}. */
  watch(fd: number, callback: (error?: Error) => void): WatchHandle
  /** Stop a {@link NativeBinding.watch}. */
  unwatch(handle: WatchHandle): void
  /** Close the file descriptor (and unmap its rings). */
  close(fd: number): void
  /** The packet rings' counters, or undefined without rings. */
  ringStats(fd: number): RingStats | undefined
  /** Frames the kernel dropped on a packet socket since it was opened. See {@link kernelDrops}. */
  kernelDrops(fd: number): number
}

/** Errors thrown by this package: `code` is an errno name (`EPERM`, `ENODEV`, ...), `ERR_INVALID_ARG` or `ERR_NATIVE_UNAVAILABLE`. */
export interface NativeError extends Error {
  code: string
  errno?: number
  syscall?: string
}

const packageRoot = fileURLToPath(new URL('..', import.meta.url))
/** The architectures the package ships prebuilt (glibc), and the command that builds from source elsewhere. */
const PREBUILT = ['x64', 'arm64']
const BUILD_HINT = `build it from source (needs python3, make and g++): node ${join(packageRoot, 'scripts', 'install.cjs')} --strict`

let binding: NativeBinding | undefined
let unavailableReason: string | undefined

function load(): void {
  if (process.platform !== 'linux') {
    unavailableReason = `raw packet I/O needs Linux, this is ${process.platform}`
    return
  }
  const require = createRequire(import.meta.url)
  // A build from source (native/build/Release, from scripts/install.cjs) first: it was made for this machine.
  const built = join(packageRoot, 'native', 'build', 'Release', 'dpdk_io_native.node')
  if (existsSync(built)) {
    try {
      binding = require(built) as NativeBinding
      return
    } catch {
      // fall back to the prebuilt addon
    }
  }
  let loadError: unknown
  try {
    // The prebuilt addon for this platform and architecture, prebuilds/linux-<arch>/node.napi.glibc.node.
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeBinding
    binding = nodeGypBuild(packageRoot)
    return
  } catch (err) {
    loadError = err
  }
  const detail = loadError instanceof Error ? loadError.message.split('\n')[0] : String(loadError)
  // The package carries prebuilt addons for linux-x64 and linux-arm64 (glibc); anywhere else the addon must be built here.
  const why = PREBUILT.includes(process.arch)
    ? `its prebuilt linux-${process.arch} addon does not load (${detail})`
    : `no prebuilt addon for linux-${process.arch} (the package has ${PREBUILT.map((arch) => `linux-${arch}`).join(' and ')}, glibc)`
  unavailableReason = `@mtcp/dpdk-io-native: ${why}; ${BUILD_HINT}`
}
load()

/**
 * The value the `'ports'` fanout program (see {@link PacketOpenOptions.fanoutMode}) returns for a TCP
 * segment over IPv4 or IPv6 with ports `portA` and `portB`, in either order: `((portA ^ portB) * 0x9e3779b1 mod
 * 2^32) >> 16`. The kernel hands the segment to member `portsFanoutHash(portA, portB) % members`.
 */
export function portsFanoutHash(portA: number, portB: number): number {
  return Math.imul((portA ^ portB) & 0xffff, 0x9e3779b1) >>> 16
}

/** Whether the native addon loaded. When `false`, {@link nativeUnavailableReason} says why. */
export function nativeAvailable(): boolean {
  return binding !== undefined
}

/** Why the addon is unavailable, or `undefined` when it loaded. */
export function nativeUnavailableReason(): string | undefined {
  return unavailableReason
}

function native(): NativeBinding {
  if (binding) return binding
  const err = new Error(unavailableReason ?? `the @mtcp/dpdk-io-native addon was not built: ${BUILD_HINT}`) as NativeError
  err.code = 'ERR_NATIVE_UNAVAILABLE'
  throw err
}

/**
 * Create a non-persistent TAP device, or attach to an existing one (`ip tuntap add mode tap name X`).
 * The descriptor is non-blocking. Needs CAP_NET_ADMIN unless the TAP belongs to this user.
 * @returns the file descriptor.
 */
export function tapOpen(name: string, options: TapOpenOptions = {}): number {
  return native().tapOpen(name, options)
}

/**
 * Open a non-blocking AF_PACKET socket (SOCK_RAW, ETH_P_ALL) bound to `ifname`, which ignores its own
 * transmissions where the kernel supports it (Linux 4.20+). Needs CAP_NET_RAW. With ring sizes, the
 * socket gets PACKET_MMAP rings: {@link readBurst} walks the RX ring and {@link writeBurst} fills the TX
 * ring and hands it over with one `send()` per burst; both still copy to and from the caller's slots.
 * @returns the file descriptor.
 */
export function packetOpen(ifname: string, options: PacketOpenOptions = {}): number {
  return native().packetOpen(ifname, options)
}

const EMPTY = new Uint8Array(0)

/**
 * Read up to `max` frames, frame `i` into `buffers[i]` at `offsets[i]`, its length into `lengths[i]`.
 * A frame longer than its slot (`buffers[i].byteLength - offsets[i]`) is cut and reported as the
 * negated full length: drop it. With `vnetHeader`, each frame's virtio-net header is stripped and
 * copied to `vnetOut[i * 10 ..]` (pass an empty array to discard them).
 * @returns how many frames were read; 0 when none are waiting.
 */
export function readBurst(
  fd: number,
  buffers: readonly Uint8Array[],
  offsets: Int32Array,
  lengths: Int32Array,
  max: number,
  vnetHeader = false,
  vnetOut: Uint8Array = EMPTY,
): number {
  return native().readBurst(fd, buffers, offsets, lengths, max, vnetHeader, vnetOut)
}

/**
 * Write `count` frames, `buffers[i][offsets[i] .. offsets[i] + lengths[i])`, each after its header
 * `vnetIn[i * 10 ..]` when `vnetIn` is not empty (a descriptor opened with `vnetHeader` and an empty
 * `vnetIn` sends zero headers). Stops at EAGAIN/ENOBUFS, or when a TX ring is full.
 *
 * Headers given for a descriptor opened without `vnetHeader` are applied by the addon: it completes the
 * checksum each one asks for (`NEEDS_CSUM`: sum from `csumStart`, store at `csumStart + csumOffset`, in
 * the frame itself) and sends the frame without a header. Segmentation (`gsoType`) then throws
 * `ERR_INVALID_ARG`.
 * @returns how many of the first frames the kernel took; the caller keeps the rest.
 */
export function writeBurst(
  fd: number,
  buffers: readonly Uint8Array[],
  offsets: Int32Array,
  lengths: Int32Array,
  count: number,
  vnetIn: Uint8Array = EMPTY,
): number {
  return native().writeBurst(fd, buffers, offsets, lengths, count, vnetIn)
}

/**
 * Call `callback` (on the event loop) whenever `fd` is readable, until {@link unwatch}. It is
 * level-triggered: read until {@link readBurst} returns less than asked. If the descriptor fails,
 * `callback` gets an Error once and is not called again.
 */
export function watch(fd: number, callback: (error?: Error) => void): WatchHandle {
  return native().watch(fd, callback)
}

/** Stop a {@link watch}. Idempotent. */
export function unwatch(handle: WatchHandle): void {
  native().unwatch(handle)
}

/** Close a descriptor from {@link tapOpen} or {@link packetOpen}; {@link unwatch} it first. Its rings are unmapped. */
export function close(fd: number): void {
  native().close(fd)
}

/** The ring counters of a descriptor opened with rings, or `undefined` for one without. */
export function ringStats(fd: number): RingStats | undefined {
  return native().ringStats(fd)
}

/**
 * Frames the kernel dropped on a packet socket before they were read (its receive ring or queue was
 * full), since the socket was opened (`PACKET_STATISTICS`, accumulated); 0 for a TAP. One system call.
 */
export function kernelDrops(fd: number): number {
  return native().kernelDrops(fd)
}

// ------------------------------------------------------------------------------------------------
// virtio-net header (struct virtio_net_hdr without num_buffers), in host byte order as TAP and
// AF_PACKET use it for legacy (non-VERSION_1) headers.

/** Bytes of the virtio-net header this package uses. */
export const VNET_HEADER_LENGTH = 10

/** `flags` bits of the virtio-net header. */
export const VnetFlags = {
  /** The checksum at `csumStart + csumOffset` is partial: complete it (sum from `csumStart`). */
  NEEDS_CSUM: 1,
  /** The checksum was verified (rx only). */
  DATA_VALID: 2,
} as const

/** `gsoType` values of the virtio-net header. */
export const VnetGsoType = {
  NONE: 0,
  TCPV4: 1,
  UDP: 3,
  TCPV6: 4,
  /** Flag: ECN set in the super segment. */
  ECN: 0x80,
} as const

/** A decoded virtio-net header. */
export interface VnetHeader {
  flags: number
  gsoType: number
  hdrLen: number
  gsoSize: number
  csumStart: number
  csumOffset: number
}

const littleEndian = endianness() === 'LE'

function checkRoom(target: Uint8Array, offset: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset + VNET_HEADER_LENGTH > target.byteLength) {
    const err = new RangeError(`a virtio-net header needs ${VNET_HEADER_LENGTH} bytes at offset ${offset} of a ${target.byteLength}-byte array`) as RangeError & { code: string }
    err.code = 'ERR_INVALID_ARG'
    throw err
  }
}

/** Write `header` (missing fields are 0) into `target[offset .. offset + 10)`, or into a new array. */
export function encodeVnetHeader(header: Partial<VnetHeader>, target: Uint8Array = new Uint8Array(VNET_HEADER_LENGTH), offset = 0): Uint8Array {
  checkRoom(target, offset)
  const view = new DataView(target.buffer, target.byteOffset + offset, VNET_HEADER_LENGTH)
  view.setUint8(0, header.flags ?? 0)
  view.setUint8(1, header.gsoType ?? 0)
  view.setUint16(2, header.hdrLen ?? 0, littleEndian)
  view.setUint16(4, header.gsoSize ?? 0, littleEndian)
  view.setUint16(6, header.csumStart ?? 0, littleEndian)
  view.setUint16(8, header.csumOffset ?? 0, littleEndian)
  return target
}

/** Read the header at `source[offset .. offset + 10)`. */
export function decodeVnetHeader(source: Uint8Array, offset = 0): VnetHeader {
  checkRoom(source, offset)
  const view = new DataView(source.buffer, source.byteOffset + offset, VNET_HEADER_LENGTH)
  return {
    flags: view.getUint8(0),
    gsoType: view.getUint8(1),
    hdrLen: view.getUint16(2, littleEndian),
    gsoSize: view.getUint16(4, littleEndian),
    csumStart: view.getUint16(6, littleEndian),
    csumOffset: view.getUint16(8, littleEndian),
  }
}
