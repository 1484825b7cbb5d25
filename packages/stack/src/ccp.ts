/**
 * Congestion control through CCP: one {@link Datapath} per stack, and a {@link CcpControl} per connection
 * that feeds the flow's datapath program on every ACK and applies the agent's `set_cwnd` / `set_rate_abs`.
 * Until the agent controls a flow (absent, late, restarting) the connection's native controller governs it.
 * @module
 */
import type { Clock, Micros, Timer } from '@mtcp/dpdk-io'
import { type Connection as CcpConnection, createMeasurements, Datapath, type Measurements } from '@mtcp/libccp'
import type { AckMeasurement, AckSample, CongestionControl } from '@mtcp/tcp-core'

/**
 * What the stack needs from a CCP transport. A `DatapathTransport` from `@mtcp/ccp-ipc` (unix datagram
 * sockets on portus's paths, or the in-process channel) fits.
 */
export interface CcpTransport {
  /** Send one message to the agent: 0 when sent, anything else when the agent is not there. */
  send(bytes: Uint8Array): number
  /** Register the handler of the agent's messages. */
  onMessage(handler: (bytes: Uint8Array) => void): void
  /** Close the transport. */
  close(): void
}

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
}

/** How often READY and CREATE are retried while the agent is absent, µs (as libccp's 100 ms). */
const RETRY_INTERVAL: Micros = 100_000

/** A stack's CCP datapath: the libccp machine, its transport, and the retry timer. */
export class StackCcp {
  readonly datapath: Datapath<CcpControl>
  readonly defaultAlgorithm: string
  readonly #transport: CcpTransport
  readonly #timer: Timer
  readonly #clock: Clock
  readonly #closeTransport: boolean
  #flows = 0

  constructor(options: CcpOptions, clock: Clock) {
    this.#transport = options.transport
    this.#clock = clock
    this.#closeTransport = options.closeTransport ?? true
    this.defaultAlgorithm = options.algorithm ?? 'reno'
    const origin = clock.now()
    this.datapath = new Datapath<CcpControl>(
      {
        sendMsg: (bytes) => this.#transport.send(bytes),
        now: () => Math.floor(clock.now() - origin),
        setCwnd: (connection, bytes) => connection.context.setCwnd(bytes),
        setRateAbs: (connection, rate) => connection.context.setRate(rate),
      },
      { id: options.id ?? 0, compile: !options.interpret },
    )
    this.#transport.onMessage((bytes) => this.datapath.receive(bytes))
    this.#timer = clock.createTimer(() => this.#tick())
    this.datapath.start()
  }

  /** A flow started: keep the retry timer running while any flow lives. */
  flowStarted(): void {
    if (this.#flows++ === 0) this.#timer.arm(this.#clock.now() + RETRY_INTERVAL)
  }

  /** A flow ended. */
  flowEnded(): void {
    if (--this.#flows === 0) this.#timer.cancel()
  }

  #tick(): void {
    this.datapath.tick()
    if (this.#flows > 0) this.#timer.arm(this.#clock.now() + RETRY_INTERVAL)
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
  /** The agent's window and rate; 0 until it sets them. */
  #cwnd = 0
  #rate = 0
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

  get window(): number {
    return this.#cwnd > 0 && this.inControl ? this.#cwnd : this.#native.window
  }

  get slowStartThreshold(): number {
    return this.#native.slowStartThreshold
  }

  get pacingRate(): number | undefined {
    return this.#rate > 0 && this.inControl ? this.#rate : this.#native.pacingRate
  }

  /** The agent's `set_cwnd`: never below two segments. */
  setCwnd(bytes: number): void {
    this.#cwnd = Math.max(bytes, 2 * this.#mss)
  }

  /** The agent's `set_rate_abs`, bytes/s (0 turns the agent's pacing off). */
  setRate(bytesPerSecond: number): void {
    this.#rate = bytesPerSecond
  }

  /** The MSS is known once the peer's SYN arrived: that is when the flow starts (CREATE carries it). */
  setMss(mss: number): void {
    this.#mss = mss
    this.#native.setMss(mss)
    if (this.#flow === undefined) {
      const a = this.#address
      this.#flow = this.#ccp.datapath.connectionStart(
        { initCwnd: this.#native.window, mss, srcIp: a.localIp, srcPort: a.localPort, dstIp: a.remoteIp, dstPort: a.remotePort, congAlg: this.#algorithm },
        this,
      )
      this.#ccp.flowStarted()
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
    m.rttSampleUs = 0
    m.wasTimeout = true
    m.bytesInFlight = bytesInFlight
    m.packetsInFlight = Math.ceil(bytesInFlight / this.#mss)
    m.cwnd = this.window
    m.rate = this.pacingRate ?? 0
    flow.invoke(m)
  }

  onIdleRestart(now: Micros): void {
    this.#native.onIdleRestart(now)
  }

  /** Every ACK: the measurements of the flow, then the program (docs/architecture.md, "The path of a packet", step 4). */
  onAckMeasurement(now: Micros, a: Readonly<AckMeasurement>): void {
    const flow = this.#flow
    if (flow === undefined) return
    const m = this.#m
    // The latest delivery-rate sample stands until the next one (an ACK without a sample keeps it).
    if (a.deliveryRate > 0) m.rateIncoming = Math.round(a.deliveryRate)
    if (a.sendRate > 0) m.rateOutgoing = Math.round(a.sendRate)
    m.bytesAcked = a.bytesAcked
    m.packetsAcked = a.packetsAcked
    m.bytesMisordered = a.bytesSacked
    m.packetsMisordered = a.packetsSacked
    m.lostPktsSample = a.lostPackets
    m.rttSampleUs = a.rttSample ?? 0
    m.wasTimeout = false
    m.bytesInFlight = a.bytesInFlight
    m.packetsInFlight = a.packetsInFlight
    m.bytesPending = a.bytesPending
    m.cwnd = this.window
    m.rate = this.pacingRate ?? 0
    flow.invoke(m)
  }

  /** The connection ended: close the flow (the close MEASURE). Idempotent. */
  free(): void {
    const flow = this.#flow
    if (flow === undefined) return
    this.#flow = undefined
    flow.free()
    this.#ccp.flowEnded()
  }
}
