/**
 * `mtcp-perf`'s text output in iperf3's manner: a table with one row per progress interval (transfer,
 * bitrate, retransmissions in the interval, cwnd, RTT) and a closing summary with a sender line and a
 * receiver line and the retransmission total.
 * @module
 */
import { formatBitrate, formatBytes } from './format.js'
import type { PerfProgress, PerfResult } from './run.js'

function interval(start: number, end: number): string {
  return `${`${start.toFixed(2)}-${end.toFixed(2)}`.padStart(13)} s`
}

/** The columns: interval, transfer, bitrate, retransmissions, then cwnd and RTT (intervals only). */
function row(cells: readonly string[]): string {
  const widths = [15, 10, 12, 6, 10, 10]
  return cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')
}

/** The header of the interval table. */
export const INTERVAL_HEADER: string = row(['Interval', 'Transfer', 'Bitrate', 'Retr', 'Cwnd', 'RTT'])

/**
 * One row of the interval table: the interval's seconds since the connection was set up, the data
 * acknowledged in it and its rate, the segments retransmitted in it, cwnd and smoothed RTT at its end.
 *
 * @example
 * ```ts
 * formatInterval(progress) // '    0.00-1.00 s    11.2 MiB   94.1 Mbit/s       0     351 KiB     40.2 ms'
 * ```
 */
export function formatInterval(progress: PerfProgress): string {
  return row([interval(progress.start, progress.t), formatBytes(progress.bytes), formatBitrate(progress.bitsPerSecond), String(progress.intervalRetransmits), formatBytes(progress.cwnd), `${progress.srttMs.toFixed(1)} ms`])
}

/**
 * The closing summary: a separator, a header, the sender line (data written from the first write to the
 * receiver's reply, with the retransmission total) and the receiver line (what the receiver counted when it
 * ran in this process; otherwise what it acknowledged, as seen by the sender).
 */
export function formatSummary(result: PerfResult): string[] {
  const { sender, receiver, tcpInfo } = result
  const retransmits = tcpInfo?.retransmittedSegments ?? 0
  const lines = ['- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -', row(['Interval', 'Transfer', 'Bitrate', 'Retr'])]
  const senderRate = sender.elapsedSeconds > 0 ? (sender.bytesSent * 8) / sender.elapsedSeconds : 0
  lines.push(`${row([interval(0, sender.elapsedSeconds), formatBytes(sender.bytesSent), formatBitrate(senderRate), String(retransmits)])}  sender${sender.interrupted ? ' (interrupted)' : ''}`)
  if (receiver !== undefined) {
    lines.push(`${row([interval(0, receiver.seconds), formatBytes(receiver.bytes), formatBitrate(receiver.mbps * 1e6), ''])}  receiver`)
  } else if (tcpInfo !== undefined) {
    const acked = tcpInfo.bytesAcked
    const rate = sender.elapsedSeconds > 0 ? (acked * 8) / sender.elapsedSeconds : 0
    lines.push(`${row([interval(0, sender.elapsedSeconds), formatBytes(acked), formatBitrate(rate), ''])}  receiver (acknowledged)`)
  }
  // The exact counts, for scripts: mTCP perf's "Total bytes sent" and "Time elapsed" (mtcp-recv's bytes_rcvd is one more: the end marker).
  lines.push(`Sent ${sender.bytesSent} bytes in ${sender.elapsedSeconds.toFixed(6)} s${receiver === undefined ? '' : `; the receiver counted ${receiver.bytes} (with the end marker)`}`)
  if (tcpInfo !== undefined) {
    lines.push(`Retransmitted ${retransmits} segments (${formatBytes(tcpInfo.retransmittedBytes)}) in ${tcpInfo.fastRetransmits} fast-recovery episodes and ${tcpInfo.retransmitTimeouts} timeouts; srtt ${(tcpInfo.srttUs / 1000).toFixed(1)} ms, min rtt ${(tcpInfo.minRttUs / 1000).toFixed(1)} ms`)
  }
  return lines
}
