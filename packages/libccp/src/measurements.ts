/**
 * What the stack measures on each ACK and hands to `connection.invoke`: the CCP primitives
 * (libccp's `ccp.h` and `machine.h`: `Ack.*` are deltas since the last invoke, `Flow.*` the
 * flow's state) plus the flow's current window and rate, which load the Cwnd and Rate registers.
 * @module
 */

/**
 * One ACK's measurements. A plain object the caller keeps and overwrites on every ACK (one object, one
 * shape: the compiled programs read its properties directly). Every value is a non-negative integer below
 * 2^53 except `wasTimeout`.
 */
export interface Measurements {
  /** Bytes newly acknowledged by this ACK (Ack.bytes_acked). */
  bytesAcked: number
  /** Bytes newly SACKed out of order (Ack.bytes_misordered). */
  bytesMisordered: number
  /** Bytes newly acknowledged with ECN-CE marks (Ack.ecn_bytes). */
  ecnBytes: number
  /** Packets newly acknowledged with ECN-CE marks (Ack.ecn_packets). */
  ecnPackets: number
  /** Packets newly detected lost (Ack.lost_pkts_sample). */
  lostPktsSample: number
  /** Packets newly acknowledged (Ack.packets_acked). */
  packetsAcked: number
  /** Packets newly SACKed out of order (Ack.packets_misordered). */
  packetsMisordered: number
  /** Bytes in flight (Flow.bytes_in_flight). */
  bytesInFlight: number
  /** Bytes waiting in the send buffer, absolute (Flow.bytes_pending). */
  bytesPending: number
  /** Packets in flight (Flow.packets_in_flight). */
  packetsInFlight: number
  /** Receive rate estimate in bytes/s (Flow.rate_incoming). */
  rateIncoming: number
  /** Send rate estimate in bytes/s (Flow.rate_outgoing). */
  rateOutgoing: number
  /** This ACK's RTT sample in µs, 0 when it has none (the program then reads 0xFFFFFFFF). */
  rttSampleUs: number
  /** Whether this invoke follows a retransmission timeout (Flow.was_timeout). */
  wasTimeout: boolean
  /** The flow's current congestion window in bytes (`snd_cwnd`): the Cwnd register's value at the start of the invoke. */
  cwnd: number
  /** The flow's current pacing rate in bytes/s (`snd_rate`, 0 if unpaced): the Rate register's value at the start of the invoke. */
  rate: number
}

/** A zeroed {@link Measurements} object to keep per flow and overwrite on every ACK. */
export function createMeasurements(): Measurements {
  return {
    bytesAcked: 0,
    bytesMisordered: 0,
    ecnBytes: 0,
    ecnPackets: 0,
    lostPktsSample: 0,
    packetsAcked: 0,
    packetsMisordered: 0,
    bytesInFlight: 0,
    bytesPending: 0,
    packetsInFlight: 0,
    rateIncoming: 0,
    rateOutgoing: 0,
    rttSampleUs: 0,
    wasTimeout: false,
    cwnd: 0,
    rate: 0,
  }
}
