// Clusters of worker threads on the memory backend, against a peer stack in this thread. Workers run
// plain JavaScript, so these tests use the built package (`pnpm --filter @mtcp/stack build` first; `pnpm
// test` builds everything).
import { once } from 'node:events'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createStack, type Stack, type TcpSocket } from '@mtcp/stack'
import { type Cluster, createCluster, FlowSteering } from '@mtcp/stack/cluster'
import { parseIpv4Address, parseIpv6Address } from '@mtcp/tcp-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const ECHO_APP = new URL('./fixtures/echo-app.mjs', import.meta.url)
const SERVER = parseIpv4Address('10.0.0.1')
const CLIENT = parseIpv4Address('10.0.0.2')

/** Data of connection `i`: its own bytes, so a mix-up between connections shows. */
function payload(i: number, length: number): Buffer {
  const data = Buffer.alloc(length)
  for (let k = 0; k < length; k++) data[k] = (i * 7 + k * 13 + (k >>> 8)) & 0xff
  data.writeUInt32BE(i, 0)
  return data
}

/** Connect, send `message`, half-close, and collect what comes back. */
async function echo(peer: Stack, message: Buffer, port = 7, host = '10.0.0.1'): Promise<{ reply: Buffer; localPort: number }> {
  const socket = peer.connect({ host, port })
  await once(socket, 'connect')
  const chunks: Buffer[] = []
  socket.on('data', (data: Buffer) => chunks.push(data))
  const closed = once(socket, 'close')
  socket.end(message)
  await closed
  return { reply: Buffer.concat(chunks), localPort: socket.localPort! }
}

/** A connection left open, for the crash tests. */
async function openConnection(peer: Stack): Promise<TcpSocket> {
  const socket = peer.connect({ host: '10.0.0.1', port: 7 })
  await once(socket, 'connect')
  return socket
}

/** The worker a peer connection to port 7 belongs to, in a cluster of 2 (the hash the host dispatches by). */
function ownerOf(socket: TcpSocket): number {
  return new FlowSteering(2).queueOf(CLIENT, SERVER, socket.localPort!, 7)
}

/** Poll `condition` on every turn of the event loop until it holds (the stacks run on this loop and in the workers). */
async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setImmediate(resolve))
}

/** Write `message` and wait for its echo, or for the socket's error. */
function roundTrip(socket: TcpSocket, message: Buffer): Promise<{ echoed: boolean; error?: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const onData = (data: Buffer): void => {
      chunks.push(data)
      if (Buffer.concat(chunks).length >= message.length) {
        socket.off('data', onData)
        resolve({ echoed: Buffer.concat(chunks).equals(message) })
      }
    }
    socket.on('data', onData)
    socket.once('error', (error: Error & { code?: string }) => resolve({ echoed: false, error: error.code }))
    socket.write(message)
  })
}

describe('a cluster of 2 workers over IPv6 on the memory backend', () => {
  let cluster: Cluster
  let peer: Stack
  const server6 = parseIpv6Address('fd00::1')!
  const client6 = parseIpv6Address('fd00::2')!

  beforeAll(async () => {
    cluster = await createCluster({ workers: 2, port: { type: 'memory' }, stack: { address: '10.0.0.1/24', ipv6: 'fd00::1/64' }, worker: ECHO_APP })
    peer = createStack({ port: cluster.host!, address: '10.0.0.2/24', ipv6: 'fd00::2/64' })
    peer.createServer((socket) => socket.pipe(socket)).listen({ port: 9, host: '::' })
  }, 60_000)

  afterAll(async () => {
    peer?.stop()
    await cluster?.close()
  })

  it('500 connections from a peer over IPv6: every one served, every echo intact, each owned by the worker its IPv6 4-tuple hashes to', async () => {
    const count = 500
    // No warm-up: the first SYNs wait for Neighbor Discovery, which reaches both workers.
    const results = await Promise.all(Array.from({ length: count }, (_, i) => echo(peer, payload(i + 1, 1000 + (i % 5) * 700), 7, 'fd00::1')))
    results.forEach(({ reply }, i) => expect(reply.equals(payload(i + 1, 1000 + (i % 5) * 700))).toBe(true))
    const accepted = (await cluster.invoke('accepted')) as { remotePort: number; remoteAddress: string }[][]
    const steering = new FlowSteering(2)
    const owners = new Map<number, number>()
    accepted.forEach((list, worker) => {
      for (const { remotePort, remoteAddress } of list) {
        expect(remoteAddress).toBe('fd00::2')
        expect(owners.has(remotePort)).toBe(false)
        owners.set(remotePort, worker)
        expect(steering.queueOf6(client6, 0, server6, 0, remotePort, 7)).toBe(worker)
      }
    })
    for (const { localPort } of results) expect(owners.has(localPort)).toBe(true)
    for (const list of accepted) expect(list.length).toBeGreaterThan(0)
    expect(peer.stats.rx.ipv6).toBeGreaterThan(0)
  }, 120_000)

  it('each worker connects out over IPv6 on ports whose replies come back to it, data intact', async () => {
    const results = (await cluster.invoke('connectOut', 'fd00::2', 9, 40, 3000)) as { ok: boolean; localPort: number; error?: string }[][]
    const steering = new FlowSteering(2)
    results.forEach((list, worker) => {
      expect(list).toHaveLength(40)
      for (const result of list) {
        expect(result).toMatchObject({ ok: true })
        expect(steering.queueOf6(server6, 0, client6, 0, result.localPort, 9)).toBe(worker)
      }
    })
  }, 60_000)
})

describe('a cluster of 4 workers on the memory backend', () => {
  let cluster: Cluster
  let peer: Stack

  beforeAll(async () => {
    cluster = await createCluster({ workers: 4, port: { type: 'memory' }, stack: { address: '10.0.0.1/24' }, worker: ECHO_APP })
    peer = createStack({ port: cluster.host!, address: '10.0.0.2/24' })
    peer.createServer((socket) => socket.pipe(socket)).listen(9)
  }, 60_000)

  afterAll(async () => {
    peer?.stop()
    await cluster?.close()
  })

  it('1,000 connections from a peer: every echo intact, every connection owned by exactly the worker its flow hashes to', async () => {
    await echo(peer, payload(0, 100)) // resolve ARP both ways first
    const count = 1000
    const results = await Promise.all(Array.from({ length: count }, (_, i) => echo(peer, payload(i + 1, 2000 + (i % 7) * 500))))
    results.forEach(({ reply }, i) => expect(reply.equals(payload(i + 1, 2000 + (i % 7) * 500))).toBe(true))
    const accepted = (await cluster.invoke('accepted')) as { remotePort: number }[][]
    const clientPorts = new Set(results.map((r) => r.localPort))
    expect(clientPorts.size).toBe(count)
    const owners = new Map<number, number>()
    const steering = new FlowSteering(4)
    accepted.forEach((list, worker) => {
      for (const { remotePort } of list) {
        expect(owners.has(remotePort), `port ${remotePort} accepted by workers ${owners.get(remotePort)} and ${worker}`).toBe(false)
        owners.set(remotePort, worker)
        expect(steering.queueOf(CLIENT, SERVER, remotePort, 7)).toBe(worker)
      }
    })
    for (const port of clientPorts) expect(owners.has(port)).toBe(true)
    for (const list of accepted) expect(list.length).toBeGreaterThan(0)
  }, 120_000)

  it('each worker connects out on ports whose replies come back to it, data intact', async () => {
    const results = (await cluster.invoke('connectOut', '10.0.0.2', 9, 25, 5000)) as { ok: boolean; localPort: number }[][]
    const steering = new FlowSteering(4)
    results.forEach((list, worker) => {
      expect(list).toHaveLength(25)
      for (const result of list) {
        expect(result.ok).toBe(true)
        expect(steering.queueOf(SERVER, CLIENT, result.localPort, 9)).toBe(worker)
      }
    })
  }, 60_000)

  it('stats: per worker and totals, the totals the sums', async () => {
    const stats = await cluster.stats()
    expect(stats.workers.map((w) => w.index)).toEqual([0, 1, 2, 3])
    expect(stats.workers.every((w) => w.state === 'running')).toBe(true)
    expect(stats.totals.tcp.passiveOpens).toBe(stats.workers.reduce((sum, w) => sum + w.stack.tcp.passiveOpens, 0))
    expect(stats.totals.tcp.passiveOpens).toBeGreaterThanOrEqual(1001)
    expect(stats.totals.tcp.activeOpens).toBe(100)
    expect(stats.totals.rx.frames).toBe(stats.workers.reduce((sum, w) => sum + w.stack.rx.frames, 0))
    expect(stats.sockets).toBe(stats.workers.reduce((sum, w) => sum + w.sockets, 0))
    // The peer's ARP answers reach one worker; it tells the others.
    expect(stats.workers.reduce((sum, w) => sum + w.steering.arpShared, 0)).toBeGreaterThanOrEqual(1)
    expect(stats.workers.reduce((sum, w) => sum + w.steering.arpMerged, 0)).toBeGreaterThanOrEqual(3)
    for (const worker of stats.workers) expect(worker.port.rxPackets).toBe(cluster.host!.queueCounters[worker.index]!.toQueue)
  })

  it('invoke: an unknown method is ERR_NO_SUCH_METHOD, one that throws ERR_WORKER_METHOD; a worker index out of range is ERR_INVALID_CONFIG', async () => {
    await expect(cluster.invoke('noSuchMethod')).rejects.toMatchObject({ code: 'ERR_NO_SUCH_METHOD' })
    await expect(cluster.invokeOn(2, 'fails')).rejects.toMatchObject({ code: 'ERR_WORKER_METHOD', message: expect.stringMatching(/worker 2 refuses/) })
    await expect(cluster.invokeOn(9, 'accepted')).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG' })
  })
})

describe('a worker that fails', () => {
  it('crashing (an uncaught exception) is reported; its connections are reset when the peer sends; the other worker keeps serving', async () => {
    const cluster = await createCluster({ workers: 2, port: { type: 'memory' }, stack: { address: '10.0.0.1/24' }, worker: ECHO_APP })
    const peer = createStack({ port: cluster.host!, address: '10.0.0.2/24' })
    try {
      const sockets = await Promise.all(Array.from({ length: 20 }, () => openConnection(peer)))
      const victims = sockets.filter((s) => ownerOf(s) === 1)
      const survivors = sockets.filter((s) => ownerOf(s) === 0)
      expect(victims.length).toBeGreaterThan(0)
      expect(survivors.length).toBeGreaterThan(0)
      const reported = once(cluster, 'workerError')
      await cluster.invokeOn(1, 'crashSoon')
      const [index, error] = (await reported) as [number, Error]
      expect(index).toBe(1)
      expect(error.message).toBe('application bug')
      expect(cluster.state(1)).toBe('crashed')
      for (const socket of victims) expect(await roundTrip(socket, Buffer.from('anyone there?'))).toEqual({ echoed: false, error: 'ECONNRESET' })
      for (const socket of survivors) expect(await roundTrip(socket, Buffer.from('still here'))).toEqual({ echoed: true })
      // New connections: those hashed to the crashed worker are refused, the others served.
      const fresh = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const socket = peer.connect({ host: '10.0.0.1', port: 7 })
          const outcome = await new Promise<string>((resolve) => {
            socket.once('connect', () => resolve('connect'))
            socket.once('error', (error: Error & { code?: string }) => resolve(error.code ?? error.message))
          })
          const worker = ownerOf(socket)
          socket.destroy()
          return { outcome, worker }
        }),
      )
      for (const { outcome, worker } of fresh) expect(outcome).toBe(worker === 1 ? 'ECONNREFUSED' : 'connect')
      const stats = await cluster.stats()
      expect(stats.workers.map((w) => w.state)).toEqual(['running', 'crashed'])
      expect(stats.workers[1]!.stack.tx.resets).toBeGreaterThan(0)
    } finally {
      peer.stop()
      await cluster.close()
    }
  }, 60_000)

  it('exiting is reported; its flows go to the other worker, which resets the old ones and serves new ones', async () => {
    const cluster = await createCluster({ workers: 2, port: { type: 'memory' }, stack: { address: '10.0.0.1/24' }, worker: ECHO_APP })
    const peer = createStack({ port: cluster.host!, address: '10.0.0.2/24' })
    try {
      const sockets = await Promise.all(Array.from({ length: 20 }, () => openConnection(peer)))
      await waitFor(async () => ((await cluster.invoke('accepted')) as unknown[][]).flat().length === 20)
      const accepted = (await cluster.invoke('accepted')) as { remotePort: number }[][]
      const exited = once(cluster, 'workerExit')
      await cluster.invokeOn(1, 'exitSoon', 3)
      expect(await exited).toEqual([1, 3])
      expect(cluster.state(1)).toBe('exited')
      for (const socket of sockets) {
        const result = await roundTrip(socket, Buffer.from('hello'))
        expect(result).toEqual(ownerOf(socket) === 1 ? { echoed: false, error: 'ECONNRESET' } : { echoed: true })
      }
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => echo(peer, payload(i, 3000))))
      results.forEach(({ reply }, i) => expect(reply.equals(payload(i, 3000))).toBe(true))
      const after = (await cluster.invoke('accepted')) as ({ remotePort: number }[] | undefined)[]
      expect(after[1]).toBeUndefined()
      expect(after[0]!.length).toBe(accepted[0]!.length + 20)
      const stats = await cluster.stats()
      expect(stats.workers[1]!.state).toBe('exited')
      await expect(cluster.invokeOn(1, 'accepted')).rejects.toMatchObject({ code: 'ERR_WORKER_GONE' })
    } finally {
      peer.stop()
      await cluster.close()
    }
  }, 60_000)
})

describe('createCluster options', () => {
  const base = { workers: 2, port: { type: 'memory' as const }, stack: { address: '10.0.0.1/24' }, worker: ECHO_APP }

  it.each([
    ['workers 0', { workers: 0 }, /workers must be an integer in \[1, 128\]/],
    ['a fractional worker count', { workers: 1.5 }, /workers/],
    ['an unknown port type', { port: { type: 'netmap' } }, /port.type must be 'memory', 'af-packet', 'tap' or 'dpdk'/],
    ['a dpdk RSS key under 16 bytes', { port: { type: 'dpdk', rssKey: new Uint8Array(8) } }, /port.rssKey must be a Uint8Array of at least 16 bytes/],
    ['af-packet without an interface', { port: { type: 'af-packet' } }, /port.interface/],
    ['a fanout group out of range', { port: { type: 'af-packet', interface: 'x', fanoutGroup: 70_000 } }, /fanoutGroup/],
    ['an unknown fanout mode', { port: { type: 'af-packet', interface: 'x', fanoutMode: 'cpu' } }, /port.fanoutMode must be 'hash' or 'ports'/],
    ['no address', { stack: {} }, /stack.address is required/],
    ['a malformed address', { stack: { address: '10.0.0.300/24' } }, /stack.address must be an IPv4 address/],
    ['an IPv6 address on a kernel backend (no neighbour sharing there)', { port: { type: 'af-packet', interface: 'x' }, stack: { address: '10.0.0.1/24', ipv6: 'fd00::1/64' } }, /stack.ipv6 is supported in a cluster on port type 'memory' only, got "af-packet"/],
    ['a port in the stack options', { stack: { address: '10.0.0.1/24', port: {} } }, /stack.port cannot be given/],
    ['a transport in the stack options', { stack: { address: '10.0.0.1/24', ccp: {} } }, /use the cluster option ccp/],
    ['no worker', { worker: 42 }, /worker must be a module path, a URL, or a function/],
    ['a bad mac', { mac: new Uint8Array(3) }, /mac must be a 6-byte/],
    ['fewer ephemeral ports than workers', { stack: { address: '10.0.0.1/24', ephemeralPorts: [5000, 5000] } }, /one port per worker/],
  ])('rejects %s with ERR_INVALID_CONFIG', async (_name, override, message) => {
    await expect(createCluster({ ...base, ...override } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG', message: expect.stringMatching(message) })
  })

  it('a module with no default export fails to start with ERR_WORKER_START, and nothing is left running', async () => {
    const module = `data:text/javascript,${encodeURIComponent('export const app = 1')}`
    await expect(createCluster({ ...base, worker: module })).rejects.toMatchObject({ code: 'ERR_WORKER_START', message: expect.stringMatching(/must export a function/) })
  })

  it('an application that throws at start fails with ERR_WORKER_START naming its error', async () => {
    await expect(
      createCluster({
        ...base,
        worker: (_stack, context) => {
          if (context.index === 1) throw new Error('no config for worker 1')
        },
      }),
    ).rejects.toMatchObject({ code: 'ERR_WORKER_START', message: expect.stringMatching(/no config for worker 1/) })
  })

  it('runs a self-contained function as the application, with its context', async () => {
    const cluster = await createCluster({
      ...base,
      workerData: { greeting: 'hi' },
      worker: (stack, context) => ({ describe: () => `${(context.workerData as { greeting: string }).greeting} from ${context.index}/${context.workers} at ${stack.getsockname(stack.socket()).port}` }),
    })
    try {
      expect(await cluster.invoke('describe')).toEqual(['hi from 0/2 at 0', 'hi from 1/2 at 0'])
    } finally {
      await cluster.close()
    }
    await expect(cluster.stats()).rejects.toMatchObject({ code: 'ERR_CLUSTER_CLOSED' })
  }, 30_000)

  it('warns when there are more workers than cores, and runs anyway', async () => {
    const warnings: (Error & { code?: string })[] = []
    const onWarning = (warning: Error & { code?: string }): void => void warnings.push(warning)
    process.on('warning', onWarning)
    try {
      const cluster = await createCluster({ ...base, workers: availableParallelism() + 1, worker: () => ({ ok: () => true }) })
      try {
        expect((await cluster.invoke('ok')).every(Boolean)).toBe(true)
      } finally {
        await cluster.close()
      }
      await new Promise((resolve) => setImmediate(resolve)) // warnings are emitted on the next tick
      expect(warnings.map((w) => w.code)).toContain('MTCP_CLUSTER_OVERSUBSCRIBED')
    } finally {
      process.off('warning', onWarning)
    }
  }, 30_000)

  it('gives every worker its own CCP datapath at <dir>/<name>-w<index>', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtcp-cluster-ccp-'))
    try {
      const cluster = await createCluster({
        ...base,
        ccp: { dir, name: 'test' },
        worker: (stack) => ({ hasDatapath: () => stack.ccpDatapath !== undefined }),
      })
      try {
        expect(await cluster.invoke('hasDatapath')).toEqual([true, true])
        expect(existsSync(join(dir, 'test-w0'))).toBe(true)
        expect(existsSync(join(dir, 'test-w1'))).toBe(true)
      } finally {
        await cluster.close()
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)
})
