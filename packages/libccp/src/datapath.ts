/**
 * The CCP datapath: the program table, one {@link Connection} per flow with its registers and staged
 * updates, the handshake with the agent, and the fallback to the caller's native congestion control
 * while the agent is absent. No I/O and no clock of its own: the caller supplies `sendMsg`, `now`,
 * `setCwnd` and `setRateAbs` (docs/decisions/0007-ccp-package-interfaces.md).
 *
 * Rules from libccp's `ccp.c` (one invoke, receiving, the handshake with portus ≥ 0.6), with the fallback
 * done better than libccp's (whose fallback deadlocks when the agent is more than its timeout late).
 * docs/decisions/0020-ccp-datapath-sends-and-resync.md has the why:
 * - Nothing is re-sent on a timer of the datapath's clock (which may be virtual and run ten times faster
 *   than the agent). READY and CREATE are re-sent only when their send failed, as libccp does, at most
 *   every `retryIntervalUs`. A CREATE that went out is never repeated unless the agent forgot it.
 * - Only `ENOENT` / `ECONNREFUSED` from `sendMsg` (see {@link DatapathCallbacks.agentGone}) mean the agent is
 *   gone: every flow is handed back to native congestion control (`inControl === false`) and READY is
 *   retried. Any other failure (a full queue: `EAGAIN`) is one dropped datagram, counted; the flow keeps
 *   its program. A report that could not go is coalesced into the next (its volatile registers are kept)
 *   and reports pause for a retry interval or until the agent is heard again.
 * - A READY that went out makes the agent forget this datapath's flows (portus "clears old flows"), so
 *   every live flow is CREATEd again right after it, with its current window.
 * - Any message from the agent marks it present. An INSTALL with program uid 1 clears the program table;
 *   flows lose their program and are in control again once the agent answers with CHANGE_PROG. If that
 *   INSTALL answers our READY, the agent already has the flows' CREATEs; if it comes unasked (an agent
 *   restarted between two sends), the datapath resynchronises: READY, then CREATE for every flow.
 * - When the agent's messages stop making sense (a CHANGE_PROG for a program not in the table, no answer
 *   to READY within the resync interval) the datapath resynchronises the same way, with exponential
 *   backoff, so a confused agent cannot make it spin. A CREATE left unanswered that long (its CHANGE_PROG
 *   lost to a full queue) is sent again for that flow alone, waiting twice as long each time.
 * - A flow's program is the program object, not a table slot: a cleared or refilled table never makes a
 *   flow run, or report under the uid of, a program it was not switched to.
 * @module
 */
import { constants } from 'node:os'
import { CcpError } from './errors.js'
import type { Measurements } from './measurements.js'
import { PROGRAM_STATUS_NAMES, Program, ProgramStatus, TIME_ZERO_SLOT } from './program.js'
import { SidAllocator } from './sid-allocator.js'
import {
  type CcpMessage,
  type ChangeProgMessage,
  CREATE_IPV6_PLACEHOLDER,
  type CreateMessage,
  decodeMessage,
  encodeMessageInto,
  Implicit,
  type InstallExprMessage,
  MAX_DATAPATH_MESSAGE,
  MessageType,
  RegType,
  type UpdateField,
  U32_MAX,
  writeU16,
  writeU32,
  writeU64,
} from './wire.js'

/** Severity of a {@link DatapathCallbacks.log} line. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/** What the stack supplies to a {@link Datapath}. */
export interface DatapathCallbacks<C = unknown> {
  /**
   * Send one message to the agent. Return 0 when it was handed to the transport; anything else (a negative
   * errno value) means it was not sent: see {@link agentGone} for which results mean the agent is gone.
   *
   * `bytes` is a view into a buffer the datapath reuses: it is valid only during the call. A transport
   * that keeps it (a queue, an in-process channel) must copy it first.
   */
  sendMsg(bytes: Uint8Array): number
  /**
   * Whether a non-zero `sendMsg` result means the agent is gone (not merely that this datagram was
   * dropped). Default: `-ENOENT` (no socket file) and `-ECONNREFUSED` (a stale one), as `@mtcp/ccp-ipc`
   * returns them. Anything else (`-EAGAIN`: the agent's queue is full) is a dropped datagram.
   */
  agentGone?(result: number): boolean
  /**
   * The flow's window now, in bytes, for a CREATE sent after the first one (the agent restarted or was
   * resynchronised), so the new agent starts from where the flow is, not from its initial window.
   * Default: the window of the first CREATE.
   */
  currentCwnd?(connection: Connection<C>): number
  /** The time now in µs, monotonic (fractions are floored). */
  now(): number
  /** Set the flow's congestion window, in bytes. */
  setCwnd(connection: Connection<C>, bytes: number): void
  /** Set the flow's pacing rate, in bytes per second. */
  setRateAbs(connection: Connection<C>, bytesPerSecond: number): void
  /** Optional log sink. */
  log?(level: LogLevel, message: string, detail?: Record<string, unknown>): void
}

/** Options of a {@link Datapath}. */
export interface DatapathOptions {
  /** The datapath's id, sent in READY (a u32, default 0). */
  id?: number
  /** Compile installed programs to JavaScript functions (default true); false runs the interpreter. */
  compile?: boolean
  /** How often a READY or CREATE whose send failed is retried, in µs (default 100,000: libccp's 100 ms). */
  retryIntervalUs?: number
  /**
   * How long to wait for the agent to answer a READY, or to make sense again, before resynchronising
   * (READY, then CREATE for every flow), in µs; doubled after each resync up to 64 times, back to this
   * after a program change is taken. Also how long a flow waits for the answer to its CREATE before
   * sending it again (doubling per flow). Default 10 × `retryIntervalUs` (1 s).
   */
  resyncIntervalUs?: number
  /** Most programs in the table (default 64); an INSTALL beyond it is dropped and counted. */
  maxPrograms?: number
}

/**
 * The flow a CREATE describes: the message's fields without its type and sid (the datapath assigns the
 * sid). Addresses are IPv4 as uint32s (10.0.0.1 is `0x0a000001`) or IPv6 as 16-byte arrays, both ends of
 * one family. An IPv6 flow's CREATE holds {@link CREATE_IPV6_PLACEHOLDER} in its u32 address fields and the
 * addresses in its trailer, and the algorithm name is then at most {@link CREATE_IPV6_MAX_CONG_ALG} bytes;
 * an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2: an IPv4 peer of a dual-stack socket)
 * is sent as the IPv4 address it maps, byte for byte an IPv4 CREATE (decision record 0080).
 */
export interface ConnectionInfo {
  /** Initial congestion window in bytes. */
  initCwnd: number
  /** Maximum segment size in bytes. */
  mss: number
  /** The local address: an IPv4 uint32, or 16 bytes of IPv6. */
  srcIp: number | Uint8Array
  /** The local port. */
  srcPort: number
  /** The remote address, the same family as {@link ConnectionInfo.srcIp}. */
  dstIp: number | Uint8Array
  /** The remote port. */
  dstPort: number
  /** The algorithm to ask the agent for. */
  congAlg: string
}

/** Counters of a {@link Datapath}. Every dropped message is counted once. */
export interface DatapathStats {
  /** Datagrams given to `receive`. */
  received: number
  /** Datagrams `decodeMessage` rejected. */
  malformed: number
  /** Rejected datagrams by error code. */
  malformedByCode: Record<string, number>
  /** Well-formed messages a datapath does not take (CREATE, MEASURE, READY arriving from the agent). */
  unexpected: number
  /** UPDATE_FIELDS / CHANGE_PROG for a sid with no live flow. */
  unknownSid: number
  /** CHANGE_PROG naming a program uid not in the table. */
  unknownProgram: number
  /** INSTALLs taken into the table. */
  installs: number
  /** INSTALLs dropped because the table was full. */
  tableFull: number
  /** Times the table was cleared by an INSTALL with uid 1. */
  tableClears: number
  /** UPDATE_FIELDS staged. */
  updates: number
  /** CHANGE_PROG staged. */
  programChanges: number
  /** Messages `sendMsg` accepted. */
  sent: number
  /** Messages `sendMsg` refused because the agent is gone (`ENOENT`, `ECONNREFUSED`): each marks it absent. */
  sendFailures: number
  /** Messages `sendMsg` refused otherwise (`EAGAIN`: the agent's queue is full): dropped, the agent stays. */
  sendDropped: number
  /** Reports not sent (dropped by a full queue, or held back after one) and folded into the flow's next report. */
  reportsCoalesced: number
  /** Resynchronisations: READY then CREATE for every flow, after the agent stopped making sense. */
  resyncs: number
  /** CREATEs sent again for one flow whose CREATE the agent left unanswered for the resync interval (its answer lost). */
  recreates: number
  /** READY messages sent. */
  readySent: number
  /** CREATE messages sent. */
  createsSent: number
  /** MEASURE reports sent (not counting closes). */
  measuresSent: number
  /** Close MEASUREs (no fields) sent. */
  closesSent: number
  /** Invokes aborted by an instruction error (overflow, underflow, division by zero, EWMA). */
  programErrors: number
  /** Times the agent went from present to absent. */
  agentLost: number
}

const enum AgentState {
  /** Not heard from since the datapath started or since a send last succeeded after a failure. */
  Unknown = 0,
  /** A message arrived from it. */
  Present = 1,
  /** A send failed and nothing arrived since. */
  Absent = 2,
}

const EMPTY_REGISTERS = new Float64Array(0)
const DEFAULT_RETRY_US = 100_000
/** The resync interval's growth cap: 64 × the base (64 s by default). */
const MAX_RESYNC_DOUBLINGS = 6

const osErrno = constants.errno
const ENOENT = -(osErrno.ENOENT ?? 2)
const ECONNREFUSED = -(osErrno.ECONNREFUSED ?? 111)

/** The default {@link DatapathCallbacks.agentGone}: nobody bound at the agent's address. */
function defaultAgentGone(result: number): boolean {
  return result === ENOENT || result === ECONNREFUSED
}
const DEFAULT_MAX_PROGRAMS = 64

function checkCallback(name: string, value: unknown): void {
  if (typeof value !== 'function') throw new CcpError('ERR_INVALID_CONFIG', `callbacks.${name} must be a function`)
}

/**
 * A CCP datapath: one per stack instance (per worker), with its own IPC address.
 *
 * @example
 * ```ts
 * const datapath = new Datapath({ sendMsg: (b) => transport.send(b), now: () => clock.now(),
 *   setCwnd: (c, bytes) => c.context.cwnd = bytes, setRateAbs: (c, rate) => c.context.pacer.setRate(rate) })
 * transport.onMessage((bytes) => datapath.receive(bytes))
 * datapath.start()
 * const connection = datapath.connectionStart({ initCwnd: 14480, mss: 1448, ... , congAlg: 'reno' }, tcb)
 * connection.invoke(measurements) // per ACK; if !connection.inControl, native congestion control decides
 * ```
 */
export class Datapath<C = unknown> {
  /** Counters; see {@link DatapathStats}. */
  readonly stats: DatapathStats = {
    received: 0,
    malformed: 0,
    malformedByCode: {},
    unexpected: 0,
    unknownSid: 0,
    unknownProgram: 0,
    installs: 0,
    tableFull: 0,
    tableClears: 0,
    updates: 0,
    programChanges: 0,
    sent: 0,
    sendFailures: 0,
    sendDropped: 0,
    reportsCoalesced: 0,
    resyncs: 0,
    recreates: 0,
    readySent: 0,
    createsSent: 0,
    measuresSent: 0,
    closesSent: 0,
    programErrors: 0,
    agentLost: 0,
  }
  /** The id sent in READY. */
  readonly id: number
  /** How often a READY or CREATE whose send failed is retried, in µs: call {@link tick} at about this interval. */
  readonly retryIntervalUs: number
  /** The base of the resync interval, in µs (see {@link DatapathOptions.resyncIntervalUs}). */
  readonly resyncIntervalUs: number

  /** @internal */ readonly _callbacks: DatapathCallbacks<C>
  /** @internal µs at construction: Ack.now counts from it. */ readonly _timeZero: number
  /** @internal */ _agent: AgentState = AgentState.Unknown
  /** @internal */ readonly _compile: boolean
  /** @internal Changes whenever flows leave the agent's control (agent gone, table cleared, resync). */ _controlEpoch = 0
  /** @internal READY that went out, counted: a CREATE sent in the current epoch is known to the agent. */ _readyEpoch = 0
  /** @internal The last READY did not go out (or the agent was found gone since): READY before any CREATE. */ _readyNeeded = false
  /** @internal Reports are held back until then (µs), after the agent's queue was found full. */ _congestedUntil = Number.NEGATIVE_INFINITY
  /** @internal */ readonly _agentGone: (result: number) => boolean

  #lastReadyAttemptAt = Number.NEGATIVE_INFINITY
  /** A READY went out and no INSTALL with uid 1 has answered it yet. */
  #awaitingReady = false
  #readySentAt = Number.NEGATIVE_INFINITY
  /** The current resync interval (doubles after each resync) and the earliest time of the next. */
  #resyncInterval: number
  #resyncAllowedAt = Number.NEGATIVE_INFINITY
  #resyncPending: string | undefined = undefined
  readonly #maxPrograms: number
  readonly #programs = new Map<number, Program>()
  readonly #connections: Array<Connection<C> | undefined> = [undefined]
  #live = 0
  readonly #sids = new SidAllocator()
  readonly #scratch = new Uint8Array(MAX_DATAPATH_MESSAGE)
  readonly #measureViews: Uint8Array[] = []

  constructor(callbacks: DatapathCallbacks<C>, options: DatapathOptions = {}) {
    if (typeof callbacks !== 'object' || callbacks === null) throw new CcpError('ERR_INVALID_CONFIG', 'callbacks must be an object')
    for (const name of ['sendMsg', 'now', 'setCwnd', 'setRateAbs'] as const) checkCallback(name, callbacks[name])
    if (callbacks.log !== undefined) checkCallback('log', callbacks.log)
    const id = options.id ?? 0
    if (!Number.isInteger(id) || id < 0 || id > U32_MAX) throw new CcpError('ERR_INVALID_CONFIG', `id must be an integer in [0, ${U32_MAX}], got ${String(id)}`)
    const retry = options.retryIntervalUs ?? DEFAULT_RETRY_US
    if (typeof retry !== 'number' || !Number.isFinite(retry) || retry <= 0) {
      throw new CcpError('ERR_INVALID_CONFIG', `retryIntervalUs must be a finite number of µs above 0, got ${String(retry)}`)
    }
    const resync = options.resyncIntervalUs ?? 10 * retry
    if (typeof resync !== 'number' || !Number.isFinite(resync) || resync <= 0) {
      throw new CcpError('ERR_INVALID_CONFIG', `resyncIntervalUs must be a finite number of µs above 0, got ${String(resync)}`)
    }
    if (callbacks.agentGone !== undefined) checkCallback('agentGone', callbacks.agentGone)
    if (callbacks.currentCwnd !== undefined) checkCallback('currentCwnd', callbacks.currentCwnd)
    const maxPrograms = options.maxPrograms ?? DEFAULT_MAX_PROGRAMS
    if (!Number.isInteger(maxPrograms) || maxPrograms < 1) {
      throw new CcpError('ERR_INVALID_CONFIG', `maxPrograms must be an integer ≥ 1, got ${String(maxPrograms)}`)
    }
    this._callbacks = callbacks
    this.id = id
    this.retryIntervalUs = retry
    this.resyncIntervalUs = resync
    this.#resyncInterval = resync
    this._agentGone = callbacks.agentGone ?? defaultAgentGone
    this.#maxPrograms = maxPrograms
    this._compile = options.compile !== false
    this._timeZero = Math.floor(callbacks.now())
  }

  /** Whether the agent has been heard from since the last failed send. */
  get agentPresent(): boolean {
    return this._agent === AgentState.Present
  }

  /** Live connections. */
  get connectionCount(): number {
    return this.#live
  }

  /** The program table by uid (read-only view). */
  get programs(): ReadonlyMap<number, Program> {
    return this.#programs
  }

  /** The live connection with `sid`, if any. */
  connection(sid: number): Connection<C> | undefined {
    return this.#connections[sid]
  }

  /**
   * Send READY now; the agent answers with its INSTALLs. If the send fails it is retried (by {@link tick}
   * and by `invoke`) at most every {@link retryIntervalUs}; one that went out is not repeated unless the
   * agent leaves it unanswered for the resync interval.
   */
  start(): void {
    this._sendReady(Math.floor(this._callbacks.now()))
  }

  /**
   * Retry what failed: a READY or CREATE whose send failed, at most every {@link retryIntervalUs}; and
   * resynchronise with the agent when it has left a READY or a CREATE unanswered for the resync interval,
   * or sent something that does not fit (backoff applies). Call it from a timer about every
   * {@link retryIntervalUs}; it sends nothing when nothing is due.
   */
  tick(): void {
    const now = Math.floor(this._callbacks.now())
    if (this._retryReady(now)) return
    if (this._agent === AgentState.Absent) return
    if (this.#awaitingReady && now - this.#readySentAt >= this.#resyncInterval) this._requestResync('the agent did not answer READY')
    const connections = this.#connections
    for (let sid = 1; sid < connections.length; sid++) {
      const connection = connections[sid]
      if (connection === undefined) continue
      connection._retryCreate(now)
      if (!this.#awaitingReady && connection._waitingSince(now) >= connection._answerTimeout) connection._recreate(now)
    }
    this.#maybeResync(now)
  }

  /**
   * Take one datagram from the agent. Never throws: a malformed or unexpected message is counted in
   * {@link stats} and dropped. Returns whether the message was taken.
   */
  receive(bytes: Uint8Array): boolean {
    this.stats.received++
    let message: CcpMessage
    try {
      message = decodeMessage(bytes)
    } catch (error) {
      const code = error instanceof CcpError ? error.code : 'ERR_UNKNOWN'
      this.stats.malformed++
      this.stats.malformedByCode[code] = (this.stats.malformedByCode[code] ?? 0) + 1
      this._log('debug', 'dropped a malformed message', { code, message: error instanceof Error ? error.message : String(error) })
      return false
    }
    let taken: boolean
    switch (message.type) {
      case MessageType.InstallExpr:
        this._agentHeard()
        taken = this.#install(message)
        break
      case MessageType.UpdateFields: {
        this._agentHeard()
        const connection = this.#connections[message.sid]
        if (connection === undefined) return this.#unknownSid(message.sid)
        connection._stageUpdates(message.updates)
        this.stats.updates++
        return true
      }
      case MessageType.ChangeProg:
        this._agentHeard()
        taken = this.#changeProgram(message)
        break
      default:
        this.stats.unexpected++
        this._log('debug', 'dropped a message a datapath does not take', { type: message.type })
        return false
    }
    // The agent is there although our last READY did not go: say READY now (then CREATE every flow).
    if (this._readyNeeded) this._sendReady(Math.floor(this._callbacks.now()))
    return taken
  }

  /**
   * Start a flow: allocate its sid and send CREATE. Until the agent switches it to a program (CHANGE_PROG),
   * `connection.inControl` is false and the caller's native congestion control governs the flow.
   * @throws {CcpError} `ERR_CCP_VALUE` / `ERR_CCP_STRING` when `info` does not fit in a CREATE (an address
   * neither a number nor 16 bytes, the two ends of different families, an algorithm name too long).
   */
  connectionStart(info: ConnectionInfo, context: C): Connection<C> {
    if (typeof info !== 'object' || info === null) throw new CcpError('ERR_CCP_VALUE', 'info must be an object')
    const create: CreateMessage = {
      type: MessageType.Create,
      sid: 1,
      initCwnd: info.initCwnd,
      mss: info.mss,
      srcIp: 0,
      srcPort: info.srcPort,
      dstIp: 0,
      dstPort: info.dstPort,
      congAlg: info.congAlg,
    }
    setCreateAddresses(create, info.srcIp, info.dstIp)
    encodeMessageInto(create, this.#scratch) // checks every field before a sid is taken
    const sid = this.#sids.allocate()
    create.sid = sid
    const connection = new Connection<C>(this, sid, context, create)
    this.#connections[sid] = connection
    this.#live++
    const now = Math.floor(this._callbacks.now())
    if (!this._retryReady(now)) connection._retryCreate(now)
    return connection
  }

  // -------------------------------------------------------------------------------------------------------
  // Internal, used by Connection

  /** @internal */
  _log(level: LogLevel, message: string, detail?: Record<string, unknown>): void {
    this._callbacks.log?.(level, message, detail)
  }

  /**
   * @internal Send `bytes`: 0 when sent, else the transport's result. Only a result meaning the agent is
   * gone marks it absent (flows fall back, READY is needed); any other is a dropped datagram.
   */
  _send(bytes: Uint8Array): number {
    let result: number
    try {
      result = this._callbacks.sendMsg(bytes)
    } catch (error) {
      this._log('error', 'sendMsg threw: the message is dropped', { error: error instanceof Error ? error.message : String(error) })
      result = -1
    }
    if (result === 0) {
      this.stats.sent++
      return 0
    }
    if (!this._agentGone(result)) {
      this.stats.sendDropped++
      this._congestedUntil = Math.floor(this._callbacks.now()) + this.retryIntervalUs
      return result
    }
    this.stats.sendFailures++
    this._readyNeeded = true
    this.#awaitingReady = false
    if (this._agent !== AgentState.Absent) {
      if (this._agent === AgentState.Present) this.stats.agentLost++
      this._agent = AgentState.Absent
      this._controlEpoch++
      this._log('warn', 'the agent is gone: flows fall back to native congestion control', { result })
    }
    return result
  }

  /** @internal */
  _agentHeard(): void {
    this._congestedUntil = Number.NEGATIVE_INFINITY // it reads its queue
    if (this._agent !== AgentState.Present) {
      this._agent = AgentState.Present
      this._log('info', 'the agent is present')
    }
  }

  /**
   * @internal READY again if the last one did not go out and it is older than the retry interval. Returns
   * whether a READY is (still) needed, in which case no CREATE should go before it.
   */
  _retryReady(now: number): boolean {
    if (!this._readyNeeded) return false
    if (now - this.#lastReadyAttemptAt >= this.retryIntervalUs) this._sendReady(now)
    return this._readyNeeded
  }

  /**
   * @internal READY; once it went out, the agent has forgotten this datapath's flows (portus clears them),
   * so every live flow is CREATEd again at once.
   */
  _sendReady(now: number): void {
    this.#lastReadyAttemptAt = now
    const bytes = this.#scratch.subarray(0, encodeMessageInto({ type: MessageType.Ready, sid: 0, id: this.id }, this.#scratch))
    // The state a READY that went out leaves, set first: an in-process agent answers inside sendMsg.
    const wasAbsent = this._agent === AgentState.Absent
    if (wasAbsent) this._agent = AgentState.Unknown
    this._readyNeeded = false
    this._readyEpoch++
    this.#awaitingReady = true
    this.#readySentAt = now
    if (this._send(bytes) !== 0) {
      this.#awaitingReady = false
      this._readyNeeded = true
      if (wasAbsent) this._agent = AgentState.Absent
      return
    }
    this.stats.readySent++
    const connections = this.#connections
    for (let sid = 1; sid < connections.length; sid++) {
      const connection = connections[sid]
      if (connection === undefined) continue
      connection._forgotten()
      connection._sendCreate(now)
    }
  }

  /** @internal Resynchronise (READY, then CREATE for every flow) as soon as the backoff allows. */
  _requestResync(reason: string): void {
    this.#resyncPending ??= reason
    this.#maybeResync(Math.floor(this._callbacks.now()))
  }

  #maybeResync(now: number): void {
    const reason = this.#resyncPending
    if (reason === undefined || now < this.#resyncAllowedAt || this._readyNeeded) return
    this.#resyncPending = undefined
    this.stats.resyncs++
    this._log('warn', 'resynchronising with the agent: READY, then CREATE for every flow', { reason, nextBackoffUs: this.#resyncInterval })
    this.#resyncAllowedAt = now + this.#resyncInterval
    this.#resyncInterval = Math.min(this.#resyncInterval * 2, this.resyncIntervalUs * 2 ** MAX_RESYNC_DOUBLINGS)
    this.#dropPrograms()
    this._sendReady(now)
  }

  /** Every flow leaves its program (it is in control again once the agent answers its CREATE). */
  #dropPrograms(): void {
    this._controlEpoch++
    const connections = this.#connections
    for (let sid = 1; sid < connections.length; sid++) connections[sid]?._programTableCleared()
  }

  /** @internal invoke of a flow not in control: READY or its CREATE if their send failed, a due resync. */
  _retryFor(connection: Connection<C>, now: number): void {
    if (this._retryReady(now) || this._agent === AgentState.Absent) return
    connection._retryCreate(now)
    if (this.#resyncPending !== undefined) this.#maybeResync(now)
  }

  /** @internal The reused buffer to encode a message into. */
  get _scratch(): Uint8Array {
    return this.#scratch
  }

  /** @internal A cached view of the scratch buffer for a MEASURE with `fields` fields. */
  _measureView(fields: number): Uint8Array {
    let view = this.#measureViews[fields]
    if (view === undefined) {
      view = this.#scratch.subarray(0, 16 + 8 * fields)
      this.#measureViews[fields] = view
    }
    return view
  }

  /** @internal */
  _release(connection: Connection<C>): void {
    this.#connections[connection.sid] = undefined
    this.#live--
    this.#sids.release(connection.sid)
  }

  #unknownSid(sid: number): boolean {
    this.stats.unknownSid++
    this._log('debug', 'dropped a message for an unknown sid', { sid })
    return false
  }

  #install(message: InstallExprMessage): boolean {
    // Notes, "Receiving": program_uid 1 clears the table first (that is how a restarted agent resets it).
    if (message.programUid === 1) this.#clearTable()
    if (!this.#programs.has(message.programUid) && this.#programs.size >= this.#maxPrograms) {
      this.stats.tableFull++
      this._log('warn', 'dropped an INSTALL: the program table is full', { uid: message.programUid, maxPrograms: this.#maxPrograms })
      return false
    }
    const program = new Program(message, { compile: this._compile })
    this.#programs.set(message.programUid, program)
    this.stats.installs++
    this._log('debug', 'installed a program', { uid: program.uid, compiled: program.compiled })
    return true
  }

  #clearTable(): void {
    this.#programs.clear()
    this.stats.tableClears++
    this.#dropPrograms()
    if (this.#awaitingReady) {
      // The answer to our READY: the flows' CREATEs went after it, the agent has them (datagrams keep order).
      this.#awaitingReady = false
      return
    }
    if (this._readyNeeded) return // our READY goes right after this message (see receive)
    // Before any READY (no start()) the agent answers CREATEs it got without one: it knows those flows.
    if (this._readyEpoch === 0) return
    // Unasked: a new agent that does not know our flows (it restarted between two of our sends).
    this._requestResync('the program table was reset without READY (a restarted agent)')
  }

  #changeProgram(message: ChangeProgMessage): boolean {
    const connection = this.#connections[message.sid]
    if (connection === undefined) return this.#unknownSid(message.sid)
    const program = this.#programs.get(message.programUid)
    if (program === undefined) {
      this.stats.unknownProgram++
      this._log('warn', 'dropped a CHANGE_PROG for a program not in the table', { sid: message.sid, uid: message.programUid })
      // Our table and the agent's differ (an INSTALL lost or garbled): start over, with backoff.
      this._requestResync('CHANGE_PROG for a program not in the table')
      return false
    }
    connection._stageProgram(program, message.updates)
    this.stats.programChanges++
    // The agent answered a CREATE sent after our READY, so it has had the READY too.
    if (connection._createEpoch === this._readyEpoch) this.#awaitingReady = false
    this.#resyncInterval = this.resyncIntervalUs // the agent makes sense: the backoff starts over
    return true
  }
}

/**
 * One flow's CCP state: its program, register file and staged updates. Made by
 * {@link Datapath.connectionStart}; the datapath's callbacks receive it, with the caller's `context`.
 */
export class Connection<C = unknown> {
  /** The flow's sid: unique among the datapath's live flows. */
  readonly sid: number
  /** What the caller passed to `connectionStart` (the TCP connection, typically). */
  readonly context: C

  /** @internal */ readonly _datapath: Datapath<C>
  /** @internal */ readonly _create: CreateMessage
  /** @internal the program being run, or null */ _program: Program | null = null
  /** @internal a program change waiting for the next invoke */ _staged: Program | null = null
  /** @internal */ _registers: Float64Array = EMPTY_REGISTERS
  /** @internal staged updates as (kind, index, value) triples: kind 0 control, 4 Cwnd, 5 Rate */ _updates: Float64Array = EMPTY_REGISTERS
  /** @internal */ _updateCount = 0
  /** @internal when a CREATE was last tried (sent or not) */ _lastCreateAttemptAt = Number.NEGATIVE_INFINITY
  /** @internal the datapath's READY epoch when CREATE went out, -1 while it has not gone out since the agent forgot the flow */ _createEpoch = -1
  /** @internal when the CREATE went out, or when the flow last lost its program after that */ _waitingFrom = Number.NEGATIVE_INFINITY
  /** @internal whether the first CREATE went out (later ones carry the current window) */ _createdOnce = false
  /** @internal how long to wait for the answer to a CREATE before sending it again (doubles each time) */ _answerTimeout: number
  /** @internal */ _freed = false
  /** @internal the last invoke's {@link ProgramStatus} */ _lastStatus: number = ProgramStatus.Ok

  /** @internal */
  constructor(datapath: Datapath<C>, sid: number, context: C, create: CreateMessage) {
    this._datapath = datapath
    this.sid = sid
    this.context = context
    this._create = create
    this._answerTimeout = datapath.resyncIntervalUs
  }

  /**
   * Whether CCP governs this flow: the agent is present and has switched the flow to a program. When
   * false, the caller's native congestion control decides (and `invoke` only retries the handshake).
   */
  get inControl(): boolean {
    return this._datapath._agent === AgentState.Present && (this._program !== null || this._staged !== null)
  }

  /**
   * Changes whenever flows leave the agent's control (the agent gone, the program table cleared, a
   * resync): a window or rate the agent set in an earlier epoch is stale.
   */
  get controlEpoch(): number {
    return this._datapath._controlEpoch
  }

  /** The uid of the program the flow runs, if any (a staged change shows after the next invoke). */
  get programUid(): number | undefined {
    return this._program?.uid
  }

  /** Whether {@link free} was called. */
  get freed(): boolean {
    return this._freed
  }

  /** The last invoke's {@link ProgramStatus}: 0, or why the program was aborted. */
  get lastStatus(): number {
    return this._lastStatus
  }

  /** The flow's register file, for tests and debugging (layout: see {@link Program}). */
  get registers(): Float64Array {
    return this._registers
  }

  /**
   * Run the flow's program on one ACK's measurements (and at once on loss or timeout), as libccp's
   * `ccp_invoke`: load Cwnd and Rate, apply a staged program change and staged updates, advance Micros, run
   * the expressions, call `setCwnd` (Cwnd > 0) and `setRateAbs` (Rate ≠ 0), and report when the program
   * asked to. Allocates nothing. When the flow is not {@link inControl}, retries CREATE or READY if due
   * and returns.
   * @throws {CcpError} `ERR_CCP_FREED` after {@link free}.
   */
  invoke(measurements: Measurements): void {
    if (this._freed) throw new CcpError('ERR_CCP_FREED', `connection ${this.sid} was freed`)
    const datapath = this._datapath
    const now = Math.floor(datapath._callbacks.now())
    if (datapath._agent !== AgentState.Present || (this._program === null && this._staged === null)) {
      // Notes, "One invoke" 1: if CREATE has not gone out, retry it (at most every retry interval); run nothing.
      datapath._retryFor(this, now)
      return
    }
    if (this._staged !== null) this.#applyProgramChange(now)
    const program = this._program!
    const r = this._registers
    r[Implicit.Cwnd] = measurements.cwnd
    r[Implicit.Rate] = measurements.rate
    if (this._updateCount !== 0) this.#applyUpdates(program, r)
    r[Implicit.EventFlag] = 0
    r[Implicit.ShouldContinue] = 0
    r[Implicit.ShouldReport] = 0
    r[Implicit.Micros] = now - r[TIME_ZERO_SLOT]!
    const status = program.run(r, measurements, now, now - datapath._timeZero)
    this._lastStatus = status
    if (status !== ProgramStatus.Ok) {
      // Notes, "Opcodes": an instruction error aborts that invoke (no set_cwnd, no report).
      datapath.stats.programErrors++
      datapath._log('warn', 'program aborted', { sid: this.sid, uid: program.uid, error: PROGRAM_STATUS_NAMES[status] })
      return
    }
    const callbacks = datapath._callbacks
    const cwnd = r[Implicit.Cwnd]!
    if (cwnd > 0) callbacks.setCwnd(this, cwnd)
    const rate = r[Implicit.Rate]!
    if (rate !== 0) callbacks.setRateAbs(this, rate)
    if (r[Implicit.ShouldReport] !== 0) this.#report(program, r, now)
  }

  /**
   * End the flow: send the close MEASURE (no fields) and give the sid back. Calling it again does nothing.
   */
  free(): void {
    if (this._freed) return
    this._freed = true
    const datapath = this._datapath
    if (datapath._agent !== AgentState.Absent && this._createEpoch === datapath._readyEpoch) {
      const bytes = datapath._measureView(0)
      writeMeasureHeader(bytes, this.sid, 0, 0)
      if (datapath._send(bytes) === 0) datapath.stats.closesSent++
    }
    this._program = null
    this._staged = null
    this._updateCount = 0
    datapath._release(this)
  }

  // -------------------------------------------------------------------------------------------------------
  // Internal

  /** @internal CREATE if it has not gone out since the agent last forgot the flow and the last try is older than the retry interval. */
  _retryCreate(now: number): void {
    if (this._createEpoch !== this._datapath._readyEpoch && now - this._lastCreateAttemptAt >= this._datapath.retryIntervalUs) this._sendCreate(now)
  }

  /** @internal µs this flow has waited for its CHANGE_PROG since its CREATE went out (-∞ when not waiting). */
  _waitingSince(now: number): number {
    if (this._program !== null || this._staged !== null || this._createEpoch !== this._datapath._readyEpoch) return Number.NEGATIVE_INFINITY
    return now - this._waitingFrom
  }

  /**
   * @internal The agent left this flow's CREATE unanswered (its CHANGE_PROG lost to a full queue, or the
   * CREATE dropped): send it again, waiting twice as long for the next answer (at most 64 × the resync interval).
   */
  _recreate(now: number): void {
    const datapath = this._datapath
    datapath.stats.recreates++
    datapath._log('warn', 'no answer to CREATE: sending it again', { sid: this.sid, waitedUs: now - this._waitingFrom })
    this._answerTimeout = Math.min(this._answerTimeout * 2, datapath.resyncIntervalUs * 2 ** MAX_RESYNC_DOUBLINGS)
    this._forgotten()
    this._sendCreate(now)
  }

  /** @internal The agent forgot this flow (a READY went out): it needs a CREATE. */
  _forgotten(): void {
    this._createEpoch = -1
    this._lastCreateAttemptAt = Number.NEGATIVE_INFINITY
  }

  /** @internal Try CREATE now; a failed send is retried later by {@link _retryCreate}. */
  _sendCreate(now: number): void {
    const datapath = this._datapath
    this._lastCreateAttemptAt = now
    const create = this._create
    if (this._createdOnce && datapath._callbacks.currentCwnd !== undefined) {
      // Issue 17, 4: a restarted agent starts from the flow's window now, not from the one it started with.
      const cwnd = Math.floor(Number(datapath._callbacks.currentCwnd(this)))
      if (Number.isFinite(cwnd) && cwnd > 0) create.initCwnd = Math.min(cwnd, U32_MAX)
    }
    const scratch = datapath._scratch
    const bytes = scratch.subarray(0, encodeMessageInto(create, scratch))
    // Set first: an in-process agent answers (CHANGE_PROG) inside sendMsg.
    const previousEpoch = this._createEpoch
    const previousWaiting = this._waitingFrom
    this._createEpoch = datapath._readyEpoch
    this._waitingFrom = now
    if (datapath._send(bytes) === 0) {
      datapath.stats.createsSent++
      this._createdOnce = true
    } else {
      this._createEpoch = previousEpoch === datapath._readyEpoch ? -1 : previousEpoch
      this._waitingFrom = previousWaiting
    }
  }

  /** @internal The table was cleared (or a resync begins): the flow's program (and a staged one) no longer exist. */
  _programTableCleared(): void {
    this._program = null
    this._staged = null
    this._updateCount = 0
    this._waitingFrom = Math.floor(this._datapath._callbacks.now())
  }

  /** @internal CHANGE_PROG: stage `program`, drop updates staged before it, stage its own. */
  _stageProgram(program: Program, updates: UpdateField[]): void {
    this._staged = program
    this._updateCount = 0
    this._stageUpdates(updates)
  }

  /** @internal UPDATE_FIELDS: stage, one entry per register (a later update replaces an earlier one). */
  _stageUpdates(updates: UpdateField[]): void {
    for (const update of updates) {
      let kind: number
      if (update.regType === RegType.NonVolatileControl || update.regType === RegType.VolatileControl) kind = 0
      else if (update.regType === RegType.Implicit && (update.regIndex === Implicit.Cwnd || update.regIndex === Implicit.Rate)) kind = update.regIndex
      else continue // libccp applies only Cwnd and Rate among the implicit registers
      const index = kind === 0 ? update.regIndex : 0
      const list = this._updates
      let at = 0
      const end = this._updateCount * 3
      while (at < end && !(list[at] === kind && list[at + 1] === index)) at += 3
      if (at === end) {
        if (end + 3 > list.length) {
          const grown = new Float64Array(Math.max(24, list.length * 2))
          grown.set(list)
          this._updates = grown
        }
        this._updateCount++
      }
      const target = this._updates
      target[at] = kind
      target[at + 1] = index
      target[at + 2] = update.value
    }
  }

  /** Notes, "One invoke" 3: volatile and non-volatile registers ← their DEF, Micros ← 0. */
  #applyProgramChange(now: number): void {
    const next = this._staged!
    this._staged = null
    const previous = this._program
    let r = this._registers
    if (
      previous === null ||
      previous.controlCount !== next.controlCount ||
      previous.reportCount !== next.reportCount ||
      previous.localBase !== next.localBase ||
      previous.registerCount !== next.registerCount
    ) {
      // A new layout: registers the two programs share keep their values, as they would in libccp's
      // fixed-size banks; the rest start at 0.
      const grown = new Float64Array(next.registerCount)
      if (previous !== null) {
        grown.set(r.subarray(0, previous.controlBase))
        copyBank(r, previous.controlBase, previous.controlCount, grown, next.controlBase, next.controlCount)
        copyBank(r, previous.reportBase, previous.reportCount, grown, next.reportBase, next.reportCount)
        copyBank(r, previous.localBase, previous.tmpBase - previous.localBase, grown, next.localBase, next.tmpBase - next.localBase)
        copyBank(r, previous.tmpBase, previous.registerCount - previous.tmpBase, grown, next.tmpBase, next.registerCount - next.tmpBase)
      }
      r = grown
      this._registers = r
    }
    const defaults = next.defaults
    for (let i = 0; i < defaults.length; i += 2) r[defaults[i]!] = defaults[i + 1]!
    r[TIME_ZERO_SLOT] = now
    r[Implicit.Micros] = 0
    this._program = next
  }

  /** Notes, "One invoke" 3: staged control registers, then Cwnd and Rate, each calling back at once. */
  #applyUpdates(program: Program, r: Float64Array): void {
    const list = this._updates
    const end = this._updateCount * 3
    this._updateCount = 0
    let cwnd = -1
    let rate = -1
    for (let at = 0; at < end; at += 3) {
      const kind = list[at]!
      const value = list[at + 2]!
      if (kind === 0) {
        // A control register the program never reads cannot change what it does.
        const index = list[at + 1]!
        if (index < program.controlCount) r[program.controlBase + index] = value
      } else if (kind === Implicit.Cwnd) {
        cwnd = value
      } else {
        rate = value
      }
    }
    const callbacks = this._datapath._callbacks
    if (cwnd >= 0) {
      r[Implicit.Cwnd] = cwnd
      if (cwnd !== 0) callbacks.setCwnd(this, cwnd)
    }
    if (rate >= 0) {
      r[Implicit.Rate] = rate
      if (rate !== 0) callbacks.setRateAbs(this, rate)
    }
  }

  /** Notes, "One invoke" 7: MEASURE with report registers 0 … n − 1, then volatile registers ← their DEF. */
  #report(program: Program, r: Float64Array, now: number): void {
    const datapath = this._datapath
    if (now < datapath._congestedUntil) {
      // The agent's queue was full a moment ago: hold the report; its volatile registers keep adding up.
      datapath.stats.reportsCoalesced++
      return
    }
    const fields = program.reportFields
    const bytes = datapath._measureView(fields)
    writeMeasureHeader(bytes, this.sid, program.uid, fields)
    const base = program.reportBase
    for (let i = 0; i < fields; i++) writeU64(bytes, 16 + 8 * i, r[base + i]!)
    const result = datapath._send(bytes)
    if (result === 0) {
      datapath.stats.measuresSent++
    } else if (datapath._agent !== AgentState.Absent) {
      // Dropped by a full queue: the next report carries these measurements too (coalesced).
      datapath.stats.reportsCoalesced++
      return
    }
    const defaults = program.volatileDefaults
    for (let i = 0; i < defaults.length; i += 2) r[defaults[i]!] = defaults[i + 1]!
  }
}

function writeMeasureHeader(bytes: Uint8Array, sid: number, uid: number, fields: number): void {
  writeU16(bytes, 0, MessageType.Measure)
  writeU16(bytes, 2, 16 + 8 * fields)
  writeU32(bytes, 4, sid)
  writeU32(bytes, 8, uid)
  writeU32(bytes, 12, fields)
}

function copyBank(from: Float64Array, fromBase: number, fromCount: number, to: Float64Array, toBase: number, toCount: number): void {
  const count = Math.min(fromCount, toCount)
  for (let i = 0; i < count; i++) to[toBase + i] = from[fromBase + i]!
}

/** `::ffff:0:0/96`, the IPv4-mapped prefix (RFC 4291 §2.5.5.2). */
function isIpv4Mapped(address: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (address[i] !== 0) return false
  return address[10] === 0xff && address[11] === 0xff
}

/** The IPv4 address in the low 32 bits of an IPv4-mapped address, as a uint32. */
function mappedIpv4(address: Uint8Array): number {
  return ((address[12]! << 24) | (address[13]! << 16) | (address[14]! << 8) | address[15]!) >>> 0
}

/**
 * Fill CREATE's address fields from a {@link ConnectionInfo}'s (decision record 0080): IPv4 numbers as they
 * are; two IPv4-mapped IPv6 addresses as the IPv4 addresses they map; other IPv6 addresses as
 * {@link CREATE_IPV6_PLACEHOLDER} in the u32 fields plus copies of the 16 bytes for the trailer.
 */
function setCreateAddresses(create: CreateMessage, src: number | Uint8Array, dst: number | Uint8Array): void {
  if (typeof src === 'number' && typeof dst === 'number') {
    create.srcIp = src
    create.dstIp = dst
    return
  }
  if (!(src instanceof Uint8Array) || !(dst instanceof Uint8Array) || src.length !== 16 || dst.length !== 16) {
    throw new CcpError('ERR_CCP_VALUE', 'srcIp and dstIp must both be IPv4 numbers or both 16-byte IPv6 addresses (Uint8Array)')
  }
  if (isIpv4Mapped(src) && isIpv4Mapped(dst)) {
    create.srcIp = mappedIpv4(src)
    create.dstIp = mappedIpv4(dst)
    return
  }
  create.srcIp = CREATE_IPV6_PLACEHOLDER
  create.dstIp = CREATE_IPV6_PLACEHOLDER
  // Copies, as plain Uint8Arrays: the caller may reuse its arrays (and a Buffer's slice would be a view).
  create.srcIp6 = new Uint8Array(src)
  create.dstIp6 = new Uint8Array(dst)
}
