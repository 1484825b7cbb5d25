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
 *
 * This class only orchestrates (decision 0090): its state is one `ConnectionState` record
 * (connection-state.ts), and each rule is a function over that record in a file named after it —
 * rules/segment-arrival.ts (RFC 9293 §3.10.7), rules/rst-and-syn-checks.ts (RFC 5961),
 * rules/ack-processing.ts, rules/syn-options.ts, rules/state-transitions.ts, segment-output.ts,
 * retransmission-output.ts, timers.ts, and the other files of rules/.
 * @module
 */
import type { CongestionControl, Micros } from '../congestion/congestion-control.js'
import { seqAdd } from '../wire/seq.js'
import { TcpFlags } from '../wire/tcp.js'
import { ConnectionState } from './connection-state.js'
import { TcpError, type TcpConnectionStats, type TcpErrorCode, TcpEvents, type TcpState } from './connection-types.js'
import type { ReceiveBuffer } from './receive-buffer.js'
import type { RttEstimator } from './rtt-estimator.js'
import type { InboundSegment, OutboundSegment } from './segment.js'
import type { SendBuffer } from './send-buffer.js'
import type { TcpConfig } from './tcp-config.js'
import { icmpSequenceAcceptable, pathMtuLowered } from './rules/path-mtu.js'
import { pacingRate } from './rules/pacing.js'
import { MAX_WINDOW_FIELD, windowShiftFor, windowUpdateAfterRead } from './rules/receive-window.js'
import { segmentArrives } from './rules/segment-arrival.js'
import { enterClosed } from './rules/state-transitions.js'
import { takeSynOptions } from './rules/syn-options.js'
import type { TimeWaitHandoff } from './rules/time-wait.js'
import { dispatch, hasPendingOutput } from './segment-output.js'
import { pollAt } from './timers.js'

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
    return pathMtuLowered(this.#s, mtu)
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

  // ---------------------------------------------------------------- output and timers

  /** When {@link dispatch} must run next for a timer, or undefined. Output already due is signalled by {@link hasPendingOutput}. */
  pollAt(): Micros | undefined {
    return pollAt(this.#s)
  }

  /** Whether {@link dispatch} has something to send now (an ACK, a SYN, a reset, data the windows allow). */
  get hasPendingOutput(): boolean {
    return hasPendingOutput(this.#s)
  }

  /**
   * Emit every segment that may be sent now, in order (segment-output.ts). `emit` must serialise the
   * segment (and copy its payload with `segment.copyPayload`) before returning: the object is reused.
   */
  dispatch(now: Micros, emit: (segment: OutboundSegment) => void): void {
    dispatch(this.#s, now, emit)
  }

  /**
   * The rate the connection is paced at now, in bytes/s, or undefined for none: the controller's own rate
   * (CCP's set_rate_abs), else the native rate when pacing is on, capped by `maxPacingRate` (rules/pacing.ts).
   */
  get pacingRate(): number | undefined {
    return pacingRate(this.#s)
  }
}

export { windowShiftFor }
