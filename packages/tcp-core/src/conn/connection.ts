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
import type { SackAckUpdate } from '@mtcp/sack'
import type { AckMeasurement, CongestionControl, Micros } from '../congestion/congestion-control.js'
import { seqAdd, seqGt, seqLe, seqLt, seqSub } from '../wire/seq.js'
import { TcpFlags } from '../wire/tcp.js'
import { ConnectionState } from './connection-state.js'
import { TcpError, type TcpConnectionStats, type TcpErrorCode, TcpEvents, type TcpState } from './connection-types.js'
import type { ReceiveBuffer } from './receive-buffer.js'
import type { RttEstimator } from './rtt-estimator.js'
import type { InboundSegment, OutboundSegment } from './segment.js'
import type { SendBuffer } from './send-buffer.js'
import type { TcpConfig } from './tcp-config.js'
import { MAX_WINDOW_FIELD, MAX_WINDOW_SHIFT, windowShiftFor, windowUpdateAfterRead } from './rules/receive-window.js'
import type { TimeWaitHandoff } from './rules/time-wait.js'
import { icmpSequenceAcceptable, loweredPayload } from './rules/path-mtu.js'
import { senderSwsHolds } from './rules/silly-window.js'
import { TimestampVerdict } from './rules/timestamps.js'
import { isNewRenoDuplicate, type RecoverySegment } from './rules/loss-recovery/index.js'
import { FrtoStep } from './rules/loss-recovery/frto.js'
import { paced, pacingRate } from './rules/pacing.js'
import { segmentArrives } from './rules/segment-arrival.js'
import { eifelCheck } from './rules/spurious-undo.js'
import { frtoStep } from './rules/loss-recovery/frto.js'
import { checkApplicationLimited } from './rules/delivery-rate.js'
import { armKeepAlive } from './rules/keepalive.js'
import { armPersist } from './rules/persist-timer.js'
import { retransmitTimeout } from './rules/retransmission-timer.js'
import { armProbeTimeout, tailLossProbeRepaired } from './rules/tail-loss-probe.js'
import { ackAcceptable, challengeAck, resetArrived, timeWaitResetIgnored } from './rules/rst-and-syn-checks.js'
import { takeSynOptions } from './rules/syn-options.js'
import { enterClosed, enterTimeWait, establish, fail } from './rules/state-transitions.js'
import { DEFAULT_PEER_MSS, sendMss, superSegmentMax, TIMESTAMPS_OPTION_LENGTH } from './rules/segment-size.js'

export { TcpError, type TcpConnectionStats, type TcpErrorCode, TcpEvents, type TcpState } from './connection-types.js'

/**
 * The TCP state machine of one connection. Create with {@link TcpConnection.connect} (active open) or
 * {@link TcpConnection.accept} (passive open, from a SYN the listener received).
 */
export class TcpConnection {
  /** Everything the connection knows, read and written by the rule modules (connection-state.ts). */
  readonly #s: ConnectionState
  /** Counters of this connection. */
  readonly stats: TcpConnectionStats
  /** Our initial sequence number (ISS, RFC 9293 §3.4.1). */
  readonly iss: number
  /** Bytes written and not yet acknowledged. */
  readonly sendBuffer: SendBuffer
  /** Bytes received and not yet read, and the out-of-order ranges. */
  readonly receiveBuffer: ReceiveBuffer
  /** The RTT estimator and RTO (RFC 6298). */
  readonly rtt: RttEstimator
  /** The congestion controller. */
  readonly congestion: CongestionControl

  private constructor(config: TcpConfig, now: Micros, iss: number, state: TcpState, tsOffset: number | undefined) {
    const s = new ConnectionState(config, now, iss, state, tsOffset)
    this.#s = s
    this.stats = s.stats
    this.iss = s.iss
    this.sendBuffer = s.sendBuffer
    this.receiveBuffer = s.receiveBuffer
    this.rtt = s.rtt
    this.congestion = s.congestion
  }

  /**
   * Active open (RFC 9293 §3.10.1): the connection starts in SYN-SENT and its SYN goes out at the next dispatch.
   * @param tsOffset - our timestamp clock's offset (RFC 7323 §5.4), e.g. a keyed hash of the 4-tuple; default `config.timestampOffset`, else one derived from `iss`.
   */
  static connect(config: TcpConfig, now: Micros, iss: number, tsOffset?: number): TcpConnection {
    const connection = new TcpConnection(config, now, iss, 'SYN-SENT', tsOffset)
    connection.#s.synPending = true
    return connection
  }

  /**
   * Passive open: a listener received `syn` (RFC 9293 §3.10.7.2). The connection starts in SYN-RECEIVED
   * and its SYN-ACK goes out at the next dispatch. The caller checked that `syn` carries SYN and no ACK or RST.
   */
  static accept(config: TcpConfig, now: Micros, iss: number, syn: InboundSegment, tsOffset?: number): TcpConnection {
    const connection = new TcpConnection(config, now, iss, 'SYN-RECEIVED', tsOffset)
    takeSynOptions(connection.#s, syn, now)
    connection.#s.ecn.onSyn(config.ecn, syn.flags) // RFC 3168 §6.1.1
    connection.#s.sndWnd = syn.window // RFC 7323 §2.2: the window in a SYN is never scaled
    connection.#s.maxSndWnd = syn.window
    connection.#s.sndWl1 = syn.seq
    connection.#s.synPending = true
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
    connection.#s.synPending = resend
    connection.#s.sndNxt = seqAdd(connection.iss, 1)
    connection.#s.sndMax = connection.#s.sndNxt
    return connection
  }

  /**
   * In TIME-WAIT, what the stack's compact TIME-WAIT entry keeps of the connection (rules/time-wait.ts);
   * undefined in any other state.
   */
  timeWaitHandoff(): TimeWaitHandoff | undefined {
    if (this.#s.state !== 'TIME-WAIT') return undefined
    return {
      sndNxt: this.#s.sndNxt,
      rcvNxt: this.#s.rcvNxt,
      window: Math.min(this.#s.rcvWindow.advertised(this.#s.rcvNxt) >>> this.#s.rcvWindow.shift, MAX_WINDOW_FIELD),
      timestamps: this.#s.ts.on,
      tsRecent: this.#s.ts.recent,
      tsOffset: this.#s.ts.offset,
      endsAt: this.#s.timeWait.at!,
    }
  }

  /** The connection's settings. */
  get config(): TcpConfig {
    return this.#s.config
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
    this.#s.config = {
      ...this.#s.config,
      noDelay: options.noDelay ?? this.#s.config.noDelay,
      keepAlive: options.keepAlive ?? this.#s.config.keepAlive,
      keepAliveIdle: options.keepAliveIdle ?? this.#s.config.keepAliveIdle,
      pacing: options.pacing ?? this.#s.config.pacing,
      maxPacingRate: options.maxPacingRate ?? this.#s.config.maxPacingRate,
    }
    if (!this.#s.config.keepAlive) this.#s.keepAlive.at = undefined
  }

  /** The current state. */
  get state(): TcpState {
    return this.#s.state
  }

  /** Why the connection failed, if it did. */
  get error(): TcpErrorCode | undefined {
    return this.#s.error
  }

  /** SND.UNA, SND.NXT, RCV.NXT and the windows, for inspection and tests. */
  get sequence(): { sndUna: number; sndNxt: number; sndMax: number; sndWnd: number; rcvNxt: number; rcvWnd: number; irs: number } {
    return {
      sndUna: this.#s.sndUna,
      sndNxt: this.#s.sndNxt,
      sndMax: this.#s.sndMax,
      sndWnd: this.#s.sndWnd,
      rcvNxt: this.#s.rcvNxt,
      rcvWnd: this.#s.rcvWindow.advertised(this.#s.rcvNxt),
      irs: this.#s.irs,
    }
  }

  /** What was negotiated in the handshake. */
  get negotiated(): { mss: number; sendShift: number; receiveShift: number; timestamps: boolean; sack: boolean; ecn: boolean } {
    return { mss: this.#s.payloadMax, sendShift: this.#s.sndShift, receiveShift: this.#s.rcvWindow.shift, timestamps: this.#s.ts.on, sack: this.#s.sackOn, ecn: this.#s.ecn.on }
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
    return icmpSequenceAcceptable(seq, this.#s.sndUna, this.#s.sndMax)
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
    if (this.#s.state === 'CLOSED' || this.#s.state === 'LISTEN' || this.#s.state === 'SYN-SENT') return false
    const payload = loweredPayload(mtu, this.#s.payloadMax, this.#s.ts.on ? TIMESTAMPS_OPTION_LENGTH : 0)
    if (payload === undefined) return false
    this.#s.payloadMax = payload
    this.congestion.setMss(payload)
    if (seqLt(this.#s.sndUna, this.#s.sndNxt)) {
      this.#s.recovery.onTimeout() // the recovery's lists name segments of the old size: start again from SND.UNA
      this.#s.sndNxt = this.#s.sndUna
    }
    return true
  }

  /** Bytes sent and not yet acknowledged (FlightSize, RFC 5681 §2). */
  get bytesInFlight(): number {
    return this.#s.bytesInFlight
  }

  /** Whether fast recovery is under way. */
  get inRecovery(): boolean {
    return this.#s.recovery.inRecovery
  }

  /** Return and clear the {@link TcpEvents} bits raised since the last call. */
  takeEvents(): number {
    const events = this.#s.events
    this.#s.events = 0
    return events
  }

  // ---------------------------------------------------------------- application side

  /** Whether the application may still write. */
  get writable(): boolean {
    return !this.#s.finQueued && (this.#s.state === 'ESTABLISHED' || this.#s.state === 'CLOSE-WAIT' || this.#s.state === 'SYN-SENT' || this.#s.state === 'SYN-RECEIVED')
  }

  /**
   * Queue bytes for sending.
   * @returns how many bytes the send buffer took (0 when full: wait for {@link TcpEvents.WRITABLE}).
   * @throws TcpError `EPIPE` after `shutdown`/`close`, or the connection's error once it failed.
   */
  write(data: Uint8Array, offset = 0, length = data.byteLength - offset): number {
    if (!this.writable) {
      if (this.#s.error !== undefined) throw new TcpError(this.#s.error, `write on a failed connection: ${this.#s.error}`)
      throw new TcpError('EPIPE', `write after the sending side was closed (state ${this.#s.state})`)
    }
    return this.sendBuffer.write(data, offset, length)
  }

  /** In-order bytes waiting to be read. */
  get readableBytes(): number {
    return this.receiveBuffer.readable
  }

  /** True once the peer's FIN has arrived and every byte before it was read: reads return 0 for good. */
  get readEnded(): boolean {
    return this.#s.finReceived && this.receiveBuffer.readable === 0
  }

  /**
   * Read up to `length` bytes into `target`. Opening the window may make an update due (RFC 9293 §3.8.6.2.2).
   * @returns the count; 0 when nothing is buffered (check {@link readEnded}).
   */
  read(target: Uint8Array, offset = 0, length = target.byteLength - offset): number {
    const count = this.receiveBuffer.read(target, offset, length)
    if (count > 0) windowUpdateAfterRead(this.#s)
    return count
  }

  /** Consume `count` readable bytes without copying them (after a `peek`). */
  consume(count: number): void {
    this.receiveBuffer.consume(count)
    windowUpdateAfterRead(this.#s)
  }

  /**
   * Close the sending side (RFC 9293 §3.10.4, CLOSE): a FIN follows the data already written.
   * Reading stays possible until the peer's FIN. Idempotent.
   */
  shutdown(): void {
    switch (this.#s.state) {
      case 'SYN-SENT':
      // Queued, as RFC 9293 §3.10.4 allows for SYN-RECEIVED: the FIN follows the handshake and the data.
      case 'SYN-RECEIVED':
      case 'ESTABLISHED':
        this.#s.finQueued = true
        this.#s.state = this.#s.synAcked ? 'FIN-WAIT-1' : this.#s.state
        return
      case 'CLOSE-WAIT':
        this.#s.finQueued = true
        this.#s.state = 'LAST-ACK'
        return
      default:
        return
    }
  }

  /** Abort (RFC 9293 §3.10.5, ABORT): send a reset and go to CLOSED at once; buffered data is discarded. */
  abort(): void {
    if (this.#s.state === 'CLOSED' || this.#s.state === 'TIME-WAIT' || this.#s.state === 'LISTEN') {
      enterClosed(this.#s, undefined)
      return
    }
    if (this.#s.state !== 'SYN-SENT') this.#s.resetToSend = { seq: this.#s.sndNxt, ack: 0, flags: TcpFlags.RST }
    enterClosed(this.#s, undefined)
  }

  /**
   * Give the send and receive rings' storage back to {@link TcpConfig.ringStorage} (without a pool the
   * rings just let it go). Only once the connection is finished with its data, CLOSED or in TIME-WAIT:
   * in any other state this does nothing. Data still buffered (unread by the application) is discarded.
   * @returns whether the storage was released
   */
  releaseBuffers(): boolean {
    if (this.#s.state !== 'CLOSED' && this.#s.state !== 'TIME-WAIT') return false
    this.sendBuffer.release()
    this.receiveBuffer.release()
    return true
  }

  // ---------------------------------------------------------------- arriving segments

  /** Apply one arriving segment (RFC 9293 §3.10.7, rules/segment-arrival.ts). Never throws, never sends: replies wait for {@link dispatch}. */
  process(now: Micros, segment: InboundSegment): void {
    segmentArrives(this.#s, now, segment)
  }



















  // ---------------------------------------------------------------- RTT samples


  #logSent(now: Micros, start: number, end: number, retransmission: boolean): void {
    this.stats.bytesSent += seqSub(end, start)
    if (retransmission) {
      this.#s.sentLog.markRetransmitted(start, end, now)
      this.#s.recovery.onRetransmitted(end)
      return
    }
    this.#s.delivery.onSent(now, start, end, seqSub(this.#s.sndMax, this.#s.sndUna) === 0)
  }

  // ---------------------------------------------------------------- timers

  /** When {@link dispatch} must run next for a timer, or undefined. Output already due is signalled by {@link hasPendingOutput}. */
  pollAt(): Micros | undefined {
    return earliest(earliest(earliest(earliest(earliest(earliest(this.#s.rto.at, this.#s.acks.at), this.#s.persist.at), this.#s.keepAlive.at), this.#s.timeWait.at), this.#s.paceAt), earliest(this.#s.tlp.timeoutAt, this.#s.recovery.timerAt))
  }

  /** Whether {@link dispatch} has something to send now (an ACK, a SYN, a reset, data the windows allow). */
  get hasPendingOutput(): boolean {
    if (this.#s.acks.now || this.#s.acks.pureOwed > 0 || this.#s.synPending || this.#s.resetToSend !== undefined || this.#s.recovery.retransmitHead || this.#s.probePending !== undefined || this.#s.tlp.due) return true
    if (this.#s.paceAt !== undefined) return false // the pacer holds data until its timer
    if (this.#s.recovery.sackRecovery) return this.#s.recovery.next() !== undefined
    if (this.#s.recovery.lostAfterTimeout && this.#s.recovery.next() !== undefined) return true
    return this.#s.canSendData() && this.#nextSendLength() >= 0
  }

  #runTimers(now: Micros): void {
    if (this.#s.timeWait.expired(now)) {
      enterClosed(this.#s, undefined)
      return
    }
    if (this.#s.paceAt !== undefined && now >= this.#s.paceAt) this.#s.paceAt = undefined
    this.#s.acks.runTimer(now)
    this.#s.tlp.runTimer(now)
    this.#s.recovery.runTimer(now)
    // RFC 3168 §6.1.2 (rules/ecn.ts): the timer an ECE reset at a one-segment window, with nothing outstanding, only lets new data go.
    if (this.#s.rto.expired(now) && !this.#s.ecn.onTimerExpired(seqGt(this.#s.sndMax, this.#s.sndUna))) retransmitTimeout(this.#s, now)
    if (this.#s.persist.due(now)) this.#s.probePending = 'window'
    if (this.#s.config.keepAlive) {
      const keepAlive = this.#s.keepAlive.due(now, this.#s.config.keepAliveCount)
      if (keepAlive === 'dead') {
        fail(this.#s, 'ETIMEDOUT')
        return
      }
      if (keepAlive === 'probe') this.#s.probePending = 'keepalive'
    }
  }


  // ---------------------------------------------------------------- sending

  /**
   * Emit every segment that may be sent now, in order. `emit` must serialise the segment (and copy its
   * payload with `segment.copyPayload`) before returning: the object is reused.
   */
  dispatch(now: Micros, emit: (segment: OutboundSegment) => void): void {
    this.#runTimers(now)
    if (this.#s.resetToSend !== undefined) {
      const reset = this.#s.resetToSend
      this.#s.resetToSend = undefined
      const out = this.#s.out
      out.reset()
      out.seq = reset.seq
      out.ack = reset.ack
      out.flags = reset.flags
      out.window = 0
      this.stats.segmentsOut++
      emit(out)
    }
    const state = this.#s.state
    if (state === 'CLOSED' || state === 'LISTEN') return
    if (state === 'SYN-SENT' || state === 'SYN-RECEIVED') {
      this.#s.acks.pureOwed = 0
      if (this.#s.synPending) this.#sendSyn(now, emit)
      else if (this.#s.acks.now) this.#sendAck(now, emit)
      return
    }
    // ACKs owed as their own segments go first, before any data (rules/delayed-ack.ts).
    while (this.#s.acks.pureOwed > 0) {
      this.#s.acks.pureOwed--
      this.stats.pureAcksSent++
      this.#sendAck(now, emit)
    }
    let sent = 0
    if (this.#s.recovery.retransmitHead) {
      this.#s.recovery.retransmitHead = false
      sent += this.#sendRetransmitHead(now, emit)
    }
    this.#s.newDataSent = false
    if (this.#s.recovery.sackRecovery) sent += this.#sendSackRecovery(now, emit)
    else if (state !== 'TIME-WAIT') {
      // After a timeout (RACK mode), retransmissions found lost again go before go-back-N continues.
      if (this.#s.recovery.lostAfterTimeout) sent += this.#sendSackRecovery(now, emit)
      // RFC 3168 §6.1.2 (rules/ecn.ts): after an ECE at a one-segment window, new data waits for the timer.
      if (!this.#s.ecn.holdsNewData(this.#s.rto.at !== undefined)) sent += this.#sendData(now, emit)
    }
    if (this.#s.tlp.due) {
      this.#s.tlp.due = false
      // RFC 8985 §7.3: if new data just went, it is the probe's ACK trigger already.
      if (!this.#s.newDataSent) sent += this.#sendTailLossProbe(now, emit)
    }
    if (this.#s.newDataSent) armProbeTimeout(this.#s, now)
    if (this.#s.probePending !== undefined) {
      this.#sendProbe(now, emit)
      sent++
    }
    if (sent === 0 && this.#s.acks.now) this.#sendAck(now, emit)
    checkApplicationLimited(this.#s)
    armKeepAlive(this.#s, now)
  }



  #sendSyn(now: Micros, emit: (segment: OutboundSegment) => void): void {
    this.#s.synPending = false
    const out = this.#s.out
    out.reset()
    out.seq = this.iss
    out.flags = TcpFlags.SYN
    out.mss = this.#s.config.mss
    const retransmission = this.#s.sndMax !== this.iss
    // RFC 3168 §6.1.1: an ECN-setup SYN (ECE and CWR) or SYN-ACK (ECE); either is Not-ECT.
    out.flags |= this.#s.state === 'SYN-SENT' ? this.#s.ecn.synFlags(this.#s.config.ecn, retransmission) : this.#s.ecn.synAckFlags()
    out.sackPermitted = this.#s.config.sack && (this.#s.state === 'SYN-SENT' || this.#s.sackOn)
    const offerScale = this.#s.state === 'SYN-SENT' ? this.#s.offerWindowScale : this.#s.offerWindowScale >= 0 ? this.#s.rcvWindow.shift : -1
    out.windowScale = offerScale
    const withTimestamps = this.#s.state === 'SYN-SENT' ? this.#s.config.timestamps : this.#s.ts.on
    if (this.#s.state === 'SYN-RECEIVED') {
      out.flags |= TcpFlags.ACK
      out.ack = this.#s.rcvNxt
      this.#s.lastAckSent = this.#s.rcvNxt
    }
    // RFC 7323 §2.2: the window in a SYN is not scaled.
    out.window = Math.min(this.receiveBuffer.window, MAX_WINDOW_FIELD)
    if (this.#s.state === 'SYN-RECEIVED') this.#s.rcvWindow.setRight(this.#s.rcvNxt, out.window)
    if (withTimestamps) {
      out.timestamps = true
      out.tsValue = this.#s.ts.clock(now)
      out.tsEcho = this.#s.state === 'SYN-RECEIVED' ? this.#s.ts.recent : 0
    }
    if (!retransmission) {
      this.#s.sndNxt = seqAdd(this.iss, 1)
      this.#s.sndMax = this.#s.sndNxt
    }
    out.retransmission = retransmission
    this.#logSent(now, this.iss, seqAdd(this.iss, 1), retransmission)
    this.#s.rto.restart(now, this.rtt.rto)
    this.stats.segmentsOut++
    if (retransmission) this.stats.retransmittedSegments++
    this.#s.acks.now = false
    emit(out)
  }

  /** Fill the common fields of a segment that carries ACK. */
  #prepare(now: Micros, seq: number, flags: number): OutboundSegment {
    const out = this.#s.out
    out.reset()
    out.seq = seq
    out.flags = TcpFlags.ACK | flags | this.#s.ecn.ackFlags() // RFC 3168 §6.1.3: ECE until the peer's CWR
    out.ack = this.#s.rcvNxt
    out.window = this.#s.rcvWindow.field(this.#s.rcvNxt)
    if (this.#s.ts.on) {
      out.timestamps = true
      out.tsValue = this.#s.ts.clock(now)
      out.tsEcho = this.#s.ts.recent
    }
    if (this.#s.sackOn) this.#fillSackBlocks(out)
    this.#s.lastAckSent = this.#s.rcvNxt
    this.#s.acks.onAckSent()
    return out
  }

  /** SACK blocks from the out-of-order ranges (RFC 2018 §4; the full ordering rules come with @mtcp/sack). */
  #fillSackBlocks(out: OutboundSegment): void {
    const receiver = this.#s.sackReceiver
    if (receiver !== undefined) {
      const blocks = this.#s.sackBlocksOut
      const n = receiver.blocks(this.#s.rcvNxt, this.#s.ts.on ? 3 : 4, blocks)
      for (let i = 0; i < n; i++) {
        out.sackLeft[i] = blocks[i]!.left
        out.sackRight[i] = blocks[i]!.right
      }
      out.sackCount = n
      return
    }
    const ranges = this.receiveBuffer.rangeCount
    const max = this.#s.ts.on ? 3 : 4
    let n = 0
    for (let i = 0; i < ranges && n < max; i++) {
      const [start, end] = this.receiveBuffer.range(i)
      out.sackLeft[n] = seqAdd(this.#s.rcvNxt, start)
      out.sackRight[n] = seqAdd(this.#s.rcvNxt, end)
      n++
    }
    out.sackCount = n
  }

  #sendAck(now: Micros, emit: (segment: OutboundSegment) => void): void {
    const out = this.#prepare(now, this.#s.sndNxt, 0)
    this.stats.segmentsOut++
    emit(out)
  }

  /** Usable window: cwnd less the data in the network, and SND.WND less the bytes in flight (RFC 5681 §3, RFC 9293 §3.8.6.2.1). */
  #usableWindow(): number {
    // RFC 5682 §2 step 2b: F-RTO's two new segments go whatever cwnd says (within the peer's window).
    if (this.#s.frto.allowance > 0) return Math.min(Math.max(this.congestion.window - this.bytesInFlight, this.#s.frto.allowance), this.#s.sndWnd - this.bytesInFlight)
    // cwnd against the data in the network (rules/loss-recovery/: SACKed data excluded with RACK), the peer's window against all of it.
    return Math.min(this.congestion.window - this.#s.recovery.flightForWindow, this.#s.sndWnd - this.bytesInFlight)
  }



  /**
   * The rate the connection is paced at now, in bytes/s, or undefined for none: the controller's own rate
   * (CCP's set_rate_abs), else the native rate when pacing is on, capped by `maxPacingRate` (rules/pacing.ts).
   */
  get pacingRate(): number | undefined {
    return pacingRate(this.#s)
  }

  /**
   * What {@link #sendData} sends next: a payload length (1 or more), 0 for a bare FIN, or -1 for
   * nothing now (RFC 9293 §3.7.4 Nagle, §3.8.6.2.1 sender SWS avoidance, the windows).
   */
  #nextSendLength(): number {
    const offset = seqSub(this.#s.sndNxt, this.#s.sndUna)
    const unsent = this.sendBuffer.length - offset
    if (unsent <= 0) return this.#s.finDue() ? 0 : -1
    const window = this.#usableWindow()
    let length = Math.min(superSegmentMax(this.#s), unsent, window)
    if (length <= 0) return -1
    // When the window is what cuts a segment of several MSS, cut it at a whole MSS (Linux's
    // tcp_mss_split_point): a super segment of 2.5 MSS would put a short segment on the wire for nothing.
    const mss = sendMss(this.#s)
    if (length === window && length > mss && length < unsent) length -= length % mss
    // Full segments and retransmissions (below SND.MAX, after a timeout) are never held back.
    if (length >= mss || seqLt(this.#s.sndNxt, this.#s.sndMax)) return length
    const allQueued = length === unsent
    // Nagle (rules/nagle.ts), then sender SWS avoidance (rules/silly-window.ts).
    if (this.#s.nagle.holds(this.#s.sndUna, this.#s.sndNxt, this.#s.config.noDelay, this.#s.finQueued && allQueued)) return -1
    if (senderSwsHolds(length, allQueued, this.#s.maxSndWnd, this.bytesInFlight)) return -1
    return length
  }

  /** New data and the FIN. @returns the number of segments emitted. */
  #sendData(now: Micros, emit: (segment: OutboundSegment) => void): number {
    if (!this.#s.canSendData() || this.#s.paceAt !== undefined) return 0
    // RFC 5681 §4.1 (rules/idle-restart.ts): restart from the restart window after an idle period.
    if (this.#s.config.slowStartAfterIdle && this.sendBuffer.length > 0 && this.#s.idle.due(now, this.rtt.rto, this.bytesInFlight === 0)) {
      this.stats.idleRestarts++
      this.congestion.onIdleRestart(now)
    }
    let sent = 0
    for (;;) {
      const length = this.#nextSendLength()
      if (length > 0 && !paced(this.#s, now, length)) return sent
      if (length < 0) {
        // Zero window with nothing in flight: probe it (RFC 9293 §3.8.6.1).
        const unsent = this.sendBuffer.length - seqSub(this.#s.sndNxt, this.#s.sndUna)
        if (unsent > 0 && this.#s.sndWnd === 0 && this.bytesInFlight === 0) armPersist(this.#s, now)
        return sent
      }
      const offset = seqSub(this.#s.sndNxt, this.#s.sndUna)
      const withFin = this.#s.finQueued && offset + length === this.sendBuffer.length
      this.#emitData(now, emit, offset, length, withFin)
      if (this.#s.pacer?.paced) this.#s.pacer.onSend(length, now)
      sent++
      if (withFin) return sent
    }
  }

  /** RFC 3168 §6.1.2 and §6.1.5 (rules/ecn.ts): new data goes ECT(0), the first after a reduction with CWR; a retransmission Not-ECT. */
  #markEct(out: OutboundSegment, retransmission: boolean): void {
    const marking = this.#s.ecn.dataSegment(retransmission)
    out.ecn = marking.ect
    out.flags |= marking.flags
  }

  #emitData(now: Micros, emit: (segment: OutboundSegment) => void, offset: number, length: number, fin: boolean): void {
    const seq = this.#s.sndNxt
    const allSent = offset + length >= this.sendBuffer.length
    const mss = sendMss(this.#s) // before #prepare, which may consume a pending D-SACK block
    const out = this.#prepare(now, seq, (fin ? TcpFlags.FIN : 0) | (length > 0 && allSent ? TcpFlags.PSH : 0))
    out.payloadOffset = offset
    out.payloadLength = length
    if (length > mss) out.segmentSize = mss
    const end = seqAdd(seq, length + (fin ? 1 : 0))
    if (fin) this.#s.finSeq = seqAdd(seq, length)
    this.#s.nagle.onSent(end, length < mss)
    const retransmission = seqLt(seq, this.#s.sndMax)
    out.retransmission = retransmission
    if (length > 0) this.#markEct(out, retransmission)
    if (retransmission) {
      this.stats.retransmittedSegments++
      this.stats.retransmittedBytes += length
      this.#s.undo.onRetransmission(out.tsValue, length)
    } else {
      this.#s.newDataSent = true
      this.#s.frto.onNewDataSent(length)
    }
    if (length > 0) this.#s.idle.onDataSent(now)
    this.#logSent(now, seq, end, retransmission)
    this.#s.sndNxt = end
    if (seqGt(end, this.#s.sndMax)) this.#s.sndMax = end
    this.#s.rto.startIfStopped(now, this.rtt.rto)
    this.stats.segmentsOut++
    emit(out)
  }

  /**
   * Send what SACK recovery picks while it allows (rules/loss-recovery/: RFC 6675 §5 (C) cwnd − pipe, or
   * PRR's sndcnt in RACK mode): lost ranges first, then NextSeg().
   */
  #sendSackRecovery(now: Micros, emit: (segment: OutboundSegment) => void): number {
    let sent = 0
    if (this.#s.paceAt !== undefined) return 0
    const recovery = this.#s.recovery
    for (let next: RecoverySegment | undefined = recovery.next(); next !== undefined; next = recovery.next()) {
      if (!paced(this.#s, now, next.length)) break
      if (this.#s.pacer?.paced) this.#s.pacer.onSend(next.length, now)
      const offset = seqSub(next.seq, this.#s.sndUna)
      // The scoreboard counts sequence space, and our FIN takes one number after the data: a hole that
      // reaches it is the data before it plus the FIN flag, never a byte past the send buffer.
      const length = Math.max(0, Math.min(next.length, this.sendBuffer.length - offset))
      const finInRange = this.#s.finSeq !== undefined && seqLe(next.seq, this.#s.finSeq) && seqGt(seqAdd(next.seq, next.length), this.#s.finSeq)
      const fin = next.retransmission ? finInRange : this.#s.finQueued && offset + length === this.sendBuffer.length
      const out = this.#prepare(now, next.seq, (fin ? TcpFlags.FIN : 0) | (length > 0 && offset + length >= this.sendBuffer.length ? TcpFlags.PSH : 0))
      out.payloadOffset = offset
      out.payloadLength = length
      out.retransmission = next.retransmission
      if (length > 0) this.#markEct(out, next.retransmission)
      const end = seqAdd(next.seq, length + (fin ? 1 : 0))
      if (next.retransmission) {
        this.stats.retransmittedSegments++
        this.stats.retransmittedBytes += length
        this.#s.undo.onRetransmission(out.tsValue, length)
      } else {
        if (fin) this.#s.finSeq = seqAdd(next.seq, length)
        this.#s.sndNxt = end
        if (seqGt(end, this.#s.sndMax)) this.#s.sndMax = end
      }
      this.#logSent(now, next.seq, end, next.retransmission)
      recovery.onSent(next, end)
      // Retransmitting the first unacknowledged segment restarts the timer (as Linux's
      // tcp_xmit_retransmit_queue rearms it for the head): its ACK cannot come sooner than a round trip
      // from now, and a timer still counting from the last cumulative ACK, which the hole held back,
      // fires before the repair can arrive whenever detecting the loss took more than RTO − RTT.
      if (next.retransmission && next.seq === this.#s.sndUna) this.#s.rto.restart(now, this.rtt.rto)
      else this.#s.rto.startIfStopped(now, this.rtt.rto)
      this.stats.segmentsOut++
      sent++
      emit(out)
    }
    return sent
  }

  /** Retransmit the first unacknowledged segment (fast retransmit, or a NewReno partial ACK). */
  #sendRetransmitHead(now: Micros, emit: (segment: OutboundSegment) => void): number {
    const length = Math.min(sendMss(this.#s), this.sendBuffer.length)
    const fin = this.#s.finSeq !== undefined && length === this.sendBuffer.length
    if (length === 0 && !fin) return 0
    const out = this.#prepare(now, this.#s.sndUna, fin ? TcpFlags.FIN : 0)
    out.payloadOffset = 0
    out.payloadLength = length
    out.retransmission = true
    this.#logSent(now, this.#s.sndUna, seqAdd(this.#s.sndUna, length + (fin ? 1 : 0)), true)
    this.stats.retransmittedSegments++
    this.stats.retransmittedBytes += length
    this.#s.undo.onRetransmission(out.tsValue, length)
    this.stats.segmentsOut++
    this.#s.rto.startIfStopped(now, this.rtt.rto)
    emit(out)
    return 1
  }


  /**
   * RFC 8985 §7.3 TLP_send_probe(): one segment of new data if there is some and the peer's window takes
   * it, else the last segment sent again; whatever cwnd says. Then the RTO is restarted, and the probe's
   * episode stays open until the ACKs close it (rules/tail-loss-probe.ts). @returns segments emitted (0 or 1).
   */
  #sendTailLossProbe(now: Micros, emit: (segment: OutboundSegment) => void): number {
    if (!this.#s.canSendData() || this.#s.recovery.inRecovery || this.#s.tlp.endSeq !== undefined || seqLt(this.#s.sndNxt, this.#s.sndMax)) return 0
    const flight = seqSub(this.#s.sndMax, this.#s.sndUna)
    if (flight <= 0) return 0
    const mss = sendMss(this.#s)
    const unsent = this.sendBuffer.length - flight
    const windowLeft = this.#s.sndWnd - flight
    if (unsent > 0 && windowLeft >= Math.min(unsent, mss)) {
      const length = Math.min(unsent, mss)
      const fin = this.#s.finQueued && flight + length === this.sendBuffer.length
      this.#emitData(now, emit, flight, length, fin)
      this.#s.tlp.onProbeSent(this.#s.sndMax, false)
    } else {
      // The last segment again: up to one MSS of data ending where the data sent ends, and the FIN if it went.
      const finSent = this.#s.finSeq !== undefined && seqLt(this.#s.finSeq, this.#s.sndMax)
      const dataEnd = finSent ? this.#s.finSeq! : this.#s.sndMax
      const length = Math.min(mss, seqSub(dataEnd, this.#s.sndUna))
      const seq = seqAdd(dataEnd, -length)
      const out = this.#prepare(now, seq, (finSent ? TcpFlags.FIN : 0) | (length > 0 ? TcpFlags.PSH : 0))
      out.payloadOffset = seqSub(seq, this.#s.sndUna)
      out.payloadLength = length
      out.retransmission = true
      this.#logSent(now, seq, this.#s.sndMax, true)
      this.stats.retransmittedSegments++
      this.stats.retransmittedBytes += length
      this.stats.segmentsOut++
      emit(out)
      this.#s.tlp.onProbeSent(this.#s.sndMax, true)
    }
    this.stats.tailLossProbes++
    // RFC 8985 §7.3: after the probe, the RTO timer (not another PTO) guards the flight.
    this.#s.rto.restart(now, this.rtt.rto)
    return 1
  }



  /** A zero-window probe (RFC 9293 §3.8.6.1) or a keepalive (SND.UNA - 1, RFC 1122 §4.2.3.6). */
  #sendProbe(now: Micros, emit: (segment: OutboundSegment) => void): void {
    const kind = this.#s.probePending
    this.#s.probePending = undefined
    if (kind === 'window') {
      // As Linux does: an old sequence number and no data, which the peer must answer with its window.
      const out = this.#prepare(now, seqAdd(this.#s.sndUna, -1), 0)
      this.stats.windowProbes++
      this.stats.segmentsOut++
      emit(out)
      if (this.#s.sndWnd === 0) armPersist(this.#s, now)
      return
    }
    const out = this.#prepare(now, seqAdd(this.#s.sndUna, -1), 0)
    this.stats.keepAliveProbes++
    this.stats.segmentsOut++
    emit(out)
    this.#s.keepAlive.onProbeSent(now, this.#s.config.keepAliveInterval)
  }



  // ---------------------------------------------------------------- receive window


}

function earliest(a: Micros | undefined, b: Micros | undefined): Micros | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return a < b ? a : b
}

export { windowShiftFor }
