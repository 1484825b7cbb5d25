// The dpdk port's buffer handling against a stand-in for the addon: a mempool of mbufs in one chunk, a
// device that transmits by index and receives frames written into mbufs. What the real addon does on
// DPDK's virtual devices is tested in packages/stack/src/dpdk-kernel.test.ts.
import { describe, expect, it } from 'vitest'
import { BufferPool, OffloadFlags, type PacketBuffer } from '../buffer-pool.js'
import { DpdkBufferPool, type DpdkNative, DpdkPort, parseEalArgs } from './dpdk-port.js'

const SLOT = 2304
const HEADROOM = 128

/** A mempool of `count` mbufs in one chunk, and a device with one queue. */
function fakeNative(count: number) {
  const chunk = new ArrayBuffer(SLOT * count)
  const slots = new Int32Array(count * 4)
  for (let i = 0; i < count; i++) slots.set([0, i * SLOT, SLOT, HEADROOM], i * 4)
  const free: number[] = Array.from({ length: count }, (_, i) => count - 1 - i)
  const sent: Array<{ index: number; bytes: Uint8Array; flags: number }> = []
  const arriving: Array<{ index: number; offset: number; length: number; flags: number }> = []
  let txRoom = Number.POSITIVE_INFINITY
  const native: DpdkNative = {
    ealInit() {},
    threadRegister: () => 1,
    portCount: () => 1,
    portByName: () => 0,
    portInfo: () => ({ name: 'net_fake0', driver: 'net_fake', mac: new Uint8Array(6), mtu: 1500, maxRxPktLen: 1518, maxRxQueues: 1, maxTxQueues: 1, txTcpTso: false }),
    poolCreate: () => ({ id: 0, count, chunks: [chunk], slots }),
    poolAttach: () => ({ id: 0, count, chunks: [chunk], slots }),
    poolAlloc(_pool, n, out) {
      if (free.length < n) return 0
      for (let i = 0; i < n; i++) out[i] = free.pop()!
      return n
    },
    poolFree(_pool, n, indices) {
      for (let i = 0; i < n; i++) free.push(indices[i]!)
    },
    poolAvailable: () => free.length,
    portStart: () => ({ txIpv4Checksum: false, txTcpChecksum: false, txUdpChecksum: false, tso: false, rxChecksum: true }),
    portStop() {},
    rxBurst(_port, _queue, max, out) {
      const n = Math.min(max, arriving.length)
      for (let i = 0; i < n; i++) {
        const frame = arriving.shift()!
        out.set([frame.index, frame.offset, frame.length, frame.flags], i * 4)
      }
      return n
    },
    txBurst(_port, _queue, _pool, n, frames) {
      const take = Math.min(n, txRoom)
      for (let i = 0; i < take; i++) {
        const [index, offset, length, flags] = frames.subarray(i * 8, i * 8 + 4)
        // The device reads the frame where JavaScript wrote it: the mbuf's own memory.
        sent.push({ index: index!, bytes: new Uint8Array(chunk, index! * SLOT + offset!, length!).slice(), flags: flags! })
        free.push(index!) // sent and freed by the device
      }
      return take
    },
    linkStatus: () => ({ up: true, speed: 10_000, fullDuplex: true }),
    stats: () => ({ imissed: 3, ierrors: 1, oerrors: 2, rxNoMbuf: 4, copies: 0, xstats: { rx_good_packets: 7 } }),
    rssReta: () => 0,
  }
  /** A frame arriving into a free mbuf, as the device would receive it. */
  const arrive = (bytes: Uint8Array, flags = 0) => {
    const index = free.pop()!
    new Uint8Array(chunk, index * SLOT + HEADROOM, bytes.length).set(bytes)
    arriving.push({ index, offset: HEADROOM, length: bytes.length, flags })
  }
  return { native, chunk, sent, arrive, free, setTxRoom: (room: number) => (txRoom = room) }
}

function openFake(count = 256) {
  const fake = fakeNative(count)
  const pool = new DpdkBufferPool(fake.native, fake.native.poolCreate('p', count, SLOT, 0))
  const port = new DpdkPort(fake.native, 0, 0, 'net_fake0', new Uint8Array(6), pool, pool, fake.native.portStart(0, {} as never), { mtu: 1500, burst: 32, idleSleepMs: 1 })
  return { fake, pool, port }
}

const frame = (length: number, fill: number) => new Uint8Array(length).fill(fill)

describe('dpdk port buffers (zero copy)', () => {
  it('splits EAL arguments at white space and takes arrays as they are', () => {
    expect(parseEalArgs('  --no-huge  -m 256\t--vdev=net_tap0 ')).toEqual(['--no-huge', '-m', '256', '--vdev=net_tap0'])
    expect(parseEalArgs(['-l', '0'])).toEqual(['-l', '0'])
    expect(() => parseEalArgs([1] as unknown as string[])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }))
  })

  it('gives every buffer a view onto the mempool chunk, one ArrayBuffer for all', () => {
    const { fake, pool } = openFake()
    const bufs: PacketBuffer[] = []
    expect(pool.allocBulk(bufs, 100)).toBe(true)
    expect(new Set(bufs.map((b) => b.data.buffer)).size).toBe(1)
    expect(bufs[0]!.data.buffer).toBe(fake.chunk)
    expect(bufs[0]!.offset).toBe(HEADROOM)
    pool.freeBulk(bufs, 100)
  })

  it('transmits the bytes written into the buffer, by index, with no copy; the sent buffer is the device’s', () => {
    const { fake, pool, port } = openFake()
    const buffer = pool.alloc()!
    buffer.data.set(frame(60, 0xab), buffer.offset)
    buffer.length = 60
    buffer.offloadFlags = OffloadFlags.TX_IP_CHECKSUM
    expect(port.txBurst([buffer], 1)).toBe(1)
    expect(fake.sent).toHaveLength(1)
    expect(fake.sent[0]!.index).toBe(buffer.index)
    expect(fake.sent[0]!.bytes).toEqual(frame(60, 0xab))
    expect(fake.sent[0]!.flags).toBe(OffloadFlags.TX_IP_CHECKSUM)
    expect(port.copies).toBe(0)
    expect(() => buffer.release()).toThrow(expect.objectContaining({ code: 'ERR_BUFFER_STATE' }))
  })

  it('leaves frames the device refuses with the caller (backpressure)', () => {
    const { fake, pool, port } = openFake()
    const bufs: PacketBuffer[] = []
    pool.allocBulk(bufs, 4)
    for (const b of bufs) b.length = 60
    fake.setTxRoom(1)
    expect(port.txBurst(bufs, 4)).toBe(1)
    expect(() => bufs[1]!.release()).not.toThrow()
  })

  it('hands received mbufs to the caller without a copy, with the device’s checksum verdicts', () => {
    const { fake, pool, port } = openFake()
    fake.arrive(frame(64, 0x11), OffloadFlags.RX_IP_CHECKSUM_GOOD | OffloadFlags.RX_L4_CHECKSUM_GOOD)
    fake.arrive(frame(70, 0x22), OffloadFlags.RX_IP_CHECKSUM_GOOD | (1 << 17))
    const bufs: PacketBuffer[] = []
    expect(port.rxBurst(bufs, 32)).toBe(2)
    expect(bufs[0]!.data.buffer).toBe(fake.chunk)
    expect(bufs[0]!.frame()).toEqual(frame(64, 0x11))
    expect(bufs[0]!.offloadFlags).toBe(OffloadFlags.RX_IP_CHECKSUM_GOOD | OffloadFlags.RX_L4_CHECKSUM_GOOD)
    // A bad checksum reported by the device: no verdict, the stack checks and counts it.
    expect(bufs[1]!.offloadFlags).toBe(0)
    expect(port.stats.rxPackets).toBe(2)
    bufs[0]!.release()
    bufs[1]!.release()
    expect(pool.available).toBe(256)
  })

  it('drops a chained frame as oversize and frees it', () => {
    const { fake, pool, port } = openFake()
    fake.arrive(frame(64, 1), 1 << 16)
    const bufs: PacketBuffer[] = []
    expect(port.rxBurst(bufs, 32)).toBe(0)
    expect(port.stats.drops.oversize).toBe(1)
    expect(pool.available).toBe(256)
  })

  it('copies a buffer of another pool into an mbuf, counted, and sends it', () => {
    const { fake, port } = openFake()
    const foreign = new BufferPool({ count: 2 }).alloc()!.setFrame(frame(80, 0x5a))
    expect(port.txBurst([foreign], 1)).toBe(1)
    expect(port.copies).toBe(1)
    expect(fake.sent[0]!.bytes).toEqual(frame(80, 0x5a))
  })

  it('counts runts and oversize frames as drops and frees them', () => {
    const { pool, port } = openFake()
    const runt = pool.alloc()!
    runt.length = 10
    const big = pool.alloc()!
    big.length = 1600
    expect(port.txBurst([runt, big], 2)).toBe(2)
    expect(port.stats.drops.runt).toBe(1)
    expect(port.stats.drops.oversize).toBe(1)
    expect(pool.available).toBe(256)
  })

  it('maps the device counters into the drop reasons and gives the xstats', () => {
    const { port } = openFake()
    expect(port.stats.drops.kernel).toBe(3)
    expect(port.stats.drops.noBuffer).toBe(4)
    expect(port.stats.drops.deviceError).toBe(3)
    expect(port.deviceStats()).toEqual({ rx_good_packets: 7 })
  })

  it('takes mbufs from the mempool 64 at a time and returns a surplus in bulk', () => {
    const { fake, pool } = openFake(4096)
    const first = pool.alloc()!
    expect(fake.free.length).toBe(4096 - 64)
    const bufs: PacketBuffer[] = []
    expect(pool.allocBulk(bufs, 2000)).toBe(true)
    pool.freeBulk(bufs, 2000)
    first.release()
    expect(pool.available).toBe(4096)
    expect(fake.free.length).toBeGreaterThan(4096 - 1024 - 1)
    expect(pool.alloc()).toBeDefined()
  })

  it('counts a failed allocation when the mempool is empty, never throws', () => {
    const { pool } = openFake(64)
    const bufs: PacketBuffer[] = []
    expect(pool.allocBulk(bufs, 64)).toBe(true)
    expect(pool.alloc()).toBeUndefined()
    expect(pool.stats.allocFailures).toBe(1)
  })
})
