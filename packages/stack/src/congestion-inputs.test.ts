// Congestion control gets all its inputs (issue 13): application-limited phases do not grow cwnd
// (RFC 7661, RFC 9438 §5.8), and a connection idle for longer than the RTO restarts from the restart
// window (RFC 5681 §4.1). On the emulated link, on the virtual clock.
import { describe, expect, it } from 'vitest'
import { PollEvents } from './socket-record.js'
import { connectSockets, runUntil, stackPair } from './testing.js'
import type { CongestionControlChoice } from './config.js'

const MSS = 1448

/** A connection from a to b over 1 Gbit/s, 5 ms each way, with b reading everything that arrives. */
function connected(congestionControl: CongestionControlChoice) {
  const pair = stackPair({ impairments: { rate: 1e9, delay: 5000 }, stack: { congestionControl } })
  const { a, b, clock } = pair
  const { client, server } = connectSockets(pair)
  const sink = new Uint8Array(1 << 20)
  b.watch(server, (_fd, events) => {
    if (events & PollEvents.IN) while (b.readiness(server) & PollEvents.IN && b.read(server, sink) > 0);
  })
  return { a, clock, client }
}

/** A connection that writes `size` bytes every `every` µs for `duration` µs. */
function trickle(congestionControl: CongestionControlChoice, size: number, every: number, duration: number) {
  const { a, clock, client } = connected(congestionControl)
  const data = new Uint8Array(size).fill(1)
  const start = clock.now()
  let maxInFlight = 0
  const timer = clock.createTimer(() => {
    a.write(client, data)
    maxInFlight = Math.max(maxInFlight, a.tcpInfo(client).bytesInFlight)
    if (clock.now() - start < duration) timer.arm(clock.now() + every)
  })
  timer.arm(start + every)
  runUntil(clock, () => clock.now() - start >= duration + 100_000)
  return { info: a.tcpInfo(client), maxInFlight, stats: a.connectionOf(client)!.stats }
}

describe('an application-limited connection', () => {
  it.each<CongestionControlChoice>(['reno', 'cubic'])('%s: 1,000 bytes every 50 ms for 10 s leave cwnd at the initial window', (cc) => {
    const { info, maxInFlight } = trickle(cc, 1000, 50_000, 10_000_000)
    expect(maxInFlight).toBeLessThanOrEqual(1000)
    // Never more than 1 KB in flight: the window was never used, so it must not have grown (it reached
    // 513 KB when every ACK counted as growth).
    expect(info.cwnd).toBe(10 * MSS)
  }, 60_000)
})

describe('restart after idle (RFC 5681 §4.1)', () => {
  it('a burst after a pause longer than the RTO starts from the restart window', () => {
    const { a, clock, client } = connected('reno')
    const burst = new Uint8Array(512 * 1024)
    a.write(client, burst)
    runUntil(clock, () => a.tcpInfo(client).bytesInFlight === 0 && a.connectionOf(client)!.sendBuffer.length === 0)
    const grown = a.tcpInfo(client).cwnd
    expect(grown).toBeGreaterThan(10 * MSS)
    // Idle for twice the RTO, then write again: the window is back to the initial window before sending.
    const idleUntil = clock.now() + 2 * a.tcpInfo(client).rtoUs
    runUntil(clock, () => clock.now() >= idleUntil)
    a.write(client, burst.subarray(0, 4 * MSS))
    runUntil(clock, () => a.tcpInfo(client).bytesInFlight > 0)
    expect(a.connectionOf(client)!.stats.idleRestarts).toBe(1)
    expect(a.tcpInfo(client).cwnd).toBe(10 * MSS)
  })
})
