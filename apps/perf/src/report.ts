/**
 * The HTML report of a perf run: one self-contained file (inline SVG, inline CSS and script, no network
 * fetches) with time series of goodput, congestion window, RTT, retransmissions and pacing rate, the
 * settings, and the sender's and receiver's lines. The data behind the plots is embedded as JSON in
 * `<script type="application/json" id="mtcp-perf-data">`, so the file is also machine-readable.
 * @module
 */
import type { PerfSeries } from './sampler.js'

/** The id of the element holding the embedded JSON ({@link ReportData}). */
export const REPORT_DATA_ELEMENT_ID = 'mtcp-perf-data'

/** Everything the report shows; embedded verbatim as JSON. */
export interface ReportData {
  /** Format version of this object. */
  version: 1
  title: string
  /** ISO 8601 time the report was written. */
  generated: string
  /** The command line that produced it. */
  command: string
  /** Settings, as label → text. */
  settings: Record<string, string>
  /** Results, as label → text. */
  summary: Record<string, string>
  senderLines: string[]
  receiverLines: string[]
  /** The emulated link's rate in Mbit/s, drawn as a reference on the goodput plot. */
  linkRateMbps: number | undefined
  /** Seconds (on the plots' time axis) at which the sender stopped sending data: marked on every plot. */
  sendingStoppedAt?: number
  series: PerfSeries
  /**
   * Runs of several congestion controllers over the same emulated link and seed (`--cc a,b,c`): the
   * report overlays their goodput, cwnd and RTT and tabulates their results.
   */
  comparison?: ComparisonRun[]
}

/** One controller's run in a comparison report. */
export interface ComparisonRun {
  /** The controller, e.g. `'reno (native)'`. */
  name: string
  /** Results, as label → text (the same labels for every run). */
  summary: Record<string, string>
  /** Seconds at which it stopped sending data. */
  sendingStoppedAt?: number
  series: PerfSeries
}

interface ChartLine {
  name: string
  /** The line's own time axis (comparison overlays); default the report's. */
  t?: readonly number[]
  values: readonly (number | null)[]
  color: string
  /** Draw as a step function (counters). */
  step?: boolean
}

interface Chart {
  id: string
  title: string
  unit: string
  lines: ChartLine[]
  reference?: { value: number; label: string }
  /** A sentence under the plot. */
  note?: string
  /** Seconds at which sending stopped, marked with a vertical line. */
  stoppedAt?: number
}

/** Whether a chart has something to show: a value other than null and 0 on some line. */
function hasData(chart: Chart): boolean {
  return chart.lines.some((line) => line.values.some((value) => value !== null && value !== 0))
}

/** The typical time between samples: the median of the gaps (the first gap may be short). */
export function samplePeriodSeconds(t: readonly number[]): number | undefined {
  if (t.length < 2) return undefined
  const gaps = t
    .slice(1)
    .map((time, i) => time - t[i]!)
    .sort((a, b) => a - b)
  return gaps[Math.floor(gaps.length / 2)]
}

const WIDTH = 880
const HEIGHT = 230
const LEFT = 64
const RIGHT = 16
const TOP = 28
const BOTTOM = 34

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

/** A "nice" tick step (1, 2 or 5 × 10^k) for about `count` ticks over [0, max]. */
function tickStep(max: number, count: number): number {
  if (!(max > 0)) return 1
  const raw = max / count
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const normalized = raw / magnitude
  return (normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 5 ? 5 : 10) * magnitude
}

function formatTick(value: number): string {
  if (value === 0) return '0'
  if (Math.abs(value) >= 1000) return value.toLocaleString('en-US', { maximumFractionDigits: 0 })
  return String(Number(value.toPrecision(4)))
}

function renderChart(chart: Chart, t: readonly number[], index: number | undefined): string {
  const plotWidth = WIDTH - LEFT - RIGHT
  const plotHeight = HEIGHT - TOP - BOTTOM
  let tMax = Math.max(t.at(-1) ?? 0, 1e-9)
  for (const line of chart.lines) if (line.t !== undefined) tMax = Math.max(tMax, line.t.at(-1) ?? 0)
  let yMax = chart.reference?.value ?? 0
  for (const line of chart.lines) for (const value of line.values) if (value !== null && value > yMax) yMax = value
  const yStep = tickStep(yMax * 1.05 || 1, 6)
  const yTop = Math.max(yStep, Math.ceil((yMax * 1.05) / yStep) * yStep)
  const x = (time: number): number => LEFT + (time / tMax) * plotWidth
  const y = (value: number): number => TOP + plotHeight - (value / yTop) * plotHeight
  const parts: string[] = []
  parts.push(`<svg class="chart"${index === undefined ? '' : ` data-chart="${index}"`} viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(chart.title)}">`)
  parts.push(`<text class="title" x="${LEFT}" y="18">${escapeHtml(chart.title)} (${escapeHtml(chart.unit)})</text>`)
  for (let value = 0; value <= yTop + yStep / 2; value += yStep) {
    const py = y(value).toFixed(1)
    parts.push(`<line class="grid" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${py}" y2="${py}"/><text class="tick" x="${LEFT - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${formatTick(value)}</text>`)
  }
  const tStep = tickStep(tMax, 10)
  for (let time = 0; time <= tMax + tStep / 1000; time += tStep) {
    const px = x(time).toFixed(1)
    parts.push(`<line class="grid" x1="${px}" x2="${px}" y1="${TOP}" y2="${TOP + plotHeight}"/><text class="tick" x="${px}" y="${TOP + plotHeight + 16}" text-anchor="middle">${formatTick(time)}</text>`)
  }
  parts.push(`<text class="tick" x="${WIDTH - RIGHT}" y="${HEIGHT - 4}" text-anchor="end">time (s)</text>`)
  if (chart.reference !== undefined) {
    const py = y(chart.reference.value).toFixed(1)
    parts.push(`<line class="reference" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${py}" y2="${py}"/><text class="tick" x="${WIDTH - RIGHT - 4}" y="${Number(py) - 5}" text-anchor="end">${escapeHtml(chart.reference.label)}</text>`)
  }
  if (chart.stoppedAt !== undefined && chart.stoppedAt <= tMax) {
    const px = x(chart.stoppedAt).toFixed(1)
    parts.push(`<line class="stopped" x1="${px}" x2="${px}" y1="${TOP}" y2="${TOP + plotHeight}"/><text class="tick stopped-label" x="${Number(px) - 4}" y="${TOP + 12}" text-anchor="end">sending stopped</text>`)
  }
  // Legend after the title (bold 13 px: about 7.6 px per character).
  let legendX = LEFT + `${chart.title} (${chart.unit})`.length * 7.6 + 24
  for (const line of chart.lines) {
    // One polyline per run of non-null values.
    let points: string[] = []
    const flush = (): void => {
      if (points.length > 0) parts.push(`<polyline fill="none" stroke="${line.color}" stroke-width="1.6" points="${points.join(' ')}"/>`)
      points = []
    }
    const times = line.t ?? t
    for (let i = 0; i < times.length; i++) {
      const value = line.values[i]
      if (value === null || value === undefined) {
        flush()
        continue
      }
      const px = x(times[i]!).toFixed(1)
      if (line.step === true && i > 0 && points.length > 0) points.push(`${px},${points.at(-1)!.split(',')[1]}`)
      points.push(`${px},${y(value).toFixed(1)}`)
    }
    flush()
    parts.push(`<rect x="${legendX}" y="10" width="12" height="3" fill="${line.color}"/><text class="legend" x="${legendX + 16}" y="15">${escapeHtml(line.name)}</text>`)
    legendX += 24 + line.name.length * 7
  }
  parts.push(`<line class="cursor" x1="0" x2="0" y1="${TOP}" y2="${TOP + plotHeight}" visibility="hidden"/>`)
  parts.push(`<text class="readout" x="${WIDTH - RIGHT}" y="18" text-anchor="end"></text>`)
  parts.push(`<rect class="hit" x="${LEFT}" y="${TOP}" width="${plotWidth}" height="${plotHeight}" fill="transparent"/>`)
  parts.push('</svg>')
  if (chart.note !== undefined) parts.push(`<p class="note">${escapeHtml(chart.note)}</p>`)
  return parts.join('')
}

/** What the retransmission counters count, under the retransmissions plot. */
const RETRANSMISSION_NOTE =
  'total: every segment sent again, whatever the reason. Fast recovery (RFC 5681 §3.2, RFC 6675 with SACK) starts when duplicate ACKs or SACK blocks show a hole: ' +
  'the holes are resent while new data keeps flowing, and cwnd is reduced once per episode. A timeout (RFC 6298) fires when no ACK arrives for an RTO: ' +
  'everything outstanding counts as lost and cwnd drops to one segment. Tail-loss probes (RFC 8985) resend the last segment to provoke an ACK. ' +
  '"per sample": segments resent in each sample period; "timeouts": RTO expiries so far.'


/** The charts of a report, in order; the script reads the same list (by index) for its readouts. */
function chartsOf(data: ReportData): Chart[] {
  const s = data.series
  const kb = (values: readonly (number | null)[]): (number | null)[] => values.map((v) => (v === null ? null : v / 1024))
  const perSample = s.retransmits.map((value, i) => (i === 0 ? value : value - s.retransmits[i - 1]!))
  const goodput: Chart = { id: 'goodput', title: 'Goodput', unit: 'Mbit/s', lines: [{ name: 'goodput', values: s.goodputMbps, color: '#1f77b4' }] }
  if (data.linkRateMbps !== undefined) goodput.reference = { value: data.linkRateMbps, label: `link ${formatTick(data.linkRateMbps)} Mbit/s` }
  const charts: Chart[] = [
    goodput,
    {
      id: 'cwnd',
      title: 'Congestion window',
      unit: 'KB',
      lines: [
        { name: 'cwnd', values: kb(s.cwnd), color: '#2ca02c' },
        { name: 'ssthresh', values: kb(s.ssthresh), color: '#bcbd22' },
        { name: 'in flight', values: kb(s.inFlight), color: '#9edae5' },
      ],
    },
    {
      id: 'rtt',
      title: 'Round-trip time',
      unit: 'ms',
      lines: [
        { name: 'srtt', values: s.srttMs, color: '#d62728' },
        { name: 'min rtt', values: s.minRttMs, color: '#ff9896' },
      ],
    },
    {
      id: 'retransmits',
      title: 'Retransmissions',
      unit: 'segments',
      lines: [
        { name: 'total', values: s.retransmits, color: '#9467bd', step: true },
        { name: 'per sample', values: perSample, color: '#c5b0d5' },
        { name: 'timeouts', values: s.timeouts, color: '#8c564b', step: true },
      ],
      note: RETRANSMISSION_NOTE,
    },
    { id: 'pacing', title: 'Pacing rate', unit: 'Mbit/s', lines: [{ name: 'pacing rate', values: s.pacingMbps, color: '#ff7f0e' }] },
  ]
  for (const chart of charts) if (data.sendingStoppedAt !== undefined) chart.stoppedAt = data.sendingStoppedAt
  return charts
}

const RUN_COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf']

/** The overlay charts of a comparison: goodput, cwnd, RTT and retransmissions, one line per controller. */
function comparisonChartsOf(data: ReportData, runs: readonly ComparisonRun[]): Chart[] {
  const line = (run: ComparisonRun, i: number, values: readonly (number | null)[]): ChartLine => ({ name: run.name, t: run.series.t, values, color: RUN_COLORS[i % RUN_COLORS.length]! })
  const goodput: Chart = { id: 'goodput', title: 'Goodput', unit: 'Mbit/s', lines: runs.map((run, i) => line(run, i, run.series.goodputMbps)) }
  if (data.linkRateMbps !== undefined) goodput.reference = { value: data.linkRateMbps, label: `link ${formatTick(data.linkRateMbps)} Mbit/s` }
  return [
    goodput,
    { id: 'cwnd', title: 'Congestion window', unit: 'KB', lines: runs.map((run, i) => line(run, i, run.series.cwnd.map((v) => v / 1024))) },
    { id: 'rtt', title: 'Smoothed RTT', unit: 'ms', lines: runs.map((run, i) => line(run, i, run.series.srttMs)) },
    { id: 'retransmits', title: 'Retransmissions so far', unit: 'segments', lines: runs.map((run, i) => ({ ...line(run, i, run.series.retransmits), step: true })), note: RETRANSMISSION_NOTE },
  ]
}

function comparisonTable(runs: readonly ComparisonRun[]): string {
  const labels = [...new Set(runs.flatMap((run) => Object.keys(run.summary)))]
  const head = `<tr><th>controller</th>${labels.map((label) => `<th>${escapeHtml(label)}</th>`).join('')}</tr>`
  const rows = runs.map((run) => `<tr><th>${escapeHtml(run.name)}</th>${labels.map((label) => `<td>${escapeHtml(run.summary[label] ?? '')}</td>`).join('')}</tr>`).join('')
  return `<h2>Comparison</h2><table class="comparison">${head}${rows}</table>`
}

// Hover readouts: the value of every line at the nearest sample. Reads the embedded JSON.
const SCRIPT = `(() => {
  const data = JSON.parse(document.getElementById('${REPORT_DATA_ELEMENT_ID}').textContent);
  const s = data.series;
  const kb = (v) => (v === null ? null : v / 1024);
  const per = s.retransmits.map((v, i) => (i === 0 ? v : v - s.retransmits[i - 1]));
  const charts = [
    [['goodput', s.goodputMbps, 'Mbit/s']],
    [['cwnd', s.cwnd.map(kb), 'KB'], ['ssthresh', s.ssthresh.map(kb), 'KB'], ['in flight', s.inFlight.map(kb), 'KB']],
    [['srtt', s.srttMs, 'ms'], ['min rtt', s.minRttMs, 'ms']],
    [['total', s.retransmits, ''], ['per sample', per, ''], ['timeouts', s.timeouts, '']],
    [['pacing', s.pacingMbps, 'Mbit/s']],
  ];
  const fmt = (v) => (v === null || v === undefined ? '-' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2));
  for (const svg of document.querySelectorAll('svg.chart[data-chart]')) {
    const lines = charts[Number(svg.dataset.chart)];
    const cursor = svg.querySelector('.cursor');
    const readout = svg.querySelector('.readout');
    const hit = svg.querySelector('.hit');
    const left = Number(hit.getAttribute('x'));
    const width = Number(hit.getAttribute('width'));
    const tMax = s.t[s.t.length - 1] || 1e-9;
    svg.addEventListener('mousemove', (event) => {
      const point = svg.createSVGPoint();
      point.x = event.clientX;
      point.y = event.clientY;
      const local = point.matrixTransform(svg.getScreenCTM().inverse());
      const time = Math.max(0, Math.min(tMax, ((local.x - left) / width) * tMax));
      let best = 0;
      for (let i = 1; i < s.t.length; i++) if (Math.abs(s.t[i] - time) < Math.abs(s.t[best] - time)) best = i;
      const px = left + (s.t[best] / tMax) * width;
      cursor.setAttribute('x1', px);
      cursor.setAttribute('x2', px);
      cursor.setAttribute('visibility', 'visible');
      readout.textContent = 't ' + s.t[best].toFixed(2) + ' s: ' + lines.map(([name, values, unit]) => name + ' ' + fmt(values[best]) + (unit ? ' ' + unit : '')).join(', ');
    });
    svg.addEventListener('mouseleave', () => {
      cursor.setAttribute('visibility', 'hidden');
      readout.textContent = '';
    });
  }
})();`

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px auto; max-width: 920px; color: #222; }
h1 { font-size: 20px; margin-bottom: 4px; }
.command { font-family: ui-monospace, monospace; color: #555; word-break: break-all; }
table { border-collapse: collapse; margin: 12px 0; }
td, th { padding: 2px 12px 2px 0; text-align: left; vertical-align: top; }
th { font-weight: 600; color: #444; }
.tables { display: flex; gap: 48px; flex-wrap: wrap; }
svg.chart { width: 100%; height: auto; margin: 8px 0 4px; }
svg .title { font-weight: 600; font-size: 13px; }
svg .tick, svg .legend, svg .readout { font-size: 11px; fill: #555; }
svg .grid { stroke: #e5e5e5; stroke-width: 1; }
svg .reference { stroke: #999; stroke-dasharray: 4 3; }
svg .cursor { stroke: #333; stroke-width: 1; }
svg .stopped { stroke: #c00; stroke-dasharray: 2 3; }
.note { font-size: 12px; color: #555; margin: 0 0 12px; }
table.comparison td, table.comparison th { border-bottom: 1px solid #eee; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; }
`

function table(title: string, rows: Record<string, string>): string {
  const body = Object.entries(rows)
    .map(([label, value]) => `<tr><th>${escapeHtml(label)}</th><td>${escapeHtml(value)}</td></tr>`)
    .join('')
  return `<div><h2>${escapeHtml(title)}</h2><table>${body}</table></div>`
}

/**
 * Render the report as one HTML document. Everything is inline: it opens from disk, offline.
 *
 * @example
 * ```ts
 * writeFileSync('perf.html', renderReport(data))
 * ```
 */
export function renderReport(data: ReportData): string {
  const runs = data.comparison ?? []
  // The plots with something to show (a run that was never paced has no pacing plot); each keeps its index for the hover script.
  const charts = runs.length > 0 ? [] : chartsOf(data).map((chart, index) => ({ chart, index })).filter(({ chart }) => hasData(chart))
  const overlays = runs.length > 0 ? comparisonChartsOf(data, runs).filter(hasData) : []
  const period = samplePeriodSeconds(runs.length > 0 ? runs[0]!.series.t : data.series.t)
  // JSON inside <script>: escape `<` so no `</script>` or `<!--` can end it early.
  const json = JSON.stringify(data).replace(/</g, '\\u003c')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(data.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(data.title)}</h1>
<div class="command">${escapeHtml(data.command)}</div>
<div class="tables">${table('Results', data.summary)}${table('Settings', data.settings)}</div>
${runs.length > 0 ? comparisonTable(runs) : ''}
${charts.map(({ chart, index }) => renderChart(chart, data.series.t, index)).join('\n')}
${overlays.map((chart) => renderChart(chart, [], undefined)).join('\n')}
<h2>Sender</h2>
<pre>${escapeHtml(data.senderLines.join('\n'))}</pre>
${data.receiverLines.length > 0 ? `<h2>Receiver</h2>\n<pre>${escapeHtml(data.receiverLines.join('\n'))}</pre>` : ''}
<p class="command">Generated ${escapeHtml(data.generated)} by mtcp-perf. ${period === undefined ? 'Too few samples for plots.' : `Samples every ${escapeHtml(formatTick(period * 1000))} ms of the stack's clock (the median gap between samples).`}</p>
<script type="application/json" id="${REPORT_DATA_ELEMENT_ID}">${json}</script>
<script>${SCRIPT}</script>
</body>
</html>
`
}

/**
 * Read the embedded {@link ReportData} back from a report's HTML.
 * @returns the data, or undefined when the document holds none.
 */
export function readReportData(html: string): ReportData | undefined {
  const match = new RegExp(`<script type="application/json" id="${REPORT_DATA_ELEMENT_ID}">([\\s\\S]*?)</script>`).exec(html)
  if (match === null) return undefined
  try {
    return JSON.parse(match[1]!) as ReportData
  } catch {
    return undefined
  }
}
