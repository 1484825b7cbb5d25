/**
 * Per-connection settings, their defaults and their validation.
 * @module
 */
import type { CongestionControl, Micros } from '../congestion/congestion-control.js'
import type { TcpConnection } from './connection.js'
import { RingStoragePool } from './ring.js'
import { ECN_MODES, type EcnMode } from './rules/ecn.js'

/** The loss detections a connection can use ({@link TcpConfig.lossDetection}). */
export type LossDetection = 'rack' | 'rfc6675' | 'newreno'
const LOSS_DETECTIONS: readonly LossDetection[] = ['rack', 'rfc6675', 'newreno']

/** Settings of one connection. Every field has a default; see {@link resolveTcpConfig}. */
export interface TcpConfig {
  /** MSS to advertise (what we can receive), bytes, in [88, 65495]. Default 1460. */
  mss: number
  /** Send buffer size in bytes, in [1, 1 GiB]. Default 1 MiB. */
  sendBufferSize: number
  /** Receive buffer size in bytes, in [1, 1 GiB]. Default 1 MiB. */
  receiveBufferSize: number
  /** Offer window scaling (RFC 7323 §2). Default true. */
  windowScaling: boolean
  /** Offer timestamps (RFC 7323 §3). Default true. */
  timestamps: boolean
  /** Offer SACK (RFC 2018). Default true. */
  sack: boolean
  /** Disable Nagle's algorithm (RFC 9293 §3.7.4). Default false. */
  noDelay: boolean
  /** Delayed-ACK timer in µs, in [0, 500 ms] (RFC 9293 §3.8.6.3 allows up to 500 ms). Default 40 ms. */
  delayedAckTimeout: Micros
  /**
   * Minimum RTO in µs, in [1 ms, 60 s]. Default 200 ms, as Linux's TCP_RTO_MIN. RFC 6298 §2.4 says the RTO
   * SHOULD be rounded up to 1 s; that floor predates RTT measurement on every segment (timestamps,
   * RFC 7323) and costs a second per timeout on every short data-centre path, which is where a user-level
   * stack runs. Set 1_000_000 for RFC 6298's conservative value.
   */
  minRto: Micros
  /** Maximum RTO in µs. Default 60 s (RFC 6298 §2.5). */
  maxRto: Micros
  /** RTO before the first RTT sample, µs. Default 1 s (RFC 6298 §2.1). */
  initialRto: Micros
  /** SYN (or SYN-ACK) retransmissions before giving up. Default 6, as Linux's tcp_syn_retries. */
  synRetries: number
  /** Data retransmissions before the connection is aborted with ETIMEDOUT. Default 15, as Linux's tcp_retries2. */
  maxRetransmits: number
  /** User timeout (RFC 9293 §3.8.4, RFC 5482): abort when sent data stays unacknowledged this long, µs; 0 disables. Default 0. */
  userTimeout: Micros
  /** TIME_WAIT duration (2·MSL, RFC 9293 §3.4.2) in µs. Default 60 s, as Linux. */
  timeWaitTimeout: Micros
  /** Keepalive (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6): off by default. */
  keepAlive: boolean
  /** Idle time before the first keepalive probe, µs. Default 2 h. */
  keepAliveIdle: Micros
  /** Interval between keepalive probes, µs. Default 75 s. */
  keepAliveInterval: Micros
  /** Unanswered probes before the connection is dropped. Default 9. */
  keepAliveCount: number
  /**
   * Pace sending at the native rate, as Linux does: gain × cwnd / srtt, 2 in slow start and 1.2 after
   * (RFC 9438 §4.10 leaves pacing to the implementation). A controller with its own `pacingRate` (CCP's
   * `set_rate_abs`) paces the connection whatever this says. Default false.
   */
  pacing: boolean
  /** Most bytes sent back to back while paced, in [1, 1 GiB]. Default 3028 (two full frames, as Linux's fq). */
  pacingQuantum: number
  /** A cap on the sending rate in bytes/s (SO_MAX_PACING_RATE); Infinity for none. A finite cap paces the connection. Default Infinity. */
  maxPacingRate: number
  /**
   * Largest payload of one outgoing segment when the port cuts segments itself (TCP segmentation
   * offload), in [0, 65_000]; 0 (default) sends MSS-sized segments only. New data then goes in super
   * segments of whole MSS multiples that the NIC or kernel cuts to the MSS.
   */
  segmentationMax: number
  /**
   * Tail loss probes (RFC 8985 §7, the TLP half of RACK-TLP): with SACK, when a flight goes unacknowledged
   * for about two round trips, send one probe segment (new data, else the last segment again) so that the
   * loss of a flight's tail, or of the ACKs for it, is repaired by SACK recovery instead of the RTO. Default true.
   */
  tailLossProbe: boolean
  /**
   * How losses are detected and repaired (with SACK; without it every mode is NewReno):
   * - `'rack'` (default): RACK-TLP (RFC 8985), time-based marking with a reordering window that D-SACK
   *   grows, lost retransmissions found without an RTO, and Proportional Rate Reduction (RFC 6937) for
   *   the window during recovery, as Linux;
   * - `'rfc6675'`: SACK-based recovery by DupThresh and the scoreboard (RFC 6675 §5);
   * - `'newreno'`: duplicate and partial ACKs only (RFC 5681 §3.2, RFC 6582), SACK blocks ignored for recovery.
   */
  lossDetection: LossDetection
  /**
   * Restart from the initial window after an idle period longer than the RTO (RFC 5681 §4.1), as Linux's
   * net.ipv4.tcp_slow_start_after_idle. Default true.
   */
  slowStartAfterIdle: boolean
  /**
   * The offset of the timestamp clock (RFC 7323 §5.4): TSval = milliseconds of the stack's clock + this,
   * modulo 2^32. Default undefined: an offset per connection derived from its ISS, so that timestamps do
   * not reveal the host's uptime. Set it to run a connection's clock across the 2^32 wrap in a test.
   */
  timestampOffset: number | undefined
  /**
   * Explicit Congestion Notification (RFC 3168), as Linux's net.ipv4.tcp_ecn: `'on'` asks for it in the
   * SYN of an active open and accepts it on a passive one; `'passive'` (default, Linux's 2) only accepts
   * a peer's request; `'off'` refuses it. Once negotiated, new data goes out ECT(0), a CE mark is echoed
   * with ECE until the peer's CWR, and an ECE reduces the window once per window of data, without a
   * retransmission (rules/ecn.ts).
   */
  ecn: EcnMode
  /** A token-bucket rate limit on the connection's data: rate in bytes/s and burst in bytes, or undefined for none. Default none. */
  rateLimit: { rate: number; burst: number } | undefined
  /** The congestion controller, made per connection. */
  congestionControl: (mss: number) => CongestionControl
  /**
   * Where the send and receive rings take their storage from and give it back to when the connection
   * {@link TcpConnection.releaseBuffers | releases} it: one pool shared by many connections recycles it.
   * Default none (storage is allocated and left to the collector).
   */
  ringStorage: RingStoragePool | undefined
}

/** Thrown for a setting outside its range. */
export class TcpConfigError extends Error {
  override readonly name = 'TcpConfigError'
  readonly code = 'ERR_INVALID_CONFIG'
}

const SECOND = 1_000_000
const MIB = 1 << 20

/** Defaults, without the congestion controller. */
export const TCP_DEFAULTS: Omit<TcpConfig, 'congestionControl'> = Object.freeze({
  mss: 1460,
  sendBufferSize: MIB,
  receiveBufferSize: MIB,
  windowScaling: true,
  timestamps: true,
  sack: true,
  noDelay: false,
  delayedAckTimeout: 40_000,
  minRto: 200_000,
  maxRto: 60 * SECOND,
  initialRto: SECOND,
  synRetries: 6,
  maxRetransmits: 15,
  userTimeout: 0,
  timeWaitTimeout: 60 * SECOND,
  keepAlive: false,
  keepAliveIdle: 7200 * SECOND,
  keepAliveInterval: 75 * SECOND,
  keepAliveCount: 9,
  pacing: false,
  pacingQuantum: 3028,
  maxPacingRate: Number.POSITIVE_INFINITY,
  rateLimit: undefined,
  segmentationMax: 0,
  tailLossProbe: true,
  lossDetection: 'rack',
  slowStartAfterIdle: true,
  timestampOffset: undefined,
  ringStorage: undefined,
  ecn: 'passive',
})

type Range = readonly [min: number, max: number, integer: boolean]
const RANGES: Partial<Record<keyof TcpConfig, Range>> = {
  mss: [88, 65495, true],
  sendBufferSize: [1, 1 << 30, true],
  receiveBufferSize: [1, 1 << 30, true],
  delayedAckTimeout: [0, 500_000, false],
  minRto: [1000, 60 * SECOND, false],
  maxRto: [1000, 3600 * SECOND, false],
  initialRto: [1000, 3600 * SECOND, false],
  synRetries: [0, 255, true],
  maxRetransmits: [1, 255, true],
  userTimeout: [0, 86_400 * SECOND, false],
  timeWaitTimeout: [0, 3600 * SECOND, false],
  keepAliveIdle: [SECOND, 86_400 * SECOND, false],
  keepAliveInterval: [SECOND, 86_400 * SECOND, false],
  keepAliveCount: [1, 255, true],
  pacingQuantum: [1, 1 << 30, true],
  maxPacingRate: [1, Number.POSITIVE_INFINITY, false],
  segmentationMax: [0, 65_000, true],
}

/**
 * Fill defaults and check every numeric setting; throws {@link TcpConfigError} naming the setting and its range.
 * @param congestionControl - used when `options.congestionControl` is not given.
 */
export function resolveTcpConfig(options: Partial<TcpConfig>, congestionControl: (mss: number) => CongestionControl): TcpConfig {
  const config: TcpConfig = { ...TCP_DEFAULTS, congestionControl, ...stripUndefined(options) }
  for (const [key, [min, max, integer]] of Object.entries(RANGES) as [keyof TcpConfig, Range][]) {
    const value = config[key] as number
    if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      throw new TcpConfigError(`${key} must be ${integer ? 'an integer ' : ''}in [${min}, ${max}], got ${String(value)}`)
    }
  }
  const offset = config.timestampOffset
  if (offset !== undefined && (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0 || offset > 0xffffffff)) {
    throw new TcpConfigError(`timestampOffset must be an integer in [0, 4294967295] or undefined, got ${String(offset)}`)
  }
  if (!LOSS_DETECTIONS.includes(config.lossDetection)) {
    throw new TcpConfigError(`lossDetection must be one of ${LOSS_DETECTIONS.map((name) => `'${name}'`).join(', ')}, got ${String(config.lossDetection)}`)
  }
  if (config.ringStorage !== undefined && !(config.ringStorage instanceof RingStoragePool)) {
    throw new TcpConfigError(`ringStorage must be a RingStoragePool or undefined, got ${typeof config.ringStorage}`)
  }
  if (!ECN_MODES.includes(config.ecn)) {
    throw new TcpConfigError(`ecn must be one of ${ECN_MODES.map((name) => `'${name}'`).join(', ')}, got ${String(config.ecn)}`)
  }
  if (config.minRto > config.maxRto) throw new TcpConfigError(`minRto (${config.minRto}) must not exceed maxRto (${config.maxRto})`)
  return config
}

function stripUndefined<T extends object>(options: T): Partial<T> {
  const out: Partial<T> = {}
  for (const [key, value] of Object.entries(options)) if (value !== undefined) (out as Record<string, unknown>)[key] = value
  return out
}
