// The perf pair end to end over the emulated link: mtcp-perf's sender on one stack, mtcp-recv's
// receiver (its protocol code over a stack socket) on the other, in both modes, on the virtual clock and
// the real one; the output lines against the original formats; the report's embedded data.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parsePerfArgs, type PerfOptions } from './options.js'
import { readReportData } from './report.js'
import { type PerfLineSource, type PerfProgress, reportData, runPerf } from './run.js'
import { formatInterval, INTERVAL_HEADER } from './summary.js'

const directory = mkdtempSync(join(tmpdir(), 'mtcp-perf-test-'))
afterAll(() => rmSync(directory, { recursive: true, force: true }))

const SENDER = [/^$/, /^Time elapsed: \d+\.\d{6}$/, /^Total bytes sent: \d+$/, /^Throughput: \d+\.\d{3}Mbit\/sec$/]
const INTERVAL = /^\d+\.\d+ \d{2}\d*\.\d{3} Mbps$/
const DONE = /^Done with (\d+\.\d+\.\d+\.\d+):(\d+), bytes_rcvd: (\d+), time: (\d+\.\d+), thru: (\d+\.\d+)Mbps$/

const options = (...argv: string[]): PerfOptions => parsePerfArgs(argv) as PerfOptions

async function run(argv: string[]) {
  const lines: { line: string; source: PerfLineSource }[] = []
  const progress: PerfProgress[] = []
  const result = await runPerf(options(...argv), { onLine: (line, source) => lines.push({ line, source }), onProgress: (p) => progress.push(p), command: argv.join(' ') })
  return { result, lines, progress }
}

describe('the perf pair over the emulated link', () => {
  it('send over IPv6: the two stacks resolve each other by Neighbor Discovery, OK received, every chunk intact', async () => {
    const { result, lines } = await run(['send', 'fd00::2', '5001', '1', '--rate', '50M', '--delay', '5ms', '--loss', '0.1%'])
    const { sender, receiver } = result
    expect(sender.reply).toBe('OK\n')
    expect(receiver!.bytes).toBe(sender.bytesSent + 1) // the marker
    expect(receiver!.mismatchedChunks).toBe(0)
    expect(sender.bytesSent).toBeGreaterThan(1_000_000)
    expect(lines.some(({ line }) => /^Done with \[fd00::1\]:\d+, bytes_rcvd: \d+/.test(line))).toBe(true) // the receiver saw our IPv6 address, bracketed before the port (RFC 5952 §6)
  }, 60_000)

  it('send: byte counts agree, OK received, every line in its original format, report and capture written', async () => {
    const report = join(directory, 'send.html')
    const pcap = join(directory, 'send.pcap')
    const { result, lines, progress } = await run(['send', '10.0.0.2', '5001', '3', '--cc', 'reno', '--rate', '50M', '--delay', '10ms', '--loss', '0.2%', '--report', report, '--pcap', pcap])
    const { sender, receiver } = result
    expect(sender.reply).toBe('OK\n')
    expect(receiver!.bytes).toBe(sender.bytesSent + 1) // the marker
    expect(receiver!.endedBy).toBe('marker')
    expect(receiver!.mismatchedChunks).toBe(0)
    expect(sender.elapsedSeconds).toBeGreaterThanOrEqual(3)

    const receiverLines = lines.filter((l) => l.source === 'receiver').map((l) => l.line)
    expect(receiverLines.slice(0, 2)).toEqual(['Server ready...', 'Connected!'])
    const end = receiverLines.indexOf('Received END from client')
    expect(end).toBeGreaterThan(2)
    for (const line of receiverLines.slice(2, end)) expect(line).toMatch(INTERVAL)
    expect(receiverLines.slice(2, end).map((line) => Number(line.split(' ')[0]))).toEqual(receiverLines.slice(2, end).map((_, i) => i * 0.5))
    const done = DONE.exec(receiverLines[end + 1]!)
    expect(done).not.toBeNull()
    expect(done![1]).toBe('10.0.0.1')
    expect(Number(done![3])).toBe(sender.bytesSent + 1)

    const senderLines = lines.filter((l) => l.source === 'sender').map((l) => l.line)
    expect(senderLines).toHaveLength(4)
    senderLines.forEach((line, i) => expect(line).toMatch(SENDER[i]!))
    expect(senderLines[2]).toBe(`Total bytes sent: ${sender.bytesSent}`)
    expect(Number(senderLines[3]!.slice('Throughput: '.length, -'Mbit/sec'.length))).toBeCloseTo(sender.mbps, 3)

    // Progress once a second of the stack's clock, while the transfer ran.
    expect(progress.map((p) => Math.round(p.t))).toEqual(progress.map((_, i) => i + 1))
    expect(progress.length).toBeGreaterThanOrEqual(3)
    expect(progress.at(-1)!.bytesAcked).toBeLessThanOrEqual(sender.bytesSent + 1)

    // The report holds the series it plots.
    const html = readFileSync(report, 'utf8')
    expect(html.startsWith('<!doctype html>')).toBe(true)
    const data = readReportData(html)!
    const { series } = data
    const n = series.t.length
    expect(n).toBeGreaterThanOrEqual(30) // every 100 ms for over 3 s
    for (const column of Object.values(series)) expect(column).toHaveLength(n)
    for (let i = 1; i < n; i++) expect(series.t[i]!).toBeGreaterThan(series.t[i - 1]!)
    expect(series.t.at(-1)!).toBeCloseTo(result.series.t.at(-1)!, 9)
    expect(Math.max(...series.cwnd)).toBeGreaterThan(0)
    expect(Math.max(...series.goodputMbps)).toBeLessThanOrEqual(50 * 1.01) // never above the link
    expect(series.retransmits.at(-1)).toBe(result.tcpInfo!.retransmittedSegments)
    expect(series.srttMs.filter((v) => v !== null).every((v) => v! >= 20)).toBe(true) // ≥ the 2 × 10 ms path
    expect(data.linkRateMbps).toBe(50)
    expect(data.receiverLines).toEqual(receiverLines)
    // The report's sender lines are the CLI's: the interval table, then the summary with the exact counts.
    expect(data.senderLines[0]).toBe(INTERVAL_HEADER)
    expect(data.senderLines.slice(1, 1 + progress.length)).toEqual(progress.map(formatInterval))
    expect(data.senderLines).toContain(`Sent ${sender.bytesSent} bytes in ${sender.elapsedSeconds.toFixed(6)} s; the receiver counted ${sender.bytesSent + 1} (with the end marker)`)
    expect(data.sendingStoppedAt).toBeGreaterThanOrEqual(3)
    expect(data.sendingStoppedAt).toBeLessThan(sender.elapsedSeconds)

    // A pcap file: the classic magic, then frames.
    const capture = readFileSync(pcap)
    expect(capture.readUInt32LE(0)).toBe(0xa1b2c3d4)
    expect(capture.byteLength).toBeGreaterThan(24 + 1000 * 16)
  }, 120_000)

  it('wait: our stack listens, the receiver connects, and the totals agree the same way', async () => {
    const { result, lines } = await run(['wait', '10.0.0.1', '6001', '1', '--cc', 'cubic', '--loss', '0'])
    expect(result.sender.reply).toBe('OK\n')
    expect(result.receiver!.bytes).toBe(result.sender.bytesSent + 1)
    const receiverLines = lines.filter((l) => l.source === 'receiver').map((l) => l.line)
    expect(receiverLines[0]).toBe('Connected')
    const done = DONE.exec(receiverLines.at(-1)!)
    expect(done![1]).toBe('10.0.0.1')
    expect(done![2]).toBe('6001') // recv.py names the address it connected to
    expect(result.tcpInfo!.congestionControl).toBe('cubic')
  }, 120_000)

  it('--cc ccp:reno: the embedded TypeScript agent drives the flow through CCP, totals agree', async () => {
    const { result, lines } = await run(['send', '10.0.0.2', '5001', '2', '--cc', 'ccp:reno', '--rate', '50M', '--delay', '10ms', '--loss', '0.1%'])
    expect(result.sender.reply).toBe('OK\n')
    expect(result.receiver!.bytes).toBe(result.sender.bytesSent + 1)
    expect(result.receiver!.mismatchedChunks).toBe(0)
    expect(result.tcpInfo!.congestionControl).toBe('ccp')
    expect(result.congestionControl).toBe('CCP reno (embedded agent)')
    const senderLines = lines.filter((l) => l.source === 'sender').map((l) => l.line)
    senderLines.forEach((line, i) => expect(line).toMatch(SENDER[i]!))
  }, 120_000)

  it('--cc ccp:reno: says when the agent took over and each controller\'s share, in the lines, the result (--json) and the report (issue 17, 6)', async () => {
    const { result, lines } = await run(['send', '10.0.0.2', '5001', '1', '--cc', 'ccp:cubic', '--rate', '50M', '--delay', '10ms'])
    const info = lines.filter((l) => l.source === 'info').map((l) => l.line)
    expect(info.filter((line) => line.startsWith('CCP: the agent took the flow over at '))).toHaveLength(1)
    expect(result.ccp!.events.map((event) => event.controller)).toEqual(['agent'])
    expect(result.ccp!.agentShare).toBeGreaterThan(0.5) // taken over within the first RTTs of a 1 s run
    expect(result.ccp!.agentShare + result.ccp!.nativeShare).toBeCloseTo(1, 9)
    const share = `agent ${(result.ccp!.agentShare * 100).toFixed(1)}%`
    expect(info.at(-1)).toContain(`CCP controller: ${share}`)
    expect(reportData(options('send', '10.0.0.2', '5001', '1'), result).summary['congestion controller']).toContain(share)
  }, 120_000)

  it('--ccp-agent external with no agent: the whole run is native, and says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtcp-perf-noagent-'))
    try {
      const { result, lines } = await run(['send', '10.0.0.2', '5001', '0.3', '--cc', 'ccp:reno', '--ccp-agent', 'external', '--ccp-dir', dir, '--rate', '20M', '--delay', '2ms', '--loss', '0'])
      expect(result.receiver!.bytes).toBe(result.sender.bytesSent + 1)
      expect(result.ccp).toMatchObject({ events: [], agentShare: 0, nativeShare: 1 })
      expect(lines.filter((l) => l.source === 'info').at(-1)!.line).toContain('agent 0.0%, native 100.0%')
      expect(lines.filter((l) => l.source === 'info').at(-1)!.line).toContain('the agent never took the flow over')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it('warns, once, with the connection state when nothing is acknowledged for 10 s past the transfer', async () => {
    // 60% loss each way (seed 3): the connection opens, then the data stops getting through.
    const warnings: string[] = []
    const error = await runPerf(options('send', '10.0.0.2', '5001', '1', '--rate', '100M', '--delay', '10ms', '--loss', '0.6', '--seed', '3'), { onWarning: (message) => warnings.push(message) }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ERR_STALLED' })
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/^no data acknowledged for 1\d s: connection \{"state":"ESTABLISHED"/)
    expect(warnings[0]).toContain('"retransmitTimeouts":')
    expect(warnings[0]).toContain('port {"rxPackets":')
  }, 60_000)

  it('runs on the real clock too', async () => {
    const { result } = await run(['send', '10.0.0.2', '5001', '0.3', '--clock', 'real', '--rate', '20M', '--delay', '2ms', '--loss', '0', '--sndbuf', '64K'])
    expect(result.receiver!.bytes).toBe(result.sender.bytesSent + 1)
    expect(result.sender.elapsedSeconds).toBeGreaterThanOrEqual(0.3)
  }, 60_000)

  it('fails with ETIMEDOUT when nothing answers (every frame lost), after the connect timeout of the stack clock', async () => {
    const error = await runPerf(options('send', '10.0.0.2', '5001', '1', '--loss', '1', '--connect-timeout', '0.5'), {}).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ETIMEDOUT', message: expect.stringContaining('no connection to 10.0.0.2:5001 after 0.5 s') })
  }, 60_000)
})
