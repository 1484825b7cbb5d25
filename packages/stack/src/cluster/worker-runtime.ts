/**
 * What runs in each worker thread: open the worker's own port (a queue of the memory link, an AF_PACKET
 * socket in the fanout group, or a queue of the multi-queue TAP), make the worker's own stack with the
 * cluster hooks, run the application on it, and answer the main thread (stats, invoke, close).
 *
 * Nothing on the packet path is shared between workers: each has its own port, buffers, timers,
 * connections and CCP datapath. Workers talk to each other only to forward a segment of a flow another
 * worker owns (kernel backends) and to share ARP entries.
 * @module
 */
import { performance } from 'node:perf_hooks'
import type { MessagePort } from 'node:worker_threads'
import { type DpdkPort, openDpdkQueue, openPacketPort, openTapPort, type Port } from '@mtcp/dpdk-io'
import { parseIpv4Address } from '@mtcp/tcp-core'
import type { StackOptions } from '../config.js'
import type { StackHooks } from '../stack-hooks.js'
import { createStack, type Stack } from '../stack.js'
import type { CcpTransport } from '@mtcp/libccp'
import { RelayedCcpTransport } from './ccp-relay.js'
import { ClusterError } from './errors.js'
import { FlowSteering } from './flow-hash.js'
import { openQueuePort } from './multi-queue-link.js'
import type { WorkerApi, WorkerContext, WorkerFunction } from './options.js'
import { type FromWorker, type PeerMessage, serializeError, type ToWorker, type WorkerInit, type WorkerSteeringStats, type WorkerStats } from './protocol.js'
import { SteeringPort } from './steering-port.js'
import { createWorkerHooks } from './worker-hooks.js'

/** @internal Run one worker: `init` is its `workerData`, `parent` its `parentPort`. */
export function runWorker(init: WorkerInit, parent: MessagePort): void {
  const { index, workers } = init
  const post = (message: FromWorker): void => parent.postMessage(message)
  const counters: WorkerSteeringStats = { forwarded: 0, received: 0, ownerDead: 0, arpShared: 0, arpMerged: 0, malformed: 0 }
  const dead = new Set<number>()
  const peers = init.peers
  // The memory link's dispatcher, or a DPDK device hashing with a key we set: a flow's queue is computable.
  const flowSteering =
    init.port.type === 'memory'
      ? new FlowSteering(workers, init.port.endpoint.key)
      : init.port.type === 'dpdk' && init.port.spec.steering === 'toeplitz'
        ? new FlowSteering(workers, init.port.spec.rssKey)
        : undefined
  const address = parseIpv4Address(init.stack.address.split('/')[0]!)
  const closeCallbacks: (() => void | Promise<void>)[] = []

  let port: Port | undefined
  let steeringPort: SteeringPort | undefined
  let stack: Stack | undefined
  /** After a crash: a stack with no sockets on the same port, resetting the dead stack's flows. */
  let responder: Stack | undefined
  let api: WorkerApi | undefined
  let state: 'running' | 'crashed' = 'running'

  const current = (): Stack | undefined => responder ?? stack

  /** AF_PACKET: the mode the fanout group accepted this worker's socket in. */
  let fanoutMode: 'hash' | 'ports' | undefined
  /** DPDK: this worker's queue of the shared device. */
  let dpdkPort: DpdkPort | undefined

  // ------------------------------------------------------------------ cluster hooks (stack-hooks.ts)
  // Made once the port is open: on AF_PACKET they depend on the fanout mode.
  const makeHooks = (): StackHooks => createWorkerHooks({
    index,
    workers,
    address,
    ephemeralPorts: init.ephemeralPorts,
    ...(flowSteering === undefined ? {} : { steering: flowSteering }),
    portsFanout: fanoutMode === 'ports',
    isDead: (j) => dead.has(j) || peers[j] === undefined,
    forward(owner, frame) {
      const bytes = frame.data.slice(frame.offset, frame.offset + frame.length)
      peers[owner]!.postMessage({ type: 'frame', bytes, flags: frame.offloadFlags } satisfies PeerMessage, [bytes.buffer])
    },
    shareArp(ip, mac) {
      for (let j = 0; j < workers; j++) {
        if (j !== index && !dead.has(j)) peers[j]?.postMessage({ type: 'arp', ip, mac: Uint8Array.from(mac) } satisfies PeerMessage)
      }
    },
    counters,
  })
  let hooks: StackHooks = {}

  for (const peer of peers) {
    peer?.on('message', (message: PeerMessage) => {
      if (message?.type === 'frame' && message.bytes instanceof Uint8Array && typeof message.flags === 'number' && steeringPort !== undefined) {
        counters.received++
        steeringPort.inject(message.bytes, message.flags)
      } else if (message?.type === 'arp' && typeof message.ip === 'number' && message.mac instanceof Uint8Array && message.mac.byteLength === 6) {
        counters.arpMerged++
        try {
          current()?.addArpEntry(message.ip, message.mac)
        } catch {
          counters.malformed++
        }
      } else {
        counters.malformed++
      }
    })
  }

  // ------------------------------------------------------------------ lifecycle
  const stackOptions = (extra: Partial<StackOptions>): StackOptions => ({ ...init.stack, port: port!, mac: init.mac, hooks, ...extra })

  /** Open the worker's port; resolves with why 'ports' fanout was refused, if it was. */
  const open = async (mode: 'hash' | 'ports' | undefined): Promise<string | undefined> => {
    const spec = init.port
    let fallback: string | undefined
    if (spec.type === 'memory') {
      port = openQueuePort(spec.endpoint)
    } else if (spec.type === 'af-packet') {
      const { type: _type, ...options } = spec
      fanoutMode = mode ?? spec.fanoutMode ?? 'ports'
      let inner: Port
      try {
        inner = await openPacketPort({ ...options, fanoutMode, mac: init.mac })
      } catch (error) {
        // A kernel without PACKET_FANOUT_CBPF / PACKET_FANOUT_DATA (before 4.6), or one that refuses the
        // program: join in hash mode and steer in software. Other failures are the socket's own: report them.
        const syscall = (error as { syscall?: unknown }).syscall
        if (fanoutMode !== 'ports' || (syscall !== 'setsockopt(PACKET_FANOUT)' && syscall !== 'setsockopt(PACKET_FANOUT_DATA)')) throw error
        fallback = (error as Error).message
        fanoutMode = 'hash'
        inner = await openPacketPort({ ...options, fanoutMode, mac: init.mac })
      }
      steeringPort = new SteeringPort(inner)
      port = steeringPort
    } else if (spec.type === 'dpdk') {
      // Registers this thread with DPDK (its own lcore id, so its own mempool cache) and polls queue `index`.
      dpdkPort = await openDpdkQueue(spec.spec, { mac: init.mac })
      if (flowSteering !== undefined) {
        port = dpdkPort
      } else {
        // The device spreads flows its own way: replies to this worker's connections may reach another.
        steeringPort = new SteeringPort(dpdkPort)
        port = steeringPort
      }
    } else {
      const { type: _type, ...options } = spec
      steeringPort = new SteeringPort(await openTapPort({ ...options, multiQueue: true, mac: init.mac }))
      port = steeringPort
    }
    hooks = makeHooks()
    return fallback
  }

  const context: WorkerContext = Object.freeze({
    index,
    workers,
    workerData: init.workerData,
    onClose(callback: () => void | Promise<void>) {
      if (typeof callback !== 'function') throw new ClusterError('ERR_INVALID_CONFIG', 'onClose needs a function')
      closeCallbacks.push(callback)
    },
  })

  const start = async (): Promise<void> => {
    const module = (await import(init.workerUrl)) as { default?: unknown; ccpTransport?: (context: WorkerContext) => CcpTransport | Promise<CcpTransport> }
    const app = module.default
    if (typeof app !== 'function') throw new ClusterError('ERR_INVALID_CONFIG', `the worker module ${init.workerUrl.slice(0, 200)} must export a function as its default export`)
    let ccp: StackOptions['ccp']
    if (init.ccp !== undefined) {
      if (module.ccpTransport === undefined && init.ccpPort === undefined) throw new ClusterError('ERR_CCP_UNAVAILABLE', 'no CCP transport: the main thread opened none')
      const transport = module.ccpTransport !== undefined ? await module.ccpTransport(context) : new RelayedCcpTransport(init.ccpPort!)
      ccp = { transport, id: index, ...(init.ccp.algorithm === undefined ? {} : { algorithm: init.ccp.algorithm }), ...(init.ccp.interpret === undefined ? {} : { interpret: init.ccp.interpret }) }
    }
    stack = createStack(stackOptions(ccp === undefined ? {} : { ccp }))
    process.on('uncaughtException', crash)
    process.on('unhandledRejection', crash)
    const result = await (app as WorkerFunction)(stack, context)
    if (result !== null && typeof result === 'object') api = result
  }

  /** The application threw: report, stop its stack, and answer its flows with resets from a stack with no sockets. */
  function crash(error: unknown): void {
    if (state !== 'running') return
    state = 'crashed'
    post({ type: 'crashed', error: serializeError(error) })
    try {
      stack?.stop()
    } catch {
      // already stopping
    }
    responder = createStack(stackOptions({}))
  }

  const stats = (): WorkerStats => {
    const s = current()!
    const loop = performance.eventLoopUtilization()
    return {
      index,
      state,
      stack: s.stats,
      sockets: s.socketCount,
      connections: s.connectionsByState(),
      port: port!.stats,
      steering: { ...counters },
      ...(fanoutMode === undefined ? {} : { fanoutMode }),
      ...(dpdkPort === undefined || init.port.type !== 'dpdk' ? {} : { dpdk: { queue: dpdkPort.queue, lcore: dpdkPort.lcore, steering: init.port.spec.steering } }),
      eventLoop: { active: loop.active, idle: loop.idle, utilization: loop.utilization },
    }
  }

  const invoke = async (method: string, args: unknown[]): Promise<unknown> => {
    const fn = api?.[method]
    if (typeof fn !== 'function') throw new ClusterError('ERR_NO_SUCH_METHOD', `worker ${index}: the application returned no method ${JSON.stringify(method)}`)
    try {
      return await (fn as (...a: unknown[]) => unknown).apply(api, args)
    } catch (error) {
      throw new ClusterError('ERR_WORKER_METHOD', `worker ${index}: ${method} threw: ${(error as Error)?.message ?? String(error)}`)
    }
  }

  const close = async (): Promise<void> => {
    // A crashed application's callbacks do not run: its stack is gone.
    for (const callback of state === 'running' ? closeCallbacks : []) {
      try {
        await callback()
      } catch {
        // closing anyway
      }
    }
    stack?.stop()
    responder?.stop()
    port?.close()
    for (const peer of peers) peer?.close()
  }

  process.on('exit', () => {
    // A thread that ends (process.exit in the application) leaves the fanout group / TAP queue.
    try {
      port?.close()
    } catch {
      // best effort
    }
  })

  parent.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'open':
        open(message.fanoutMode).then(
          (fallback) => post({ type: 'opened', ...(fanoutMode === undefined ? {} : { fanoutMode }), ...(fallback === undefined ? {} : { fallback }) }),
          (error: unknown) => post({ type: 'failed', stage: 'open', error: serializeError(error) }),
        )
        return
      case 'start':
        start().then(
          () => post({ type: 'started' }),
          (error: unknown) => post({ type: 'failed', stage: 'start', error: serializeError(error) }),
        )
        return
      case 'peer-dead':
        dead.add(message.index)
        flowSteering?.markDead(message.index)
        return
      case 'request': {
        const { id } = message
        const work: Promise<unknown> =
          message.op === 'stats' ? Promise.resolve().then(stats) : message.op === 'invoke' ? invoke(message.method, message.args) : close().then(() => undefined)
        work.then(
          (value) => {
            try {
              post({ type: 'response', id, ok: true, value })
            } catch (error) {
              post({ type: 'response', id, ok: false, error: serializeError(error) })
            }
          },
          (error: unknown) => post({ type: 'response', id, ok: false, error: serializeError(error) }),
        )
        return
      }
      default:
        return
    }
  })
}
