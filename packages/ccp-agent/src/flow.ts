/**
 * A flow as an algorithm sees it, and the interface an algorithm implements.
 *
 * An algorithm is one object shared by all the flows it governs; what it keeps per flow lives in
 * `flow.state`. The agent calls `onCreate` when a datapath announces a flow (CREATE), `onReport` for each
 * report of the flow's current program (MEASURE), and `onClose` when the flow ends. What the algorithm asks
 * for goes out as portus does it: `setCwnd` / `setRate` are
 * gathered into one UPDATE_FIELDS sent when the callback returns, `update` sends one UPDATE_FIELDS at once,
 * `changeProgram` one CHANGE_PROG (after whatever was gathered before it, so the order is kept).
 * @module
 */
import { Implicit, MAX_UPDATES, MessageType, RegType, U64_LIMIT, type CcpMessage, type UpdateField, type UpdateFieldsMessage } from '@mtcp/libccp'
import { AgentError } from './errors.js'
import type { CompiledProgram } from './program.js'

/** What a datapath said about a flow in its CREATE. */
export interface FlowInfo {
  /** Initial congestion window in bytes. */
  readonly initCwnd: number
  /** Maximum segment size in bytes. */
  readonly mss: number
  /**
   * The flow's addresses and ports, host order (10.0.0.1 is `0x0a000001`): CREATE carries them in network
   * byte order, as the Linux kernel's CCP module writes them, and the codec reads them back.
   */
  readonly srcIp: number
  readonly srcPort: number
  readonly dstIp: number
  readonly dstPort: number
  /** The algorithm the datapath asked for (may differ from the one running it: see `Flow.algorithm`). */
  readonly congAlg: string
  /**
   * An IPv6 flow's local address, 16 bytes, when the datapath sent it (libccp's IPv6 trailer, decision
   * record 0080); `srcIp` and `dstIp` then hold 127.0.0.6, as Linux's CCP datapath sends for IPv6 flows.
   * Absent for IPv4 flows and for datapaths that send no trailer (the kernel's, portus's tests).
   */
  readonly srcIp6?: Uint8Array
  /** An IPv6 flow's remote address, 16 bytes (see {@link FlowInfo.srcIp6}). */
  readonly dstIp6?: Uint8Array
}

/**
 * A report: the values of the current program's report fields, by the name they have after `Report.` in
 * the program's `def` (`report.acked` for `(Report (volatile acked 0))`). Booleans are 0 or 1; `+infinity` is
 * 4294967295. A fresh object for each report.
 */
export type Report = Readonly<Record<string, number>>

/**
 * A congestion control algorithm. Implement it with a class; pass an instance to the `Agent`.
 * @typeParam State - what the algorithm keeps per flow in `flow.state`.
 */
export interface CongestionAlgorithm<State = unknown> {
  /** The name a datapath asks for in CREATE (`reno`, `cubic`, `bbr`, …). */
  readonly name: string
  /**
   * The datapath programs the algorithm uses, name → source in the program language. The agent compiles
   * them when it is constructed and installs them in every datapath; `flow.changeProgram(name)` switches.
   */
  readonly programs: Readonly<Record<string, string>>
  /** A new flow: set `flow.state`, choose a program with `flow.changeProgram`, maybe a first window. */
  onCreate(flow: Flow<State>): void
  /** A report from the flow's current program (reports from a program the flow has left are dropped before). */
  onReport(flow: Flow<State>, report: Report): void
  /** The flow ended (the datapath's closing MEASURE, or the datapath restarted). Nothing can be sent. */
  onClose?(flow: Flow<State>): void
}

/** What a {@link Flow} needs from the agent. @internal */
export interface FlowHost {
  /** Encode `message` and send it to the datapath at `address`; false when the transport refused. */
  send(address: string, message: CcpMessage): boolean
  /** The agent's clock in µs. */
  now(): number
}

const CWND: UpdatableTarget = { regType: RegType.Implicit, regIndex: Implicit.Cwnd }
const RATE: UpdatableTarget = { regType: RegType.Implicit, regIndex: Implicit.Rate }

interface UpdatableTarget {
  readonly regType: RegType
  readonly regIndex: number
}

function checkValue(what: string, value: unknown): number {
  // u64 on the wire; a double reaches 2^64 − 1 only as 2^64, which the codec writes as all ones.
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > U64_LIMIT) {
    throw new AgentError('ERR_INVALID_VALUE', `${what} must be a non-negative integer (at most 2^64 − 1), got ${String(value)}`)
  }
  return value
}

/**
 * One flow of one datapath, as its algorithm sees it. Created by the agent; an algorithm never constructs one.
 * @typeParam State - what the algorithm keeps per flow.
 */
export class Flow<State = unknown> {
  /** Per-flow state of the algorithm: set it in `onCreate`. */
  state!: State
  readonly #host: FlowHost
  readonly #programs: ReadonlyMap<string, CompiledProgram>
  #program: CompiledProgram | undefined
  #programName: string | undefined
  #pendingCwnd: number | undefined
  #pendingRate: number | undefined
  #closed = false
  // The per-report UPDATE_FIELDS, reused: one message object and its two entries for the whole flow.
  readonly #cwndUpdate: UpdateField = { ...CWND, value: 0 }
  readonly #rateUpdate: UpdateField = { ...RATE, value: 0 }
  readonly #windowMessage: UpdateFieldsMessage

  /** @internal */
  constructor(
    host: FlowHost,
    /** The datapath's address (its socket path, or its in-process name). */
    readonly datapath: string,
    /** The flow's id in its datapath. */
    readonly sid: number,
    /** The algorithm governing the flow. */
    readonly algorithm: string,
    /** What the datapath said in CREATE. */
    readonly info: FlowInfo,
    programs: ReadonlyMap<string, CompiledProgram>,
  ) {
    this.#host = host
    this.#programs = programs
    this.#windowMessage = { type: MessageType.UpdateFields, sid, updates: [] }
  }

  /** Initial congestion window in bytes (from CREATE). */
  get initCwnd(): number {
    return this.info.initCwnd
  }

  /** Maximum segment size in bytes (from CREATE). */
  get mss(): number {
    return this.info.mss
  }

  /** The name of the program the flow runs (the last `changeProgram`), or undefined before the first. */
  get program(): string | undefined {
    return this.#programName
  }

  /** The uid of the flow's current program, 0 before the first `changeProgram`. */
  get programUid(): number {
    return this.#program?.uid ?? 0
  }

  /** The report fields of the current program, in MEASURE order. @internal */
  get reportFields(): readonly string[] | undefined {
    return this.#program?.reportFields
  }

  /** Whether the flow has ended; a closed flow sends nothing (calls throw `ERR_INVALID_STATE`). */
  get closed(): boolean {
    return this.#closed
  }

  /** The agent's clock in µs (the `now` option of the agent): for algorithms that need time. */
  now(): number {
    return this.#host.now()
  }

  /**
   * Set the congestion window (bytes). Gathered with {@link setRate} into one UPDATE_FIELDS (Cwnd first)
   * sent when the callback returns; a later call replaces the value.
   */
  setCwnd(bytes: number): void {
    this.#checkOpen()
    this.#pendingCwnd = checkValue('cwnd', bytes)
  }

  /** Set the pacing rate (bytes per second). Gathered with {@link setCwnd}, see there. */
  setRate(bytesPerSecond: number): void {
    this.#checkOpen()
    this.#pendingRate = checkValue('rate', bytesPerSecond)
  }

  /**
   * Send one UPDATE_FIELDS now, after anything gathered by `setCwnd`/`setRate`: the fields in the order
   * given, each a control variable of the current program (`reportTime`), `Cwnd` or `Rate`.
   * @throws {AgentError} `ERR_UNKNOWN_FIELD` for a name the current program cannot take, `ERR_INVALID_VALUE`.
   */
  update(fields: Readonly<Record<string, number>>): void {
    this.#checkOpen()
    const program = this.#program
    const updates = this.#resolve(fields, program, this.#programName === undefined ? 'a flow without a program' : `program '${this.#programName}'`)
    this.flush()
    if (updates.length > 0) this.#host.send(this.datapath, { type: MessageType.UpdateFields, sid: this.sid, updates })
  }

  /**
   * Switch the flow to one of the algorithm's programs (one CHANGE_PROG, after anything gathered before),
   * with initial values for its control variables, `Cwnd` or `Rate`. From now on reports of the previous
   * program are dropped as stale.
   *
   * The datapath drops updates staged before a CHANGE_PROG: give values that must survive the change here,
   * in `fields`, not through `setCwnd` before it.
   * @throws {AgentError} `ERR_UNKNOWN_PROGRAM`, `ERR_UNKNOWN_FIELD`, `ERR_INVALID_VALUE`.
   */
  changeProgram(name: string, fields?: Readonly<Record<string, number>>): void {
    this.#checkOpen()
    const program = this.#programs.get(name)
    if (program === undefined) {
      const known = [...this.#programs.keys()].join(', ')
      throw new AgentError('ERR_UNKNOWN_PROGRAM', `algorithm '${this.algorithm}' has no program '${name}' (it has: ${known})`)
    }
    const updates = this.#resolve(fields ?? {}, program, `program '${name}'`)
    this.flush()
    this.#program = program
    this.#programName = name
    this.#host.send(this.datapath, { type: MessageType.ChangeProg, sid: this.sid, programUid: program.uid, updates })
  }

  /** Send what `setCwnd`/`setRate` gathered, if anything. The agent calls it after each callback. @internal */
  flush(): void {
    if (this.#pendingCwnd === undefined && this.#pendingRate === undefined) return
    const updates = this.#windowMessage.updates
    updates.length = 0
    if (this.#pendingCwnd !== undefined) {
      this.#cwndUpdate.value = this.#pendingCwnd
      updates.push(this.#cwndUpdate)
    }
    if (this.#pendingRate !== undefined) {
      this.#rateUpdate.value = this.#pendingRate
      updates.push(this.#rateUpdate)
    }
    this.#pendingCwnd = undefined
    this.#pendingRate = undefined
    this.#host.send(this.datapath, this.#windowMessage)
  }

  /** End the flow: drop anything gathered; later calls throw. @internal */
  close(): void {
    this.#closed = true
    this.#pendingCwnd = undefined
    this.#pendingRate = undefined
  }

  #resolve(fields: Readonly<Record<string, number>>, program: CompiledProgram | undefined, where: string): UpdateField[] {
    if (typeof fields !== 'object' || fields === null) throw new AgentError('ERR_INVALID_VALUE', 'fields must be an object of name → value')
    const entries = Object.entries(fields)
    if (entries.length > MAX_UPDATES) throw new AgentError('ERR_INVALID_VALUE', `at most ${MAX_UPDATES} fields fit one message, got ${entries.length}`)
    const updates: UpdateField[] = []
    for (const [name, value] of entries) {
      const target = name === 'Cwnd' ? CWND : name === 'Rate' ? RATE : program?.register(name)
      if (target === undefined) {
        throw new AgentError('ERR_UNKNOWN_FIELD', `'${name}' cannot be updated in ${where}: only its control variables, Cwnd and Rate`)
      }
      updates.push({ regType: target.regType, regIndex: target.regIndex, value: checkValue(`field '${name}'`, value) })
    }
    return updates
  }

  #checkOpen(): void {
    if (this.#closed) throw new AgentError('ERR_INVALID_STATE', `flow ${this.sid} of ${this.datapath} has closed`)
  }
}
