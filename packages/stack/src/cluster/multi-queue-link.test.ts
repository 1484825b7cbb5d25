// The memory backend's link and the worker hooks, all in one thread (the rings work the same within a
// thread; the cluster tests run them across threads).
import { once } from 'node:events'
import { BufferPool, OffloadFlags, type PacketBuffer, portsFanoutHash } from '@mtcp/dpdk-io'
import { parseIpv4Address } from '@mtcp/tcp-core'
import { describe, expect, it } from 'vitest'
import { createStack, type Stack } from '../stack.js'
import { FlowSteering } from './flow-hash.js'
import { createMultiQueueLink, openQueuePort, type QueuePort } from './multi-queue-link.js'
import { SteeringPort } from './steering-port.js'
import { createWorkerHooks } from './worker-hooks.js'

const pool = new BufferPool({ count: 256 })
const CLIENT = parseIpv4Address('10.0.0.2')
const SERVER = parseIpv4Address('10.0.0.1')

function tcpFrame(src: number, dst: number, srcPort: number, dstPort: number, fill: number): PacketBuffer {
  const buffer = pool.alloc()!
  const frame = new Uint8Array(74).fill(fill)
  const view = new DataView(frame.buffer)
  view.setUint16(12, 0x0800)
  frame[14] = 0x45
  frame[14 + 6] = 0
  frame[14 + 7] = 0
  frame[14 + 9] = 6
  view.setUint32(26, src)
  view.setUint32(30, dst)
  view.setUint16(34, srcPort)
  view.setUint16(36, dstPort)
  return buffer.setFrame(frame)
}

function receiveAll(port: QueuePort | ReturnType<typeof createMultiQueueLink>['host']): PacketBuffer[] {
  const out: PacketBuffer[] = []
  const burst: PacketBuffer[] = []
  for (let n = port.rxBurst(burst, 32); n > 0; n = port.rxBurst(burst, 32)) out.push(...burst.slice(0, n))
  return out
}

describe('multi-queue link', () => {
  it('dispatches each frame to the queue of its flow, intact, and carries what queues send to the host', () => {
    const link = createMultiQueueLink({ queues: 3 })
    const queues = link.endpoints.map((endpoint) => openQueuePort(endpoint))
    const sent: PacketBuffer[] = []
    for (let p = 0; p < 60; p++) sent.push(tcpFrame(CLIENT, SERVER, 40_000 + p, 80, p))
    const expected = sent.map((buffer, p) => ({ bytes: buffer.frame().slice(), queue: link.steering.queueOf(CLIENT, SERVER, 40_000 + p, 80) }))
    expect(link.host.txBurst(sent, sent.length)).toBe(60)
    const perQueue = queues.map((queue) => receiveAll(queue).map((buffer) => {
      const bytes = buffer.frame().slice()
      buffer.release()
      return bytes
    }))
    for (let q = 0; q < 3; q++) {
      expect(perQueue[q]).toEqual(expected.filter((e) => e.queue === q).map((e) => e.bytes))
      expect(perQueue[q]!.length).toBeGreaterThan(0)
      expect(link.host.queueCounters[q]!.toQueue).toBe(perQueue[q]!.length)
    }
    // Back: one frame from each queue.
    for (let q = 0; q < 3; q++) expect(queues[q]!.txBurst([tcpFrame(SERVER, CLIENT, 80, 1000 + q, q)], 1)).toBe(1)
    const back = receiveAll(link.host)
    expect(back.map((buffer) => buffer.view.getUint16(buffer.offset + 36)).sort()).toEqual([1000, 1001, 1002])
    for (const buffer of back) buffer.release()
    expect(link.host.queueCounters.map((c) => c.fromQueue)).toEqual([1, 1, 1])
  })

  it('IPv6: TCP by its 4-tuple to one queue; Neighbor Discovery (ICMPv6 133 to 137) to every live queue, other ICMPv6 to one', () => {
    const link = createMultiQueueLink({ queues: 3 })
    const queues = link.endpoints.map((endpoint) => openQueuePort(endpoint))
    const client = new Uint8Array(16)
    client.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2])
    const server = Uint8Array.from(client)
    server[15] = 1
    const ipv6 = (nextHeader: number, first: number, second: number, fill: number): PacketBuffer => {
      const frame = new Uint8Array(14 + 40 + 24).fill(fill)
      const view = new DataView(frame.buffer)
      view.setUint16(12, 0x86dd)
      frame[14] = 0x60
      frame[14 + 6] = nextHeader
      frame.set(client, 22)
      frame.set(server, 38)
      view.setUint16(54, first) // TCP: source port; ICMPv6: type and code
      view.setUint16(56, second)
      return pool.alloc()!.setFrame(frame)
    }
    const tcp = ipv6(6, 40_000, 80, 1)
    const solicitation = ipv6(58, 135 << 8, 0, 2)
    const advertisement = ipv6(58, 136 << 8, 0, 3)
    const echo = ipv6(58, 128 << 8, 0, 4)
    link.markDead(2)
    const echoQueue = link.steering.queueOfFrame(echo.data, echo.offset, echo.length) // by the address pair
    expect(link.host.txBurst([tcp, solicitation, advertisement, echo], 4)).toBe(4)
    const got = queues.map((queue) => receiveAll(queue).map((buffer) => {
      const fill = buffer.data[buffer.offset + buffer.length - 1]!
      buffer.release()
      return fill
    }))
    const tcpQueue = link.steering.queueOf6(client, 0, server, 0, 40_000, 80)
    for (let q = 0; q < 2; q++) {
      const expected = [...(q === tcpQueue ? [1] : []), 2, 3, ...(q === echoQueue ? [4] : [])]
      expect(got[q]).toEqual(expected)
    }
    expect(got[2]).toEqual([]) // dead: no copy
  })

  it('flags a frame whose checksums were left to the port as trusted, and leaves others to be verified', () => {
    const link = createMultiQueueLink({ queues: 1 })
    const queue = openQueuePort(link.endpoints[0]!)
    const offloaded = tcpFrame(CLIENT, SERVER, 1, 2, 0)
    offloaded.offloadFlags = OffloadFlags.TX_IP_CHECKSUM | OffloadFlags.TX_TCP_CHECKSUM
    const plain = tcpFrame(CLIENT, SERVER, 1, 2, 0)
    link.host.txBurst([offloaded, plain], 2)
    const [a, b] = receiveAll(queue)
    expect(a!.offloadFlags).toBe(OffloadFlags.RX_IP_CHECKSUM_GOOD | OffloadFlags.RX_L4_CHECKSUM_PARTIAL)
    expect(b!.offloadFlags).toBe(0)
    a!.release()
    b!.release()
  })

  it('stops at a full queue (backpressure) and calls onWritable once the worker has read', async () => {
    const link = createMultiQueueLink({ queues: 1, ringBytes: 4096 })
    const queue = openQueuePort(link.endpoints[0]!)
    let writable = 0
    const woken = new Promise<void>((resolve) =>
      link.host.onWritable(() => {
        writable++
        resolve()
      }),
    )
    const frames = Array.from({ length: 60 }, (_, i) => tcpFrame(CLIENT, SERVER, 5, 6, i))
    const taken = link.host.txBurst(frames, frames.length)
    expect(taken).toBeLessThan(60)
    expect(taken).toBeGreaterThan(0)
    for (const buffer of receiveAll(queue)) buffer.release()
    await woken
    expect(writable).toBe(1)
    expect(link.host.txBurst(frames.slice(taken), 1)).toBe(1)
    for (const buffer of frames.slice(taken + 1)) buffer.release()
    for (const buffer of receiveAll(queue)) buffer.release()
  })

  it('calls onReadable when frames arrive', async () => {
    const link = createMultiQueueLink({ queues: 2 })
    const queues = link.endpoints.map((endpoint) => openQueuePort(endpoint))
    const readable = queues.map((queue) => new Promise<void>((resolve) => queue.onReadable(resolve)))
    const hostReadable = new Promise<void>((resolve) => link.host.onReadable(resolve))
    const frames = Array.from({ length: 40 }, (_, i) => tcpFrame(CLIENT, SERVER, 30_000 + i, 80, i))
    link.host.txBurst(frames, frames.length)
    await Promise.all(readable)
    const got = queues.map((queue) => receiveAll(queue))
    queues[1]!.txBurst([got[1]![0]!], 1)
    await hostReadable
    for (const buffer of [...got[0]!, ...got[1]!.slice(1), ...receiveAll(link.host)]) buffer.release()
    for (const queue of queues) queue.close()
    link.host.close()
  })

  it('sends a dead queue nothing', () => {
    const link = createMultiQueueLink({ queues: 2 })
    const queues = link.endpoints.map((endpoint) => openQueuePort(endpoint))
    link.markDead(1)
    const frames = Array.from({ length: 50 }, (_, i) => tcpFrame(CLIENT, SERVER, 20_000 + i, 80, i))
    expect(link.host.txBurst(frames, frames.length)).toBe(50)
    expect(receiveAll(queues[1]!)).toEqual([])
    const got = receiveAll(queues[0]!)
    expect(got.length).toBe(50)
    for (const buffer of got) buffer.release()
  })

  it('rejects bad options with ERR_INVALID_CONFIG', () => {
    expect(() => createMultiQueueLink({ queues: 0 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }))
    expect(() => createMultiQueueLink({ queues: 2, ringBytes: 3000 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }))
    expect(() => createMultiQueueLink({ queues: 2, mtu: 100 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }))
    expect(() => createMultiQueueLink({ queues: 2, hostMac: new Uint8Array(5) })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }))
  })
})

/** Worker stacks on the queues, wired as the cluster wires them but in one thread. */
function workerStacks(link: ReturnType<typeof createMultiQueueLink>, mode: 'hash' | 'partition' | 'ports') {
  const workers = link.endpoints.length
  const ports = link.endpoints.map((endpoint) => new SteeringPort(openQueuePort(endpoint)))
  const stacks: Stack[] = []
  const counters = ports.map(() => ({ forwarded: 0, ownerDead: 0, arpShared: 0 }))
  for (let index = 0; index < workers; index++) {
    const hooks = createWorkerHooks({
      index,
      workers,
      address: SERVER,
      ephemeralPorts: [32768, 60999],
      ...(mode === 'hash' ? { steering: new FlowSteering(workers) } : {}),
      portsFanout: mode === 'ports',
      isDead: () => false,
      forward: (owner, frame) => ports[owner]!.inject(frame.frame().slice(), frame.offloadFlags),
      shareArp: (ip, mac) => stacks.forEach((other, j) => j !== index && other.addArpEntry(ip, mac)),
      counters: counters[index]!,
    })
    stacks.push(createStack({ port: ports[index]!, address: '10.0.0.1/24', hooks }))
  }
  return { stacks, counters }
}

async function echoRoundTrips(from: Stack, count: number, bytes: number): Promise<{ ok: boolean; localPort: number }[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const socket = from.connect({ host: '10.0.0.2', port: 9 })
      await once(socket, 'connect')
      const message = Buffer.alloc(bytes, i)
      const chunks: Buffer[] = []
      socket.on('data', (data: Buffer) => chunks.push(data))
      const closed = once(socket, 'close')
      socket.end(message)
      await closed
      return { ok: Buffer.concat(chunks).equals(message), localPort: socket.localPort! }
    }),
  )
}

describe('worker hooks, in one thread', () => {
  it('memory backend: every worker connects out on ports whose replies come back to it; ARP learned by one is shared', async () => {
    const link = createMultiQueueLink({ queues: 3 })
    const peer = createStack({ port: link.host, address: '10.0.0.2/24' })
    peer.createServer((socket) => socket.pipe(socket)).listen(9)
    const { stacks, counters } = workerStacks(link, 'hash')
    const steering = new FlowSteering(3)
    for (let index = 0; index < 3; index++) {
      const results = await echoRoundTrips(stacks[index]!, 10, 3000)
      expect(results.every((r) => r.ok)).toBe(true)
      for (const { localPort } of results) expect(steering.queueOf(SERVER, CLIENT, localPort, 9)).toBe(index)
    }
    // The peer's ARP replies all reach one worker (one address pair, one queue): the others had them shared.
    expect(counters.reduce((sum, c) => sum + c.arpShared, 0)).toBeGreaterThanOrEqual(1)
    expect(stacks.reduce((sum, s) => sum + s.stats.rx.arp, 0)).toBeGreaterThanOrEqual(1)
    expect(stacks.filter((s) => s.stats.rx.arp === 0).length).toBeGreaterThanOrEqual(1)
    for (const stack of [...stacks, peer]) stack.stop()
    link.host.close()
  })

  it('kernel-style steering: replies that reach the wrong worker are forwarded to the one that owns the port', async () => {
    // An all-zero key hashes every flow to queue 0, like a fanout that knows nothing of our ports.
    const link = createMultiQueueLink({ queues: 2, key: new Uint8Array(40) })
    const peer = createStack({ port: link.host, address: '10.0.0.2/24' })
    peer.createServer((socket) => socket.pipe(socket)).listen(9)
    const { stacks, counters } = workerStacks(link, 'partition')
    const results = await echoRoundTrips(stacks[1]!, 10, 5000)
    expect(results.every((r) => r.ok)).toBe(true)
    for (const { localPort } of results) expect(localPort % 2).toBe(1)
    expect(counters[0]!.forwarded).toBeGreaterThan(0)
    expect(counters[1]!.forwarded).toBe(0)
    expect(stacks[0]!.stats.rx.drops.noSocket).toBe(0) // forwarded, never reset
    for (const stack of [...stacks, peer]) stack.stop()
    link.host.close()
  })

  it("'ports' fanout rule: ports chosen so portsFanoutHash(local, remote) % workers is the worker; a reply that reaches another worker is forwarded to that owner", async () => {
    // An all-zero key sends every flow to queue 0, as a fanout group renumbered after an exit could.
    const link = createMultiQueueLink({ queues: 2, key: new Uint8Array(40) })
    const peer = createStack({ port: link.host, address: '10.0.0.2/24' })
    peer.createServer((socket) => socket.pipe(socket)).listen(9)
    const { stacks, counters } = workerStacks(link, 'ports')
    const results = await echoRoundTrips(stacks[1]!, 10, 5000)
    expect(results.every((r) => r.ok)).toBe(true)
    for (const { localPort } of results) expect(portsFanoutHash(localPort, 9) % 2).toBe(1)
    expect(counters[0]!.forwarded).toBeGreaterThan(0)
    expect(counters[1]!.forwarded).toBe(0)
    expect(stacks[0]!.stats.rx.drops.noSocket).toBe(0)
    for (const stack of [...stacks, peer]) stack.stop()
    link.host.close()
  })
})
