// RFC 3168 §6.1.2's rule for a window of one segment, and where it stops, end to end on the virtual-clock
// memory link: a CCP algorithm asks for a window of one segment for one flow while a second flow (a window
// of 40) keeps the bottleneck queue above the link's ECN marking threshold (ecnMarkPackets), so the first
// flow's segments arrive CE-marked. The stack's CCP datapath never lets a window fall below two segments
// (CcpLimits.minCwnd), and the native controllers' reductions floor at two as well, so on a stack the
// window is never one segment when an ECN-Echo arrives (after a timeout it is, but the echoes then are for
// the window the timeout already reduced): the flow reduces once per window, says so with CWR on the
// segment its ACK clocks out at once, and never waits for the timer. The wait itself, at one segment, is
// tested segment by segment in tcp-core's ecn.test.ts with a controller that holds one segment.
import { describe, expect, it } from 'vitest'
import { Agent, type CongestionAlgorithm, type Flow } from '@mtcp/ccp-agent'
import { InProcessHub } from '@mtcp/ccp-ipc'
import { acceptWhenReady, runUntil, stackPair } from './testing.js'
import { StackError } from './errors.js'

const ECE = 0x40
const CWR = 0x80
const ONE_SEGMENT_PORT = 5001
const WIDE_PORT = 5002

/** Asks for one segment for the flow to port 5001 and 40 for any other, whatever the reports say. */
class FixedWindows implements CongestionAlgorithm<{ cwnd: number }> {
  readonly name = 'fixedwindows'
  readonly programs = {
    tick: `(def (Report (volatile acked 0)))
      (when true (:= Report.acked (+ Report.acked Ack.bytes_acked)) (fallthrough))
      (when (> Micros Flow.rtt_sample_us) (report) (:= Micros 0))`,
  }
  onCreate(flow: Flow<{ cwnd: number }>): void {
    flow.state = { cwnd: (flow.info.dstPort === ONE_SEGMENT_PORT ? 1 : 40) * flow.info.mss }
    flow.changeProgram('tick')
    flow.setCwnd(flow.state.cwnd)
  }
  onReport(flow: Flow<{ cwnd: number }>): void {
    flow.setCwnd(flow.state.cwnd)
  }
}

interface Frame {
  at: number
  port: number
  flags: number
  payload: number
}

describe('ECN at a window of one segment (RFC 3168 §6.1.2) on the memory link', () => {
  it('a flow the datapath holds at two segments reduces on each new echo and goes on at once, with CWR, no timer wait', () => {
    const hub = new InProcessHub({ synchronous: true })
    const p = stackPair({
      impairments: { rate: 10e6, delay: 2000, queuePackets: 1000, ecnMarkPackets: 5 },
      stackA: { tcp: { ecn: 'on', noDelay: true }, congestionControl: 'ccp:fixedwindows', ccp: { transport: hub.datapath('mtcp-a') } },
      stackB: { tcp: { ecn: 'passive' } },
    })
    const agent = new Agent({ transport: hub.agent(), algorithms: [new FixedWindows()], now: () => p.clock.now() })
    agent.start()
    const { a, b, clock } = p
    const open = (port: number) => {
      const listener = b.socket()
      b.bind(listener, '0.0.0.0', port)
      b.listen(listener)
      const client = a.socket()
      a.connect(client, '10.0.0.2', port)
      const server = acceptWhenReady(clock, b, listener)
      runUntil(clock, () => a.state(client) === 'ESTABLISHED')
      return { client, server }
    }
    const one = open(ONE_SEGMENT_PORT)
    const wide = open(WIDE_PORT)
    const oneConnection = a.connectionOf(one.client)!
    expect(oneConnection.negotiated.ecn).toBe(true)
    // The frames of both flows at A's end of the link: the peer's TCP port, flags, payload.
    const frames: { tx: Frame[]; rx: Frame[] } = { tx: [], rx: [] }
    p.link.a.capture({
      record(frame, offset, _length, at, direction) {
        if (frame[offset + 12] !== 0x08 || frame[offset + 13] !== 0x00 || frame[offset + 23] !== 6) return
        const ip = offset + 14
        const ipLength = (frame[ip]! & 0x0f) * 4
        const tcp = ip + ipLength
        const total = (frame[ip + 2]! << 8) | frame[ip + 3]!
        const port = direction === 'rx' ? (frame[tcp]! << 8) | frame[tcp + 1]! : (frame[tcp + 2]! << 8) | frame[tcp + 3]!
        const payload = total - ipLength - (frame[tcp + 12]! >>> 4) * 4
        frames[direction === 'rx' ? 'rx' : 'tx'].push({ at, port, flags: frame[tcp + 13]!, payload })
      },
    })
    // Both flows always have data to send; B reads everything.
    const chunk = new Uint8Array(64 * 1024)
    const readBuffer = new Uint8Array(256 * 1024)
    const tryIo = (io: () => number): number => {
      try {
        return io()
      } catch (error) {
        if (error instanceof StackError && error.code === 'EAGAIN') return 0
        throw error
      }
    }
    const end = clock.now() + 5_000_000
    runUntil(clock, () => {
      for (const flow of [one, wide]) {
        while (tryIo(() => a.write(flow.client, chunk)) > 0);
        while (tryIo(() => b.read(flow.server, readBuffer)) > 0);
      }
      return clock.now() >= end
    })
    agent.close()

    const stats = oneConnection.stats
    expect(a.tcpInfo(one.client).cwnd).toBe(2 * a.tcpInfo(one.client).mss) // the datapath's floor, not the one segment asked for
    expect(p.link.stats('aToB').ceMarked).toBeGreaterThan(0)
    expect(stats.ecnReductions).toBeGreaterThan(10)
    expect(stats.ecnTimerWaits).toBe(0)
    expect(stats).toMatchObject({ retransmitTimeouts: 0, retransmittedSegments: 0 })
    // The pattern: a data segment with CWR leaves at the instant an ACK with ECE of the flow arrives (that
    // ACK's reduction; the window at two segments clocks the next one out at once), unless a tail loss
    // probe carried it (new data at the probe timeout, RFC 8985 §7.3).
    const oneTx = frames.tx.filter((f) => f.port === ONE_SEGMENT_PORT && f.payload > 0)
    const cwrSegments = oneTx.filter((f) => (f.flags & CWR) !== 0)
    expect(cwrSegments).toHaveLength(stats.cwrSent)
    expect(stats.cwrSent).toBe(stats.ecnReductions)
    const echoTimes = new Set(frames.rx.filter((f) => f.port === ONE_SEGMENT_PORT && (f.flags & ECE) !== 0).map((f) => f.at))
    expect(cwrSegments.filter((f) => !echoTimes.has(f.at)).length).toBeLessThanOrEqual(stats.tailLossProbes)
    expect(cwrSegments.filter((f) => echoTimes.has(f.at)).length).toBeGreaterThan(10)
    // The wide flow reduced on its echoes and was never held back by the timer either.
    const wideStats = a.connectionOf(wide.client)!.stats
    expect(wideStats.ecnReductions).toBeGreaterThan(0)
    expect(wideStats.ecnTimerWaits).toBe(0)
  })
})
