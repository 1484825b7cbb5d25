/**
 * Clocks for packet I/O: the real monotonic clock and a virtual clock that only moves when told.
 *
 * Time is a `number` of microseconds ({@link Micros}); fractions are allowed, because serialising a
 * 1514-byte frame at 10 Gbit/s takes 1.2 µs and rounding would make emulated rates drift.
 * @module
 */

import type { Micros } from '@mtcp/primitives'

export type { Micros }

/** A reusable one-shot timer owned by a {@link Clock}. Arming it again moves it; nothing is allocated per arm on a virtual clock. */
export interface Timer {
  /** Fire the callback once, at or after `at` (µs on the owning clock). Re-arming replaces the earlier time. */
  arm(at: Micros): void
  /** Disarm; a no-op when not armed. */
  cancel(): void
  /** Whether the timer will fire. */
  readonly armed: boolean
  /** The time it will fire at, or `undefined` when not armed. */
  readonly at: Micros | undefined
}

/** The source of time and timers for ports and drivers. */
export interface Clock {
  /** Current time in µs. */
  now(): Micros
  /** A timer that calls `callback` each time it fires. */
  createTimer(callback: () => void): Timer
  /** `'real'` for wall-clock time, `'virtual'` for a clock that advances only when told. */
  readonly kind: 'real' | 'virtual'
}

/** The monotonic wall clock (`performance.now()`), with timers on the Node event loop. */
export class RealClock implements Clock {
  readonly kind = 'real' as const
  now(): Micros {
    return performance.now() * 1000
  }
  createTimer(callback: () => void): Timer {
    return new RealTimer(this, callback)
  }
}

/** Delays shorter than this are waited for with `setImmediate` turns instead of `setTimeout` (whose granularity is 1 ms). */
const IMMEDIATE_BELOW_US = 1000

class RealTimer implements Timer {
  #at: Micros | undefined = undefined
  #timeout: NodeJS.Timeout | undefined = undefined
  #immediate: NodeJS.Immediate | undefined = undefined
  readonly #fire = (): void => {
    this.#timeout = undefined
    this.#immediate = undefined
    const at = this.#at
    if (at === undefined) return
    if (this.clock.now() < at) {
      this.#schedule(at)
      return
    }
    this.#at = undefined
    this.callback()
  }
  constructor(
    private readonly clock: RealClock,
    private readonly callback: () => void,
  ) {}
  get armed(): boolean {
    return this.#at !== undefined
  }
  get at(): Micros | undefined {
    return this.#at
  }
  arm(at: Micros): void {
    this.#clear()
    this.#at = at
    this.#schedule(at)
  }
  cancel(): void {
    this.#clear()
    this.#at = undefined
  }
  #schedule(at: Micros): void {
    const wait = at - this.clock.now()
    if (wait < IMMEDIATE_BELOW_US) this.#immediate = setImmediate(this.#fire)
    else this.#timeout = setTimeout(this.#fire, Math.floor(wait / 1000))
  }
  #clear(): void {
    if (this.#timeout !== undefined) clearTimeout(this.#timeout)
    if (this.#immediate !== undefined) clearImmediate(this.#immediate)
    this.#timeout = undefined
    this.#immediate = undefined
  }
}

/** The shared real clock. */
export const realClock: Clock = new RealClock()

/**
 * A clock that advances only when told, so a long transfer can be simulated faster than real time
 * and every run with the same inputs produces the same timeline.
 *
 * Timers fire in time order; timers due at the same instant fire in the order they were armed.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock()
 * const timer = clock.createTimer(() => console.log('fired at', clock.now()))
 * timer.arm(1500)
 * clock.advanceTo(2000) // prints "fired at 1500"
 * ```
 */
export class VirtualClock implements Clock {
  readonly kind = 'virtual' as const
  #now: Micros
  /** Binary min-heap of armed timers ordered by (at, seq). */
  readonly #heap: VirtualTimer[] = []
  #armSeq = 0

  /** @param start - the initial time in µs (default 0). */
  constructor(start: Micros = 0) {
    this.#now = start
  }

  now(): Micros {
    return this.#now
  }

  createTimer(callback: () => void): Timer {
    return new VirtualTimer(this, callback)
  }

  /** When the earliest armed timer fires, or `undefined` when none is armed. */
  nextTimerAt(): Micros | undefined {
    return this.#heap[0]?.at
  }

  /** Number of armed timers. */
  get pendingTimers(): number {
    return this.#heap.length
  }

  /**
   * Advance to `time`, firing every timer due on the way, each at its own instant.
   * Timers armed by callbacks are honoured if they fall before `time`.
   * @returns the number of timers fired.
   */
  advanceTo(time: Micros): number {
    let fired = 0
    for (;;) {
      const head = this.#heap[0]
      if (head === undefined || head.at! > time) break
      if (head.at! > this.#now) this.#now = head.at!
      this.#remove(head)
      fired++
      head.callback()
    }
    if (time > this.#now) this.#now = time
    return fired
  }

  /** Advance by `delta` µs. @returns the number of timers fired. */
  advanceBy(delta: Micros): number {
    return this.advanceTo(this.#now + delta)
  }

  /**
   * Jump to the next armed timer and fire every timer due at that instant.
   * @returns `false` when no timer is armed (the clock does not move).
   */
  step(): boolean {
    const at = this.nextTimerAt()
    if (at === undefined) return false
    this.advanceTo(at)
    return true
  }

  /**
   * Keep stepping until no timer is armed or the clock passes `limit`.
   * @returns the number of timers fired.
   */
  runUntilIdle(limit: Micros = Number.POSITIVE_INFINITY): number {
    let fired = 0
    for (;;) {
      const at = this.nextTimerAt()
      if (at === undefined || at > limit) return fired
      fired += this.advanceTo(at)
    }
  }

  /** @internal */
  schedule(timer: VirtualTimer, at: Micros): void {
    if (timer.index >= 0) this.#remove(timer)
    timer.at = at
    timer.seq = this.#armSeq++
    timer.index = this.#heap.length
    this.#heap.push(timer)
    this.#siftUp(timer.index)
  }

  /** @internal */
  unschedule(timer: VirtualTimer): void {
    if (timer.index >= 0) this.#remove(timer)
  }

  #remove(timer: VirtualTimer): void {
    const heap = this.#heap
    const index = timer.index
    const last = heap.pop()!
    timer.index = -1
    timer.at = undefined
    if (last !== timer) {
      heap[index] = last
      last.index = index
      this.#siftDown(index)
      this.#siftUp(last.index)
    }
  }

  #siftUp(index: number): void {
    const heap = this.#heap
    const item = heap[index]!
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      const parent = heap[parentIndex]!
      if (!timerBefore(item, parent)) break
      heap[index] = parent
      parent.index = index
      index = parentIndex
    }
    heap[index] = item
    item.index = index
  }

  #siftDown(index: number): void {
    const heap = this.#heap
    const length = heap.length
    const item = heap[index]!
    for (;;) {
      const left = 2 * index + 1
      if (left >= length) break
      const right = left + 1
      let child = left
      if (right < length && timerBefore(heap[right]!, heap[left]!)) child = right
      const childItem = heap[child]!
      if (!timerBefore(childItem, item)) break
      heap[index] = childItem
      childItem.index = index
      index = child
    }
    heap[index] = item
    item.index = index
  }
}

function timerBefore(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.at! < b.at! || (a.at === b.at && a.seq < b.seq)
}

/** @internal */
class VirtualTimer implements Timer {
  at: Micros | undefined = undefined
  index = -1
  seq = 0
  constructor(
    private readonly clock: VirtualClock,
    readonly callback: () => void,
  ) {}
  get armed(): boolean {
    return this.index >= 0
  }
  arm(at: Micros): void {
    this.clock.schedule(this, at)
  }
  cancel(): void {
    this.clock.unschedule(this)
  }
}
