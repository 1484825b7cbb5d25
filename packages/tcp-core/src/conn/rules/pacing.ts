/**
 * Paced sending and the connection's rate limit: the rate a connection is paced at (the controller's, as
 * CCP's set_rate_abs, else the native rate of `@mtcp/pacer` when pacing is on, capped by
 * SO_MAX_PACING_RATE) and whether the pacer and the token bucket let a data segment go now.
 * @module
 */
import { nativePacingRate, Pacer } from '@mtcp/pacer'
import type { Micros } from '../../congestion/congestion-control.js'
import type { ConnectionState } from '../connection-state.js'

/**
 * The rate the connection is paced at now, in bytes/s, or undefined for none: the controller's own rate
 * (CCP's set_rate_abs), else the native rate when pacing is on, capped by `maxPacingRate`.
 * @internal
 */
export function pacingRate(s: ConnectionState): number | undefined {
  const config = s.config
  let rate = s.congestion.pacingRate
  if (rate === undefined && config.pacing) {
    rate = nativePacingRate({ cwnd: Math.max(s.congestion.window, 1), srtt: s.rtt.smoothedRtt, inSlowStart: s.congestion.window < s.congestion.slowStartThreshold })
  }
  if (config.maxPacingRate !== Number.POSITIVE_INFINITY) rate = Math.min(rate ?? Number.POSITIVE_INFINITY, config.maxPacingRate)
  return rate === undefined || rate === Number.POSITIVE_INFINITY ? undefined : rate
}

/**
 * Whether the pacer and the rate limit let `length` bytes of data go now; when not, remembers when they
 * will. The token bucket is charged when it allows.
 * @internal
 */
export function paced(s: ConnectionState, now: Micros, length: number): boolean {
  const rate = pacingRate(s)
  if (rate === undefined) {
    if (s.pacer !== undefined) s.pacer.setRate(Number.POSITIVE_INFINITY, now)
  } else {
    if (s.pacer === undefined) s.pacer = new Pacer({ rate, quantum: s.config.pacingQuantum })
    else if (s.pacer.rate !== rate) s.pacer.setRate(rate, now)
    if (!s.pacer.canSend(now, length)) {
      s.paceAt = s.pacer.nextSendAt(now, length)
      return false
    }
  }
  const bucket = s.tokenBucket
  if (bucket === undefined || bucket.tryConsume(Math.min(length, bucket.burst), now)) return true
  s.paceAt = now + bucket.timeUntil(Math.min(length, bucket.burst), now)
  return false
}
