// RACK-TLP (RFC 8985) and Proportional Rate Reduction (RFC 6937) in rules/loss-recovery/, driven segment
// by segment: a lost retransmission found by time, reordering tolerated once D-SACK grew the window, and
// PRR's sending pattern for one loss.
import { describe, expect, it } from 'vitest'
import { ConnectionHarness, FixedWindowControl } from '../testing/index.js'
import { TcpFlags } from '../wire/tcp.js'
import { resolveTcpConfig, type TcpConfig, TcpConfigError } from './tcp-config.js'

const { SYN, ACK } = TcpFlags
const ISS = 1000
const IRS = 5000
const MSS = 1448 // 1460 less the timestamps option
const SRTT = 10_000

function established(control: FixedWindowControl, overrides: Partial<TcpConfig> = {}): ConnectionHarness {
  const config = resolveTcpConfig({ noDelay: true, tailLossProbe: false, ...overrides }, () => control)
  const h = ConnectionHarness.connect(config, ISS)
  const [syn] = h.recv()
  h.now = SRTT
  h.send({ seq: IRS, ack: ISS + 1, flags: SYN | ACK, window: 65535, mss: 1460, windowScale: 7, sackPermitted: true, tsValue: 777, tsEcho: syn!.tsValue })
  h.recv()
  return h
}

const seg = (i: number): number => ISS + 1 + i * MSS
const bytes = (n: number): Uint8Array => new Uint8Array(n).fill(0x61)
/** An ACK from the peer (window 128 KiB) with SACK blocks given in segment numbers [from, to). */
function peerAck(ack: number, sack: Array<[number, number]> = [], tsValue = 778) {
  return { seq: IRS + 1, ack, window: 1024, tsValue, sackBlocks: sack.map(([left, right]) => ({ left, right })), payload: new Uint8Array(0) }
}
const dataSeqs = (h: ConnectionHarness): number[] => h.recv().filter((s) => s.payload.length > 0).map((s) => s.seq)

describe('lossDetection setting', () => {
  it('defaults to RACK and rejects unknown names with ERR_INVALID_CONFIG', () => {
    expect(resolveTcpConfig({}, () => new FixedWindowControl()).lossDetection).toBe('rack')
    expect(() => resolveTcpConfig({ lossDetection: 'fack' as never }, () => new FixedWindowControl())).toThrow(TcpConfigError)
    expect(() => resolveTcpConfig({ lossDetection: 'fack' as never }, () => new FixedWindowControl())).toThrow(/lossDetection must be one of 'rack', 'rfc6675', 'newreno'/)
  })
})

describe('RACK (RFC 8985 §6)', () => {
  it('finds a lost retransmission when a segment sent after it is delivered, without an RTO', () => {
    const h = established(new FixedWindowControl(20 * MSS))
    h.connection.write(bytes(30 * MSS))
    expect(dataSeqs(h)).toHaveLength(20)
    // Segment 0 is lost: three SACKed segments sent with it make it lost at once (RACK.reo_wnd = 0, §6.2 step 4).
    h.now += SRTT
    h.send(peerAck(seg(0), [[seg(1), seg(4)]]))
    const first = dataSeqs(h)
    expect(first[0]).toBe(seg(0)) // the fast retransmit
    expect(first.slice(1)).toEqual([seg(20), seg(21), seg(22)]) // new data PRR allows (SSRB: delivered + 1 MSS)
    expect(h.connection.inRecovery).toBe(true)
    // The retransmission is lost too: new data sent with it is SACKed one RTT later, and that is enough.
    h.now += SRTT
    h.send(peerAck(seg(0), [[seg(1), seg(21)]]))
    expect(dataSeqs(h)[0]).toBe(seg(0))
    expect(h.connection.stats.retransmitTimeouts).toBe(0)
    expect(h.connection.stats.lostRetransmissions).toBe(1)
    expect(h.connection.stats.rackLostSegments).toBe(2)
  })

  it('the RFC 6675 mode waits: three segments sent after the retransmission must be SACKed first', () => {
    const h = established(new FixedWindowControl(20 * MSS), { lossDetection: 'rfc6675' })
    h.connection.write(bytes(30 * MSS))
    h.recv()
    h.now += SRTT
    h.send(peerAck(seg(0), [[seg(1), seg(4)]]))
    expect(dataSeqs(h)[0]).toBe(seg(0))
    h.now += SRTT
    h.send(peerAck(seg(0), [[seg(1), seg(21)]]))
    expect(dataSeqs(h)).not.toContain(seg(0))
  })

  it('tolerates reordering within the window once a D-SACK has grown it (§6.2 step 4)', () => {
    const h = established(new FixedWindowControl(20 * MSS))
    h.connection.write(bytes(10 * MSS))
    h.recv()
    // Segment 0 is late, not lost: RACK retransmits it (no reordering seen yet)...
    h.now += SRTT
    h.send(peerAck(seg(0), [[seg(1), seg(4)]]))
    expect(dataSeqs(h)).toEqual([seg(0)])
    const retransmitted = h.connection.stats.retransmittedSegments
    // ...the original arrives, then the retransmission, which the receiver reports in a D-SACK (RFC 2883).
    h.now += 1000
    h.send(peerAck(seg(10)))
    h.now += 1000
    h.send(peerAck(seg(10), [[seg(0), seg(1)]]))
    // The same reordering again: no retransmission now, only the reordering timer (§6.3).
    h.connection.write(bytes(10 * MSS))
    expect(dataSeqs(h)).toHaveLength(10)
    h.now += SRTT
    h.send(peerAck(seg(10), [[seg(11), seg(14)]]))
    expect(dataSeqs(h)).toEqual([])
    const timer = h.connection.pollAt()
    expect(timer).toBeDefined()
    expect(timer! - h.now).toBeGreaterThan(0)
    h.now += 1000
    h.send(peerAck(seg(20)))
    h.recv()
    expect(h.connection.stats.retransmittedSegments).toBe(retransmitted)
    expect(h.connection.stats.retransmitTimeouts).toBe(0)
  })

  it('marks a segment lost when the reordering timer expires (§6.3)', () => {
    const h = established(new FixedWindowControl(20 * MSS))
    h.connection.write(bytes(10 * MSS))
    h.recv()
    // One segment SACKed above the hole: fewer than DupThresh, so RACK waits a reordering window.
    h.now += SRTT
    h.send(peerAck(seg(0), [[seg(1), seg(2)]]))
    expect(dataSeqs(h)).toEqual([])
    const timer = h.connection.pollAt()!
    expect(timer).toBeLessThan(h.now + SRTT)
    h.now = timer
    h.connection.dispatch(h.now, () => {})
    expect(h.connection.inRecovery).toBe(true)
    expect(h.connection.stats.rackLostSegments).toBe(1)
  })
})

describe('Proportional Rate Reduction (RFC 6937 §3)', () => {
  it('sends one segment per two delivered while pipe > ssthresh = flight / 2', () => {
    const control = new FixedWindowControl(20 * MSS)
    const h = established(control)
    control.slowStartThreshold = 10 * MSS // what the controller's reduction leaves: half the flight
    h.connection.write(bytes(60 * MSS))
    expect(dataSeqs(h)).toHaveLength(20)
    h.now += SRTT
    // Segment 0 lost; then one more segment SACKed per ACK.
    const counts: number[] = []
    for (let top = 4; top <= 15; top++) {
      h.send(peerAck(seg(0), [[seg(1), seg(top)]]))
      counts.push(dataSeqs(h).length)
    }
    // RecoverFS = 20 MSS; sndcnt = ceil(prr_delivered × 10/20) − prr_out, in whole segments rounded up.
    const expected: number[] = []
    let out = 0
    for (let top = 4; top <= 15; top++) {
      const delivered = top - 1
      const allowed = Math.ceil(delivered / 2)
      expected.push(allowed - out)
      out = allowed
    }
    expect(counts).toEqual(expected)
    expect(counts.slice(0, 5)).toEqual([2, 0, 1, 0, 1])
    expect(counts.reduce((a, b) => a + b)).toBe(Math.ceil(14 / 2)) // 14 delivered: half of them sent
  })

  it('with the slow-start reduction bound, sends at most what was delivered plus one segment once pipe < ssthresh', () => {
    const control = new FixedWindowControl(20 * MSS)
    const h = established(control)
    control.slowStartThreshold = 18 * MSS
    h.connection.write(bytes(60 * MSS))
    h.recv()
    h.now += SRTT
    // Ten segments SACKed at once: pipe = 20 − 10 − 1 lost = 9 MSS < ssthresh; SSRB allows 10 + 1.
    h.send(peerAck(seg(0), [[seg(1), seg(11)]]))
    expect(dataSeqs(h)).toHaveLength(9) // min(ssthresh − pipe, 11 MSS) = 9
  })
})

/** A fixed window that falls to one segment on a timeout and comes back on undo, counting undos. */
class UndoingWindow extends FixedWindowControl {
  undos = 0
  readonly #full: number
  constructor(window: number) {
    super(window)
    this.#full = window
  }
  override onRetransmitTimeout(now: number, inFlight: number): void {
    super.onRetransmitTimeout(now, inFlight)
    this.window = 1460
  }
  onUndo(): void {
    this.undos++
    this.window = this.#full
  }
}

describe('F-RTO (RFC 5682 §2)', () => {
  const MSS_NO_TS = 1460
  const s = (i: number): number => ISS + 1 + i * MSS_NO_TS
  function noTimestamps(control: UndoingWindow): ConnectionHarness {
    const config = resolveTcpConfig({ noDelay: true, tailLossProbe: false, timestamps: false }, () => control)
    const h = ConnectionHarness.connect(config, ISS)
    h.recv()
    h.now = SRTT
    h.send({ seq: IRS, ack: ISS + 1, flags: SYN | ACK, window: 65535, mss: 1460, windowScale: 7, sackPermitted: true })
    h.recv()
    return h
  }
  const ackOf = (ack: number) => ({ seq: IRS + 1, ack, window: 1024, payload: new Uint8Array(0) })

  function afterTimeout(control: UndoingWindow): ConnectionHarness {
    const h = noTimestamps(control)
    h.connection.write(bytes(30 * MSS_NO_TS))
    expect(dataSeqs(h)).toHaveLength(10)
    h.now = h.connection.pollAt()!
    expect(dataSeqs(h)).toEqual([s(0)]) // RFC 5682 §2 step 1: the first unacknowledged segment
    expect(h.connection.stats.retransmitTimeouts).toBe(1)
    // Step 2b: the first ACK acknowledges original segments: two new segments go, not the rest of the flight.
    h.now += 1000
    h.send(ackOf(s(2)))
    expect(dataSeqs(h)).toEqual([s(10), s(11)])
    return h
  }

  it('declares the timeout spurious when the second ACK advances SND.UNA too, and undoes it', () => {
    const control = new UndoingWindow(10 * MSS_NO_TS)
    const h = afterTimeout(control)
    h.now += 1000
    h.send(ackOf(s(4)))
    expect(h.connection.stats.spuriousTimeouts).toBe(1)
    expect(control.undos).toBe(1)
    // New data goes on from SND.MAX with the window restored; nothing of the flight is resent.
    expect(dataSeqs(h)).toEqual([s(12), s(13)])
  })

  it('falls back to go-back-N when the second ACK is a duplicate', () => {
    const control = new UndoingWindow(10 * MSS_NO_TS)
    const h = afterTimeout(control)
    h.now += 1000
    h.send(ackOf(s(2)))
    expect(h.connection.stats.spuriousTimeouts).toBe(0)
    expect(control.undos).toBe(0)
    h.now += 1000
    h.send(ackOf(s(3)))
    const sent = dataSeqs(h)
    expect(sent[0]).toBe(s(3))
    expect(sent).not.toContain(s(12))
  })
})

describe('SACK-enhanced F-RTO (RFC 5682 §3)', () => {
  const MSS_NO_TS = 1460
  const s = (i: number): number => ISS + 1 + i * MSS_NO_TS
  const ackOf = (ack: number, sack: Array<[number, number]> = []) => ({ seq: IRS + 1, ack, window: 1024, payload: new Uint8Array(0), sackBlocks: sack.map(([l, r]) => ({ left: s(l), right: s(r) })) })

  /** Ten segments out, then the RTO: the head goes again. */
  function timedOut(control: UndoingWindow): ConnectionHarness {
    const config = resolveTcpConfig({ noDelay: true, tailLossProbe: false, timestamps: false }, () => control)
    const h = ConnectionHarness.connect(config, ISS)
    h.recv()
    h.now = SRTT
    h.send({ seq: IRS, ack: ISS + 1, flags: SYN | ACK, window: 65535, mss: 1460, windowScale: 7, sackPermitted: true })
    h.recv()
    h.connection.write(bytes(30 * MSS_NO_TS))
    expect(dataSeqs(h)).toHaveLength(10)
    h.now = h.connection.pollAt()!
    expect(dataSeqs(h)).toEqual([s(0)])
    return h
  }

  it('step 2: duplicate ACKs before the ACK of the retransmission do not end F-RTO; the new ACK then sends new data', () => {
    const control = new UndoingWindow(10 * MSS_NO_TS)
    const h = timedOut(control)
    h.now += 1000
    h.send(ackOf(s(0), [[3, 5]])) // late SACKs for the original flight
    h.send(ackOf(s(0), [[3, 6]]))
    dataSeqs(h)
    h.now += 1000
    h.send(ackOf(s(2), [[3, 6]]))
    expect(dataSeqs(h)).toEqual([s(10), s(11)])
    // Step 3b: the next ACK SACKs more never-retransmitted data below the recovery point: spurious.
    h.now += 1000
    h.send(ackOf(s(2), [[3, 8]]))
    expect(h.connection.stats.spuriousTimeouts).toBe(1)
    expect(control.undos).toBe(1)
  })

  it('step 3a: a duplicate ACK that SACKs only the two new segments means the loss was real: go-back-N', () => {
    const control = new UndoingWindow(10 * MSS_NO_TS)
    const h = timedOut(control)
    h.now += 1000
    h.send(ackOf(s(2)))
    expect(dataSeqs(h)).toEqual([s(10), s(11)])
    h.now += 1000
    h.send(ackOf(s(2), [[10, 12]]))
    expect(h.connection.stats.spuriousTimeouts).toBe(0)
    expect(control.undos).toBe(0)
    h.now += 1000
    h.send(ackOf(s(3), [[10, 12]]))
    expect(dataSeqs(h)[0]).toBe(s(3))
  })
})
