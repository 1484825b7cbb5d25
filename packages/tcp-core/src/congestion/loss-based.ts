/**
 * The machinery shared by the native loss-based controllers (Reno and CUBIC): the initial window, slow
 * start, NewReno fast recovery, the retransmission-timeout response and the restart after idle. A
 * subclass supplies the multiplicative-decrease factor and the congestion-avoidance growth.
 *
 * Implements:
 * - RFC 5681 §3.1 (slow start, loss window, ssthresh after a timeout), §3.2 (fast retransmit / fast
 *   recovery), §4.1 (restarting idle connections);
 * - RFC 6582 §3.2 (NewReno: partial and full acknowledgments);
 * - RFC 3465 §2.2–2.3 (appropriate byte counting in slow start, L = 2*SMSS, 1*SMSS after a timeout);
 * - RFC 6928 §2 (initial window), generalised to a configurable segment count (see {@link initialWindow}).
 *
 * Units: every size is in bytes, every time in µs. The controller never reads a clock.
 * @module
 */
import type { AckSample, CongestionControl, CongestionControlOptions, Micros } from './congestion-control.js'
import { checkIntegerSetting } from './errors.js'

/** The default sender MSS: RFC 9293 §3.7.1 (536 bytes for IPv4 without a negotiated MSS). */
export const DEFAULT_MSS = 536

/** The default initial window in segments (RFC 6928 §2). */
export const DEFAULT_INITIAL_WINDOW_SEGMENTS = 10

/** The accepted range of the sender MSS in bytes (the MSS option is a 16-bit field, RFC 9293 §3.2). */
export const MSS_RANGE = { min: 1, max: 65535 } as const

/** The accepted range of {@link CongestionControlOptions.initialWindowSegments}. */
export const INITIAL_WINDOW_SEGMENTS_RANGE = { min: 1, max: 1000 } as const

/**
 * The byte allowance per initial segment in RFC 6928's formula: 14600 bytes for 10 segments, i.e. the
 * payload of a 1500-byte Ethernet frame.
 */
const INITIAL_WINDOW_BYTES_PER_SEGMENT = 1460

/**
 * The largest congestion window or threshold the controllers ever hold: 2^31 bytes. TCP can never use
 * that much (RFC 7323 §2.3: the window is at most 2^30 bytes, and sequence numbers compare only within
 * 2^31 bytes), so saturating here changes no real behaviour and keeps every value finite whatever the
 * inputs.
 */
export const MAXIMUM_WINDOW = 2 ** 31

/**
 * The initial window in bytes for a sender MSS and a segment count N.
 *
 * RFC 6928 §2: `IW = min(10*MSS, max(2*MSS, 14600))`. With N segments the 10 becomes N and the byte
 * allowance 14600 scales with it to `N*1460`:
 *
 * `IW = min(N*MSS, max(2*MSS, N*1460))`
 *
 * so N = 10 (the default) is RFC 6928 exactly; never more than N segments; with an MSS of at most 1460
 * bytes the window is N full segments; with a larger (jumbo) MSS it is `N*1460` bytes, but at least two
 * segments when N ≥ 2; N = 1 gives one segment.
 */
export function initialWindow(mss: number, segments: number = DEFAULT_INITIAL_WINDOW_SEGMENTS): number {
  return Math.min(segments * mss, Math.max(2 * mss, segments * INITIAL_WINDOW_BYTES_PER_SEGMENT))
}

/**
 * Validate {@link CongestionControlOptions}; throws `ERR_INVALID_ARG` naming the setting and its range.
 * @internal
 */
export function resolveOptions(options: CongestionControlOptions | undefined): Required<CongestionControlOptions> {
  const mss = options?.mss ?? DEFAULT_MSS
  const segments = options?.initialWindowSegments ?? DEFAULT_INITIAL_WINDOW_SEGMENTS
  checkIntegerSetting('mss', mss, MSS_RANGE.min, MSS_RANGE.max)
  checkIntegerSetting(
    'initialWindowSegments',
    segments,
    INITIAL_WINDOW_SEGMENTS_RANGE.min,
    INITIAL_WINDOW_SEGMENTS_RANGE.max,
  )
  return { mss, initialWindowSegments: segments }
}

/**
 * A byte count from the connection, made safe: NaN, negative and non-finite values become 0 or the
 * maximum, so no arithmetic here can produce NaN or Infinity.
 * @internal
 */
export function byteCount(value: number): number {
  return value > 0 ? Math.min(value, MAXIMUM_WINDOW) : 0
}

/**
 * The base of the native loss-based controllers: everything but the congestion-avoidance growth and the
 * multiplicative-decrease factor.
 *
 * The connection owns loss detection and tells the controller where it is in the episode; the calls the
 * controller receives out of order are ignored rather than guessed at (see each method).
 */
export abstract class LossBasedControl implements CongestionControl {
  abstract readonly name: string
  /** The initial window in segments (N in {@link initialWindow}). */
  readonly initialWindowSegments: number

  /** The sender MSS (SMSS) in bytes. */
  protected mss: number
  /** cwnd in bytes; may hold a fraction (CUBIC), {@link window} rounds it down. */
  protected cwnd: number
  /** ssthresh in bytes; +Infinity until the first congestion event (RFC 5681 §3.1: "arbitrarily high"). */
  protected ssthresh = Number.POSITIVE_INFINITY

  /** Whether a fast-recovery episode is in progress (between onEnterRecovery and onExitRecovery/RTO). */
  #inRecovery = false
  /** Whether anything but setMss was called: until then the window follows the MSS as the initial window. */
  #started = false
  /** Slow start following a retransmission timeout: the ABC limit is 1*SMSS (RFC 3465 §2.3). */
  #slowStartAfterTimeout = false
  /**
   * A timeout happened and no new data was acknowledged since: a further timeout is a repeated
   * retransmission, for which RFC 5681 §3.1 holds ssthresh constant.
   */
  #timeoutBackoff = false
  readonly #hystart = new HyStartPlusPlus()
  /** cwnd and ssthresh before the last congestion event, for {@link onUndo}; -1 when nothing can be undone. */
  #priorCwnd = -1
  #priorSsthresh = Number.POSITIVE_INFINITY

  /**
   * The multiplicative-decrease factor applied to FlightSize on a congestion event: 1/2 for Reno
   * (RFC 5681 eq. 4), β_cubic = 0.7 for CUBIC (RFC 9438 §4.6).
   */
  protected abstract readonly multiplicativeDecrease: number

  constructor(options?: CongestionControlOptions) {
    const resolved = resolveOptions(options)
    this.mss = resolved.mss
    this.initialWindowSegments = resolved.initialWindowSegments
    // RFC 6928 §2 / RFC 5681 §3.1: cwnd starts at the initial window.
    this.cwnd = initialWindow(this.mss, this.initialWindowSegments)
  }

  /** The congestion window in whole bytes (RFC 5681 cwnd), inflated during fast recovery. */
  get window(): number {
    return Math.floor(this.cwnd)
  }

  /** The slow-start threshold in bytes; +Infinity before the first congestion event. */
  get slowStartThreshold(): number {
    return this.ssthresh
  }

  /** Always undefined: the native controllers leave pacing to the connection's configuration. */
  get pacingRate(): number | undefined {
    return undefined
  }

  /** The sender MSS (SMSS) in bytes. */
  get maxSegmentSize(): number {
    return this.mss
  }

  /** The initial window in bytes for the current MSS ({@link initialWindow}); also the restart window cap. */
  get initialWindow(): number {
    return initialWindow(this.mss, this.initialWindowSegments)
  }

  /** Whether a fast-recovery episode is in progress. */
  get inRecovery(): boolean {
    return this.#inRecovery
  }

  /** Whether the controller is in slow start (cwnd < ssthresh, RFC 5681 §3.1). */
  get inSlowStart(): boolean {
    return this.cwnd < this.ssthresh
  }

  /**
   * Set the sender MSS. Before any other call the window is the initial window for the new MSS. Later,
   * the window keeps its size in bytes, raised to at least one segment, and a finite ssthresh is raised
   * to at least two segments (the floor of RFC 5681 eq. 4).
   * @throws {@link CongestionControlError} `ERR_INVALID_ARG` unless `mss` is an integer in [1, 65535].
   */
  setMss(mss: number): void {
    checkIntegerSetting('mss', mss, MSS_RANGE.min, MSS_RANGE.max)
    const previous = this.mss
    this.mss = mss
    if (!this.#started) {
      this.cwnd = this.initialWindow
    } else {
      this.cwnd = Math.max(this.cwnd, mss)
      if (Number.isFinite(this.ssthresh)) this.ssthresh = Math.max(this.ssthresh, 2 * mss)
    }
    if (previous !== mss) this.onMssChange(previous)
  }

  /**
   * New data was cumulatively acknowledged outside recovery. Slow start below ssthresh, congestion
   * avoidance (the subclass) at or above it. Ignored during recovery (the window is then set by the
   * recovery steps, RFC 6582 §3.2), for an ACK that acknowledges nothing, and for data sent while
   * application-limited (see {@link AckSample.appLimited}: the window was not used, so the ACK says
   * nothing about the path; RFC 9438 §5.8, and RFC 7661's cwnd validation).
   */
  onAck(now: Micros, sample: AckSample): void {
    this.#started = true
    let bytesAcked = byteCount(sample.bytesAcked)
    if (bytesAcked === 0) return
    // New data acknowledged: a later timeout is not a repeated retransmission any more.
    this.#timeoutBackoff = false
    if (this.#inRecovery) return
    if (sample.appLimited) {
      this.onApplicationLimited(now)
      return
    }

    if (this.cwnd < this.ssthresh) {
      // RFC 9406 (HyStart++): in the initial slow start, leave early when the RTT starts to grow, so
      // slow start does not overshoot the path by up to a whole window and lose hundreds of segments.
      const hystart = Number.isFinite(this.ssthresh) ? 'off' : this.#hystart.onAck(sample, bytesAcked)
      if (hystart === 'exit') {
        this.ssthresh = this.cwnd
        return
      }
      if (hystart === 'conservative') {
        // RFC 9406 §4.2: Conservative Slow Start grows at a quarter of the slow-start rate.
        const limit = 2 * this.mss
        this.cwnd = Math.min(this.cwnd + Math.min(bytesAcked, limit) / CSS_GROWTH_DIVISOR, MAXIMUM_WINDOW)
        return
      }
      // RFC 5681 §3.1 slow start, with RFC 3465 §2.2 appropriate byte counting: grow by the bytes
      // acknowledged, at most L per ACK. L = 2*SMSS (RFC 3465 §2.3) so that a delayed ACK covering two
      // segments (RFC 5681 §4.2) still doubles the window per RTT, except L = 1*SMSS in slow start
      // following a retransmission timeout (RFC 3465 §2.3).
      const limit = (this.#slowStartAfterTimeout ? 1 : 2) * this.mss
      const increase = Math.min(bytesAcked, limit)
      if (this.cwnd + increase < this.ssthresh) {
        this.cwnd = Math.min(this.cwnd + increase, MAXIMUM_WINDOW)
        return
      }
      // Reaching ssthresh ends slow start; bytes beyond what it took to get there count towards
      // congestion avoidance (RFC 5681 §3.1: either algorithm may be used when cwnd = ssthresh).
      bytesAcked -= Math.max(0, this.ssthresh - this.cwnd)
      this.cwnd = this.ssthresh
      this.#slowStartAfterTimeout = false
      if (bytesAcked <= 0) return
    }
    this.#slowStartAfterTimeout = false
    this.congestionAvoidance(now, bytesAcked, sample)
    this.cwnd = Math.min(Math.max(this.cwnd, this.mss), MAXIMUM_WINDOW)
  }

  /**
   * Enter fast recovery (RFC 6582 §3.2 step 2, which runs RFC 5681 §3.2 steps 2–3): ssthresh from
   * FlightSize (eq. 4 with the subclass's factor, floored at 2*SMSS), then cwnd = ssthresh + 3*SMSS, the
   * three segments the duplicate ACKs say have left the network. Ignored when already in recovery
   * (RFC 6582 §3.2 step 2: one reduction per window of data).
   */
  onEnterRecovery(now: Micros, bytesInFlight: number, sackRecovery = false): void {
    this.#started = true
    if (this.#inRecovery) return
    this.#inRecovery = true
    this.#timeoutBackoff = false
    this.#slowStartAfterTimeout = false
    const windowBefore = this.cwnd
    this.#priorCwnd = windowBefore
    this.#priorSsthresh = this.ssthresh
    this.ssthresh = this.reducedThreshold(bytesInFlight)
    this.onCongestionEvent(now, windowBefore)
    // RFC 5681 §3.2 step 3: inflate by the three segments the duplicate ACKs say have left the network;
    // with SACK, RFC 6675 §5 (4.2): cwnd = ssthresh, and the pipe estimate accounts for what left.
    this.cwnd = sackRecovery ? this.ssthresh : Math.min(this.ssthresh + 3 * this.mss, MAXIMUM_WINDOW)
  }

  /** A further duplicate ACK in recovery: inflate cwnd by one SMSS (RFC 5681 §3.2 step 4). Ignored outside recovery. */
  onDuplicateAck(_now: Micros): void {
    this.#started = true
    if (!this.#inRecovery) return // RFC 5681 §3.2 step 1 / RFC 3042: the first duplicates do not change cwnd
    this.cwnd = Math.min(this.cwnd + this.mss, MAXIMUM_WINDOW)
  }

  /**
   * A partial ACK in recovery (RFC 6582 §3.2 step 3, "Partial acknowledgments"): deflate cwnd by the
   * bytes newly acknowledged, then add back one SMSS if they are at least one SMSS. The window never
   * drops below one SMSS. Ignored outside recovery.
   */
  onPartialAck(_now: Micros, bytesAcked: number): void {
    this.#started = true
    if (!this.#inRecovery) return
    const acked = byteCount(bytesAcked)
    const addBack = acked >= this.mss ? this.mss : 0
    this.cwnd = Math.max(this.cwnd - acked + addBack, this.mss)
  }

  /**
   * A full ACK ends recovery (RFC 6582 §3.2 step 3, "Full acknowledgments", option 1): cwnd =
   * min(ssthresh, max(FlightSize, SMSS) + SMSS), which avoids a burst when little is outstanding.
   * Ignored outside recovery.
   */
  onExitRecovery(_now: Micros, bytesInFlight: number): void {
    this.#started = true
    if (!this.#inRecovery) return
    this.#inRecovery = false
    const flight = byteCount(bytesInFlight)
    this.cwnd = Math.min(this.ssthresh, Math.max(flight, this.mss) + this.mss)
  }

  /**
   * The retransmission timer expired (RFC 5681 §3.1): ssthresh from FlightSize (eq. 4, with the
   * subclass's factor) unless this is a repeated timeout with no new data acknowledged since, in which
   * case ssthresh is held (RFC 5681 §3.1); cwnd = the loss window, one SMSS. Ends any recovery.
   */
  onRetransmitTimeout(now: Micros, bytesInFlight: number): void {
    this.#started = true
    const wasInRecovery = this.#inRecovery
    this.#inRecovery = false
    // A timeout during fast recovery is the same congestion event: ssthresh was already reduced on
    // entry, and FlightSize is now inflated by the data recovery sent, so it is kept (as Linux does in
    // tcp_enter_loss; RFC 6582's one reduction per window).
    if (!this.#timeoutBackoff && !wasInRecovery) {
      const windowBefore = this.cwnd
      this.#priorCwnd = windowBefore
      this.#priorSsthresh = this.ssthresh
      this.ssthresh = this.reducedThreshold(bytesInFlight)
      this.onCongestionEvent(now, windowBefore)
    }
    this.onTimeout(now)
    this.#timeoutBackoff = true
    this.#slowStartAfterTimeout = true
    // RFC 5681 §3.1: "cwnd MUST be set to no more than the loss window, LW, which equals 1 full-sized segment".
    this.cwnd = this.mss
  }

  /**
   * The connection was idle for more than an RTO (RFC 5681 §4.1): cwnd = min(RW, cwnd) with the restart
   * window RW = min(IW, cwnd), i.e. cwnd = min(IW, cwnd). ssthresh is kept.
   */
  onIdleRestart(now: Micros): void {
    this.#started = true
    this.cwnd = Math.min(this.initialWindow, this.cwnd)
    this.onRestart(now)
  }

  /**
   * The last congestion event was spurious (RFC 3708 D-SACK or RFC 3522 Eifel detection): cwnd and
   * ssthresh go back to at least their values before it (RFC 4015 §3.2's response; as Linux's
   * tcp_undo_cwnd_reduction, never lower than they are now), any recovery ends, and the subclass restores
   * its own state (`onUndoCongestionEvent`). Ignored when there is nothing to undo.
   */
  onUndo(now: Micros): void {
    if (this.#priorCwnd < 0) return
    this.#inRecovery = false
    this.#timeoutBackoff = false
    this.#slowStartAfterTimeout = false
    this.cwnd = Math.min(Math.max(this.cwnd, this.#priorCwnd), MAXIMUM_WINDOW)
    this.ssthresh = Math.max(this.ssthresh, this.#priorSsthresh)
    this.#priorCwnd = -1
    this.onUndoCongestionEvent(now)
  }

  /**
   * ssthresh after a congestion event: max(FlightSize * factor, 2*SMSS), in whole bytes
   * (RFC 5681 eq. 4; RFC 9438 §4.6 with β_cubic).
   */
  protected reducedThreshold(bytesInFlight: number): number {
    const flight = byteCount(bytesInFlight)
    return Math.max(Math.floor(flight * this.multiplicativeDecrease), 2 * this.mss)
  }

  /**
   * Congestion avoidance (cwnd ≥ ssthresh, outside recovery, not application-limited): grow `cwnd` for
   * `bytesAcked` newly acknowledged bytes. The base clamps the result to [SMSS, {@link MAXIMUM_WINDOW}].
   */
  protected abstract congestionAvoidance(now: Micros, bytesAcked: number, sample: AckSample): void

  /**
   * A congestion event set ssthresh (recovery entry, or the first of a run of timeouts). `windowBefore` is
   * cwnd just before the event. Called after ssthresh is set and before cwnd is.
   */
  protected onCongestionEvent(_now: Micros, _windowBefore: number): void {}

  /** Whether HyStart++ (RFC 9406) is in Conservative Slow Start. */
  get inConservativeSlowStart(): boolean {
    return this.#hystart.conservative
  }

  /** The last congestion event was undone ({@link onUndo}): restore what {@link onCongestionEvent} changed. */
  protected onUndoCongestionEvent(_now: Micros): void {}

  /** A retransmission timeout (any, including repeated ones), before cwnd is set to the loss window. */
  protected onTimeout(_now: Micros): void {}

  /** A restart after idle, after cwnd was reduced to the restart window. */
  protected onRestart(_now: Micros): void {}

  /** An ACK for data sent while application-limited arrived in place of growth. */
  protected onApplicationLimited(_now: Micros): void {}

  /** The MSS changed from `previous` to {@link mss}. */
  protected onMssChange(_previous: number): void {}
}

/** RFC 9406 §4.3 constants. */
const MIN_RTT_THRESH = 4000
const MAX_RTT_THRESH = 16_000
const MIN_RTT_DIVISOR = 8
const N_RTT_SAMPLE = 8
const CSS_GROWTH_DIVISOR = 4
const CSS_ROUNDS = 5

/**
 * HyStart++ (RFC 9406 §4.2) round and delay tracking. A round is the time to acknowledge the bytes that
 * were in flight when it started (an estimate of RFC 9406's windowEnd = SND.NXT without sequence numbers).
 * @internal
 */
class HyStartPlusPlus {
  #roundRemaining = 0
  #lastRoundMinRtt = Number.POSITIVE_INFINITY
  #currentRoundMinRtt = Number.POSITIVE_INFINITY
  #samples = 0
  #cssBaselineMinRtt = Number.POSITIVE_INFINITY
  #cssRounds = 0
  conservative = false

  /** Take one ACK in slow start; says whether to grow normally, conservatively, or to leave slow start. */
  onAck(sample: AckSample, bytesAcked: number): 'slow-start' | 'conservative' | 'exit' {
    this.#roundRemaining -= bytesAcked
    if (this.#roundRemaining <= 0) {
      // A new round (RFC 9406 §4.2: "at the start of each round during standard slow start and CSS").
      this.#roundRemaining = Math.max(sample.bytesInFlight - bytesAcked, 1)
      this.#lastRoundMinRtt = this.#currentRoundMinRtt
      this.#currentRoundMinRtt = Number.POSITIVE_INFINITY
      this.#samples = 0
      if (this.conservative && ++this.#cssRounds >= CSS_ROUNDS) {
        this.conservative = false
        return 'exit' // RFC 9406 §4.2: after CSS_ROUNDS rounds in CSS, enter congestion avoidance
      }
    }
    if (sample.rttSample !== undefined) {
      this.#currentRoundMinRtt = Math.min(this.#currentRoundMinRtt, sample.rttSample)
      this.#samples++
    }
    if (this.#samples >= N_RTT_SAMPLE && Number.isFinite(this.#currentRoundMinRtt)) {
      if (!this.conservative && Number.isFinite(this.#lastRoundMinRtt)) {
        const threshold = Math.max(MIN_RTT_THRESH, Math.min(this.#lastRoundMinRtt / MIN_RTT_DIVISOR, MAX_RTT_THRESH))
        if (this.#currentRoundMinRtt >= this.#lastRoundMinRtt + threshold) {
          this.#cssBaselineMinRtt = this.#currentRoundMinRtt
          this.conservative = true
          this.#cssRounds = 0
        }
      } else if (this.conservative && this.#currentRoundMinRtt < this.#cssBaselineMinRtt) {
        // RFC 9406 §4.2: the delay increase was spurious, resume standard slow start.
        this.#cssBaselineMinRtt = Number.POSITIVE_INFINITY
        this.conservative = false
      }
    }
    return this.conservative ? 'conservative' : 'slow-start'
  }
}
