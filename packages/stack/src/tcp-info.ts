/**
 * A snapshot of one connection's TCP state, like Linux's `TCP_INFO`.
 * @module
 */
import type { TcpConnection, TcpState } from '@mtcp/tcp-core'

/** What {@link Stack.tcpInfo} returns: times in µs, sizes in bytes, rates in bytes/s. */
export interface TcpInfo {
  state: TcpState
  /** Payload bytes per full segment: the negotiated MSS less the TCP options every segment carries (timestamps). */
  mss: number
  /** Congestion window. */
  cwnd: number
  /** Slow-start threshold (Infinity before the first loss). */
  ssthresh: number
  /** Smoothed RTT, 0 before the first sample (RFC 6298). */
  srttUs: number
  /** RTT variation (RFC 6298 RTTVAR). */
  rttVarUs: number
  /** Current retransmission timeout, with backoff. */
  rtoUs: number
  /** Smallest RTT sample seen, 0 before the first. */
  minRttUs: number
  /** The latest RTT sample, 0 before the first. */
  lastRttUs: number
  /** Bytes sent and not yet acknowledged. */
  bytesInFlight: number
  /** Data bytes the peer acknowledged. */
  bytesAcked: number
  /** Sequence space sent, retransmissions included. */
  bytesSent: number
  /** Data bytes received in order. */
  bytesReceived: number
  segmentsOut: number
  segmentsIn: number
  retransmittedSegments: number
  retransmittedBytes: number
  retransmitTimeouts: number
  fastRetransmits: number
  /** The rate the connection is paced at, 0 when not paced. */
  pacingRate: number
  /** Whether loss recovery is under way. */
  inRecovery: boolean
  /** The congestion controller's name (`'reno'`, `'cubic'`, `'ccp'`). */
  congestionControl: string
  /**
   * The last ICMP error reported for the connection, as a soft error that did not abort it (RFC 1122
   * §4.2.3.9, as Linux's `sk_err_soft`): `'EHOSTUNREACH'`, `'ENETUNREACH'`, `'ECONNREFUSED'` (port or
   * protocol unreachable), `'EHOSTDOWN'` (time exceeded), `'EPROTO'` (parameter problem); undefined when none.
   */
  softError: string | undefined
  /** Whether ECN was negotiated (RFC 3168 §6.1.1; Linux's TCPI_OPT_ECN). */
  ecn: boolean
}

/** @internal Read a {@link TcpInfo} from a connection. */
export function readTcpInfo(connection: TcpConnection): TcpInfo {
  const { rtt, congestion, stats } = connection
  return {
    state: connection.state,
    mss: connection.negotiated.mss,
    cwnd: congestion.window,
    ssthresh: congestion.slowStartThreshold,
    srttUs: rtt.smoothedRtt ?? 0,
    rttVarUs: rtt.rttVariation,
    rtoUs: rtt.rto,
    minRttUs: Number.isFinite(rtt.minRtt) ? rtt.minRtt : 0,
    lastRttUs: rtt.latestRtt ?? 0,
    bytesInFlight: connection.bytesInFlight,
    bytesAcked: stats.bytesOut,
    bytesSent: stats.bytesSent,
    bytesReceived: stats.bytesIn,
    segmentsOut: stats.segmentsOut,
    segmentsIn: stats.segmentsIn,
    retransmittedSegments: stats.retransmittedSegments,
    retransmittedBytes: stats.retransmittedBytes,
    retransmitTimeouts: stats.retransmitTimeouts,
    fastRetransmits: stats.fastRetransmits,
    pacingRate: connection.pacingRate ?? 0,
    inRecovery: connection.inRecovery,
    congestionControl: congestion.name,
    softError: connection.softError,
    ecn: connection.negotiated.ecn,
  }
}
