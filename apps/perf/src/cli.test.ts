// mtcp-perf as a program (the built dist/cli.js) over the emulated link.
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readReportData } from './report.js'

const cli = join(import.meta.dirname, '..', 'dist', 'cli.js')
const directory = mkdtempSync(join(tmpdir(), 'mtcp-perf-cli-'))

beforeAll(() => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build first (pnpm turbo run build --filter @mtcp/perf...)`)
})
afterAll(() => rmSync(directory, { recursive: true, force: true }))

function perf(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 })
}

// Each test runs the program, some for seconds of CPU: a budget of their own, not vitest's 5 s.
describe('mtcp-perf', { timeout: 120_000 }, () => {
  it('prints an iperf3-like table: a row per interval, then a sender line and a receiver line', () => {
    const report = join(directory, 'report.html')
    const run = perf('send', '10.0.0.2', '5001', '2', '--cc', 'reno', '--report', report)
    expect(run.status, run.stderr).toBe(0)
    const lines = run.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^mtcp-perf: send 10\.0\.0\.2:5001 for 2 s over the emulated link \(100 Mbit\/s, 20 ms one way, 0\.1% loss, seed 1, virtual clock\), congestion control reno$/)
    expect(lines[1]).toMatch(/^Interval +Transfer +Bitrate +Retr +Cwnd +RTT$/)
    const rows = lines.filter((line) => /^ +\d+\.\d\d-\d+\.\d\d s /.test(line))
    const intervals = rows.filter((line) => line.endsWith(' ms'))
    expect(intervals.length).toBeGreaterThanOrEqual(2)
    const UNIT_BYTES = '(?:B|KiB|MiB|GiB)'
    const UNIT_RATE = '(?:bit/s|kbit/s|Mbit/s|Gbit/s)'
    for (const line of intervals) expect(line).toMatch(new RegExp(`^ +\\d+\\.\\d\\d-\\d+\\.\\d\\d s +\\d+(\\.\\d+)? ${UNIT_BYTES} +\\d+(\\.\\d+)? ${UNIT_RATE} +\\d+ +\\d+(\\.\\d+)? ${UNIT_BYTES} +\\d+\\.\\d ms$`))
    expect(run.stdout).not.toContain('\r')
    const sender = lines.find((line) => line.endsWith('  sender'))
    const receiver = lines.find((line) => line.endsWith('  receiver'))
    expect(sender).toMatch(new RegExp(`^ +0\\.00-\\d+\\.\\d\\d s +\\d+(\\.\\d+)? ${UNIT_BYTES} +\\d+(\\.\\d+)? ${UNIT_RATE} +\\d+  sender$`))
    expect(receiver).toMatch(new RegExp(`^ +0\\.00-\\d+\\.\\d\\d s +\\d+(\\.\\d+)? ${UNIT_BYTES} +\\d+(\\.\\d+)? ${UNIT_RATE} +receiver$`))
    // The retransmissions of the intervals add up to no more than the sender line's total.
    const total = Number(/(\d+)  sender$/.exec(sender!)![1])
    const perInterval = intervals.map((line) => Number(/ (\d+) +\d+(?:\.\d+)? (?:B|KiB|MiB|GiB) +\d+\.\d ms$/.exec(line)![1]))
    expect(perInterval.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(total)
    expect(lines.at(-2)).toMatch(/^Retransmitted \d+ segments \(.+\) in \d+ fast-recovery episodes and \d+ timeouts; srtt \d+\.\d ms, min rtt \d+\.\d ms$/)
    expect(lines.at(-1)).toBe(`report: ${report}`)
    expect(readFileSync(report, 'utf8')).toContain('<!doctype html>')
  })

  it('prints rates in units that scale: Gbit/s on a fast link', { timeout: 120_000 }, () => {
    const run = perf('send', '10.0.0.2', '5001', '1', '--cc', 'reno', '--rate', '5G', '--delay', '100us', '--loss', '0')
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/\d+(\.\d+)? Gbit\/s +\d+  sender$/m)
    expect(run.stdout).not.toMatch(/\d{4,}(\.\d+)? Mbit\/s/)
  })

  it('on Ctrl-C, resets the connection, prints the partial summary, writes the report and exits 130', async () => {
    const report = join(directory, 'interrupted.html')
    // A real clock, so the run is still under way when the signal comes (after the first interval row).
    const child = spawn(process.execPath, [cli, 'send', '10.0.0.2', '5001', '600', '--clock', 'real', '--report', report], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()))
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (data: Buffer) => {
        stdout += data.toString()
        if (/ s .* ms\n/.test(stdout)) resolve()
      })
    })
    child.kill('SIGINT')
    const [code] = await once(child, 'exit')
    expect(code, stderr).toBe(130)
    expect(stderr).toContain('mtcp-perf: interrupted: resetting the connection')
    expect(stdout).toMatch(/  sender \(interrupted\)$/m)
    // The receiver on the far end of the emulated link saw the reset and ended (else the run would not have returned).
    expect(stdout).toMatch(/  receiver \(acknowledged\)$/m)
    expect(stdout.trimEnd().split('\n').at(-1)).toBe(`report: ${report}`)
    const data = readReportData(readFileSync(report, 'utf8'))!
    expect(data.title).toContain('(interrupted)')
    expect(data.summary.interrupted).toMatch(/^yes: stopped \(Ctrl-C\) after \d+\.\d{3} s of 600 s, the connection reset$/)
  })

  it('compares controllers over the same link and seed: one run each, a table, one report overlaying them', () => {
    const report = join(directory, 'comparison.html')
    const run = perf('send', '10.0.0.2', '5001', '1', '--cc', 'reno,cubic,ccp:reno', '--report', report)
    expect(run.status, run.stderr).toBe(0)
    const lines = run.stdout.trimEnd().split('\n')
    expect(lines).toContain('[1/3] --cc reno')
    expect(lines).toContain('[2/3] --cc cubic')
    expect(lines).toContain('[3/3] --cc ccp:reno')
    const table = lines.indexOf(lines.find((line) => line.startsWith('Controller '))!)
    expect(lines[table]).toMatch(/^Controller +Sender +Receiver +Retr +Recoveries +Timeouts +Mean srtt$/)
    expect(lines[table + 1]).toMatch(/^reno \(native\) +\d/)
    expect(lines[table + 2]).toMatch(/^cubic \(native\) +\d/)
    expect(lines[table + 3]).toMatch(/^CCP reno \(embedded agent\) +\d/)
    const data = readReportData(readFileSync(report, 'utf8'))!
    expect(data.comparison!.map((entry) => entry.name)).toEqual(['reno (native)', 'cubic (native)', 'CCP reno (embedded agent)'])
    expect(data.settings.seed).toBe('1')
  })

  it.each(['discard', 'echo', 'http'])('serve --mode %s on the emulated link: the built-in load connects, the server counts it', (mode) => {
    const run = perf('serve', '10.0.0.1', '8080', '2', '--mode', mode)
    expect(run.status, run.stderr).toBe(0)
    const lines = run.stdout.trimEnd().split('\n')
    expect(lines[1]).toBe(`mtcp-perf: serving ${mode} on 10.0.0.1:8080 for 2 s (a built-in load connects from 10.0.0.2)`)
    expect(lines.filter((line) => /^\[ +\d+\.\d s\] accepted \d+ {2}open \d+ {2}in /.test(line))).toHaveLength(2)
    const served = /^mtcp-perf: served (\d+) connections in 2\.00 s: (\S+ \S+) in, (\S+ \S+) out(?:, (\d+) requests)?, 0 errors$/.exec(lines.at(-1)!)
    expect(served, lines.at(-1)).not.toBeNull()
    expect(Number(served![1])).toBeGreaterThan(0)
    if (mode === 'echo') expect(served![3]).toBe(served![2]) // everything read was sent back
    if (mode === 'http') expect(Number(served![4])).toBeGreaterThan(1)
    if (mode === 'discard') expect(served![3]).toBe('0.00 B')
  })

  it('send --protocol iperf3 on the emulated link: an iperf3 test against our iperf3 server on the far stack', () => {
    const run = perf('send', '10.0.0.2', '5201', '2', '--protocol', 'iperf3', '--json')
    expect(run.status, run.stderr).toBe(0)
    const result = JSON.parse(run.stdout)
    expect(result.seconds).toBeCloseTo(2, 6) // the stack's clock: exactly the test's duration
    expect(result.serverBytes).toBeGreaterThan(0)
    expect(result.serverBytes).toBeLessThanOrEqual(result.bytesSent)
  })

  it('checks --report before the run: a missing directory exits 2 with nothing run', () => {
    const run = perf('send', '10.0.0.2', '5001', '1', '--report', join(directory, 'missing', 'r.html'))
    expect(run.status).toBe(2)
    expect(run.stdout).toBe('')
    expect(run.stderr).toBe(`mtcp-perf: --report ${join(directory, 'missing', 'r.html')}: cannot write there: the directory ${join(directory, 'missing')} does not exist\n`)
  })

  it('with --json, prints one JSON document with the totals and no text', () => {
    const run = perf('wait', '10.0.0.1', '5001', '1', '--json', '--loss', '0')
    expect(run.status, run.stderr).toBe(0)
    const result = JSON.parse(run.stdout)
    expect(result.options).toMatchObject({ mode: 'wait', ip: '10.0.0.1', io: 'memory' })
    expect(result.sender.reply).toBe('OK\n')
    expect(result.receiver.bytes).toBe(result.sender.bytesSent + 1)
    expect(result.summaryLines[2]).toBe(`Total bytes sent: ${result.sender.bytesSent}`)
    expect(result.intervals.length).toBeGreaterThanOrEqual(1)
    // Each interval's retransmissions are the difference of the running totals.
    for (const [i, interval] of result.intervals.entries()) expect(interval.intervalRetransmits).toBe(interval.retransmits - (i === 0 ? 0 : result.intervals[i - 1].retransmits))
    expect(result.tcpInfo.congestionControl).toBe('cubic')
    expect(result.series).toBeUndefined() // the samples go to the report
  })

  it('exits 1 naming the failure when the connection cannot be made', () => {
    const run = perf('send', '10.0.0.2', '5001', '1', '--loss', '1', '--connect-timeout', '0.3')
    expect(run.status).toBe(1)
    expect(run.stderr).toContain('mtcp-perf: no connection to 10.0.0.2:5001 after 0.3 s')
  })

  it.each([
    [['send', '10.0.0.2', '5001'], 'missing <secs>'],
    [['send', '10.0.0.2', '5001', '1', '--rate', 'fast'], '--rate must be a rate in bit/s'],
    [['send', '10.0.0.2', '5001', '1', '--cc', 'bbr'], '--cc must be reno, cubic or ccp:<algorithm>'],
    [['send', '10.0.0.2', '5001', '1', '--bogus'], 'unknown flag --bogus'],
    [['send', '10.0.0.2', '5001', '1', '--io', 'tap'], '--io tap needs --dev <name>'],
  ])('%j exits 2 with one line naming the problem and where to look', (args, message) => {
    const run = perf(...args)
    expect(run.status).toBe(2)
    expect(run.stderr).toContain(message)
    expect(run.stderr).toMatch(/^mtcp-perf: [^\n]+ \(mtcp-perf --help lists the flags\)\n$/)
    expect(run.stdout).toBe('')
  })

  it('prints the usage for --help only, on stdout, and exits 0', () => {
    const run = perf('--help')
    expect(run.status).toBe(0)
    expect(run.stdout).toMatch(/^usage: mtcp-perf wait <ip> <port> <secs>/)
    expect(run.stderr).toBe('')
  })
})
