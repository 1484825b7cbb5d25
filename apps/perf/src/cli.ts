#!/usr/bin/env node
// mtcp-perf: the perf sender on the user-level stack. `mtcp-perf wait|send <ip> <port> <secs> [flags]`.
import { formatComparison, type PerfComparison, runComparison } from './compare.js'
import { PerfError } from './errors.js'
import { formatBitrate } from './format.js'
import { parsePerfArgs, type PerfOptions, USAGE } from './options.js'
import { checkOutputPaths, type PerfHooks, type PerfResult, runPerf } from './run.js'
import { runIperf3 } from './run-iperf3.js'
import { runServe } from './run-serve.js'
import { formatInterval, formatSummary, INTERVAL_HEADER } from './summary.js'

/** The exit status after Ctrl-C, as a shell reports a process ended by SIGINT. */
const INTERRUPTED = 130

function describe(options: PerfOptions): string {
  const cc = options.congestionControls
    .map((control) => (control.kind === 'native' ? control.name : `ccp:${control.algorithm} (${control.agent} agent)`))
    .join(', then ')
  const where =
    options.io === 'memory'
      ? `the emulated link (${formatBitrate(options.link.rate)}, ${options.link.delay / 1000} ms one way, ${options.link.loss * 100}% loss, seed ${options.seed}, ${options.clock} clock)`
      : `${options.io} ${options.dev} as ${options.address}`
  if (options.mode === 'serve') return `mtcp-perf: serve ${options.serveMode} on ${options.family === 6 ? `[${options.ip}]` : options.ip}:${options.port} over ${where}, congestion control ${cc}`
  return `mtcp-perf: ${options.mode} ${options.family === 6 ? `[${options.ip}]` : options.ip}:${options.port} for ${options.seconds} s over ${where}, congestion control ${cc}`
}

/** The --json document of one run: the run without the 100 ms samples (those are in the report). */
function jsonOfRun(result: PerfResult): unknown {
  const { series: _series, ...rest } = result
  return rest
}

function jsonOfOptions(options: PerfOptions): unknown {
  const { mac, ...settings } = options
  return { ...settings, mac: mac === undefined ? undefined : Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':') }
}

async function main(argv: readonly string[]): Promise<void> {
  let options: PerfOptions | 'help'
  try {
    options = parsePerfArgs(argv)
  } catch (error) {
    if (error instanceof PerfError && error.code === 'ERR_USAGE') {
      // One line: what is wrong and where to look; the usage itself is for --help.
      console.error(`mtcp-perf: ${error.message} (mtcp-perf --help lists the flags)`)
      process.exit(2)
    }
    throw error
  }
  if (options === 'help') {
    console.log(USAGE)
    return
  }
  // Where the report and the capture go is checked now, not after the run.
  try {
    checkOutputPaths(options)
  } catch (error) {
    console.error(`mtcp-perf: ${(error as Error).message}`)
    process.exit(2)
  }
  const json = options.json
  const print = (line: string): void => {
    if (!json) process.stdout.write(`${line}\n`)
  }
  // Ctrl-C: the run stops, resets its connection, prints what it has and writes the report; a second Ctrl-C leaves at once.
  const controller = new AbortController()
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(INTERRUPTED)
    console.error('mtcp-perf: interrupted: resetting the connection and summing up (Ctrl-C again to leave at once)')
    controller.abort()
  }
  process.on('SIGINT', onSigint)
  print(describe(options))
  if (options.mode !== 'serve' && options.protocol !== 'iperf3' && options.congestionControls.length === 1) print(INTERVAL_HEADER)
  const hooks: PerfHooks = {
    command: ['mtcp-perf', ...argv.filter((arg) => arg !== '--')].join(' '),
    signal: controller.signal,
    onProgress: (progress) => print(formatInterval(progress)),
    onWarning: (message) => console.error(`mtcp-perf: warning: ${message}`),
  }
  try {
    let interrupted: boolean
    if (options.mode === 'send' && options.protocol === 'iperf3') {
      const result = await runIperf3(options, { onLine: print })
      if (json) process.stdout.write(`${JSON.stringify({ options: jsonOfOptions(options), ...result }, null, 2)}\n`)
      interrupted = false
    } else if (options.mode === 'serve') {
      const result = await runServe(options, { signal: controller.signal, onLine: print })
      if (json) process.stdout.write(`${JSON.stringify({ options: jsonOfOptions(options), ...result }, null, 2)}\n`)
      interrupted = result.interrupted && options.seconds > 0
    } else if (options.congestionControls.length > 1) {
      const comparison: PerfComparison = await runComparison(options, {
        ...hooks,
        onRunStart: (index, cc) => {
          print(`${index === 0 ? '' : '\n'}[${index + 1}/${options.congestionControls.length}] --cc ${cc}`)
          print(INTERVAL_HEADER)
        },
        onLine: (line, source) => {
          if (source === 'sender') return
          if (source === 'info') print(line)
        },
      })
      for (const run of comparison.runs) {
        print('')
        print(`${run.congestionControl}:`)
        for (const line of formatSummary(run)) print(line)
      }
      print('')
      for (const line of formatComparison(comparison)) print(line)
      if (json) process.stdout.write(`${JSON.stringify({ options: jsonOfOptions(options), runs: comparison.runs.map(jsonOfRun), interrupted: comparison.interrupted }, null, 2)}\n`)
      interrupted = comparison.interrupted
    } else {
      const result = await runPerf(options, {
        ...hooks,
        onLine: (line, source) => {
          if (source === 'info') print(line)
        },
      })
      for (const line of formatSummary(result)) print(line)
      if (json) process.stdout.write(`${JSON.stringify({ options: jsonOfOptions(options), ...(jsonOfRun(result) as object) }, null, 2)}\n`)
      interrupted = result.interrupted
    }
    if (options.report !== undefined) print(`report: ${options.report}`)
    if (options.pcap !== undefined) print(`capture: ${options.pcap}`)
    if (interrupted) process.exitCode = INTERRUPTED
  } catch (error) {
    const { code, message } = error as { code?: string; message: string }
    if (json) process.stdout.write(`${JSON.stringify({ error: { code: code ?? 'ERR_UNKNOWN', message } }, null, 2)}\n`)
    console.error(`mtcp-perf: ${message}`)
    process.exitCode = code === 'ERR_INTERRUPTED' ? INTERRUPTED : 1
  } finally {
    process.off('SIGINT', onSigint)
  }
}

await main(process.argv.slice(2))
