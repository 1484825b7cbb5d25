/**
 * Runs a virtual clock while a run awaits its promises: the emulated link and both stacks move as fast as
 * the CPU allows, and Node streams (the receiver's socket) still get their `nextTick` turns between steps,
 * so no event waits for virtual time to pass.
 * @module
 */
import type { Micros, VirtualClock } from '@mtcp/dpdk-io'
import { PerfError } from './errors.js'

/** Let everything queued with `process.nextTick` (and the promise jobs before it) run. */
const tick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve))
/** Let I/O and timers of the real event loop run. */
const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Idle turns of the event loop (no virtual timer armed) before a run counts as stalled. */
const IDLE_TURNS = 200
/** Wall-clock ms between turns of the real event loop (output, signals). */
const YIELD_MS = 20

/** Steps a {@link VirtualClock} in the background until stopped. */
export class ClockDriver {
  readonly #clock: VirtualClock
  readonly #limit: Micros
  #running = true
  #failure: PerfError | undefined
  readonly #failed: Promise<never>
  #fail: (error: PerfError) => void = () => {}

  /** Start stepping `clock`; a run fails with `ERR_STALLED` past `limit` µs of virtual time or when nothing is left to run. */
  constructor(clock: VirtualClock, limit: Micros) {
    this.#clock = clock
    this.#limit = clock.now() + limit
    this.#failed = new Promise<never>((_, reject) => {
      this.#fail = reject
    })
    this.#failed.catch(() => {})
    void this.#loop()
  }

  /** `promise`, or the driver's failure if that comes first. */
  race<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.#failed])
  }

  /** Stop stepping. */
  stop(): void {
    this.#running = false
  }

  async #loop(): Promise<void> {
    const clock = this.#clock
    let idle = 0
    let lastYield = performance.now()
    while (this.#running) {
      if (clock.now() > this.#limit) {
        this.#stopWith(new PerfError('ERR_STALLED', `not finished after ${(this.#limit / 1e6).toFixed(0)} s of virtual time`))
        return
      }
      if (clock.step()) {
        idle = 0
        await tick()
        if (performance.now() - lastYield > YIELD_MS) {
          await immediate()
          lastYield = performance.now()
        }
        continue
      }
      if (++idle > IDLE_TURNS) {
        this.#stopWith(new PerfError('ERR_STALLED', `stalled at ${(clock.now() / 1e6).toFixed(3)} s of virtual time: nothing scheduled on the emulated network and the run is not finished`))
        return
      }
      await immediate()
      lastYield = performance.now()
    }
  }

  #stopWith(error: PerfError): void {
    this.#running = false
    this.#failure = error
    this.#fail(error)
  }

  /** The failure that stopped the driver, if any. */
  get failure(): PerfError | undefined {
    return this.#failure
  }
}
