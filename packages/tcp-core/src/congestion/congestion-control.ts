/**
 * The congestion-control interface between a TCP connection and its controller.
 *
 * The connection owns loss detection and the recovery episode (RFC 5681 §3.2, RFC 6582, later
 * RFC 6675 with SACK); the controller owns the numbers: the congestion window, the slow-start
 * threshold and, optionally, a pacing rate. Native Reno and CUBIC implement it here; the CCP
 * datapath implements it in `@mtcp/libccp`'s adapter, so a connection does not know which one drives it.
 *
 * All sizes are bytes, all times µs. Calls never read a clock: `now` comes in.
 * @module
 */

// Time is `Micros` from @mtcp/primitives, re-exported for the modules of this package.
export type { Micros } from '@mtcp/primitives'
import type { Micros } from '@mtcp/primitives'

/** What one acknowledgment told the sender, handed to {@link CongestionControl.onAck}. */
export interface AckSample {
  /** Bytes newly acknowledged cumulatively by this ACK (0 for a duplicate). */
  bytesAcked: number
  /** Bytes newly selectively acknowledged by this ACK (SACK), 0 without SACK. */
  bytesSacked: number
  /** A round-trip time sample in µs taken from this ACK (RFC 6298 rules: never from a retransmission), or undefined. */
  rttSample: Micros | undefined
  /** The connection's smoothed RTT in µs, or undefined before the first sample. */
  smoothedRtt: Micros | undefined
  /** Bytes in flight before this ACK was processed (RFC 5681 FlightSize). */
  bytesInFlight: number
  /**
   * Whether the sender was limited by the application rather than the window when this data was sent
   * (the newest segment acknowledged was sent in an application-limited phase, draft-cheng-iccrg-delivery-
   * rate-estimation §3.4); the native controllers then do not grow cwnd (RFC 7661, RFC 9438 §5.8).
   */
  appLimited: boolean
}

/**
 * What one ACK did, for controllers that look at every ACK (CCP's per-ACK datapath program). The
 * connection reuses one object: read it during {@link CongestionControl.onAckMeasurement}, don't keep it.
 */
export interface AckMeasurement {
  /** Bytes newly acknowledged cumulatively by this ACK. */
  bytesAcked: number
  /** Segments those bytes make (rounded up to whole MSS). */
  packetsAcked: number
  /** Bytes newly selectively acknowledged (received out of order: misordered), RFC 2018. */
  bytesSacked: number
  /** Segments those bytes make (rounded up). */
  packetsSacked: number
  /**
   * Bytes this ACK newly acknowledged (cumulatively or selectively) when it carried ECN-Echo (RFC 3168
   * §6.1.2): data the receiver reports as having met congestion marks (CCP's Ack.ecn_bytes); 0 without ECE.
   */
  ecnBytes: number
  /** Segments those bytes make (rounded up); 1 for an ECN-Echo that acknowledged nothing new (CCP's Ack.ecn_packets). */
  ecnPackets: number
  /** Segments this ACK showed lost: 1 when it starts recovery (RFC 5681 §3.2 / RFC 6675 §5), plus retransmissions found lost again. */
  lostPackets: number
  /** The RTT sample this ACK gave, µs, or undefined (no new data acknowledged, or Karn's rule, RFC 6298 §3). */
  rttSample: Micros | undefined
  /** Bytes in the network after this ACK: RFC 6675's pipe with SACK, else SND.NXT − SND.UNA. */
  bytesInFlight: number
  /** Segments in the network (bytesInFlight in MSS, rounded up). */
  packetsInFlight: number
  /** Bytes written by the application and not yet sent. */
  bytesPending: number
  /** Sequence space sent since the connection began, retransmissions included: a counter for send rates. */
  bytesSent: number
  /** Bytes delivered to the peer since the connection began (cumulative plus selective ACKs): a counter for delivery rates. */
  bytesDelivered: number
  /**
   * A delivery-rate sample from this ACK, bytes/s (draft-cheng-iccrg-delivery-rate-estimation): data
   * delivered since the newest acknowledged segment was sent, over the longer of its send and ACK
   * intervals. 0 when this ACK gave no sample.
   */
  deliveryRate: number
  /** The matching send-rate sample: the same data over the send interval alone, bytes/s; 0 when none. */
  sendRate: number
  /**
   * Whether the newest segment this ACK acknowledged was sent while the application, not cwnd, limited
   * the connection (draft-cheng-iccrg-delivery-rate-estimation §3.4): its rate samples understate the
   * path, and cwnd growth from it would be unvalidated (RFC 7661).
   */
  appLimited: boolean
}

/**
 * A congestion controller. One instance per connection.
 *
 * Call order for a loss episode found by duplicate ACKs (NewReno, RFC 6582):
 * `onEnterRecovery` → (`onDuplicateAck` | `onPartialAck`)* → `onExitRecovery`.
 * A retransmission timeout calls `onRetransmitTimeout` and ends any recovery.
 */
export interface CongestionControl {
  /** A short name: `'reno'`, `'cubic'`, `'ccp'`. */
  readonly name: string
  /** The congestion window in bytes (RFC 5681 cwnd), inflated during fast recovery as RFC 6582 says. */
  readonly window: number
  /** The slow-start threshold in bytes (RFC 5681 ssthresh). */
  readonly slowStartThreshold: number
  /**
   * The pacing rate in bytes per second the controller asks for, or undefined to leave pacing to the
   * connection's configuration.
   */
  readonly pacingRate: number | undefined

  /** Set or change the sender's maximum segment size (after MSS negotiation or a path MTU change). */
  setMss(mss: number): void
  /** New data was cumulatively acknowledged outside a recovery episode: grow the window. */
  onAck(now: Micros, sample: AckSample): void
  /**
   * Three duplicate ACKs (or SACK loss detection) started a recovery episode (RFC 5681 §3.2 step 2–3,
   * RFC 6582 §3.2 step 2): reduce ssthresh and set the window for fast recovery.
   * @param bytesInFlight - FlightSize when the loss was detected.
   * @param sackRecovery - RFC 6675 recovery: cwnd = ssthresh without the three-segment inflation, since
   *   the connection's `pipe` estimate, not inflation, governs what is sent; no duplicate or partial ACK
   *   calls follow.
   */
  onEnterRecovery(now: Micros, bytesInFlight: number, sackRecovery?: boolean): void
  /** A further duplicate ACK during recovery (RFC 5681 §3.2 step 4: inflate by one SMSS). */
  onDuplicateAck(now: Micros): void
  /** A partial ACK during recovery (RFC 6582 §3.2 step 5: deflate by the bytes acked, add back one SMSS). */
  onPartialAck(now: Micros, bytesAcked: number): void
  /** A full ACK ended recovery (RFC 6582 §3.2 step 3: window set from ssthresh and the new FlightSize). */
  onExitRecovery(now: Micros, bytesInFlight: number): void
  /** The retransmission timer expired (RFC 5681 §3.1 eq. 4: ssthresh from FlightSize, window to one loss window). */
  onRetransmitTimeout(now: Micros, bytesInFlight: number): void
  /** The connection was idle for more than an RTO (RFC 5681 §4.1: restart from the restart window). */
  onIdleRestart(now: Micros): void
  /**
   * Optional: the last congestion event (a recovery or a timeout) was spurious — every retransmission of
   * the recovery was reported as a duplicate by D-SACK (RFC 3708), or the first ACK after a timeout
   * echoes a timestamp from before the retransmission (Eifel, RFC 3522): restore the window and threshold
   * from before it (RFC 4015 §3.2, RFC 9438 §4.9). Called at most once per event, never during recovery.
   */
  onUndo?(now: Micros): void
  /**
   * Optional: called once for every acceptable ACK, after the calls above, with what the ACK did. Native
   * controllers leave it out; the connection fills the measurement only for controllers that have it.
   */
  onAckMeasurement?(now: Micros, measurement: Readonly<AckMeasurement>): void
}

/** Settings common to the native controllers. */
export interface CongestionControlOptions {
  /** Sender MSS in bytes. Default 536 (RFC 9293 §3.7.1 default) until {@link CongestionControl.setMss}. */
  mss?: number
  /** Initial window in segments. Default 10 (RFC 6928). */
  initialWindowSegments?: number
}

/** The names of the native controllers, selectable per connection. */
export type NativeCongestionControlName = 'reno' | 'cubic'
