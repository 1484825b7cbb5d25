/**
 * The pacing rate Linux sets for a TCP socket without a rate-based congestion controller
 * (net/ipv4/tcp_input.c `tcp_update_pacing_rate`): the current delivery rate cwnd / srtt, times a gain of
 * 200 % in slow start (`net.ipv4.tcp_pacing_ss_ratio`) and 120 % in congestion avoidance
 * (`net.ipv4.tcp_pacing_ca_ratio`), so pacing smooths bursts without capping the window's growth.
 * @module
 */
import { PacerError } from './errors.js'
import { MICROS_PER_SECOND, type Micros } from '@mtcp/primitives'

/** Linux's default slow-start pacing gain: `tcp_pacing_ss_ratio` = 200 (%). */
export const DEFAULT_SLOW_START_PACING_GAIN = 2

/** Linux's default congestion-avoidance pacing gain: `tcp_pacing_ca_ratio` = 120 (%). */
export const DEFAULT_CONGESTION_AVOIDANCE_PACING_GAIN = 1.2

/** What {@link nativePacingRate} needs to know about a connection. */
export interface NativePacingRateInput {
  /**
   * The congestion window in bytes (not segments), a number in (0, Infinity). Linux uses
   * max(cwnd, packets in flight); pass `Math.max(cwnd, bytesInFlight)` to do the same.
   */
  cwnd: number
  /** The smoothed RTT in µs, in [0, Infinity), or undefined before the first RTT sample. */
  srtt: Micros | undefined
  /**
   * Whether the connection is in slow start. Linux treats cwnd < ssthresh / 2 as slow start here (near the
   * end of slow start it already paces at the congestion-avoidance gain).
   */
  inSlowStart: boolean
  /** Gain in slow start, a number in (0, Infinity). Default {@link DEFAULT_SLOW_START_PACING_GAIN} (2). */
  slowStartGain?: number | undefined
  /**
   * Gain in congestion avoidance, a number in (0, Infinity). Default
   * {@link DEFAULT_CONGESTION_AVOIDANCE_PACING_GAIN} (1.2).
   */
  congestionAvoidanceGain?: number | undefined
}

/**
 * Linux's native pacing rate in bytes per second: `gain × cwnd / srtt`, with `gain` 2 in slow start and 1.2
 * otherwise (by default).
 *
 * Without an RTT sample (`srtt` undefined, or 0) the result is `Infinity`, which a `Pacer` treats as
 * unpaced; Linux likewise skips the division and leaves the rate at its cap. Call this when cwnd or srtt
 * change and the congestion controller does not set a rate of its own (its `pacingRate` is undefined), and
 * pass the result to `Pacer.setRate`; never let it overwrite a rate set by the controller or by CCP.
 *
 * Throws `ERR_INVALID_ARG` for a cwnd or srtt outside its range and `ERR_INVALID_CONFIG` for a gain outside (0, Infinity).
 *
 * @example
 * ```ts
 * nativePacingRate({ cwnd: 10 * 1448, srtt: 10_000, inSlowStart: true }) // 2_896_000 bytes/s (23.168 Mbit/s)
 * ```
 */
export function nativePacingRate(input: NativePacingRateInput): number {
  const { cwnd, srtt, inSlowStart } = input
  const slowStartGain = checkGain('slowStartGain', input.slowStartGain ?? DEFAULT_SLOW_START_PACING_GAIN)
  const congestionAvoidanceGain = checkGain(
    'congestionAvoidanceGain',
    input.congestionAvoidanceGain ?? DEFAULT_CONGESTION_AVOIDANCE_PACING_GAIN,
  )
  if (typeof cwnd !== 'number' || !(cwnd > 0) || cwnd === Number.POSITIVE_INFINITY) {
    throw new PacerError('ERR_INVALID_ARG', `cwnd must be a number of bytes in (0, Infinity), got ${String(cwnd)}`)
  }
  if (srtt !== undefined && (typeof srtt !== 'number' || !(srtt >= 0) || srtt === Number.POSITIVE_INFINITY)) {
    throw new PacerError('ERR_INVALID_ARG', `srtt must be undefined or a time in µs in [0, Infinity), got ${String(srtt)}`)
  }
  if (srtt === undefined || srtt === 0) return Number.POSITIVE_INFINITY
  const gain = inSlowStart ? slowStartGain : congestionAvoidanceGain
  return (gain * cwnd * MICROS_PER_SECOND) / srtt
}

function checkGain(setting: string, value: number): number {
  if (typeof value !== 'number' || !(value > 0) || value === Number.POSITIVE_INFINITY) {
    throw new PacerError('ERR_INVALID_CONFIG', `${setting} must be a number in (0, Infinity), got ${String(value)}`)
  }
  return value
}
