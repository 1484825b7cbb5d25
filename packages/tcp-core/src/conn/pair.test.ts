// Two connections talking through a simulated lossy channel: handshake, data both ways, close.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FixedWindowControl, type SentSegment, snapshot, testConfig } from '../testing/index.js'
import { TcpConnection } from './connection.js'
import { TcpFlags } from '../wire/tcp.js'
import type { InboundSegment } from './segment.js'
import type { TcpConfig } from './tcp-config.js'
import type { AckMeasurement, Micros } from '../congestion/congestion-control.js'

/** A fixed window that also keeps a copy of every per-ACK measurement (what a CCP datapath reads). */
class MeasuringControl extends FixedWindowControl {
  readonly measurements: AckMeasurement[] = []
  onAckMeasurement(_now: Micros, measurement: Readonly<AckMeasurement>): void {
    this.measurements.push({ ...measurement })
  }
}

interface Channel {
  loss: number
  duplicate: number
  reorder: number
  delay: number
}

interface InFlight {
  at: number
  order: number
  segment: InboundSegment
}

function toInbound(s: SentSegment): InboundSegment {
  return {
    seq: s.seq,
    ack: s.ack,
    flags: s.flags,
    window: s.window,
    mss: s.mss > 0 ? s.mss : undefined,
    windowScale: s.windowScale >= 0 ? s.windowScale : undefined,
    sackPermitted: s.sackPermitted,
    tsValue: s.timestamps ? s.tsValue : undefined,
    tsEcho: s.tsEcho,
    sackBlocks: s.sack.map(([left, right]) => ({ left, right })),
    payload: s.payload,
    payloadOffset: 0,
    payloadLength: s.payload.byteLength,
  }
}

/** A deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function transfer(options: { seed: number; channel: Channel; aToB: number; bToA: number; config?: Partial<TcpConfig> }) {
  const rand = random(options.seed)
  const config = testConfig({ congestionControl: () => new FixedWindowControl(64 * 1024), minRto: 50_000, ...options.config })
  const a = TcpConnection.connect(config, 0, 0xfffff000)
  let b: TcpConnection | undefined
  const toA: InFlight[] = []
  const toB: InFlight[] = []
  let order = 0
  let now = 0
  const dataAToB = Uint8Array.from({ length: options.aToB }, (_, i) => (i * 7 + options.seed) & 0xff)
  const dataBToA = Uint8Array.from({ length: options.bToA }, (_, i) => (i * 11 + 3) & 0xff)
  let writtenA = 0
  let writtenB = 0
  const receivedByB: number[] = []
  const receivedByA: number[] = []
  const scratch = new Uint8Array(65536)

  const send = (queue: InFlight[], s: SentSegment): void => {
    const c = options.channel
    if (rand() < c.loss) return
    const extra = rand() < c.reorder ? c.delay * 3 * rand() : 0
    const copies = rand() < c.duplicate ? 2 : 1
    for (let i = 0; i < copies; i++) queue.push({ at: now + c.delay + extra, order: order++, segment: toInbound(s) })
  }
  const deliverDue = (queue: InFlight[], to: (segment: InboundSegment) => void): void => {
    queue.sort((x, y) => x.at - y.at || x.order - y.order)
    while (queue.length > 0 && queue[0]!.at <= now) to(queue.shift()!.segment)
  }
  const app = (connection: TcpConnection, data: Uint8Array, written: number, received: number[]): number => {
    if (connection.writable && written < data.length) written += connection.write(data, written, data.length - written)
    if (written === data.length && connection.writable) connection.shutdown()
    for (let n = connection.read(scratch); n > 0; n = connection.read(scratch)) received.push(...scratch.subarray(0, n))
    return written
  }

  for (let step = 0; step < 2_000_000; step++) {
    deliverDue(toA, (segment) => a.process(now, segment))
    deliverDue(toB, (segment) => {
      if (b === undefined) {
        if (segment.flags === TcpFlags.SYN) b = TcpConnection.accept(config, now, 0x7ffffff0, segment)
        return
      }
      b.process(now, segment)
    })
    writtenA = app(a, dataAToB, writtenA, receivedByA)
    if (b !== undefined) writtenB = app(b, dataBToA, writtenB, receivedByB)
    a.dispatch(now, (s) => send(toB, snapshot(s)))
    b?.dispatch(now, (s) => send(toA, snapshot(s)))
    const done = (c: TcpConnection | undefined) => c !== undefined && (c.state === 'CLOSED' || c.state === 'TIME-WAIT')
    if (done(a) && done(b) && toA.length === 0 && toB.length === 0) break
    if (a.state === 'CLOSED' && a.error !== undefined) break
    const pending = (c: TcpConnection | undefined) => c !== undefined && c.hasPendingOutput
    if (pending(a) || pending(b)) continue
    const candidates = [a.pollAt(), b?.pollAt(), ...toA.map((x) => x.at), ...toB.map((x) => x.at)].filter((t): t is number => t !== undefined)
    if (candidates.length === 0) break
    now = Math.max(now, Math.min(...candidates))
  }
  return { a, b: b!, receivedByA: Uint8Array.from(receivedByA), receivedByB: Uint8Array.from(receivedByB), dataAToB, dataBToA, now }
}

describe('two connections over a simulated channel', () => {
  it('moves data both ways and closes cleanly on a perfect channel', () => {
    const r = transfer({ seed: 1, channel: { loss: 0, duplicate: 0, reorder: 0, delay: 5000 }, aToB: 300_000, bToA: 70_000 })
    expect(r.receivedByB).toEqual(r.dataAToB)
    expect(r.receivedByA).toEqual(r.dataBToA)
    // Both sides close after writing, so the FINs may cross (simultaneous close): both can end in TIME-WAIT.
    for (const state of [r.a.state, r.b.state]) expect(['CLOSED', 'TIME-WAIT']).toContain(state)
    expect(r.a.stats.retransmittedSegments + r.b.stats.retransmittedSegments).toBe(0)
  })

  it('delivers intact under loss, duplication and reordering (property over seeds)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.constantFrom(0, 0.01, 0.05, 0.15),
        fc.constantFrom(0, 0.05),
        fc.constantFrom(0, 0.1),
        fc.boolean(),
        (seed, loss, duplicate, reorder, sack) => {
          const r = transfer({ seed, channel: { loss, duplicate, reorder, delay: 2000 }, aToB: 40_000, bToA: 10_000, config: { maxRetransmits: 50, synRetries: 50, sack } })
          expect(r.a.error).toBeUndefined()
          expect(r.receivedByB).toEqual(r.dataAToB)
          expect(r.receivedByA).toEqual(r.dataBToA)
        },
      ),
      { numRuns: 40 },
    )
  }, 120_000)

  it('measures every ACK for controllers that ask (bytes and packets acked, losses, RTT, counters)', () => {
    const congestionControl = () => new MeasuringControl(64 * 1024)
    const r = transfer({ seed: 7, channel: { loss: 0.03, duplicate: 0, reorder: 0, delay: 2000 }, aToB: 200_000, bToA: 0, config: { congestionControl, sack: true, maxRetransmits: 50 } })
    expect(r.receivedByB).toEqual(r.dataAToB)
    const sender = r.a.congestion as MeasuringControl
    const m = sender.measurements
    // Every segment after the SYN-ACK was an acceptable ACK, and each was measured once.
    expect(m.length).toBe(r.a.stats.segmentsIn - 1)
    expect(m.reduce((sum, x) => sum + x.bytesAcked, 0)).toBe(200_000)
    const mss = r.a.negotiated.mss
    for (const x of m) {
      expect(x.packetsAcked).toBe(Math.ceil(x.bytesAcked / mss))
      expect(x.packetsInFlight).toBe(Math.ceil(x.bytesInFlight / mss))
    }
    expect(m.some((x) => x.rttSample !== undefined && x.rttSample >= 4000)).toBe(true)
    // Every recovery episode was reported as a loss on the ACK that started it.
    expect(r.a.stats.fastRetransmits).toBeGreaterThan(0)
    expect(m.reduce((sum, x) => sum + x.lostPackets, 0)).toBeGreaterThanOrEqual(r.a.stats.fastRetransmits)
    expect(m.some((x) => x.bytesSacked > 0)).toBe(true)
    // The counters only grow, and the last one matches the connection's own.
    for (let i = 1; i < m.length; i++) expect(m[i]!.bytesSent).toBeGreaterThanOrEqual(m[i - 1]!.bytesSent)
    expect(m.at(-1)!.bytesSent).toBeLessThanOrEqual(r.a.stats.bytesSent)
    expect(m.at(-1)!.bytesDelivered).toBeGreaterThanOrEqual(200_000)
  })

  it('samples the delivery rate per ACK: a fixed window over a fixed RTT delivers window / RTT', () => {
    const congestionControl = () => new MeasuringControl(32 * 1448)
    const r = transfer({ seed: 3, channel: { loss: 0, duplicate: 0, reorder: 0, delay: 5000 }, aToB: 400_000, bToA: 0, config: { congestionControl, sack: true } })
    expect(r.receivedByB).toEqual(r.dataAToB)
    const m = (r.a.congestion as MeasuringControl).measurements
    const samples = m.map((x) => x.deliveryRate).filter((rate) => rate > 0)
    expect(samples.length).toBeGreaterThan(m.length / 2)
    // 32 segments per 10 ms round trip, once the window is full: the middle of the transfer.
    const expected = (32 * 1448) / 0.01
    const middle = samples.slice(Math.floor(samples.length / 4), Math.floor((3 * samples.length) / 4))
    for (const rate of middle) expect(rate / expected).toBeGreaterThan(0.9)
    for (const rate of middle) expect(rate / expected).toBeLessThan(1.1)
    for (const x of m) if (x.sendRate > 0) expect(x.sendRate).toBeGreaterThanOrEqual(x.deliveryRate)
  })
})

