/**
 * The clock the receiver reports against. Structurally the same as `@mtcp/dpdk-io`'s `Clock` (µs, timers
 * armed at absolute times), so a stack's virtual clock can drive it, without this package depending on it.
 * @module
 */

/** A one-shot timer that can be re-armed. */
export interface ReceiverTimer {
  /** Fire at absolute time `at` (µs on the clock); re-arming replaces the previous time. */
  arm(at: number): void
  /** Do not fire. */
  cancel(): void
}

/** Time in µs and timers on it. */
export interface ReceiverClock {
  /** Now, in µs (monotonic; the origin does not matter). */
  now(): number
  /** A timer that calls `callback` when it fires. */
  createTimer(callback: () => void): ReceiverTimer
}

/** Wall-clock time from `performance.now()`, timers from `setTimeout` (unref'd: they never hold the process open). */
export const wallClock: ReceiverClock = {
  now: () => performance.now() * 1000,
  createTimer(callback) {
    let handle: ReturnType<typeof setTimeout> | undefined
    return {
      arm(at) {
        if (handle !== undefined) clearTimeout(handle)
        handle = setTimeout(
          () => {
            handle = undefined
            callback()
          },
          Math.max(0, (at - performance.now() * 1000) / 1000),
        )
        handle.unref?.()
      },
      cancel() {
        if (handle !== undefined) clearTimeout(handle)
        handle = undefined
      },
    }
  },
}
