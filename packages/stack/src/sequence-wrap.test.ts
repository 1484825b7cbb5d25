// Sequence numbers and timestamps kept across time stay right past 2^31 and 2^32 bytes (decision 0010).
// Every run is on the virtual clock over the memory link with a 64 KB MTU, so gigabytes take seconds.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { LinkImpairments } from '@mtcp/dpdk-io'
import { runStreams, segmentMultiplesWithTails } from './test-support/streams.js'
import { stackPair } from './testing.js'
import type { StackOptions } from './config.js'

const MTU = 65_535
/** The payload of one full segment at that MTU: 65,535 − 40 (IP, TCP) − 12 (timestamps). */
const MSS = MTU - 40 - 12
const TWO_31 = 2 ** 31
const TWO_32 = 2 ** 32
/** 40 Gbit/s, 20 µs each way: the virtual clock moves ~1 ms per 5 MB, so timestamps tick too. */
const LINK: LinkImpairments = { rate: 40e9, delay: 20, queuePackets: 4096 }

function pair(options: { stack?: Partial<StackOptions>; stackA?: Partial<StackOptions>; stackB?: Partial<StackOptions>; impairments?: LinkImpairments; seed?: number } = {}) {
  return stackPair({
    link: { mtu: MTU, offloads: { checksum: true } },
    impairments: { ...LINK, ...options.impairments },
    seed: options.seed ?? 1,
    stack: { ...options.stack, tcp: { sendBufferSize: 256 * MSS, receiveBufferSize: 32 << 20, ...options.stack?.tcp } },
    ...(options.stackA === undefined ? {} : { stackA: options.stackA }),
    ...(options.stackB === undefined ? {} : { stackB: options.stackB }),
  })
}

/** A fixed ISS for every connection of a stack. */
const iss = (value: number): Partial<StackOptions> => ({ initialSequenceNumber: () => value >>> 0 })

describe('Nagle after 2^31 bytes of full segments (the stall of issue 13)', () => {
  // Full-MSS writes past 2^31 bytes, then a 100-byte tail: the tail must leave although the last short
  // segment was sent 2^31 bytes ago (Minshall's check compared a stale sequence number with SND.UNA).
  const full = Math.ceil((TWO_31 + (32 << 20)) / MSS) * MSS
  it.each([
    ['Nagle on', false],
    ['noDelay', true],
  ])('%s: the 100-byte tail arrives and the connection closes', (_, noDelay) => {
    const p = pair({ stack: { tcp: { noDelay } } })
    const result = runStreams(p, { aToB: full + 100, bToA: 0, writeSize: () => 64 * MSS, shutdownWhenAcked: true })
    expect(result.receivedByB).toBe(full + 100)
    expect(result.a.bytesOut).toBe(full + 100)
  }, 120_000)
})

/** 2^31 + 64 MiB a to b over a clean link, then 64 MiB more with `impairments` added. */
function cleanThenImpaired(seed: number, impairments: LinkImpairments) {
  const p = pair({ seed })
  const clean = TWO_31 + (64 << 20)
  let lossy = false
  const result = runStreams(p, {
    aToB: clean + (64 << 20),
    bToA: 0,
    onReceive: (direction, received) => {
      if (direction === 'aToB' && !lossy && received > clean) {
        lossy = true
        p.link.configure('aToB', { ...LINK, ...impairments })
      }
    },
  })
  return { result, lossy, clean }
}

describe('fast recovery after 2^31 bytes without loss', () => {
  // The recovery point ("recover", RFC 6582) is set at a loss; after 2^31 lossless bytes it compared as
  // ahead of SND.UNA, so no loss could start fast recovery any more: every loss waited for the RTO.
  it('the first losses after 2^31 + 64 MiB clean bytes are repaired by fast retransmit', () => {
    const { result, lossy, clean } = cleanThenImpaired(3, { loss: 0.01 })
    expect(lossy).toBe(true)
    expect(result.receivedByB).toBe(clean + (64 << 20))
    expect(result.a.fastRetransmits).toBeGreaterThan(0)
  }, 120_000)
})

describe('RACK-TLP after 2^31 bytes without loss', () => {
  // RACK's stored sequence numbers (RACK.end_seq, RACK.fack, the D-SACK round, the highest retransmission,
  // the lost queue) must still compare right once the first reordering and losses come 2^31 bytes later.
  it('the first reordering and losses after 2^31 + 64 MiB clean bytes are repaired by RACK, without a timeout', () => {
    const { result, lossy, clean } = cleanThenImpaired(5, { loss: 0.005, reorder: 0.05, reorderDelay: 10 })
    expect(lossy).toBe(true)
    expect(result.receivedByB).toBe(clean + (64 << 20))
    expect(result.a.rackLostSegments).toBeGreaterThan(0)
    expect(result.a.fastRetransmits).toBeGreaterThan(0)
  }, 120_000)
})

describe('whole wraps of the sequence space (more than 2^32 bytes)', () => {
  const WRAP = TWO_32 + (64 << 20)
  /** 1 to 40 full segments, then a tail of 1 to MSS − 1 bytes. */
  const tails = segmentMultiplesWithTails(40, (index, mss) => (index * 7919) % mss)
  // The timestamp clocks start 100 ms before their 2^32 wrap.
  const tcp = { timestampOffset: TWO_32 - 100 }

  it.each([
    ['a to b, Nagle on, ISSs just below 2^32 (a) and 2^31 (b)', { aToB: WRAP, bToA: 0 }, false, 0],
    ['b to a, noDelay, ISSs just below 2^32 (a) and 2^31 (b)', { aToB: 0, bToA: WRAP }, true, 0],
    ['both ways at once, Nagle on, 1% loss with SACK', { aToB: WRAP, bToA: WRAP }, false, 0.01],
    ['both ways at once, noDelay, 1% loss with SACK', { aToB: WRAP, bToA: WRAP }, true, 0.01],
  ])('%s: every byte arrives and both ends close', (_, bytes, noDelay, loss) => {
    const p = pair({
      stack: { tcp: { ...tcp, noDelay } },
      stackA: iss(TWO_32 - 5000),
      stackB: iss(TWO_31 - 5000),
      impairments: { loss },
      seed: 5,
    })
    const result = runStreams(p, { ...bytes, writeSize: tails, shutdownWhenAcked: true })
    expect(result.receivedByB).toBe(bytes.aToB)
    expect(result.receivedByA).toBe(bytes.bToA)
    expect(result.connectionA.negotiated).toMatchObject({ timestamps: true, sack: true })
    // The timestamp clocks ran past their wrap (100 ms of virtual time in).
    expect(result.elapsed).toBeGreaterThan(100_000)
    // Each stream went once around the sequence space: SND.UNA is back just above the ISS.
    if (bytes.aToB > 0) expect(result.connectionA.sequence.sndUna).toBe((TWO_32 - 5000 + 1 + WRAP + 1) % TWO_32)
    if (bytes.bToA > 0) expect(result.connectionB.sequence.sndUna).toBe((TWO_31 - 5000 + 1 + WRAP + 1) % TWO_32)
    if (loss > 0) {
      expect(result.a.retransmittedSegments + result.b.retransmittedSegments).toBeGreaterThan(0)
      expect(result.a.fastRetransmits + result.b.fastRetransmits).toBeGreaterThan(0)
    }
  }, 240_000)
})

describe('any ISS, any timestamp clock, any write pattern (property)', () => {
  it('every byte arrives both ways and the connection closes', () => {
    const near = (base: number) => fc.integer({ min: 0, max: 4 << 20 }).map((k) => (base - k + TWO_32) % TWO_32)
    const start = fc.oneof(near(TWO_31), near(TWO_32), fc.integer({ min: 0, max: TWO_32 - 1 }))
    fc.assert(
      fc.property(
        fc.record({
          issA: start,
          issB: start,
          tsA: start,
          tsB: start,
          aToB: fc.integer({ min: 0, max: 8 << 20 }),
          bToA: fc.integer({ min: 0, max: 8 << 20 }),
          sizes: fc.array(fc.integer({ min: 1, max: 3 * MSS }), { minLength: 1, maxLength: 16 }),
          noDelay: fc.boolean(),
          loss: fc.constantFrom(0, 0.01, 0.03),
          seed: fc.integer({ min: 1, max: 1000 }),
        }),
        (c) => {
          const p = pair({
            stackA: { ...iss(c.issA), tcp: { sendBufferSize: 256 * MSS, receiveBufferSize: 32 << 20, noDelay: c.noDelay, timestampOffset: c.tsA } },
            stackB: { ...iss(c.issB), tcp: { sendBufferSize: 256 * MSS, receiveBufferSize: 32 << 20, noDelay: c.noDelay, timestampOffset: c.tsB } },
            impairments: { loss: c.loss },
            seed: c.seed,
          })
          const result = runStreams(p, { aToB: c.aToB, bToA: c.bToA, writeSize: (i) => c.sizes[i % c.sizes.length]!, shutdownWhenAcked: true })
          expect(result.receivedByB).toBe(c.aToB)
          expect(result.receivedByA).toBe(c.bToA)
          expect(result.connectionA.sequence.sndUna).toBe((c.issA + c.aToB + 2) % TWO_32)
          expect(result.connectionB.sequence.sndUna).toBe((c.issB + c.bToA + 2) % TWO_32)
        },
      ),
      { numRuns: 40 },
    )
  }, 240_000)
})
