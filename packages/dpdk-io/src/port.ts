/**
 * The port interface every backend implements: burst receive and transmit, link information,
 * offload capabilities, statistics, readiness notification and capture.
 * @module
 */
import type { BufferPool, PacketBuffer } from './buffer-pool.js'
import type { Clock, Micros } from './clock.js'

/** Static facts about a port's link. */
export interface LinkInfo {
  /** A human-readable name (`memory0.a`, `tap0`, `veth1`). */
  readonly name: string
  /** IP MTU in bytes (the Ethernet payload limit). */
  readonly mtu: number
  /** The port's MAC address (6 bytes). */
  readonly mac: Uint8Array
  /** Largest frame accepted on transmit without segmentation offload: `mtu + 14`. */
  readonly maxFrameSize: number
  /** Nominal speed in bit/s, or `undefined` when unlimited or unknown. */
  readonly speed: number | undefined
}

/** What a port can do in hardware (or in its emulation of hardware). */
export interface OffloadCapabilities {
  /**
   * Transmit checksums the port computes when a buffer asks (`OffloadFlags.TX_*_CHECKSUM`): `ipv4` the
   * IPv4 header checksum; `tcp` and `udp` over IPv4; `tcp6` TCP over IPv6 (the pseudo-header of RFC 8200
   * §8.1 in the checksum field). A port that completes TCP checksums over IPv4 only says `tcp6: false`,
   * and the stack computes IPv6 ones itself.
   */
  readonly txChecksum: { readonly ipv4: boolean; readonly tcp: boolean; readonly udp: boolean; readonly tcp6: boolean }
  /** Whether received buffers carry `OffloadFlags.RX_*` checksum verdicts. */
  readonly rxChecksum: boolean
  /** TCP segmentation offload: super segments up to `maxSize` bytes, cut by the port; `tcp4` over IPv4, `tcp6` over IPv6. */
  readonly segmentation: { readonly tcp4: boolean; readonly tcp6: boolean; readonly maxSize: number }
  /** Whether received frames may exceed the MTU (coalesced by the port, as GRO/LRO). */
  readonly largeReceive: boolean
}

/** Reasons a frame is dropped, each with its own counter in {@link PortStats.drops}. */
export type DropReason =
  /** Larger than the port accepts on transmit. */
  | 'oversize'
  /** Shorter than an Ethernet header (14 bytes) on transmit. */
  | 'runt'
  /** The link's queue was full (drop-tail). */
  | 'queueFull'
  /** Lost on the link: random loss. */
  | 'randomLoss'
  /** Lost on the link: bursty loss (Gilbert–Elliott). */
  | 'burstLoss'
  /** The link was down. */
  | 'linkDown'
  /** Dropped by the kernel before the port read it: a packet socket's full receive ring or queue (Linux backends). */
  | 'kernel'
  /** No buffer was available to receive into. */
  | 'noBuffer'
  /** The device reported a receive or transmit error, or a frame it could not hand over whole (DPDK's `ierrors`, `oerrors`). */
  | 'deviceError'

/** All drop reasons, in a stable order. */
export const DROP_REASONS: readonly DropReason[] = ['oversize', 'runt', 'queueFull', 'randomLoss', 'burstLoss', 'linkDown', 'noBuffer']

/** Counters of one port. Plain numbers, updated in place; read them at any time. */
export interface PortStats {
  rxPackets: number
  rxBytes: number
  txPackets: number
  txBytes: number
  /** Frames dropped, by reason. A frame counted here was freed. */
  readonly drops: Record<DropReason, number>
}

/** A zeroed {@link PortStats}. */
export function createPortStats(): PortStats {
  return {
    rxPackets: 0,
    rxBytes: 0,
    txPackets: 0,
    txBytes: 0,
    drops: { oversize: 0, runt: 0, queueFull: 0, randomLoss: 0, burstLoss: 0, linkDown: 0, noBuffer: 0, kernel: 0, deviceError: 0 },
  }
}

/** Direction of a captured frame relative to the port. */
export type CaptureDirection = 'rx' | 'tx'

/** Something that records frames, such as a {@link PcapWriter}. */
export interface CaptureSink {
  /** Record one frame seen at `at` µs. The bytes are only valid during the call: copy what you keep. */
  record(frame: Uint8Array, offset: number, length: number, at: Micros, direction: CaptureDirection): void
}

/**
 * A network port with a DPDK-style burst API.
 *
 * Ownership: `rxBurst` hands the caller buffers it must later free (or transmit); `txBurst` takes
 * ownership of the first `sent` buffers and leaves the rest with the caller.
 */
export interface Port {
  readonly link: LinkInfo
  readonly offloads: OffloadCapabilities
  readonly stats: PortStats
  /** The clock the port keeps time with; drivers should use the same one. */
  readonly clock: Clock
  /**
   * The pool whose buffers the port transmits without a copy (a DPDK port's mbufs), when it has one: a
   * stack allocates its transmit buffers here. Ports that take any buffer leave it `undefined`.
   */
  readonly devicePool?: BufferPool | undefined
  /**
   * Receive up to `max` frames into `bufs[0 .. n)`.
   * @returns `n`, possibly 0.
   */
  rxBurst(bufs: PacketBuffer[], max: number): number
  /**
   * Transmit `bufs[0 .. count)`. Frames the port drops (oversize, queue full with drop-tail, …) count as
   * sent and as drops; frames it cannot take now (backpressure) are not sent.
   * @returns how many of the first buffers the port took; the caller keeps `bufs[sent .. count)`.
   */
  txBurst(bufs: PacketBuffer[], count: number): number
  /**
   * Call `listener` when `rxBurst` may return frames: once per arrival edge, and again after an
   * `rxBurst` that left deliverable frames behind. Pass `undefined` to stop. Not called in busy-poll mode.
   */
  onReadable(listener: (() => void) | undefined): void
  /** Call `listener` when a port that refused frames (backpressure) can take more. Not called in busy-poll mode. */
  onWritable(listener: (() => void) | undefined): void
  /**
   * Busy-poll mode: the driver spins on `rxBurst` and the port arms no wake-ups.
   * Default `false` (the driver sleeps until a listener is called).
   */
  busyPoll: boolean
  /** Record every received and transmitted frame into `sink`, or stop with `undefined`. */
  capture(sink: CaptureSink | undefined): void
  /** Release the port's resources. Frames in flight are freed. Idempotent. */
  close(): void
}
