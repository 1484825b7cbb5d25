/**
 * Congestion control through CCP: one {@link Datapath} per stack, and a {@link CcpControl} per connection
 * that feeds the flow's datapath program on every ACK and applies the agent's `set_cwnd` / `set_rate_abs`.
 * Until the agent controls a flow (absent, late, restarting) the connection's native controller governs it,
 * window and pacing: what a lost agent set is forgotten, and a new agent starts from the flow's window now.
 * What an agent may set is bounded by {@link CcpLimits}.
 * @module
 */
import type { Clock, Micros, Timer } from '@mtcp/dpdk-io'
import { type CcpTransport, type Connection as CcpConnection, createMeasurements, Datapath, type Measurements } from '@mtcp/libccp'
import type { AckMeasurement, AckSample, CongestionControl } from '@mtcp/tcp-core'
import { ReusedList } from './reused-list.js'

export type { CcpTransport }

/** `StackOptions.ccp`: CCP for the connections that choose it. */
export interface CcpOptions {
  /** The transport to the agent, e.g. `await openUnixDatapath({ name: 'mtcp-1' })` from `@mtcp/ccp-ipc`. */
  transport: CcpTransport
  /** The algorithm named in CREATE when a socket names none (the agent picks its default for `''`). Default `'reno'`. */
  algorithm?: string
  /** The datapath id sent in READY. Default 0. */
  id?: number
  /** Interpret the agent's programs instead of compiling them to JavaScript (slower; for debugging). Default false. */
  interpret?: boolean
  /** Close the transport when the stack closes. Default true. */
  closeTransport?: boolean
  /** Bounds on what the agent may set; values outside are clamped (and counted in `StackCcp.stats`). */
  limits?: CcpLimits
  /**
   * How long the datapath waits for the agent to answer READY or a CREATE before it resynchronises or
   * sends that CREATE again (doubling each time), in µs of the stack's clock. Default 1,000,000 (1 s).
   */
  resyncIntervalUs?: number
  /**
   * Told when a flow passes from the native controller to the agent or back, on the stack's clock (seen at
   * the flow's next ACK or timeout, or at the next 100 ms retry tick). May throw: the stack ignores it.
   */
  onControlChange?: (event: CcpControlEvent) => void
}

/**
 * `CcpOptions.limits`: what an agent may set, so a confused or forged agent cannot stall a flow (a rate of
 * 1 B/s) or blow its window up.
 */
export interface CcpLimits {
  /** Smallest window in bytes; default 2 segments (and never below that). */
  minCwnd?: number
  /** Largest window in bytes; default 1 GiB. */
  maxCwnd?: number
  /** Smallest pacing rate in bytes/s (0 from the agent still means "no pacing from me"); default 12,500 (100 kbit/s). */
  minRate?: number
  /** Largest pacing rate in bytes/s; default no limit. */
  maxRate?: number
}

/** A flow passing between its native controller and the agent. */
export interface CcpControlEvent {
  /** The flow's CCP sid. */
  sid: number
  /** The flow's 4-tuple, host order. */
  flow: Readonly<CcpFlowAddress>
  /** True: the agent took the flow over; false: the native controller has it again (agent lost, restarted, or resynchronising). */
  inControl: boolean
  /** When, on the stack's clock (µs). */
  at: Micros
}

/** Counters of the stack's CCP side beyond the datapath's own (`datapath.stats`). */
export interface StackCcpStats {
  /** Windows the agent set outside `limits`, clamped. */
  cwndClamped: number
  /** Rates the agent set outside `limits`, clamped. */
  rateClamped: number
  /** Times a flow passed to the agent / back to its native controller. */
  takeovers: number
  fallbacks: number
}

const DEFAULT_MAX_CWND = 2 ** 30
const DEFAULT_MIN_RATE = 12_500

/** Check `CcpOptions.limits`; returns an error message or undefined. @internal */
export function ccpLimitsProblem(limits: unknown): string | undefined {
  if (limits === undefined) return undefined
  if (typeof limits !== 'object' || limits === null) return 'ccp.limits must be an object { minCwnd?, maxCwnd?, minRate?, maxRate? }'
  const l = limits as Record<string, unknown>
  for (const name of ['minCwnd', 'maxCwnd', 'minRate', 'maxRate']) {
    const value = l[name]
    if (value !== undefined && (typeof value !== 'number' || !(value >= 0) || (value !== Infinity && !Number.isInteger(value)))) {
      return `ccp.limits.${name} must be an integer ≥ 0 (bytes${name.endsWith('Rate') ? '/s' : ''}), got ${String(value)}`
    }
  }
  const minCwnd = (l.minCwnd as number | undefined) ?? 0
  const maxCwnd = (l.maxCwnd as number | undefined) ?? DEFAULT_MAX_CWND
  if (maxCwnd < minCwnd || maxCwnd < 1) return `ccp.limits.maxCwnd (${maxCwnd}) must be ≥ 1 and ≥ minCwnd (${minCwnd})`
  const minRate = (l.minRate as number | undefined) ?? DEFAULT_MIN_RATE
  const maxRate = (l.maxRate as number | undefined) ?? Infinity
  if (maxRate < minRate || maxRate < 1) return `ccp.limits.maxRate (${maxRate}) must be ≥ 1 and ≥ minRate (${minRate})`
  return undefined
}

/** How often READY and CREATE are retried while the agent is absent, µs (as libccp's 100 ms). */
const RETRY_INTERVAL: Micros = 100_000

/** A stack's CCP datapath: the libccp machine, its transport, and the retry timer. */
export class StackCcp {
  readonly datapath: Datapath<CcpControl>
  readonly defaultAlgorithm: string
  readonly stats: StackCcpStats = { cwndClamped: 0, rateClamped: 0, takeovers: 0, fallbacks: 0 }
  /** @internal */ readonly _minCwnd: number
  /** @internal */ readonly _maxCwnd: number
  /** @internal */ readonly _minRate: number
  /** @internal */ readonly _maxRate: number
  /** @internal */ readonly _onControlChange: ((event: CcpControlEvent) => void) | undefined
  readonly #controls = new Set<CcpControl>()
  readonly #transport: CcpTransport
  readonly #held = new ReusedList<Uint8Array>()
  #holding = false
  readonly #timer: Timer
  readonly #clock: Clock
  readonly #closeTransport: boolean
  constructor(options: CcpOptions, clock: Clock) {
    this.#transport = options.transport
    this.#clock = clock
    this.#closeTransport = options.closeTransport ?? true
    this.defaultAlgorithm = options.algorithm ?? 'reno'
    const limits = options.limits ?? {}
    this._minCwnd = limits.minCwnd ?? 0
    this._maxCwnd = limits.maxCwnd ?? DEFAULT_MAX_CWND
    this._minRate = limits.minRate ?? DEFAULT_MIN_RATE
    this._maxRate = limits.maxRate ?? Infinity
    this._onControlChange = options.onControlChange
    const origin = clock.now()
    this.datapath = new Datapath<CcpControl>(
      {
        sendMsg: (bytes) => this.#transport.send(bytes),
        now: () => Math.floor(clock.now() - origin),
        setCwnd: (connection, bytes) => connection.context.setCwnd(bytes),
        setRateAbs: (connection, rate) => connection.context.setRate(rate),
        // A CREATE after the first (a new agent) carries the window the flow has now.
        currentCwnd: (connection) => connection.context.window,
      },
      { id: options.id ?? 0, compile: !options.interpret, ...(options.resyncIntervalUs === undefined ? {} : { resyncIntervalUs: options.resyncIntervalUs }) },
    )
    this.#transport.onMessage((bytes) => {
      if (this.#holding) this.#held.push(bytes)
      else this.datapath.receive(bytes)
    })
    this.#timer = clock.createTimer(() => this.#tick())
    this.datapath.start()
  }

  /**
   * Hold the agent's messages that arrive from now on (a synchronous transport delivers them inside a
   * `send`, which the datapath makes while the stack processes a burst) until {@link applyHeld}: the
   * driver applies them after its iteration, so no agent decision lands in the middle of one (decision 0011).
   */
  hold(): void {
    this.#holding = true
  }

  /** Apply the messages held since {@link hold}, in arrival order, and stop holding. @returns how many. */
  applyHeld(): number {
    this.#holding = false
    const held = this.#held
    const count = held.length
    for (let i = 0; i < held.length; i++) this.datapath.receive(held.get(i))
    held.clear()
    return count
  }

  /** A flow started: keep the retry timer running while any flow lives. */
  flowStarted(control: CcpControl): void {
    this.#controls.add(control)
    if (this.#controls.size === 1) this.#timer.arm(this.#clock.now() + RETRY_INTERVAL)
  }

  /** A flow ended. */
  flowEnded(control: CcpControl): void {
    if (this.#controls.delete(control) && this.#controls.size === 0) this.#timer.cancel()
  }

  #tick(): void {
    this.datapath.tick()
    const now = this.#clock.now()
    for (const control of this.#controls) control._checkControl(now)
    if (this.#controls.size > 0) this.#timer.arm(now + RETRY_INTERVAL)
  }

  close(): void {
    this.#timer.cancel()
    if (this.#closeTransport) this.#transport.close()
  }
}

/** The 4-tuple of a connection, host order, as CREATE carries it. */
export interface CcpFlowAddress {
  localIp: number
  localPort: number
  remoteIp: number
  remotePort: number
  /** A connection over IPv6: its 16-byte addresses (CREATE carries them after the algorithm name, decision 0080). */
  localIp6?: Uint8Array | undefined
  remoteIp6?: Uint8Array | undefined
}

/**
 * A connection's congestion control through CCP. The native controller runs alongside on every event, so
 * it has a sensible window whenever the agent is not in control; while the agent is, the window and the
 * pacing rate are the ones its program set.
 */
export class CcpControl implements CongestionControl {
  readonly name = 'ccp'
  readonly #native: CongestionControl
  readonly #ccp: StackCcp
  readonly #address: CcpFlowAddress
  readonly #algorithm: string
  #flow: CcpConnection<CcpControl> | undefined = undefined
  #mss: number
  /** The agent's window and rate; 0 until it sets them, and valid only in the control epoch they were set in. */
  #cwnd = 0
  #rate = 0
  #epoch = -1
  #inControl = false
  readonly #m: Measurements = createMeasurements()
  /** @internal */
  constructor(native: CongestionControl, ccp: StackCcp, address: CcpFlowAddress, algorithm: string, mss: number) {
    this.#native = native
    this.#ccp = ccp
    this.#address = address
    this.#algorithm = algorithm
    this.#mss = mss
  }

  /** Whether the agent governs the flow now (false: the native controller does). */
  get inControl(): boolean {
    return this.#flow !== undefined && this.#flow.inControl
  }

  /** The flow's CCP sid, once it started (the peer's SYN arrived). */
  get sid(): number | undefined {
    return this.#flow?.sid
  }

  /** Whether what the agent set is current: it is in control, and set it since it last was not. */
  #agentValues(): boolean {
    const flow = this.#flow
    return flow !== undefined && flow.inControl && flow.controlEpoch === this.#epoch
  }

  get window(): number {
    return this.#cwnd > 0 && this.#agentValues() ? this.#cwnd : this.#native.window
  }

  get slowStartThreshold(): number {
    return this.#native.slowStartThreshold
  }

  get pacingRate(): number | undefined {
    // Native pacing whenever the agent has not set a rate in this control epoch (issue 17, 4).
    return this.#rate > 0 && this.#agentValues() ? this.#rate : this.#native.pacingRate
  }

  /** Values from an earlier control epoch are a lost agent's: forget them. */
  #syncEpoch(): void {
    const epoch = this.#flow?.controlEpoch ?? -1
    if (epoch !== this.#epoch) {
      this.#epoch = epoch
      this.#cwnd = 0
      this.#rate = 0
    }
  }

  /** The agent's `set_cwnd`, within `limits` (never below two segments). */
  setCwnd(bytes: number): void {
    this.#syncEpoch()
    const ccp = this.#ccp
    const low = Math.max(2 * this.#mss, ccp._minCwnd)
    const value = Math.min(Math.max(bytes, low), ccp._maxCwnd)
    if (value !== bytes && (bytes < ccp._minCwnd || bytes > ccp._maxCwnd)) ccp.stats.cwndClamped++
    this.#cwnd = value
  }

  /** The agent's `set_rate_abs`, bytes/s, within `limits` (0 turns the agent's pacing off). */
  setRate(bytesPerSecond: number): void {
    this.#syncEpoch()
    const ccp = this.#ccp
    let value = bytesPerSecond
    if (value !== 0 && (value < ccp._minRate || value > ccp._maxRate)) {
      value = Math.min(Math.max(value, ccp._minRate), ccp._maxRate)
      ccp.stats.rateClamped++
    }
    this.#rate = value
  }

  /** @internal Tell `onControlChange` when the flow passed between the native controller and the agent. */
  _checkControl(now: Micros): void {
    const flow = this.#flow
    if (flow === undefined) return
    const inControl = flow.inControl
    if (inControl === this.#inControl) return
    this.#inControl = inControl
    const ccp = this.#ccp
    if (inControl) ccp.stats.takeovers++
    else ccp.stats.fallbacks++
    const hook = ccp._onControlChange
    if (hook === undefined) return
    try {
      hook({ sid: flow.sid, flow: this.#address, inControl, at: now })
    } catch {
      // A user callback may throw; the stack does not care.
    }
  }

  /** The MSS is known once the peer's SYN arrived: that is when the flow starts (CREATE carries it). */
  setMss(mss: number): void {
    this.#mss = mss
    this.#native.setMss(mss)
    if (this.#flow === undefined) {
      const a = this.#address
      this.#flow = this.#ccp.datapath.connectionStart(
        {
          initCwnd: this.#native.window,
          mss,
          ...(a.localIp6 !== undefined && a.remoteIp6 !== undefined ? { srcIp: a.localIp6, dstIp: a.remoteIp6 } : { srcIp: a.localIp, dstIp: a.remoteIp }),
          srcPort: a.localPort,
          dstPort: a.remotePort,
          congAlg: this.#algorithm,
        },
        this,
      )
      this.#ccp.flowStarted(this)
    }
  }

  onAck(now: Micros, sample: AckSample): void {
    this.#native.onAck(now, sample)
  }

  onEnterRecovery(now: Micros, bytesInFlight: number, sackRecovery?: boolean): void {
    this.#native.onEnterRecovery(now, bytesInFlight, sackRecovery)
  }

  onDuplicateAck(now: Micros): void {
    this.#native.onDuplicateAck(now)
  }

  onPartialAck(now: Micros, bytesAcked: number): void {
    this.#native.onPartialAck(now, bytesAcked)
  }

  onExitRecovery(now: Micros, bytesInFlight: number): void {
    this.#native.onExitRecovery(now, bytesInFlight)
  }

  /** A timeout invokes the program at once with `was_timeout` set (no ACK carries it). */
  onRetransmitTimeout(now: Micros, bytesInFlight: number): void {
    this.#native.onRetransmitTimeout(now, bytesInFlight)
    const flow = this.#flow
    if (flow === undefined) return
    const m = this.#m
    m.bytesAcked = 0
    m.packetsAcked = 0
    m.bytesMisordered = 0
    m.packetsMisordered = 0
    m.lostPktsSample = 0
    m.ecnBytes = 0
    m.ecnPackets = 0
    m.rttSampleUs = 0
    m.wasTimeout = true
    m.bytesInFlight = bytesInFlight
    m.packetsInFlight = Math.ceil(bytesInFlight / this.#mss)
    m.cwnd = this.window
    m.rate = this.pacingRate ?? 0
    flow.invoke(m)
    this._checkControl(now)
  }

  onIdleRestart(now: Micros): void {
    this.#native.onIdleRestart(now)
  }

  /** A spurious congestion event undone (RFC 3708, RFC 3522): the native fallback's window comes back. */
  onUndo(now: Micros): void {
    this.#native.onUndo?.(now)
  }

  /** Every ACK: the measurements of the flow, then the program (docs/architecture.md, "The path of a packet", step 4). */
  onAckMeasurement(now: Micros, a: Readonly<AckMeasurement>): void {
    const flow = this.#flow
    if (flow === undefined) return
    const m = this.#m
    // The latest delivery-rate sample stands until the next one (an ACK without a sample keeps it). CCP's
    // wire format has no app-limited primitive, so a sample from an application-limited interval, which
    // understates the path, replaces the registers only when it is higher
    // (draft-cheng-iccrg-delivery-rate-estimation §4: such samples bound the rate from below).
    if (a.deliveryRate > 0 && (!a.appLimited || a.deliveryRate > m.rateIncoming)) m.rateIncoming = Math.round(a.deliveryRate)
    if (a.sendRate > 0 && (!a.appLimited || a.sendRate > m.rateOutgoing)) m.rateOutgoing = Math.round(a.sendRate)
    m.bytesAcked = a.bytesAcked
    m.packetsAcked = a.packetsAcked
    m.bytesMisordered = a.bytesSacked
    m.packetsMisordered = a.packetsSacked
    m.lostPktsSample = a.lostPackets
    // RFC 3168 §6.1.2: what an ECN-Echo acknowledged (Ack.ecn_bytes, Ack.ecn_packets), 0 without ECE.
    m.ecnBytes = a.ecnBytes
    m.ecnPackets = a.ecnPackets
    m.rttSampleUs = a.rttSample ?? 0
    m.wasTimeout = false
    m.bytesInFlight = a.bytesInFlight
    m.packetsInFlight = a.packetsInFlight
    m.bytesPending = a.bytesPending
    m.cwnd = this.window
    m.rate = this.pacingRate ?? 0
    flow.invoke(m)
    this._checkControl(now)
  }

  /** The connection ended: close the flow (the close MEASURE). Idempotent. */
  free(): void {
    const flow = this.#flow
    if (flow === undefined) return
    this.#flow = undefined
    flow.free()
    this.#ccp.flowEnded(this)
  }
}
