/**
 * `@mtcp/perf`: mTCP's perf sender on the `@mtcp/stack` user-level TCP stack, compatible with the
 * original protocol and output (`mtcp-recv` or recv.py on the other end), with live progress, JSON output,
 * pcap capture and an HTML report with plots. This file is the public API: named re-exports only.
 * @packageDocumentation
 */
export { type CcpSetup, type CcpSetupOptions, createCcp } from './ccp.js'
export { type ComparisonHooks, comparisonSummary, formatComparison, type PerfComparison, runComparison } from './compare.js'
export { PerfError, type PerfErrorCode } from './errors.js'
export { formatBitrate, formatBytes } from './format.js'
export { type Iperf3ClientOptions, type Iperf3ClientResult, IPERF3_COOKIE_LENGTH, Iperf3Server, type Iperf3ServerOptions, Iperf3State, runIperf3Client } from './iperf3.js'
export {
  neighbourAddress,
  PERF_FLAGS,
  parsePerfArgs,
  type PerfFlag,
  type PerfFlagGroup,
  type PerfCongestionControl,
  type PerfIo,
  type PerfLinkOptions,
  type PerfOptions,
  USAGE,
} from './options.js'
export { type ComparisonRun, readReportData, renderReport, REPORT_DATA_ELEMENT_ID, type ReportData, samplePeriodSeconds } from './report.js'
export { type PerfHooks, type PerfLineSource, type PerfProgress, type PerfResult, checkOutputPaths, reportData, runPerf } from './run.js'
export { type Iperf3RunHooks, runIperf3 } from './run-iperf3.js'
export { runServe, type ServeLoadStats, type ServeResult, type ServeRunHooks } from './run-serve.js'
export { ConnectionSampler, emptySeries, type PerfSeries } from './sampler.js'
export { type ServeConnectionsOptions, serveConnections, type ServeHandle, type ServeMode, type ServeStats } from './serve.js'
export { formatSenderSummary, type SenderResult, sendPerf, type SendPerfOptions } from './sender.js'
export { formatInterval, formatSummary, INTERVAL_HEADER } from './summary.js'
