import { describe, expect, it } from 'vitest'
import { BufferPool, type PacketBuffer } from '../buffer-pool.js'
import { VirtualClock } from '../clock.js'
import { DpdkIoError } from '../errors.js'
import { frameHash, frameSeq, numberedFrame } from '../test-frames.js'
import { createMemoryLink, type MemoryLink, type MemoryLinkOptions } from './memory-link.js'
import type { LinkImpairments } from './impairments.js'

interface Arrival {
  at: number
  seq: number
  length: number
  hash: number
}

/** Send `count` numbered frames from a to b at `gap` µs intervals and collect every arrival on the virtual clock. */
function run(impairments: LinkImpairments, options: { count?: number; gap?: number; length?: number; seed?: number } = {}) {
  const { count = 2000, gap = 100, length = 1000, seed = 42 } = options
  const clock = new VirtualClock()
  const pool = new BufferPool({ count: 4 * count + 64 })
  const link = createMemoryLink({ clock, seed, aToB: impairments })
  const arrivals: Arrival[] = []
  const rx: PacketBuffer[] = []
  link.b.onReadable(() => {
    const n = link.b.rxBurst(rx, 32)
    for (let i = 0; i < n; i++) {
      const buffer = rx[i]!
      arrivals.push({ at: clock.now(), seq: frameSeq(buffer), length: buffer.length, hash: frameHash(buffer) })
      buffer.release()
    }
  })
  let sent = 0
  const sender = clock.createTimer(() => {
    link.a.txBurst([numberedFrame(pool, sent, length)], 1)
    sent++
    if (sent < count) sender.arm(clock.now() + gap)
  })
  sender.arm(0)
  clock.runUntilIdle()
  return { link, pool, arrivals, clock }
}

function seqs(arrivals: Arrival[]): number[] {
  return arrivals.map((a) => a.seq)
}

describe('memory link: a perfect link', () => {
  it('passes the same buffers through, in order, without copying', () => {
    const pool = new BufferPool({ count: 64 })
    const link = createMemoryLink()
    const sent = Array.from({ length: 32 }, (_, i) => numberedFrame(pool, i, 60 + i))
    expect(link.a.txBurst(sent, 32)).toBe(32)
    const received: PacketBuffer[] = []
    expect(link.b.rxBurst(received, 64)).toBe(32)
    expect(received).toEqual(sent)
    for (let i = 0; i < 32; i++) expect(received[i]).toBe(sent[i])
    expect(link.a.stats.txPackets).toBe(32)
    expect(link.b.stats.rxBytes).toBe(sent.reduce((sum, b) => sum + b.length, 0))
  })

  it('works both ways and never hands a port its own frames', () => {
    const pool = new BufferPool({ count: 8 })
    const link = createMemoryLink()
    link.a.txBurst([numberedFrame(pool, 1)], 1)
    link.b.txBurst([numberedFrame(pool, 2)], 1)
    const got: PacketBuffer[] = []
    expect(link.a.rxBurst(got, 8)).toBe(1)
    expect(frameSeq(got[0]!)).toBe(2)
    expect(link.b.rxBurst(got, 8)).toBe(1)
    expect(frameSeq(got[0]!)).toBe(1)
  })

  it('respects max in rxBurst and keeps the rest', () => {
    const pool = new BufferPool({ count: 16 })
    const link = createMemoryLink()
    const frames = Array.from({ length: 10 }, (_, i) => numberedFrame(pool, i))
    link.a.txBurst(frames, 10)
    const got: PacketBuffer[] = []
    expect(link.b.rxBurst(got, 4)).toBe(4)
    expect(link.b.pendingRx).toBe(6)
    expect(link.b.rxBurst(got, 32)).toBe(6)
    expect(frameSeq(got[0]!)).toBe(4)
  })
})

describe('memory link: rate, delay and queue', () => {
  it('delivers a frame after serialisation plus propagation, exactly', () => {
    const clock = new VirtualClock()
    const pool = new BufferPool({ count: 8 })
    const link = createMemoryLink({ clock, impairments: { rate: 100e6, delay: 20_000 } })
    link.a.txBurst([numberedFrame(pool, 0, 1250)], 1) // 1250 B at 100 Mbit/s: 100 µs
    link.a.txBurst([numberedFrame(pool, 1, 1250)], 1) // queued behind it: leaves at 200 µs
    expect(link.b.nextRxAt()).toBe(20_100)
    const got: PacketBuffer[] = []
    clock.advanceTo(20_099.999)
    expect(link.b.rxBurst(got, 8)).toBe(0)
    clock.advanceTo(20_100)
    expect(link.b.rxBurst(got, 8)).toBe(1)
    clock.advanceTo(20_199.999)
    expect(link.b.rxBurst(got, 8)).toBe(0)
    clock.advanceTo(20_200)
    expect(link.b.rxBurst(got, 8)).toBe(1)
  })

  it('counts per-frame overhead in the serialisation time', () => {
    const clock = new VirtualClock()
    const pool = new BufferPool({ count: 8 })
    const link = createMemoryLink({ clock, impairments: { rate: 8e6, overhead: 24 } })
    link.a.txBurst([numberedFrame(pool, 0, 976)], 1)
    expect(link.b.nextRxAt()).toBe(1000) // (976 + 24) bytes at 1 byte/µs
  })

  it('delivers rate × time within one frame over a saturated 10 s run at 100 Mbit/s', () => {
    const clock = new VirtualClock()
    const pool = new BufferPool({ count: 512 })
    const rate = 100e6
    const delay = 20_000
    const link = createMemoryLink({ clock, impairments: { rate, delay, backpressure: true, queuePackets: 100 } })
    const end = 10e6
    let delivered = 0
    const rx: PacketBuffer[] = []
    link.b.onReadable(() => {
      const n = link.b.rxBurst(rx, 32)
      for (let i = 0; i < n; i++) {
        delivered += rx[i]!.length
        rx[i]!.release()
      }
    })
    const tx: PacketBuffer[] = []
    let seq = 0
    const fill = (): void => {
      if (clock.now() >= end) return
      for (;;) {
        tx[0] ??= numberedFrame(pool, seq++)
        if (link.a.txBurst(tx, 1) === 0) return
        tx.length = 0
      }
    }
    link.a.onWritable(fill)
    fill()
    clock.runUntilIdle(end)
    const expected = (rate / 8) * ((end - delay) / 1e6)
    expect(Math.abs(delivered - expected)).toBeLessThanOrEqual(1514)
    expect(link.a.stats.drops.queueFull).toBe(0)
  })

  it('drops at the packet limit of the queue (drop-tail)', () => {
    const clock = new VirtualClock()
    const pool = new BufferPool({ count: 64 })
    const link = createMemoryLink({ clock, impairments: { rate: 1e6, queuePackets: 10 } })
    const frames = Array.from({ length: 50 }, (_, i) => numberedFrame(pool, i))
    expect(link.a.txBurst(frames, 50)).toBe(50)
    expect(link.a.stats.drops.queueFull).toBe(40)
    expect(link.queued('aToB').packets).toBe(10)
    expect(pool.inUse).toBe(10)
    clock.runUntilIdle()
    clock.advanceBy(1e9)
    const got: PacketBuffer[] = []
    expect(link.b.rxBurst(got, 64)).toBe(10)
    expect(got.map(frameSeq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  it('drops at the byte limit of the queue', () => {
    const pool = new BufferPool({ count: 64 })
    const link = createMemoryLink({ clock: new VirtualClock(), impairments: { rate: 1e6, queueBytes: 5000 } })
    const frames = Array.from({ length: 8 }, (_, i) => numberedFrame(pool, i, 1000))
    link.a.txBurst(frames, 8)
    expect(link.queued('aToB')).toEqual({ packets: 5, bytes: 5000 })
    expect(link.stats('aToB').queueDrops).toBe(3)
  })

  it('frees queue space as frames leave the transmitter', () => {
    const clock = new VirtualClock()
    const pool = new BufferPool({ count: 64 })
    const link = createMemoryLink({ clock, impairments: { rate: 8e6, queuePackets: 2 } }) // 1000 B = 1 ms
    const frames = Array.from({ length: 4 }, (_, i) => numberedFrame(pool, i, 1000))
    link.a.txBurst(frames, 2)
    clock.advanceTo(1000)
    expect(link.a.txBurst(frames.slice(2), 2)).toBe(2)
    expect(link.a.stats.drops.queueFull).toBe(1)
  })

  it('with backpressure refuses instead of dropping, and wakes the sender when space opens', () => {
    const clock = new VirtualClock()
    const pool = new BufferPool({ count: 64 })
    const link = createMemoryLink({ clock, impairments: { rate: 8e6, queuePackets: 3, backpressure: true } })
    const frames = Array.from({ length: 5 }, (_, i) => numberedFrame(pool, i, 1000))
    let wokenAt = -1
    link.a.onWritable(() => (wokenAt = clock.now()))
    expect(link.a.txBurst(frames, 5)).toBe(3)
    expect(link.a.stats.drops.queueFull).toBe(0)
    expect(link.stats('aToB').refused).toBe(2)
    clock.runUntilIdle()
    expect(wokenAt).toBe(1000)
    expect(link.a.txBurst(frames.slice(3), 2)).toBe(1)
  })
})

describe('memory link: an ECN-marking queue (ecnMarkPackets, RFC 3168 §5)', () => {
  /** An IPv4 frame (20-byte header with a valid checksum) whose ECN field is `ecn`, numbered in its identification field. */
  function ipv4Frame(pool: BufferPool, seq: number, ecn: number): PacketBuffer {
    const buffer = numberedFrame(pool, 0, 1000)
    const d = buffer.data
    const o = buffer.offset
    d[o + 12] = 0x08
    d[o + 13] = 0x00
    const ip = o + 14
    d.fill(0, ip, ip + 20)
    d[ip] = 0x45
    d[ip + 1] = ecn
    buffer.view.setUint16(ip + 2, 1000 - 14)
    buffer.view.setUint16(ip + 4, seq)
    d[ip + 8] = 64
    d[ip + 9] = 17
    buffer.view.setUint16(ip + 10, ipChecksum(d, ip))
    return buffer
  }
  function ipChecksum(d: Uint8Array, ip: number): number {
    let sum = 0
    for (let i = 0; i < 20; i += 2) if (i !== 10) sum += (d[ip + i]! << 8) | d[ip + i + 1]!
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
    return ~sum & 0xffff
  }

  it('marks ECT frames CE above the threshold, fixing the header checksum, and drops non-ECT frames there', () => {
    const clock = new VirtualClock()
    const pool = new BufferPool({ count: 64 })
    const link = createMemoryLink({ clock, impairments: { rate: 1e6, queuePackets: 100, ecnMarkPackets: 3 } })
    // Six ECT(0) frames, then two Not-ECT and one ECT(1): the first three find fewer than 3 queued.
    const frames = [0, 1, 2, 3, 4, 5].map((i) => ipv4Frame(pool, i, 2))
    frames.push(ipv4Frame(pool, 6, 0), ipv4Frame(pool, 7, 0), ipv4Frame(pool, 8, 1))
    expect(link.a.txBurst(frames, frames.length)).toBe(frames.length)
    expect(link.stats('aToB').ceMarked).toBe(4)
    expect(link.stats('aToB').aqmDrops).toBe(2)
    expect(link.a.stats.drops.queueFull).toBe(2)
    clock.runUntilIdle()
    clock.advanceBy(1e9)
    const got: PacketBuffer[] = []
    expect(link.b.rxBurst(got, 64)).toBe(7)
    const seen = got.map((b) => ({ id: b.view.getUint16(b.offset + 18), ecn: b.data[b.offset + 15]! & 3 }))
    expect(seen).toEqual([
      { id: 0, ecn: 2 },
      { id: 1, ecn: 2 },
      { id: 2, ecn: 2 },
      { id: 3, ecn: 3 },
      { id: 4, ecn: 3 },
      { id: 5, ecn: 3 },
      { id: 8, ecn: 3 },
    ])
    for (const b of got) expect(b.view.getUint16(b.offset + 24)).toBe(ipChecksum(b.data, b.offset + 14))
  })

  /**
   * An IPv6 frame (RFC 8200 §3) carrying UDP, whose Traffic Class is `trafficClass` (DSCP in the high six
   * bits, ECN in the low two) and flow label 0xabcde, numbered in its first payload word.
   */
  function ipv6Frame(pool: BufferPool, seq: number, trafficClass: number): PacketBuffer {
    const buffer = numberedFrame(pool, 0, 1000)
    const d = buffer.data
    const o = buffer.offset
    d[o + 12] = 0x86
    d[o + 13] = 0xdd
    const ip = o + 14
    buffer.view.setUint32(ip, (6 << 28) | (trafficClass << 20) | 0xabcde)
    buffer.view.setUint16(ip + 4, 1000 - 14 - 40)
    d[ip + 6] = 17
    d[ip + 7] = 64
    d.fill(0x20, ip + 8, ip + 40)
    buffer.view.setUint32(ip + 40, seq)
    return buffer
  }

  it('marks ECT IPv6 frames CE in the Traffic Class (RFC 3168 §5, RFC 8200 §7), leaving DSCP, the flow label and every other byte alone', () => {
    const clock = new VirtualClock()
    const pool = new BufferPool({ count: 64 })
    const link = createMemoryLink({ clock, impairments: { rate: 1e6, queuePackets: 100, ecnMarkPackets: 3 } })
    const dscp = 0x2e << 2 // EF, so a mark that spilled outside the ECN bits would show
    const frames = [0, 1, 2, 3, 4, 5].map((i) => ipv6Frame(pool, i, dscp | 2))
    frames.push(ipv6Frame(pool, 6, dscp), ipv6Frame(pool, 7, dscp | 1), ipv6Frame(pool, 8, dscp | 3))
    const before = frames.map((b) => b.data.slice(b.offset, b.offset + b.length))
    expect(link.a.txBurst(frames, frames.length)).toBe(frames.length)
    expect(link.stats('aToB').ceMarked).toBe(5)
    expect(link.stats('aToB').aqmDrops).toBe(1)
    clock.runUntilIdle()
    clock.advanceBy(1e9)
    const got: PacketBuffer[] = []
    expect(link.b.rxBurst(got, 64)).toBe(8)
    const seen = got.map((b) => {
      const word = b.view.getUint32(b.offset + 14)
      return { seq: b.view.getUint32(b.offset + 54), version: word >>> 28, dscp: (word >>> 22) & 0x3f, ecn: (word >>> 20) & 3, flow: word & 0xfffff }
    })
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 7, 8].map((seq) => ({ seq, version: 6, dscp: 0x2e, ecn: seq < 3 ? 2 : 3, flow: 0xabcde })))
    for (const b of got) {
      const original = before[b.view.getUint32(b.offset + 54)]!
      const now = b.data.slice(b.offset, b.offset + b.length)
      const changed = [...now.keys()].filter((i) => now[i] !== original[i])
      // Only octet 1 of the IPv6 header (the low Traffic Class nibble) may differ.
      expect(changed.every((i) => i === 15)).toBe(true)
    }
  })

  it('drops, instead of marking, frames that are not IP or too short for their header', () => {
    const clock = new VirtualClock()
    const pool = new BufferPool({ count: 64 })
    const link = createMemoryLink({ clock, impairments: { rate: 1e6, queuePackets: 100, ecnMarkPackets: 1 } })
    const truncated = ipv6Frame(pool, 1, 2)
    truncated.length = 14 + 39
    const wrongVersion = ipv6Frame(pool, 2, 2)
    wrongVersion.data[wrongVersion.offset + 14] = 0x46 // version 4 under the IPv6 EtherType
    const first = ipv6Frame(pool, 0, 2)
    expect(link.a.txBurst([first, truncated, wrongVersion, numberedFrame(pool, 3, 100)], 4)).toBe(4)
    expect(link.stats('aToB').ceMarked).toBe(0)
    expect(link.stats('aToB').aqmDrops).toBe(3)
  })

  it('rejects a threshold below one packet', () => {
    expect(() => createMemoryLink({ impairments: { rate: 1e6, ecnMarkPackets: 0 } })).toThrow(/aToB\.ecnMarkPackets/)
  })
})

describe('memory link: impairments, each deterministic with a seed', () => {
  it('random loss drops about the configured share, the same frames for the same seed', () => {
    const first = run({ loss: 0.1 }, { count: 5000 })
    const again = run({ loss: 0.1 }, { count: 5000 })
    const other = run({ loss: 0.1 }, { count: 5000, seed: 43 })
    const lost = 5000 - first.arrivals.length
    expect(lost).toBe(first.link.stats('aToB').randomLosses)
    expect(first.link.a.stats.drops.randomLoss).toBe(lost)
    expect(lost).toBeGreaterThan(400) // 10% of 5000 is 500, σ ≈ 21
    expect(lost).toBeLessThan(600)
    expect(seqs(again.arrivals)).toEqual(seqs(first.arrivals))
    expect(seqs(other.arrivals)).not.toEqual(seqs(first.arrivals))
    expect(first.pool.inUse).toBe(0)
  })

  it('bursty loss (Gilbert–Elliott) loses in runs at the stationary rate', () => {
    const p = 0.01
    const r = 0.2
    const { arrivals, link } = run({ burstLoss: { p, r } }, { count: 20_000, gap: 10 })
    const delivered = new Set(seqs(arrivals))
    const runs: number[] = []
    let current = 0
    for (let seq = 0; seq < 20_000; seq++) {
      if (!delivered.has(seq)) current++
      else if (current > 0) {
        runs.push(current)
        current = 0
      }
    }
    const lost = 20_000 - delivered.size
    expect(lost).toBe(link.stats('aToB').burstLosses)
    const stationary = p / (p + r) // ≈ 0.048
    expect(lost / 20_000).toBeGreaterThan(stationary * 0.7)
    expect(lost / 20_000).toBeLessThan(stationary * 1.3)
    const meanRun = runs.reduce((a, b) => a + b, 0) / runs.length // expected 1 / r = 5
    expect(meanRun).toBeGreaterThan(3.5)
    expect(meanRun).toBeLessThan(6.5)
    expect(seqs(run({ burstLoss: { p, r } }, { count: 20_000, gap: 10 }).arrivals)).toEqual(seqs(arrivals))
  })

  it('reordering holds frames back so later ones overtake, losing none', () => {
    const { arrivals, link } = run({ reorder: 0.05, reorderDelay: 500, delay: 1000 }, { count: 3000, gap: 100 })
    expect(arrivals.length).toBe(3000)
    expect(new Set(seqs(arrivals)).size).toBe(3000)
    // A frame is overtaken when a later-sent frame arrived before it.
    let overtaken = 0
    let highest = -1
    for (const a of arrivals) {
      if (a.seq < highest) overtaken++
      else highest = a.seq
    }
    const reordered = link.stats('aToB').reordered
    expect(reordered).toBeGreaterThan(100)
    expect(reordered).toBeLessThan(200)
    expect(overtaken).toBe(reordered)
    for (const a of arrivals) expect(a.at).toBeGreaterThanOrEqual(a.seq * 100 + 1000)
  })

  it('duplication delivers identical copies and leaks no buffer', () => {
    const { arrivals, link, pool } = run({ duplicate: 0.1 }, { count: 3000 })
    const duplicated = link.stats('aToB').duplicated
    expect(arrivals.length).toBe(3000 + duplicated)
    expect(duplicated).toBeGreaterThan(220)
    expect(duplicated).toBeLessThan(380)
    const bySeq = new Map<number, number[]>()
    for (const a of arrivals) bySeq.set(a.seq, [...(bySeq.get(a.seq) ?? []), a.hash])
    const twice = [...bySeq.values()].filter((hashes) => hashes.length === 2)
    expect(twice.length).toBe(duplicated)
    for (const [h1, h2] of twice) expect(h1).toBe(h2)
    expect(pool.inUse).toBe(0)
  })

  it('corruption flips exactly one bit of a chosen frame', () => {
    const clock = new VirtualClock()
    const pool = new BufferPool({ count: 64 })
    const link = createMemoryLink({ clock, seed: 5, impairments: { corrupt: 1 } })
    const original = new Uint8Array(numberedFrame(pool, 7, 200).frame())
    pool.alloc() // keep the pool order deterministic; irrelevant to the check
    const frame = pool.alloc()!.setFrame(original)
    link.a.txBurst([frame], 1)
    const got: PacketBuffer[] = []
    link.b.rxBurst(got, 1)
    const received = got[0]!.frame()
    let flippedBits = 0
    for (let i = 0; i < original.length; i++) {
      let x = original[i]! ^ received[i]!
      while (x) {
        flippedBits += x & 1
        x >>= 1
      }
    }
    expect(flippedBits).toBe(1)
    expect(link.stats('aToB').corrupted).toBe(1)
  })

  it('corrupts about the configured share of frames', () => {
    const clean = run({}, { count: 2000 })
    const dirty = run({ corrupt: 0.2 }, { count: 2000 })
    expect(dirty.arrivals.length).toBe(clean.arrivals.length)
    const changed = dirty.arrivals.filter((a, i) => clean.arrivals[i]!.hash !== a.hash).length
    expect(changed).toBe(dirty.link.stats('aToB').corrupted)
    expect(changed).toBeGreaterThan(330)
    expect(changed).toBeLessThan(470)
  })

  it('jitter spreads arrival times within ±jitter and keeps order', () => {
    const { arrivals } = run({ delay: 10_000, jitter: 2000 }, { count: 2000, gap: 5000 })
    expect(seqs(arrivals)).toEqual(Array.from({ length: 2000 }, (_, i) => i))
    const offsets = arrivals.map((a) => a.at - a.seq * 5000 - 10_000)
    expect(Math.min(...offsets)).toBeGreaterThanOrEqual(-2000)
    expect(Math.max(...offsets)).toBeLessThanOrEqual(2000)
    expect(Math.min(...offsets)).toBeLessThan(-1800)
    expect(Math.max(...offsets)).toBeGreaterThan(1800)
  })
})

describe('memory link: virtual-clock determinism', () => {
  const everything: LinkImpairments = {
    rate: 50e6,
    delay: 3000,
    jitter: 400,
    loss: 0.02,
    burstLoss: { p: 0.005, r: 0.3 },
    reorder: 0.02,
    duplicate: 0.01,
    corrupt: 0.01,
    queuePackets: 20,
  }

  it('gives identical packet timelines for two runs with the same seed', () => {
    const one = run(everything, { count: 4000, gap: 150 })
    const two = run(everything, { count: 4000, gap: 150 })
    expect(two.arrivals).toEqual(one.arrivals)
    expect(one.arrivals.length).toBeGreaterThan(3000)
  })

  it('gives a different timeline for another seed', () => {
    const one = run(everything, { count: 4000, gap: 150 })
    const two = run(everything, { count: 4000, gap: 150, seed: 7 })
    expect(two.arrivals).not.toEqual(one.arrivals)
  })
})

describe('memory link: readiness', () => {
  it('calls the readable listener when a frame arrives, on the virtual clock', () => {
    const clock = new VirtualClock()
    const pool = new BufferPool({ count: 8 })
    const link = createMemoryLink({ clock, impairments: { delay: 700 } })
    const calls: number[] = []
    link.b.onReadable(() => calls.push(clock.now()))
    link.a.txBurst([numberedFrame(pool, 0)], 1)
    clock.advanceTo(100)
    link.a.txBurst([numberedFrame(pool, 1)], 1)
    clock.advanceTo(10_000)
    expect(calls).toEqual([700]) // one edge; nobody drained the first frame yet
    const got: PacketBuffer[] = []
    link.b.rxBurst(got, 1) // leaves one behind: the port wakes the driver again
    clock.runUntilIdle()
    expect(calls).toEqual([700, 10_000])
  })

  it('arms no wake-up in busy-poll mode', () => {
    const clock = new VirtualClock()
    const pool = new BufferPool({ count: 8 })
    const link = createMemoryLink({ clock, impairments: { delay: 700 } })
    let calls = 0
    link.b.busyPoll = true
    link.b.onReadable(() => calls++)
    link.a.txBurst([numberedFrame(pool, 0)], 1)
    expect(clock.pendingTimers).toBe(0)
    clock.advanceTo(10_000)
    expect(calls).toBe(0)
    expect(link.b.rxBurst([], 8)).toBe(1)
  })

  it('wakes a real-clock driver', async () => {
    const pool = new BufferPool({ count: 8 })
    const link = createMemoryLink({ impairments: { delay: 1500 } })
    const arrived = new Promise<number>((resolve) => link.b.onReadable(() => resolve(link.b.rxBurst([], 8))))
    link.a.txBurst([numberedFrame(pool, 0)], 1)
    expect(await arrived).toBe(1)
    link.close()
  })
})

describe('memory link: bad input', () => {
  it.each<[string, MemoryLinkOptions, RegExp]>([
    ['negative rate', { impairments: { rate: -1 } }, /aToB\.rate must be in \[1, Infinity\] bit\/s, got -1/],
    ['loss above 1', { bToA: { loss: 1.5 } }, /bToA\.loss must be in \[0, 1\], got 1\.5/],
    ['negative delay', { aToB: { delay: -5 } }, /aToB\.delay must be in \[0, /],
    ['NaN jitter', { aToB: { jitter: Number.NaN } }, /aToB\.jitter/],
    ['zero queue', { aToB: { queuePackets: 0 } }, /aToB\.queuePackets must be in \[1, Infinity\]/],
    ['fractional queue', { aToB: { queueBytes: 10.5 } }, /aToB\.queueBytes must be an integer/],
    ['Gilbert–Elliott without p', { aToB: { burstLoss: { r: 0.1 } as never } }, /aToB\.burstLoss\.p must be in \[0, 1\]/],
    ['tiny MTU', { mtu: 10 }, /mtu must be in \[68, 65535\]/],
    ['short MAC', { macs: [new Uint8Array(5), new Uint8Array(6)] }, /macs/],
  ])('rejects %s with ERR_INVALID_CONFIG naming the setting', (_, options, message) => {
    let error: unknown
    try {
      createMemoryLink(options)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(DpdkIoError)
    expect((error as DpdkIoError).code).toBe('ERR_INVALID_CONFIG')
    expect((error as DpdkIoError).message).toMatch(message)
  })

  it('rejects bad settings at run time too, keeping the old ones', () => {
    const link = createMemoryLink({ impairments: { loss: 0.5 } })
    expect(() => link.configure('both', { duplicate: 2 })).toThrowError(/duplicate must be in \[0, 1\]/)
    expect(link.settings('aToB').loss).toBe(0.5)
  })

  it('counts an oversize or runt frame as a drop, frees it, and carries on', () => {
    const pool = new BufferPool({ count: 8 })
    const link = createMemoryLink({ mtu: 1500 })
    const big = numberedFrame(pool, 0, 1515)
    const runt = numberedFrame(pool, 1, 20)
    runt.length = 13
    const fine = numberedFrame(pool, 2, 1514)
    expect(link.a.txBurst([big, runt, fine], 3)).toBe(3)
    expect(link.a.stats.drops.oversize).toBe(1)
    expect(link.a.stats.drops.runt).toBe(1)
    expect(pool.inUse).toBe(1)
    const got: PacketBuffer[] = []
    expect(link.b.rxBurst(got, 8)).toBe(1)
    expect(frameSeq(got[0]!)).toBe(2)
  })

  it('drops frames while the link is down', () => {
    const pool = new BufferPool({ count: 8 })
    const link: MemoryLink = createMemoryLink()
    link.up = false
    link.a.txBurst([numberedFrame(pool, 0)], 1)
    expect(link.a.stats.drops.linkDown).toBe(1)
    expect(link.b.rxBurst([], 8)).toBe(0)
  })

  it('frees frames in flight on close and refuses transmits after', () => {
    const clock = new VirtualClock()
    const pool = new BufferPool({ count: 8 })
    const link = createMemoryLink({ clock, impairments: { delay: 1000 } })
    link.a.txBurst([numberedFrame(pool, 0), numberedFrame(pool, 1)], 2)
    expect(pool.inUse).toBe(2)
    link.close()
    expect(pool.inUse).toBe(0)
    expect(() => link.a.txBurst([numberedFrame(pool, 2)], 1)).toThrowError(expect.objectContaining({ code: 'ERR_PORT_CLOSED' }))
    expect(clock.pendingTimers).toBe(0)
  })
})
