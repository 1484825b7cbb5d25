/**
 * Time series of one connection, read from the stack's `tcpInfo` at a fixed period of the stack's clock:
 * what the report plots and the progress lines print.
 * @module
 */
import type { Clock, Micros, Timer } from '@mtcp/dpdk-io'
import type { Stack, TcpInfo } from '@mtcp/stack'

/** The sampled series, one entry per sample, column by column (so the report embeds them compactly). */
export interface PerfSeries {
  /** Seconds since sampling began. */
  t: number[]
  /** Goodput over the sample period: newly acknowledged data, Mbit/s. */
  goodputMbps: number[]
  /** Congestion window, bytes. */
  cwnd: number[]
  /** Slow-start threshold, bytes (null before the first loss). */
  ssthresh: (number | null)[]
  /** Smoothed RTT, ms (null before the first sample). */
  srttMs: (number | null)[]
  /** Smallest RTT so far, ms (null before the first sample). */
  minRttMs: (number | null)[]
  /** Retransmitted segments so far. */
  retransmits: number[]
  /** Retransmission timeouts so far. */
  timeouts: number[]
  /** Pacing rate, Mbit/s (0 when not paced). */
  pacingMbps: number[]
  /** Bytes in flight. */
  inFlight: number[]
  /** 1 while in loss recovery. */
  recovery: number[]
}

/** An empty {@link PerfSeries}. */
export function emptySeries(): PerfSeries {
  return { t: [], goodputMbps: [], cwnd: [], ssthresh: [], srttMs: [], minRttMs: [], retransmits: [], timeouts: [], pacingMbps: [], inFlight: [], recovery: [] }
}

/** Samples one connection every `periodUs` of its stack's clock until stopped. */
export class ConnectionSampler {
  readonly series: PerfSeries = emptySeries()
  /** The last reading, kept after the connection is gone. */
  last: TcpInfo | undefined
  readonly #stack: Stack
  readonly #fd: number
  readonly #clock: Clock
  readonly #period: Micros
  readonly #timer: Timer
  readonly #start: Micros
  #previousTime: Micros
  #previousAcked = 0
  #stopped = false
  #ticks = 1

  /**
   * Start sampling `fd` on `stack` now, then every `periodUs` µs (default 100 ms). `onSample` sees each
   * reading as it is taken.
   */
  constructor(
    stack: Stack,
    fd: number,
    periodUs: Micros = 100_000,
    /** Sees each reading as it is taken, with its index in the series. */
    readonly onSample?: (info: TcpInfo, index: number) => void,
  ) {
    this.#stack = stack
    this.#fd = fd
    this.#clock = stack.clock
    this.#period = periodUs
    this.#start = this.#clock.now()
    this.#previousTime = this.#start
    this.#timer = this.#clock.createTimer(() => this.#tick())
    this.sample()
    this.#timer.arm(this.#start + periodUs)
  }

  /** Take a reading now (also done on every period). Ignored once the socket is closed. */
  sample(): void {
    if (this.#stopped) return
    let info: TcpInfo
    try {
      info = this.#stack.tcpInfo(this.#fd)
    } catch {
      return // closed: keep what was read last
    }
    const now = this.#clock.now()
    const s = this.series
    if (s.t.length > 0 && now === this.#previousTime) return // nothing new since the last reading
    const elapsed = (now - this.#previousTime) / 1e6
    const acked = info.bytesAcked - this.#previousAcked
    s.t.push((now - this.#start) / 1e6)
    s.goodputMbps.push(elapsed > 0 ? (acked * 8) / 1e6 / elapsed : 0)
    s.cwnd.push(info.cwnd)
    s.ssthresh.push(Number.isFinite(info.ssthresh) && info.ssthresh < 2 ** 31 ? info.ssthresh : null)
    s.srttMs.push(info.srttUs > 0 ? info.srttUs / 1000 : null)
    s.minRttMs.push(info.minRttUs > 0 ? info.minRttUs / 1000 : null)
    s.retransmits.push(info.retransmittedSegments)
    s.timeouts.push(info.retransmitTimeouts)
    s.pacingMbps.push((info.pacingRate * 8) / 1e6)
    s.inFlight.push(info.bytesInFlight)
    s.recovery.push(info.inRecovery ? 1 : 0)
    this.#previousTime = now
    this.#previousAcked = info.bytesAcked
    this.last = info
    this.onSample?.(info, s.t.length - 1)
  }

  /** Take a last reading and stop. */
  stop(): void {
    if (this.#stopped) return
    this.sample()
    this.#stopped = true
    this.#timer.cancel()
  }

  #tick(): void {
    if (this.#stopped) return
    this.sample()
    // The next multiple of the period strictly after now, counted (not divided) so rounding cannot re-arm at now.
    const now = this.#clock.now()
    do this.#ticks++
    while (this.#start + this.#ticks * this.#period <= now)
    this.#timer.arm(this.#start + this.#ticks * this.#period)
  }
}
