/**
 * Frames in flight on an emulated link, ordered by delivery time.
 *
 * Most frames arrive in the order they were sent, so they go into a FIFO ring (O(1)); a frame due
 * before the ring's tail (reordering) goes into a binary heap instead. Pops take the earlier of the
 * two heads; equal times keep insertion order. Storage grows by doubling and is reused.
 * @module
 */
import type { PacketBuffer } from '../buffer-pool.js'
import type { Micros } from '../clock.js'

/** @internal */
export class TimedQueue {
  // FIFO ring
  #ringBufs: (PacketBuffer | undefined)[] = new Array(256)
  #ringTimes = new Float64Array(256)
  #ringSeqs = new Float64Array(256)
  #ringHead = 0
  #ringSize = 0
  #ringMask = 255
  // Out-of-order heap
  #heapBufs: (PacketBuffer | undefined)[] = []
  #heapTimes: number[] = []
  #heapSeqs: number[] = []
  #seq = 0

  get size(): number {
    return this.#ringSize + this.#heapBufs.length
  }

  /** Delivery time of the next frame, or +Infinity when empty. */
  headTime(): Micros {
    const ringTime = this.#ringSize > 0 ? this.#ringTimes[this.#ringHead]! : Number.POSITIVE_INFINITY
    const heapTime = this.#heapBufs.length > 0 ? this.#heapTimes[0]! : Number.POSITIVE_INFINITY
    return ringTime < heapTime ? ringTime : heapTime
  }

  push(buffer: PacketBuffer, at: Micros): void {
    const seq = this.#seq++
    if (this.#ringSize === 0 || at >= this.#ringTimes[(this.#ringHead + this.#ringSize - 1) & this.#ringMask]!) {
      if (this.#ringSize === this.#ringMask + 1) this.#growRing()
      const index = (this.#ringHead + this.#ringSize) & this.#ringMask
      this.#ringBufs[index] = buffer
      this.#ringTimes[index] = at
      this.#ringSeqs[index] = seq
      this.#ringSize++
    } else {
      this.#heapPush(buffer, at, seq)
    }
  }

  /** Remove and return the next frame if it is due at or before `now`. */
  popDue(now: Micros): PacketBuffer | undefined {
    const hasRing = this.#ringSize > 0
    const hasHeap = this.#heapBufs.length > 0
    if (hasRing && hasHeap) {
      const ringTime = this.#ringTimes[this.#ringHead]!
      const heapTime = this.#heapTimes[0]!
      const ringFirst = ringTime < heapTime || (ringTime === heapTime && this.#ringSeqs[this.#ringHead]! < this.#heapSeqs[0]!)
      if (ringFirst) return ringTime <= now ? this.#ringShift() : undefined
      return heapTime <= now ? this.#heapPop() : undefined
    }
    if (hasRing) return this.#ringTimes[this.#ringHead]! <= now ? this.#ringShift() : undefined
    if (hasHeap) return this.#heapTimes[0]! <= now ? this.#heapPop() : undefined
    return undefined
  }

  /** Remove every frame, passing each to `drop`. */
  clear(drop: (buffer: PacketBuffer) => void): void {
    for (let buffer = this.popDue(Number.POSITIVE_INFINITY); buffer !== undefined; buffer = this.popDue(Number.POSITIVE_INFINITY)) {
      drop(buffer)
    }
  }

  #ringShift(): PacketBuffer {
    const index = this.#ringHead
    const buffer = this.#ringBufs[index]!
    this.#ringBufs[index] = undefined
    this.#ringHead = (index + 1) & this.#ringMask
    this.#ringSize--
    return buffer
  }

  #growRing(): void {
    const capacity = (this.#ringMask + 1) * 2
    const bufs: (PacketBuffer | undefined)[] = new Array(capacity)
    const times = new Float64Array(capacity)
    const seqs = new Float64Array(capacity)
    for (let i = 0; i < this.#ringSize; i++) {
      const from = (this.#ringHead + i) & this.#ringMask
      bufs[i] = this.#ringBufs[from]
      times[i] = this.#ringTimes[from]!
      seqs[i] = this.#ringSeqs[from]!
    }
    this.#ringBufs = bufs
    this.#ringTimes = times
    this.#ringSeqs = seqs
    this.#ringHead = 0
    this.#ringMask = capacity - 1
  }

  #heapBefore(i: number, j: number): boolean {
    const ti = this.#heapTimes[i]!
    const tj = this.#heapTimes[j]!
    return ti < tj || (ti === tj && this.#heapSeqs[i]! < this.#heapSeqs[j]!)
  }

  #heapSwap(i: number, j: number): void {
    const b = this.#heapBufs[i]
    this.#heapBufs[i] = this.#heapBufs[j]
    this.#heapBufs[j] = b
    const t = this.#heapTimes[i]!
    this.#heapTimes[i] = this.#heapTimes[j]!
    this.#heapTimes[j] = t
    const s = this.#heapSeqs[i]!
    this.#heapSeqs[i] = this.#heapSeqs[j]!
    this.#heapSeqs[j] = s
  }

  #heapPush(buffer: PacketBuffer, at: Micros, seq: number): void {
    let index = this.#heapBufs.length
    this.#heapBufs.push(buffer)
    this.#heapTimes.push(at)
    this.#heapSeqs.push(seq)
    while (index > 0) {
      const parent = (index - 1) >> 1
      if (!this.#heapBefore(index, parent)) break
      this.#heapSwap(index, parent)
      index = parent
    }
  }

  #heapPop(): PacketBuffer {
    const top = this.#heapBufs[0]!
    const last = this.#heapBufs.length - 1
    this.#heapSwap(0, last)
    this.#heapBufs.pop()
    this.#heapTimes.pop()
    this.#heapSeqs.pop()
    let index = 0
    for (;;) {
      const left = 2 * index + 1
      if (left >= last) break
      let child = left
      if (left + 1 < last && this.#heapBefore(left + 1, left)) child = left + 1
      if (!this.#heapBefore(child, index)) break
      this.#heapSwap(index, child)
      index = child
    }
    return top
  }
}
