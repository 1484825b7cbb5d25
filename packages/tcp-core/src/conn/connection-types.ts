/**
 * The public vocabulary of a connection: its states (RFC 9293 §3.3.2), errors, event bits and counters.
 * Kept apart from `connection.ts` so that the rule modules can use it without importing the class.
 * @module
 */
import type { EcnStats } from './rules/ecn.js'
import type { TcpConnection } from './connection.js'

/** The connection states of RFC 9293 §3.3.2. */
export type TcpState =
  | 'CLOSED'
  | 'LISTEN'
  | 'SYN-SENT'
  | 'SYN-RECEIVED'
  | 'ESTABLISHED'
  | 'FIN-WAIT-1'
  | 'FIN-WAIT-2'
  | 'CLOSE-WAIT'
  | 'CLOSING'
  | 'LAST-ACK'
  | 'TIME-WAIT'

/** Why a connection failed, with the POSIX name. */
export type TcpErrorCode = 'ECONNREFUSED' | 'ECONNRESET' | 'ETIMEDOUT' | 'EPIPE' | 'ENOTCONN'

/** A connection error or API misuse, with a stable {@link TcpErrorCode}. */
export class TcpError extends Error {
  override readonly name = 'TcpError'
  constructor(
    readonly code: TcpErrorCode,
    message: string,
  ) {
    super(message)
  }
}

/** Event bits a connection raises for its owner (see {@link TcpConnection.takeEvents}). */
export const TcpEvents = {
  /** The handshake completed. */
  CONNECTED: 1,
  /** Data (or the end of the stream) can be read. */
  READABLE: 2,
  /** Send buffer space opened. */
  WRITABLE: 4,
  /** The peer sent FIN: no more data will arrive. */
  PEER_CLOSED: 8,
  /** The connection reached CLOSED (normally, or by reset or timeout). */
  CLOSED: 16,
  /** The connection failed; see {@link TcpConnection.error}. */
  ERROR: 32,
} as const

/** Counters of one connection (with the ECN rule's, {@link EcnStats}). */
export interface TcpConnectionStats extends EcnStats {
  segmentsIn: number
  segmentsOut: number
  bytesIn: number
  /** Data bytes the peer acknowledged. */
  bytesOut: number
  /** Sequence space sent, retransmissions included (SYN and FIN count one each). */
  bytesSent: number
  retransmittedSegments: number
  retransmittedBytes: number
  retransmitTimeouts: number
  fastRetransmits: number
  duplicateAcksIn: number
  /** Segments RACK marked lost (RFC 8985 §6.2 step 5). */
  rackLostSegments: number
  /** Retransmissions found lost again and sent again without waiting for the RTO (RACK, or the RFC 6675 mode's check). */
  lostRetransmissions: number
  outOfOrderSegments: number
  /** Out-of-order segments dropped because the receive buffer's table of out-of-order ranges was full. */
  outOfOrderDropped: number
  /** Segments that failed the acceptability test (RFC 9293 §3.10.7.4). */
  unacceptableSegments: number
  /** Segments dropped by PAWS (RFC 7323 §5). */
  pawsRejected: number
  /** Segments without the timestamps option, dropped after timestamps were negotiated (RFC 7323 §3.2). */
  missingTimestamps: number
  /** Resets ignored in TIME-WAIT (RFC 1337 §3, TIME-WAIT assassination). */
  timeWaitResetsIgnored: number
  /** ACKs sent as segments of their own: duplicate, challenge, FIN and window-update ACKs (RFC 5681 §4.2). */
  pureAcksSent: number
  /** Restarts from the restart window after an idle period longer than the RTO (RFC 5681 §4.1). */
  idleRestarts: number
  /** Recoveries undone because D-SACK reported every retransmission of them as a duplicate (RFC 3708). */
  spuriousRecoveries: number
  /** Timeouts undone because the first ACK after them echoed a timestamp from before the retransmission (RFC 3522). */
  spuriousTimeouts: number
  challengeAcks: number
  windowProbes: number
  keepAliveProbes: number
  /** Tail loss probes sent (RFC 8985 §7.3). */
  tailLossProbes: number
  /** Tail loss probes that repaired a loss: the episode ended without a D-SACK (RFC 8985 §7.4). */
  tailLossProbeRecoveries: number
}
