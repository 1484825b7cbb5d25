/**
 * BBR v1 as ccp-project's bbr runs under portus 0.8: the model is the bottleneck rate (the largest delivery
 * rate reported) and the minimum RTT; the datapath does the pacing-gain cycle itself.
 *
 * - Startup: `init_program` measures for one RTT (the largest `min(rate_outgoing, rate_incoming)` and the
 *   smallest RTT) with the window the datapath started with, then reports.
 * - `probe_bw`: the datapath cycles the pacing rate through 5/4, 3/4, then 1 of the bottleneck rate (after one
 *   minimum RTT, then after two, until eight: Linux BBR's 1.25/0.75/1… gains in one 8-RTT cycle) and resets
 *   the window to `cwndCap` = 2 × rate × min RTT each cycle. The agent updates these four values whenever
 *   a report shows a higher rate or a lower RTT.
 * - `probe_rtt`: when no lower RTT has been seen for 10 s, the window drops to 4 packets until the flight is
 *   that small and at least 200 ms and one RTT have passed; the report it sends refreshes the minimum RTT and
 *   the flow goes back to `probe_bw`.
 *
 * ccp-project's bbr has no drain state apart from that (its startup lasts one RTT, at the datapath's initial
 * window), and neither does this port: it answers session-bbr.json message for message. Rates and windows
 * are Rust `as u32` conversions: saturated at 2^32 − 1.
 * @module
 */
import type { CongestionAlgorithm, Flow, Report } from '../flow.js'
import { AgentError } from '../errors.js'
import { lowU32, saturatingU32 } from './u32.js'

/** ccp-project's bbr's three datapath programs (portus compiles them to the bytes in ccp-vectors/programs.json). */
export const BBR_PROGRAMS: Readonly<Record<string, string>> = Object.freeze({
  init_program: `
(def (Report
    (volatile loss 0)
    (minrtt +infinity)
    (volatile rate 0)
    (pulseState 0)))
(when true
    (:= Report.loss (+ Report.loss Ack.lost_pkts_sample))
    (:= Report.minrtt (min Report.minrtt Flow.rtt_sample_us))
    (:= Report.rate (max Report.rate (min Flow.rate_outgoing Flow.rate_incoming)))
    (:= Report.pulseState 5)
    (fallthrough))
(when (> Micros Report.minrtt)
    (report))`,
  probe_rtt: `
(def
    (Report (volatile minrtt +infinity))
    (volatile target_inflight_reached 0))
(when true
    (:= Report.minrtt (min Report.minrtt Flow.rtt_sample_us))
    (fallthrough))
(when (&& (== target_inflight_reached 0)
          (|| (< Flow.packets_in_flight 4) (== Flow.packets_in_flight 4)))
    (:= target_inflight_reached 1)
    (:= Micros 0))
(when (&& (== target_inflight_reached 1)
          (&& (> Micros Flow.rtt_sample_us) (> Micros 200000)))
    (:= Micros 0)
    (report))`,
  probe_bw: `
(def
    (Report
        (volatile loss 0)
        (volatile minrtt +infinity)
        (volatile rate 0)
        (pulseState 0))
    (pulseState 0)
    (cwndCap 0)
    (bottleRate 0)
    (threeFourthsRate 0)
    (fiveFourthsRate 0))
(when true
    (:= Report.loss (+ Report.loss Ack.lost_pkts_sample))
    (:= Report.minrtt (min Report.minrtt Flow.rtt_sample_us))
    (:= Report.pulseState pulseState)
    (:= Report.rate (max Report.rate (min Flow.rate_outgoing Flow.rate_incoming)))
    (fallthrough))
(when (&& (> Micros Report.minrtt) (== pulseState 0))
    (:= Rate threeFourthsRate)
    (:= pulseState 1)
    (report))
(when (&& (> Micros (* Report.minrtt 2)) (== pulseState 1))
    (:= Rate bottleRate)
    (:= pulseState 2)
    (report))
(when (&& (> Micros (* Report.minrtt 8)) (== pulseState 2))
    (:= pulseState 0)
    (:= Cwnd cwndCap)
    (:= Rate fiveFourthsRate)
    (:= Micros 0)
    (report))`,
})

/** Options of {@link Bbr}. */
export interface BbrOptions {
  /** The name datapaths ask for in CREATE. Default `bbr`. */
  name?: string
  /** How long a minimum RTT stays valid before `probe_rtt` re-measures it, µs. Default 10 s. */
  probeRttIntervalUs?: number
}

/** The phase a BBR flow is in. */
export type BbrPhase = 'startup' | 'probe_bw' | 'probe_rtt'

/** Per-flow state of {@link Bbr}. */
export interface BbrState {
  phase: BbrPhase
  /** The bottleneck rate estimate, bytes per second. */
  bottleRate: number
  /** The minimum RTT estimate, µs. */
  minRttUs: number
  /** When the minimum RTT expires (agent clock, µs). */
  minRttExpiresUs: number
}

/** The starting estimates: 1 Mbit/s and 1 s, as ccp-project's bbr. */
const INITIAL_BOTTLE_RATE = 125_000
const INITIAL_MIN_RTT_US = 1_000_000
/** What the minimum RTT is set to on entering probe_rtt, so the next report's RTT replaces it. */
const PROBE_RTT_MIN_RTT_US = 0x3fff_ffff
/** The window in probe_rtt, packets (Linux's bbr_cwnd_min_target). */
const PROBE_RTT_CWND_PACKETS = 4

/** BBR v1 as ccp-project's bbr (startup, probe_bw with gains 1.25/0.75/1, probe_rtt). */
export class Bbr implements CongestionAlgorithm<BbrState> {
  readonly name: string
  readonly programs = BBR_PROGRAMS
  readonly #probeRttInterval: number

  constructor(options: BbrOptions = {}) {
    this.name = options.name ?? 'bbr'
    const interval = options.probeRttIntervalUs ?? 10_000_000
    if (typeof interval !== 'number' || !Number.isInteger(interval) || interval < 1) {
      throw new AgentError('ERR_INVALID_CONFIG', `probeRttIntervalUs must be a positive integer of µs, got ${String(interval)}`)
    }
    this.#probeRttInterval = interval
  }

  onCreate(flow: Flow<BbrState>): void {
    const now = flow.now()
    flow.state = {
      phase: 'startup',
      bottleRate: INITIAL_BOTTLE_RATE,
      minRttUs: INITIAL_MIN_RTT_US,
      minRttExpiresUs: now + this.#probeRttInterval,
    }
    flow.changeProgram('init_program', { Cwnd: flow.initCwnd })
  }

  onReport(flow: Flow<BbrState>, report: Report): void {
    const state = flow.state
    const now = flow.now()
    if (state.phase === 'probe_rtt') {
      state.minRttUs = lowU32(report.minrtt ?? PROBE_RTT_MIN_RTT_US)
      state.minRttExpiresUs = now + this.#probeRttInterval
      this.#enterProbeBw(flow)
      return
    }
    const minRtt = lowU32(report.minrtt ?? 0)
    const rate = report.rate ?? 0
    if (minRtt < state.minRttUs) {
      state.minRttUs = minRtt
      state.minRttExpiresUs = now + this.#probeRttInterval
      // probe_bw reads Report.minrtt itself; only the window cap depends on it here.
      if (state.phase === 'probe_bw') flow.update({ cwndCap: this.#cwndCap(state) })
    }
    if (now > state.minRttExpiresUs) {
      state.phase = 'probe_rtt'
      state.minRttUs = PROBE_RTT_MIN_RTT_US
      flow.changeProgram('probe_rtt')
      // After the program change, so the datapath keeps it.
      flow.setCwnd(PROBE_RTT_CWND_PACKETS * flow.mss)
      return
    }
    if (state.bottleRate < rate) {
      state.bottleRate = rate
      if (state.phase === 'probe_bw') {
        flow.update({
          bottleRate: saturatingU32(state.bottleRate),
          threeFourthsRate: saturatingU32(state.bottleRate * 0.75),
          fiveFourthsRate: saturatingU32(state.bottleRate * 1.25),
          cwndCap: this.#cwndCap(state),
        })
      }
    }
    if (state.phase === 'startup') this.#enterProbeBw(flow)
  }

  /** 2 × bottleneck rate × min RTT, in bytes. */
  #cwndCap(state: BbrState): number {
    return saturatingU32((state.bottleRate * 2.0 * state.minRttUs) / 1e6)
  }

  #enterProbeBw(flow: Flow<BbrState>): void {
    const state = flow.state
    const cwndCap = this.#cwndCap(state)
    const fiveFourthsRate = saturatingU32(state.bottleRate * 1.25)
    // As ccp-project's bbr: the window and the 5/4 rate in an UPDATE, then the program with its values.
    flow.setCwnd(cwndCap)
    flow.setRate(fiveFourthsRate)
    flow.changeProgram('probe_bw', {
      cwndCap,
      bottleRate: saturatingU32(state.bottleRate),
      threeFourthsRate: saturatingU32(state.bottleRate * 0.75),
      fiveFourthsRate,
    })
    state.phase = 'probe_bw'
  }
}
