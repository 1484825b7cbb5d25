/**
 * Numbers as `mtcp-perf` prints them, in the manner of iperf3: rates in decimal bit/s units that scale
 * (`94.1 Mbit/s`, `18.4 Gbit/s`), amounts in binary byte units (`112 MiB`), three significant digits.
 * @module
 */

/** Three significant digits without exponent: `0.123`, `1.23`, `12.3`, `123`. */
function threeDigits(value: number): string {
  if (value >= 99.95) return value.toFixed(0)
  if (value >= 9.995) return value.toFixed(1)
  return value.toFixed(2)
}

function scaled(value: number, base: number, units: readonly string[]): string {
  let unit = 0
  // Round first, so 999.96 Mbit/s reads 1.00 Gbit/s rather than 1000 Mbit/s.
  while (unit < units.length - 1 && Number(threeDigits(Math.abs(value))) >= 1000) {
    value /= base
    unit++
  }
  return `${threeDigits(value)} ${units[unit]}`
}

/**
 * A rate in bit/s with a unit that scales: `'0.00 bit/s'`, `'950 kbit/s'`, `'94.1 Mbit/s'`, `'18.4 Gbit/s'`.
 *
 * @example
 * ```ts
 * formatBitrate(18_437_365_000) // '18.4 Gbit/s'
 * ```
 */
export function formatBitrate(bitsPerSecond: number): string {
  return scaled(bitsPerSecond, 1000, ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s', 'Tbit/s'])
}

/**
 * An amount of bytes in binary units that scale: `'512 B'`, `'1.50 KiB'`, `'112 MiB'`, `'2.25 GiB'`.
 *
 * @example
 * ```ts
 * formatBytes(117_882_880) // '112 MiB'
 * ```
 */
export function formatBytes(bytes: number): string {
  return scaled(bytes, 1024, ['B', 'KiB', 'MiB', 'GiB', 'TiB'])
}
