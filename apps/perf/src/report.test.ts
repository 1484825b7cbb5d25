import { describe, expect, it } from 'vitest'
import { readReportData, renderReport, REPORT_DATA_ELEMENT_ID, type ReportData } from './report.js'
import { emptySeries } from './sampler.js'

function sample(): ReportData {
  const series = emptySeries()
  for (let i = 0; i <= 20; i++) {
    series.t.push(i * 0.1)
    series.goodputMbps.push(i === 0 ? 0 : 90 + (i % 3))
    series.cwnd.push(10_000 + i * 1000)
    series.ssthresh.push(i < 5 ? null : 20_000)
    series.srttMs.push(i === 0 ? null : 40 + i / 10)
    series.minRttMs.push(i === 0 ? null : 40)
    series.retransmits.push(Math.floor(i / 7))
    series.timeouts.push(0)
    series.pacingMbps.push(0)
    series.inFlight.push(9_000 + i * 1000)
    series.recovery.push(i === 7 ? 1 : 0)
  }
  return {
    version: 1,
    title: 'mtcp-perf: 90.0 Mbit/s, reno (native)',
    generated: '2024-01-01T00:00:00.000Z',
    command: 'mtcp-perf send 10.0.0.2 5001 2 --report "</script><script>alert(1)</script>"',
    settings: { mode: 'send 10.0.0.2:5001 for 2 s', 'a & b': '<c>' },
    summary: { throughput: '90.000 Mbit/s' },
    senderLines: ['Time elapsed: 2.000000', 'Total bytes sent: 22500000', 'Throughput: 90.000Mbit/sec'],
    receiverLines: ['Server ready...', 'Connected!'],
    linkRateMbps: 100,
    series,
  }
}

describe('renderReport', () => {
  const data = sample()
  const html = renderReport(data)

  it('embeds the data, which reads back unchanged', () => {
    expect(readReportData(html)).toEqual(data)
  })

  it('is one well-formed document with a chart per series group and nothing fetched from the network', () => {
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true)
    expect(html.trimEnd().endsWith('</html>')).toBe(true)
    expect(html.match(/<svg /g)).toHaveLength(5)
    expect(html.match(/<\/svg>/g)).toHaveLength(5)
    for (const title of ['Goodput', 'Congestion window', 'Round-trip time', 'Retransmissions', 'Pacing rate']) expect(html).toContain(`>${title} (`)
    expect(html).not.toMatch(/\b(src|href)\s*=/i)
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/)
    expect(html).not.toMatch(/\bfetch\(|XMLHttpRequest|import\(/)
    // Exactly two scripts: the data and the readouts; text from the run cannot close either early.
    expect(html.match(/<script/g)).toHaveLength(2)
    expect(html.match(/<\/script>/g)).toHaveLength(2)
    expect(html).toContain('a &amp; b')
    expect(html).toContain('&lt;c&gt;')
  })

  it('draws every sample of a series as a polyline point, breaking lines at missing values', () => {
    const goodput = /<svg class="chart" data-chart="0"[\s\S]*?<\/svg>/.exec(html)![0]
    const points = /<polyline[^>]*points="([^"]*)"/.exec(goodput)![1]!.split(' ')
    expect(points).toHaveLength(21)
    const rtt = /<svg class="chart" data-chart="2"[\s\S]*?<\/svg>/.exec(html)![0]
    const srtt = /<polyline fill="none" stroke="#d62728"[^>]*points="([^"]*)"/.exec(rtt)![1]!.split(' ')
    expect(srtt).toHaveLength(20) // the first sample had no RTT yet
    // x grows with time; the link rate is drawn as a reference line
    const xs = points.map((point) => Number(point.split(',')[0]))
    for (let i = 1; i < xs.length; i++) expect(xs[i]!).toBeGreaterThan(xs[i - 1]!)
    expect(goodput).toContain('link 100 Mbit/s')
  })

  it('gives readReportData nothing for a page without the data', () => {
    expect(readReportData('<html></html>')).toBeUndefined()
    expect(readReportData(`<script type="application/json" id="${REPORT_DATA_ELEMENT_ID}">{bad</script>`)).toBeUndefined()
  })
})
