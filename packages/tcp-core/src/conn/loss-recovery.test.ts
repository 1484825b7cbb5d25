// Loss recovery when data flows both ways and when a flight's tail or its ACKs are lost: the payload
// shrinks by the SACK option (RFC 6691 §2), data-carrying ACKs count as DupAcks with SACK (RFC 6675 §2),
// and tail loss probes (RFC 8985 §7).
import { describe, expect, it } from 'vitest'
import { ConnectionHarness, FixedWindowControl, testConfig } from '../testing/index.js'
import { TcpFlags } from '../wire/tcp.js'
import type { TcpConfig } from './tcp-config.js'

const { SYN, ACK, FIN } = TcpFlags
const ISS = 1000
const IRS = 5000
const MSS = 1448 // 1460 less the timestamps option
const SRTT = 10_000 // the handshake's sample: the SYN-ACK arrives 10 ms after the SYN

function established(overrides: Partial<TcpConfig> = {}): ConnectionHarness {
  const h = ConnectionHarness.connect(testConfig(overrides), ISS)
  const [syn] = h.recv()
  h.now = SRTT
  h.send({ seq: IRS, ack: ISS + 1, flags: SYN | ACK, window: 65535, mss: 1460, windowScale: 7, sackPermitted: true, tsValue: 777, tsEcho: syn!.tsValue })
  h.recv()
  return h
}

/** Sequence number of our segment `i` (0-based, full-sized). */
const seg = (i: number): number => ISS + 1 + i * MSS
const bytes = (n: number): Uint8Array => new Uint8Array(n).fill(0x61)
const blocks = (list: Array<[number, number]>) => list.map(([left, right]) => ({ left, right }))

/** An ACK from the peer (window 1024 << 7 = 128 KiB), optionally with SACK blocks and data. */
function peerAck(h: ConnectionHarness, ack: number, fields: { sack?: Array<[number, number]>; seq?: number; payload?: Uint8Array } = {}) {
  return { seq: fields.seq ?? IRS + 1, ack, window: 1024, tsValue: 778, sackBlocks: blocks(fields.sack ?? []), payload: fields.payload ?? new Uint8Array(0) }
}

describe('SACK option room on data segments (RFC 6691 §2, RFC 2018 §4)', () => {
  it('shrinks a full-sized data segment by the SACK option it carries, and grows back once the hole is filled', () => {
    const h = established({ noDelay: true })
    // The peer's data arrives out of order: every segment we send now reports it in one SACK block.
    h.send(peerAck(h, ISS + 1, { seq: IRS + 1001, payload: bytes(100) }))
    h.recv()
    h.connection.write(bytes(3 * MSS))
    const sent = h.recv()
    expect(sent[0]!.sack).toEqual([[IRS + 1001, IRS + 1101]])
    // One block takes 12 bytes (NOP, NOP, kind, length, 8): data + options stay within the MSS.
    expect(sent[0]!.payload.length).toBe(MSS - 12)
    for (const s of sent) expect(s.payload.length + (s.sack.length > 0 ? 4 + 8 * s.sack.length : 0)).toBeLessThanOrEqual(MSS)
    // The hole fills: no more blocks, full segments again.
    h.send(peerAck(h, seg(3), { seq: IRS + 1, payload: bytes(1000) }))
    h.connection.write(bytes(2 * MSS))
    const after = h.recv().filter((s) => s.payload.length > 0)
    expect(after[0]!.sack).toEqual([])
    expect(after[0]!.payload.length).toBe(MSS)
  })

  it('with three blocks (and timestamps) leaves 1448 − 28 bytes of data', () => {
    const h = established({ noDelay: true })
    for (const at of [1001, 3001, 5001]) h.send(peerAck(h, ISS + 1, { seq: IRS + at, payload: bytes(100) }))
    h.recv()
    h.connection.write(bytes(2 * MSS))
    const [first] = h.recv()
    expect(first!.sack).toHaveLength(3)
    expect(first!.payload.length).toBe(MSS - 28)
  })
})

describe('duplicate ACKs that carry data (RFC 6675 §2 DupAck)', () => {
  it('starts SACK recovery on ACKs piggybacked on the peer data, not only on pure ACKs', () => {
    const h = established({ noDelay: true, tailLossProbe: false })
    h.connection.write(bytes(8 * MSS))
    expect(h.recv()).toHaveLength(8)
    // Segment 0 is lost; each arriving peer data segment SACKs one more of ours.
    let peerSeq = IRS + 1
    for (let i = 1; i <= 3; i++) {
      h.send(peerAck(h, seg(0), { seq: peerSeq, payload: bytes(500), sack: [[seg(1), seg(i + 1)]] }))
      peerSeq += 500
    }
    expect(h.connection.inRecovery).toBe(true)
    expect(h.connection.stats.fastRetransmits).toBe(1)
    const repairs = h.recv().filter((s) => s.retransmission)
    expect(repairs.map((s) => s.seq)).toEqual([seg(0)])
  })

  it('without SACK keeps RFC 5681: an ACK that carries data is not a duplicate', () => {
    const h = ConnectionHarness.connect(testConfig({ noDelay: true, sack: false }), ISS)
    h.recv()
    h.now = SRTT
    h.send({ seq: IRS, ack: ISS + 1, flags: SYN | ACK, window: 65535, mss: 1460 })
    h.recv()
    h.connection.write(bytes(8 * 1460))
    h.recv()
    for (let i = 0; i < 4; i++) h.send({ seq: IRS + 1 + i * 100, ack: ISS + 1, window: 65535, payload: bytes(100) })
    expect(h.connection.inRecovery).toBe(false)
    expect(h.connection.stats.duplicateAcksIn).toBe(0)
  })
})

describe('tail loss probe (RFC 8985 §7)', () => {
  it('arms the PTO at 2·SRTT after a flight, before the RTO', () => {
    const h = established()
    h.connection.write(bytes(4 * MSS))
    expect(h.recv()).toHaveLength(4)
    expect(h.connection.pollAt()).toBe(h.now + 2 * SRTT)
    expect(h.connection.rtt.rto).toBeGreaterThan(2 * SRTT)
  })

  it('adds the worst-case delayed ACK when one segment is in flight, and then leaves it to the RTO', () => {
    const h = established()
    h.connection.write(bytes(100))
    h.recv()
    // 2·SRTT + 200 ms is past the 200 ms RTO: no PTO, the RTO is the next timer.
    expect(h.connection.pollAt()).toBe(h.now + h.connection.rtt.rto)
  })

  it('probes with the last segment when there is no new data, then arms the RTO', () => {
    const h = established()
    h.connection.write(bytes(4 * MSS))
    h.recv()
    const start = h.now
    const probe = h.advanceToTimer()
    expect(h.now).toBe(start + 2 * SRTT)
    expect(probe.map((s) => [s.seq, s.payload.length, s.retransmission])).toEqual([[seg(3), MSS, true]])
    expect(h.connection.stats.tailLossProbes).toBe(1)
    expect(h.connection.stats.retransmitTimeouts).toBe(0)
    expect(h.connection.pollAt()).toBe(h.now + h.connection.rtt.rto)
  })

  it('probes with new data when cwnd held it back and the peer window allows', () => {
    const h = established({ noDelay: true, congestionControl: () => new FixedWindowControl(2 * MSS) })
    h.connection.write(bytes(5 * MSS))
    expect(h.recv().map((s) => s.seq)).toEqual([seg(0), seg(1)])
    const probe = h.advanceToTimer()
    expect(probe.map((s) => [s.seq, s.retransmission])).toEqual([[seg(2), false]])
    expect(h.connection.stats.tailLossProbes).toBe(1)
  })

  it('sends no probe when nothing is outstanding', () => {
    const h = established()
    h.connection.write(bytes(4 * MSS))
    h.recv()
    h.send(peerAck(h, seg(4)))
    expect(h.recv()).toEqual([])
    expect(h.connection.pollAt()).toBeUndefined()
    expect(h.connection.stats.tailLossProbes).toBe(0)
  })

  it('sends no probe once data is SACKed (recovery is the scoreboard’s) and none when turned off', () => {
    const h = established()
    h.connection.write(bytes(4 * MSS))
    h.recv()
    h.send(peerAck(h, seg(0), { sack: [[seg(1), seg(2)]] }))
    expect(h.connection.pollAt()).toBe(h.now + h.connection.rtt.rto)
    const off = established({ tailLossProbe: false })
    off.connection.write(bytes(4 * MSS))
    off.recv()
    expect(off.connection.pollAt()).toBe(off.now + off.connection.rtt.rto)
  })

  it('still times out when the probe is lost too', () => {
    const h = established()
    h.connection.write(bytes(4 * MSS))
    h.recv()
    h.advanceToTimer() // the probe, lost
    const timeout = h.advanceToTimer()
    expect(h.connection.stats.retransmitTimeouts).toBe(1)
    expect(timeout[0]).toMatchObject({ seq: seg(0), retransmission: true })
    expect(h.connection.stats.tailLossProbes).toBe(1) // no second probe after the RTO
  })

  it('takes a fast-recovery reduction when the probe repaired a loss, none when a D-SACK says it was a duplicate', () => {
    const repaired = new FixedWindowControl()
    const h = established({ noDelay: true, congestionControl: () => repaired })
    h.connection.write(bytes(4 * MSS))
    h.recv()
    h.advanceToTimer() // probe: segment 3 again
    h.send(peerAck(h, seg(3), { sack: [[seg(3), seg(4)]] })) // segments 0-2 arrived, 3 was lost: the probe repaired it
    h.send(peerAck(h, seg(4)))
    h.connection.write(bytes(MSS))
    h.recv()
    h.send(peerAck(h, seg(5))) // beyond TLP.end_seq, no D-SACK: a loss
    expect(h.connection.stats.tailLossProbeRecoveries).toBe(1)
    expect(repaired.calls.filter((c) => c.startsWith('enter') || c.startsWith('exit'))).toHaveLength(2)

    const duplicate = new FixedWindowControl()
    const d = established({ noDelay: true, congestionControl: () => duplicate })
    d.connection.write(bytes(4 * MSS))
    d.recv()
    d.advanceToTimer()
    // Only the ACKs were lost: the receiver had everything and reports the probe as a duplicate.
    d.send(peerAck(d, seg(4), { sack: [[seg(3), seg(4)]] }))
    d.connection.write(bytes(MSS))
    d.recv()
    d.send(peerAck(d, seg(5)))
    expect(d.connection.stats.tailLossProbeRecoveries).toBe(0)
    expect(duplicate.calls.some((c) => c.startsWith('enter'))).toBe(false)
  })

  it('probes with the FIN when it is the last thing sent', () => {
    const h = established()
    h.connection.write(bytes(2 * MSS))
    h.connection.shutdown()
    const sent = h.recv()
    expect(sent.at(-1)!.flags & FIN).toBe(FIN)
    const [probe] = h.advanceToTimer()
    expect(probe).toMatchObject({ seq: seg(1), retransmission: true })
    expect(probe!.flags & FIN).toBe(FIN)
    expect(probe!.flags & ACK).toBe(ACK)
  })
})
