/**
 * A single-producer single-consumer ring of frames in a `SharedArrayBuffer`, for moving frames between
 * threads without a message per frame, and a doorbell to wake the consumer's event loop.
 *
 * Layout: 64 bytes of control words, then `capacity` bytes of records. A record is an 8-byte header
 * (frame length, then flags) and the frame, padded to 8 bytes; a record never wraps: when it does not
 * fit before the end, a skip marker (length -1) sends the consumer back to the start. Positions grow
 * without bound (modulo 2^32) and are masked into the ring, so `write - read` is the bytes in use.
 * The producer writes a record, then publishes it with `Atomics.store` of the write position (the
 * JavaScript memory model makes the frame bytes visible to a consumer that `Atomics.load`s it).
 * @module
 */

const CONTROL_BYTES = 64
const WRITE = 0
const READ = 1
/** The producer found the ring full and waits on {@link SPACE_BELL}. */
const PRODUCER_WAITING = 2
const SPACE_BELL = 3
const HEADER = 8
const SKIP = -1

/** `Atomics.waitAsync` (Node 16+; typed here because the project's lib is ES2023). */
const waitAsync = (Atomics as unknown as {
  waitAsync(array: Int32Array, index: number, value: number): { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> }
}).waitAsync

/** Most bytes a ring may hold: 1 GiB. */
export const MAX_RING_BYTES = 1 << 30

/** Create the shared memory of a ring of `capacity` bytes (a power of two, at least 4096). */
export function createRingBuffer(capacity: number): SharedArrayBuffer {
  if (!Number.isInteger(capacity) || capacity < 4096 || capacity > MAX_RING_BYTES || (capacity & (capacity - 1)) !== 0) {
    throw new RangeError(`ring capacity must be a power of two in [4096, ${MAX_RING_BYTES}] bytes, got ${String(capacity)}`)
  }
  return new SharedArrayBuffer(CONTROL_BYTES + capacity)
}

/** The shared memory of a {@link Doorbell}: two int32 words (sleeping, bell). */
export function createDoorbellBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(8)
}

function align8(n: number): number {
  return (n + 7) & ~7
}

/** Largest frame a ring of `capacity` bytes accepts: half of it, less a header. */
export function largestFrame(capacity: number): number {
  return capacity / 2 - HEADER
}

/**
 * Wakes one consumer thread. The consumer says it is going to sleep ({@link Doorbell.sleep}); a producer
 * that then publishes something rings once ({@link Doorbell.ring}); the consumer's callback runs on its
 * own event loop, through `Atomics.waitAsync`.
 */
export class Doorbell {
  readonly #cell: Int32Array
  #waiting = false
  #closed = false
  #generation = 0

  constructor(buffer: SharedArrayBuffer) {
    this.#cell = new Int32Array(buffer, 0, 2)
  }

  /** Producer side: wake the consumer if it sleeps. Cheap when it does not (one atomic compare). */
  ring(): void {
    const cell = this.#cell
    // Only the producer that turns "sleeping" off rings: one notification per sleep.
    if (Atomics.load(cell, 0) !== 0 && Atomics.compareExchange(cell, 0, 1, 0) === 1) {
      Atomics.add(cell, 1, 1)
      Atomics.notify(cell, 1)
    }
  }

  /**
   * Consumer side: call `wake` once, on this thread, after a producer rings, or at once (in a later turn)
   * when `isEmpty()` already says there is work. At most one sleep is pending; a second call is ignored.
   */
  sleep(isEmpty: () => boolean, wake: () => void): void {
    if (this.#waiting || this.#closed) return
    const cell = this.#cell
    const seen = Atomics.load(cell, 1)
    Atomics.store(cell, 0, 1)
    const generation = this.#generation
    const fire = (): void => {
      this.#waiting = false
      if (this.#closed || generation !== this.#generation) return
      wake()
    }
    this.#waiting = true
    // Checked after announcing the sleep: a frame published before this point is seen here, one after it rings.
    if (!isEmpty()) {
      Atomics.store(cell, 0, 0)
      setImmediate(fire)
      return
    }
    const result = waitAsync(cell, 1, seen)
    if (!result.async) {
      setImmediate(fire)
      return
    }
    void result.value.then(fire)
  }

  /** Forget a pending sleep (its callback will not run) and refuse new ones; wakes the pending wait so it holds nothing. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#generation++
    Atomics.add(this.#cell, 1, 1)
    Atomics.notify(this.#cell, 1)
  }
}

/** The writing end of a ring. One thread only. */
export class RingProducer {
  readonly capacity: number
  readonly #control: Int32Array
  readonly #bytes: Uint8Array
  readonly #words: Int32Array
  readonly #mask: number
  readonly #consumer: Doorbell
  #write: number
  /** The consumer's position when last read (it only grows, so room is at least what this says). */
  #read: number
  #spaceWaiting = false

  /** @param consumer - the doorbell of the thread that reads this ring. */
  constructor(buffer: SharedArrayBuffer, consumer: Doorbell) {
    this.capacity = buffer.byteLength - CONTROL_BYTES
    this.#control = new Int32Array(buffer, 0, CONTROL_BYTES / 4)
    this.#bytes = new Uint8Array(buffer, CONTROL_BYTES, this.capacity)
    this.#words = new Int32Array(buffer, CONTROL_BYTES, this.capacity / 4)
    this.#mask = this.capacity - 1
    this.#consumer = consumer
    this.#write = Atomics.load(this.#control, WRITE)
    this.#read = Atomics.load(this.#control, READ)
  }

  /** Largest frame {@link push} accepts. */
  get maxFrame(): number {
    return largestFrame(this.capacity)
  }

  /** Bytes in use (records not yet consumed). */
  get used(): number {
    return (this.#write - Atomics.load(this.#control, READ)) >>> 0
  }

  /**
   * Copy a frame in without publishing it (call {@link publish} after a batch).
   * @returns false when the ring has no room now (or the frame exceeds {@link maxFrame}).
   */
  write(data: Uint8Array, offset: number, length: number, flags: number): boolean {
    const need = HEADER + align8(length)
    if (length > this.maxFrame) return false
    let position = this.#write & this.#mask
    const tillEnd = this.capacity - position
    const total = tillEnd < need ? tillEnd + need : need
    // The consumer's position is read again only when the cached one says there is no room.
    if (this.capacity - ((this.#write - this.#read) >>> 0) < total) {
      this.#read = Atomics.load(this.#control, READ)
      if (this.capacity - ((this.#write - this.#read) >>> 0) < total) return false
    }
    if (tillEnd < need) {
      this.#words[position >>> 2] = SKIP
      this.#write = (this.#write + tillEnd) >>> 0
      position = 0
    }
    this.#words[position >>> 2] = length
    this.#words[(position >>> 2) + 1] = flags
    this.#bytes.set(data.subarray(offset, offset + length), position + HEADER)
    this.#write = (this.#write + need) >>> 0
    return true
  }

  /** Make the frames written so far visible to the consumer, and wake it if it sleeps. */
  publish(): void {
    if (Atomics.load(this.#control, WRITE) === (this.#write | 0)) return
    Atomics.store(this.#control, WRITE, this.#write)
    this.#consumer.ring()
  }

  /** Call `callback` once, on this thread, when the consumer has freed room. */
  waitForSpace(callback: () => void): void {
    if (this.#spaceWaiting) return
    const control = this.#control
    const seen = Atomics.load(control, SPACE_BELL)
    Atomics.store(control, PRODUCER_WAITING, 1)
    this.#spaceWaiting = true
    const fire = (): void => {
      this.#spaceWaiting = false
      callback()
    }
    if (((this.#write - Atomics.load(control, READ)) >>> 0) < this.capacity / 2) {
      Atomics.store(control, PRODUCER_WAITING, 0)
      setImmediate(fire)
      return
    }
    const result = waitAsync(control, SPACE_BELL, seen)
    if (!result.async) setImmediate(fire)
    else void result.value.then(fire)
  }

  /** Release a pending {@link waitForSpace} (it fires). */
  wakeSpaceWaiter(): void {
    Atomics.add(this.#control, SPACE_BELL, 1)
    Atomics.notify(this.#control, SPACE_BELL)
  }
}

/** The reading end of a ring. One thread only. */
export class RingConsumer {
  readonly capacity: number
  readonly #control: Int32Array
  readonly #bytes: Uint8Array
  readonly #words: Int32Array
  readonly #mask: number
  #read: number
  /** The producer's position when last read (as an int32). */
  #published: number
  /** Flags of the last frame {@link read} returned. */
  flags = 0

  constructor(buffer: SharedArrayBuffer) {
    this.capacity = buffer.byteLength - CONTROL_BYTES
    this.#control = new Int32Array(buffer, 0, CONTROL_BYTES / 4)
    this.#bytes = new Uint8Array(buffer, CONTROL_BYTES, this.capacity)
    this.#words = new Int32Array(buffer, CONTROL_BYTES, this.capacity / 4)
    this.#mask = this.capacity - 1
    this.#read = Atomics.load(this.#control, READ)
    this.#published = Atomics.load(this.#control, WRITE)
  }

  /** Whether no published frame is waiting. */
  isEmpty(): boolean {
    // The producer's position is read again only once everything seen before has been consumed.
    if (this.#published !== (this.#read | 0)) return false
    this.#published = Atomics.load(this.#control, WRITE)
    return this.#published === (this.#read | 0)
  }

  /** Length of the next frame, or -1 when none is published. */
  peekLength(): number {
    if (this.isEmpty()) return -1
    let position = this.#read & this.#mask
    let length = this.#words[position >>> 2]!
    if (length === SKIP) {
      position = 0
      length = this.#words[0]!
    }
    return length
  }

  /**
   * Copy the next frame into `into[at ..]` (which must have room for {@link peekLength} bytes) and set
   * {@link flags}. Does not free the room (call {@link release} after a batch).
   * @returns its length, or -1 when none is published.
   */
  read(into: Uint8Array, at: number): number {
    if (this.isEmpty()) return -1
    const position = this.#passWrap()
    const length = this.#words[position >>> 2]!
    this.flags = this.#words[(position >>> 2) + 1]!
    const start = position + HEADER
    into.set(this.#bytes.subarray(start, start + length), at)
    this.#read = (this.#read + HEADER + align8(length)) >>> 0
    return length
  }

  /** The ring position of the next frame, past the wrap marker at the end of the ring if it stands there. */
  #passWrap(): number {
    const position = this.#read & this.#mask
    if (this.#words[position >>> 2] !== SKIP) return position
    this.#read = (this.#read + (this.capacity - position)) >>> 0
    return 0
  }

  /** Skip the next frame (one the caller cannot take). @returns false when none is published. */
  skip(): boolean {
    if (this.isEmpty()) return false
    const length = this.#words[this.#passWrap() >>> 2]!
    this.#read = (this.#read + HEADER + align8(length)) >>> 0
    return true
  }

  /** Give the room of the frames read so far back to the producer, waking it if it waits for room. */
  release(): void {
    const control = this.#control
    if (Atomics.load(control, READ) === (this.#read | 0)) return
    Atomics.store(control, READ, this.#read)
    if (Atomics.load(control, PRODUCER_WAITING) !== 0 && Atomics.compareExchange(control, PRODUCER_WAITING, 1, 0) === 1) {
      Atomics.add(control, SPACE_BELL, 1)
      Atomics.notify(control, SPACE_BELL)
    }
  }
}
