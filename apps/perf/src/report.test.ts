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
    // Four plots: the pacing rate is 0 throughout (not paced), so its plot is left out.
    expect(html.match(/<svg /g)).toHaveLength(4)
    expect(html.match(/<\/svg>/g)).toHaveLength(4)
    for (const title of ['Goodput', 'Congestion window', 'Round-trip time', 'Retransmissions']) expect(html).toContain(`>${title} (`)
    expect(html).not.toContain('>Pacing rate (')
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

  it('shows the pacing plot when the run was paced', () => {
    const paced = sample()
    paced.series.pacingMbps = paced.series.pacingMbps.map((_, i) => 95 + i)
    const pacedHtml = renderReport(paced)
    expect(pacedHtml.match(/<svg /g)).toHaveLength(5)
    expect(pacedHtml).toContain('>Pacing rate (')
  })

  it('marks where sending stopped on every plot, and explains the retransmission kinds', () => {
    const stopped = renderReport({ ...sample(), sendingStoppedAt: 1.5 })
    expect(stopped.match(/<line class="stopped"/g)).toHaveLength(4)
    expect(stopped.match(/>sending stopped</g)).toHaveLength(4)
    expect(html).not.toContain('class="stopped"')
    expect(html).toContain('Fast recovery (RFC 5681 §3.2, RFC 6675 with SACK)')
    expect(html).toContain('A timeout (RFC 6298)')
  })

  it('states the sample period as the median gap, not the first one', () => {
    const irregular = sample()
    // A real clock: the first sample at the first write, the second 1 ms later, then every 100 ms.
    irregular.series.t = irregular.series.t.map((_, i) => (i === 0 ? 0 : 0.001 + (i - 1) * 0.1))
    expect(renderReport(irregular)).toContain("Samples every 100 ms of the stack's clock (the median gap between samples)")
  })

  it('overlays the runs of a comparison, one line per controller, with a table of their results', () => {
    const one = sample()
    const other = sample()
    other.series.goodputMbps = other.series.goodputMbps.map((v) => v / 2)
    const comparison = renderReport({
      ...one,
      comparison: [
        { name: 'reno (native)', summary: { sender: '90.0 Mbit/s', retransmits: '3' }, series: one.series },
        { name: 'cubic (native)', summary: { sender: '45.0 Mbit/s', retransmits: '5' }, series: other.series },
      ],
    })
    expect(comparison).toContain('<h2>Comparison</h2>')
    expect(comparison).toContain('<th>reno (native)</th><td>90.0 Mbit/s</td><td>3</td>')
    expect(comparison).toContain('<th>cubic (native)</th><td>45.0 Mbit/s</td><td>5</td>')
    const goodput = /<svg class="chart" viewBox[\s\S]*?<\/svg>/.exec(comparison)![0]
    expect(goodput).toContain('>Goodput (')
    expect(goodput.match(/<polyline/g)).toHaveLength(2)
    expect(goodput).toContain('>reno (native)<')
    expect(goodput).toContain('>cubic (native)<')
    expect(readReportData(comparison)!.comparison).toHaveLength(2)
  })

  it('gives readReportData nothing for a page without the data', () => {
    expect(readReportData('<html></html>')).toBeUndefined()
    expect(readReportData(`<script type="application/json" id="${REPORT_DATA_ELEMENT_ID}">{bad</script>`)).toBeUndefined()
  })
})
