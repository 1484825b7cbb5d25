/**
 * Native congestion control: NewReno and CUBIC behind the {@link CongestionControl} interface, and a
 * factory that picks one by name.
 * @module
 */
import type { CongestionControl, CongestionControlOptions, NativeCongestionControlName } from './congestion-control.js'
import { CubicControl } from './cubic.js'
import { CongestionControlError } from './errors.js'
import { RenoControl } from './reno.js'

export type {
  AckMeasurement,
  AckSample,
  CongestionControl,
  CongestionControlOptions,
  Micros,
  NativeCongestionControlName,
} from './congestion-control.js'
export { CUBIC_ALPHA, CUBIC_BETA, CUBIC_C, CubicControl, type CubicControlOptions } from './cubic.js'
export { CongestionControlError, type CongestionControlErrorCode } from './errors.js'
export {
  DEFAULT_INITIAL_WINDOW_SEGMENTS,
  DEFAULT_MSS,
  INITIAL_WINDOW_SEGMENTS_RANGE,
  initialWindow,
  MAXIMUM_WINDOW,
  MSS_RANGE,
} from './loss-based.js'
export { RenoControl } from './reno.js'

/** The names {@link createCongestionControl} accepts, in the order error messages list them. */
export const NATIVE_CONGESTION_CONTROL_NAMES: readonly NativeCongestionControlName[] = ['reno', 'cubic']

/**
 * Create a native congestion controller by name.
 *
 * @param name - `'reno'` (RFC 5681 + RFC 6582) or `'cubic'` (RFC 9438).
 * @param options - the sender MSS (integer in [1, 65535], default 536) and the initial window in
 *   segments (integer in [1, 1000], default 10).
 * @throws {@link CongestionControlError} `ERR_INVALID_ARG` for an unknown name (the message lists the
 *   accepted ones) or an option out of range (the message names the setting and its range).
 *
 * @example
 * ```ts
 * const cc = createCongestionControl('cubic', { mss: 1460 })
 * cc.window // 14600
 * ```
 */
export function createCongestionControl(
  name: NativeCongestionControlName,
  options?: CongestionControlOptions,
): CongestionControl {
  switch (name) {
    case 'reno':
      return new RenoControl(options)
    case 'cubic':
      return new CubicControl(options)
    default: {
      const accepted = NATIVE_CONGESTION_CONTROL_NAMES.map((n) => `'${n}'`).join(', ')
      throw new CongestionControlError(
        'ERR_INVALID_ARG',
        `congestion control name must be one of ${accepted}, got ${JSON.stringify(name as unknown) ?? String(name)}`,
      )
    }
  }
}
