/** Stable error codes thrown by `@mtcp/dpdk-io`. */
export type DpdkIoErrorCode =
  /** A configuration value is outside its accepted range; the message names the setting and the range. */
  | 'ERR_INVALID_CONFIG'
  /** A buffer was freed twice, or freed into a pool it does not belong to. */
  | 'ERR_BUFFER_STATE'
  /** The port is closed. */
  | 'ERR_PORT_CLOSED'
  /** A file could not be written (pcap). */
  | 'ERR_IO'
  /** The tap and af-packet backends need the optional native addon, which is missing or not built. */
  | 'ERR_NATIVE_UNAVAILABLE'
  /** The dpdk backend needs the optional addon `@mtcp/dpdk-io-dpdk`, built only where libdpdk-dev is installed. */
  | 'ERR_DPDK_UNAVAILABLE'
  /** DPDK refused: EAL initialisation, port configuration or start failed; the message has DPDK's reason. */
  | 'ERR_DPDK'

/** An error with a stable {@link DpdkIoErrorCode} that callers can `switch` on. */
export class DpdkIoError extends Error {
  override readonly name = 'DpdkIoError'
  constructor(
    readonly code: DpdkIoErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/**
 * Check a numeric setting against `[min, max]`; throws `ERR_INVALID_CONFIG` naming the setting and its range.
 * @internal
 */
export function checkRange(setting: string, value: number, min: number, max: number, unit = ''): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) {
    const suffix = unit ? ` ${unit}` : ''
    throw new DpdkIoError(
      'ERR_INVALID_CONFIG',
      `${setting} must be in [${formatBound(min)}, ${formatBound(max)}]${suffix}, got ${String(value)}`,
    )
  }
  return value
}

/** Like {@link checkRange} but also requires an integer. @internal */
export function checkInteger(setting: string, value: number, min: number, max: number): number {
  checkRange(setting, value, min, max)
  if (!Number.isInteger(value) && value !== Number.POSITIVE_INFINITY) {
    throw new DpdkIoError('ERR_INVALID_CONFIG', `${setting} must be an integer in [${formatBound(min)}, ${formatBound(max)}], got ${value}`)
  }
  return value
}

function formatBound(value: number): string {
  return value === Number.POSITIVE_INFINITY ? 'Infinity' : String(value)
}
