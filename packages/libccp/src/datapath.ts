/**
 * The CCP datapath: the program table, one {@link Connection} per flow with its registers and staged
 * updates, the handshake with the agent, and the fallback to the caller's native congestion control
 * while the agent is absent. No I/O and no clock of its own: the caller supplies `sendMsg`, `now`,
 * `setCwnd` and `setRateAbs` (docs/decisions/0007-ccp-package-interfaces.md).
 *
 * Rules from libccp's `ccp.c` (one invoke, receiving, the handshake with portus ≥ 0.6), with the fallback done better than libccp's (whose fallback deadlocks when the
 * agent is more than its timeout late):
 * - A failed `sendMsg` marks the agent absent: every flow is handed back to native congestion control
 *   (`inControl === false`) and READY is retried every `retryIntervalUs` (from {@link Datapath.tick}, and
 *   from `invoke` of flows not in control).
 * - Any message from the agent marks it present. An INSTALL with program uid 1 (a new or restarted agent)
 *   clears the program table; flows lose their program and re-send CREATE, and are in control again once
 *   the agent answers with CHANGE_PROG.
 * - A flow's program is the program object, not a table slot: a cleared or refilled table never makes a
 *   flow run, or report under the uid of, a program it was not switched to.
 * @module
 */
import { CcpError } from './errors.js'
import type { Measurements } from './measurements.js'
import { PROGRAM_STATUS_NAMES, Program, ProgramStatus, TIME_ZERO_SLOT } from './program.js'
import { SidAllocator } from './sid-allocator.js'
import {
  type CcpMessage,
  type ChangeProgMessage,
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
   * Send one message to the agent. Return 0 when it was handed to the transport; anything else means it
   * was not sent (the agent is absent: ENOENT, ECONNREFUSED, …) and makes the datapath fall back.
   *
   * `bytes` is a view into a buffer the datapath reuses: it is valid only during the call. A transport
   * that keeps it (a queue, an in-process channel) must copy it first.
   */
  sendMsg(bytes: Uint8Array): number
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
  /** How often READY and CREATE are retried while unanswered, in µs (default 100,000: libccp's 100 ms). */
  retryIntervalUs?: number
  /** Most programs in the table (default 64); an INSTALL beyond it is dropped and counted. */
  maxPrograms?: number
}

/** The flow a CREATE describes: the message's fields without its type and sid (the datapath assigns the sid). */
export type ConnectionInfo = Omit<CreateMessage, 'type' | 'sid'>

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
  /** Messages `sendMsg` refused (each one marks the agent absent). */
  sendFailures: number
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
    readySent: 0,
    createsSent: 0,
    measuresSent: 0,
    closesSent: 0,
    programErrors: 0,
    agentLost: 0,
  }
  /** The id sent in READY. */
  readonly id: number
  /** How often READY and CREATE are retried, in µs: call {@link tick} at about this interval. */
  readonly retryIntervalUs: number

  /** @internal */ readonly _callbacks: DatapathCallbacks<C>
  /** @internal µs at construction: Ack.now counts from it. */ readonly _timeZero: number
  /** @internal */ _agent: AgentState = AgentState.Unknown
  /** @internal */ readonly _compile: boolean

  #lastReadyAt = Number.NEGATIVE_INFINITY
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
    const maxPrograms = options.maxPrograms ?? DEFAULT_MAX_PROGRAMS
    if (!Number.isInteger(maxPrograms) || maxPrograms < 1) {
      throw new CcpError('ERR_INVALID_CONFIG', `maxPrograms must be an integer ≥ 1, got ${String(maxPrograms)}`)
    }
    this._callbacks = callbacks
    this.id = id
    this.retryIntervalUs = retry
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

  /** Send READY now; the agent answers with its INSTALLs. Retried by {@link tick} until the agent answers. */
  start(): void {
    this._sendReady(Math.floor(this._callbacks.now()))
  }

  /**
   * Retry what is due: READY while the agent has not answered, CREATE for flows still waiting for their
   * program. Call it from a timer about every {@link retryIntervalUs}; it sends nothing when nothing is due.
   */
  tick(): void {
    const now = Math.floor(this._callbacks.now())
    this._retryReady(now)
    if (this._agent === AgentState.Absent) return
    const connections = this.#connections
    for (let sid = 1; sid < connections.length; sid++) {
      const connection = connections[sid]
      if (connection !== undefined) connection._retryCreate(now)
    }
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
    switch (message.type) {
      case MessageType.InstallExpr:
        this._agentHeard()
        return this.#install(message)
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
        return this.#changeProgram(message)
      default:
        this.stats.unexpected++
        this._log('debug', 'dropped a message a datapath does not take', { type: message.type })
        return false
    }
  }

  /**
   * Start a flow: allocate its sid and send CREATE. Until the agent switches it to a program (CHANGE_PROG),
   * `connection.inControl` is false and the caller's native congestion control governs the flow.
   * @throws {CcpError} `ERR_CCP_VALUE` / `ERR_CCP_STRING` when `info` does not fit in a CREATE.
   */
  connectionStart(info: ConnectionInfo, context: C): Connection<C> {
    if (typeof info !== 'object' || info === null) throw new CcpError('ERR_CCP_VALUE', 'info must be an object')
    const create: CreateMessage = {
      type: MessageType.Create,
      sid: 1,
      initCwnd: info.initCwnd,
      mss: info.mss,
      srcIp: info.srcIp,
      srcPort: info.srcPort,
      dstIp: info.dstIp,
      dstPort: info.dstPort,
      congAlg: info.congAlg,
    }
    encodeMessageInto(create, this.#scratch) // checks every field before a sid is taken
    const sid = this.#sids.allocate()
    create.sid = sid
    const connection = new Connection<C>(this, sid, context, create)
    this.#connections[sid] = connection
    this.#live++
    const now = Math.floor(this._callbacks.now())
    if (this._agent !== AgentState.Absent) connection._sendCreate(now)
    else this._retryReady(now)
    return connection
  }

  // -------------------------------------------------------------------------------------------------------
  // Internal, used by Connection

  /** @internal */
  _log(level: LogLevel, message: string, detail?: Record<string, unknown>): void {
    this._callbacks.log?.(level, message, detail)
  }

  /** @internal Send `bytes`; a refusal marks the agent absent. */
  _send(bytes: Uint8Array): boolean {
    const result = this._callbacks.sendMsg(bytes)
    if (result === 0) {
      this.stats.sent++
      if (this._agent === AgentState.Absent) this._agent = AgentState.Unknown
      return true
    }
    this.stats.sendFailures++
    if (this._agent !== AgentState.Absent) {
      if (this._agent === AgentState.Present) this.stats.agentLost++
      this._agent = AgentState.Absent
      this._log('warn', 'the agent is absent: flows fall back to native congestion control', { result })
    }
    return false
  }

  /** @internal */
  _agentHeard(): void {
    if (this._agent !== AgentState.Present) {
      this._agent = AgentState.Present
      this._log('info', 'the agent is present')
    }
  }

  /** @internal READY, if the agent has not answered and the last one is older than the retry interval. */
  _retryReady(now: number): void {
    if (this._agent !== AgentState.Present && now - this.#lastReadyAt >= this.retryIntervalUs) this._sendReady(now)
  }

  /** @internal */
  _sendReady(now: number): void {
    this.#lastReadyAt = now
    const bytes = this.#scratch.subarray(0, encodeMessageInto({ type: MessageType.Ready, sid: 0, id: this.id }, this.#scratch))
    if (this._send(bytes)) this.stats.readySent++
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
    const now = Math.floor(this._callbacks.now())
    const connections = this.#connections
    for (let sid = 1; sid < connections.length; sid++) connections[sid]?._programTableCleared(now)
  }

  #changeProgram(message: ChangeProgMessage): boolean {
    const connection = this.#connections[message.sid]
    if (connection === undefined) return this.#unknownSid(message.sid)
    const program = this.#programs.get(message.programUid)
    if (program === undefined) {
      this.stats.unknownProgram++
      this._log('warn', 'dropped a CHANGE_PROG for a program not in the table', { sid: message.sid, uid: message.programUid })
      return false
    }
    connection._stageProgram(program, message.updates)
    this.stats.programChanges++
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
  /** @internal */ _lastCreateAt = Number.NEGATIVE_INFINITY
  /** @internal */ _lastCreateSentAt = Number.NEGATIVE_INFINITY
  /** @internal */ _freed = false
  /** @internal the last invoke's {@link ProgramStatus} */ _lastStatus: number = ProgramStatus.Ok

  /** @internal */
  constructor(datapath: Datapath<C>, sid: number, context: C, create: CreateMessage) {
    this._datapath = datapath
    this.sid = sid
    this.context = context
    this._create = create
  }

  /**
   * Whether CCP governs this flow: the agent is present and has switched the flow to a program. When
   * false, the caller's native congestion control decides (and `invoke` only retries the handshake).
   */
  get inControl(): boolean {
    return this._datapath._agent === AgentState.Present && (this._program !== null || this._staged !== null)
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
      // Notes, "One invoke" 1: (re)send CREATE at most every retry interval, and run nothing.
      datapath._retryReady(now)
      if (datapath._agent !== AgentState.Absent) this._retryCreate(now)
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
    if (r[Implicit.ShouldReport] !== 0) this.#report(program, r)
  }

  /**
   * End the flow: send the close MEASURE (no fields) and give the sid back. Calling it again does nothing.
   */
  free(): void {
    if (this._freed) return
    this._freed = true
    const datapath = this._datapath
    if (datapath._agent !== AgentState.Absent) {
      const bytes = datapath._measureView(0)
      writeMeasureHeader(bytes, this.sid, 0, 0)
      if (datapath._send(bytes)) datapath.stats.closesSent++
    }
    this._program = null
    this._staged = null
    this._updateCount = 0
    datapath._release(this)
  }

  // -------------------------------------------------------------------------------------------------------
  // Internal

  /** @internal CREATE if the flow waits for a program and the last attempt is older than the retry interval. */
  _retryCreate(now: number): void {
    if (this._program === null && this._staged === null && now - this._lastCreateAt >= this._datapath.retryIntervalUs) this._sendCreate(now)
  }

  /** @internal */
  _sendCreate(now: number): void {
    const datapath = this._datapath
    this._lastCreateAt = now
    const scratch = datapath._scratch
    const bytes = scratch.subarray(0, encodeMessageInto(this._create, scratch))
    if (datapath._send(bytes)) {
      datapath.stats.createsSent++
      this._lastCreateSentAt = now
    }
  }

  /** @internal The table was cleared: the flow's program (and a staged one) no longer exist. */
  _programTableCleared(now: number): void {
    this._program = null
    this._staged = null
    this._updateCount = 0
    // A CREATE that reached the agent within the retry interval is being answered: wait for it. Otherwise
    // the flow asks again at its next invoke or tick.
    if (now - this._lastCreateSentAt >= this._datapath.retryIntervalUs) this._lastCreateAt = Number.NEGATIVE_INFINITY
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
  #report(program: Program, r: Float64Array): void {
    const datapath = this._datapath
    const fields = program.reportFields
    const bytes = datapath._measureView(fields)
    writeMeasureHeader(bytes, this.sid, program.uid, fields)
    const base = program.reportBase
    for (let i = 0; i < fields; i++) writeU64(bytes, 16 + 8 * i, r[base + i]!)
    if (datapath._send(bytes)) datapath.stats.measuresSent++
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
