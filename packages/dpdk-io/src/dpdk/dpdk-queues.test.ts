// startDpdkQueues / openDpdkQueue against a stand-in for the addon (loaded through `nativePackage` as a
// data: module that returns it): what the device is asked for (queues, pools, key, redirection table),
// how the steering mode follows from what it reports, and that a worker's queue registers its thread,
// attaches its own pools and leaves the device running on close. On DPDK itself: packages/stack/src/
// cluster/cluster-dpdk.test.ts.
import { afterEach, describe, expect, it } from 'vitest'
import type { DpdkNative } from './dpdk-port.js'
import { openDpdkQueue, startDpdkQueues } from './dpdk-queues.js'

const FAKE_MODULE = `data:text/javascript,${encodeURIComponent('export function dpdkBinding() { return globalThis.__mtcpFakeDpdk }')}`
const SLOT = 2304

interface Device {
  driver: string
  maxQueues: number
  retaSize: number
  hashKeySize: number
  /** RSS hash functions: 0 for a device that cannot hash (portStart then reports rss false). */
  rss: boolean
}

function fakeAddon(device: Device) {
  const calls = { poolCreate: 0, poolAttach: [] as number[], portStart: [] as Array<Record<string, unknown>>, reta: [] as number[], stop: 0, register: 0 }
  const pools: Array<{ id: number; count: number; chunks: ArrayBuffer[]; slots: Int32Array }> = []
  const free = new Map<number, number[]>()
  const native: DpdkNative = {
    ealInit() {},
    threadRegister: () => {
      calls.register++
      return 7
    },
    portCount: () => 1,
    portByName: (name) => (name === 'net_fake0' ? 0 : -1),
    portInfo: () => ({ name: 'net_fake0', driver: device.driver, mac: Uint8Array.of(2, 0, 0, 0, 0, 9), mtu: 1500, maxRxPktLen: 1518, maxRxQueues: device.maxQueues, maxTxQueues: device.maxQueues, txTcpTso: false, retaSize: device.retaSize, hashKeySize: device.hashKeySize }),
    poolCreate(_name, count) {
      calls.poolCreate++
      const slots = new Int32Array(count * 4)
      for (let i = 0; i < count; i++) slots.set([0, i * SLOT, SLOT, 128], i * 4)
      const pool = { id: pools.length, count, chunks: [new ArrayBuffer(SLOT * count)], slots }
      pools.push(pool)
      free.set(pool.id, Array.from({ length: count }, (_, i) => i))
      return pool
    },
    poolAttach(id) {
      calls.poolAttach.push(id)
      return pools[id]!
    },
    poolAlloc(pool, n, out) {
      const list = free.get(pool)!
      if (list.length < n) return 0
      for (let i = 0; i < n; i++) out[i] = list.pop()!
      return n
    },
    poolFree(pool, n, indices) {
      for (let i = 0; i < n; i++) free.get(pool)!.push(indices[i]!)
    },
    poolAvailable: (pool) => free.get(pool)!.length,
    portStart(_port, options) {
      calls.portStart.push({ ...options, rssKey: options.rssKey === undefined ? undefined : Array.from(options.rssKey) })
      const rss = options.rss && options.rxQueues > 1 && device.rss
      return { txIpv4Checksum: false, txTcpChecksum: false, txUdpChecksum: false, tso: false, rxChecksum: false, rss, rssKey: rss && options.rssKey !== undefined }
    },
    portStop() {
      calls.stop++
    },
    rxBurst: () => 0,
    txBurst: () => 0,
    linkStatus: () => ({ up: true, speed: 0, fullDuplex: true }),
    stats: () => ({ imissed: 0, ierrors: 0, oerrors: 0, rxNoMbuf: 0, copies: 0, xstats: { rx_q0_packets: 3, rx_q1_packets: 4 } }),
    rssReta(_port, queues) {
      calls.reta.push(queues)
      return device.retaSize
    },
  }
  ;(globalThis as { __mtcpFakeDpdk?: DpdkNative }).__mtcpFakeDpdk = native
  return calls
}

afterEach(() => {
  delete (globalThis as { __mtcpFakeDpdk?: DpdkNative }).__mtcpFakeDpdk
})

const NIC: Device = { driver: 'net_fake', maxQueues: 8, retaSize: 512, hashKeySize: 52, rss: true }
const VDEV: Device = { driver: 'net_af_packet', maxQueues: 2, retaSize: 0, hashKeySize: 0, rss: false }

describe('a DPDK port shared by worker threads, one queue pair each', () => {
  it('on a device that takes a key: one pool per queue, RSS with the symmetric key fitted to the device, the table as FlowSteering fills its own', async () => {
    const calls = fakeAddon(NIC)
    const device = await startDpdkQueues({ nativePackage: FAKE_MODULE, port: 'net_fake0', queues: 3, poolSize: 256 })
    expect(device.specs.map((spec) => spec.queue)).toEqual([0, 1, 2])
    expect(new Set(device.specs.map((spec) => spec.rxPool)).size).toBe(3)
    expect(calls.poolCreate).toBe(3)
    const start = calls.portStart[0]!
    expect(start).toMatchObject({ rxQueues: 3, txQueues: 3, rss: true, pools: device.specs.map((spec) => spec.rxPool) })
    const key = start.rssKey as number[]
    expect(key).toHaveLength(52)
    expect(key.every((byte, i) => byte === (i % 2 === 0 ? 0x6d : 0x5a))).toBe(true)
    expect(calls.reta).toEqual([3])
    expect(device.specs.every((spec) => spec.steering === 'toeplitz')).toBe(true)
    expect(Array.from(device.specs[0]!.rssKey)).toEqual(key)
  })

  it('repeats a shorter key to the device key size (only its first 16 bytes hash an IPv4 4-tuple) and refuses one under 16 bytes', async () => {
    const calls = fakeAddon(NIC)
    const key = Uint8Array.from({ length: 16 }, (_, i) => i + 1)
    await startDpdkQueues({ nativePackage: FAKE_MODULE, queues: 2, poolSize: 256, rssKey: key })
    const sent = calls.portStart[0]!.rssKey as number[]
    expect(sent.slice(0, 16)).toEqual(Array.from(key))
    expect(sent.slice(16, 32)).toEqual(Array.from(key))
    await expect(startDpdkQueues({ nativePackage: FAKE_MODULE, queues: 2, rssKey: new Uint8Array(15) })).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG' })
  })

  it("on a virtual device that spreads flows its own way the steering is 'opaque' and no table is written", async () => {
    const calls = fakeAddon(VDEV)
    const device = await startDpdkQueues({ nativePackage: FAKE_MODULE, queues: 2, poolSize: 256 })
    expect(calls.reta).toEqual([])
    expect(calls.portStart[0]!.rssKey).toBeUndefined()
    expect(device.specs.map((spec) => spec.steering)).toEqual(['opaque', 'opaque'])
    expect(device.deviceStats()).toEqual({ rx_q0_packets: 3, rx_q1_packets: 4 })
  })

  it('refuses more queues than the device has, naming the vdev argument that adds them', async () => {
    fakeAddon(VDEV)
    await expect(startDpdkQueues({ nativePackage: FAKE_MODULE, queues: 3 })).rejects.toThrow(/2 queue pairs, 3 asked for.*qpairs=N/)
    await expect(startDpdkQueues({ nativePackage: FAKE_MODULE, queues: 0 })).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG' })
  })

  it("a worker's queue registers its thread once, attaches its own pool, polls its own queue and leaves the device running on close", async () => {
    const calls = fakeAddon(VDEV)
    const device = await startDpdkQueues({ nativePackage: FAKE_MODULE, queues: 2, poolSize: 256 })
    const spec = structuredClone(device.specs[1]!) // as a worker gets it
    const port = await openDpdkQueue(spec)
    expect(port.queue).toBe(1)
    expect(port.lcore).toBe(7)
    expect(calls.poolAttach).toEqual([spec.rxPool])
    expect(port.devicePool.id).toBe(spec.rxPool)
    expect(Array.from(port.link.mac)).toEqual([2, 0, 0, 0, 0, 9])
    const again = await openDpdkQueue(device.specs[0]!, { mac: Uint8Array.of(2, 1, 1, 1, 1, 1) })
    expect(calls.register).toBe(1) // once per thread
    expect(Array.from(again.link.mac)).toEqual([2, 1, 1, 1, 1, 1])
    port.close()
    again.close()
    expect(calls.stop).toBe(0)
    device.stop()
    device.stop()
    expect(calls.stop).toBe(1)
  })

  it('refuses a spec that is not one', async () => {
    await expect(openDpdkQueue({} as never)).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG' })
  })
})
