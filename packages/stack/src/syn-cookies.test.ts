/**
 * Issue 16 part 1: a connection made from a SYN cookie (RFC 4987 §3.6) is a whole connection: the MSS, and
 * through the timestamp (as Linux encodes it) window scale and SACK-permitted, survive; data flows both
 * ways, with loss repaired by SACK.
 */
import { SYN_COOKIE_MSS_TABLE } from '@mtcp/tcp-core'
import { createMemoryLink } from '@mtcp/dpdk-io'
import { describe, expect, it } from 'vitest'
import { createStack } from './stack.js'
import { runStreams } from './test-support/streams.js'
import { connectSockets, runUntil, stackPair } from './testing.js'

const MB = 1_000_000

describe('connections from SYN cookies', () => {
  it("with timestamps: MSS, window scale and SACK-permitted come back from the cookie; 4 MB each way over a lossy link, intact, SACK repairing", () => {
    const buffers = { sendBufferSize: 1 << 20, receiveBufferSize: 1 << 20 }
    const pair = stackPair({ seed: 3, impairments: { rate: 100e6, delay: 5_000, loss: 0.01 }, stack: { tcp: buffers }, stackB: { synCookies: 'always' } })
    const result = runStreams(pair, { aToB: 4 * MB, bToA: 4 * MB })
    expect(result.receivedByB).toBe(4 * MB)
    expect(result.receivedByA).toBe(4 * MB)
    expect(pair.b.stats.synCookies.validated).toBe(1)
    expect(pair.b.stats.synCookies.sent).toBeGreaterThanOrEqual(1)
    const server = result.connectionB.negotiated
    const client = result.connectionA.negotiated
    expect(server.timestamps).toBe(true)
    expect(server.sack).toBe(true)
    expect(client.sack).toBe(true)
    // Each side sends with the shift the other offered.
    expect(server.sendShift).toBe(client.receiveShift)
    expect(client.sendShift).toBe(server.receiveShift)
    expect(server.sendShift).toBeGreaterThan(0)
    // The MSS is the table's largest not above the client's (1460 on this 1500-byte link), less the timestamps option.
    expect(server.mss).toBe(1460 - 12)
    // SACK did the repairs.
    expect(result.b.fastRetransmits + result.a.fastRetransmits).toBeGreaterThan(0)
  }, 120_000)

  it('without timestamps only the MSS survives: no window scaling, no SACK, and the connection still works', () => {
    const pair = stackPair({ stack: { tcp: { timestamps: false } }, stackB: { synCookies: 'always' } })
    const result = runStreams(pair, { aToB: 1 * MB, bToA: 1 * MB })
    expect(result.receivedByB).toBe(1 * MB)
    expect(result.receivedByA).toBe(1 * MB)
    const server = result.connectionB.negotiated
    expect(server).toMatchObject({ timestamps: false, sack: false, sendShift: 0, receiveShift: 0 })
    expect(result.connectionA.negotiated).toMatchObject({ sack: false, sendShift: 0, receiveShift: 0 })
    expect(pair.b.stats.synCookies.validated).toBe(1)
  })

  it('an MSS between table entries comes back as the largest entry below it', () => {
    const pair = stackPair({ stackA: { mtu: 1400 }, stackB: { synCookies: 'always' } })
    const { server } = connectSockets(pair)
    // The client offers 1360: the cookie carries 1300.
    expect(SYN_COOKIE_MSS_TABLE).toContain(1300)
    expect(pair.b.connectionOf(server)!.negotiated.mss).toBe(1300 - 12)
  })

  it('a client ISN at 2^32 − 1 and 2^31 − 1: the cookie arithmetic wraps and the connection works', () => {
    for (const iss of [0xffffffff, 0x7fffffff]) {
      const pair = stackPair({ stackA: { initialSequenceNumber: () => iss }, stackB: { synCookies: 'always' } })
      const { client, server } = connectSockets(pair)
      pair.a.write(client, new Uint8Array(5000).fill(1))
      runUntil(pair.clock, () => pair.b.connectionOf(server)!.readableBytes === 5000)
      expect(pair.b.stats.synCookies.validated).toBe(1)
      expect(pair.b.connectionOf(server)!.sequence.irs).toBe(iss)
    }
  })

  it("'never' drops the SYNs the SYN queue cannot take, and counts them", () => {
    const pair = stackPair({ stackB: { synCookies: 'never', synBacklog: 1 }, impairments: { delay: 1000 } })
    const { a, b, clock } = pair
    const listener = b.socket()
    b.bind(listener, '0.0.0.0', 80)
    b.listen(listener, 1) // the SYN queue holds max(synBacklog, backlog) = 1
    for (let i = 0; i < 3; i++) a.connect(a.socket(), '10.0.0.2', 80)
    runUntil(clock, () => b.stats.rx.drops.synQueueOverflow >= 2)
    expect(b.stats.synCookies.sent).toBe(0)
  })
  it("the SYN queue holds as many half-open connections as listen's backlog when that is above synBacklog (as Linux)", () => {
    const pair = stackPair({ stackB: { synCookies: 'never', synBacklog: 2 }, impairments: { delay: 1000 } })
    const { a, b, clock } = pair
    const listener = b.socket()
    b.bind(listener, '0.0.0.0', 80)
    b.listen(listener, 8)
    const clients = Array.from({ length: 8 }, () => a.socket())
    for (const fd of clients) a.connect(fd, '10.0.0.2', 80)
    runUntil(clock, () => b.connectionsByState().ESTABLISHED === 8) // all eight half-open at once, then accepted
    expect(b.stats.rx.drops.synQueueOverflow).toBe(0)
    for (let i = 0; i < 8; i++) expect(b.tryAccept(listener)).toBeGreaterThan(0)
    b.listen(listener, 1) // smaller again: the SYN queue follows, down to synBacklog (2)
    for (let i = 0; i < 4; i++) a.connect(a.socket(), '10.0.0.2', 80)
    runUntil(clock, () => b.stats.rx.drops.synQueueOverflow >= 2)
    expect(b.stats.rx.drops.synQueueOverflow).toBe(2)
  })

  it('checks the new options: a clear ERR_INVALID_CONFIG naming the option', () => {
    const link = createMemoryLink()
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ synCookies: 'sometimes' }, 'synCookies'],
      [{ synBacklog: 0 }, 'synBacklog'],
      [{ synBacklog: 1.5 }, 'synBacklog'],
      [{ timeWaitLimit: -1 }, 'timeWaitLimit'],
      [{ random: 42 }, 'random'],
      [{ random: () => { throw new Error('no entropy') } }, 'random source'],
    ]
    for (const [options, name] of bad) {
      expect(() => createStack({ port: link.a, address: '10.0.0.1/24', ...options } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG', message: expect.stringContaining(name) }))
    }
    link.close()
  })
})
