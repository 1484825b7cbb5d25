import { describe, expect, it } from 'vitest'
import { formatBitrate, formatBytes } from './format.js'

describe('formatBitrate', () => {
  it.each([
    [0, '0.00 bit/s'],
    [950_000, '950 kbit/s'],
    [94_123_456, '94.1 Mbit/s'],
    [999_960_000, '1.00 Gbit/s'],
    [18_437_365_000, '18.4 Gbit/s'],
    [1.5e12, '1.50 Tbit/s'],
  ])('%d bit/s reads %s', (value, text) => {
    expect(formatBitrate(value)).toBe(text)
  })
})

describe('formatBytes', () => {
  it.each([
    [512, '512 B'],
    [1536, '1.50 KiB'],
    [117_882_880, '112 MiB'],
    [1023.9 * 1024, '1.00 MiB'],
    [2.25 * 2 ** 30, '2.25 GiB'],
  ])('%d bytes read %s', (value, text) => {
    expect(formatBytes(value)).toBe(text)
  })
})
