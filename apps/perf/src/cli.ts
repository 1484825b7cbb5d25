#!/usr/bin/env node
// mtcp-perf: the perf sender on the user-level stack. `mtcp-perf wait|send <ip> <port> <secs> [flags]`.
import { PerfError } from './errors.js'
import { parsePerfArgs, type PerfOptions, USAGE } from './options.js'
import { type PerfProgress, type PerfResult, runPerf } from './run.js'

/** Lines on stdout, with one live progress line kept at the bottom on a terminal. */
class Output {
  #live = ''
  constructor(readonly tty: boolean) {}

  line(text: string): void {
    if (this.#live !== '') process.stdout.write('\r\x1b[K')
    process.stdout.write(`${text}\n`)
    if (this.#live !== '') process.stdout.write(this.#live)
  }

  progress(text: string): void {
    if (!this.tty) {
      process.stdout.write(`${text}\n`)
      return
    }
    this.#live = text
    process.stdout.write(`\r\x1b[K${text}`)
  }

  endProgress(): void {
    if (this.#live !== '') process.stdout.write('\r\x1b[K')
    this.#live = ''
  }
}

function progressLine(progress: PerfProgress): string {
  return `[${progress.t.toFixed(1).padStart(6)} s] ${progress.mbps.toFixed(3).padStart(10)} Mbit/s  cwnd ${(progress.cwnd / 1024).toFixed(1).padStart(8)} KB  srtt ${progress.srttMs.toFixed(1).padStart(7)} ms  retx ${progress.retransmits}`
}

function describe(options: PerfOptions): string {
  const cc = options.congestionControl.kind === 'native' ? options.congestionControl.name : `ccp:${options.congestionControl.algorithm} (${options.congestionControl.agent} agent)`
  const where =
    options.io === 'memory'
      ? `the emulated link (${options.link.rate / 1e6} Mbit/s, ${options.link.delay / 1000} ms one way, ${options.link.loss * 100}% loss, ${options.clock} clock)`
      : `${options.io} ${options.dev} as ${options.address}`
  return `mtcp-perf: ${options.mode} ${options.ip}:${options.port} for ${options.seconds} s over ${where}, congestion control ${cc}`
}

/** The --json document: the run without the 100 ms samples (those are in the report). */
function jsonOf(options: PerfOptions, result: PerfResult): unknown {
  const { series: _series, ...rest } = result
  const { mac, ...settings } = options
  return { options: { ...settings, mac: mac === undefined ? undefined : Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':') }, ...rest }
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
  const output = new Output(process.stdout.isTTY === true)
  const json = options.json
  if (!json) output.line(describe(options))
  try {
    const result = await runPerf(options, {
      command: ['mtcp-perf', ...argv.filter((arg) => arg !== '--')].join(' '),
      onLine: json
        ? undefined
        : (line, source) => {
            if (source === 'sender') output.endProgress()
            output.line(line)
          },
      onProgress: json ? undefined : (progress) => output.progress(progressLine(progress)),
      onWarning: (message) => console.error(`mtcp-perf: warning: ${message}`),
    })
    output.endProgress()
    if (json) {
      process.stdout.write(`${JSON.stringify(jsonOf(options, result), null, 2)}\n`)
    } else {
      if (options.report !== undefined) output.line(`report: ${options.report}`)
      if (options.pcap !== undefined) output.line(`capture: ${options.pcap}`)
    }
  } catch (error) {
    output.endProgress()
    const { code, message } = error as { code?: string; message: string }
    if (json) process.stdout.write(`${JSON.stringify({ error: { code: code ?? 'ERR_UNKNOWN', message } }, null, 2)}\n`)
    console.error(`mtcp-perf: ${message}`)
    process.exitCode = 1
  }
}

await main(process.argv.slice(2))
