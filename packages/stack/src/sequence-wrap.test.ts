// Sequence numbers and timestamps kept across time stay right past 2^31 and 2^32 bytes (decision 0010).
// Every run is on the virtual clock over the memory link with a 64 KB MTU, so gigabytes take seconds.
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
