/**
 * Many cores: N worker threads, each with its own stack on its own queue of the link, flows spread by
 * the kernel (AF_PACKET fanout, multi-queue TAP) or by a Toeplitz hash (the memory backend), as mTCP ran
 * one stack per core with RSS. The main thread starts the workers, forwards nothing on the packet path,
 * and answers for the cluster: stats, calls into the workers' applications, crash and exit events.
 * @module
 */
import { EventEmitter } from 'node:events'
import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads'
import { createPortStats, type DpdkQueues, startDpdkQueues } from '@mtcp/dpdk-io'
import { createStackStats, type StackStats } from '../stats.js'
import { openCcpRelay } from './ccp-relay.js'
import { ClusterError } from './errors.js'
import { SYMMETRIC_RSS_KEY } from './flow-hash.js'
import { createMultiQueueLink, type HostPort, type MultiQueueLink } from './multi-queue-link.js'
import { type ClusterOptions, resolveClusterOptions } from './options.js'
import { type ClusterStats, deserializeError, type FromWorker, type ToWorker, type WorkerInit, type WorkerPortInit, type WorkerStats } from './protocol.js'

/** The worker entry, built beside this module. */
const WORKER_ENTRY = new URL('./cluster-worker.js', import.meta.url)

/** State of one worker, as {@link Cluster.state} reports it. */
export type WorkerState = 'starting' | 'running' | 'crashed' | 'exited'

interface Pending {
  resolve(value: unknown): void
  reject(error: Error): void
}

/** Events of a {@link Cluster}. */
export interface ClusterEvents {
  /** Worker `index`'s application threw (uncaught exception or unhandled rejection). Its stack was stopped; a stack with no sockets now answers its flows with resets. The other workers keep running. */
  workerError: [index: number, error: Error]
  /** Worker `index`'s thread ended while the cluster was running (`code` its exit code). Its share of new flows moves to the others. */
  workerExit: [index: number, code: number]
}

/**
 * A running cluster. Create with {@link createCluster}; {@link close} when done.
 */
export class Cluster extends EventEmitter<ClusterEvents> {
  /** How many workers were started. */
  readonly workers: number
  /** The far end of the memory backend's link (a peer's port, in this thread); undefined on the kernel backends. */
  readonly host: HostPort | undefined
  readonly #link: MultiQueueLink | undefined
  readonly #threads: Worker[]
  readonly #states: WorkerState[]
  readonly #pending = new Map<number, Pending>()
  /** Requests per worker, to fail them if it exits. */
  readonly #pendingByWorker: Set<number>[]
  /** Main-thread resources to release at close (CCP relays). */
  readonly #closers: (() => void)[]
  /** The DPDK device the workers' queues belong to (dpdk backend). */
  readonly #device: DpdkQueues | undefined
  #nextId = 1
  #closing = false
  #closed = false

  /** @internal */
  constructor(workers: number, threads: Worker[], link: MultiQueueLink | undefined, closers: (() => void)[] = [], device?: DpdkQueues) {
    super()
    this.#closers = closers
    this.#device = device
    this.workers = workers
    this.#threads = threads
    this.#link = link
    this.host = link?.host
    this.#states = threads.map(() => 'starting')
    this.#pendingByWorker = threads.map(() => new Set())
    threads.forEach((thread, index) => {
      thread.on('message', (message: FromWorker) => this.#onMessage(index, message))
      thread.on('error', (error) => this.#onThreadError(index, error))
      thread.on('exit', (code) => this.#onExit(index, code))
    })
  }

  /** The state of worker `index`. */
  state(index: number): WorkerState {
    const state = this.#states[index]
    if (state === undefined) throw new ClusterError('ERR_INVALID_CONFIG', `no worker ${index} (the cluster has ${this.workers})`)
    return state
  }

  /** Counters of every worker (its stack, port and steering) and their sums. Workers that exited are left out of the sums. */
  async stats(): Promise<ClusterStats> {
    if (this.#closing) throw new ClusterError('ERR_CLUSTER_CLOSED', 'the cluster is closed')
    const answers = await Promise.all(
      this.#threads.map((_, index) =>
        this.#states[index] === 'exited' ? Promise.resolve(undefined) : (this.#request(index, { op: 'stats' }) as Promise<WorkerStats>).catch(() => undefined),
      ),
    )
    const workers: WorkerStats[] = []
    const totals = createStackStats()
    let sockets = 0
    answers.forEach((answer, index) => {
      if (answer === undefined) {
        workers.push(exitedStats(index))
        return
      }
      workers.push(answer)
      addInto(totals as unknown as Counters, answer.stack as unknown as Counters)
      sockets += answer.sockets
    })
    return { workers, totals, sockets }
  }

  /**
   * The dpdk backend: the device's extended statistics by name, as its driver names them (per queue:
   * `rx_q<i>_packets`, `tx_q<i>_packets`, …; queue `i` is worker `i`'s). Undefined on the other backends.
   */
  deviceStats(): Record<string, number> | undefined {
    if (this.#closing) throw new ClusterError('ERR_CLUSTER_CLOSED', 'the cluster is closed')
    return this.#device?.deviceStats()
  }

  /**
   * Call `method` of every live worker's application (the object its function returned) with `args`.
   * @returns the results by worker index (`undefined` for a worker that exited).
   * @throws `ERR_NO_SUCH_METHOD`, `ERR_WORKER_METHOD` (the method threw), `ERR_CLUSTER_CLOSED`.
   */
  async invoke(method: string, ...args: unknown[]): Promise<unknown[]> {
    return Promise.all(this.#threads.map((_, index) => (this.#states[index] === 'exited' ? undefined : this.invokeOn(index, method, ...args))))
  }

  /** Call `method` of worker `index`'s application. @throws as {@link invoke}, and `ERR_WORKER_GONE`. */
  async invokeOn(index: number, method: string, ...args: unknown[]): Promise<unknown> {
    this.state(index)
    return this.#request(index, { op: 'invoke', method, args })
  }

  /**
   * Close: every worker runs its `onClose` callbacks, stops its stack and closes its port; then the
   * threads end. A worker that has not finished after `timeout` ms (default 5000) is terminated anyway.
   * Idempotent.
   */
  async close(options: { timeout?: number } = {}): Promise<void> {
    if (this.#closing) return
    this.#closing = true
    const timeout = options.timeout ?? 5000
    await Promise.all(
      this.#threads.map(async (thread, index) => {
        if (this.#states[index] !== 'exited') {
          let timer: NodeJS.Timeout | undefined
          await Promise.race([this.#request(index, { op: 'close' }, true).catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, timeout)))])
          clearTimeout(timer)
        }
        await thread.terminate()
      }),
    )
    this.host?.close()
    // The workers closed their queues: the device stops now (the EAL and mempools stay for the process).
    this.#device?.stop()
    for (const close of this.#closers) close()
    this.#closed = true
  }

  /** @internal Send a command with no answer. */
  post(index: number, message: ToWorker): void {
    if (this.#states[index] !== 'exited') this.#threads[index]!.postMessage(message)
  }

  /** @internal Wait for `type` from worker `index` (startup). */
  waitFor(index: number, type: 'opened' | 'started'): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      const thread = this.#threads[index]!
      const onMessage = (message: FromWorker): void => {
        if (message.type === type) {
          done()
          if (type === 'started' && this.#states[index] === 'starting') this.#states[index] = 'running'
          resolve(message)
        } else if (message.type === 'failed') {
          done()
          reject(new ClusterError('ERR_WORKER_START', `worker ${index} failed to ${message.stage === 'open' ? 'open its port' : 'start'}: ${message.error.message}`, { cause: deserializeError(message.error) }))
        }
      }
      const onExit = (code: number): void => {
        done()
        reject(new ClusterError('ERR_WORKER_START', `worker ${index} exited with code ${code} while starting`))
      }
      const onError = (error: Error): void => {
        done()
        reject(new ClusterError('ERR_WORKER_START', `worker ${index} failed while starting: ${error.message}`, { cause: error }))
      }
      const done = (): void => {
        thread.off('message', onMessage)
        thread.off('exit', onExit)
        thread.off('error', onError)
      }
      thread.on('message', onMessage)
      thread.on('exit', onExit)
      thread.on('error', onError)
    })
  }

  #request(index: number, body: { op: 'stats' } | { op: 'invoke'; method: string; args: unknown[] } | { op: 'close' }, closing = false): Promise<unknown> {
    if ((this.#closing && !closing) || this.#closed) return Promise.reject(new ClusterError('ERR_CLUSTER_CLOSED', 'the cluster is closed'))
    if (this.#states[index] === 'exited') return Promise.reject(new ClusterError('ERR_WORKER_GONE', `worker ${index} has exited`))
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#pendingByWorker[index]!.add(id)
      this.#threads[index]!.postMessage({ type: 'request', id, ...body } as ToWorker)
    })
  }

  #onMessage(index: number, message: FromWorker): void {
    if (message.type === 'response') {
      const pending = this.#pending.get(message.id)
      if (pending === undefined) return
      this.#pending.delete(message.id)
      this.#pendingByWorker[index]!.delete(message.id)
      if (message.ok) pending.resolve(message.value)
      else {
        const error = deserializeError(message.error)
        pending.reject(error.name === 'ClusterError' && error.code !== undefined ? new ClusterError(error.code as never, error.message.replace(/^[A-Z_]+: /, '')) : error)
      }
    } else if (message.type === 'crashed') {
      this.#states[index] = 'crashed'
      this.emit('workerError', index, deserializeError(message.error))
    }
  }

  #onThreadError(index: number, error: Error): void {
    // The thread itself failed (not the application, whose errors arrive as 'crashed'); 'exit' follows.
    if (this.#states[index] === 'running' && !this.#closing) this.emit('workerError', index, error)
  }

  #onExit(index: number, code: number): void {
    const was = this.#states[index]
    this.#states[index] = 'exited'
    for (const id of this.#pendingByWorker[index]!) {
      this.#pending.get(id)?.reject(new ClusterError('ERR_WORKER_GONE', `worker ${index} exited`))
      this.#pending.delete(id)
    }
    this.#pendingByWorker[index]!.clear()
    if (this.#closing || was === 'starting') return
    // Its flows: on the memory link the host stops dispatching to it (the others reset those flows);
    // the kernel drops the worker's socket or queue when the thread closes it. The others stop
    // forwarding to it and choose ports without it.
    this.#link?.markDead(index)
    for (let j = 0; j < this.workers; j++) if (j !== index) this.post(j, { type: 'peer-dead', index })
    this.emit('workerExit', index, code)
  }
}

type Counters = { [key: string]: number | Counters }

function addInto(total: Counters, add: Counters): void {
  for (const key of Object.keys(add)) {
    const value = add[key]!
    if (typeof value === 'number') total[key] = ((total[key] as number | undefined) ?? 0) + value
    else addInto((total[key] ??= {}) as Counters, value)
  }
}

function exitedStats(index: number): WorkerStats {
  const zero = createStackStats()
  return {
    index,
    state: 'exited',
    stack: zero,
    sockets: 0,
    connections: {},
    port: createPortStats(),
    steering: { forwarded: 0, received: 0, ownerDead: 0, arpShared: 0, arpMerged: 0, malformed: 0 },
    eventLoop: { active: 0, idle: 0, utilization: 0 },
  }
}

/** Sum of {@link StackStats}, for callers that gather stats themselves. */
export function sumStackStats(all: readonly StackStats[]): StackStats {
  const totals = createStackStats()
  for (const stats of all) addInto(totals as unknown as Counters, stats as unknown as Counters)
  return totals
}

/**
 * Start a cluster: `workers` threads, each opening its own port and stack and running `worker` on it.
 * Resolves when every worker's application function has returned (or its promise resolved).
 *
 * @example
 * ```ts
 * const cluster = await createCluster({
 *   workers: 2,
 *   port: { type: 'af-packet', interface: 'veth0' },
 *   stack: { address: '10.0.0.1/24' },
 *   worker: new URL('./app.mjs', import.meta.url), // export default (stack, { index }) => { … }
 * })
 * console.log((await cluster.stats()).totals.tcp.passiveOpens)
 * await cluster.close()
 * ```
 * @throws `ERR_INVALID_CONFIG` (synchronously checked options), `ERR_WORKER_START` (a worker could not open its port or start; the others were stopped).
 */
export async function createCluster(options: ClusterOptions): Promise<Cluster> {
  const resolved = resolveClusterOptions(options)
  const { workers, port } = resolved
  const cores = availableParallelism()
  if (workers > cores) {
    process.emitWarning(`${workers} cluster workers on ${cores} cores: workers will share cores and scale no further`, { code: 'MTCP_CLUSTER_OVERSUBSCRIBED' })
  }
  if (!existsSync(fileURLToPath(WORKER_ENTRY))) {
    throw new ClusterError('ERR_WORKER_START', `the worker entry ${fileURLToPath(WORKER_ENTRY)} is missing: use the built package (dist), not its sources`)
  }
  let link: MultiQueueLink | undefined
  if (port.type === 'memory') {
    try {
      link = createMultiQueueLink({
        queues: workers,
        queueMac: resolved.mac,
        ...(port.mtu === undefined ? {} : { mtu: port.mtu }),
        ...(port.ringBytes === undefined ? {} : { ringBytes: port.ringBytes }),
        ...(port.key === undefined ? {} : { key: port.key }),
        ...(port.hostMac === undefined ? {} : { hostMac: port.hostMac }),
      })
    } catch (error) {
      throw new ClusterError('ERR_INVALID_CONFIG', `port: ${(error as Error).message}`, { cause: error })
    }
  }
  let device: DpdkQueues | undefined
  let mac = resolved.mac
  if (port.type === 'dpdk') {
    const { type: _type, ...dpdkOptions } = port
    try {
      device = await startDpdkQueues({ ...dpdkOptions, queues: workers, rssKey: port.rssKey ?? SYMMETRIC_RSS_KEY, ...(options.mac === undefined ? {} : { mac: resolved.mac }) })
    } catch (error) {
      const code = (error as { code?: string }).code === 'ERR_INVALID_CONFIG' ? 'ERR_INVALID_CONFIG' : 'ERR_WORKER_START'
      throw new ClusterError(code, `port: ${(error as Error).message}`, { cause: error })
    }
    if (options.mac === undefined) mac = Uint8Array.from(device.specs[0]!.deviceMac)
  }
  const fanoutGroup = port.type === 'af-packet' ? (port.fanoutGroup ?? 1 + Math.floor(Math.random() * 0xfffe)) : 0
  // One channel per pair of workers, for forwarded segments and shared ARP entries.
  const peers: (MessagePort | undefined)[][] = Array.from({ length: workers }, () => new Array<MessagePort | undefined>(workers).fill(undefined))
  for (let i = 0; i < workers; i++) {
    for (let j = i + 1; j < workers; j++) {
      const channel = new MessageChannel()
      peers[i]![j] = channel.port1
      peers[j]![i] = channel.port2
    }
  }
  // CCP: the main thread binds each worker's socket and relays it (ccp-relay.ts).
  const ccpPorts: (MessagePort | undefined)[] = new Array(workers).fill(undefined)
  const closers: (() => void)[] = []
  if (options.ccp !== undefined) {
    try {
      for (let index = 0; index < workers; index++) {
        const channel = new MessageChannel()
        closers.push(await openCcpRelay(options.ccp, index, channel.port1))
        ccpPorts[index] = channel.port2
      }
    } catch (error) {
      for (const close of closers) close()
      device?.stop()
      throw error
    }
  }
  const threads: Worker[] = []
  for (let index = 0; index < workers; index++) {
    const portInit: WorkerPortInit =
      port.type === 'memory'
        ? { type: 'memory', endpoint: link!.endpoints[index]! }
        : port.type === 'af-packet'
          ? { ...port, fanoutGroup }
          : port.type === 'dpdk'
            ? { type: 'dpdk', spec: device!.specs[index]! }
            : { ...port }
    const init: WorkerInit = {
      index,
      workers,
      port: portInit,
      stack: { ...resolved.stack, ...options.perWorker?.(index) },
      mac,
      workerUrl: resolved.workerUrl,
      workerData: options.workerData,
      ccp: options.ccp,
      ccpPort: ccpPorts[index],
      ephemeralPorts: resolved.ephemeralPorts,
      peers: peers[index]!,
    }
    const transfer = [...peers[index]!, ccpPorts[index]].filter((p): p is MessagePort => p !== undefined)
    threads.push(
      new Worker(WORKER_ENTRY, {
        workerData: init,
        transferList: transfer,
        ...(options.resourceLimits === undefined ? {} : { resourceLimits: options.resourceLimits }),
      }),
    )
  }
  const cluster = new Cluster(workers, threads, link, closers, device)
  try {
    // One at a time: the first TAP queue creates the device, the others attach to it; the AF_PACKET
    // sockets join the fanout group in index order, so worker i is member i of the 'ports' program
    // (af_packet.c, __fanout_link appends), and all in the mode the first one got.
    let fanoutMode: 'hash' | 'ports' | undefined = port.type === 'af-packet' ? (port.fanoutMode ?? 'ports') : undefined
    for (let index = 0; index < workers; index++) {
      const opened = cluster.waitFor(index, 'opened')
      cluster.post(index, fanoutMode === undefined ? { type: 'open' } : { type: 'open', fanoutMode })
      const reply = await opened
      if (reply.type === 'opened' && reply.fanoutMode !== undefined && reply.fanoutMode !== fanoutMode) {
        fanoutMode = reply.fanoutMode
        if (workers > 1) {
          process.emitWarning(`AF_PACKET fanout falls back to the kernel's hash (${reply.fallback ?? 'ports mode refused'}): replies to the workers' own connections are forwarded between workers`, {
            code: 'MTCP_CLUSTER_FANOUT_HASH',
          })
        }
      }
    }
    const started = threads.map((_, index) => cluster.waitFor(index, 'started'))
    for (let index = 0; index < workers; index++) cluster.post(index, { type: 'start' })
    await Promise.all(started)
  } catch (error) {
    await cluster.close().catch(() => undefined)
    throw error
  }
  return cluster
}
