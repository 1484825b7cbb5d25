/**
 * An epoll-like readiness interface over the stack's sockets (as mTCP's mtcp_epoll): interest in
 * IN, OUT, ERR, HUP, RDHUP per socket, level- or edge-triggered, one-shot if asked.
 * @module
 */
import { StackError } from './errors.js'
import { PollEvents } from './socket-record.js'
import type { Stack } from './stack.js'

/** One ready socket, as {@link Epoll.wait} reports it. */
export interface EpollEvent {
  fd: number
  /** The ready {@link PollEvents} bits among those of interest (ERR and HUP always count). */
  events: number
  /** What was passed to {@link Epoll.add}. */
  data: unknown
}

interface Interest {
  events: number
  data: unknown
  stop: () => void
  disabled: boolean
}

/**
 * Readiness of many sockets in one place.
 *
 * @example
 * ```ts
 * const epoll = new Epoll(stack)
 * epoll.add(listener, PollEvents.IN)
 * epoll.onReady(() => {
 *   for (const { fd, events } of epoll.wait()) if (fd === listener) handle(stack.accept(listener))
 * })
 * ```
 */
export class Epoll {
  readonly #interests = new Map<number, Interest>()
  /** Sockets that may be ready, in the order they became so. */
  readonly #ready = new Set<number>()
  #listener: (() => void) | undefined = undefined
  #notifyScheduled = false

  constructor(readonly stack: Stack) {}

  /** Watch `fd` for `events` ({@link PollEvents} bits, with ET and ONESHOT flags). @throws `EEXIST`-like `EINVAL` when already watched. */
  add(fd: number, events: number, data: unknown = fd): void {
    if (this.#interests.has(fd)) throw new StackError('EINVAL', `socket ${fd} is already in this epoll (use modify)`)
    const stop = this.stack.watch(fd, (id, ready) => this.#changed(id, ready))
    this.#interests.set(fd, { events, data, stop, disabled: false })
    this.#changed(fd, this.stack.readiness(fd))
  }

  /** Change the events of a watched socket (and re-arm a ONESHOT one). */
  modify(fd: number, events: number, data?: unknown): void {
    const interest = this.#interest(fd)
    interest.events = events
    if (data !== undefined) interest.data = data
    interest.disabled = false
    this.#changed(fd, this.stack.readiness(fd))
  }

  /** Stop watching a socket. */
  delete(fd: number): void {
    const interest = this.#interest(fd)
    interest.stop()
    this.#interests.delete(fd)
    this.#ready.delete(fd)
  }

  /**
   * The ready sockets, at most `max`. Never blocks: use {@link onReady} to learn when to call it.
   * Level-triggered sockets stay reported while ready; edge-triggered ones once per change.
   */
  wait(max = 64): EpollEvent[] {
    const out: EpollEvent[] = []
    for (const fd of this.#ready) {
      if (out.length >= max) break
      const interest = this.#interests.get(fd)
      let ready = 0
      try {
        ready = interest === undefined || interest.disabled ? 0 : this.stack.readiness(fd)
      } catch {
        ready = 0 // closed meanwhile
      }
      const events = interest === undefined ? 0 : ready & (interest.events | PollEvents.ERR | PollEvents.HUP)
      if (events === 0 || interest === undefined) {
        this.#ready.delete(fd)
        continue
      }
      out.push({ fd, events, data: interest.data })
      if (interest.events & PollEvents.ET) this.#ready.delete(fd)
      if (interest.events & PollEvents.ONESHOT) {
        interest.disabled = true
        this.#ready.delete(fd)
      }
    }
    return out
  }

  /** Call `listener` (once per turn of the event loop at most) when a socket may have become ready. */
  onReady(listener: (() => void) | undefined): void {
    this.#listener = listener
    if (this.#ready.size > 0) this.#schedule()
  }

  /** Stop watching everything. */
  close(): void {
    for (const interest of this.#interests.values()) interest.stop()
    this.#interests.clear()
    this.#ready.clear()
    this.#listener = undefined
  }

  #interest(fd: number): Interest {
    const interest = this.#interests.get(fd)
    if (interest === undefined) throw new StackError('EBADF', `socket ${fd} is not in this epoll`)
    return interest
  }

  #changed(fd: number, ready: number): void {
    const interest = this.#interests.get(fd)
    if (interest === undefined || interest.disabled) return
    if ((ready & (interest.events | PollEvents.ERR | PollEvents.HUP)) === 0) return
    this.#ready.add(fd)
    this.#schedule()
  }

  #schedule(): void {
    if (this.#listener === undefined || this.#notifyScheduled) return
    this.#notifyScheduled = true
    queueMicrotask(() => {
      this.#notifyScheduled = false
      if (this.#ready.size > 0) this.#listener?.()
    })
  }
}
