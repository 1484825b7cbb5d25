/**
 * Per-worker CCP over unix sockets. The main thread binds each worker's socket (when this was written
 * `@mtcp/ccp-ipc`'s unix transport could run only there; since decision 0021 it runs in workers too),
 * `<dir>/<name>-w<index>`, and relays datagrams to and from that worker over a MessagePort. Each
 * worker still has its own datapath (libccp, its own flows and programs) and its own IPC address; only
 * the agent's messages (READY, CREATE, reports, program installs) pass through the main thread, never
 * the per-ACK work.
 *
 * `send` must answer at once whether the agent is there (0, or a negative code): the worker's side
 * answers with the result of its previous send, which the main thread reports back. So the datapath
 * learns that the agent left one message late (and that it returned, one message late).
 * @module
 */
import type { MessagePort } from 'node:worker_threads'
import type { CcpTransport } from '@mtcp/libccp'
import { ClusterError } from './errors.js'
import type { ClusterCcpOptions } from './options.js'
import { workerCcpName } from './options.js'


/** main → worker on the relay port. */
type RelayMessage = { type: 'message'; bytes: Uint8Array } | { type: 'status'; code: number }

/** @internal Main thread: open worker `index`'s unix datapath socket and relay it over `port`. */
export async function openCcpRelay(options: ClusterCcpOptions, index: number, port: MessagePort): Promise<() => void> {
  let ipc: { openUnixDatapath(options: { dir?: string; name: string; agent?: string }): CcpTransport; isPeerAbsent(result: number): boolean }
  try {
    const name = '@mtcp/ccp-ipc' // a variable: an optional package, left to run time
    ipc = (await import(name)) as typeof ipc
  } catch (error) {
    throw new ClusterError('ERR_CCP_UNAVAILABLE', 'the ccp option needs @mtcp/ccp-ipc (npm i @mtcp/ccp-ipc), or a ccpTransport export in the worker module', { cause: error })
  }
  const transport = ipc.openUnixDatapath({
    name: workerCcpName(options.name, index),
    ...(options.dir === undefined ? {} : { dir: options.dir }),
    ...(options.agent === undefined ? {} : { agent: options.agent }),
  })
  let last = 0
  transport.onMessage((bytes) => port.postMessage({ type: 'message', bytes: Uint8Array.from(bytes) } satisfies RelayMessage))
  port.on('message', (bytes: unknown) => {
    if (!(bytes instanceof Uint8Array)) return
    // Only the agent's absence is relayed: the worker learns it one message late, and a full queue (EAGAIN)
    // reported then would make its datapath take the *next* message, which went, for dropped (issue 17).
    const result = transport.send(bytes)
    const code = result !== 0 && ipc.isPeerAbsent(result) ? result : 0
    if (code !== last) {
      last = code
      port.postMessage({ type: 'status', code } satisfies RelayMessage)
    }
  })
  return () => {
    port.close()
    transport.close()
  }
}

/** @internal Worker: the datapath's end of the relay. */
export class RelayedCcpTransport implements CcpTransport {
  readonly #port: MessagePort
  #status = 0
  #handler: ((bytes: Uint8Array) => void) | undefined = undefined

  constructor(port: MessagePort) {
    this.#port = port
    port.on('message', (message: RelayMessage) => {
      if (message?.type === 'message' && message.bytes instanceof Uint8Array) this.#handler?.(message.bytes)
      else if (message?.type === 'status' && typeof message.code === 'number') this.#status = message.code
    })
  }

  /** Queue `bytes` for the agent. @returns the result of the previous send (0 = the agent was there). */
  send(bytes: Uint8Array): number {
    this.#port.postMessage(bytes)
    return this.#status
  }

  onMessage(handler: ((bytes: Uint8Array) => void) | undefined): void {
    this.#handler = handler
  }

  close(): void {
    this.#port.close()
  }
}
