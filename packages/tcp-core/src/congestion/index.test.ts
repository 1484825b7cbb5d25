import { describe, expect, it } from 'vitest'
import {
  type CongestionControl,
  CongestionControlError,
  createCongestionControl,
  CubicControl,
  NATIVE_CONGESTION_CONTROL_NAMES,
  RenoControl,
} from './index.js'

function invalidArg(message: RegExp): unknown {
  return expect.objectContaining({ name: 'CongestionControlError', code: 'ERR_INVALID_ARG', message: expect.stringMatching(message) })
}

describe('createCongestionControl', () => {
  it('builds each native controller by name', () => {
    const reno: CongestionControl = createCongestionControl('reno')
    const cubic: CongestionControl = createCongestionControl('cubic', { mss: 1460 })
    expect(reno).toBeInstanceOf(RenoControl)
    expect(reno.name).toBe('reno')
    expect(cubic).toBeInstanceOf(CubicControl)
    expect(cubic.name).toBe('cubic')
    expect(reno.window).toBe(5360) // default MSS 536, IW 10 segments
    expect(cubic.window).toBe(14600)
    expect(NATIVE_CONGESTION_CONTROL_NAMES).toEqual(['reno', 'cubic'])
  })

  it('passes initialWindowSegments on', () => {
    expect(createCongestionControl('reno', { mss: 1000, initialWindowSegments: 4 }).window).toBe(4000)
    expect(createCongestionControl('cubic', { mss: 1000, initialWindowSegments: 1 }).window).toBe(1000)
  })

  it('rejects an unknown name with ERR_INVALID_ARG listing the accepted names', () => {
    const attempt = (): unknown => createCongestionControl('bbr' as never)
    expect(attempt).toThrowError(CongestionControlError)
    expect(attempt).toThrowError(invalidArg(/one of 'reno', 'cubic', got "bbr"/))
    expect(() => createCongestionControl(undefined as never)).toThrowError(invalidArg(/'reno', 'cubic'/))
  })

  it.each([0, 65536, 1.5, -1, Number.NaN, Number.POSITIVE_INFINITY, '1460'])('rejects mss %s naming the setting and range', (mss) => {
    expect(() => createCongestionControl('reno', { mss: mss as number })).toThrowError(
      invalidArg(/^mss must be an integer in \[1, 65535\], got /),
    )
  })

  it.each([0, 1001, 2.5, -3, Number.NaN])('rejects initialWindowSegments %s naming the setting and range', (segments) => {
    expect(() => createCongestionControl('cubic', { initialWindowSegments: segments })).toThrowError(
      invalidArg(/^initialWindowSegments must be an integer in \[1, 1000\], got /),
    )
  })

  it('accepts the ends of the ranges', () => {
    expect(createCongestionControl('reno', { mss: 1, initialWindowSegments: 1 }).window).toBe(1)
    expect(createCongestionControl('reno', { mss: 65535, initialWindowSegments: 1000 }).window).toBe(1000 * 1460)
  })

  it('validates setMss the same way', () => {
    const cc = createCongestionControl('cubic')
    expect(() => cc.setMss(0)).toThrowError(invalidArg(/^mss must be an integer in \[1, 65535\], got 0$/))
    expect(() => cc.setMss(70000)).toThrowError(invalidArg(/mss/))
    expect(cc.window).toBe(5360)
  })
})
