// Path MTU discovery (RFC 1191) and ICMP errors for connections (RFC 1122 §4.2.3.9, RFC 5927), on two memory
// links joined by a router whose far side carries smaller datagrams.
import { createMemoryLink, VirtualClock } from '@mtcp/dpdk-io'
import { MIN_PATH_MTU } from '@mtcp/tcp-core'
import { describe, expect, it } from 'vitest'
import type { StackOptions } from './config.js'
import { createStack } from './stack.js'
import { rxFramesAccounted } from './stats.js'
import { MtuRouter } from './test-support/mtu-router.js'
import { bulkTransfer, connectSockets, runUntil, type StackPair } from './testing.js'

const ROUTER = 0x0a0000fe // 10.0.0.254

function routed(mtu: number, options: Partial<StackOptions> = {}): { pair: StackPair; router: MtuRouter } {
  const clock = new VirtualClock()
  // The far link is slow (50 ms): what is in flight stays there long after the router's ICMP (2 ms) arrives.
  const left = createMemoryLink({ clock, impairments: { rate: 1e9, delay: 2_000 } })
  const right = createMemoryLink({ clock, impairments: { rate: 1e9, delay: 50_000 } })
  const a = createStack({ port: left.a, address: '10.0.0.1/24', ...options })
  const b = createStack({ port: right.b, address: '10.0.0.2/24' })
  const router = new MtuRouter(left.b, right.a, mtu, ROUTER)
  return { pair: { clock, link: left, a, b }, router }
}

function writeAll(pair: StackPair, fd: number, bytes: number): void {
  pair.a.write(fd, new Uint8Array(bytes).fill(7))
}

describe('path MTU discovery (RFC 1191)', () => {
  it('a router with a 1000-byte far link: segments shrink after its frag-needed, in-flight data goes again in small segments, data intact', () => {
    const { pair, router } = routed(1000)
    const result = bulkTransfer(pair, 2_000_000)
    expect(result.receivedHash).toBe(result.sentHash)
    expect(result.bytes).toBe(2_000_000)
    const stats = pair.a.stats
    expect(stats.rx.icmpIn.fragmentationNeeded).toBe(router.tooBig)
    expect(stats.rx.icmpErrors.pathMtuLowered).toBe(1)
    // Only the first flight was too big; everything after the last drop fits.
    expect(router.tooBig).toBeGreaterThan(0)
    expect(router.tooBig).toBeLessThanOrEqual(10) // the initial window (RFC 6928)
    expect(router.attempts.slice(router.lastTooBig + 1).every((size) => size <= 1000)).toBe(true)
    expect(Math.max(...router.attempts.slice(router.lastTooBig + 1))).toBe(1000) // full-sized at the new MTU
    expect(result.clientInfo.mss).toBe(1000 - 40 - 12) // IP and TCP headers, the timestamps option
    expect(rxFramesAccounted(stats)).toBe(stats.rx.frames)
  }, 60_000)

  describe('ICMP errors for a connection with data in flight (ISS just below 2^32: the window check wraps)', () => {
    function inFlight() {
      const setup = routed(1500, { initialSequenceNumber: () => 0xffff_f000 })
      const { pair, router } = setup
      const { client } = connectSockets(pair)
      writeAll(pair, client, 200_000)
      runUntil(pair.clock, () => router.lastData !== undefined && pair.a.connectionOf(client)!.bytesInFlight > 10_000) // the initial window, before any ACK
      const sequence = pair.a.connectionOf(client)!.sequence
      expect(sequence.sndUna).toBe(0xffff_f001) // in flight across the wrap
      expect(sequence.sndMax).toBeLessThan(0xffff_f000)
      return { ...setup, client, sequence }
    }
    /** Rewrite the quoted TCP sequence number. */
    const quoteSeq = (seq: number) => (quoted: Uint8Array) => {
      const at = (quoted[0]! & 0x0f) * 4 + 4
      quoted[at] = seq >>> 24
      quoted[at + 1] = seq >>> 16
      quoted[at + 2] = seq >>> 8
      quoted[at + 3] = seq
    }

    it('ignores and counts forged ones: a sequence number not in flight, ports of no connection', () => {
      const { pair, router, client, sequence } = inFlight()
      const before = pair.a.tcpInfo(client).mss
      router.sendIcmpError(router.lastData!, 3, 4, 600, quoteSeq((sequence.sndUna - 70_000) >>> 0))
      router.sendIcmpError(router.lastData!, 3, 4, 600, quoteSeq((sequence.sndUna + 400_000) >>> 0)) // never sent
      router.sendIcmpError(router.lastData!, 3, 1, 0, quoteSeq((sequence.sndMax + 1_000_000) >>> 0))
      router.sendIcmpError(router.lastData!, 3, 4, 600, (quoted) => {
        quoted[(quoted[0]! & 0x0f) * 4 + 1]! ^= 0xff // another local port
      })
      runUntil(pair.clock, () => pair.a.stats.rx.icmpIn.fragmentationNeeded === 3)
      pair.clock.runUntilIdle(pair.clock.now() + 1_000)
      const drops = pair.a.stats.rx.drops
      expect(drops.icmpOutOfWindow).toBe(3)
      expect(drops.icmpNoConnection).toBe(1)
      expect(pair.a.tcpInfo(client).mss).toBe(before)
      expect(pair.a.tcpInfo(client).softError).toBeUndefined()
      expect(pair.a.stats.rx.icmpErrors).toEqual({ pathMtuLowered: 0, pathMtuNotLower: 0, softErrors: 0 })
    })

    it('takes a valid frag-needed (lower MSS, never below the floor, never up) and reports other errors as soft', () => {
      const { pair, router, client, sequence } = inFlight()
      const valid = quoteSeq(sequence.sndUna) // the first byte in flight, just below 2^32
      router.sendIcmpError(router.lastData!, 3, 1, 0, valid) // host unreachable
      runUntil(pair.clock, () => pair.a.stats.rx.icmpErrors.softErrors === 1)
      expect(pair.a.tcpInfo(client).softError).toBe('EHOSTUNREACH')
      expect(pair.a.state(client)).toBe('ESTABLISHED') // RFC 1122 §4.2.3.9: not aborted
      router.sendIcmpError(router.lastData!, 3, 4, 1200, valid)
      runUntil(pair.clock, () => pair.a.stats.rx.icmpErrors.pathMtuLowered === 1)
      expect(pair.a.tcpInfo(client).mss).toBe(1200 - 52)
      const mark = router.attempts.length
      const sequenceNow = pair.a.connectionOf(client)!.sequence
      router.sendIcmpError(router.lastData!, 3, 4, 1400, quoteSeq(sequenceNow.sndUna)) // larger: RFC 1191 §3, never up
      router.sendIcmpError(router.lastData!, 3, 4, 200, quoteSeq(sequenceNow.sndUna)) // below the floor: the floor
      runUntil(pair.clock, () => pair.a.stats.rx.icmpErrors.pathMtuNotLower === 1 && pair.a.stats.rx.icmpErrors.pathMtuLowered === 2)
      expect(pair.a.tcpInfo(client).mss).toBe(MIN_PATH_MTU - 52)
      runUntil(pair.clock, () => pair.a.connectionOf(client)!.bytesInFlight === 0 && pair.a.connectionOf(client)!.sendBuffer.length === 0)
      expect(Math.max(...router.attempts.slice(mark + 20))).toBeLessThanOrEqual(MIN_PATH_MTU)
      expect(pair.a.stats.rx.icmpIn.destinationUnreachable).toBe(1)
      expect(pair.a.stats.rx.icmpIn.fragmentationNeeded).toBe(3)
      expect(rxFramesAccounted(pair.a.stats)).toBe(pair.a.stats.rx.frames)
    })
  })
})
