/**
 * A pcap writer: the classic libpcap file format with the Ethernet link type, readable by tcpdump,
 * tshark and Wireshark. Any {@link Port} can feed it through `port.capture(writer)`, both directions
 * into one file.
 * @module
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import type { Micros } from './clock.js'
import { checkInteger, DpdkIoError } from './errors.js'
import type { CaptureDirection, CaptureSink } from './port.js'

/** `LINKTYPE_ETHERNET`. */
const LINKTYPE_ETHERNET = 1
const MAGIC_MICROS = 0xa1b2c3d4
const MAGIC_NANOS = 0xa1b23c4d
const FILE_HEADER = 24
const RECORD_HEADER = 16

/** Options of a {@link PcapWriter}. */
export interface PcapWriterOptions {
  /** Bytes kept of each frame, in [64, 262144]. Default 262144, enough for 64 KB super segments. */
  snapLength?: number
  /** Nanosecond timestamps (magic `0xa1b23c4d`) instead of microseconds. Default false. */
  nanosecond?: boolean
  /** µs added to every timestamp to make it wall-clock time. Default `performance.timeOrigin` in µs, right for the real clock. */
  timeOrigin?: Micros
  /** Which directions to record. Default both. */
  directions?: 'both' | CaptureDirection
  /** Size of the write buffer in bytes. Default 1 MiB. */
  bufferSize?: number
}

/** Counters of a {@link PcapWriter}. */
export interface PcapWriterStats {
  /** Frames recorded. */
  frames: number
  /** Frames cut to the snap length. */
  truncated: number
}

/**
 * Writes frames in libpcap format to a file or any byte sink.
 *
 * @example
 * ```ts
 * const pcap = PcapWriter.open('trace.pcap')
 * port.capture(pcap)
 * // … traffic …
 * pcap.close() // then: tshark -r trace.pcap
 * ```
 */
export class PcapWriter implements CaptureSink {
  readonly stats: PcapWriterStats = { frames: 0, truncated: 0 }
  readonly #sink: (chunk: Uint8Array) => void
  readonly #onClose: (() => void) | undefined
  readonly #snapLength: number
  readonly #nanosecond: boolean
  /** The time origin split into whole seconds and µs, so adding `at` keeps sub-µs precision. */
  readonly #originSeconds: number
  readonly #originMicros: Micros
  readonly #directions: 'both' | CaptureDirection
  readonly #buffer: Uint8Array
  readonly #view: DataView
  #used = 0
  #closed = false

  /**
   * @param sink - receives the file's bytes in order; each chunk is only valid during the call.
   * @param onClose - called once by {@link close} after the last flush.
   */
  constructor(sink: (chunk: Uint8Array) => void, options: PcapWriterOptions = {}, onClose?: () => void) {
    this.#sink = sink
    this.#onClose = onClose
    this.#snapLength = checkInteger('snapLength', options.snapLength ?? 262_144, 64, 262_144)
    this.#nanosecond = options.nanosecond ?? false
    const origin = options.timeOrigin ?? performance.timeOrigin * 1000
    this.#originSeconds = Math.floor(origin / 1e6)
    this.#originMicros = origin - this.#originSeconds * 1e6
    this.#directions = options.directions ?? 'both'
    const bufferSize = checkInteger('bufferSize', options.bufferSize ?? 1 << 20, 4096, 1 << 30)
    this.#buffer = new Uint8Array(bufferSize)
    this.#view = new DataView(this.#buffer.buffer)
    const v = this.#view
    v.setUint32(0, this.#nanosecond ? MAGIC_NANOS : MAGIC_MICROS, true)
    v.setUint16(4, 2, true) // version 2.4
    v.setUint16(6, 4, true)
    v.setInt32(8, 0, true) // thiszone
    v.setUint32(12, 0, true) // sigfigs
    v.setUint32(16, this.#snapLength, true)
    v.setUint32(20, LINKTYPE_ETHERNET, true)
    this.#used = FILE_HEADER
  }

  /** Open (create or truncate) a pcap file. Throws `ERR_IO` naming the path when it cannot be opened. */
  static open(path: string, options: PcapWriterOptions = {}): PcapWriter {
    let fd: number
    try {
      fd = openSync(path, 'w')
    } catch (error) {
      throw new DpdkIoError('ERR_IO', `cannot open pcap file ${path}: ${(error as Error).message}`, { cause: error })
    }
    return new PcapWriter(
      (chunk) => {
        let written = 0
        while (written < chunk.byteLength) written += writeSync(fd, chunk, written)
      },
      options,
      () => closeSync(fd),
    )
  }

  /** Record `data[offset .. offset + length)` seen at `at` µs (the {@link CaptureSink} contract). */
  record(data: Uint8Array, offset: number, length: number, at: Micros, direction: CaptureDirection): void {
    if (this.#closed) return
    if (this.#directions !== 'both' && this.#directions !== direction) return
    const captured = length < this.#snapLength ? length : this.#snapLength
    if (captured < length) this.stats.truncated++
    if (this.#used + RECORD_HEADER + captured > this.#buffer.byteLength) this.flush()
    const micros = this.#originMicros + at
    const wholeSeconds = Math.floor(micros / 1e6)
    const seconds = this.#originSeconds + wholeSeconds
    const rest = micros - wholeSeconds * 1e6
    const fraction = this.#nanosecond ? Math.floor(rest * 1000) : Math.floor(rest)
    const v = this.#view
    const at0 = this.#used
    v.setUint32(at0, seconds >>> 0, true)
    v.setUint32(at0 + 4, fraction, true)
    v.setUint32(at0 + 8, captured, true)
    v.setUint32(at0 + 12, length, true)
    this.#used += RECORD_HEADER
    if (RECORD_HEADER + captured > this.#buffer.byteLength) {
      this.flush()
      this.#sink(data.subarray(offset, offset + captured))
    } else {
      this.#buffer.set(data.subarray(offset, offset + captured), this.#used)
      this.#used += captured
    }
    this.stats.frames++
  }

  /** Record a whole frame (a convenience over {@link record}). */
  write(frame: Uint8Array, at: Micros, direction: CaptureDirection = 'tx'): void {
    this.record(frame, 0, frame.byteLength, at, direction)
  }

  /** Hand buffered bytes to the sink. */
  flush(): void {
    if (this.#used === 0) return
    this.#sink(this.#buffer.subarray(0, this.#used))
    this.#used = 0
  }

  /** Flush and close; later records are ignored. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.flush()
    this.#closed = true
    this.#onClose?.()
  }
}
