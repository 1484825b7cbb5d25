/** Tests of nativePacingRate: Linux's gains, the no-RTT case, units, and argument checks. */
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_CONGESTION_AVOIDANCE_PACING_GAIN,
  DEFAULT_SLOW_START_PACING_GAIN,
  nativePacingRate,
} from './native-pacing-rate.js'
import { Pacer } from './pacer.js'

const code = (value: string) => expect.objectContaining({ code: value })
const MSS = 1448

describe('nativePacingRate', () => {
  it('paces at 200 % of cwnd / srtt in slow start and 120 % in congestion avoidance, in bytes per second', () => {
    expect(DEFAULT_SLOW_START_PACING_GAIN).toBe(2)
    expect(DEFAULT_CONGESTION_AVOIDANCE_PACING_GAIN).toBe(1.2)
    // 10 segments per 10 ms is 1,448,000 bytes/s.
    expect(nativePacingRate({ cwnd: 10 * MSS, srtt: 10_000, inSlowStart: true })).toBe(2_896_000)
    expect(nativePacingRate({ cwnd: 10 * MSS, srtt: 10_000, inSlowStart: false })).toBeCloseTo(1_737_600, 6)
  })

  it('takes other gains, as the tcp_pacing_ss_ratio and tcp_pacing_ca_ratio sysctls do', () => {
    const input = { cwnd: 100_000, srtt: 50_000, slowStartGain: 4, congestionAvoidanceGain: 1 }
    expect(nativePacingRate({ ...input, inSlowStart: true })).toBe(8_000_000)
    expect(nativePacingRate({ ...input, inSlowStart: false })).toBe(2_000_000)
  })

  it('keeps fractions of a µs of RTT', () => {
    expect(nativePacingRate({ cwnd: 3, srtt: 0.5, inSlowStart: false, congestionAvoidanceGain: 1 })).toBe(6_000_000)
  })

  it('returns Infinity, which a Pacer treats as unpaced, before the first RTT sample', () => {
    const rate = nativePacingRate({ cwnd: 10 * MSS, srtt: undefined, inSlowStart: true })
    expect(rate).toBe(Infinity)
    expect(nativePacingRate({ cwnd: 10 * MSS, srtt: 0, inSlowStart: false })).toBe(Infinity)
    const pacer = new Pacer({ rate })
    expect(pacer.paced).toBe(false)
  })

  it.each([0, -1, Number.NaN, Infinity])('rejects cwnd %s with ERR_INVALID_ARG naming it and its range', (cwnd) => {
    expect(() => nativePacingRate({ cwnd, srtt: 1000, inSlowStart: true })).toThrow(code('ERR_INVALID_ARG'))
    expect(() => nativePacingRate({ cwnd, srtt: 1000, inSlowStart: true })).toThrow(/^cwnd must be a number of bytes in \(0, Infinity\)/)
  })

  it.each([-1, Number.NaN, Infinity])('rejects srtt %s with ERR_INVALID_ARG naming it and its range', (srtt) => {
    expect(() => nativePacingRate({ cwnd: 1, srtt, inSlowStart: true })).toThrow(code('ERR_INVALID_ARG'))
    expect(() => nativePacingRate({ cwnd: 1, srtt, inSlowStart: true })).toThrow(/^srtt must be undefined or a time in µs in \[0, Infinity\)/)
  })

  it.each([0, -2, Number.NaN, Infinity])('rejects a gain of %s with ERR_INVALID_CONFIG naming it and its range', (gain) => {
    expect(() => nativePacingRate({ cwnd: 1, srtt: 1, inSlowStart: true, slowStartGain: gain })).toThrow(
      /^slowStartGain must be a number in \(0, Infinity\)/,
    )
    expect(() => nativePacingRate({ cwnd: 1, srtt: 1, inSlowStart: true, congestionAvoidanceGain: gain })).toThrow(
      code('ERR_INVALID_CONFIG'),
    )
  })
})
