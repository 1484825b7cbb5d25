/**
 * CUBIC under generic-cong-avoid (RFC 8312's window, as ccp-project's cubic.rs computes it): the window in
 * packets, one packet more every `cnt` ACKs where `cnt` follows the cubic curve
 * `W(t) = origin + C (t − K)^3` (C = 0.4) and the TCP-friendly Reno estimate (β = 0.3: ×0.7 on loss,
 * fast convergence). Time is the agent's clock at each report; like cubic.rs, `t` is the time since the
 * epoch *minus* the minimum RTT, floored at 0. ccp-vectors/session-cubic.json pins the arithmetic: the
 * replay test reproduces each of its 265 windows.
 * @module
 */
import { GenericCongAvoid, type CongestionWindow, type GenericCongAvoidOptions, type WindowMeasurements } from './generic-cong-avoid.js'
import { saturatingU32 } from './u32.js'

/** CUBIC's constant C, packets per s³. */
export const CUBIC_C = 0.4
/** CUBIC's β as cubic.rs defines it: the window keeps 1 − β = 0.7 of itself on loss. */
export const CUBIC_BETA = 0.3

/** CUBIC's window, kept in packets. */
export class CubicWindow implements CongestionWindow {
  readonly #mss: number
  /** The initial window in whole packets. */
  readonly #initCwnd: number
  #cwnd: number
  #cwndCount = 0
  #wLastMax = 0
  /** Start of the current epoch (µs, agent clock), undefined until the first ACK after a reduction. */
  #epochStart: number | undefined
  #originPoint = 0
  /** Minimum RTT seen, µs. */
  #dMin: number | undefined
  #wTcp = 0
  #k = 0
  #ackCount = 0
  #cnt = 0

  constructor(initCwnd: number, mss: number) {
    this.#mss = mss
    this.#initCwnd = Math.floor(initCwnd / mss)
    this.#cwnd = this.#initCwnd
  }

  current(): number {
    return saturatingU32(this.#cwnd * this.#mss)
  }

  set(bytes: number): void {
    this.#cwnd = bytes / this.#mss
  }

  increase(measurements: WindowMeasurements, nowUs: number): void {
    const acks = saturatingU32(measurements.acked / this.#mss)
    for (let i = 0; i < acks; i++) {
      if (this.#dMin === undefined || measurements.rtt < this.#dMin) this.#dMin = measurements.rtt
      this.#update(nowUs, this.#dMin)
      if (this.#cwndCount > this.#cnt) {
        this.#cwnd += 1
        this.#cwndCount = 0
      } else {
        this.#cwndCount += 1
      }
    }
  }

  reduction(): void {
    this.#epochStart = undefined
    // Fast convergence: a flow losing below its last maximum gives up more room.
    this.#wLastMax = this.#cwnd < this.#wLastMax ? this.#cwnd * ((2 - CUBIC_BETA) / 2) : this.#cwnd
    this.#cwnd *= 1 - CUBIC_BETA
    if (saturatingU32(this.#cwnd) <= this.#initCwnd) this.#cwnd = this.#initCwnd
  }

  reset(): void {
    this.#wLastMax = 0
    this.#epochStart = undefined
    this.#originPoint = 0
    this.#dMin = undefined
    this.#wTcp = 0
    this.#k = 0
    this.#ackCount = 0
  }

  /** cubic_update: `cnt`, the ACKs per one-packet increase, from the cubic curve and the Reno estimate. */
  #update(nowUs: number, dMin: number): void {
    this.#ackCount += 1
    if (this.#epochStart === undefined) {
      this.#epochStart = nowUs
      if (this.#cwnd < this.#wLastMax) {
        this.#k = Math.pow(Math.max((this.#wLastMax - this.#cwnd) / CUBIC_C, 0), 1 / 3)
        this.#originPoint = this.#wLastMax
      } else {
        this.#k = 0
        this.#originPoint = this.#cwnd
      }
      this.#ackCount = 1
      this.#wTcp = this.#cwnd
    }
    const t = Math.max(nowUs - dMin - this.#epochStart, 0) / 1e6
    const target = this.#originPoint + CUBIC_C * ((t - this.#k) * (t - this.#k) * (t - this.#k))
    this.#cnt = target > this.#cwnd ? this.#cwnd / (target - this.#cwnd) : 100 * this.#cwnd
    // TCP friendliness: never slower than Reno would be.
    this.#wTcp += ((3 * CUBIC_BETA) / (2 - CUBIC_BETA)) * (this.#ackCount / this.#cwnd)
    this.#ackCount = 0
    if (this.#wTcp > this.#cwnd) {
      const maxCnt = this.#cwnd / (this.#wTcp - this.#cwnd)
      if (this.#cnt > maxCnt) this.#cnt = maxCnt
    }
  }
}

/**
 * CUBIC as portus runs it (generic-cong-avoid): slow start and loss handling in the agent, one report per
 * RTT. Its programs are generic-cong-avoid's four.
 */
export class Cubic extends GenericCongAvoid {
  constructor(options: GenericCongAvoidOptions = {}) {
    super('cubic', options)
  }

  protected createWindow(initCwnd: number, mss: number): CongestionWindow {
    return new CubicWindow(initCwnd, mss)
  }
}
