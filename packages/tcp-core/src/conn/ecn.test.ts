// ECN in TCP (RFC 3168 §6.1, rules/ecn.ts), driven segment by segment: the handshake both ways and its
// refusals, the codepoints of what goes out, the receiver's echo until CWR, and the sender's reduction,
// once per window of data and without a retransmission, also across the 2^32 wrap.
import { describe, expect, it } from 'vitest'
import type { AckMeasurement, Micros } from '../congestion/congestion-control.js'
import { ConnectionHarness, FixedWindowControl, segment } from '../testing/index.js'
import { TcpFlags } from '../wire/tcp.js'
import { TcpConnection } from './connection.js'
import { IpEcn } from './rules/ecn.js'
import { resolveTcpConfig, type TcpConfig, TcpConfigError } from './tcp-config.js'

const { SYN, ACK, ECE, CWR } = TcpFlags
const IRS = 5000
const MSS = 1448 // 1460 less the timestamps option
const RTT = 10_000

/** A controller with a fixed window that records every call and every measurement's ECN fields. */
class Recorder extends FixedWindowControl {
  readonly ecn: Array<[number, number]> = []
  onAckMeasurement(_now: Micros, m: Readonly<AckMeasurement>): void {
    if (m.ecnBytes > 0 || m.ecnPackets > 0) this.ecn.push([m.ecnBytes, m.ecnPackets])
  }
}

function config(control: FixedWindowControl, overrides: Partial<TcpConfig> = {}): TcpConfig {
  return resolveTcpConfig({ noDelay: true, tailLossProbe: false, ecn: 'on', ...overrides }, () => control)
}

/** An active open with `iss`; the peer's SYN-ACK carries `synAckFlags` besides SYN and ACK. */
function opened(control: FixedWindowControl, iss: number, synAckFlags: number = ECE, overrides: Partial<TcpConfig> = {}) {
  const h = ConnectionHarness.connect(config(control, overrides), iss)
  const [syn] = h.recv()
  h.now = RTT
  h.send({ seq: IRS, ack: (iss + 1) >>> 0, flags: SYN | ACK | synAckFlags, window: 65535, mss: 1460, windowScale: 7, sackPermitted: true, tsValue: 777, tsEcho: syn!.tsValue })
  h.recv()
  return { h, syn: syn! }
}

const data = (h: ConnectionHarness) => h.recv().filter((s) => s.payload.length > 0)
const peerAck = (ack: number, flags = 0) => ({ seq: IRS + 1, ack: ack >>> 0, flags: ACK | flags, window: 1024, tsValue: 778, payload: new Uint8Array(0) })

describe('ECN negotiation (RFC 3168 §6.1.1)', () => {
  it('the ecn setting defaults to passive and rejects unknown values with ERR_INVALID_CONFIG', () => {
    expect(resolveTcpConfig({}, () => new FixedWindowControl()).ecn).toBe('passive')
    expect(() => resolveTcpConfig({ ecn: 'yes' as never }, () => new FixedWindowControl())).toThrow(TcpConfigError)
    expect(() => resolveTcpConfig({ ecn: 'yes' as never }, () => new FixedWindowControl())).toThrow(/ecn must be one of 'off', 'passive', 'on'/)
  })

  it('active open: an ECN-setup SYN (ECE and CWR, Not-ECT); on when the SYN-ACK has ECE without CWR', () => {
    const { h, syn } = opened(new FixedWindowControl(), 1000)
    expect(syn.flags & (ECE | CWR)).toBe(ECE | CWR)
    expect(syn.ecn).toBe(IpEcn.NOT_ECT)
    expect(h.connection.negotiated.ecn).toBe(true)
  })

  it('active open: off when the SYN-ACK has no ECE, or has ECE and CWR both (not an ECN-setup SYN-ACK)', () => {
    expect(opened(new FixedWindowControl(), 1000, 0).h.connection.negotiated.ecn).toBe(false)
    expect(opened(new FixedWindowControl(), 1000, ECE | CWR).h.connection.negotiated.ecn).toBe(false)
  })

  it('active open with passive or off: a plain SYN, and ECN stays off whatever the SYN-ACK says', () => {
    for (const ecn of ['passive', 'off'] as const) {
      const { h, syn } = opened(new FixedWindowControl(), 1000, ECE, { ecn })
      expect(syn.flags & (ECE | CWR)).toBe(0)
      expect(h.connection.negotiated.ecn).toBe(false)
    }
  })

  it('a retransmitted SYN goes without ECE and CWR (§6.1.1.1), and then ECN stays off', () => {
    const h = ConnectionHarness.connect(config(new FixedWindowControl()), 1000)
    expect(h.recv()[0]!.flags & (ECE | CWR)).toBe(ECE | CWR)
    const [again] = h.advanceToTimer()
    expect(again!.flags & (SYN | ECE | CWR)).toBe(SYN)
    h.send({ seq: IRS, ack: 1001, flags: SYN | ACK | ECE, window: 65535, mss: 1460, tsValue: 777, tsEcho: again!.tsValue })
    expect(h.connection.negotiated.ecn).toBe(false)
  })

  it.each([
    ['on', ECE | CWR, true],
    ['passive', ECE | CWR, true],
    ['off', ECE | CWR, false],
    ['on', ECE, false],
    ['on', 0, false],
  ] as const)('passive open with %s, SYN flags %i: ECN-setup SYN-ACK (ECE alone) = %s', (ecn, flags, on) => {
    const syn = segment({ seq: IRS, ack: 0, flags: SYN | flags, window: 65535, mss: 1460, tsValue: 777 })
    const connection = TcpConnection.accept(config(new FixedWindowControl(), { ecn }), 0, 1000, syn)
    const h = new ConnectionHarness(connection)
    const [synAck] = h.recv()
    expect(synAck!.flags & (ECE | CWR)).toBe(on ? ECE : 0)
    expect(synAck!.ecn).toBe(IpEcn.NOT_ECT)
    expect(connection.negotiated.ecn).toBe(on)
  })
})

describe('the receiver (RFC 3168 §6.1.3)', () => {
  it('echoes a CE mark on data with ECE at once and in every ACK until a CWR arrives', () => {
    const { h } = opened(new FixedWindowControl(), 1000)
    const text = (seq: number, extra: object = {}) => ({ seq, ack: 1001, flags: ACK, window: 1024, tsValue: 778, payload: new Uint8Array(100), ...extra })
    h.send(text(IRS + 1))
    h.now += 50_000 // the delayed ACK
    expect(h.recv().map((s) => s.flags & ECE)).toEqual([0])
    h.send(text(IRS + 101, { ce: true }))
    const echo = h.recv() // at once, not after the delayed-ACK timer
    expect(echo).toHaveLength(1)
    expect(echo[0]!.flags & ECE).toBe(ECE)
    expect(echo[0]!.ecn).toBe(IpEcn.NOT_ECT) // a pure ACK is never ECT (§6.1.4)
    h.send(text(IRS + 201))
    h.now += 50_000
    expect(h.recv()[0]!.flags & ECE).toBe(ECE) // still, until CWR
    h.send(text(IRS + 301, { flags: ACK | CWR }))
    h.now += 50_000
    expect(h.recv()[0]!.flags & ECE).toBe(0)
    expect(h.connection.stats.ceReceived).toBe(1)
  })

  it('a segment with both CWR and CE keeps the echo on; a CE mark on a pure ACK is not echoed', () => {
    const { h } = opened(new FixedWindowControl(), 1000)
    h.send({ seq: IRS + 1, ack: 1001, flags: ACK | CWR, window: 1024, tsValue: 778, payload: new Uint8Array(100), ce: true })
    expect(h.recv()[0]!.flags & ECE).toBe(ECE)
    const { h: other } = opened(new FixedWindowControl(), 1000)
    other.send({ ...peerAck(1001), ce: true })
    other.now += 50_000
    expect(other.recv()).toEqual([])
    expect(other.connection.stats.ceReceived).toBe(0)
  })

  it('without ECN negotiated, CE marks are not echoed', () => {
    const { h } = opened(new FixedWindowControl(), 1000, 0)
    h.send({ seq: IRS + 1, ack: 1001, flags: ACK, window: 1024, tsValue: 778, payload: new Uint8Array(100), ce: true })
    h.now += 50_000
    expect(h.recv()[0]!.flags & ECE).toBe(0)
  })
})

describe.each([
  ['ISS 1000', 1000],
  ['the window across the 2^32 wrap', 2 ** 32 - 5 * MSS],
])('the sender (RFC 3168 §6.1.2, §6.1.5), %s', (_, iss) => {
  const seg = (i: number): number => (iss + 1 + i * MSS) >>> 0

  it('sends new data ECT(0); reduces once per window on ECE, without retransmitting; CWR on the next new data', () => {
    const control = new Recorder(10 * MSS)
    const { h } = opened(control, iss)
    h.connection.write(new Uint8Array(40 * MSS))
    const first = data(h)
    expect(first).toHaveLength(10)
    expect(first.every((s) => s.ecn === IpEcn.ECT0 && (s.flags & CWR) === 0)).toBe(true)
    control.calls.length = 0
    // The peer echoes a CE mark: one reduction, as a loss's (enter, then exit at once), nothing resent.
    h.now += RTT
    h.send(peerAck(seg(2), ECE))
    expect(control.calls.filter((c) => !c.startsWith('ack'))).toEqual([`enter ${8 * MSS}`, `exit ${8 * MSS}`])
    const after = data(h)
    expect(after.map((s) => s.seq)).toEqual([seg(10), seg(11)])
    expect(after[0]!.flags & CWR).toBe(CWR)
    expect(after[1]!.flags & CWR).toBe(0)
    expect(after.every((s) => s.ecn === IpEcn.ECT0 && !s.retransmission)).toBe(true)
    // More ECEs for the same window (data sent before the reduction, up to seg(10)): the same congestion.
    for (let i = 3; i <= 10; i++) h.send(peerAck(seg(i), ECE))
    expect(control.calls.filter((c) => c.startsWith('enter'))).toHaveLength(1)
    expect(h.connection.stats.ecnReductions).toBe(1)
    expect(h.connection.stats.eceReceived).toBe(9)
    // An ECE that acknowledges data sent after the reduction is news: a second reduction, a second CWR.
    data(h)
    h.send(peerAck(seg(11), ECE))
    expect(control.calls.filter((c) => c.startsWith('enter'))).toHaveLength(2)
    expect(data(h)[0]!.flags & CWR).toBe(CWR)
    expect(h.connection.stats).toMatchObject({ ecnReductions: 2, cwrSent: 2, retransmittedSegments: 0, fastRetransmits: 0 })
    // CCP's Ack.ecn_bytes / ecn_packets: what each ECN-Echo acknowledged.
    expect(control.ecn[0]).toEqual([2 * MSS, 2])
    expect(control.ecn).toHaveLength(10)
  })

  it('a retransmission goes Not-ECT (§6.1.5); an ECE during the loss recovery makes no second reduction', () => {
    const control = new FixedWindowControl(10 * MSS)
    const { h } = opened(control, iss)
    h.connection.write(new Uint8Array(20 * MSS))
    data(h)
    h.now += RTT
    // Segment 0 lost: SACKs for 1..3 make RACK retransmit it; that ACK also carries ECE.
    h.send({ ...peerAck(seg(0), ECE), sackBlocks: [{ left: seg(1), right: seg(4) }] })
    const out = data(h)
    expect(out[0]!.seq).toBe(seg(0))
    expect(out[0]!.retransmission).toBe(true)
    expect(out[0]!.ecn).toBe(IpEcn.NOT_ECT)
    expect(out.slice(1).every((s) => s.ecn === IpEcn.ECT0)).toBe(true)
    // The first new data segment carries CWR: the recovery's reduction answers the echo.
    expect(out.slice(1).map((s) => s.flags & CWR)).toEqual([CWR, ...out.slice(2).map(() => 0)])
    expect(control.calls.filter((c) => c.startsWith('enter'))).toHaveLength(1)
    expect(h.connection.stats.ecnReductions).toBe(0)
  })

  it('an ACK with ECE does not grow the window (§6.1.2 SHOULD NOT); one without ECE does', () => {
    const control = new FixedWindowControl(10 * MSS)
    const { h } = opened(control, iss)
    h.connection.write(new Uint8Array(40 * MSS))
    data(h)
    h.now += RTT
    h.send(peerAck(seg(2), ECE))
    data(h)
    control.calls.length = 0
    // Further echoes for the same window: no reduction, and no growth either.
    for (let i = 3; i <= 6; i++) h.send(peerAck(seg(i), ECE))
    expect(control.calls).toEqual([])
    // The echo ended (the peer saw CWR): ACKs grow the window again.
    h.send(peerAck(seg(7)))
    expect(control.calls).toEqual([`ack ${MSS}`])
  })

  it('a window of one segment: ECE resets the retransmission timer and the next new segment waits for it (§6.1.2)', () => {
    const control = new FixedWindowControl(MSS)
    const { h } = opened(control, iss)
    h.connection.write(new Uint8Array(4 * MSS))
    expect(data(h).map((s) => s.seq)).toEqual([seg(0)])
    // The one segment is acknowledged with ECE: the window is free, but no new data goes.
    h.now += RTT
    const eceAt = h.now
    h.send(peerAck(seg(1), ECE))
    expect(h.recv()).toEqual([])
    expect(h.connection.stats).toMatchObject({ ecnReductions: 1, ecnTimerWaits: 1 })
    // The timer, reset at the ECE, is the next event; at its expiry one new segment goes, with CWR, and no timeout is counted.
    const rto = h.connection.rtt.rto
    expect(h.connection.pollAt()).toBe(eceAt + rto)
    const next = h.advanceToTimer()
    expect(h.now).toBe(eceAt + rto)
    expect(next.map((s) => [s.seq, s.payload.length, s.flags & CWR, s.ecn, s.retransmission])).toEqual([[seg(1), MSS, CWR, IpEcn.ECT0, false]])
    expect(h.connection.stats).toMatchObject({ retransmitTimeouts: 0, retransmittedSegments: 0 })
    expect(control.calls.filter((c) => c.startsWith('rto'))).toEqual([])
    // An ACK without ECE: the next segment goes at once, one per ACK as the window allows.
    h.now += RTT
    h.send(peerAck(seg(2)))
    expect(data(h).map((s) => [s.seq, s.flags & CWR])).toEqual([[seg(2), 0]])
    // A second ECE (new congestion: it acknowledges data sent after the reduction) waits again.
    h.now += RTT
    const secondAt = h.now
    h.send(peerAck(seg(3), ECE))
    expect(h.recv()).toEqual([])
    expect(h.advanceToTimer().map((s) => [s.seq, s.flags & CWR])).toEqual([[seg(3), CWR]])
    expect(h.now).toBe(secondAt + h.connection.rtt.rto)
    expect(h.connection.stats).toMatchObject({ ecnReductions: 2, ecnTimerWaits: 2, retransmitTimeouts: 0 })
  })

  it('a window of one segment with data still outstanding: the reset timer expires as a real timeout', () => {
    const control = new FixedWindowControl(MSS)
    const { h } = opened(control, iss)
    h.connection.write(new Uint8Array(2 * MSS))
    expect(data(h).map((s) => s.seq)).toEqual([seg(0)])
    // An ECE that acknowledges nothing new (a window update) still counts as the echo; the segment stays outstanding.
    h.now += RTT
    const eceAt = h.now
    h.send({ ...peerAck((iss + 1) >>> 0, ECE), window: 2048 })
    expect(h.connection.stats.ecnTimerWaits).toBe(1)
    expect(h.connection.pollAt()).toBe(eceAt + h.connection.rtt.rto)
    const again = h.advanceToTimer()
    expect(again.map((s) => [s.seq, s.retransmission, s.ecn])).toEqual([[seg(0), true, IpEcn.NOT_ECT]])
    expect(h.connection.stats.retransmitTimeouts).toBe(1)
  })

  it('a window of one segment: an ACK of the outstanding data during the wait does not end it early', () => {
    const control = new FixedWindowControl(MSS)
    const { h } = opened(control, iss)
    h.connection.write(new Uint8Array(3 * MSS))
    expect(data(h).map((s) => s.seq)).toEqual([seg(0)])
    // The echo arrives on an ACK that acknowledges nothing new; then the segment's own ACK, without ECE.
    h.now += RTT
    const eceAt = h.now
    h.send({ ...peerAck((iss + 1) >>> 0, ECE), window: 2048 })
    h.now += RTT
    h.send(peerAck(seg(1)))
    expect(h.recv()).toEqual([])
    const rto = h.connection.rtt.rto
    expect(h.connection.pollAt()).toBe(eceAt + rto)
    expect(h.advanceToTimer().map((s) => [s.seq, s.flags & CWR, s.retransmission])).toEqual([[seg(1), CWR, false]])
    expect(h.connection.stats).toMatchObject({ ecnTimerWaits: 1, retransmitTimeouts: 0 })
  })

  it('a window above one segment: ECE reduces and new data goes on at once, no timer wait', () => {
    const control = new FixedWindowControl(2 * MSS)
    const { h } = opened(control, iss)
    h.connection.write(new Uint8Array(4 * MSS))
    expect(data(h)).toHaveLength(2)
    h.now += RTT
    h.send(peerAck(seg(1), ECE))
    expect(data(h).map((s) => [s.seq, s.flags & CWR])).toEqual([[seg(2), CWR]])
    expect(h.connection.stats.ecnTimerWaits).toBe(0)
  })

  it('ECE, then a loss in the same window: the recovery repairs without a second reduction (§6.1.2)', () => {
    const control = new FixedWindowControl(10 * MSS)
    const { h } = opened(control, iss)
    h.connection.write(new Uint8Array(30 * MSS))
    data(h)
    h.now += RTT
    h.send(peerAck(seg(2), ECE))
    expect(control.calls.filter((c) => c.startsWith('enter'))).toHaveLength(1)
    expect(data(h)[0]!.flags & CWR).toBe(CWR)
    // Segment 2 (sent before the reduction) was lost: SACKs for 3..5 start a recovery that retransmits it.
    h.send({ ...peerAck(seg(2), ECE), sackBlocks: [{ left: seg(3), right: seg(6) }] })
    const out = data(h)
    expect(out[0]!.seq).toBe(seg(2))
    expect(out[0]!.retransmission).toBe(true)
    expect(h.connection.stats.fastRetransmits).toBe(1)
    // No second reduction, no second CWR, and no exit call for a recovery the controller never entered.
    expect(control.calls.filter((c) => !c.startsWith('ack'))).toEqual([`enter ${8 * MSS}`, `exit ${8 * MSS}`])
    expect(out.every((s) => (s.flags & CWR) === 0)).toBe(true)
    expect(h.connection.stats).toMatchObject({ ecnReductions: 1, cwrSent: 1 })
    // The repair completes the window; a loss in a later window is new congestion and reduces again.
    h.send(peerAck(seg(12)))
    data(h)
    h.send({ ...peerAck(seg(12)), sackBlocks: [{ left: seg(13), right: seg(16) }] })
    expect(data(h)[0]!.seq).toBe(seg(12))
    expect(control.calls.filter((c) => c.startsWith('enter'))).toHaveLength(2)
    expect(h.connection.stats.fastRetransmits).toBe(2)
  })

  it('a tail loss probe that repaired a loss reduces the window and sets CWR; an ECE for that window makes no second reduction', () => {
    const control = new FixedWindowControl(10 * MSS)
    const { h } = opened(control, iss, ECE, { tailLossProbe: true })
    h.connection.write(new Uint8Array(10 * MSS))
    expect(data(h)).toHaveLength(10)
    // Eight are acknowledged, the last is lost; the PTO (2·SRTT, two segments in flight) sends it again as the probe.
    h.now += RTT
    h.send(peerAck(seg(8)))
    const probe = h.advanceToTimer()
    expect(probe.map((s) => [s.seq, s.retransmission])).toEqual([[seg(9), true]])
    expect(h.connection.stats).toMatchObject({ tailLossProbes: 1, retransmitTimeouts: 0 })
    // The probe's ACK reaches TLP.end_seq; the episode stays open until an ACK beyond it (RFC 8985 §7.4.2).
    h.now += RTT
    h.send(peerAck(seg(10)))
    h.connection.write(new Uint8Array(3 * MSS))
    const before = data(h)
    expect(before.map((s) => [s.seq, s.flags & CWR])).toEqual([[seg(10), 0], [seg(11), 0], [seg(12), 0]])
    // An ACK beyond it, with no D-SACK: the probe repaired a loss; one reduction. The peer also echoes a CE mark
    // for the same window: no second reduction.
    h.now += RTT
    h.send(peerAck(seg(11), ECE))
    expect(h.connection.stats.tailLossProbeRecoveries).toBe(1)
    expect(control.calls.filter((c) => c.startsWith('enter'))).toHaveLength(1)
    expect(h.connection.stats.ecnReductions).toBe(0)
    // RFC 3168 §6.1.2: a reduction "for any reason": the first new data segment after it carries CWR.
    h.connection.write(new Uint8Array(2 * MSS))
    const after = data(h)
    expect(after.map((s) => [s.seq, s.flags & CWR])).toEqual([[seg(13), CWR], [seg(14), 0]])
    expect(h.connection.stats.cwrSent).toBe(1)
  })

  it('ignores ECE when ECN was not negotiated', () => {
    const control = new FixedWindowControl(10 * MSS)
    const { h } = opened(control, iss, 0)
    h.connection.write(new Uint8Array(20 * MSS))
    expect(data(h).every((s) => s.ecn === IpEcn.NOT_ECT)).toBe(true)
    h.now += RTT
    h.send(peerAck(seg(2), ECE))
    expect(control.calls.filter((c) => c.startsWith('enter'))).toHaveLength(0)
    expect(data(h).every((s) => (s.flags & CWR) === 0)).toBe(true)
  })
})
