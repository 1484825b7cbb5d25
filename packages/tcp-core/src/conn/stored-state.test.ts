// State kept across segments (decision 0010), and the rules of issue 13 that act on one connection:
// PAWS after 24 days, timestamps required once negotiated, RFC 1337, ACKs owed as their own segments,
// application-limited marking, the restart after idle.
import { describe, expect, it } from 'vitest'
import { ConnectionHarness, FixedWindowControl, segment, type SentSegment, snapshot, testConfig } from '../testing/index.js'
import { TcpConnection } from './connection.js'
import { RenoControl } from '../congestion/reno.js'
import type { AckSample, Micros } from '../congestion/congestion-control.js'
import { TcpFlags } from '../wire/tcp.js'
import type { TcpConfig } from './tcp-config.js'

const { SYN, ACK, FIN, RST } = TcpFlags
const IRS = 5000
const PEER_TS = 777
const DAY: Micros = 86_400_000_000

/** A controller that records every sample's appLimited flag and idle restarts. */
class RecordingControl extends FixedWindowControl {
  readonly samples: AckSample[] = []
  idleRestarts = 0
  override onAck(now: Micros, sample: AckSample): void {
    super.onAck(now, sample)
    this.samples.push({ ...sample })
  }
  override onIdleRestart(): void {
    this.idleRestarts++
  }
}

function established(iss: number, overrides: Partial<TcpConfig> = {}, timestamps = true): ConnectionHarness {
  const h = ConnectionHarness.connect(testConfig(overrides), iss)
  const [syn] = h.recv()
  h.now = 10_000
  h.send({
    seq: IRS,
    ack: (iss + 1) >>> 0,
    flags: SYN | ACK,
    window: 65535,
    mss: 1460,
    windowScale: 7,
    sackPermitted: true,
    tsValue: timestamps ? PEER_TS : undefined,
    tsEcho: syn!.tsValue,
  })
  h.recv()
  h.connection.takeEvents()
  return h
}

const bytes = (n: number, fill = 0x61) => new Uint8Array(n).fill(fill)

describe('PAWS across 24 days of silence (RFC 7323 §5.5)', () => {
  it('takes the timestamp of the first segment after 24 days, whatever it compares as, and protects with it again', () => {
    const h = established(1000)
    const una = h.connection.sequence.sndUna
    // The peer's clock moved 2^31 + 5 ticks while the connection was idle: in serial order, older.
    h.now += 25 * DAY
    const later = (PEER_TS + 2 ** 31 + 5) >>> 0
    h.send({ seq: IRS + 1, ack: una, tsValue: later, payload: bytes(10) })
    expect(h.connection.readableBytes).toBe(10)
    h.now += 40_000
    const [ack] = h.recv()
    // TS.Recent was replaced: the ACK echoes the new value (the stale one compared as newer before).
    expect(ack!.tsEcho).toBe(later)
    // And PAWS works again: a segment stamped before the new value is an old duplicate.
    h.send({ seq: IRS + 11, ack: una, tsValue: (later - 10) >>> 0, payload: bytes(10) })
    expect(h.connection.stats.pawsRejected).toBe(1)
    expect(h.connection.readableBytes).toBe(10)
  })
})

describe('timestamps, once negotiated, on every segment (RFC 7323 §3.2)', () => {
  it('drops a segment without the option silently, but still takes a RST without it', () => {
    const h = established(1000)
    const una = h.connection.sequence.sndUna
    h.send({ seq: IRS + 1, ack: una, payload: bytes(10) })
    expect(h.connection.readableBytes).toBe(0)
    expect(h.connection.stats.missingTimestamps).toBe(1)
    expect(h.recv()).toEqual([])
    h.send({ seq: IRS + 1, ack: 0, flags: RST })
    expect(h.connection.error).toBe('ECONNRESET')
  })

  it('takes segments without the option when timestamps were not negotiated', () => {
    const h = established(1000, {}, false)
    h.send({ seq: IRS + 1, ack: h.connection.sequence.sndUna, payload: bytes(10) })
    expect(h.connection.readableBytes).toBe(10)
  })
})

describe('TIME-WAIT (RFC 1337)', () => {
  it('ignores a RST: TIME-WAIT lasts its whole 2·MSL', () => {
    const h = established(1000, { timeWaitTimeout: 30_000_000 })
    h.connection.shutdown()
    const [fin] = h.recv()
    const end = (fin!.seq + 1) >>> 0
    h.send({ seq: IRS + 1, ack: end, flags: ACK | FIN, tsValue: PEER_TS + 1 })
    h.recv()
    expect(h.connection.state).toBe('TIME-WAIT')
    h.send({ seq: IRS + 2, ack: end, flags: RST })
    expect(h.connection.state).toBe('TIME-WAIT')
    expect(h.connection.stats.timeWaitResetsIgnored).toBe(1)
    h.now += 30_000_000
    h.recv()
    expect(h.connection.state).toBe('CLOSED')
    expect(h.connection.error).toBeUndefined()
  })
})

describe('ACKs owed go out as segments of their own, before data (RFC 5681 §4.2, RFC 5961)', () => {
  /** Established, with data written that the window lets go at the next dispatch. */
  function withDataReady(): ConnectionHarness {
    const h = established(1000, { noDelay: true })
    h.connection.write(bytes(3000, 7))
    return h
  }
  const peer = (h: ConnectionHarness, fields: Record<string, unknown>) => ({ seq: IRS + 1, ack: h.connection.sequence.sndUna, tsValue: PEER_TS + 1, window: 65535, ...fields })

  it('one duplicate ACK per out-of-order segment, with SACK blocks, then the data', () => {
    const h = withDataReady()
    h.send(peer(h, { seq: IRS + 1001, payload: bytes(100) }))
    h.send(peer(h, { seq: IRS + 2001, payload: bytes(100) }))
    const out = h.recv()
    expect(out.slice(0, 2)).toMatchObject([
      { flags: ACK, ack: IRS + 1, payload: new Uint8Array(0) },
      { flags: ACK, ack: IRS + 1, payload: new Uint8Array(0) },
    ])
    expect(out[0]!.sack.length).toBeGreaterThan(0)
    expect(out.slice(2).every((s) => s.payload.byteLength > 0)).toBe(true)
    expect(h.connection.stats.pureAcksSent).toBe(2)
  })

  it('a challenge ACK <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> for an in-window SYN, before the data', () => {
    const h = withDataReady()
    const sndNxt = h.connection.sequence.sndNxt
    h.send(peer(h, { seq: IRS + 50, flags: SYN }))
    const [first, ...rest] = h.recv()
    expect(first).toMatchObject({ flags: ACK, seq: sndNxt, ack: IRS + 1, payload: new Uint8Array(0) })
    expect(rest.length).toBeGreaterThan(0)
  })

  it('the ACK of a FIN, before the data', () => {
    const h = withDataReady()
    h.send(peer(h, { flags: ACK | FIN }))
    const [first] = h.recv()
    expect(first).toMatchObject({ flags: ACK, ack: IRS + 2, payload: new Uint8Array(0) })
  })

  it('a window update once the application read, before the data', () => {
    const h = established(1000, { noDelay: true, receiveBufferSize: 4000, mss: 1000 })
    for (let i = 0; i < 4; i++) h.send(peer(h, { seq: IRS + 1 + i * 1000, payload: bytes(1000) }))
    h.recv()
    h.connection.write(bytes(3000, 7))
    h.connection.read(new Uint8Array(4000))
    const [first, second] = h.recv()
    expect(first!.payload.byteLength).toBe(0)
    expect(first!.window).toBeGreaterThan(0)
    expect(second!.payload.byteLength).toBeGreaterThan(0)
  })
})

describe('congestion control inputs', () => {
  it('marks ACKs of data sent while the application limited the connection, and not those of bulk data', () => {
    const control = new RecordingControl(1 << 20)
    const h = established(1000, { congestionControl: () => control, noDelay: true })
    // Small writes one at a time, each acknowledged before the next: application-limited.
    for (let i = 0; i < 3; i++) {
      h.connection.write(bytes(1000))
      const [data] = h.recv()
      h.now += 1000
      h.send({ seq: IRS + 1, ack: (data!.seq + 1000) >>> 0, tsValue: PEER_TS + 1, window: 65535 })
    }
    expect(control.samples.map((s) => s.appLimited)).toEqual([true, true, true])
    // A bulk write larger than what the window lets go: cwnd-limited. The first flight left before the
    // application-limited phase's last byte was delivered, so it still counts as part of it (as Linux's
    // tp->app_limited); the flights after it are not application-limited.
    control.window = 4 * 1448
    h.connection.write(bytes(64 * 1448))
    for (let flight = 0; flight < 3; flight++) {
      const sent = h.recv()
      expect(sent.length).toBe(4)
      h.now += 1000
      h.send({ seq: IRS + 1, ack: (sent.at(-1)!.seq + sent.at(-1)!.payload.byteLength) >>> 0, tsValue: PEER_TS + 1, window: 65535 })
    }
    expect(control.samples.slice(-3).map((s) => s.appLimited)).toEqual([true, false, false])
  })

  it('restarts from the restart window after an idle period longer than the RTO (RFC 5681 §4.1), not after a shorter one', () => {
    const control = new RecordingControl()
    const h = established(1000, { congestionControl: () => control, noDelay: true })
    const exchange = (): void => {
      h.connection.write(bytes(1000))
      const [data] = h.recv()
      h.now += 1000
      h.send({ seq: IRS + 1, ack: (data!.seq + 1000) >>> 0, tsValue: PEER_TS + 1, window: 65535 })
    }
    exchange()
    h.now += h.connection.rtt.rto / 2
    exchange()
    expect(control.idleRestarts).toBe(0)
    h.now += h.connection.rtt.rto + 1
    exchange()
    expect(control.idleRestarts).toBe(1)
    expect(h.connection.stats.idleRestarts).toBe(1)
  })

  it('does not restart after idle when slowStartAfterIdle is off', () => {
    const control = new RecordingControl()
    const h = established(1000, { congestionControl: () => control, noDelay: true, slowStartAfterIdle: false })
    h.connection.write(bytes(1000))
    h.recv()
    h.now += 1000
    h.send({ seq: IRS + 1, ack: 1000 + 1 + 1000, tsValue: PEER_TS + 1, window: 65535 })
    h.now += 10 * h.connection.rtt.rto
    h.connection.write(bytes(1000))
    h.recv()
    expect(control.idleRestarts).toBe(0)
  })
})

describe('RCV.WND is the window last advertised (RFC 9293 §3.10.7.4)', () => {
  it('a listener drops data beyond its SYN-ACK window until a larger one was sent, with a duplicate ACK', () => {
    const syn = segment({ seq: IRS, flags: SYN, window: 65535, mss: 1460, windowScale: 7, sackPermitted: true, tsValue: 1 })
    const c = TcpConnection.accept(testConfig({ receiveBufferSize: 4 << 20 }), 0, 1000, syn)
    const out: SentSegment[] = []
    c.dispatch(0, (s) => out.push(snapshot(s)))
    expect(out[0]!.window).toBe(65535) // RFC 7323 §2.2: the SYN-ACK's window is not scaled
    c.process(1000, segment({ seq: IRS + 1, ack: 1001, window: 1000, tsValue: 2 }))
    expect(c.state).toBe('ESTABLISHED')
    // 100 bytes at RCV.NXT + 65,567: inside the buffer, outside the only window the peer was told.
    c.process(2000, segment({ seq: IRS + 1 + 65_567, ack: 1001, window: 1000, tsValue: 3, payload: bytes(100) }))
    expect(c.stats.unacceptableSegments).toBe(1)
    out.length = 0
    c.dispatch(2000, (s) => out.push(snapshot(s)))
    expect(out).toMatchObject([{ flags: ACK, ack: IRS + 1, sack: [] }])
    // Once a segment advertised the larger window, the same data is inside it.
    const advertised = out[0]!.window << c.negotiated.receiveShift
    expect(advertised).toBeGreaterThan(65_567 + 100)
    c.process(3000, segment({ seq: IRS + 1 + 65_567, ack: 1001, window: 1000, tsValue: 4, payload: bytes(100) }))
    expect(c.stats.outOfOrderSegments).toBe(1)
  })
})

describe('undoing spurious congestion events', () => {
  const MSS = 1448
  function sender(): { h: ConnectionHarness; control: RenoControl; sent: SentSegment[] } {
    const control = new RenoControl({ mss: 1460 })
    // No tail loss probe: the timeout, not a probe, is what these tests look at.
    const h = established(1000, { congestionControl: () => control, noDelay: true, tailLossProbe: false })
    h.connection.write(bytes(10 * MSS))
    const sent = h.recv()
    expect(sent.length).toBe(10)
    return { h, control, sent }
  }
  const ackAll = (h: ConnectionHarness, sent: SentSegment[], fields: Record<string, unknown>) =>
    h.send({ seq: IRS + 1, ack: (sent.at(-1)!.seq + MSS) >>> 0, window: 65535, tsValue: PEER_TS + 1, ...fields })

  it('Eifel (RFC 3522): an ACK after a timeout that echoes the original TSval restores cwnd and sends no more of the old flight', () => {
    const { h, control, sent } = sender()
    const before = control.window
    const [retransmission] = h.advanceToTimer()
    expect(retransmission!.retransmission).toBe(true)
    expect(retransmission!.tsValue).toBeGreaterThan(sent[0]!.tsValue)
    expect(control.window).toBe(MSS)
    ackAll(h, sent, { tsEcho: sent[0]!.tsValue })
    expect(h.connection.stats.spuriousTimeouts).toBe(1)
    expect(control.window).toBe(before)
    expect(h.recv().filter((s) => s.retransmission)).toEqual([])
  })

  it('Eifel: an ACK that echoes the retransmission keeps the timeout response', () => {
    const { h, control, sent } = sender()
    const [retransmission] = h.advanceToTimer()
    ackAll(h, sent, { tsEcho: retransmission!.tsValue })
    expect(h.connection.stats.spuriousTimeouts).toBe(0)
    expect(control.window).toBeLessThan(3 * MSS)
  })

  function recovered(dsack: boolean): { h: ConnectionHarness; control: RenoControl; before: number } {
    const { h, control, sent } = sender()
    const before = control.window
    const first = sent[0]!.seq
    // Segments 2–7 arrive, 1 is late: duplicate ACKs with growing SACK blocks start recovery, and once
    // the pipe (RFC 6675) is below the halved window the retransmission goes.
    for (let k = 2; k <= 7; k++) {
      h.send({ seq: IRS + 1, ack: first, window: 65535, tsValue: PEER_TS + 1, sackBlocks: [{ left: (first + MSS) >>> 0, right: (first + k * MSS) >>> 0 }] })
    }
    expect(h.connection.inRecovery).toBe(true)
    const resent = h.recv().filter((s) => s.retransmission)
    expect(resent.map((s) => s.seq)).toEqual([first])
    // The late original and the retransmission both arrive: the full ACK reports the second in a D-SACK block.
    const blocks = dsack ? [{ left: first, right: (first + MSS) >>> 0 }] : []
    ackAll(h, sent, { sackBlocks: blocks })
    expect(h.connection.inRecovery).toBe(false)
    return { h, control, before }
  }

  it('D-SACK (RFC 3708): a recovery whose every retransmission was a duplicate is undone', () => {
    const { h, control, before } = recovered(true)
    expect(h.connection.stats.spuriousRecoveries).toBe(1)
    expect(control.window).toBeGreaterThanOrEqual(before)
  })

  it('without the D-SACK the reduction stands', () => {
    const { h, control, before } = recovered(false)
    expect(h.connection.stats.spuriousRecoveries).toBe(0)
    expect(control.window).toBeLessThan(before)
  })
})

describe('a lost retransmission pending at a timeout does not outlive it', () => {
  it('the first retransmission of a recovery 2^31 bytes later is at SND.UNA', () => {
    const MSS = 1448
    const h = established(0x7fff_0000, { sendBufferSize: 64 << 20, noDelay: true, tailLossProbe: false, congestionControl: () => new FixedWindowControl(1 << 30) })
    const c = h.connection
    const peer = (ack: number, sackBlocks: Array<{ left: number; right: number }> = []) =>
      h.send({ seq: IRS + 1, ack: ack >>> 0, window: 65535, tsValue: PEER_TS + 1, sackBlocks })
    const none = (): void => c.dispatch(h.now, () => {})
    // A recovery in which the retransmission of the first segment is lost again (data sent after it is
    // SACKed three segments past it), and a timeout before it goes a second time.
    c.write(bytes(20 * MSS))
    none()
    const s = c.sequence.sndUna
    for (let k = 2; k <= 4; k++) peer(s, [{ left: s + MSS, right: s + k * MSS }])
    expect(c.inRecovery).toBe(true)
    c.write(bytes(20 * MSS))
    none()
    peer(s, [{ left: s + MSS, right: s + 24 * MSS }])
    h.now = c.pollAt()!
    none() // the retransmission timeout
    expect(c.stats.retransmitTimeouts).toBe(1)
    peer(c.sequence.sndMax)
    // 2^31 bytes later, without loss…
    const chunk = 8 << 20
    for (let sent = 0; sent <= 2 ** 31; sent += chunk) {
      c.write(bytes(chunk))
      none()
      h.now += 1000
      peer(c.sequence.sndMax)
    }
    // …a new recovery: what it retransmits first is the hole at SND.UNA, not a 2^31-byte-old range.
    c.write(bytes(20 * MSS))
    none()
    const una = c.sequence.sndUna
    for (let k = 2; k <= 7; k++) peer(una, [{ left: una + MSS, right: una + k * MSS }])
    expect(c.inRecovery).toBe(true)
    const resent = h.recv().filter((segment) => segment.retransmission)
    expect(resent[0]?.seq).toBe(una)
  }, 60_000)
})

describe('ACKs to out-of-window segments share RFC 5961 §7 rate limit (issue 16 §6)', () => {
  it('200 out-of-window SYNs and bare ACKs draw at most 10 ACKs a second; duplicate data is always answered', () => {
    const h = established(1000)
    const una = h.connection.sequence.sndUna
    for (let i = 0; i < 100; i++) h.send({ seq: IRS + 50_000_000 + i, ack: una, flags: SYN, tsValue: PEER_TS + 1, window: 65535 })
    for (let i = 0; i < 100; i++) h.send({ seq: IRS + 50_000_000 + i, ack: una, tsValue: PEER_TS + 1, window: 65535 })
    expect(h.recv().length).toBeLessThanOrEqual(10)
    h.now += 1_000_000
    // A duplicate of data already received (before RCV.NXT): answered every time, with its D-SACK.
    h.send({ seq: IRS + 1, ack: una, tsValue: PEER_TS + 1, window: 65535, payload: bytes(10) })
    h.recv()
    for (let i = 0; i < 20; i++) h.send({ seq: IRS + 1, ack: una, tsValue: PEER_TS + 1, window: 65535, payload: bytes(10) })
    expect(h.recv().length).toBe(20)
  })
})
