/**
 * CCP for a perf run: the one place that turns `--cc ccp:<alg>` and `--ccp-agent embedded|external` into
 * stack options (docs/decisions/0007-ccp-package-interfaces.md): `StackOptions.ccp = { transport,
 * algorithm }` and `congestionControl: 'ccp:<alg>'` for the stack's connections, with either
 *
 * - `embedded`: an `InProcessHub` from `@mtcp/ccp-ipc`, the stack on `hub.datapath(name)` and an `Agent`
 *   from `@mtcp/ccp-agent` on `hub.agent()`, both in this process; or
 * - `external`: `openUnixDatapath({ dir, name, agent: 'portus' })`, talking to portus or `mtcp-ccp` on
 *   portus's unix socket paths under `dir`.
 * @module
 */
import type { Clock } from '@mtcp/dpdk-io'
import { Agent } from '@mtcp/ccp-agent'
import { InProcessHub, openUnixDatapath } from '@mtcp/ccp-ipc'
import type { CcpTransport, StackOptions } from '@mtcp/stack'

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
  /** Merged into the sending stack's options: `ccp` (transport, algorithm) and `congestionControl`. */
  stackOptions: Pick<StackOptions, 'ccp' | 'congestionControl'>
  /** A short description for the output, e.g. `'CCP reno (embedded agent)'`. */
  description: string
  /** Stop the embedded agent / close the transport (after the stack has stopped). */
  close(): Promise<void>
}

/**
 * Set up CCP for one stack: the embedded TypeScript agent on an in-process channel (synchronous, so a
 * virtual clock stays deterministic), or a unix datagram socket to an external agent.
 * @throws `CcpIpcError` from `@mtcp/ccp-ipc` when the unix socket cannot be opened (no unix-dgram addon,
 * a live process on our path, …).
 */
export async function createCcp(options: CcpSetupOptions): Promise<CcpSetup> {
  const stackOptions = (transport: CcpTransport): CcpSetup['stackOptions'] => ({
    ccp: { transport, algorithm: options.algorithm },
    congestionControl: `ccp:${options.algorithm}`,
  })
  if (options.agent === 'embedded') {
    const hub = new InProcessHub({ synchronous: true })
    // The agent's algorithms (Reno, Cubic, BBR) read time from the stack's clock.
    const agent = new Agent({ transport: hub.agent(), now: () => options.clock.now() })
    agent.start()
    return {
      stackOptions: stackOptions(hub.datapath(options.name)),
      description: `CCP ${options.algorithm} (embedded agent)`,
      close: async () => agent.close(),
    }
  }
  const transport = openUnixDatapath({ dir: options.dir, name: options.name, agent: 'portus' })
  return {
    stackOptions: stackOptions(transport),
    description: `CCP ${options.algorithm} (agent at ${options.dir}/portus)`,
    close: async () => {}, // the stack closes its transport when it stops
  }
}
