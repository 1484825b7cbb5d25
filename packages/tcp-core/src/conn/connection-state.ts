/**
 * The state of one connection as one record of plain fields (decision 0090): the send and receive
 * sequence variables of RFC 9293 §3.3.1, the state of §3.3.2, the negotiated options, the buffers, and
 * the objects of the rules in `rules/`. `TcpConnection` owns one; the rule modules (`rules/segment-arrival.ts`,
 * `rules/ack-processing.ts`, `segment-output.ts`, …) are plain functions that take it.
 *
 * Every field is set in the constructor, in one order, so every record has the same shape (V8 keeps one
 * hidden class and the modules' property loads stay monomorphic). Nothing here allocates per segment.
 * Field representation matters for allocation: the numeric fields that the class initialised with a
 * literal (SND.WND, SND.WL1/WL2, RCV.NXT, Last.ACK.sent, …) start as that literal here too, so V8 stores
 * a sequence number at or above 2^31 into them in place; declared without it (undefined first) each such
 * store made a heap number, 48 bytes per segment more (decision 0090). SND.UNA/NXT/MAX stay without one,
 * as in the class: with it they are stored in place but boxed whenever read into a call, which measured
 * worse still.
 * @module
 */
import { type SackBlock, SackReceiver } from '@mtcp/sack'
import type { Pacer } from '@mtcp/pacer'
import { TokenBucket } from '@mtcp/pacer'
import type { AckMeasurement, CongestionControl, Micros } from '../congestion/congestion-control.js'
import { seqAdd, seqGt, seqSub } from '../wire/seq.js'
import type { TcpConnectionStats, TcpErrorCode, TcpState } from './connection-types.js'
import { ReceiveBuffer } from './receive-buffer.js'
import { RttEstimator } from './rtt-estimator.js'
import { OutboundSegment } from './segment.js'
import { SendBuffer } from './send-buffer.js'
import { SentLog } from './sent-log.js'
import type { TcpConfig } from './tcp-config.js'
import { ChallengeAckLimit } from './rules/challenge-ack.js'
import { DelayedAck } from './rules/delayed-ack.js'
import { DeliveryRate } from './rules/delivery-rate.js'
import { Ecn } from './rules/ecn.js'
import { IdleRestart } from './rules/idle-restart.js'
import { KeepAlive } from './rules/keepalive.js'
import { Frto } from './rules/loss-recovery/frto.js'
import { LossRecovery, type RecoveryView } from './rules/loss-recovery/index.js'
import { Nagle } from './rules/nagle.js'
import { PersistTimer } from './rules/persist-timer.js'
import { ReceiveWindow, windowShiftFor } from './rules/receive-window.js'
import { RetransmissionTimer } from './rules/retransmission-timer.js'
import { DEFAULT_PEER_MSS, sendMss } from './rules/segment-size.js'
import { SpuriousUndo } from './rules/spurious-undo.js'
import { TailLossProbe } from './rules/tail-loss-probe.js'
import { TimeWait } from './rules/time-wait.js'
import { Timestamps } from './rules/timestamps.js'

/** A reset owed to the peer (RFC 9293 §3.10.7), sent at the next dispatch. @internal */
export interface PendingReset {
  seq: number
  ack: number
  flags: number
}

/** Fresh counters, every field present (one shape for every connection). */
function newStats(): TcpConnectionStats {
  return {
    segmentsIn: 0,
    segmentsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    bytesSent: 0,
    retransmittedSegments: 0,
    retransmittedBytes: 0,
    retransmitTimeouts: 0,
    fastRetransmits: 0,
    duplicateAcksIn: 0,
    rackLostSegments: 0,
    lostRetransmissions: 0,
    outOfOrderSegments: 0,
    outOfOrderDropped: 0,
    unacceptableSegments: 0,
    pawsRejected: 0,
    missingTimestamps: 0,
    timeWaitResetsIgnored: 0,
    pureAcksSent: 0,
    idleRestarts: 0,
    spuriousRecoveries: 0,
    spuriousTimeouts: 0,
    challengeAcks: 0,
    windowProbes: 0,
    keepAliveProbes: 0,
    tailLossProbes: 0,
    tailLossProbeRecoveries: 0,
    ceReceived: 0,
    eceReceived: 0,
    ecnReductions: 0,
    cwrSent: 0,
    ecnTimerWaits: 0,
  }
}

/**
 * The per-connection state record: plain fields that the rule modules read and write.
 * @internal
 */
export class ConnectionState {
  /** RFC 9293 §3.3.2. */
  state: TcpState
  error: TcpErrorCode | undefined
  /** `TcpEvents` bits raised since the owner last took them. */
  events = 0
  readonly stats: TcpConnectionStats
  config: TcpConfig

  // Send sequence space (RFC 9293 §3.3.1)
  readonly iss: number
  sndUna: number
  sndNxt: number
  /** The highest sequence number sent plus one (after a go-back-N retransmission sndNxt < sndMax). */
  sndMax: number
  sndWnd = 0
  sndWl1 = 0
  sndWl2 = 0
  maxSndWnd = 0
  /** The peer's window shift (RFC 7323 §2.2). */
  sndShift = 0
  /** Sender MSS: the largest payload in one segment, options deducted. */
  payloadMax: number
  synAcked: boolean
  finQueued: boolean
  /** Sequence number of our FIN once sent (the end of the data), or undefined. */
  finSeq: number | undefined
  /** Nagle (RFC 9293 §3.7.4), Minshall's variant. */
  readonly nagle: Nagle

  // Receive sequence space
  irs = 0
  rcvNxt = 0
  /** The window we advertise (rules/receive-window.ts). */
  readonly rcvWindow: ReceiveWindow
  finReceived: boolean
  /** Sequence number of a FIN that arrived out of order, or -1. */
  pendingFinSeq = -1

  // Options (rules/syn-options.ts)
  /** The shift we offer in our SYN, or -1 for none (RFC 7323 §2.2). */
  offerWindowScale: number
  sackOn: boolean
  /** Last.ACK.sent of RFC 7323 §4.3. */
  lastAckSent = 0
  /** RFC 7323 timestamps: TS.Recent, PAWS, our clock. */
  readonly ts: Timestamps

  // Buffers and estimators
  readonly sendBuffer: SendBuffer
  readonly receiveBuffer: ReceiveBuffer
  readonly rtt: RttEstimator
  readonly congestion: CongestionControl

  // Output requests and timers
  synPending: boolean
  /** ACKs owed (rules/delayed-ack.ts). */
  readonly acks: DelayedAck
  /** RFC 6298 §5 (rules/retransmission-timer.ts). */
  readonly rto: RetransmissionTimer
  readonly persist: PersistTimer
  readonly keepAlive: KeepAlive
  readonly timeWait: TimeWait
  resetToSend: PendingReset | undefined
  probePending: 'window' | 'keepalive' | undefined
  lastReceivedAt: Micros
  /** RFC 5961 §7 (rules/challenge-ack.ts). */
  readonly challenges: ChallengeAckLimit

  // SACK (RFC 2018): present when both ends sent SACK-permitted
  sackReceiver: SackReceiver | undefined
  readonly sackBlocksOut: SackBlock[]

  /** Tail loss probes, RFC 8985 §7 (rules/tail-loss-probe.ts). */
  readonly tlp: TailLossProbe
  /** New data left in this dispatch: the PTO restarts (RFC 8985 §7.2). */
  newDataSent: boolean

  /** Paced sending (@mtcp/pacer), created the first time a rate applies. */
  pacer: Pacer | undefined
  /** The connection's rate limit, from `config.rateLimit`. */
  readonly tokenBucket: TokenBucket | undefined
  /** When the pacer lets the next data segment go, while it holds one back. */
  paceAt: Micros | undefined

  /** Loss detection and recovery: RACK-TLP and PRR, RFC 6675, NewReno (rules/loss-recovery/). */
  readonly recovery: LossRecovery
  /** F-RTO after a timeout, RFC 5682 (rules/loss-recovery/frto.ts). */
  readonly frto: Frto
  /** Spurious timeouts and recoveries, RFC 3522 and RFC 3708 (rules/spurious-undo.ts). */
  readonly undo: SpuriousUndo
  /** Explicit Congestion Notification, RFC 3168 §6.1 (rules/ecn.ts). */
  readonly ecn: Ecn

  /** Sent segments, for RTT samples. */
  readonly sentLog: SentLog
  /** Filled on every ACK for controllers with `onAckMeasurement` (CCP); undefined for the others. */
  readonly measurement: AckMeasurement | undefined
  /** Bytes delivered, rate samples, application-limited phases (rules/delivery-rate.ts). */
  readonly delivery: DeliveryRate
  /** RFC 5681 §4.1 (rules/idle-restart.ts). */
  readonly idle: IdleRestart

  /** The one outbound segment, reused for every segment this connection emits. */
  readonly out: OutboundSegment

  constructor(config: TcpConfig, now: Micros, iss: number, state: TcpState, tsOffset: number | undefined) {
    this.state = state
    this.error = undefined
    this.events = 0
    this.stats = newStats()
    this.config = config
    this.iss = iss >>> 0
    this.sndUna = this.iss
    this.sndNxt = this.iss
    this.sndMax = this.iss
    this.sndWnd = 0
    this.sndWl1 = 0
    this.sndWl2 = 0
    this.maxSndWnd = 0
    this.sndShift = 0
    this.payloadMax = DEFAULT_PEER_MSS
    this.synAcked = false
    this.finQueued = false
    this.finSeq = undefined
    this.nagle = new Nagle(this.iss)
    this.irs = 0
    this.rcvNxt = 0
    this.sendBuffer = new SendBuffer(config.sendBufferSize, config.ringStorage)
    this.receiveBuffer = new ReceiveBuffer(config.receiveBufferSize, config.ringStorage)
    this.rcvWindow = new ReceiveWindow(this.receiveBuffer, config.mss)
    this.finReceived = false
    this.pendingFinSeq = -1
    this.offerWindowScale = config.windowScaling ? windowShiftFor(config.receiveBufferSize) : -1
    this.sackOn = false
    this.lastAckSent = 0
    this.ts = new Timestamps(tsOffset ?? config.timestampOffset ?? Math.imul(this.iss, 0x9e3779b1) >>> 0)
    this.rtt = new RttEstimator({ minRto: config.minRto, maxRto: config.maxRto, initialRto: config.initialRto, granularity: 1000 })
    this.congestion = config.congestionControl(DEFAULT_PEER_MSS)
    this.synPending = false
    this.acks = new DelayedAck()
    this.rto = new RetransmissionTimer()
    this.persist = new PersistTimer()
    this.keepAlive = new KeepAlive()
    this.timeWait = new TimeWait()
    this.resetToSend = undefined
    this.probePending = undefined
    this.lastReceivedAt = now
    this.challenges = new ChallengeAckLimit()
    this.sackReceiver = undefined
    this.sackBlocksOut = []
    this.tlp = new TailLossProbe()
    this.newDataSent = false
    this.pacer = undefined
    this.tokenBucket = config.rateLimit === undefined ? undefined : new TokenBucket(config.rateLimit)
    this.paceAt = undefined
    this.frto = new Frto()
    this.undo = new SpuriousUndo()
    this.ecn = new Ecn(this.stats)
    // Delivery state per sent segment only for controllers that take rate samples: idle connections stay small.
    const rateSamples = this.congestion.onAckMeasurement !== undefined
    this.sentLog = new SentLog(rateSamples)
    this.measurement = rateSamples
      ? {
          bytesAcked: 0,
          packetsAcked: 0,
          bytesSacked: 0,
          packetsSacked: 0,
          ecnBytes: 0,
          ecnPackets: 0,
          lostPackets: 0,
          rttSample: undefined,
          bytesInFlight: 0,
          packetsInFlight: 0,
          bytesPending: 0,
          bytesSent: 0,
          bytesDelivered: 0,
          deliveryRate: 0,
          sendRate: 0,
          appLimited: false,
        }
      : undefined
    this.delivery = new DeliveryRate(this.sentLog, rateSamples)
    this.idle = new IdleRestart()
    this.recovery = new LossRecovery(config.lossDetection, this.iss, new RecoveryInputs(this), this.congestion, this.stats, this.undo, this.tlp, this.sentLog)
    this.out = new OutboundSegment()
    const sendBuffer = this.sendBuffer
    // Made once per connection: the payload copy the emitter calls.
    this.out.copyFrom = (from: number, length: number, target: Uint8Array, offset: number): void => sendBuffer.copyOut(from, length, target, offset)
  }

  /** Bytes sent and not yet acknowledged (FlightSize, RFC 5681 §2). */
  get bytesInFlight(): number {
    return seqSub(this.sndNxt, this.sndUna)
  }

  /** Whether our FIN was sent and acknowledged. */
  finAcked(): boolean {
    return this.finSeq !== undefined && seqGt(this.sndUna, this.finSeq)
  }

  /** Whether the FIN must go out now: queued, not acknowledged, and every byte before it sent. */
  finDue(): boolean {
    return this.finQueued && !this.finAcked() && seqSub(this.sndNxt, this.sndUna) === this.sendBuffer.length
  }

  /** The receiver's SACK block list (RFC 2018 §4), made on first use when SACK was negotiated. */
  sackReceiverIfOn(): SackReceiver | undefined {
    if (this.sackReceiver === undefined && this.sackOn) this.sackReceiver = new SackReceiver()
    return this.sackReceiver
  }

  /** Whether the state allows sending new data or the FIN (RFC 9293 §3.10.2). */
  canSendData(): boolean {
    const state = this.state
    return state === 'ESTABLISHED' || state === 'CLOSE-WAIT' || state === 'FIN-WAIT-1' || state === 'CLOSING' || state === 'LAST-ACK'
  }
}

/**
 * What loss recovery reads from a connection ({@link RecoveryView}): getters on one prototype over the
 * state record, so a connection pays for a one-field object instead of an object of accessors and closures.
 */
class RecoveryInputs implements RecoveryView {
  constructor(readonly s: ConnectionState) {}
  get sndUna(): number {
    return this.s.sndUna
  }
  get sndMax(): number {
    return this.s.sndMax
  }
  get sndNxt(): number {
    return this.s.sndNxt
  }
  get bytesInFlight(): number {
    return this.s.bytesInFlight
  }
  get mss(): number {
    return this.s.payloadMax
  }
  get sendMss(): number {
    return sendMss(this.s)
  }
  get dataEnd(): number {
    return seqAdd(this.s.sndUna, this.s.sendBuffer.length)
  }
  get sndWnd(): number {
    return this.s.sndWnd
  }
  get srtt(): Micros | undefined {
    return this.s.rtt.smoothedRtt
  }
  get windowReduced(): boolean {
    return this.s.ecn.covers(this.s.sndUna)
  }
  countLoss(segments: number): void {
    if (this.s.measurement !== undefined) this.s.measurement.lostPackets += segments
  }
}
