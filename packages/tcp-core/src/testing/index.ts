/**
 * Test helpers for code built on `@mtcp/tcp-core`: segment builders, a congestion controller with a
 * fixed window, and a harness that drives one connection by hand on a virtual time line.
 * Exported as `@mtcp/tcp-core/testing`.
 * @module
 */
import type { AckSample, CongestionControl, Micros } from '../congestion/congestion-control.js'
import { TcpConnection } from '../conn/connection.js'
import { emptyInboundSegment, type InboundSegment, type OutboundSegment } from '../conn/segment.js'
import { TcpFlags } from '../wire/tcp.js'
import { resolveTcpConfig, type TcpConfig } from '../conn/tcp-config.js'

/** A controller whose window never changes; records the calls it gets. */
export class FixedWindowControl implements CongestionControl {
  readonly name = 'fixed'
  readonly pacingRate = undefined
  slowStartThreshold = Number.POSITIVE_INFINITY
  readonly calls: string[] = []
  constructor(public window = 1 << 30) {}
  setMss(): void {}
  onAck(_now: Micros, sample: AckSample): void {
    this.calls.push(`ack ${sample.bytesAcked}`)
  }
  onEnterRecovery(_now: Micros, inFlight: number): void {
    this.calls.push(`enter ${inFlight}`)
  }
  onDuplicateAck(): void {
    this.calls.push('dup')
  }
  onPartialAck(_now: Micros, acked: number): void {
    this.calls.push(`partial ${acked}`)
  }
  onExitRecovery(_now: Micros, inFlight: number): void {
    this.calls.push(`exit ${inFlight}`)
  }
  onRetransmitTimeout(_now: Micros, inFlight: number): void {
    this.calls.push(`rto ${inFlight}`)
  }
  onIdleRestart(): void {
    this.calls.push('idle')
  }
}

/** A connection configuration for tests: defaults, a fixed-window controller, and `overrides`. */
export function testConfig(overrides: Partial<TcpConfig> = {}): TcpConfig {
  return resolveTcpConfig(overrides, () => new FixedWindowControl())
}

/** An inbound segment: defaults (ACK only, empty) overridden by `fields`; a `payload` without `payloadLength` is all text. */
export function segment(fields: Partial<InboundSegment> = {}): InboundSegment {
  const built = { ...emptyInboundSegment(), flags: TcpFlags.ACK, window: 65535, ...fields }
  // A payload given alone is all text.
  if (fields.payload !== undefined && fields.payloadLength === undefined) built.payloadLength = fields.payload.byteLength - built.payloadOffset
  return built
}

/** A snapshot of one emitted segment, payload copied. */
export interface SentSegment {
  seq: number
  ack: number
  flags: number
  window: number
  mss: number
  windowScale: number
  sackPermitted: boolean
  timestamps: boolean
  tsValue: number
  tsEcho: number
  sack: Array<[number, number]>
  payload: Uint8Array
  retransmission: boolean
  /** The IP ECN codepoint the segment asks for (0 Not-ECT, 2 ECT(0); RFC 3168 §5). */
  ecn: number
}

/** Copy what an emitted segment says, so it survives the reuse of the object. */
export function snapshot(out: OutboundSegment): SentSegment {
  const payload = new Uint8Array(out.payloadLength)
  out.copyPayload(payload, 0)
  const sack: Array<[number, number]> = []
  for (let i = 0; i < out.sackCount; i++) sack.push([out.sackLeft[i]!, out.sackRight[i]!])
  return {
    seq: out.seq,
    ack: out.ack,
    flags: out.flags,
    window: out.window,
    mss: out.mss,
    windowScale: out.windowScale,
    sackPermitted: out.sackPermitted,
    timestamps: out.timestamps,
    tsValue: out.tsValue,
    tsEcho: out.tsEcho,
    sack,
    payload,
    retransmission: out.retransmission,
    ecn: out.ecn,
  }
}

/** Drives one connection: `now` is a plain number the test moves. */
export class ConnectionHarness {
  now: Micros = 0
  constructor(public connection: TcpConnection) {}

  /** Active open with `config`; the SYN is taken with {@link recv}. */
  static connect(config: TcpConfig = testConfig(), iss = 1000): ConnectionHarness {
    return new ConnectionHarness(TcpConnection.connect(config, 0, iss))
  }

  /** Deliver a segment. */
  send(fields: Partial<InboundSegment>): void {
    this.connection.process(this.now, segment(fields))
  }

  /** Everything the connection emits now. */
  recv(): SentSegment[] {
    const out: SentSegment[] = []
    this.connection.dispatch(this.now, (s) => out.push(snapshot(s)))
    return out
  }

  /** Move time to the connection's next timer and dispatch. */
  advanceToTimer(): SentSegment[] {
    const at = this.connection.pollAt()
    if (at === undefined) throw new Error('no timer armed')
    this.now = Math.max(this.now, at)
    return this.recv()
  }
}
