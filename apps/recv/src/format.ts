/**
 * The receiver's output lines, formatted as recv.py printed them (Python 2 `str.format`), so scripts
 * written against the original keep working.
 * @module
 */
import { formatHostPort } from './address.js'

/**
 * A float as Python 2's `str()` (and `'{}'.format()`) writes it: 12 significant digits, trailing zeros
 * dropped, `.0` kept on whole numbers, exponent form below 1e-4 and from 1e11 on (CPython 2.7's
 * `float_str`: `%.12g`, with the switch to the exponent one digit early because of the added `.0`).
 *
 * @example
 * ```ts
 * formatPythonFloat(10.0)      // '10.0'
 * formatPythonFloat(1 / 3)     // '0.333333333333'
 * formatPythonFloat(2.5e-5)    // '2.5e-05'
 * ```
 */
export function formatPythonFloat(value: number): string {
  if (Number.isNaN(value)) return 'nan'
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf'
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0'
  const [mantissa, exponentText] = value.toExponential(11).split('e') as [string, string]
  const exponent = Number(exponentText)
  if (exponent < -4 || exponent >= 11) {
    const digits = stripZeros(mantissa)
    const sign = exponent < 0 ? '-' : '+'
    return `${digits}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`
  }
  const fixed = stripZeros(value.toFixed(11 - exponent))
  return fixed.includes('.') ? fixed : `${fixed}.0`
}

function stripZeros(text: string): string {
  if (!text.includes('.')) return text
  const trimmed = text.replace(/0+$/, '')
  return trimmed.endsWith('.') ? trimmed.slice(0, -1) : trimmed
}

/**
 * One progress line, `"{} {:06.3f} Mbps".format(index * 0.5, mbps)` in recv.py: the start of the interval
 * in seconds (the first line reads 0.0) and the rate over it, zero-padded to six characters.
 *
 * @example
 * ```ts
 * formatIntervalLine(3, 942.1134) // '1.5 942.113 Mbps'
 * formatIntervalLine(0, 5.2)      // '0.0 05.200 Mbps'
 * ```
 */
export function formatIntervalLine(index: number, mbps: number, intervalSeconds = 0.5): string {
  return `${formatPythonFloat(index * intervalSeconds)} ${mbps.toFixed(3).padStart(6, '0')} Mbps`
}

/** The line recv.py prints when it has seen the end of a transfer. */
export const END_LINE = 'Received END from client'

/**
 * The last line of a transfer: `Done with <host>:<port>, bytes_rcvd: <n>, time: <s>, thru: <x>Mbps`,
 * with `time` and `thru` as Python floats. An IPv6 host is written in RFC 5952 form and in brackets
 * (`Done with [::1]:40000, …`, RFC 5952 §6), an IPv4 one as recv.py wrote it.
 */
export function formatDoneLine(host: string, port: number, bytes: number, seconds: number, mbps: number): string {
  return `Done with ${formatHostPort(host, port)}, bytes_rcvd: ${bytes}, time: ${formatPythonFloat(seconds)}, thru: ${formatPythonFloat(mbps)}Mbps`
}

/** Megabits per second, computed in recv.py's order, `((bytes / seconds) * 8) / 1000000` (0 for no time). */
export function megabitsPerSecond(bytes: number, seconds: number): number {
  return seconds > 0 ? ((bytes / seconds) * 8) / 1e6 : 0
}
