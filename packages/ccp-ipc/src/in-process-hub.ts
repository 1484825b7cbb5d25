/**
 * An in-process channel with the unix transport's interface: for tests, and for an agent embedded in the
 * same process as its datapath. Same checks, same return codes, same stats; no sockets, no addon.
 * @module
 */
import { AGENT_TO_DATAPATH_MAX_BYTES, checkDatagram, DATAPATH_TO_AGENT_MAX_BYTES } from './datagram-check.js'
import { CcpIpcError } from './errors.js'
import { SendResult } from './errno.js'
import { createStats, deliverToHandler, type TransportStats } from './stats.js'
import { type AgentMessageHandler, type AgentTransport, type DatapathMessageHandler, type DatapathTransport, DEFAULT_AGENT_NAME } from './transport.js'

/** Options of {@link InProcessHub}. */
export interface InProcessHubOptions {
  /**
   * Deliver inside `send` instead of on a microtask. For deterministic tests on a virtual clock: when `send`
   * returns, the message and everything sent in answer to it (transitively) have been delivered. A message
   * sent while another is being delivered waits until that delivery returns, so handlers never nest.
   * Default `false`.
   */
  synchronous?: boolean
  /**
   * Called when a handler throws. The default rethrows on a microtask (an uncaught exception, as a throwing
   * event listener would be), so that `send` itself never throws and the other deliveries still happen.
   */
  onHandlerError?: (error: unknown) => void
}

/** Options of {@link InProcessHub.datapath}. */
export interface InProcessDatapathOptions {
  /** The agent's name on this hub. Default `'portus'`. */
  agent?: string
}

/**
 * A set of named endpoints in one process: `hub.agent()` is the agent (`'portus'` by default),
 * `hub.datapath(name)` a datapath sending to it. Messages are copied on send (the sender may reuse its
 * buffer) and delivered in send order, asynchronously on a microtask by default, or inside `send` with
 * `{ synchronous: true }`. A send to a name nobody holds returns `ENOENT`, as the unix transport does; a
 * closed endpoint's name can be taken again (an agent restart).
 */
export class InProcessHub {
  /** Whether delivery happens inside `send` (see {@link InProcessHubOptions.synchronous}). */
  readonly synchronous: boolean
  readonly #onHandlerError: (error: unknown) => void
  readonly #endpoints = new Map<string, HubEndpoint>()
  // The delivery queue, as parallel arrays read from `#head`: no object per message.
  readonly #targets: HubEndpoint[] = []
  readonly #payloads: Uint8Array[] = []
  readonly #senders: string[] = []
  #head = 0
  #draining = false
  #scheduled = false
  readonly #drain = (): void => this.#deliverQueued()

  constructor(options: InProcessHubOptions = {}) {
    const synchronous = options?.synchronous ?? false
    if (typeof synchronous !== 'boolean') {
      throw new CcpIpcError('ERR_INVALID_ARG', `synchronous must be true or false, got ${String(synchronous)}`)
    }
    this.synchronous = synchronous
    this.#onHandlerError =
      options?.onHandlerError ??
      ((error) =>
        queueMicrotask(() => {
          throw error
        }))
  }

  /** Open a datapath named `name`, sending to the agent named `options.agent` (default `'portus'`). Throws `EADDRINUSE` if the name is held. */
  datapath(name: string, options: InProcessDatapathOptions = {}): DatapathTransport {
    const agent = checkHubName('agent', options?.agent ?? DEFAULT_AGENT_NAME)
    const endpoint = new InProcessDatapath(this, checkHubName('name', name), agent)
    this.#register(endpoint)
    return endpoint
  }

  /** Open the agent named `name` (default `'portus'`). Throws `EADDRINUSE` while another open endpoint holds the name. */
  agent(name: string = DEFAULT_AGENT_NAME): AgentTransport {
    const endpoint = new InProcessAgent(this, checkHubName('name', name))
    this.#register(endpoint)
    return endpoint
  }

  #register(endpoint: HubEndpoint): void {
    if (this.#endpoints.has(endpoint.address)) {
      throw new CcpIpcError('EADDRINUSE', `the name ${JSON.stringify(endpoint.address)} is already open on this hub: close it first or choose another`)
    }
    this.#endpoints.set(endpoint.address, endpoint)
  }

  /** @internal */
  release(endpoint: HubEndpoint): void {
    if (this.#endpoints.get(endpoint.address) === endpoint) this.#endpoints.delete(endpoint.address)
  }

  /** Check, copy and queue one message from `sender` to the endpoint named `to`. @internal */
  route(sender: HubEndpoint, to: string, bytes: Uint8Array, limit: number): number {
    const stats = sender.stats
    if (!(bytes instanceof Uint8Array)) {
      stats.dropped.malformed++
      return SendResult.EINVAL
    }
    const problem = checkDatagram(bytes, limit)
    if (problem !== undefined) {
      stats.dropped[problem]++
      return problem === 'oversized' ? SendResult.EMSGSIZE : SendResult.EINVAL
    }
    if (sender.closed) {
      stats.sendFailed++
      return SendResult.EBADF
    }
    // The target is fixed now: a datagram queued to an endpoint that closes before delivery is lost, as with a socket.
    const target = this.#endpoints.get(to)
    if (target === undefined) {
      stats.sendFailed++
      return SendResult.ENOENT
    }
    this.#targets.push(target)
    this.#payloads.push(bytes.slice()) // the sender may reuse its buffer once send returns
    this.#senders.push(sender.address)
    stats.sent++
    if (this.synchronous) {
      if (!this.#draining) this.#deliverQueued()
    } else if (!this.#scheduled && !this.#draining) {
      this.#scheduled = true
      queueMicrotask(this.#drain)
    }
    return 0
  }

  #handlerFailed(error: unknown): void {
    try {
      this.#onHandlerError(error)
    } catch (thrown) {
      queueMicrotask(() => {
        throw thrown
      })
    }
  }

  #deliverQueued(): void {
    this.#scheduled = false
    if (this.#draining) return
    this.#draining = true
    try {
      // Handlers may send: their messages join the end of the queue and are delivered in this same loop.
      while (this.#head < this.#targets.length) {
        const index = this.#head++
        const target = this.#targets[index]!
        const payload = this.#payloads[index]!
        const from = this.#senders[index]!
        try {
          target.receive(payload, from)
        } catch (error) {
          this.#handlerFailed(error)
        }
      }
    } finally {
      this.#targets.length = 0
      this.#payloads.length = 0
      this.#senders.length = 0
      this.#head = 0
      this.#draining = false
    }
  }
}

/** What the hub needs of an endpoint. @internal */
abstract class HubEndpoint {
  readonly stats: TransportStats = createStats()
  closed = false

  constructor(
    protected readonly hub: InProcessHub,
    readonly address: string,
    readonly receiveLimit: number,
  ) {}

  /** Check, count and hand one message to the handler. */
  receive(bytes: Uint8Array, from: string): void {
    if (this.closed) return
    const problem = checkDatagram(bytes, this.receiveLimit)
    if (problem !== undefined) {
      this.stats.dropped[problem]++
      return
    }
    this.handle(bytes, from)
  }

  protected abstract handle(bytes: Uint8Array, from: string): void

  close(): void {
    if (this.closed) return
    this.closed = true
    this.hub.release(this)
  }
}

class InProcessDatapath extends HubEndpoint implements DatapathTransport {
  #handler: DatapathMessageHandler | undefined

  constructor(
    hub: InProcessHub,
    name: string,
    readonly agentName: string,
  ) {
    super(hub, name, AGENT_TO_DATAPATH_MAX_BYTES)
  }

  send(bytes: Uint8Array): number {
    return this.hub.route(this, this.agentName, bytes, DATAPATH_TO_AGENT_MAX_BYTES)
  }

  onMessage(handler: DatapathMessageHandler | undefined): void {
    this.#handler = handler
  }

  protected handle(bytes: Uint8Array, from: string): void {
    deliverToHandler(this.stats, this.#handler, bytes, from)
  }
}

class InProcessAgent extends HubEndpoint implements AgentTransport {
  #handler: AgentMessageHandler | undefined

  constructor(hub: InProcessHub, name: string) {
    super(hub, name, DATAPATH_TO_AGENT_MAX_BYTES)
  }

  sendTo(address: string, bytes: Uint8Array): number {
    if (typeof address !== 'string' || address.length === 0) {
      this.stats.sendFailed++
      return SendResult.EINVAL
    }
    return this.hub.route(this, address, bytes, AGENT_TO_DATAPATH_MAX_BYTES)
  }

  onMessage(handler: AgentMessageHandler | undefined): void {
    this.#handler = handler
  }

  protected handle(bytes: Uint8Array, from: string): void {
    deliverToHandler(this.stats, this.#handler, bytes, from)
  }
}

function checkHubName(option: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new CcpIpcError('ERR_INVALID_ARG', `${option} must be a non-empty string, got ${JSON.stringify(name)}`)
  }
  return name
}
