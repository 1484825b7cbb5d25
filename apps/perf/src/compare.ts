/**
 * Comparing congestion controllers: `--cc reno,cubic,ccp:bbr` runs one transfer per controller, one after
 * another, each over a fresh emulated link with the same settings and seed (so the random losses are
 * drawn from the same sequence), and sums them up in a table and one report overlaying their plots.
 * @module
 */
import { writeFileSync } from 'node:fs'
import { PerfError } from './errors.js'
import { formatBitrate } from './format.js'
import type { PerfOptions } from './options.js'
import { type ComparisonRun, renderReport } from './report.js'
import { checkOutputPaths, type PerfHooks, type PerfResult, reportData, runPerf } from './run.js'

/** What {@link runComparison} produced: one result per controller that ran, in order. */
export interface PerfComparison {
  runs: PerfResult[]
  /** Interrupted (Ctrl-C) during one of the runs: the later controllers did not run. */
  interrupted: boolean
}

/** Hooks of {@link runComparison}: those of {@link runPerf}, for every run, and the start of each run. */
export interface ComparisonHooks extends PerfHooks {
  /** Before each run, with its index and its controller as `--cc` spells it. */
  onRunStart?: (index: number, congestionControl: string) => void
}

/** `--cc`'s spelling of a controller. */
function spell(cc: PerfOptions['congestionControl']): string {
  return cc.kind === 'native' ? cc.name : `ccp:${cc.algorithm}`
}

function meanOf(values: readonly (number | null)[]): number | undefined {
  let sum = 0
  let count = 0
  for (const value of values) {
    if (value === null) continue
    sum += value
    count++
  }
  return count === 0 ? undefined : sum / count
}

/** The figures a comparison tabulates for one run, as label → text. */
export function comparisonSummary(result: PerfResult): Record<string, string> {
  const { sender, receiver, tcpInfo } = result
  const senderRate = sender.elapsedSeconds > 0 ? (sender.bytesSent * 8) / sender.elapsedSeconds : 0
  const srtt = meanOf(result.series.srttMs)
  return {
    sender: formatBitrate(senderRate),
    receiver: receiver === undefined ? '-' : formatBitrate(receiver.mbps * 1e6),
    retransmits: String(tcpInfo?.retransmittedSegments ?? 0),
    'recovery episodes': String(tcpInfo?.fastRetransmits ?? 0),
    timeouts: String(tcpInfo?.retransmitTimeouts ?? 0),
    'mean srtt': srtt === undefined ? '-' : `${srtt.toFixed(1)} ms`,
    'link drops': result.link === undefined ? '-' : String(result.link.aToB.randomLosses + result.link.aToB.queueDrops),
  }
}

/**
 * The comparison as a text table: one row per controller with the sender's and receiver's rates, the
 * retransmissions, recovery episodes, timeouts and the mean smoothed RTT.
 */
export function formatComparison(comparison: PerfComparison): string[] {
  const rows: Record<string, string>[] = comparison.runs.map((run) => ({ name: run.congestionControl, ...comparisonSummary(run) }))
  const columns = ['name', 'sender', 'receiver', 'retransmits', 'recovery episodes', 'timeouts', 'mean srtt'] as const
  const titles: Record<(typeof columns)[number], string> = { name: 'Controller', sender: 'Sender', receiver: 'Receiver', retransmits: 'Retr', 'recovery episodes': 'Recoveries', timeouts: 'Timeouts', 'mean srtt': 'Mean srtt' }
  const widths = columns.map((column) => Math.max(titles[column].length, ...rows.map((row) => (row[column] ?? '').length)))
  const line = (cells: string[]): string => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd()
  return [line(columns.map((column) => titles[column])), ...rows.map((row) => line(columns.map((column) => row[column] ?? '')))]
}

/**
 * Run one transfer per controller of `options.congestionControls`, in order, each over a fresh emulated
 * link with the same settings and seed; with `options.report`, write one report overlaying them.
 *
 * @throws (rejects) `PerfError` `ERR_INVALID_ARG` when the controllers cannot be compared (not the emulated
 * link, or fewer than two), and what {@link runPerf} throws.
 *
 * @example
 * ```ts
 * const options = parsePerfArgs(['send', '10.0.0.2', '5001', '5', '--cc', 'reno,cubic'])
 * const comparison = await runComparison(options)
 * console.log(formatComparison(comparison).join('\n'))
 * ```
 */
export async function runComparison(options: PerfOptions, hooks: ComparisonHooks = {}): Promise<PerfComparison> {
  if (options.io !== 'memory') throw new PerfError('ERR_INVALID_ARG', `a comparison runs over the emulated link (io 'memory'), not '${options.io}'`)
  if (options.congestionControls.length < 2) throw new PerfError('ERR_INVALID_ARG', `a comparison needs two controllers or more, got ${options.congestionControls.length}`)
  checkOutputPaths(options)
  const runs: PerfResult[] = []
  let interrupted = false
  for (const [index, cc] of options.congestionControls.entries()) {
    if (hooks.signal?.aborted === true) {
      interrupted = true
      break
    }
    hooks.onRunStart?.(index, spell(cc))
    const result = await runPerf({ ...options, congestionControl: cc, congestionControls: [cc], report: undefined }, hooks)
    runs.push(result)
    if (result.interrupted) {
      interrupted = true
      break
    }
  }
  if (options.report !== undefined && runs.length > 0) {
    const first = reportData({ ...options, congestionControl: options.congestionControls[0]! }, runs[0]!, hooks.command)
    const comparison: ComparisonRun[] = runs.map((run) => ({
      name: run.congestionControl,
      summary: comparisonSummary(run),
      sendingStoppedAt: (run.sender.stoppedAt - run.sender.startedAt) / 1e6,
      series: run.series,
    }))
    const { sendingStoppedAt: _stopped, ...common } = first
    writeFileSync(
      options.report,
      renderReport({
        ...common,
        title: `mtcp-perf: ${runs.map((run) => run.congestionControl).join(' vs ')}${interrupted ? ' (interrupted)' : ''}`,
        summary: { runs: `${runs.length} of ${options.congestionControls.length}, one after another over the same emulated link and seed` },
        senderLines: formatComparison({ runs, interrupted }),
        receiverLines: [],
        comparison,
      }),
    )
  }
  return { runs, interrupted }
}
