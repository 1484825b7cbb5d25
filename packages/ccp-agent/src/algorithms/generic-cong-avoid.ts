/**
 * The frame Reno and Cubic share, behaving as ccp-project's generic-cong-avoid under portus 0.8: the
 * datapath reports once per RTT (or per ACK, or per interval), the agent runs slow start and the window's
 * increase and reduction, and answers each report with the new window in one UPDATE_FIELDS. A loss or a
 * timeout makes the datapath report at once.
 *
 * The arithmetic is pinned by ccp-vectors/session-reno.json and session-cubic.json (every UPDATE_FIELDS
 * of both recordings is reproduced by the replay tests):
 * - slow start in the agent: `cwnd += acked` while `cwnd < ssthresh` (initially 0x7fffffff), the bytes past
 *   ssthresh going to the window's increase;
 * - then the window's `increase` with the bytes left, then, on loss or SACKs, one `reduction` per loss
 *   episode (ssthresh := the reduced window), counted in packets as generic-cong-avoid's deficit;
 * - while a deficit is outstanding no update is sent; a timeout halves ssthresh and restarts the window at
 *   the initial window.
 * - One difference from portus, on purpose: the deficit is paid down with every byte a report acknowledged,
 *   not only the bytes slow start left over, which in slow start is none (portus's window freeze, issue 17).
 * @module
 */
import type { CongestionAlgorithm, Flow, Report } from '../flow.js'
import { AgentError } from '../errors.js'
import { lowU32 } from './u32.js'

/** What a generic-cong-avoid report carries (its programs' report fields), as numbers. */
export interface WindowMeasurements {
  /** Bytes acknowledged in order since the last report (what slow start has not used, inside `increase`). */
  acked: number
  /** Packets SACKed (misordered) since the last report. */
  sacked: number
  /** Packets lost in the last ACK before the report. */
  loss: number
  /** A retransmission timeout happened. */
  wasTimeout: boolean
  /** The last RTT sample in µs. */
  rtt: number
  /** Packets in flight. */
  inflight: number
}

/** A congestion window rule plugged into {@link GenericCongAvoid}: Reno's, Cubic's, or yours. */
export interface CongestionWindow {
  /** The window in bytes (an integer). */
  current(): number
  /** Set the window in bytes. */
  set(bytes: number): void
  /** Grow for the bytes in `measurements.acked` (already past slow start); `nowUs` is the agent's clock. */
  increase(measurements: WindowMeasurements, nowUs: number): void
  /** Shrink after a loss. */
  reduction(measurements: WindowMeasurements): void
  /** Forget the history after a timeout. */
  reset(): void
}

/** How often the datapath reports. */
export type ReportingMode =
  /** Once per RTT, and at once on loss or timeout (`DatapathIntervalRTTProg`; the default). */
  | 'rtt'
  /** On every ACK (`AckUpdateProg`): exact, but it does not scale. */
  | 'ack'
  /** Every `intervalUs` µs, and at once on loss or timeout (`DatapathIntervalProg`). */
  | { readonly intervalUs: number }

/** Options of {@link GenericCongAvoid} (generic-cong-avoid's command-line flags). */
export interface GenericCongAvoidOptions {
  /** The name datapaths ask for in CREATE; default the algorithm's own (`reno`, `cubic`). */
  name?: string
  /** How often the datapath reports. Default `'rtt'`. */
  report?: ReportingMode
  /**
   * Slow start in the datapath (`SSUpdateProg`: `Cwnd += acked` per ACK, report on loss only) until the first
   * report, then the reporting mode's program. Default false: slow start in the agent.
   */
  slowStartInDatapath?: boolean
  /** Initial window in bytes; 0 (the default) takes the datapath's from CREATE. */
  initCwnd?: number
  /** Initial slow-start threshold in bytes. Default 0x7fffffff. */
  ssThresh?: number
  /** Grow by `acked / ln 2` in slow start, to make up for reporting once per RTT. Default false. */
  compensateUpdate?: boolean
  /** RTTs after a reduction after which a new loss may reduce again although the deficit is not repaid; 0 (the default) never. */
  deficitTimeout?: number
}

/** generic-cong-avoid's default slow-start threshold. */
export const DEFAULT_SS_THRESH = 0x7fff_ffff

/** The report fields every generic-cong-avoid program defines, in MEASURE order. */
const REPORT_DEF = `(Report
    (volatile acked 0)
    (volatile sacked 0)
    (volatile loss 0)
    (volatile timeout false)
    (volatile rtt 0)
    (volatile inflight 0))`

const MEASURE_ALL = `
    (:= Report.inflight Flow.packets_in_flight)
    (:= Report.rtt Flow.rtt_sample_us)
    (:= Report.acked (+ Report.acked Ack.bytes_acked))
    (:= Report.sacked (+ Report.sacked Ack.packets_misordered))
    (:= Report.loss Ack.lost_pkts_sample)
    (:= Report.timeout Flow.was_timeout)`

const MEASURE_ALL_ACK_FIRST = `
    (:= Report.acked (+ Report.acked Ack.bytes_acked))
    (:= Report.sacked (+ Report.sacked Ack.packets_misordered))
    (:= Report.loss Ack.lost_pkts_sample)
    (:= Report.timeout Flow.was_timeout)
    (:= Report.rtt Flow.rtt_sample_us)
    (:= Report.inflight Flow.packets_in_flight)`

/** An urgent report on a timeout or a loss. */
const URGENT = '(when (|| Report.timeout (> Report.loss 0))'

/**
 * generic-cong-avoid's four datapath programs (portus compiles them to the bytes in ccp-vectors/programs.json).
 */
export const GENERIC_CONG_AVOID_PROGRAMS: Readonly<Record<string, string>> = Object.freeze({
  DatapathIntervalProg: `
(def ${REPORT_DEF} (reportTime 0))
(when true ${MEASURE_ALL}
    (fallthrough))
${URGENT}
    (report)
    (:= Micros 0))
(when (> Micros reportTime)
    (report)
    (:= Micros 0))`,
  DatapathIntervalRTTProg: `
(def ${REPORT_DEF})
(when true ${MEASURE_ALL}
    (fallthrough))
${URGENT}
    (report)
    (:= Micros 0))
(when (> Micros Flow.rtt_sample_us)
    (report)
    (:= Micros 0))`,
  AckUpdateProg: `
(def ${REPORT_DEF})
(when true ${MEASURE_ALL_ACK_FIRST}
    (report))`,
  SSUpdateProg: `
(def ${REPORT_DEF})
(when true ${MEASURE_ALL_ACK_FIRST}
    (:= Cwnd (+ Cwnd Ack.bytes_acked))
    (fallthrough))
${URGENT}
    (report))`,
})

/** Per-flow state of a {@link GenericCongAvoid} algorithm. */
export interface GenericCongAvoidState {
  readonly window: CongestionWindow
  readonly initCwnd: number
  readonly mss: number
  ssThresh: number
  /** The last RTT sample reported, µs. */
  rtt: number
  /** Slow start runs in the datapath until the first report. */
  inStartup: boolean
  /** Packets lost or SACKed not yet repaid since the last reduction. */
  cwndDeficit: number
  /** When the window was last reduced (agent clock, µs). */
  lastReductionUs: number
}

function checkOption(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new AgentError('ERR_INVALID_CONFIG', `${name} must be an integer in [${min}, ${max}], got ${String(value)}`)
  }
  return value
}

/**
 * generic-cong-avoid: slow start and loss handling around a {@link CongestionWindow}. Extend it with
 * `createWindow` to make a new window rule; {@link Reno} and {@link Cubic} do.
 */
export abstract class GenericCongAvoid implements CongestionAlgorithm<GenericCongAvoidState> {
  readonly name: string
  readonly programs = GENERIC_CONG_AVOID_PROGRAMS
  readonly #report: ReportingMode
  readonly #slowStartInDatapath: boolean
  readonly #initCwnd: number
  readonly #ssThresh: number
  readonly #compensate: boolean
  readonly #deficitTimeout: number

  constructor(defaultName: string, options: GenericCongAvoidOptions = {}) {
    this.name = options.name ?? defaultName
    const report = options.report ?? 'rtt'
    if (report !== 'rtt' && report !== 'ack') {
      if (typeof report !== 'object' || report === null) {
        throw new AgentError('ERR_INVALID_CONFIG', `report must be 'rtt', 'ack' or { intervalUs }, got ${String(report)}`)
      }
      checkOption('report.intervalUs', report.intervalUs, 1, 0xffff_ffff)
    }
    this.#report = report
    this.#slowStartInDatapath = options.slowStartInDatapath ?? false
    this.#initCwnd = checkOption('initCwnd', options.initCwnd ?? 0, 0, 0xffff_ffff)
    this.#ssThresh = checkOption('ssThresh', options.ssThresh ?? DEFAULT_SS_THRESH, 0, 0xffff_ffff)
    this.#compensate = options.compensateUpdate ?? false
    this.#deficitTimeout = checkOption('deficitTimeout', options.deficitTimeout ?? 0, 0, 0xffff_ffff)
  }

  /** A new window for a flow, in bytes. */
  protected abstract createWindow(initCwnd: number, mss: number): CongestionWindow

  onCreate(flow: Flow<GenericCongAvoidState>): void {
    const initCwnd = this.#initCwnd !== 0 ? this.#initCwnd : flow.initCwnd
    flow.state = {
      window: this.createWindow(initCwnd, flow.mss),
      initCwnd,
      mss: flow.mss,
      ssThresh: this.#ssThresh,
      rtt: 0,
      inStartup: false,
      cwndDeficit: 0,
      lastReductionUs: flow.now() - 500_000,
    }
    if (this.#slowStartInDatapath) {
      flow.changeProgram('SSUpdateProg')
      flow.state.inStartup = true
    } else {
      this.#reportingProgram(flow)
    }
  }

  onReport(flow: Flow<GenericCongAvoidState>, report: Report): void {
    const state = flow.state
    const measurements: WindowMeasurements = {
      acked: lowU32(report.acked ?? 0),
      sacked: lowU32(report.sacked ?? 0),
      loss: lowU32(report.loss ?? 0),
      wasTimeout: lowU32(report.timeout ?? 0) === 1,
      rtt: lowU32(report.rtt ?? 0),
      inflight: lowU32(report.inflight ?? 0),
    }
    if (state.inStartup) {
      // The datapath grew the window itself: carry on from what is in flight.
      this.#reportingProgram(flow)
      state.window.set(measurements.inflight * state.mss)
      state.inStartup = false
    }
    state.rtt = measurements.rtt
    if (measurements.wasTimeout) {
      this.#timeout(flow)
      return
    }
    const acked = measurements.acked
    measurements.acked = this.#slowStart(state, acked)
    state.window.increase(measurements, flow.now())
    this.#maybeReduce(flow, measurements, acked)
    if (state.cwndDeficit > 0) return
    flow.setCwnd(state.window.current())
  }

  #reportingProgram(flow: Flow<GenericCongAvoidState>): void {
    const report = this.#report
    if (report === 'rtt') flow.changeProgram('DatapathIntervalRTTProg')
    else if (report === 'ack') flow.changeProgram('AckUpdateProg')
    else flow.changeProgram('DatapathIntervalProg', { reportTime: report.intervalUs })
  }

  #timeout(flow: Flow<GenericCongAvoidState>): void {
    const state = flow.state
    state.ssThresh = Math.max(Math.floor(state.ssThresh / 2), state.initCwnd)
    state.window.reset()
    state.window.set(state.initCwnd)
    state.cwndDeficit = 0
    flow.setCwnd(state.window.current())
  }

  /** Slow start: the window takes the acked bytes up to ssthresh; returns the bytes left for `increase`. */
  #slowStart(state: GenericCongAvoidState, acked: number): number {
    const current = state.window.current()
    if (current >= state.ssThresh) return acked
    if (current + acked > state.ssThresh) {
      state.window.set(state.ssThresh)
      return acked - (state.ssThresh - current)
    }
    state.window.set(current + (this.#compensate ? Math.trunc(acked / Math.LN2) : acked))
    return 0
  }

  /**
   * One reduction per loss episode; the packets lost or SACKed since are a deficit that clean reports pay
   * down before a window is sent again. `ackedInReport` is every byte the report acknowledged: portus pays
   * with what slow start left over (`measurements.acked`), which in slow start is nothing, so a report with
   * SACKs and no loss froze the window for good (issue 17, 5). Outside slow start the two are equal, so
   * the recorded portus sessions replay unchanged.
   */
  #maybeReduce(flow: Flow<GenericCongAvoidState>, measurements: WindowMeasurements, ackedInReport: number): void {
    const state = flow.state
    if (measurements.loss > 0 || measurements.sacked > 0) {
      const now = flow.now()
      if (this.#deficitTimeout > 0 && now - state.lastReductionUs > Math.trunc(state.rtt * this.#deficitTimeout)) {
        state.cwndDeficit = 0
      }
      // A new loss episode, or a partial ACK while the window sits at ssthresh: reduce once.
      if ((measurements.loss > 0 && state.cwndDeficit === 0) || (measurements.acked > 0 && state.window.current() === state.ssThresh)) {
        state.window.reduction(measurements)
        state.lastReductionUs = now
        state.ssThresh = state.window.current()
        flow.setCwnd(state.window.current())
      }
      state.cwndDeficit += measurements.sacked + measurements.loss
    } else if (ackedInReport < state.cwndDeficit) {
      // generic-cong-avoid compares bytes with packets here and divides in f32: kept as it is.
      state.cwndDeficit -= Math.trunc(Math.fround(Math.fround(ackedInReport) / Math.fround(state.mss)))
    } else {
      state.cwndDeficit = 0
    }
  }
}
