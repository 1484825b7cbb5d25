/**
 * The segments a connection consumes and produces: the TCP header fields it needs (RFC 9293 §3.1)
 * and the options it negotiates (RFC 9293 §3.2, RFC 7323, RFC 2018), without the bytes of a frame.
 * @module
 */
import type { SackBlock } from '../wire/tcp-options.js'

/** An arriving segment as the connection sees it. The stack fills it from the wire repr. */
export interface InboundSegment {
  seq: number
  ack: number
  flags: number
  /** The window field as sent, not yet scaled. */
  window: number
  /** MSS option (SYN only), or undefined. */
  mss: number | undefined
  /** Window scale shift (SYN only), or undefined when absent. */
  windowScale: number | undefined
  sackPermitted: boolean
  /** Timestamps option TSval, or undefined when absent. */
  tsValue: number | undefined
  /** Timestamps option TSecr. */
  tsEcho: number
  /** SACK blocks, possibly empty. */
  sackBlocks: readonly SackBlock[]
  /**
   * The bytes that hold the segment text, at [payloadOffset, payloadOffset + payloadLength): usually the
   * whole receive buffer of the frame, so that parsing makes no view (the segment path allocates nothing).
   */
  payload: Uint8Array
  /** Where the text starts in {@link payload}. */
  payloadOffset: number
  /** Bytes of text. */
  payloadLength: number
  /**
   * Whether the IP header carried the CE codepoint (RFC 3168 §5): a router on the way marked congestion.
   * The stack sets it from the IPv4 header; undefined means not marked.
   */
  ce?: boolean | undefined
}

/** A blank {@link InboundSegment} to fill, for tests and for drivers that reuse one object. */
export function emptyInboundSegment(): InboundSegment {
  return {
    seq: 0,
    ack: 0,
    flags: 0,
    window: 0,
    mss: undefined,
    windowScale: undefined,
    sackPermitted: false,
    tsValue: undefined,
    tsEcho: 0,
    sackBlocks: [],
    payload: new Uint8Array(0),
    payloadOffset: 0,
    payloadLength: 0,
    ce: false,
  }
}

/**
 * A segment the connection wants sent. One object is reused for every emit: the emit callback must
 * serialise it before returning. The payload stays in the send buffer until `copyPayload` copies it
 * into the outgoing frame (the only copy on the send path).
 */
export class OutboundSegment {
  seq = 0
  ack = 0
  flags = 0
  /** The window field to send, already scaled down. */
  window = 0
  /** MSS option to send, or 0 for none. */
  mss = 0
  /** Window scale option to send, or -1 for none. */
  windowScale = -1
  sackPermitted = false
  /** Whether to send the timestamps option. */
  timestamps = false
  tsValue = 0
  tsEcho = 0
  /** SACK blocks to send: `sackCount` pairs in `sackLeft`/`sackRight`. */
  sackCount = 0
  readonly sackLeft: number[] = [0, 0, 0, 0]
  readonly sackRight: number[] = [0, 0, 0, 0]
  /** Payload bytes. */
  payloadLength = 0
  /** For a super segment (payload larger than the MSS): the MSS the port cuts it into; else 0. */
  segmentSize = 0
  /** Whether this segment retransmits data sent before. */
  retransmission = false
  /**
   * The IP header's ECN field for this segment (RFC 3168 §5): 0 Not-ECT, 2 ECT(0) on new data once ECN
   * was negotiated (`IpEcn`). The stack writes it into the IPv4 header.
   */
  ecn = 0
  /** @internal */
  copyFrom: ((from: number, length: number, target: Uint8Array, offset: number) => void) | undefined = undefined
  /** @internal */
  payloadOffset = 0

  /** Copy the payload into `target` at `offset`. */
  copyPayload(target: Uint8Array, offset: number): void {
    if (this.payloadLength > 0) this.copyFrom!(this.payloadOffset, this.payloadLength, target, offset)
  }

  /** Make the segment a bare header again, for reuse: no flags, options, payload or ECN codepoint. */
  reset(): void {
    this.flags = 0
    this.mss = 0
    this.windowScale = -1
    this.sackPermitted = false
    this.timestamps = false
    this.tsValue = 0
    this.tsEcho = 0
    this.sackCount = 0
    this.payloadLength = 0
    this.segmentSize = 0
    this.retransmission = false
    this.ecn = 0
  }
}
