/**
 * The two ends of a CCP connection, as fixed in docs/decisions/0007-ccp-package-interfaces.md.
 * @module
 */
import type { CcpTransport } from '@mtcp/libccp'
import type { TransportStats } from './stats.js'

/** The agent's name: portus binds `/tmp/ccp/portus`; an {@link InProcessHub}'s agent is `'portus'` too unless named. */
export const DEFAULT_AGENT_NAME = 'portus'

/** A log hook: optional everywhere; the transports only log rare events (a loose directory, a replaced socket). */
export type LogHook = (level: 'debug' | 'info' | 'warn' | 'error', message: string, detail?: Record<string, unknown>) => void

/** Receives each datagram from the agent. The bytes are the handler's to keep (each delivery is its own copy). */
export type DatapathMessageHandler = (bytes: Uint8Array) => void

/** Receives each datagram sent to the agent, with the sender's address (answer there with `sendTo`). */
export type AgentMessageHandler = (bytes: Uint8Array, from: string) => void

/**
 * The datapath's end: one per datapath (one per stack instance). Sends to one agent, receives from it.
 * It is the `CcpTransport` of `@mtcp/libccp` (what a datapath and `@mtcp/stack` take) with an address and counters.
 */
export interface DatapathTransport extends CcpTransport {
  /** This datapath's own address: the bound socket path (unix) or the name (in-process). The agent sees it as `from`. */
  readonly address: string
  /**
   * Send one CCP message to the agent. Returns 0 when it is in the agent's queue, else a negative errno
   * value ({@link SendResult}): `ENOENT` / `ECONNREFUSED` when the agent is not there, `EAGAIN` when its
   * queue is full, `EMSGSIZE` over 1024 bytes, `EINVAL` for a malformed header, `EBADF` once closed.
   * Never throws, never waits. The caller may reuse `bytes` as soon as it returns.
   */
  send(bytes: Uint8Array): number
  /** Set (or, with `undefined`, clear) the one handler for datagrams from the agent. */
  onMessage(handler: DatapathMessageHandler | undefined): void
  /** Stop receiving and release the address (the unix transport unlinks its socket file). Idempotent. */
  close(): void
  /** Counters, updated in place. */
  readonly stats: TransportStats
}

/**
 * The agent's end: receives from any number of datapaths, answers each at its address.
 */
export interface AgentTransport {
  /** The agent's address: the bound socket path (unix) or the name (in-process). */
  readonly address: string
  /**
   * Send one CCP message to the datapath at `address` (a `from` seen by the handler). Same return codes as
   * {@link DatapathTransport.send}; the size limit this way is 32678 bytes. Never throws, never waits.
   */
  sendTo(address: string, bytes: Uint8Array): number
  /** Set (or, with `undefined`, clear) the one handler for datagrams from datapaths. */
  onMessage(handler: AgentMessageHandler | undefined): void
  /** Stop receiving and release the address. Idempotent. */
  close(): void
  /** Counters, updated in place. */
  readonly stats: TransportStats
}
