/**
 * Reno under generic-cong-avoid: one MSS per window of acknowledged bytes, halved on loss (never below the
 * initial window). The window is a float in bytes, reported truncated; the recording
 * ccp-vectors/session-reno.json pins the arithmetic (e.g. 839116 + 1448 × 13032 / 839116 → 839138).
 * @module
 */
import { GenericCongAvoid, type CongestionWindow, type GenericCongAvoidOptions, type WindowMeasurements } from './generic-cong-avoid.js'
import { saturatingU32 } from './u32.js'

/** Reno's window: AIMD in bytes. */
export class RenoWindow implements CongestionWindow {
  #cwnd: number
  readonly #initCwnd: number
  readonly #mss: number

  constructor(initCwnd: number, mss: number) {
    this.#initCwnd = initCwnd
    this.#cwnd = initCwnd
    this.#mss = mss
  }

  current(): number {
    return saturatingU32(this.#cwnd)
  }

  set(bytes: number): void {
    this.#cwnd = bytes
  }

  increase(measurements: WindowMeasurements): void {
    // One MSS per window's worth of acknowledged bytes.
    this.#cwnd += this.#mss * (measurements.acked / this.#cwnd)
  }

  reduction(): void {
    this.#cwnd /= 2
    if (this.#cwnd <= this.#initCwnd) this.#cwnd = this.#initCwnd
  }

  reset(): void {}
}

/**
 * TCP Reno as portus runs it (generic-cong-avoid): slow start and loss handling in the agent, one report
 * per RTT. Its programs are generic-cong-avoid's four.
 */
export class Reno extends GenericCongAvoid {
  constructor(options: GenericCongAvoidOptions = {}) {
    super('reno', options)
  }

  protected createWindow(initCwnd: number, mss: number): CongestionWindow {
    return new RenoWindow(initCwnd, mss)
  }
}
