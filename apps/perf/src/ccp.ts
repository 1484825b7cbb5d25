/**
 * CCP for a perf run: the one place that turns `--cc ccp:<alg>` and `--ccp-agent embedded|external` into
 * stack options (docs/decisions/0007-ccp-package-interfaces.md): `StackOptions.ccp = { transport,
 * algorithm }` and `congestionControl: 'ccp:<alg>'` for the stack's connections, with either
 *
 * - `embedded`: an `InProcessHub` from `@mtcp/ccp-ipc`, the stack on `hub.datapath(name)` and an `Agent`
 *   from `@mtcp/ccp-agent` on `hub.agent()`, both in this process; or
 * - `external`: `openUnixDatapath({ dir, name, agent: 'portus' })`, talking to portus or `mtcp-ccp` on
 *   portus's unix socket paths under `dir`. An external agent runs on the real clock, so the stack must
 *   too: `--clock virtual` with `--ccp-agent external` is refused ({@link ccpClockProblem}).
 *
 * It also keeps the run's controller timeline: when the agent took the flow over and when it was lost,
 * and the share of the run each controller had ({@link CcpTimeline}), for the text output, `--json` and
 * the report.
 * @module
 */
import type { Clock, Micros } from '@mtcp/dpdk-io'
import { Agent, Bbr, Cubic, Reno } from '@mtcp/ccp-agent'
import { InProcessHub, openUnixDatapath } from '@mtcp/ccp-ipc'
import type { CcpControlEvent, CcpTransport, StackOptions } from '@mtcp/stack'

/**
 * The algorithms `--cc ccp:<alg>` accepts: the embedded agent's, which are also what portus ships (its
 * binaries `reno`, `cubic`, `bbr`) and what `mtcp-ccp` runs.
 */
export const CCP_ALGORITHMS: readonly string[] = Object.freeze([new Reno(), new Cubic(), new Bbr()].map((algorithm) => algorithm.name))

/** Why `algorithm` is not a CCP algorithm perf can ask for, or undefined when it is. */
export function ccpAlgorithmProblem(algorithm: string): string | undefined {
  if (CCP_ALGORITHMS.includes(algorithm)) return undefined
  return `--cc ccp:${algorithm}: unknown CCP algorithm '${algorithm}'; known: ${CCP_ALGORITHMS.map((name) => `ccp:${name}`).join(', ')}`
}

/**
 * Why a clock cannot serve an agent, or undefined. An external agent lives on the real clock: on the
 * virtual clock (ten times faster or more) its answers come late by the stack's measure, so the run would
 * be neither the agent's nor real (issue 17, 1).
 */
export function ccpClockProblem(agent: 'embedded' | 'external', clock: 'virtual' | 'real', clockGiven: boolean): string | undefined {
  if (agent !== 'external' || clock === 'real') return undefined
  return clockGiven
    ? '--clock virtual cannot drive --ccp-agent external: an external agent runs in real time; use --clock real (the default with an external agent)'
    : undefined
}

/** One change of controller, seconds from the start of the connection. */
export interface CcpTimelineEvent {
  /** Seconds since the connection was set up. */
  t: number
  /** `'agent'`: the agent took the flow over; `'native'`: it was lost (or not there yet) and the stack's own controller governs. */
  controller: 'agent' | 'native'
}

/** Which controller governed the run, and for how long. */
export interface CcpControlSummary {
  /** The changes, in order. */
  events: CcpTimelineEvent[]
  /** Share of the transfer under the agent, in [0, 1]. */
  agentShare: number
  /** Share of the transfer under the stack's native controller, in [0, 1]. */
  nativeShare: number
  /** The seconds the shares are of. */
  seconds: number
}

/** Records the flow's changes of controller (through `StackOptions.ccp.onControlChange`). */
export class CcpTimeline {
  readonly #events: Array<{ at: Micros; inControl: boolean }> = []
  /** Called with each change as it happens. */
  onChange: ((event: CcpTimelineEvent) => void) | undefined
  #origin: Micros | undefined

  /** The stack's hook. */
  readonly hook = (event: CcpControlEvent): void => {
    this.#events.push({ at: event.at, inControl: event.inControl })
    if (this.#origin !== undefined) this.onChange?.({ t: (event.at - this.#origin) / 1e6, controller: event.inControl ? 'agent' : 'native' })
  }

  /** Times are counted from here (the connection set up); earlier changes are reported at 0. */
  start(origin: Micros): void {
    this.#origin = origin
    for (const event of this.#events) this.onChange?.({ t: Math.max(0, (event.at - origin) / 1e6), controller: event.inControl ? 'agent' : 'native' })
  }

  /** The changes and shares between the start and `end` (µs on the stack's clock). */
  summary(end: Micros): CcpControlSummary {
    const origin = this.#origin ?? end
    const total = Math.max(0, end - origin)
    let agent = 0
    let inControl = false
    let since = origin
    const events: CcpTimelineEvent[] = []
    for (const event of this.#events) {
      const at = Math.min(Math.max(event.at, origin), end)
      if (inControl) agent += at - since
      since = at
      inControl = event.inControl
      events.push({ t: (at - origin) / 1e6, controller: event.inControl ? 'agent' : 'native' })
    }
    if (inControl) agent += end - since
    const agentShare = total > 0 ? agent / total : 0
    return { events, agentShare, nativeShare: total > 0 ? 1 - agentShare : 1, seconds: total / 1e6 }
  }
}

/** The summary as one line: `agent 97.3%, native 2.7% of 10.00 s (agent from 0.01 s)`. */
export function formatControlSummary(summary: CcpControlSummary): string {
  const changes = summary.events.map((event) => `${event.controller === 'agent' ? 'agent took over' : 'agent lost'} at ${event.t.toFixed(2)} s`)
  const shares = `agent ${(summary.agentShare * 100).toFixed(1)}%, native ${(summary.nativeShare * 100).toFixed(1)}% of ${summary.seconds.toFixed(2)} s`
  return changes.length === 0 ? `${shares} (the agent never took the flow over)` : `${shares} (${changes.join('; ')})`
}

/** What {@link createCcp} needs. */
export interface CcpSetupOptions {
  /** The algorithm the agent runs for the flow, e.g. `'reno'` (sent in CREATE). */
  algorithm: string
  /** The TypeScript agent in this process, or an agent on unix sockets (portus, `mtcp-ccp`). */
  agent: 'embedded' | 'external'
  /** Unix socket directory of an external agent (portus's default `/tmp/ccp`). */
  dir: string
  /** Name of this datapath's socket (unique per process: one datapath per stack). */
  name: string
  /** The stack's clock: the embedded agent must read time from it (a virtual clock on the emulated link). */
  clock: Clock
}

/** CCP, set up: options to merge into the stack's, and how to take it down. */
export interface CcpSetup {
  /** Merged into the sending stack's options: `ccp` (transport, algorithm, the timeline's hook) and `congestionControl`. */
  stackOptions: Pick<StackOptions, 'ccp' | 'congestionControl'>
  /** The flow's changes of controller. */
  timeline: CcpTimeline
  /** A short description for the output, e.g. `'CCP reno (embedded agent)'`. */
  description: string
  /** Stop the embedded agent / close the transport (after the stack has stopped). */
  close(): Promise<void>
}

/**
 * Set up CCP for one stack: the embedded TypeScript agent on an in-process channel (synchronous, so a
 * virtual clock stays deterministic), or a unix datagram socket to an external agent.
 * @throws `CcpIpcError` from `@mtcp/ccp-ipc` when the unix socket cannot be opened (no @mtcp/unix-dgram-native addon, a socket directory others may write in,
 * a live process on our path, …).
 */
export async function createCcp(options: CcpSetupOptions): Promise<CcpSetup> {
  const timeline = new CcpTimeline()
  const stackOptions = (transport: CcpTransport): CcpSetup['stackOptions'] => ({
    ccp: { transport, algorithm: options.algorithm, onControlChange: timeline.hook },
    congestionControl: `ccp:${options.algorithm}`,
  })
  if (options.agent === 'embedded') {
    const hub = new InProcessHub({ synchronous: true })
    // The agent's algorithms (Reno, Cubic, BBR) read time from the stack's clock.
    const agent = new Agent({ transport: hub.agent(), now: () => options.clock.now() })
    agent.start()
    return {
      stackOptions: stackOptions(hub.datapath(options.name)),
      timeline,
      description: `CCP ${options.algorithm} (embedded agent)`,
      close: async () => agent.close(),
    }
  }
  const transport = openUnixDatapath({ dir: options.dir, name: options.name, agent: 'portus' })
  return {
    stackOptions: stackOptions(transport),
    timeline,
    description: `CCP ${options.algorithm} (agent at ${options.dir}/portus)`,
    close: async () => {}, // the stack closes its transport when it stops
  }
}
