/**
 * How much payload one segment carries: the peer's MSS (RFC 9293 §3.7.1) less the options every segment
 * carries (RFC 6691 §2), and with segmentation offload how many MSS one emitted super segment holds.
 * @module
 */
import type { ConnectionState } from '../connection-state.js'

/** RFC 9293 §3.7.1: the MSS to assume when the peer sent none. */
export const DEFAULT_PEER_MSS = 536
/** Bytes the timestamps option adds to every segment (with two NOPs), RFC 7323 §3.2. */
export const TIMESTAMPS_OPTION_LENGTH = 12
/** Bytes a SACK option takes beyond its blocks, as emitted: NOP, NOP, kind, length (RFC 2018 §3). */
const SACK_OPTION_OVERHEAD = 4

/**
 * The payload of one segment as it will go now: the negotiated payload (the MSS less the timestamps
 * option) less the room the SACK option takes while we report out-of-order data. RFC 9293 §3.7.1 and
 * RFC 6691 §2: the MSS bounds the data plus the TCP options beyond the fixed header, so a full-sized
 * data segment that also carries SACK blocks (RFC 2018 §4: in every ACK while data is held out of
 * order, piggybacked ones included) must carry less data — as Linux's tcp_current_mss() does.
 * Without this, every such segment was larger than the path MTU and dropped by the link, so with data
 * flowing both ways under loss a retransmission that carried SACK blocks could never arrive.
 * An upper bound of the blocks the next segment carries (a pending D-SACK is counted).
 * @internal
 */
export function sendMss(s: ConnectionState): number {
  if (!s.sackOn) return s.payloadMax
  const receiver = s.sackReceiver
  const held = receiver !== undefined ? receiver.rangeCount + (receiver.hasDsack ? 1 : 0) : s.receiveBuffer.rangeCount
  if (held === 0) return s.payloadMax
  const blocks = Math.min(held, s.ts.on ? 3 : 4)
  // NOP NOP kind length, then 8 bytes per block (the layout of emitTcpOptions).
  return Math.max(1, s.payloadMax - (SACK_OPTION_OVERHEAD + 8 * blocks))
}

/** The most payload in one emitted segment: the MSS, or whole MSS multiples up to `segmentationMax` with TSO. @internal */
export function superSegmentMax(s: ConnectionState): number {
  const max = s.config.segmentationMax
  const mss = sendMss(s)
  return max > mss ? Math.floor(max / mss) * mss : mss
}
