/**
 * A TCP connection as a sans-I/O state machine.
 *
 * RFC 9293 (the protocol, §3.3.2 states, §3.10 event processing), RFC 5961 (RST and SYN checks,
 * challenge ACKs), RFC 7323 (window scaling, timestamps, PAWS), RFC 6298 (RTO), RFC 5681 and
 * RFC 6582 (fast retransmit, NewReno recovery), RFC 2018, 2883 and 6675 (SACK blocks, D-SACK and
 * SACK-based loss recovery, through `@mtcp/sack`), RFC 1122 §4.2.3 (delayed ACK, keepalive, Nagle),
 * RFC 9293 §3.8.6 (silly-window avoidance, zero-window probing).
 *
 * The connection never reads a clock and never does I/O: `process(now, segment)` applies an arriving
 * segment, `dispatch(now, emit)` hands out every segment that may be sent now, and `pollAt()` says
 * when `dispatch` must run again for a timer.
 * @module
 */
import { type SackAckUpdate, type SackBlock, SackReceiver } from '@mtcp/sack'
import { nativePacingRate, Pacer, TokenBucket } from '@mtcp/pacer'
import type { AckMeasurement, CongestionControl, Micros } from '../congestion/congestion-control.js'
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqSub } from '../wire/seq.js'
import { ReceiveBuffer } from './receive-buffer.js'
import { RttEstimator } from './rtt-estimator.js'
import { TcpFlags } from '../wire/tcp.js'
import { type InboundSegment, OutboundSegment } from './segment.js'
import { SendBuffer } from './send-buffer.js'
import { SentLog } from './sent-log.js'
import type { TcpConfig } from './tcp-config.js'
import { ChallengeAckLimit } from './rules/challenge-ack.js'
import { DelayedAck } from './rules/delayed-ack.js'
import { KeepAlive } from './rules/keepalive.js'
import { PersistTimer } from './rules/persist-timer.js'
import { MAX_WINDOW_FIELD, MAX_WINDOW_SHIFT, ReceiveWindow, windowShiftFor } from './rules/receive-window.js'
import { TimeWait, type TimeWaitHandoff } from './rules/time-wait.js'
import { DeliveryRate } from './rules/delivery-rate.js'
import { IdleRestart } from './rules/idle-restart.js'
import { RetransmissionTimer } from './rules/retransmission-timer.js'
import { SpuriousUndo } from './rules/spurious-undo.js'
import { TailLossProbe } from './rules/tail-loss-probe.js'
import { Nagle } from './rules/nagle.js'
import { icmpSequenceAcceptable, loweredPayload } from './rules/path-mtu.js'
import { senderSwsHolds } from './rules/silly-window.js'
import { Timestamps, TimestampVerdict } from './rules/timestamps.js'
import { isNewRenoDuplicate, LossRecovery, type RecoverySegment, type RecoveryView } from './rules/loss-recovery/index.js'
import { Frto, FrtoStep } from './rules/loss-recovery/frto.js'
import { Ecn, type EcnStats } from './rules/ecn.js'

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

/** RFC 9293 §3.7.1: the MSS to assume when the peer sent none. */
const DEFAULT_PEER_MSS = 536
/** Bytes the timestamps option adds to every segment (with two NOPs), RFC 7323 §3.2. */
const TIMESTAMPS_OPTION_LENGTH = 12
/** Bytes a SACK option takes beyond its blocks, as emitted: NOP, NOP, kind, length (RFC 2018 §3). */
const SACK_OPTION_OVERHEAD = 4

/**
 * The TCP state machine of one connection. Create with {@link TcpConnection.connect} (active open) or
 * {@link TcpConnection.accept} (passive open, from a SYN the listener received).
 */
export class TcpConnection {
  #state: TcpState
  #error: TcpErrorCode | undefined = undefined
  #events = 0
  readonly stats: TcpConnectionStats = {
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

  // Send sequence space (RFC 9293 §3.3.1)
  readonly iss: number
  #sndUna: number
  #sndNxt: number
  /** The highest sequence number sent plus one (after a go-back-N retransmission sndNxt < sndMax). */
  #sndMax: number
  #sndWnd = 0
  #sndWl1 = 0
  #sndWl2 = 0
  #maxSndWnd = 0
  #sndShift = 0
  /** Sender MSS: the largest payload in one segment, options deducted. */
  #payloadMax: number
  #synAcked = false
  #finQueued = false
  /** Nagle (RFC 9293 §3.7.4), Minshall's variant. */
  readonly #nagle: Nagle
  /** Sequence number of our FIN once sent (the end of the data), or undefined. */
  #finSeq: number | undefined = undefined

  // Receive sequence space
  #irs = 0
  #rcvNxt = 0
  /** The window we advertise (rules/receive-window.ts). */
  readonly #rcvWindow: ReceiveWindow
  #finReceived = false
  /** Sequence number of a FIN that arrived out of order, or -1. */
  #pendingFinSeq = -1

  // Options
  #offerWindowScale: number
  #sackOn = false
  #lastAckSent = 0
  /** RFC 7323 timestamps: TS.Recent, PAWS, our clock. */
  readonly #ts: Timestamps

  // Buffers and estimators
  readonly sendBuffer: SendBuffer
  readonly receiveBuffer: ReceiveBuffer
  readonly rtt: RttEstimator
  readonly congestion: CongestionControl

  // Output requests and timers
  #synPending = false
  /** ACKs owed (rules/delayed-ack.ts). */
  readonly #acks = new DelayedAck()
  /** RFC 6298 §5 (rules/retransmission-timer.ts). */
  readonly #rto = new RetransmissionTimer()
  readonly #persist = new PersistTimer()
  readonly #keepAlive = new KeepAlive()
  readonly #timeWait = new TimeWait()
  #resetToSend: { seq: number; ack: number; flags: number } | undefined = undefined
  #probePending: 'window' | 'keepalive' | undefined = undefined
  #lastReceivedAt: Micros
  readonly #challenges = new ChallengeAckLimit()

  // SACK (RFC 2018): present when both ends sent SACK-permitted
  #sackReceiver: SackReceiver | undefined = undefined
  readonly #sackBlocksOut: SackBlock[] = []

  /** Tail loss probes, RFC 8985 §7 (rules/tail-loss-probe.ts). */
  readonly #tlp = new TailLossProbe()
  /** New data left in this dispatch: the PTO restarts (RFC 8985 §7.2). */
  #newDataSent = false

  /** Paced sending (@mtcp/pacer), created the first time a rate applies. */
  #pacer: Pacer | undefined = undefined
  /** The connection's rate limit, from `config.rateLimit`. */
  #tokenBucket: TokenBucket | undefined
  /** When the pacer lets the next data segment go, while it holds one back. */
  #paceAt: Micros | undefined = undefined

  /** Loss detection and recovery: RACK-TLP and PRR, RFC 6675, NewReno (rules/loss-recovery/). */
  readonly #recovery: LossRecovery
  /** F-RTO after a timeout, RFC 5682 (rules/loss-recovery/frto.ts). */
  readonly #frto = new Frto()

  /** Spurious timeouts and recoveries, RFC 3522 and RFC 3708 (rules/spurious-undo.ts). */
  readonly #undo = new SpuriousUndo()

  /** Explicit Congestion Notification, RFC 3168 §6.1 (rules/ecn.ts). */
  readonly #ecn: Ecn

  /** Sent segments, for RTT samples. */
  readonly #sentLog: SentLog
  /** Filled on every ACK for controllers with `onAckMeasurement` (CCP); undefined for the others. */
  #measurement: AckMeasurement | undefined
  /** Bytes delivered, rate samples, application-limited phases (rules/delivery-rate.ts). */
  readonly #delivery: DeliveryRate
  /** RFC 5681 §4.1 (rules/idle-restart.ts). */
  readonly #idle = new IdleRestart()

  readonly #out = new OutboundSegment()
  readonly #copyFromSendBuffer = (from: number, length: number, target: Uint8Array, offset: number): void =>
    this.sendBuffer.copyOut(from, length, target, offset)

  #config: TcpConfig

  /**
   * What loss recovery reads from a connection ({@link RecoveryView}): getters on one prototype, so a
   * connection pays for a one-field object instead of an object of ten accessors and their closures.
   */
  static readonly #RecoveryInputs = class implements RecoveryView {
    constructor(readonly c: TcpConnection) {}
    get sndUna(): number {
      return this.c.#sndUna
    }
    get sndMax(): number {
      return this.c.#sndMax
    }
    get sndNxt(): number {
      return this.c.#sndNxt
    }
    get bytesInFlight(): number {
      return this.c.bytesInFlight
    }
    get mss(): number {
      return this.c.#payloadMax
    }
    get sendMss(): number {
      return this.c.#sendMss()
    }
    get dataEnd(): number {
      return seqAdd(this.c.#sndUna, this.c.sendBuffer.length)
    }
    get sndWnd(): number {
      return this.c.#sndWnd
    }
    get srtt(): Micros | undefined {
      return this.c.rtt.smoothedRtt
    }
    get windowReduced(): boolean {
      return this.c.#ecn.covers(this.c.#sndUna)
    }
    countLoss(segments: number): void {
      if (this.c.#measurement !== undefined) this.c.#measurement.lostPackets += segments
    }
  }

  private constructor(
    config: TcpConfig,
    now: Micros,
    iss: number,
    state: TcpState,
    tsOffset: number | undefined,
  ) {
    this.#config = config
    this.#tokenBucket = config.rateLimit === undefined ? undefined : new TokenBucket(config.rateLimit)
    this.#state = state
    this.iss = iss >>> 0
    this.#sndUna = this.iss
    this.#sndNxt = this.iss
    this.#sndMax = this.iss
    this.#nagle = new Nagle(this.iss)
    this.#ts = new Timestamps(tsOffset ?? config.timestampOffset ?? Math.imul(this.iss, 0x9e3779b1) >>> 0)
    this.sendBuffer = new SendBuffer(config.sendBufferSize, config.ringStorage)
    this.receiveBuffer = new ReceiveBuffer(config.receiveBufferSize, config.ringStorage)
    this.#rcvWindow = new ReceiveWindow(this.receiveBuffer, config.mss)
    this.rtt = new RttEstimator({ minRto: config.minRto, maxRto: config.maxRto, initialRto: config.initialRto, granularity: 1000 })
    this.#payloadMax = DEFAULT_PEER_MSS
    this.#ecn = new Ecn(this.stats)
    this.congestion = config.congestionControl(DEFAULT_PEER_MSS)
    // Delivery state per sent segment only for controllers that take rate samples: idle connections stay small.
    this.#sentLog = new SentLog(this.congestion.onAckMeasurement !== undefined)
    this.#delivery = new DeliveryRate(this.#sentLog, this.congestion.onAckMeasurement !== undefined)
    if (this.congestion.onAckMeasurement !== undefined) {
      this.#measurement = {
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
    }
    this.#recovery = new LossRecovery(
      config.lossDetection,
      this.iss,
      new TcpConnection.#RecoveryInputs(this),
      this.congestion,
      this.stats,
      this.#undo,
      this.#tlp,
      this.#sentLog,
    )
    this.#offerWindowScale = config.windowScaling ? windowShiftFor(config.receiveBufferSize) : -1
    this.#lastReceivedAt = now
    this.#out.copyFrom = this.#copyFromSendBuffer
  }

  /**
   * Active open (RFC 9293 §3.10.1): the connection starts in SYN-SENT and its SYN goes out at the next dispatch.
   * @param tsOffset - our timestamp clock's offset (RFC 7323 §5.4), e.g. a keyed hash of the 4-tuple; default `config.timestampOffset`, else one derived from `iss`.
   */
  static connect(config: TcpConfig, now: Micros, iss: number, tsOffset?: number): TcpConnection {
    const connection = new TcpConnection(config, now, iss, 'SYN-SENT', tsOffset)
    connection.#synPending = true
    return connection
  }

  /**
   * Passive open: a listener received `syn` (RFC 9293 §3.10.7.2). The connection starts in SYN-RECEIVED
   * and its SYN-ACK goes out at the next dispatch. The caller checked that `syn` carries SYN and no ACK or RST.
   */
  static accept(config: TcpConfig, now: Micros, iss: number, syn: InboundSegment, tsOffset?: number): TcpConnection {
    const connection = new TcpConnection(config, now, iss, 'SYN-RECEIVED', tsOffset)
    connection.#takeSynOptions(syn, now)
    connection.#ecn.onSyn(config.ecn, syn.flags) // RFC 3168 §6.1.1
    connection.#sndWnd = syn.window // RFC 7323 §2.2: the window in a SYN is never scaled
    connection.#maxSndWnd = syn.window
    connection.#sndWl1 = syn.seq
    connection.#synPending = true
    return connection
  }

  /**
   * Passive open from a SYN cookie (RFC 4987 §3.6, rules/syn-cookies.ts): the listener answered `syn` with a
   * SYN-ACK of sequence number `iss` and kept nothing; `syn` is rebuilt from the ACK and the cookie (its
   * sequence number, MSS, window scale, SACK-permitted and, as TSval, the ACK's). The connection starts in
   * SYN-RECEIVED with its SYN-ACK already sent; give it the ACK next ({@link process}).
   * @param resend - send the SYN-ACK again (as a retransmission, with its timer) instead: for a listener
   *   that cannot take the connection yet and drops the ACK, so that the handshake completes later.
   */
  static acceptCookie(config: TcpConfig, now: Micros, iss: number, syn: InboundSegment, tsOffset?: number, resend = false): TcpConnection {
    const connection = TcpConnection.accept(config, now, iss, syn, tsOffset)
    connection.#synPending = resend
    connection.#sndNxt = seqAdd(connection.iss, 1)
    connection.#sndMax = connection.#sndNxt
    return connection
  }

  /**
   * In TIME-WAIT, what the stack's compact TIME-WAIT entry keeps of the connection (rules/time-wait.ts);
   * undefined in any other state.
   */
  timeWaitHandoff(): TimeWaitHandoff | undefined {
    if (this.#state !== 'TIME-WAIT') return undefined
    return {
      sndNxt: this.#sndNxt,
      rcvNxt: this.#rcvNxt,
      window: Math.min(this.#rcvWindow.advertised(this.#rcvNxt) >>> this.#rcvWindow.shift, MAX_WINDOW_FIELD),
      timestamps: this.#ts.on,
      tsRecent: this.#ts.recent,
      tsOffset: this.#ts.offset,
      endsAt: this.#timeWait.at!,
    }
  }

  /** The connection's settings. */
  get config(): TcpConfig {
    return this.#config
  }

  /**
   * Change the settings that may change on a live connection: Nagle, keepalive and pacing (the socket
   * options TCP_NODELAY, SO_KEEPALIVE, TCP_KEEPIDLE, SO_MAX_PACING_RATE). Undefined fields keep their value.
   */
  setOptions(options: {
    noDelay?: boolean | undefined
    keepAlive?: boolean | undefined
    keepAliveIdle?: Micros | undefined
    pacing?: boolean | undefined
    maxPacingRate?: number | undefined
  }): void {
    this.#config = {
      ...this.#config,
      noDelay: options.noDelay ?? this.#config.noDelay,
      keepAlive: options.keepAlive ?? this.#config.keepAlive,
      keepAliveIdle: options.keepAliveIdle ?? this.#config.keepAliveIdle,
      pacing: options.pacing ?? this.#config.pacing,
      maxPacingRate: options.maxPacingRate ?? this.#config.maxPacingRate,
    }
    if (!this.#config.keepAlive) this.#keepAlive.at = undefined
  }

  /** The current state. */
  get state(): TcpState {
    return this.#state
  }

  /** Why the connection failed, if it did. */
  get error(): TcpErrorCode | undefined {
    return this.#error
  }

  /** SND.UNA, SND.NXT, RCV.NXT and the windows, for inspection and tests. */
  get sequence(): { sndUna: number; sndNxt: number; sndMax: number; sndWnd: number; rcvNxt: number; rcvWnd: number; irs: number } {
    return {
      sndUna: this.#sndUna,
      sndNxt: this.#sndNxt,
      sndMax: this.#sndMax,
      sndWnd: this.#sndWnd,
      rcvNxt: this.#rcvNxt,
      rcvWnd: this.#rcvWindow.advertised(this.#rcvNxt),
      irs: this.#irs,
    }
  }

  /** What was negotiated in the handshake. */
  get negotiated(): { mss: number; sendShift: number; receiveShift: number; timestamps: boolean; sack: boolean; ecn: boolean } {
    return { mss: this.#payloadMax, sendShift: this.#sndShift, receiveShift: this.#rcvWindow.shift, timestamps: this.#ts.on, sack: this.#sackOn, ecn: this.#ecn.on }
  }

  /**
   * The last ICMP error reported for this connection, as a soft error (RFC 1122 §4.2.3.9: destination
   * unreachable, time exceeded and the like never abort a connection; the stack sets it, e.g.
   * `'EHOSTUNREACH'`). Kept until the next one; the connection goes on as if nothing happened.
   */
  softError: string | undefined = undefined

  /**
   * Whether an ICMP error quoting sequence number `seq` of ours names data in flight (RFC 5927 §4.1;
   * rules/path-mtu.ts). Errors that fail this are forged or stale and must be ignored.
   */
  icmpSequenceAcceptable(seq: number): boolean {
    return icmpSequenceAcceptable(seq, this.#sndUna, this.#sndMax)
  }

  /**
   * Path MTU discovery (RFC 1191 §3, rules/path-mtu.ts): the path carries datagrams of at most `mtu`
   * bytes. When that lowers the segment size, the MSS goes down (never below what
   * `MIN_PATH_MTU` allows) and everything in flight — cut for the old size and dropped on the way —
   * is sent again from SND.UNA in segments of the new size at once, without a congestion response (as
   * Linux's tcp_simple_retransmit: a lost datagram too big is no sign of congestion).
   * @returns whether the segment size went down
   */
  pathMtuChanged(mtu: number): boolean {
    if (this.#state === 'CLOSED' || this.#state === 'LISTEN' || this.#state === 'SYN-SENT') return false
    const payload = loweredPayload(mtu, this.#payloadMax, this.#ts.on ? TIMESTAMPS_OPTION_LENGTH : 0)
    if (payload === undefined) return false
    this.#payloadMax = payload
    this.congestion.setMss(payload)
    if (seqLt(this.#sndUna, this.#sndNxt)) {
      this.#recovery.onTimeout() // the recovery's lists name segments of the old size: start again from SND.UNA
      this.#sndNxt = this.#sndUna
    }
    return true
  }

  /** Bytes sent and not yet acknowledged (FlightSize, RFC 5681 §2). */
  get bytesInFlight(): number {
    return seqSub(this.#sndNxt, this.#sndUna)
  }

  /** Whether fast recovery is under way. */
  get inRecovery(): boolean {
    return this.#recovery.inRecovery
  }

  /** Return and clear the {@link TcpEvents} bits raised since the last call. */
  takeEvents(): number {
    const events = this.#events
    this.#events = 0
    return events
  }

  // ---------------------------------------------------------------- application side

  /** Whether the application may still write. */
  get writable(): boolean {
    return !this.#finQueued && (this.#state === 'ESTABLISHED' || this.#state === 'CLOSE-WAIT' || this.#state === 'SYN-SENT' || this.#state === 'SYN-RECEIVED')
  }

  /**
   * Queue bytes for sending.
   * @returns how many bytes the send buffer took (0 when full: wait for {@link TcpEvents.WRITABLE}).
   * @throws TcpError `EPIPE` after `shutdown`/`close`, or the connection's error once it failed.
   */
  write(data: Uint8Array, offset = 0, length = data.byteLength - offset): number {
    if (!this.writable) {
      if (this.#error !== undefined) throw new TcpError(this.#error, `write on a failed connection: ${this.#error}`)
      throw new TcpError('EPIPE', `write after the sending side was closed (state ${this.#state})`)
    }
    return this.sendBuffer.write(data, offset, length)
  }

  /** In-order bytes waiting to be read. */
  get readableBytes(): number {
    return this.receiveBuffer.readable
  }

  /** True once the peer's FIN has arrived and every byte before it was read: reads return 0 for good. */
  get readEnded(): boolean {
    return this.#finReceived && this.receiveBuffer.readable === 0
  }

  /**
   * Read up to `length` bytes into `target`. Opening the window may make an update due (RFC 9293 §3.8.6.2.2).
   * @returns the count; 0 when nothing is buffered (check {@link readEnded}).
   */
  read(target: Uint8Array, offset = 0, length = target.byteLength - offset): number {
    const count = this.receiveBuffer.read(target, offset, length)
    if (count > 0) this.#maybeWindowUpdate()
    return count
  }

  /** Consume `count` readable bytes without copying them (after a `peek`). */
  consume(count: number): void {
    this.receiveBuffer.consume(count)
    this.#maybeWindowUpdate()
  }

  /**
   * Close the sending side (RFC 9293 §3.10.4, CLOSE): a FIN follows the data already written.
   * Reading stays possible until the peer's FIN. Idempotent.
   */
  shutdown(): void {
    switch (this.#state) {
      case 'SYN-SENT':
      // Queued, as RFC 9293 §3.10.4 allows for SYN-RECEIVED: the FIN follows the handshake and the data.
      case 'SYN-RECEIVED':
      case 'ESTABLISHED':
        this.#finQueued = true
        this.#state = this.#synAcked ? 'FIN-WAIT-1' : this.#state
        return
      case 'CLOSE-WAIT':
        this.#finQueued = true
        this.#state = 'LAST-ACK'
        return
      default:
        return
    }
  }

  /** Abort (RFC 9293 §3.10.5, ABORT): send a reset and go to CLOSED at once; buffered data is discarded. */
  abort(): void {
    if (this.#state === 'CLOSED' || this.#state === 'TIME-WAIT' || this.#state === 'LISTEN') {
      this.#enterClosed(undefined)
      return
    }
    if (this.#state !== 'SYN-SENT') this.#resetToSend = { seq: this.#sndNxt, ack: 0, flags: TcpFlags.RST }
    this.#enterClosed(undefined)
  }

  /**
   * Give the send and receive rings' storage back to {@link TcpConfig.ringStorage} (without a pool the
   * rings just let it go). Only once the connection is finished with its data, CLOSED or in TIME-WAIT:
   * in any other state this does nothing. Data still buffered (unread by the application) is discarded.
   * @returns whether the storage was released
   */
  releaseBuffers(): boolean {
    if (this.#state !== 'CLOSED' && this.#state !== 'TIME-WAIT') return false
    this.sendBuffer.release()
    this.receiveBuffer.release()
    return true
  }

  // ---------------------------------------------------------------- arriving segments

  /** Apply one arriving segment (RFC 9293 §3.10.7). Never throws, never sends: replies wait for {@link dispatch}. */
  process(now: Micros, segment: InboundSegment): void {
    this.stats.segmentsIn++
    switch (this.#state) {
      case 'CLOSED':
      case 'LISTEN':
        return
      case 'SYN-SENT':
        this.#processInSynSent(now, segment)
        return
      default:
        this.#processSynchronized(now, segment)
    }
  }

  /** RFC 9293 §3.10.7.3: SYN-SENT. */
  #processInSynSent(now: Micros, segment: InboundSegment): void {
    const flags = segment.flags
    const hasAck = (flags & TcpFlags.ACK) !== 0
    // First, check the ACK bit.
    if (hasAck && (seqLe(segment.ack, this.iss) || seqGt(segment.ack, this.#sndNxt))) {
      if (!(flags & TcpFlags.RST)) this.#resetToSend = { seq: segment.ack, ack: 0, flags: TcpFlags.RST }
      return
    }
    // Second, the RST bit (RFC 5961 §3.2 leaves SYN-SENT as RFC 793 had it: only with an acceptable ACK).
    if (flags & TcpFlags.RST) {
      if (hasAck) this.#fail('ECONNREFUSED')
      return
    }
    // Fourth, the SYN bit.
    if (!(flags & TcpFlags.SYN)) return
    this.#takeSynOptions(segment, now)
    this.#lastReceivedAt = now
    if (hasAck) {
      this.#ecn.onSynAck(flags) // RFC 3168 §6.1.1
      this.#sndWnd = segment.window // unscaled in a SYN (RFC 7323 §2.2)
      this.#maxSndWnd = segment.window
      this.#sndWl1 = segment.seq
      this.#sndWl2 = segment.ack
      this.#acknowledge(now, segment.ack, undefined)
      this.#establish()
      this.#acks.now = true
      if (segment.payloadLength > 0 || flags & TcpFlags.FIN) this.#acceptText(now, segment, seqAdd(segment.seq, 1))
    } else {
      // Simultaneous open (RFC 9293 §3.10.7.3, "Otherwise, enter SYN-RECEIVED").
      this.#state = 'SYN-RECEIVED'
      this.#sndWnd = segment.window
      this.#maxSndWnd = segment.window
      this.#sndWl1 = segment.seq
      this.#synPending = true
    }
  }

  /** RFC 9293 §3.10.7.4: every state after SYN-SENT. */
  #processSynchronized(now: Micros, segment: InboundSegment): void {
    const flags = segment.flags
    const payloadLength = segment.payloadLength
    // A retransmitted SYN from the peer while our SYN-ACK is unanswered: answer again.
    if (this.#state === 'SYN-RECEIVED' && flags & TcpFlags.SYN && !(flags & TcpFlags.ACK) && segment.seq === this.#irs) {
      this.#synPending = true
      return
    }
    // RFC 7323 §3.2 and §5.3 R1, before the sequence check (rules/timestamps.ts).
    const verdict = this.#ts.check(segment, now)
    if (verdict === TimestampVerdict.Missing) {
      this.stats.missingTimestamps++
      return
    }
    if (verdict === TimestampVerdict.Paws) {
      this.stats.pawsRejected++
      this.#acks.owePure() // RFC 7323 §5.3 R1: "send an acknowledgment in reply"
      return
    }
    // RFC 1337 §3 (F1): a RST in TIME-WAIT is ignored, so an old duplicate cannot end TIME-WAIT early
    // ("TIME-WAIT assassination"). Linux does the same with net.ipv4.tcp_rfc1337 = 1.
    if (this.#state === 'TIME-WAIT' && flags & TcpFlags.RST) {
      this.stats.timeWaitResetsIgnored++
      return
    }
    // First, check the sequence number.
    const segmentLength = payloadLength + (flags & TcpFlags.SYN ? 1 : 0) + (flags & TcpFlags.FIN ? 1 : 0)
    const window = this.#rcvWindow.advertised(this.#rcvNxt)
    if (!this.#acceptable(segment.seq, segmentLength, window)) {
      this.stats.unacceptableSegments++
      // RFC 9293 §3.10.7.4: "an acknowledgment should be sent in reply" — a duplicate ACK of its own. One
      // without data (a pure ACK, a SYN) shares RFC 5961 §7's rate limit with the challenge ACKs, so a flood
      // of them cannot make us send as many (as Linux's tcp_oow_rate_limited); a duplicate data segment is
      // always answered, its D-SACK matters to the sender.
      const duplicateData = payloadLength > 0 && !(flags & TcpFlags.SYN)
      if (!(flags & TcpFlags.RST) && (duplicateData || this.#challenges.allow(now))) this.#acks.owePure()
      // A whole segment received before: RFC 2883 §4 reports it in a D-SACK block of that ACK.
      const end = seqAdd(segment.seq, payloadLength)
      if (payloadLength > 0 && seqLe(end, this.#rcvNxt)) this.#sackReceiverIfOn()?.onDuplicate(segment.seq, end)
      // RFC 9293 §3.10.7.4: with a zero window, still take valid ACKs.
      if (!(window === 0 && segment.seq === this.#rcvNxt && flags & TcpFlags.ACK && !(flags & TcpFlags.RST))) return
      this.#processAck(now, segment)
      return
    }
    this.#lastReceivedAt = now
    this.#keepAlive.onPeerHeard()
    // RFC 7323 §4.3 and §5.5 (rules/timestamps.ts).
    this.#ts.remember(segment, this.#lastAckSent, now)
    // Second, the RST bit (RFC 5961 §3.2).
    if (flags & TcpFlags.RST) {
      if (segment.seq === this.#rcvNxt) this.#resetReceived()
      else this.#challengeAck(now)
      return
    }
    // Fourth, the SYN bit (RFC 5961 §4.2): a challenge ACK, whatever its sequence number.
    if (flags & TcpFlags.SYN) {
      this.#challengeAck(now)
      return
    }
    // RFC 3168 §6.1.3 (rules/ecn.ts): a CWR ends our echo, a CE mark on data starts it.
    if (this.#ecn.onSegment(flags, segment.ce === true, payloadLength)) this.#acks.now = true
    // Fifth, the ACK field.
    if (!(flags & TcpFlags.ACK)) return
    if (!this.#processAck(now, segment)) return
    // Sixth and seventh: the text and the FIN.
    if (payloadLength > 0 || flags & TcpFlags.FIN) this.#acceptText(now, segment, segment.seq)
  }

  /** RFC 9293 §3.10.7.4's acceptability table. */
  #acceptable(seq: number, length: number, window: number): boolean {
    const rcvNxt = this.#rcvNxt
    if (length === 0) {
      if (window === 0) return seq === rcvNxt
      return seqLe(rcvNxt, seq) && seqLt(seq, seqAdd(rcvNxt, window))
    }
    if (window === 0) return false
    const last = seqAdd(seq, length - 1)
    const right = seqAdd(rcvNxt, window)
    return (seqLe(rcvNxt, seq) && seqLt(seq, right)) || (seqLe(rcvNxt, last) && seqLt(last, right))
  }

  /**
   * The ACK field (RFC 9293 §3.10.7.4 fifth, RFC 5961 §5.2).
   * @returns false when the segment must be dropped.
   */
  #processAck(now: Micros, segment: InboundSegment): boolean {
    const ack = segment.ack
    if (this.#state === 'SYN-RECEIVED') {
      if (seqLe(segment.ack, this.#sndUna) || seqGt(ack, this.#sndMax)) {
        this.#resetToSend = { seq: ack, ack: 0, flags: TcpFlags.RST }
        return false
      }
      this.#sndWnd = segment.window << this.#sndShift
      this.#sndWl1 = segment.seq
      this.#sndWl2 = ack
      this.#establish()
    }
    // RFC 5961 §5.2: acceptable when SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.NXT (SND.MAX here, for probes and go-back-N).
    if (seqGt(ack, this.#sndMax) || seqLt(ack, seqAdd(this.#sndUna, -this.#maxSndWnd))) {
      this.#challengeAck(now)
      return false
    }
    const scaledWindow = segment.window << this.#sndShift
    // RFC 6675 §5: every ACK updates the scoreboard, new cumulative ACK or not (rules/loss-recovery/).
    const recovery = this.#recovery
    const sack = recovery.onAck(ack, segment.sackBlocks, this.#sackOn)
    const measurement = this.#measurement
    if (measurement !== undefined) {
      measurement.bytesAcked = 0
      measurement.rttSample = undefined
      measurement.lostPackets = 0
    }
    const recoveryBefore = recovery.inRecovery
    if (this.#tlp.onAck(ack, this.#sndUna, segment.payloadLength > 0, sack, this.#payloadMax)) this.#tailLossProbeRepaired(now)
    recovery.afterSack(now, sack, segment.sackBlocks)
    const ackedBefore = this.stats.bytesOut
    const advanced = seqGt(ack, this.#sndUna)
    if (advanced) {
      this.#acknowledge(now, ack, sack, this.#ecn.on && (segment.flags & TcpFlags.ECE) !== 0)
    } else if (ack === this.#sndUna && seqGt(this.#sndMax, this.#sndUna) && this.#isDuplicateAck(segment, scaledWindow, sack)) {
      recovery.onDuplicateAck(now)
    }
    // RFC 8985 §6.2 step 5 and RFC 6937 §3 (RACK mode): mark what is lost, set what recovery may send.
    recovery.afterAck(now, sack !== undefined ? sack.deliveredBytes : this.stats.bytesOut - ackedBefore)
    if (this.#undo.eifelPending && advanced) this.#eifelCheck(now, segment)
    if (this.#frto.active) this.#frtoStep(now, advanced, ack)
    if (this.#undo.recoverySpurious(this.#sndUna, sack?.dsackBlock, recovery.inRecovery)) {
      this.stats.spuriousRecoveries++
      this.congestion.onUndo?.(now)
    }
    if (this.#ecn.on) {
      // RFC 3168 §6.1.2: a loss recovery that began on this ACK reduced the window; the peer learns by CWR.
      if (recovery.inRecovery && !recoveryBefore && recovery.reduced) this.#ecn.onLossReduction(recovery.recover)
      if (segment.flags & TcpFlags.ECE) this.#ecnEcho(now)
    }
    // Delivered only grows (a timeout clears the scoreboard's SACKed bytes; they were delivered all the same).
    this.#delivery.onAck(now, this.stats.bytesOut + (recovery.scoreboard?.sackedBytes ?? 0))
    if (measurement !== undefined) this.#reportMeasurement(now, measurement, sack?.newlySackedBytes ?? 0, this.#ecn.on && (segment.flags & TcpFlags.ECE) !== 0)
    // RFC 8985 §7.2: an ACK of new data restarts the PTO; SACKed data or recovery cancels it.
    if (this.#tlp.timeoutAt !== undefined || advanced) this.#armProbeTimeout(now)
    // Window update (RFC 9293 §3.10.7.4, SND.WL1/SND.WL2).
    if (seqLt(this.#sndWl1, segment.seq) || (this.#sndWl1 === segment.seq && seqLe(this.#sndWl2, ack))) {
      const opened = scaledWindow > this.#sndWnd
      this.#sndWnd = scaledWindow
      this.#sndWl1 = segment.seq
      this.#sndWl2 = ack
      if (scaledWindow > this.#maxSndWnd) this.#maxSndWnd = scaledWindow
      if (opened && scaledWindow > 0) this.#persist.stop()
    }
    const finAcked = this.#finAcked()
    switch (this.#state) {
      case 'FIN-WAIT-1':
        if (finAcked) this.#state = 'FIN-WAIT-2'
        break
      case 'CLOSING':
        if (finAcked) this.#enterTimeWait(now)
        return false
      case 'LAST-ACK':
        if (finAcked) this.#enterClosed(undefined)
        return false
      case 'TIME-WAIT':
        // A retransmitted FIN: acknowledge it and restart the 2 MSL timer (RFC 9293 §3.10.7.4 eighth).
        if (segment.flags & TcpFlags.FIN) {
          this.#acks.owePure()
          this.#timeWait.start(now, this.#config.timeWaitTimeout)
        }
        return false
    }
    return true
  }

  /** New data acknowledged up to `ack` (RFC 9293 §3.10.7.4, RFC 6298 §5, RFC 6582 §3.2); `ece`: the ACK carried ECN-Echo, so the window does not grow (RFC 3168 §6.1.2). */
  #acknowledge(now: Micros, ack: number, sack: SackAckUpdate | undefined, ece = false): void {
    let acked = seqSub(ack, this.#sndUna)
    const flightBefore = this.bytesInFlight
    if (!this.#synAcked) {
      this.#synAcked = true
      acked-- // the SYN's sequence number carries no data
    }
    const dataAcked = Math.min(acked, this.sendBuffer.length)
    this.sendBuffer.consume(dataAcked)
    this.#sndUna = ack
    if (seqLt(this.#sndNxt, ack)) this.#sndNxt = ack
    // Stored sequence numbers that SND.UNA passed are pulled up to it, so none falls 2^31 behind and
    // compares the wrong way (decision 0010): the small-segment end (Nagle) and, outside recovery, the
    // recovery point (RFC 6582 §3.2 step 1's "recover", which only gates entering recovery).
    this.#nagle.onAck(ack)
    this.#ecn.onCumulativeAck(ack)
    const recovery = this.#recovery
    recovery.onCumulativeAck(ack)
    this.stats.bytesOut += dataAcked
    if (dataAcked > 0 && this.sendBuffer.free > 0) this.#events |= TcpEvents.WRITABLE
    this.#rto.onNewDataAcked()
    this.rtt.resetBackoff()
    // During recovery a cumulative ACK was held back by the hole, so its sample would measure the
    // recovery, not the path: take none (it would inflate the RTO by seconds after a burst of losses).
    const logged = this.#sentLog.acknowledge(now, ack)
    const appLimited = this.#sentLog.ackedAppLimited
    const rttSample = recovery.inRecovery ? undefined : logged
    if (this.#measurement !== undefined) {
      this.#measurement.bytesAcked = dataAcked
      this.#measurement.rttSample = logged // CCP wants the path's latest sample, recovery or not
    }
    if (rttSample !== undefined) this.rtt.sample(rttSample)
    // RFC 6298 §5.2–5.3: stop the timer when everything is acknowledged, else restart it; but during
    // NewReno recovery only the first partial ACK restarts it (RFC 6582 §4.2, the "Impatient" variant),
    // so that a window with many losses falls back to a timeout instead of one repair per RTT.
    const partialAck = recovery.isPartialAck(ack)
    if (!partialAck || sack !== undefined) {
      if (seqGt(this.#sndMax, this.#sndUna)) this.#rto.restart(now, this.rtt.rto)
      else if (!this.#ecn.waitingForTimer) this.#rto.stop() // RFC 3168 §6.1.2: an ECE's one-segment wait keeps it
    }
    // RFC 6582 §3.2, RFC 6675 §5, RFC 8985 (rules/loss-recovery/): the recovery's part of a new ACK.
    const grow = recovery.onNewAck(now, ack, acked, sack)
    if (recovery.restartRto) this.#rto.restart(now, this.rtt.rto)
    // RFC 3168 §6.1.2: "SHOULD NOT increase the congestion window in response to" an ACK with ECN-Echo.
    if (grow && dataAcked > 0 && !ece) {
      this.congestion.onAck(now, {
        bytesAcked: dataAcked,
        bytesSacked: sack?.newlySackedBytes ?? 0,
        rttSample,
        smoothedRtt: this.rtt.smoothedRtt,
        bytesInFlight: flightBefore,
        appLimited,
      })
    }
  }

  /**
   * Whether an ACK that leaves SND.UNA where it was is a duplicate. Without SACK, RFC 5681 §2 DUPLICATE
   * ACKNOWLEDGMENT: no data, neither SYN nor FIN, the same window. With SACK, RFC 6675 §2 DupAck: the ACK
   * reports octets not SACKed before, "even if it carries new data, changes the advertised window, or
   * moves the cumulative acknowledgment point". When data flows both ways nearly every ACK rides on a data
   * segment, so the RFC 5681 test alone would never count one and each loss waited for the RTO.
   */
  #isDuplicateAck(segment: InboundSegment, scaledWindow: number, sack: SackAckUpdate | undefined): boolean {
    if (sack !== undefined) return sack.newlySackedBytes > 0
    return isNewRenoDuplicate(segment.payloadLength, (segment.flags & (TcpFlags.SYN | TcpFlags.FIN)) !== 0, scaledWindow, this.#sndWnd)
  }

  /** The receiver's SACK block list, made on first use when SACK was negotiated. */
  #sackReceiverIfOn(): SackReceiver | undefined {
    if (this.#sackReceiver === undefined && this.#sackOn) this.#sackReceiver = new SackReceiver()
    return this.#sackReceiver
  }

  /** Segment text and FIN (RFC 9293 §3.10.7.4 seventh and eighth). `dataSeq` is the sequence number of the first payload byte. */
  #acceptText(now: Micros, segment: InboundSegment, dataSeq: number): void {
    const state = this.#state
    const flags = segment.flags
    const payloadLength = segment.payloadLength
    if (payloadLength > 0 && (state === 'ESTABLISHED' || state === 'FIN-WAIT-1' || state === 'FIN-WAIT-2')) {
      let from = segment.payloadOffset
      let length = payloadLength
      let seq = dataSeq
      const before = seqSub(this.#rcvNxt, seq)
      if (before > 0) {
        // Already received, in part or whole: RFC 2883 §4 reports the duplicate in a D-SACK block.
        const duplicate = Math.min(before, length)
        this.#sackReceiverIfOn()?.onDuplicate(seq, seqAdd(seq, duplicate))
        from += duplicate
        length -= duplicate
        seq = this.#rcvNxt
      }
      const offset = seqSub(seq, this.#rcvNxt)
      if (length > 0) {
        const hadHoles = this.receiveBuffer.rangeCount > 0
        const advance = this.receiveBuffer.insert(offset, segment.payload, from, length)
        if (advance > 0) {
          this.#rcvNxt = seqAdd(this.#rcvNxt, advance)
          this.#sackReceiver?.onInOrder(this.#rcvNxt)
          this.stats.bytesIn += advance
          this.#events |= TcpEvents.READABLE
          this.#acks.onInOrderData(now, advance, hadHoles, this.#config.mss, this.#config.delayedAckTimeout)
        } else {
          // RFC 5681 §4.2: "A TCP receiver SHOULD send an immediate duplicate ACK when an out-of-order
          // segment arrives", one per segment, with SACK blocks (RFC 2018 §4).
          if (advance === 0) this.#sackReceiverIfOn()?.onSegment(seq, seqAdd(seq, length))
          else this.stats.outOfOrderDropped++
          this.stats.outOfOrderSegments++
          this.#acks.owePure()
        }
      } else {
        this.#acks.owePure() // a pure duplicate: a duplicate ACK (with its D-SACK block) tells the sender where we are
      }
    }
    if (flags & TcpFlags.FIN) {
      const finSeq = seqAdd(dataSeq, payloadLength)
      if (finSeq === this.#rcvNxt) this.#finArrived(now)
      else if (seqGt(finSeq, this.#rcvNxt)) this.#pendingFinSeq = finSeq
    } else if (this.#pendingFinSeq >= 0 && this.#pendingFinSeq === this.#rcvNxt) {
      this.#finArrived(now)
    }
  }

  /** The peer's FIN, in order (RFC 9293 §3.10.7.4 eighth). */
  #finArrived(now: Micros): void {
    if (this.#finReceived) return
    this.#finReceived = true
    this.#pendingFinSeq = -1
    this.#rcvNxt = seqAdd(this.#rcvNxt, 1)
    this.#rcvWindow.atLeast(this.#rcvNxt)
    this.#acks.owePure() // the FIN is acknowledged at once, by an ACK of its own (RFC 9293 §3.10.7.4 eighth)
    this.#events |= TcpEvents.READABLE | TcpEvents.PEER_CLOSED
    switch (this.#state) {
      case 'SYN-RECEIVED':
      case 'ESTABLISHED':
        this.#state = 'CLOSE-WAIT'
        break
      case 'FIN-WAIT-1':
        // Our FIN not yet acknowledged: simultaneous close.
        if (this.#finAcked()) this.#enterTimeWait(now)
        else this.#state = 'CLOSING'
        break
      case 'FIN-WAIT-2':
        this.#enterTimeWait(now)
        break
    }
  }

  #resetReceived(): void {
    switch (this.#state) {
      case 'SYN-RECEIVED':
        // RFC 9293 §3.10.7.4: from a passive open, back to LISTEN; the listener simply forgets us.
        this.#fail('ECONNREFUSED')
        return
      case 'CLOSING':
      case 'LAST-ACK':
      case 'TIME-WAIT':
        this.#enterClosed(undefined)
        return
      default:
        this.#fail('ECONNRESET')
    }
  }

  /** A challenge ACK, within RFC 5961 §7's rate limit (rules/challenge-ack.ts). */
  #challengeAck(now: Micros): void {
    if (!this.#challenges.allow(now)) return
    this.stats.challengeAcks++
    // RFC 5961 §3.2, §4.2, §5.2: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, a segment of its own.
    this.#acks.owePure()
  }

  #takeSynOptions(syn: InboundSegment, now: Micros): void {
    this.#irs = syn.seq
    this.#rcvNxt = seqAdd(syn.seq, 1)
    this.#lastAckSent = this.#rcvNxt
    // RFC 7323 §2.2: scaling only when both sides sent the option; §2.3: shifts above 14 are taken as 14.
    if (this.#offerWindowScale >= 0 && syn.windowScale !== undefined) {
      this.#sndShift = Math.min(syn.windowScale, MAX_WINDOW_SHIFT)
      this.#rcvWindow.shift = this.#offerWindowScale
    } else {
      this.#sndShift = 0
      this.#rcvWindow.shift = 0
      this.#offerWindowScale = -1
    }
    this.#ts.negotiate(this.#config.timestamps, syn.tsValue, now)
    this.#sackOn = this.#config.sack && syn.sackPermitted
    // RFC 9293 §3.7.1: send no more than the peer's MSS (536 without the option), nor more than our own.
    const peerMss = syn.mss ?? DEFAULT_PEER_MSS
    this.#payloadMax = Math.max(1, Math.min(peerMss, this.#config.mss) - (this.#ts.on ? TIMESTAMPS_OPTION_LENGTH : 0))
    this.congestion.setMss(this.#payloadMax)
    // The scoreboard and the receiver's block list are made when first needed (the first SACK block, the
    // first out-of-order segment), so an idle connection does not pay for them.
    this.#rcvWindow.setRight(this.#rcvNxt, this.receiveBuffer.window)
  }

  #establish(): void {
    this.#state = 'ESTABLISHED'
    this.#synPending = false
    this.#events |= TcpEvents.CONNECTED | TcpEvents.WRITABLE
    if (this.#finQueued) this.#state = 'FIN-WAIT-1'
  }

  #enterTimeWait(now: Micros): void {
    this.#state = 'TIME-WAIT'
    this.#rto.stop()
    this.#persist.stop()
    this.#keepAlive.at = undefined
    this.#timeWait.start(now, this.#config.timeWaitTimeout)
    this.#events |= TcpEvents.PEER_CLOSED
  }

  #fail(code: TcpErrorCode): void {
    this.#enterClosed(code)
  }

  #enterClosed(error: TcpErrorCode | undefined): void {
    if (this.#state === 'CLOSED') return
    this.#state = 'CLOSED'
    if (error !== undefined) {
      this.#error = error
      this.#events |= TcpEvents.ERROR
    }
    this.#events |= TcpEvents.CLOSED | TcpEvents.READABLE
    this.#rto.stop()
    this.#acks.clear()
    this.#persist.stop()
    this.#keepAlive.at = undefined
    this.#timeWait.at = undefined
    this.#synPending = false
    this.#recovery.retransmitHead = false
    this.#probePending = undefined
  }

  /**
   * RFC 3522 §3.2 Eifel detection (rules/spurious-undo.ts) on the first ACK that advances SND.UNA after a
   * timeout. The response (RFC 4015 §3.2): restore cwnd and ssthresh, and resume with new data
   * (SND.NXT = SND.MAX) instead of resending the rest of the flight.
   */
  #eifelCheck(now: Micros, segment: InboundSegment): void {
    if (!this.#undo.eifelSpurious(segment.tsEcho)) return
    this.stats.spuriousTimeouts++
    this.congestion.onUndo?.(now)
    this.#frto.cancel()
    if (seqLt(this.#sndNxt, this.#sndMax)) this.#sndNxt = this.#sndMax
  }

  /** RFC 5682 §2 steps 2–3 (rules/loss-recovery/frto.ts) on an ACK after a timeout. */
  #frtoStep(now: Micros, advanced: boolean, ack: number): void {
    const unsent = this.sendBuffer.length - seqSub(this.#sndMax, this.#sndUna)
    const newData = unsent > 0 && this.#sndWnd > seqSub(this.#sndMax, this.#sndUna)
    switch (this.#frto.onAck(advanced, ack, newData, this.#payloadMax, this.#frto.sack ? this.#sackedBelow(this.#frto.recover) : 0)) {
      case FrtoStep.SendNew:
        // Step 2b: new data instead of the rest of the flight.
        this.#sndNxt = this.#sndMax
        return
      case FrtoStep.Conventional:
        // Step 3a: the timeout was real: the flight goes again from SND.UNA.
        this.#sndNxt = this.#sndUna
        return
      case FrtoStep.Spurious:
        // Step 3b; the response of RFC 4015 §3.2: restore cwnd and ssthresh, keep sending new data.
        this.stats.spuriousTimeouts++
        this.congestion.onUndo?.(now)
        return
    }
  }

  /** SACKed octets between SND.UNA and `end` (F-RTO's SACK-enhanced step 3, RFC 5682 §3; only after a timeout, so the copy of the ranges is rare). */
  #sackedBelow(end: number): number {
    const scoreboard = this.#recovery.scoreboard
    if (scoreboard === undefined || scoreboard.sackedBytes === 0) return 0
    let total = 0
    for (const range of scoreboard.sackedRanges()) {
      const left = seqLt(range.left, this.#sndUna) ? this.#sndUna : range.left
      const right = seqGt(range.right, end) ? end : range.right
      if (seqLt(left, right)) total += seqSub(right, left)
    }
    return total
  }

  /** Whether our FIN was sent and acknowledged. */
  #finAcked(): boolean {
    return this.#finSeq !== undefined && seqGt(this.#sndUna, this.#finSeq)
  }

  /** Whether the FIN must go out now: queued, not acknowledged, and every byte before it sent. */
  #finDue(): boolean {
    return this.#finQueued && !this.#finAcked() && seqSub(this.#sndNxt, this.#sndUna) === this.sendBuffer.length
  }

  // ---------------------------------------------------------------- RTT samples

  /** Finish this ACK's {@link AckMeasurement} and hand it to the controller. */
  #reportMeasurement(now: Micros, measurement: AckMeasurement, newlySacked: number, ece: boolean): void {
    const mss = this.#payloadMax
    measurement.packetsAcked = Math.ceil(measurement.bytesAcked / mss)
    measurement.bytesSacked = newlySacked
    measurement.packetsSacked = Math.ceil(newlySacked / mss)
    // RFC 3168 §6.1.2: the data this ECN-Echo acknowledged met congestion marks (CCP's Ack.ecn_bytes/ecn_packets).
    measurement.ecnBytes = ece ? measurement.bytesAcked + newlySacked : 0
    measurement.ecnPackets = ece ? Math.max(1, Math.ceil(measurement.ecnBytes / mss)) : 0
    const inFlight = this.#recovery.pipe()
    measurement.bytesInFlight = inFlight
    measurement.packetsInFlight = Math.ceil(inFlight / mss)
    measurement.bytesPending = Math.max(0, this.sendBuffer.length - seqSub(this.#sndMax, this.#sndUna))
    measurement.bytesSent = this.stats.bytesSent
    measurement.bytesDelivered = this.#delivery.delivered
    this.#delivery.sample(now, measurement)
    this.congestion.onAckMeasurement!(now, measurement)
  }

  #logSent(now: Micros, start: number, end: number, retransmission: boolean): void {
    this.stats.bytesSent += seqSub(end, start)
    if (retransmission) {
      this.#sentLog.markRetransmitted(start, end, now)
      this.#recovery.onRetransmitted(end)
      return
    }
    this.#delivery.onSent(now, start, end, seqSub(this.#sndMax, this.#sndUna) === 0)
  }

  // ---------------------------------------------------------------- timers

  /** When {@link dispatch} must run next for a timer, or undefined. Output already due is signalled by {@link hasPendingOutput}. */
  pollAt(): Micros | undefined {
    return earliest(earliest(earliest(earliest(earliest(earliest(this.#rto.at, this.#acks.at), this.#persist.at), this.#keepAlive.at), this.#timeWait.at), this.#paceAt), earliest(this.#tlp.timeoutAt, this.#recovery.timerAt))
  }

  /** Whether {@link dispatch} has something to send now (an ACK, a SYN, a reset, data the windows allow). */
  get hasPendingOutput(): boolean {
    if (this.#acks.now || this.#acks.pureOwed > 0 || this.#synPending || this.#resetToSend !== undefined || this.#recovery.retransmitHead || this.#probePending !== undefined || this.#tlp.due) return true
    if (this.#paceAt !== undefined) return false // the pacer holds data until its timer
    if (this.#recovery.sackRecovery) return this.#recovery.next() !== undefined
    if (this.#recovery.lostAfterTimeout && this.#recovery.next() !== undefined) return true
    return this.#canSendData() && this.#nextSendLength() >= 0
  }

  #runTimers(now: Micros): void {
    if (this.#timeWait.expired(now)) {
      this.#enterClosed(undefined)
      return
    }
    if (this.#paceAt !== undefined && now >= this.#paceAt) this.#paceAt = undefined
    this.#acks.runTimer(now)
    this.#tlp.runTimer(now)
    this.#recovery.runTimer(now)
    // RFC 3168 §6.1.2 (rules/ecn.ts): the timer an ECE reset at a one-segment window, with nothing outstanding, only lets new data go.
    if (this.#rto.expired(now) && !this.#ecn.onTimerExpired(seqGt(this.#sndMax, this.#sndUna))) this.#retransmitTimeout(now)
    if (this.#persist.due(now)) this.#probePending = 'window'
    if (this.#config.keepAlive) {
      const keepAlive = this.#keepAlive.due(now, this.#config.keepAliveCount)
      if (keepAlive === 'dead') {
        this.#fail('ETIMEDOUT')
        return
      }
      if (keepAlive === 'probe') this.#probePending = 'keepalive'
    }
  }

  /** RFC 6298 §5.4–5.6 and RFC 5681 §3.1: the retransmission timer expired. */
  #retransmitTimeout(now: Micros): void {
    // The RTO takes over: no probe now, and none until the timeout's recovery is over (RFC 8985 §7.2).
    this.#tlp.cancel()
    const limit = this.#synAcked ? this.#config.maxRetransmits : this.#config.synRetries
    if (this.#rto.onTimeout(now, limit, this.#config.userTimeout) === 'give-up') {
      this.#fail('ETIMEDOUT')
      return
    }
    this.stats.retransmitTimeouts++
    this.rtt.backOff()
    // RFC 3522: only the first timeout of a series can be found spurious; a recovery's undo ends here.
    this.#undo.onTimeout(this.#rto.timeouts === 1, this.#ts.on, this.congestion.onUndo !== undefined)
    if (!this.#synAcked) {
      this.#synPending = true
      return
    }
    this.congestion.onRetransmitTimeout(now, this.bytesInFlight)
    this.#ecn.onLossReduction(this.#sndMax) // RFC 3168 §6.1.2: CWR answers any echo
    // The recovery ends (rules/loss-recovery/); go back to SND.UNA (RFC 6582 §4, RFC 5681 §3.1).
    this.#recovery.onTimeout()
    // RFC 5682: the first timeout of a series may prove spurious by F-RTO (Eifel's check, above, needs timestamps).
    this.#frto.onTimeout(this.#rto.timeouts === 1 && this.congestion.onUndo !== undefined, this.#sndMax, this.#sackOn)
    this.#sndNxt = this.#sndUna
  }

  // ---------------------------------------------------------------- sending

  /**
   * Emit every segment that may be sent now, in order. `emit` must serialise the segment (and copy its
   * payload with `segment.copyPayload`) before returning: the object is reused.
   */
  dispatch(now: Micros, emit: (segment: OutboundSegment) => void): void {
    this.#runTimers(now)
    if (this.#resetToSend !== undefined) {
      const reset = this.#resetToSend
      this.#resetToSend = undefined
      const out = this.#out
      out.reset()
      out.seq = reset.seq
      out.ack = reset.ack
      out.flags = reset.flags
      out.window = 0
      this.stats.segmentsOut++
      emit(out)
    }
    const state = this.#state
    if (state === 'CLOSED' || state === 'LISTEN') return
    if (state === 'SYN-SENT' || state === 'SYN-RECEIVED') {
      this.#acks.pureOwed = 0
      if (this.#synPending) this.#sendSyn(now, emit)
      else if (this.#acks.now) this.#sendAck(now, emit)
      return
    }
    // ACKs owed as their own segments go first, before any data (rules/delayed-ack.ts).
    while (this.#acks.pureOwed > 0) {
      this.#acks.pureOwed--
      this.stats.pureAcksSent++
      this.#sendAck(now, emit)
    }
    let sent = 0
    if (this.#recovery.retransmitHead) {
      this.#recovery.retransmitHead = false
      sent += this.#sendRetransmitHead(now, emit)
    }
    this.#newDataSent = false
    if (this.#recovery.sackRecovery) sent += this.#sendSackRecovery(now, emit)
    else if (state !== 'TIME-WAIT') {
      // After a timeout (RACK mode), retransmissions found lost again go before go-back-N continues.
      if (this.#recovery.lostAfterTimeout) sent += this.#sendSackRecovery(now, emit)
      // RFC 3168 §6.1.2 (rules/ecn.ts): after an ECE at a one-segment window, new data waits for the timer.
      if (!this.#ecn.holdsNewData(this.#rto.at !== undefined)) sent += this.#sendData(now, emit)
    }
    if (this.#tlp.due) {
      this.#tlp.due = false
      // RFC 8985 §7.3: if new data just went, it is the probe's ACK trigger already.
      if (!this.#newDataSent) sent += this.#sendTailLossProbe(now, emit)
    }
    if (this.#newDataSent) this.#armProbeTimeout(now)
    if (this.#probePending !== undefined) {
      this.#sendProbe(now, emit)
      sent++
    }
    if (sent === 0 && this.#acks.now) this.#sendAck(now, emit)
    this.#checkApplicationLimited()
    this.#armIdleTimers(now)
  }

  /**
   * draft-cheng-iccrg-delivery-rate-estimation §3.4 (rules/delivery-rate.ts): after sending what it could,
   * the connection is application-limited when less than a segment is left to send, nothing waits for
   * retransmission, and cwnd has room for more. A pacer holding data back is not the application's doing.
   */
  #checkApplicationLimited(): void {
    if (!this.#canSendData() || this.#recovery.inRecovery || this.#paceAt !== undefined || seqLt(this.#sndNxt, this.#sndMax)) return
    const inFlight = this.bytesInFlight
    if (this.sendBuffer.length - inFlight >= this.#payloadMax) return
    if (inFlight >= this.congestion.window) return
    this.#delivery.markApplicationLimited(inFlight)
  }


  #sendSyn(now: Micros, emit: (segment: OutboundSegment) => void): void {
    this.#synPending = false
    const out = this.#out
    out.reset()
    out.seq = this.iss
    out.flags = TcpFlags.SYN
    out.mss = this.#config.mss
    const retransmission = this.#sndMax !== this.iss
    // RFC 3168 §6.1.1: an ECN-setup SYN (ECE and CWR) or SYN-ACK (ECE); either is Not-ECT.
    out.flags |= this.#state === 'SYN-SENT' ? this.#ecn.synFlags(this.#config.ecn, retransmission) : this.#ecn.synAckFlags()
    out.sackPermitted = this.#config.sack && (this.#state === 'SYN-SENT' || this.#sackOn)
    const offerScale = this.#state === 'SYN-SENT' ? this.#offerWindowScale : this.#offerWindowScale >= 0 ? this.#rcvWindow.shift : -1
    out.windowScale = offerScale
    const withTimestamps = this.#state === 'SYN-SENT' ? this.#config.timestamps : this.#ts.on
    if (this.#state === 'SYN-RECEIVED') {
      out.flags |= TcpFlags.ACK
      out.ack = this.#rcvNxt
      this.#lastAckSent = this.#rcvNxt
    }
    // RFC 7323 §2.2: the window in a SYN is not scaled.
    out.window = Math.min(this.receiveBuffer.window, MAX_WINDOW_FIELD)
    if (this.#state === 'SYN-RECEIVED') this.#rcvWindow.setRight(this.#rcvNxt, out.window)
    if (withTimestamps) {
      out.timestamps = true
      out.tsValue = this.#ts.clock(now)
      out.tsEcho = this.#state === 'SYN-RECEIVED' ? this.#ts.recent : 0
    }
    if (!retransmission) {
      this.#sndNxt = seqAdd(this.iss, 1)
      this.#sndMax = this.#sndNxt
    }
    out.retransmission = retransmission
    this.#logSent(now, this.iss, seqAdd(this.iss, 1), retransmission)
    this.#rto.restart(now, this.rtt.rto)
    this.stats.segmentsOut++
    if (retransmission) this.stats.retransmittedSegments++
    this.#acks.now = false
    emit(out)
  }

  /** Fill the common fields of a segment that carries ACK. */
  #prepare(now: Micros, seq: number, flags: number): OutboundSegment {
    const out = this.#out
    out.reset()
    out.seq = seq
    out.flags = TcpFlags.ACK | flags | this.#ecn.ackFlags() // RFC 3168 §6.1.3: ECE until the peer's CWR
    out.ack = this.#rcvNxt
    out.window = this.#rcvWindow.field(this.#rcvNxt)
    if (this.#ts.on) {
      out.timestamps = true
      out.tsValue = this.#ts.clock(now)
      out.tsEcho = this.#ts.recent
    }
    if (this.#sackOn) this.#fillSackBlocks(out)
    this.#lastAckSent = this.#rcvNxt
    this.#acks.onAckSent()
    return out
  }

  /** SACK blocks from the out-of-order ranges (RFC 2018 §4; the full ordering rules come with @mtcp/sack). */
  #fillSackBlocks(out: OutboundSegment): void {
    const receiver = this.#sackReceiver
    if (receiver !== undefined) {
      const blocks = this.#sackBlocksOut
      const n = receiver.blocks(this.#rcvNxt, this.#ts.on ? 3 : 4, blocks)
      for (let i = 0; i < n; i++) {
        out.sackLeft[i] = blocks[i]!.left
        out.sackRight[i] = blocks[i]!.right
      }
      out.sackCount = n
      return
    }
    const ranges = this.receiveBuffer.rangeCount
    const max = this.#ts.on ? 3 : 4
    let n = 0
    for (let i = 0; i < ranges && n < max; i++) {
      const [start, end] = this.receiveBuffer.range(i)
      out.sackLeft[n] = seqAdd(this.#rcvNxt, start)
      out.sackRight[n] = seqAdd(this.#rcvNxt, end)
      n++
    }
    out.sackCount = n
  }

  #sendAck(now: Micros, emit: (segment: OutboundSegment) => void): void {
    const out = this.#prepare(now, this.#sndNxt, 0)
    this.stats.segmentsOut++
    emit(out)
  }

  /** Usable window: cwnd less the data in the network, and SND.WND less the bytes in flight (RFC 5681 §3, RFC 9293 §3.8.6.2.1). */
  #usableWindow(): number {
    // RFC 5682 §2 step 2b: F-RTO's two new segments go whatever cwnd says (within the peer's window).
    if (this.#frto.allowance > 0) return Math.min(Math.max(this.congestion.window - this.bytesInFlight, this.#frto.allowance), this.#sndWnd - this.bytesInFlight)
    // cwnd against the data in the network (rules/loss-recovery/: SACKed data excluded with RACK), the peer's window against all of it.
    return Math.min(this.congestion.window - this.#recovery.flightForWindow, this.#sndWnd - this.bytesInFlight)
  }

  /**
   * The rate the connection is paced at now, in bytes/s, or undefined for none: the controller's own rate
   * (CCP's set_rate_abs), else the native rate when pacing is on, capped by `maxPacingRate`.
   */
  get pacingRate(): number | undefined {
    const config = this.#config
    let rate = this.congestion.pacingRate
    if (rate === undefined && config.pacing) {
      rate = nativePacingRate({ cwnd: Math.max(this.congestion.window, 1), srtt: this.rtt.smoothedRtt, inSlowStart: this.congestion.window < this.congestion.slowStartThreshold })
    }
    if (config.maxPacingRate !== Number.POSITIVE_INFINITY) rate = Math.min(rate ?? Number.POSITIVE_INFINITY, config.maxPacingRate)
    return rate === undefined || rate === Number.POSITIVE_INFINITY ? undefined : rate
  }

  /**
   * Whether the pacer and the rate limit let `length` bytes of data go now; when not, remembers when they
   * will. The token bucket is charged when it allows.
   */
  #paced(now: Micros, length: number): boolean {
    const rate = this.pacingRate
    if (rate === undefined) {
      if (this.#pacer !== undefined) this.#pacer.setRate(Number.POSITIVE_INFINITY, now)
    } else {
      if (this.#pacer === undefined) this.#pacer = new Pacer({ rate, quantum: this.#config.pacingQuantum })
      else if (this.#pacer.rate !== rate) this.#pacer.setRate(rate, now)
      if (!this.#pacer.canSend(now, length)) {
        this.#paceAt = this.#pacer.nextSendAt(now, length)
        return false
      }
    }
    const bucket = this.#tokenBucket
    if (bucket === undefined || bucket.tryConsume(Math.min(length, bucket.burst), now)) return true
    this.#paceAt = now + bucket.timeUntil(Math.min(length, bucket.burst), now)
    return false
  }

  /** Whether the state allows sending new data or the FIN. */
  #canSendData(): boolean {
    const state = this.#state
    return state === 'ESTABLISHED' || state === 'CLOSE-WAIT' || state === 'FIN-WAIT-1' || state === 'CLOSING' || state === 'LAST-ACK'
  }

  /**
   * What {@link #sendData} sends next: a payload length (1 or more), 0 for a bare FIN, or -1 for
   * nothing now (RFC 9293 §3.7.4 Nagle, §3.8.6.2.1 sender SWS avoidance, the windows).
   */
  #nextSendLength(): number {
    const offset = seqSub(this.#sndNxt, this.#sndUna)
    const unsent = this.sendBuffer.length - offset
    if (unsent <= 0) return this.#finDue() ? 0 : -1
    const window = this.#usableWindow()
    let length = Math.min(this.#superSegmentMax(), unsent, window)
    if (length <= 0) return -1
    // When the window is what cuts a segment of several MSS, cut it at a whole MSS (Linux's
    // tcp_mss_split_point): a super segment of 2.5 MSS would put a short segment on the wire for nothing.
    const mss = this.#sendMss()
    if (length === window && length > mss && length < unsent) length -= length % mss
    // Full segments and retransmissions (below SND.MAX, after a timeout) are never held back.
    if (length >= mss || seqLt(this.#sndNxt, this.#sndMax)) return length
    const allQueued = length === unsent
    // Nagle (rules/nagle.ts), then sender SWS avoidance (rules/silly-window.ts).
    if (this.#nagle.holds(this.#sndUna, this.#sndNxt, this.#config.noDelay, this.#finQueued && allQueued)) return -1
    if (senderSwsHolds(length, allQueued, this.#maxSndWnd, this.bytesInFlight)) return -1
    return length
  }

  /** The most payload in one emitted segment: the MSS, or whole MSS multiples up to `segmentationMax` with TSO. */
  #superSegmentMax(): number {
    const max = this.#config.segmentationMax
    const mss = this.#sendMss()
    return max > mss ? Math.floor(max / mss) * mss : mss
  }

  /**
   * The payload of one segment as it will go now: the negotiated payload (the MSS less the timestamps
   * option) less the room the SACK option takes while we report out-of-order data. RFC 9293 §3.7.1 and
   * RFC 6691 §2: the MSS bounds the data plus the TCP options beyond the fixed header, so a full-sized
   * data segment that also carries SACK blocks (RFC 2018 §4: in every ACK while data is held out of
   * order, piggybacked ones included) must carry less data — as Linux's tcp_current_mss() does.
   * Without this, every such segment was larger than the path MTU and dropped by the link, so with data
   * flowing both ways under loss a retransmission that carried SACK blocks could never arrive.
   * An upper bound of the blocks the next segment carries (a pending D-SACK is counted).
   */
  #sendMss(): number {
    if (!this.#sackOn) return this.#payloadMax
    const receiver = this.#sackReceiver
    const held = receiver !== undefined ? receiver.rangeCount + (receiver.hasDsack ? 1 : 0) : this.receiveBuffer.rangeCount
    if (held === 0) return this.#payloadMax
    const blocks = Math.min(held, this.#ts.on ? 3 : 4)
    // NOP NOP kind length, then 8 bytes per block (the layout of emitTcpOptions).
    return Math.max(1, this.#payloadMax - (SACK_OPTION_OVERHEAD + 8 * blocks))
  }

  /** New data and the FIN. @returns the number of segments emitted. */
  #sendData(now: Micros, emit: (segment: OutboundSegment) => void): number {
    if (!this.#canSendData() || this.#paceAt !== undefined) return 0
    // RFC 5681 §4.1 (rules/idle-restart.ts): restart from the restart window after an idle period.
    if (this.#config.slowStartAfterIdle && this.sendBuffer.length > 0 && this.#idle.due(now, this.rtt.rto, this.bytesInFlight === 0)) {
      this.stats.idleRestarts++
      this.congestion.onIdleRestart(now)
    }
    let sent = 0
    for (;;) {
      const length = this.#nextSendLength()
      if (length > 0 && !this.#paced(now, length)) return sent
      if (length < 0) {
        // Zero window with nothing in flight: probe it (RFC 9293 §3.8.6.1).
        const unsent = this.sendBuffer.length - seqSub(this.#sndNxt, this.#sndUna)
        if (unsent > 0 && this.#sndWnd === 0 && this.bytesInFlight === 0) this.#armPersist(now)
        return sent
      }
      const offset = seqSub(this.#sndNxt, this.#sndUna)
      const withFin = this.#finQueued && offset + length === this.sendBuffer.length
      this.#emitData(now, emit, offset, length, withFin)
      if (this.#pacer?.paced) this.#pacer.onSend(length, now)
      sent++
      if (withFin) return sent
    }
  }

  /** RFC 3168 §6.1.2 and §6.1.5 (rules/ecn.ts): new data goes ECT(0), the first after a reduction with CWR; a retransmission Not-ECT. */
  #markEct(out: OutboundSegment, retransmission: boolean): void {
    const marking = this.#ecn.dataSegment(retransmission)
    out.ecn = marking.ect
    out.flags |= marking.flags
  }

  #emitData(now: Micros, emit: (segment: OutboundSegment) => void, offset: number, length: number, fin: boolean): void {
    const seq = this.#sndNxt
    const allSent = offset + length >= this.sendBuffer.length
    const mss = this.#sendMss() // before #prepare, which may consume a pending D-SACK block
    const out = this.#prepare(now, seq, (fin ? TcpFlags.FIN : 0) | (length > 0 && allSent ? TcpFlags.PSH : 0))
    out.payloadOffset = offset
    out.payloadLength = length
    if (length > mss) out.segmentSize = mss
    const end = seqAdd(seq, length + (fin ? 1 : 0))
    if (fin) this.#finSeq = seqAdd(seq, length)
    this.#nagle.onSent(end, length < mss)
    const retransmission = seqLt(seq, this.#sndMax)
    out.retransmission = retransmission
    if (length > 0) this.#markEct(out, retransmission)
    if (retransmission) {
      this.stats.retransmittedSegments++
      this.stats.retransmittedBytes += length
      this.#undo.onRetransmission(out.tsValue, length)
    } else {
      this.#newDataSent = true
      this.#frto.onNewDataSent(length)
    }
    if (length > 0) this.#idle.onDataSent(now)
    this.#logSent(now, seq, end, retransmission)
    this.#sndNxt = end
    if (seqGt(end, this.#sndMax)) this.#sndMax = end
    this.#rto.startIfStopped(now, this.rtt.rto)
    this.stats.segmentsOut++
    emit(out)
  }

  /**
   * Send what SACK recovery picks while it allows (rules/loss-recovery/: RFC 6675 §5 (C) cwnd − pipe, or
   * PRR's sndcnt in RACK mode): lost ranges first, then NextSeg().
   */
  #sendSackRecovery(now: Micros, emit: (segment: OutboundSegment) => void): number {
    let sent = 0
    if (this.#paceAt !== undefined) return 0
    const recovery = this.#recovery
    for (let next: RecoverySegment | undefined = recovery.next(); next !== undefined; next = recovery.next()) {
      if (!this.#paced(now, next.length)) break
      if (this.#pacer?.paced) this.#pacer.onSend(next.length, now)
      const offset = seqSub(next.seq, this.#sndUna)
      // The scoreboard counts sequence space, and our FIN takes one number after the data: a hole that
      // reaches it is the data before it plus the FIN flag, never a byte past the send buffer.
      const length = Math.max(0, Math.min(next.length, this.sendBuffer.length - offset))
      const finInRange = this.#finSeq !== undefined && seqLe(next.seq, this.#finSeq) && seqGt(seqAdd(next.seq, next.length), this.#finSeq)
      const fin = next.retransmission ? finInRange : this.#finQueued && offset + length === this.sendBuffer.length
      const out = this.#prepare(now, next.seq, (fin ? TcpFlags.FIN : 0) | (length > 0 && offset + length >= this.sendBuffer.length ? TcpFlags.PSH : 0))
      out.payloadOffset = offset
      out.payloadLength = length
      out.retransmission = next.retransmission
      if (length > 0) this.#markEct(out, next.retransmission)
      const end = seqAdd(next.seq, length + (fin ? 1 : 0))
      if (next.retransmission) {
        this.stats.retransmittedSegments++
        this.stats.retransmittedBytes += length
        this.#undo.onRetransmission(out.tsValue, length)
      } else {
        if (fin) this.#finSeq = seqAdd(next.seq, length)
        this.#sndNxt = end
        if (seqGt(end, this.#sndMax)) this.#sndMax = end
      }
      this.#logSent(now, next.seq, end, next.retransmission)
      recovery.onSent(next, end)
      // Retransmitting the first unacknowledged segment restarts the timer (as Linux's
      // tcp_xmit_retransmit_queue rearms it for the head): its ACK cannot come sooner than a round trip
      // from now, and a timer still counting from the last cumulative ACK, which the hole held back,
      // fires before the repair can arrive whenever detecting the loss took more than RTO − RTT.
      if (next.retransmission && next.seq === this.#sndUna) this.#rto.restart(now, this.rtt.rto)
      else this.#rto.startIfStopped(now, this.rtt.rto)
      this.stats.segmentsOut++
      sent++
      emit(out)
    }
    return sent
  }

  /** Retransmit the first unacknowledged segment (fast retransmit, or a NewReno partial ACK). */
  #sendRetransmitHead(now: Micros, emit: (segment: OutboundSegment) => void): number {
    const length = Math.min(this.#sendMss(), this.sendBuffer.length)
    const fin = this.#finSeq !== undefined && length === this.sendBuffer.length
    if (length === 0 && !fin) return 0
    const out = this.#prepare(now, this.#sndUna, fin ? TcpFlags.FIN : 0)
    out.payloadOffset = 0
    out.payloadLength = length
    out.retransmission = true
    this.#logSent(now, this.#sndUna, seqAdd(this.#sndUna, length + (fin ? 1 : 0)), true)
    this.stats.retransmittedSegments++
    this.stats.retransmittedBytes += length
    this.#undo.onRetransmission(out.tsValue, length)
    this.stats.segmentsOut++
    this.#rto.startIfStopped(now, this.rtt.rto)
    emit(out)
    return 1
  }

  /**
   * RFC 8985 §7.2 (rules/tail-loss-probe.ts): (re)start the probe timeout, or cancel it, when a probe may
   * go: with SACK, nothing SACKed, not in recovery nor after an RTO (going back from SND.UNA), the
   * connection able to send.
   */
  #armProbeTimeout(now: Micros): void {
    const eligible =
      this.#config.tailLossProbe &&
      this.#sackOn &&
      this.#synAcked &&
      !this.#recovery.inRecovery &&
      this.#rto.timeouts === 0 &&
      !seqLt(this.#sndNxt, this.#sndMax) &&
      this.#canSendData() &&
      !this.#ecn.holdsNewData(this.#rto.at !== undefined) &&
      !(this.#recovery.scoreboard !== undefined && this.#recovery.scoreboard.sackedBytes > 0)
    this.#tlp.arm(now, eligible, this.rtt.smoothedRtt, seqSub(this.#sndMax, this.#sndUna), this.#payloadMax, this.#rto.at)
  }

  /**
   * RFC 8985 §7.3 TLP_send_probe(): one segment of new data if there is some and the peer's window takes
   * it, else the last segment sent again; whatever cwnd says. Then the RTO is restarted, and the probe's
   * episode stays open until the ACKs close it (rules/tail-loss-probe.ts). @returns segments emitted (0 or 1).
   */
  #sendTailLossProbe(now: Micros, emit: (segment: OutboundSegment) => void): number {
    if (!this.#canSendData() || this.#recovery.inRecovery || this.#tlp.endSeq !== undefined || seqLt(this.#sndNxt, this.#sndMax)) return 0
    const flight = seqSub(this.#sndMax, this.#sndUna)
    if (flight <= 0) return 0
    const mss = this.#sendMss()
    const unsent = this.sendBuffer.length - flight
    const windowLeft = this.#sndWnd - flight
    if (unsent > 0 && windowLeft >= Math.min(unsent, mss)) {
      const length = Math.min(unsent, mss)
      const fin = this.#finQueued && flight + length === this.sendBuffer.length
      this.#emitData(now, emit, flight, length, fin)
      this.#tlp.onProbeSent(this.#sndMax, false)
    } else {
      // The last segment again: up to one MSS of data ending where the data sent ends, and the FIN if it went.
      const finSent = this.#finSeq !== undefined && seqLt(this.#finSeq, this.#sndMax)
      const dataEnd = finSent ? this.#finSeq! : this.#sndMax
      const length = Math.min(mss, seqSub(dataEnd, this.#sndUna))
      const seq = seqAdd(dataEnd, -length)
      const out = this.#prepare(now, seq, (finSent ? TcpFlags.FIN : 0) | (length > 0 ? TcpFlags.PSH : 0))
      out.payloadOffset = seqSub(seq, this.#sndUna)
      out.payloadLength = length
      out.retransmission = true
      this.#logSent(now, seq, this.#sndMax, true)
      this.stats.retransmittedSegments++
      this.stats.retransmittedBytes += length
      this.stats.segmentsOut++
      emit(out)
      this.#tlp.onProbeSent(this.#sndMax, true)
    }
    this.stats.tailLossProbes++
    // RFC 8985 §7.3: after the probe, the RTO timer (not another PTO) guards the flight.
    this.#rto.restart(now, this.rtt.rto)
    return 1
  }

  /** A tail loss probe repaired a loss (RFC 8985 §7.4.2): one fast-recovery reduction, unless a recovery is under way. */
  #tailLossProbeRepaired(now: Micros): void {
    this.stats.tailLossProbeRecoveries++
    if (this.#measurement !== undefined) this.#measurement.lostPackets++
    // RFC 3168 §6.1.2: not when an ECN reduction already covers this window (one reduction per window of
    // data); when it reduces, the next new data segment carries CWR (a reduction "for any reason").
    if (!this.#recovery.inRecovery && !this.#ecn.covers(this.#sndUna)) {
      const inNetwork = Math.min(this.bytesInFlight, this.congestion.window)
      this.congestion.onEnterRecovery(now, inNetwork, true)
      this.congestion.onExitRecovery(now, this.bytesInFlight)
      this.#ecn.onLossReduction(this.#sndMax)
    }
  }

  /**
   * RFC 3168 §6.1.2 (rules/ecn.ts): an ACK with ECE. Once per window of data, the window is reduced as
   * for a loss — ssthresh from the data in the network, cwnd to it — but nothing is retransmitted: the
   * marked segments arrived. During a loss recovery (whose PRR is already bringing the window down for
   * the same round trip) or after a timeout, no second reduction; CWR is owed either way. As Linux's
   * CWR state, the reduction cannot be undone by a later D-SACK or Eifel check: the congestion was real.
   */
  #ecnEcho(now: Micros): void {
    const recovery = this.#recovery
    const lossReduced = recovery.inRecovery || this.#rto.timeouts > 0
    const windowEnd = recovery.inRecovery ? recovery.recover : this.#sndMax
    if (!this.#ecn.onEce(this.#sndUna, windowEnd, !lossReduced)) return
    this.#undo.onCongestion()
    const windowBefore = this.congestion.window
    const inNetwork = Math.min(this.bytesInFlight, windowBefore)
    this.congestion.onEnterRecovery(now, inNetwork, true)
    this.congestion.onExitRecovery(now, this.bytesInFlight)
    // RFC 3168 §6.1.2: at a window of one segment, halving cannot slow the sender; the timer does.
    if (this.#ecn.onReductionAtOneSegment(windowBefore, this.#payloadMax)) this.#rto.restart(now, this.rtt.rto)
  }

  /** A zero-window probe (RFC 9293 §3.8.6.1) or a keepalive (SND.UNA - 1, RFC 1122 §4.2.3.6). */
  #sendProbe(now: Micros, emit: (segment: OutboundSegment) => void): void {
    const kind = this.#probePending
    this.#probePending = undefined
    if (kind === 'window') {
      // As Linux does: an old sequence number and no data, which the peer must answer with its window.
      const out = this.#prepare(now, seqAdd(this.#sndUna, -1), 0)
      this.stats.windowProbes++
      this.stats.segmentsOut++
      emit(out)
      if (this.#sndWnd === 0) this.#armPersist(now)
      return
    }
    const out = this.#prepare(now, seqAdd(this.#sndUna, -1), 0)
    this.stats.keepAliveProbes++
    this.stats.segmentsOut++
    emit(out)
    this.#keepAlive.onProbeSent(now, this.#config.keepAliveInterval)
  }

  /** Arm the persist timer (rules/persist-timer.ts) from the RTO, or the initial RTO before any RTT sample. */
  #armPersist(now: Micros): void {
    this.#persist.arm(now, this.rtt.smoothedRtt === undefined ? undefined : this.rtt.rto, this.#config.initialRto)
  }

  /** Keepalive (rules/keepalive.ts) runs while the connection is open and idle. */
  #armIdleTimers(now: Micros): void {
    if (!this.#config.keepAlive) return
    const state = this.#state
    const idle = (state === 'ESTABLISHED' || state === 'CLOSE-WAIT') && this.bytesInFlight === 0 && this.sendBuffer.length === 0
    this.#keepAlive.armIfIdle(now, idle, this.#lastReceivedAt, this.#config.keepAliveIdle, this.#config.keepAliveInterval)
  }

  // ---------------------------------------------------------------- receive window

  /** After the application read: an ACK is due if the window opened by enough (RFC 9293 §3.8.6.2.2). */
  #maybeWindowUpdate(): void {
    if (this.#state === 'CLOSED' || this.#finReceived) return
    // A window update goes at once, as its own segment (rules/receive-window.ts, rules/delayed-ack.ts).
    if (this.#rcvWindow.updateDue(this.#rcvNxt)) this.#acks.owePureOnce()
  }

}

function earliest(a: Micros | undefined, b: Micros | undefined): Micros | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return a < b ? a : b
}

export { windowShiftFor }
