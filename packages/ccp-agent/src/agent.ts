/**
 * The agent: portus's side of the CCP protocol over any `AgentTransport` (the handshake of portus ≥ 0.6;
 * docs/decisions/0007-ccp-package-interfaces.md).
 *
 * - READY from a datapath: one INSTALL_EXPR per program, uids from 1 (uid 1 makes the datapath clear its
 *   table, so a restarted agent starts clean). A datapath that READYs again has restarted: its flows end.
 * - CREATE: the algorithm named in it, or the default, takes the flow (`onCreate`, usually a CHANGE_PROG).
 *   A CREATE from a datapath this agent has not seen READY from (the agent started or restarted after the
 *   datapath) first gets the INSTALLs, as portus does.
 * - MEASURE: the algorithm's `onReport` with the fields named; its answers go out as UPDATE_FIELDS or
 *   CHANGE_PROG. A MEASURE without fields ends the flow.
 * - Each datapath is answered at its own address, flows are keyed by (address, sid), so any number of
 *   datapaths can share the agent. Garbage, messages for unknown flows, reports of a program the flow has
 *   left, and algorithm exceptions are logged, counted in {@link AgentStats} and survived.
 * @module
 */
import { decodeMessage, encodeMessageInto, MessageType, type CcpMessage, type CreateMessage, type MeasureMessage } from '@mtcp/libccp'
import { SendResult, sendResultName, type AgentTransport, type LogHook } from '@mtcp/ccp-ipc'
import { Bbr } from './algorithms/bbr.js'
import { Cubic } from './algorithms/cubic.js'
import { Reno } from './algorithms/reno.js'
import { AgentError, ProgramError } from './errors.js'
import { Flow, type CongestionAlgorithm, type FlowHost, type FlowInfo, type Report } from './flow.js'
import { compileProgram, type CompiledProgram } from './program.js'

/** Options of the {@link Agent}. */
export interface AgentOptions {
  /** The agent's end of a transport: `openUnixAgent()` or an `InProcessHub`'s `agent()`. The agent closes it on `close()`. */
  transport: AgentTransport
  /** The algorithms offered, each under its `name`. Default: `[new Reno(), new Cubic(), new Bbr()]`. */
  algorithms?: readonly CongestionAlgorithm<any>[]
  /** The algorithm for a CREATE naming none of them. Default: the first of `algorithms`. */
  defaultAlgorithm?: string
  /** Where the agent logs (debug: each message; info: datapaths and flows; warn: what it dropped). */
  log?: LogHook
  /** The clock algorithms read through `flow.now()`, in µs. Default: `performance.now()` in µs. */
  now?: () => number
  /** Log every message received and sent at `debug` level (the CLI's `--verbose`). Default false. */
  traceMessages?: boolean
}

/** Counters of an {@link Agent}, updated in place. */
export interface AgentStats {
  /** Datapaths known now (a READY or a CREATE seen from their address). */
  datapaths: number
  /** Flows open now. */
  flows: number
  /** Flows created since the start. */
  flowsCreated: number
  /** READY messages received (a datapath starting, or resynchronising). */
  readies: number
  /** CREATEs for a flow the agent already had (it starts over): a datapath that repeats itself. */
  recreated: number
  /** CREATEs naming an algorithm the agent does not offer (the default took the flow). */
  unknownAlgorithms: number
  /** Reports handed to an algorithm. */
  reports: number
  /** Reports of a program the flow had already left (dropped, not an error). */
  staleReports: number
  /** Everything dropped or failed: the sum of the five counters below. */
  errors: number
  /** Datagrams that did not decode, or that no datapath sends (INSTALL_EXPR, UPDATE_FIELDS, CHANGE_PROG). */
  malformed: number
  /** MEASUREs for a flow the agent does not know (never created, or already closed). */
  unknownFlows: number
  /** Reports whose field count does not match the flow's program. */
  badReports: number
  /** Exceptions thrown by an algorithm's callbacks. */
  algorithmErrors: number
  /** Sends the transport refused (the datapath gone, or its backlog over `MAX_BACKLOG`). */
  sendFailures: number
  /**
   * Messages held because the datapath's queue was full (`EAGAIN`) and sent, in order, once it had room:
   * an INSTALL or CHANGE_PROG lost would leave a flow without its program.
   */
  deferred: number
  /** Datagrams received and sent. */
  messagesIn: number
  messagesOut: number
}

interface AlgorithmEntry {
  readonly algorithm: CongestionAlgorithm<any>
  /** The algorithm's programs by name, each compiled with its uid in the agent's table. */
  readonly programs: ReadonlyMap<string, CompiledProgram>
}

const defaultNow = (): number => performance.now() * 1000

/**
 * A function building a program's report objects: an object literal with the program's field names, so
 * every report of a program has one shape (fast to build and to read). The names are identifiers (the
 * compiler checks them, and reserves `__proto__`), quoted anyway.
 */
function reportMaker(names: readonly string[]): (fields: readonly number[]) => Report {
  const properties = names.map((name, index) => `${JSON.stringify(name)}: fields[${index}]`).join(', ')
  return new Function('fields', `return { ${properties} }`) as (fields: readonly number[]) => Report
}

const MESSAGE_NAMES = ['CREATE', 'MEASURE', 'INSTALL_EXPR', 'UPDATE_FIELDS', 'CHANGE_PROG', 'READY']

/** A message as a log line's detail. */
function summary(message: CcpMessage): Record<string, unknown> {
  const { type, ...rest } = message
  // A copy: the agent reuses its per-flow UPDATE_FIELDS, and a log hook may keep what it is given.
  return JSON.parse(JSON.stringify({ type: MESSAGE_NAMES[type], ...rest })) as Record<string, unknown>
}

/** Most messages held for one datapath whose queue is full; beyond, the datapath counts as gone and the backlog is dropped. */
export const MAX_BACKLOG = 4096
/** How soon a held backlog is tried again, ms. */
const BACKLOG_RETRY_MS = 1

/** The largest answer the agent encodes: a CHANGE_PROG or UPDATE_FIELDS of libccp's 222 updates fits. */
const SCRATCH_BYTES = 4096

function checkAlgorithm(algorithm: unknown, index: number): asserts algorithm is CongestionAlgorithm<unknown> {
  const candidate = algorithm as CongestionAlgorithm<unknown> | undefined
  const where = `algorithms[${index}]`
  if (typeof candidate !== 'object' || candidate === null) throw new AgentError('ERR_INVALID_CONFIG', `${where} must be an algorithm object`)
  if (typeof candidate.name !== 'string' || candidate.name.length === 0 || candidate.name.length > 63 || candidate.name.includes('\0')) {
    throw new AgentError('ERR_INVALID_CONFIG', `${where}.name must be a non-empty string of at most 63 characters (CREATE's congAlg), got ${String(candidate.name)}`)
  }
  if (typeof candidate.onCreate !== 'function' || typeof candidate.onReport !== 'function') {
    throw new AgentError('ERR_INVALID_CONFIG', `${where} ('${candidate.name}') must have onCreate(flow) and onReport(flow, report) methods`)
  }
  if (typeof candidate.programs !== 'object' || candidate.programs === null) {
    throw new AgentError('ERR_INVALID_CONFIG', `${where}.programs must be an object of program name → source`)
  }
}

/**
 * A CCP agent speaking portus 0.8's protocol, with pluggable algorithms.
 *
 * @example
 * ```ts
 * const agent = new Agent({ transport: openUnixAgent({ dir: '/tmp/ccp', name: 'portus' }) })
 * agent.start()
 * // … later
 * agent.close()
 * ```
 */
export class Agent {
  /** Counters, updated in place. */
  readonly stats: AgentStats = {
    datapaths: 0,
    flows: 0,
    flowsCreated: 0,
    readies: 0,
    recreated: 0,
    unknownAlgorithms: 0,
    reports: 0,
    staleReports: 0,
    errors: 0,
    malformed: 0,
    unknownFlows: 0,
    badReports: 0,
    algorithmErrors: 0,
    sendFailures: 0,
    deferred: 0,
    messagesIn: 0,
    messagesOut: 0,
  }
  readonly #transport: AgentTransport
  readonly #algorithms = new Map<string, AlgorithmEntry>()
  readonly #default: AlgorithmEntry
  /** INSTALL_EXPR messages in uid order (uid i + 1 at index i). */
  readonly #installs: Uint8Array[] = []
  readonly #programNames: string[] = []
  /** Report builders by program uid. */
  readonly #reportMakers: ((fields: readonly number[]) => Report)[] = []
  /** Flows by datapath address, then sid. */
  readonly #datapaths = new Map<string, Map<number, Flow<unknown>>>()
  readonly #log: LogHook
  readonly #now: () => number
  readonly #trace: boolean
  readonly #host: FlowHost
  /** Where answers are encoded: transports copy or send before `sendTo` returns (ccp-ipc's contract). */
  readonly #scratch = new Uint8Array(SCRATCH_BYTES)
  /** Cached views of `#scratch` by message length. */
  readonly #views: Uint8Array[] = []
  #state: 'created' | 'started' | 'closed' = 'created'
  /** Messages (copies) waiting for room in a datapath's queue, by address, in send order. */
  readonly #backlog = new Map<string, Uint8Array[]>()
  #backlogTimer: ReturnType<typeof setTimeout> | undefined

  /**
   * Check the options and compile every algorithm's programs.
   * @throws {AgentError} `ERR_INVALID_CONFIG` or `ERR_DUPLICATE` naming the option.
   * @throws {ProgramError} for a program that does not compile; the message names the program and algorithm.
   */
  constructor(options: AgentOptions) {
    if (typeof options !== 'object' || options === null) throw new AgentError('ERR_INVALID_CONFIG', 'new Agent(options) needs an options object')
    const transport = options.transport
    if (typeof transport?.sendTo !== 'function' || typeof transport.onMessage !== 'function' || typeof transport.close !== 'function') {
      throw new AgentError('ERR_INVALID_CONFIG', 'transport must be an AgentTransport (sendTo, onMessage, close): openUnixAgent() or InProcessHub.agent()')
    }
    if (options.log !== undefined && typeof options.log !== 'function') throw new AgentError('ERR_INVALID_CONFIG', 'log must be a function (level, message, detail?)')
    if (options.now !== undefined && typeof options.now !== 'function') throw new AgentError('ERR_INVALID_CONFIG', 'now must be a function returning µs')
    this.#transport = transport
    this.#log = options.log ?? (() => {})
    this.#now = options.now ?? defaultNow
    this.#trace = options.traceMessages === true
    const algorithms = options.algorithms ?? [new Reno(), new Cubic(), new Bbr()]
    if (!Array.isArray(algorithms) || algorithms.length === 0) {
      throw new AgentError('ERR_INVALID_CONFIG', 'algorithms must be a non-empty array of algorithm objects')
    }
    // One table entry per distinct (name, source): Reno and Cubic share generic-cong-avoid's programs.
    const uids = new Map<string, CompiledProgram>()
    algorithms.forEach((algorithm, index) => {
      checkAlgorithm(algorithm, index)
      if (this.#algorithms.has(algorithm.name)) throw new AgentError('ERR_DUPLICATE', `two algorithms are named '${algorithm.name}'`)
      const programs = new Map<string, CompiledProgram>()
      for (const [name, source] of Object.entries(algorithm.programs)) {
        const key = `${name}\0${source}`
        let program = uids.get(key)
        if (program === undefined) {
          program = this.#compile(algorithm.name, name, source, this.#installs.length + 1)
          uids.set(key, program)
          this.#installs.push(program.bytes)
          this.#programNames.push(name)
          this.#reportMakers[program.uid] = reportMaker(program.reportFields)
        }
        programs.set(name, program)
      }
      this.#algorithms.set(algorithm.name, { algorithm, programs })
    })
    const defaultName = options.defaultAlgorithm ?? algorithms[0]!.name
    const fallback = this.#algorithms.get(defaultName)
    if (fallback === undefined) {
      throw new AgentError('ERR_INVALID_CONFIG', `defaultAlgorithm must be one of ${[...this.#algorithms.keys()].join(', ')}; got ${String(defaultName)}`)
    }
    this.#default = fallback
    this.#host = {
      send: (address, message) => {
        if (this.#trace) this.#log('debug', 'send', { to: address, ...summary(message) })
        return this.#send(address, this.#encode(message))
      },
      now: () => this.#now(),
    }
  }

  /** The names of the algorithms offered. */
  get algorithms(): string[] {
    return [...this.#algorithms.keys()]
  }

  /** The name of the algorithm for a CREATE that names none of them. */
  get defaultAlgorithm(): string {
    return this.#default.algorithm.name
  }

  /** The programs installed in each datapath, by uid (`programs[0]` has uid 1). */
  get programs(): readonly string[] {
    return this.#programNames
  }

  /** The transport's address (where datapaths send). */
  get address(): string {
    return this.#transport.address
  }

  /** Start answering datapaths. Throws `ERR_INVALID_STATE` if already started or closed. */
  start(): void {
    if (this.#state !== 'created') throw new AgentError('ERR_INVALID_STATE', `start() on an agent that is already ${this.#state}`)
    this.#state = 'started'
    this.#transport.onMessage((bytes, from) => this.#receive(bytes, from))
    this.#log('info', 'agent started', { address: this.#transport.address, algorithms: this.algorithms, default: this.defaultAlgorithm })
  }

  /**
   * Stop: every open flow's algorithm gets `onClose`, then the transport is closed (the unix transport
   * unlinks its socket). Datapaths fall back to their native congestion control until an agent answers
   * again. Idempotent.
   */
  close(): void {
    if (this.#state === 'closed') return
    this.#state = 'closed'
    this.#transport.onMessage(undefined)
    for (const flows of this.#datapaths.values()) for (const flow of flows.values()) this.#end(flow)
    this.#datapaths.clear()
    this.#backlog.clear()
    if (this.#backlogTimer !== undefined) clearTimeout(this.#backlogTimer)
    this.#backlogTimer = undefined
    this.stats.datapaths = 0
    this.stats.flows = 0
    this.#transport.close()
    this.#log('info', 'agent closed', { address: this.#transport.address })
  }

  #compile(algorithm: string, name: string, source: string, uid: number): CompiledProgram {
    try {
      return compileProgram(source, { uid })
    } catch (error) {
      if (error instanceof ProgramError) {
        throw new ProgramError(error.code, `program '${name}' of algorithm '${algorithm}': ${error.reason}`, error.line, error.column)
      }
      throw error
    }
  }

  #receive(bytes: Uint8Array, from: string): void {
    if (this.#state !== 'started') return
    this.stats.messagesIn++
    let message: CcpMessage
    try {
      message = decodeMessage(bytes)
    } catch (error) {
      this.#drop('malformed', 'dropped a malformed datagram', { from, code: (error as { code?: string }).code, reason: (error as Error).message })
      return
    }
    if (this.#trace) this.#log('debug', 'receive', { from, ...summary(message) })
    try {
      switch (message.type) {
        case MessageType.Ready:
          this.#ready(from)
          return
        case MessageType.Create:
          this.#create(from, message)
          return
        case MessageType.Measure:
          this.#measure(from, message)
          return
        default:
          this.#drop('malformed', `dropped a message a datapath does not send (type ${message.type})`, { from, sid: message.sid })
      }
    } catch (error) {
      // Not reachable by a datapath's input (algorithms are guarded below); kept so nothing escapes the handler.
      this.#drop('algorithmErrors', 'internal error while handling a message', { from, error: String(error) })
    }
  }

  /** Install every program in the datapath at `address`, uids from 1 (uid 1 clears its table). */
  #install(address: string): void {
    this.#installs.forEach((bytes, index) => {
      if (this.#trace) this.#log('debug', 'send', { to: address, type: 'INSTALL_EXPR', programUid: index + 1, program: this.#programNames[index] })
      this.#send(address, bytes)
    })
  }

  #ready(address: string): void {
    this.stats.readies++
    const old = this.#datapaths.get(address)
    if (old !== undefined) {
      // The datapath restarted: the flows it had are gone with it.
      for (const flow of old.values()) this.#end(flow)
      this.#log('info', 'datapath restarted: its flows ended', { address, flows: old.size })
    } else {
      this.#log('info', 'datapath ready', { address })
    }
    this.#datapaths.set(address, new Map())
    this.stats.datapaths = this.#datapaths.size
    this.#install(address)
  }

  #create(address: string, message: CreateMessage): void {
    let flows = this.#datapaths.get(address)
    if (flows === undefined) {
      // The datapath said READY before this agent was there: give it the programs now (as portus does).
      this.#log('info', 'CREATE from a datapath without READY: installing the programs first', { address, sid: message.sid })
      flows = new Map()
      this.#datapaths.set(address, flows)
      this.stats.datapaths = this.#datapaths.size
      this.#install(address)
    }
    const previous = flows.get(message.sid)
    if (previous !== undefined) {
      // libccp repeats CREATE until it hears back: start the flow over.
      this.#log('info', 'CREATE for a flow that exists: starting it over', { address, sid: message.sid })
      this.stats.recreated++
      this.#end(previous)
    }
    let entry = this.#algorithms.get(message.congAlg)
    if (entry === undefined) {
      entry = this.#default
      if (message.congAlg !== '') {
        this.stats.unknownAlgorithms++
        this.#log('warn', `CREATE asks for algorithm '${message.congAlg}', which this agent does not offer: '${entry.algorithm.name}' takes the flow`, {
          address,
          sid: message.sid,
          offered: this.algorithms,
        })
      }
    }
    const info: FlowInfo = {
      initCwnd: message.initCwnd,
      mss: message.mss,
      srcIp: message.srcIp,
      srcPort: message.srcPort,
      dstIp: message.dstIp,
      dstPort: message.dstPort,
      congAlg: message.congAlg,
      // An IPv6 flow's addresses, from the CREATE trailer (decision record 0080).
      ...(message.srcIp6 !== undefined && message.dstIp6 !== undefined ? { srcIp6: message.srcIp6, dstIp6: message.dstIp6 } : {}),
    }
    const flow = new Flow<unknown>(this.#host, address, message.sid, entry.algorithm.name, info, entry.programs)
    flows.set(message.sid, flow)
    this.stats.flows++
    this.stats.flowsCreated++
    this.#log('info', 'flow created', { address, sid: message.sid, asked: message.congAlg, algorithm: entry.algorithm.name, initCwnd: message.initCwnd, mss: message.mss })
    this.#call(flow, 'onCreate', () => entry.algorithm.onCreate(flow))
  }

  #measure(address: string, message: MeasureMessage): void {
    const flows = this.#datapaths.get(address)
    const flow = flows?.get(message.sid)
    if (flows === undefined || flow === undefined) {
      this.#drop('unknownFlows', 'MEASURE for an unknown flow', { address, sid: message.sid, programUid: message.programUid })
      return
    }
    if (message.fields.length === 0) {
      // A MEASURE without fields: the flow closed (ccp-datapath.md, "Framing").
      flows.delete(message.sid)
      this.#end(flow)
      this.#log('info', 'flow closed', { address, sid: message.sid })
      return
    }
    const names = flow.reportFields
    if (names === undefined || message.programUid !== flow.programUid) {
      this.stats.staleReports++
      this.#log('debug', 'stale report dropped: the flow has changed program', { address, sid: message.sid, programUid: message.programUid, current: flow.programUid })
      return
    }
    if (message.fields.length !== names.length) {
      this.#drop('badReports', `report with ${message.fields.length} fields, the program has ${names.length}`, { address, sid: message.sid })
      return
    }
    const report = this.#reportMakers[flow.programUid]!(message.fields)
    this.stats.reports++
    const entry = this.#algorithms.get(flow.algorithm)!
    this.#call(flow, 'onReport', () => entry.algorithm.onReport(flow, report))
  }

  /** Run an algorithm callback, then send what it gathered; an exception is logged and counted, never thrown. */
  #call(flow: Flow<unknown>, callback: string, run: () => void): void {
    try {
      run()
    } catch (error) {
      this.#drop('algorithmErrors', `${flow.algorithm}.${callback} threw`, {
        address: flow.datapath,
        sid: flow.sid,
        code: (error as { code?: string }).code,
        error: error instanceof Error ? error.message : String(error),
      })
    }
    if (!flow.closed) flow.flush()
  }

  /** End a flow: no more sends, then the algorithm's `onClose`. The caller removes it from its map. */
  #end(flow: Flow<unknown>): void {
    flow.close()
    this.stats.flows--
    const algorithm = this.#algorithms.get(flow.algorithm)!.algorithm
    if (algorithm.onClose !== undefined) {
      try {
        algorithm.onClose(flow)
      } catch (error) {
        this.#drop('algorithmErrors', `${flow.algorithm}.onClose threw`, { address: flow.datapath, sid: flow.sid, error: String(error) })
      }
    }
  }

  /** Encode into the reused scratch buffer; the view is valid until the next encode. */
  #encode(message: CcpMessage): Uint8Array {
    const length = encodeMessageInto(message, this.#scratch)
    let view = this.#views[length]
    if (view === undefined) {
      view = this.#scratch.subarray(0, length)
      this.#views[length] = view
    }
    return view
  }

  /**
   * Send, or hold the message when the datapath's queue is full (`EAGAIN`): a unix datagram queue holds 10
   * by default, and a datapath's answers to 100 CREATEs come in one burst. Held messages go in order, before
   * anything newer, as soon as there is room (issue 17, 2).
   */
  #send(address: string, bytes: Uint8Array): boolean {
    const held = this.#backlog.get(address)
    if (held !== undefined) return this.#hold(address, held, bytes)
    const result = this.#transport.sendTo(address, bytes)
    if (result === 0) {
      this.stats.messagesOut++
      return true
    }
    if (result === SendResult.EAGAIN) {
      const backlog: Uint8Array[] = []
      this.#backlog.set(address, backlog)
      return this.#hold(address, backlog, bytes)
    }
    this.#drop('sendFailures', 'send to a datapath failed', { address, result: sendResultName(result) })
    return false
  }

  #hold(address: string, backlog: Uint8Array[], bytes: Uint8Array): boolean {
    if (backlog.length >= MAX_BACKLOG) {
      this.#backlog.delete(address)
      this.#drop('sendFailures', 'a datapath has not read for too long: its backlog is dropped', { address, messages: backlog.length + 1 })
      return false
    }
    backlog.push(bytes.slice()) // bytes is a view of the scratch buffer
    this.stats.deferred++
    this.#backlogTimer ??= setTimeout(() => this.#flushBacklog(), BACKLOG_RETRY_MS)
    return true
  }

  #flushBacklog(): void {
    this.#backlogTimer = undefined
    if (this.#state !== 'started') return
    for (const [address, backlog] of this.#backlog) {
      let sent = 0
      let failure = 0
      for (; sent < backlog.length; sent++) {
        failure = this.#transport.sendTo(address, backlog[sent]!)
        if (failure !== 0) break
        this.stats.messagesOut++
      }
      if (sent === backlog.length) this.#backlog.delete(address)
      else if (failure === SendResult.EAGAIN) backlog.splice(0, sent)
      else {
        this.#backlog.delete(address)
        this.#drop('sendFailures', 'send to a datapath failed; its backlog is dropped', { address, result: sendResultName(failure), messages: backlog.length - sent })
      }
    }
    if (this.#backlog.size > 0) this.#backlogTimer = setTimeout(() => this.#flushBacklog(), BACKLOG_RETRY_MS)
  }

  #drop(counter: 'malformed' | 'unknownFlows' | 'badReports' | 'algorithmErrors' | 'sendFailures', message: string, detail: Record<string, unknown>): void {
    this.stats[counter]++
    this.stats.errors++
    this.#log('warn', message, detail)
  }
}
