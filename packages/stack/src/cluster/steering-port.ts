/**
 * A port that also delivers frames other workers forwarded (software steering): everything else goes
 * straight to the wrapped port. Used on the kernel backends where the flow spreading cannot be predicted
 * (the tun driver; AF_PACKET in `'hash'` fanout mode, whose `PACKET_FANOUT_HASH` is keyed by a boot-time
 * random secret): a segment of a connection this worker opened may reach another worker, which forwards
 * it here. In `'ports'` mode it only serves segments that reach another worker after the fanout members
 * were renumbered (see docs/decisions/0009-workers.md).
 * @module
 */
import { BufferPool, type CaptureSink, type PacketBuffer, type Port } from '@mtcp/dpdk-io'

/** Most forwarded frames held before more are dropped (the sender retransmits). */
const INJECTED_LIMIT = 4096

/** A {@link Port} over another, plus {@link inject}. */
export class SteeringPort implements Port {
  readonly #inner: Port
  readonly #pool: BufferPool
  readonly #injected: PacketBuffer[] = []
  #head = 0
  #readable: (() => void) | undefined = undefined
  #wakePending = false
  /** Forwarded frames dropped because the queue or the pool was full. */
  injectDrops = 0

  constructor(inner: Port) {
    this.#inner = inner
    // Frames up to 64 KB arrive with receive offload (GRO) on the Linux backends.
    const dataRoom = inner.offloads.largeReceive ? 65_536 + 256 : Math.max(2048, inner.link.maxFrameSize + 64)
    this.#pool = new BufferPool({ count: 512, dataRoom })
  }

  get link() {
    return this.#inner.link
  }
  get offloads() {
    return this.#inner.offloads
  }
  get stats() {
    return this.#inner.stats
  }
  get clock() {
    return this.#inner.clock
  }
  /** The wrapped port's device memory (DPDK mbufs): the stack allocates there, so transmit needs no copy. */
  get devicePool(): BufferPool | undefined {
    return this.#inner.devicePool
  }
  get busyPoll(): boolean {
    return this.#inner.busyPoll
  }
  set busyPoll(on: boolean) {
    this.#inner.busyPoll = on
  }

  /** Deliver a copy of `bytes` (a whole frame) with receive `flags` on the next `rxBurst`. @returns false when dropped. */
  inject(bytes: Uint8Array, flags: number): boolean {
    if (this.#injected.length - this.#head >= INJECTED_LIMIT) {
      this.injectDrops++
      return false
    }
    const buffer = this.#pool.alloc()
    if (buffer === undefined || bytes.byteLength > buffer.data.byteLength - buffer.offset) {
      buffer?.release()
      this.injectDrops++
      return false
    }
    buffer.data.set(bytes, buffer.offset)
    buffer.length = bytes.byteLength
    buffer.offloadFlags = flags
    this.#injected.push(buffer)
    if (!this.#wakePending && this.#readable !== undefined) {
      this.#wakePending = true
      setImmediate(() => {
        this.#wakePending = false
        this.#readable?.()
      })
    }
    return true
  }

  rxBurst(bufs: PacketBuffer[], max: number): number {
    let n = 0
    const injected = this.#injected
    while (n < max && this.#head < injected.length) bufs[n++] = injected[this.#head++]!
    if (this.#head === injected.length) {
      injected.length = 0
      this.#head = 0
    }
    if (n === max) return n
    // The wrapped port fills from index 0: give it a scratch view of the rest.
    if (n === 0) return this.#inner.rxBurst(bufs, max)
    const rest = this.#scratch
    const got = this.#inner.rxBurst(rest, max - n)
    for (let i = 0; i < got; i++) bufs[n + i] = rest[i]!
    return n + got
  }

  readonly #scratch: PacketBuffer[] = []

  txBurst(bufs: PacketBuffer[], count: number): number {
    return this.#inner.txBurst(bufs, count)
  }

  onReadable(listener: (() => void) | undefined): void {
    this.#readable = listener
    this.#inner.onReadable(listener)
  }

  onWritable(listener: (() => void) | undefined): void {
    this.#inner.onWritable(listener)
  }

  capture(sink: CaptureSink | undefined): void {
    this.#inner.capture(sink)
  }

  close(): void {
    for (let i = this.#head; i < this.#injected.length; i++) this.#injected[i]!.release()
    this.#injected.length = 0
    this.#head = 0
    this.#readable = undefined
    this.#inner.close()
  }
}
