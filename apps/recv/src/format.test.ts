import { describe, expect, it } from 'vitest'
import { formatDoneLine, formatIntervalLine, formatPythonFloat, megabitsPerSecond } from './format.js'

describe('formatPythonFloat (Python 2 str(float))', () => {
  // Expected texts printed by CPython 2.7.18: '{}'.format(value).
  it.each([
    [10, '10.0'],
    [0.5, '0.5'],
    [1 / 3, '0.333333333333'],
    [2 / 3, '0.666666666667'],
    [10.0423491001234, '10.0423491001'],
    [942.11345678912345, '942.113456789'],
    [0.0001, '0.0001'],
    [0.00002, '2e-05'],
    [2.5e-5, '2.5e-05'],
    [12345678901, '12345678901.0'],
    [123456789012, '1.23456789012e+11'],
    [1234567890123, '1.23456789012e+12'],
    [1e16, '1e+16'],
    [-1.5, '-1.5'],
    [0, '0.0'],
  ])('%s → %s', (value, text) => {
    expect(formatPythonFloat(value)).toBe(text)
  })

  it('names the non-finite values as Python does', () => {
    expect([formatPythonFloat(Number.NaN), formatPythonFloat(Infinity), formatPythonFloat(-Infinity)]).toEqual(['nan', 'inf', '-inf'])
  })
})

describe('recv.py lines', () => {
  it('starts the first interval at 0.0 and pads the rate to six characters', () => {
    expect(formatIntervalLine(0, 5.2)).toBe('0.0 05.200 Mbps')
    expect(formatIntervalLine(3, 942.1134)).toBe('1.5 942.113 Mbps')
    expect(formatIntervalLine(20, 12345.6789)).toBe('10.0 12345.679 Mbps')
  })

  it('writes the last line with Python floats', () => {
    // recv.py computes ((bytes / time) * 8) / 1000000; CPython 2.7.18 prints 99.3802565963 for these.
    expect(formatDoneLine('10.0.0.1', 41234, 125_001_729, 10.0625, megabitsPerSecond(125_001_729, 10.0625))).toBe(
      'Done with 10.0.0.1:41234, bytes_rcvd: 125001729, time: 10.0625, thru: 99.3802565963Mbps',
    )
  })

  it('writes an IPv6 peer in brackets and in RFC 5952 form (RFC 5952 §6), an IPv4 one as recv.py did', () => {
    expect(formatDoneLine('0:0:0:0:0:0:0:1', 41234, 10, 1, 8e-5)).toBe('Done with [::1]:41234, bytes_rcvd: 10, time: 1.0, thru: 8e-05Mbps')
    expect(formatDoneLine('::ffff:10.0.0.2', 5, 10, 1, 8e-5)).toMatch(/^Done with \[::ffff:10\.0\.0\.2\]:5, /)
  })

  it('reports 0 Mbit/s for no time rather than dividing by zero', () => {
    expect(megabitsPerSecond(100, 0)).toBe(0)
  })
})
