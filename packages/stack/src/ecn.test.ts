// ECN end to end (RFC 3168 §6.1) between two stacks on the virtual-clock memory link: the handshake and
// its refusal, the codepoints on the wire, and a bottleneck queue that marks CE instead of dropping
// (the link's ecnMarkPackets): the sender slows down on the echoes without a single retransmission,
// also with its sequence numbers across the 2^32 wrap. Without ECN the same queue drops instead.
import { describe, expect, it } from 'vitest'
import { Agent, type CongestionAlgorithm, type Flow } from '@mtcp/ccp-agent'
import { InProcessHub } from '@mtcp/ccp-ipc'
import type { LinkImpairments } from '@mtcp/dpdk-io'
import type { EcnMode } from '@mtcp/tcp-core'
import { bulkTransfer, connectSockets, stackPair } from './testing.js'
import type { StackOptions } from './config.js'

const ECE = 0x40
const CWR = 0x80

function pair(client: EcnMode, server: EcnMode, options: { impairments?: LinkImpairments; clientExtra?: Partial<StackOptions> } = {}) {
  return stackPair({
    ...(options.impairments === undefined ? {} : { impairments: options.impairments }),
    stackA: { tcp: { ecn: client }, ...options.clientExtra },
    stackB: { tcp: { ecn: server } },
  })
}

interface Seen {
  ecn: number
  flags: number
  payload: number
}

/** The IPv4 ECN field, the TCP flags and the payload length of every TCP frame `port` receives and sends (a port has one capture sink). */
function record(port: { capture(sink: { record(frame: Uint8Array, offset: number, length: number, at: number, direction: string): void } | undefined): void }): { rx: Seen[]; tx: Seen[] } {
  const seen = { rx: [] as Seen[], tx: [] as Seen[] }
  port.capture({
    record(frame, offset, _length, _at, direction) {
      if (frame[offset + 12] !== 0x08 || frame[offset + 13] !== 0x00 || frame[offset + 23] !== 6) return
      const ip = offset + 14
      const ipLength = (frame[ip]! & 0x0f) * 4
      const tcp = ip + ipLength
      const total = (frame[ip + 2]! << 8) | frame[ip + 3]!
      seen[direction === 'rx' ? 'rx' : 'tx'].push({ ecn: frame[ip + 1]! & 3, flags: frame[tcp + 13]!, payload: total - ipLength - (frame[tcp + 12]! >>> 4) * 4 })
    },
  })
  return seen
}

describe('ECN negotiation between two stacks (RFC 3168 §6.1.1)', () => {
  it.each([
    ['on', 'on', true],
    ['on', 'passive', true],
    ['on', 'off', false],
    ['passive', 'on', false],
    ['off', 'on', false],
  ] as const)('client %s, server %s: negotiated = %s', (client, server, on) => {
    const p = pair(client, server)
    const fromA = record(p.link.a).tx
    const { client: c, server: s } = connectSockets(p)
    expect(p.a.connectionOf(c)!.negotiated.ecn).toBe(on)
    expect(p.b.connectionOf(s)!.negotiated.ecn).toBe(on)
    expect(fromA[0]!.flags & (ECE | CWR)).toBe(client === 'on' ? ECE | CWR : 0)
    expect(fromA[0]!.ecn).toBe(0) // the SYN is Not-ECT
  })

  it('data goes out ECT(0) once negotiated, pure ACKs and the handshake Not-ECT; without ECN all Not-ECT', () => {
    for (const [client, ect] of [['on', 2], ['off', 0]] as const) {
      const p = pair(client, 'on')
      const fromA = record(p.link.a).tx
      const fromB = record(p.link.b).tx
      bulkTransfer(p, 1 << 20)
      const dataA = fromA.filter((s) => s.payload > 0)
      expect(dataA.length).toBeGreaterThan(100)
      expect(dataA.every((s) => s.ecn === ect)).toBe(true)
      expect(fromA.filter((s) => s.payload === 0).every((s) => s.ecn === 0)).toBe(true)
      expect(fromB.every((s) => s.ecn === 0)).toBe(true)
    }
  })
})

/** A 100 Mbit/s bottleneck, 2 ms each way, whose queue marks (or, without ECN, drops) above 30 packets. */
const MARKING: LinkImpairments = { rate: 100e6, delay: 2000, queuePackets: 1000, ecnMarkPackets: 30 }

describe('CE marks at a bottleneck (RFC 3168 §6.1.2–§6.1.3)', () => {
  it.each([
    ['ISS 1', 1],
    ['ISS 2^32 − 4 MiB (the transfer crosses the wrap)', 2 ** 32 - (4 << 20)],
  ])('%s: the sender backs off on the echoes, and nothing is retransmitted', (_, iss) => {
    const p = pair('on', 'passive', { impairments: MARKING, clientExtra: { initialSequenceNumber: () => iss } })
    const { rx: atB, tx: fromB } = record(p.link.b)
    const result = bulkTransfer(p, 32 << 20)
    expect(result.receivedHash).toBe(result.sentHash)
    const link = p.link.stats('aToB')
    expect(link.ceMarked).toBeGreaterThan(0)
    expect(link.aqmDrops).toBe(0)
    expect(link.queueDrops).toBe(0)
    expect(atB.filter((s) => s.ecn === 3).length).toBe(link.ceMarked)
    // The receiver echoed, the sender reduced at most once per window and said so with CWR.
    expect(fromB.some((s) => (s.flags & ECE) !== 0)).toBe(true)
    const stats = result.clientStats
    expect(stats.eceReceived).toBeGreaterThan(0)
    expect(stats.ecnReductions).toBeGreaterThan(0)
    expect(stats.ecnReductions).toBeLessThan(stats.eceReceived)
    expect(stats.cwrSent).toBe(stats.ecnReductions)
    expect(atB.filter((s) => (s.flags & CWR) !== 0 && s.payload > 0).length).toBe(stats.cwrSent)
    // Marks are not losses: no retransmission, no timeout, no recovery.
    expect(stats.retransmittedSegments).toBe(0)
    expect(stats.retransmitTimeouts).toBe(0)
    expect(stats.fastRetransmits).toBe(0)
    // The window stayed near what the marking threshold allows, far below the queue's 1000-packet limit.
    expect(result.clientInfo.cwnd).toBeLessThan(200 * result.clientInfo.mss)
  })

  it('without ECN the same queue drops above the threshold, and the sender retransmits', () => {
    const p = pair('off', 'passive', { impairments: MARKING })
    const result = bulkTransfer(p, 32 << 20)
    expect(result.receivedHash).toBe(result.sentHash)
    expect(p.link.stats('aToB').ceMarked).toBe(0)
    expect(p.link.stats('aToB').aqmDrops).toBeGreaterThan(0)
    expect(result.clientStats.retransmittedSegments).toBeGreaterThan(0)
    expect(result.clientStats.ecnReductions).toBe(0)
  })
})

/**
 * An agent algorithm written for the test: its datapath program sums Ack.ecn_bytes and Ack.ecn_packets
 * and reports once per RTT; the agent grows the window by what was acknowledged and halves it on a report
 * with ECN marks (so the queue keeps reaching the marking threshold while the program runs).
 */
class EcnWatch implements CongestionAlgorithm<{ cwnd: number }> {
  readonly name = 'ecnwatch'
  readonly reports: Array<{ ecnBytes: number; ecnPackets: number; acked: number }> = []
  readonly programs = {
    watch: `(def (Report (volatile ecnb 0) (volatile ecnp 0) (volatile acked 0)))
      (when true
        (:= Report.ecnb (+ Report.ecnb Ack.ecn_bytes))
        (:= Report.ecnp (+ Report.ecnp Ack.ecn_packets))
        (:= Report.acked (+ Report.acked Ack.bytes_acked))
        (fallthrough))
      (when (> Micros Flow.rtt_sample_us) (report) (:= Micros 0))`,
  }
  onCreate(flow: Flow<{ cwnd: number }>): void {
    flow.state = { cwnd: flow.initCwnd }
    flow.changeProgram('watch')
  }
  onReport(flow: Flow<{ cwnd: number }>, report: Record<string, number | boolean>): void {
    const seen = { ecnBytes: Number(report.ecnb), ecnPackets: Number(report.ecnp), acked: Number(report.acked) }
    this.reports.push(seen)
    flow.state.cwnd = seen.ecnBytes > 0 ? Math.max(flow.state.cwnd / 2, 4 * flow.mss) : flow.state.cwnd + seen.acked
    flow.setCwnd(Math.round(flow.state.cwnd))
  }
}

describe('CE marks reach a CCP agent (Ack.ecn_bytes, Ack.ecn_packets)', () => {
  it('the datapath fills the ECN primitives from the echoes; they stay 0 without ECN', () => {
    for (const ecn of ['on', 'off'] as const) {
      const hub = new InProcessHub({ synchronous: true })
      const algorithm = new EcnWatch()
      const p = pair(ecn, 'passive', { impairments: MARKING, clientExtra: { congestionControl: 'ccp:ecnwatch', ccp: { transport: hub.datapath('mtcp-a') } } })
      const agent = new Agent({ transport: hub.agent(), algorithms: [algorithm], now: () => p.clock.now() })
      agent.start()
      const result = bulkTransfer(p, 8 << 20)
      agent.close()
      expect(result.receivedHash).toBe(result.sentHash)
      expect(algorithm.reports.length).toBeGreaterThan(10)
      const ecnBytes = algorithm.reports.reduce((sum, r) => sum + r.ecnBytes, 0)
      const ecnPackets = algorithm.reports.reduce((sum, r) => sum + r.ecnPackets, 0)
      if (ecn === 'on') {
        expect(result.clientStats.eceReceived).toBeGreaterThan(0)
        expect(ecnPackets).toBeGreaterThanOrEqual(result.clientStats.eceReceived - 2) // the last reports may not have gone yet
        expect(ecnBytes).toBeGreaterThan(0)
        expect(ecnBytes).toBeLessThan(algorithm.reports.reduce((sum, r) => sum + r.acked, 0) + 1)
      } else {
        expect(ecnBytes).toBe(0)
        expect(ecnPackets).toBe(0)
      }
    }
  })
})
