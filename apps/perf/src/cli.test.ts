// mtcp-perf as a program (the built dist/cli.js) over the emulated link.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const cli = join(import.meta.dirname, '..', 'dist', 'cli.js')
const directory = mkdtempSync(join(tmpdir(), 'mtcp-perf-cli-'))

beforeAll(() => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build first (pnpm turbo run build --filter @mtcp/perf...)`)
})
afterAll(() => rmSync(directory, { recursive: true, force: true }))

function perf(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 120_000 })
}

describe('mtcp-perf', () => {
  it('prints the receiver lines, a progress line per interval (not a terminal), and the original summary', () => {
    const report = join(directory, 'report.html')
    const run = perf('send', '10.0.0.2', '5001', '2', '--cc', 'reno', '--report', report)
    expect(run.status, run.stderr).toBe(0)
    const lines = run.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^mtcp-perf: send 10\.0\.0\.2:5001 for 2 s over the emulated link \(100 Mbit\/s, 20 ms one way, 0\.1% loss, virtual clock\), congestion control reno$/)
    expect(lines).toContain('Server ready...')
    expect(lines).toContain('Connected!')
    expect(lines).toContain('Received END from client')
    const progress = lines.filter((line) => line.startsWith('['))
    expect(progress.length).toBeGreaterThanOrEqual(2)
    for (const line of progress) expect(line).toMatch(/^\[ +\d+\.\d s\] +\d+\.\d{3} Mbit\/s {2}cwnd +\d+\.\d KB {2}srtt +\d+\.\d ms {2}retx \d+$/)
    expect(run.stdout).not.toContain('\r') // no terminal, no live line
    const summary = lines.indexOf('Received END from client')
    const done = /^Done with 10\.0\.0\.1:\d+, bytes_rcvd: (\d+), time: \d+\.\d+, thru: \d+\.\d+Mbps$/.exec(lines[summary + 1]!)
    expect(lines[summary + 2]).toBe('')
    expect(lines[summary + 3]).toMatch(/^Time elapsed: \d+\.\d{6}$/)
    const sent = /^Total bytes sent: (\d+)$/.exec(lines[summary + 4]!)
    expect(lines[summary + 5]).toMatch(/^Throughput: \d+\.\d{3}Mbit\/sec$/)
    expect(Number(done![1])).toBe(Number(sent![1]) + 1)
    expect(lines.at(-1)).toBe(`report: ${report}`)
    expect(readFileSync(report, 'utf8')).toContain('<!doctype html>')
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
