/**
 * Scenario tests of the scoreboard and RFC 6675 loss recovery, each run at several points of the sequence
 * space so that every scenario also crosses 2^32. SMSS is 1000 so that segment k is [1000k, 1000k + 1000).
 */
import { describe, expect, it } from 'vitest'
import { capturedFrames, capturedTcp } from './fixtures/captured-frames.js'
import { decodeSackOption } from './sack-option.js'
import { SackScoreboard } from './sack-scoreboard.js'

const MSS = 1000
const WINDOW = 1 << 20

// Bases: plain numbers; the flight crossing 0 (2^32 − 3500 + 3500 = 0); the flight crossing 2^31 (the sign of `| 0`).
describe.each([
  ['from 0', 0],
  ['across 2^32', 2 ** 32 - 3500],
  ['across 2^31', 2 ** 31 - 4500],
])('SackScoreboard %s', (_name, base) => {
  /** Sequence number `x` octets after the base. */
  const at = (x: number): number => (base + x) >>> 0
  const block = (left: number, right: number) => ({ left: at(left), right: at(right) })
  const segment = (seq: number, length: number, rescue = false) => ({ seq: at(seq), length, retransmission: true, rescue })
  const newData = (seq: number, length: number) => ({ seq: at(seq), length, retransmission: false, rescue: false })
  const scoreboard = (options: { dupThresh?: number; sndUna?: number } = {}) =>
    new SackScoreboard({ mss: MSS, sndUna: at(options.sndUna ?? 0), ...(options.dupThresh === undefined ? {} : { dupThresh: options.dupThresh }) })

  it('single loss: three SMSS SACKed above a hole make it lost (RFC 6675 §4 IsLost, §5 (4))', () => {
    const sb = scoreboard()
    const sndNxt = at(10_000)
    // Segment 0 is lost; 1, 2, 3 arrive and each duplicate ACK grows the block (RFC 2018 §4).
    expect(sb.onAck(at(0), [block(1000, 2000)], sndNxt)).toMatchObject({
      newlyAckedBytes: 0,
      newlySackedBytes: 1000,
      newlySackedSegments: 1,
      newlyLostBytes: 0,
      deliveredBytes: 1000,
      dsack: false,
      rejectedBlocks: 0,
      reneging: false,
    })
    expect(sb.isLost(at(0))).toBe(false)
    sb.onAck(at(0), [block(1000, 3000)], sndNxt)
    expect(sb.isLost(at(0))).toBe(false) // 2000 SACKed above: not more than (3 − 1) × SMSS
    expect(sb.onAck(at(0), [block(1000, 4000)], sndNxt)).toMatchObject({ newlySackedBytes: 1000, newlyLostBytes: 1000, newlyLostSegments: 1 })
    expect(sb.isLost(at(0))).toBe(true)
    expect(sb.isLost(at(999))).toBe(true)
    expect(sb.isLost(at(1000))).toBe(true) // as in the RFC, whether the octet itself is SACKed is not asked
    expect(sb.isLost(at(2500))).toBe(false) // 1499 SACKed octets above
    expect(sb.lostBytes).toBe(1000)
    expect(sb.sackedBytes).toBe(3000)
    expect(sb.highestSacked).toBe(at(4000))
    // Before recovery nothing is retransmitted: pipe is the unSACKed octets not lost, [4000, 10000).
    expect(sb.pipe(at(0), sndNxt)).toBe(6000)

    // §5 (4.1)–(4.3): RecoveryPoint = HighData, retransmit the first segment (NextSeg rule 1).
    sb.enterRecovery(sndNxt)
    expect(sb.nextSegment(at(0), sndNxt, sndNxt, WINDOW)).toEqual(segment(0, 1000))
    sb.markSent(at(0), 1000, true)
    expect(sb.highRxt).toBe(at(1000))
    expect(sb.rescueRxt).toBe(at(1000)) // (4.3): both set to the retransmitted segment's end
    // SetPipe: [0, 1000) is lost but retransmitted (b) → 1000, plus [4000, 10000) (a) → 7000.
    expect(sb.pipe(at(0), sndNxt)).toBe(7000)
    // Nothing else is lost; no new data; rule 3 finds no hole under the highest SACK; no rescue yet.
    expect(sb.nextSegment(at(0), sndNxt, sndNxt, WINDOW)).toBeUndefined()
    // With data queued, rule 2 sends it, bounded by SMSS, the data and the window.
    expect(sb.nextSegment(at(0), sndNxt, at(20_000), WINDOW)).toEqual(newData(10_000, 1000))
    expect(sb.nextSegment(at(0), sndNxt, at(10_300), WINDOW)).toEqual(newData(10_000, 300))
    expect(sb.nextSegment(at(0), sndNxt, at(20_000), 10_400)).toEqual(newData(10_000, 400))
    expect(sb.nextSegment(at(0), sndNxt, at(20_000), 10_000)).toBeUndefined()

    sb.onAck(at(0), [block(1000, 5000)], sndNxt)
    expect(sb.pipe(at(0), sndNxt)).toBe(6000)
    // The retransmission arrives: the cumulative ACK jumps over the SACKed data.
    const update = sb.onAck(at(5000), [], sndNxt)
    expect(update).toMatchObject({ newlyAckedBytes: 5000, newlySackedBytes: 0, deliveredBytes: 1000, recoveryEnded: false })
    expect(sb.sackedBytes).toBe(0)
    expect(sb.highRxt).toBeUndefined() // below SND.UNA now
    expect(sb.pipe(at(5000), sndNxt)).toBe(5000)
    // §5 (A): the ACK of RecoveryPoint ends recovery.
    expect(sb.onAck(at(10_000), [], sndNxt)).toMatchObject({ newlyAckedBytes: 5000, recoveryEnded: true })
    expect(sb.inRecovery).toBe(false)
    expect(sb.recoveryPoint).toBeUndefined()
  })

  it('multiple losses in one window: NextSeg retransmits the holes in order as they become lost', () => {
    const sb = scoreboard({ sndUna: 1000 })
    const sndNxt = at(10_000)
    // Segments 1, 3 and 5 are lost; the receiver reports the newest block first (RFC 2018 §4).
    sb.onAck(at(1000), [block(2000, 3000)], sndNxt)
    sb.onAck(at(1000), [block(4000, 5000), block(2000, 3000)], sndNxt)
    // Three discontiguous ranges above segment 1: lost by the first IsLost() condition.
    expect(sb.onAck(at(1000), [block(6000, 7000), block(4000, 5000), block(2000, 3000)], sndNxt)).toMatchObject({
      newlySackedBytes: 1000,
      newlyLostBytes: 1000,
      newlyLostSegments: 1,
    })
    expect(sb.isLost(at(1000))).toBe(true)
    expect(sb.isLost(at(3000))).toBe(false) // two ranges, 2000 octets above
    expect(sb.isLost(at(5000))).toBe(false)
    expect(sb.rangeCount).toBe(3)

    sb.enterRecovery(sndNxt)
    expect(sb.nextSegment(at(1000), sndNxt, sndNxt, WINDOW)).toEqual(segment(1000, 1000)) // rule 1
    sb.markSent(at(1000), 1000, true)
    // Rule 2 before rule 3: new data first while segment 3 is not yet lost.
    expect(sb.nextSegment(at(1000), sndNxt, at(12_000), WINDOW)).toEqual(newData(10_000, 1000))
    // Without new data, rule 3 offers the next hole even though IsLost() is false for it.
    expect(sb.nextSegment(at(1000), sndNxt, sndNxt, WINDOW)).toEqual(segment(3000, 1000))

    // Segment 7 arrives: 3000 octets above segment 3 now make it lost (second condition).
    expect(sb.onAck(at(1000), [block(6000, 8000), block(4000, 5000), block(2000, 3000)], sndNxt)).toMatchObject({
      newlyLostBytes: 1000,
      newlyLostSegments: 1,
    })
    expect(sb.nextSegment(at(1000), sndNxt, at(12_000), WINDOW)).toEqual(segment(3000, 1000)) // rule 1 beats rule 2
    sb.markSent(at(3000), 1000, true)
    expect(sb.onAck(at(1000), [block(6000, 9000), block(4000, 5000), block(2000, 3000)], sndNxt)).toMatchObject({ newlyLostBytes: 1000 })
    expect(sb.nextSegment(at(1000), sndNxt, sndNxt, WINDOW)).toEqual(segment(5000, 1000))
    sb.markSent(at(5000), 1000, true)
    expect(sb.highRxt).toBe(at(6000))
    expect(sb.rescueRxt).toBe(at(2000)) // set by the first retransmission only
    expect(sb.onAck(at(1000), [block(6000, 10_000), block(4000, 5000), block(2000, 3000)], sndNxt).newlyLostBytes).toBe(0)
    expect(sb.lostBytes).toBe(3000)
    // All three holes lost and retransmitted: pipe counts each once, by (b).
    expect(sb.pipe(at(1000), sndNxt)).toBe(3000)
    // Nothing left: rules 1 and 3 find nothing above HighRxt, and HighACK is not above RescueRxt.
    expect(sb.nextSegment(at(1000), sndNxt, sndNxt, WINDOW)).toBeUndefined()

    // The retransmissions arrive, one by one.
    expect(sb.onAck(at(3000), [block(6000, 10_000), block(4000, 5000)], sndNxt)).toMatchObject({
      newlyAckedBytes: 2000,
      deliveredBytes: 1000, // segment 1; segment 2 was SACKed before
      recoveryEnded: false,
    })
    expect(sb.pipe(at(3000), sndNxt)).toBe(2000)
    expect(sb.onAck(at(5000), [block(6000, 10_000)], sndNxt).deliveredBytes).toBe(1000)
    expect(sb.onAck(at(10_000), [], sndNxt)).toMatchObject({ newlyAckedBytes: 5000, deliveredBytes: 1000, recoveryEnded: true })
    expect(sb.pipe(at(10_000), sndNxt)).toBe(0)
  })

  it('pipe counts an octet retransmitted before it was lost twice (RFC 6675 §4 SetPipe note)', () => {
    const sb = scoreboard()
    const sndNxt = at(6000)
    sb.onAck(at(0), [block(1000, 2000), block(3000, 4000), block(5000, 6000)], sndNxt)
    expect(sb.isLost(at(0))).toBe(true)
    expect(sb.isLost(at(2000))).toBe(false)
    sb.enterRecovery(sndNxt)
    expect(sb.pipe(at(0), sndNxt)).toBe(2000) // [2000, 3000) and [4000, 5000)
    sb.markSent(at(0), 1000, true)
    expect(sb.pipe(at(0), sndNxt)).toBe(3000)
    expect(sb.nextSegment(at(0), sndNxt, sndNxt, WINDOW)).toEqual(segment(2000, 1000)) // rule 3
    sb.markSent(at(2000), 1000, true)
    expect(sb.pipe(at(0), sndNxt)).toBe(4000) // [2000, 3000) by (a) and by (b)
    expect(sb.nextSegment(at(0), sndNxt, sndNxt, WINDOW)).toEqual(segment(4000, 1000))
  })

  it('retransmits a hole smaller than SMSS only up to the next SACKed range, and a large hole SMSS at a time', () => {
    const sb = scoreboard()
    const sndNxt = at(12_000)
    sb.onAck(at(0), [block(400, 1000), block(3500, 12_000)], sndNxt)
    sb.enterRecovery(sndNxt)
    expect(sb.nextSegment(at(0), sndNxt, sndNxt, WINDOW)).toEqual(segment(0, 400))
    sb.markSent(at(0), 400, true)
    expect(sb.nextSegment(at(0), sndNxt, sndNxt, WINDOW)).toEqual(segment(1000, 1000))
    sb.markSent(at(1000), 1000, true)
    expect(sb.nextSegment(at(0), sndNxt, sndNxt, WINDOW)).toEqual(segment(2000, 1000))
    sb.markSent(at(2000), 1000, true)
    expect(sb.nextSegment(at(0), sndNxt, sndNxt, WINDOW)).toEqual(segment(3000, 500))
  })

  it('rescue retransmission: one segment ending at the highest unSACKed octet, once per recovery (RFC 6675 §4 rule 4)', () => {
    const sb = scoreboard()
    const sndNxt = at(10_000)
    // Segments 0 and 9 (the last) are lost, and the application has nothing more to send.
    sb.onAck(at(0), [block(1000, 9000)], sndNxt)
    expect(sb.isLost(at(0))).toBe(true)
    expect(sb.isLost(at(9000))).toBe(false) // nothing SACKed above the tail
    sb.enterRecovery(sndNxt)
    expect(sb.nextSegment(at(0), sndNxt, sndNxt, WINDOW)).toEqual(segment(0, 1000))
    sb.markSent(at(0), 1000, true)
    // HighACK (−1) is not above RescueRxt (999): no rescue yet.
    expect(sb.nextSegment(at(0), sndNxt, sndNxt, WINDOW)).toBeUndefined()
    expect(sb.onAck(at(9000), [], sndNxt)).toMatchObject({ newlyAckedBytes: 9000, deliveredBytes: 1000, recoveryEnded: false })
    // Now HighACK (8999) > RescueRxt (999): rescue the tail, which no rule found (nothing SACKed above it).
    expect(sb.nextSegment(at(9000), sndNxt, sndNxt, WINDOW)).toEqual(segment(9000, 1000, true))
    sb.markSent(at(9000), 1000, true, true)
    expect(sb.rescueRxt).toBe(sndNxt) // RescueRxt = RecoveryPoint
    expect(sb.highRxt).toBeUndefined() // rule 4: HighRxt MUST NOT be updated
    expect(sb.nextSegment(at(9000), sndNxt, sndNxt, WINDOW)).toBeUndefined() // once per recovery
    expect(sb.pipe(at(9000), sndNxt)).toBe(1000)
    expect(sb.onAck(at(10_000), [], sndNxt).recoveryEnded).toBe(true)
  })

  it('rescue: not while the cumulative ACK has only reached the end of the fast retransmit (HighACK = RescueRxt)', () => {
    const sb = scoreboard()
    const sndNxt = at(10_000)
    // Lost: segments 0, 1 and the last; SACKed [2000, 9000).
    sb.onAck(at(0), [block(2000, 9000)], sndNxt)
    sb.enterRecovery(sndNxt)
    expect(sb.nextSegment(at(0), sndNxt, sndNxt, WINDOW)).toEqual(segment(0, 1000))
    sb.markSent(at(0), 1000, true)
    expect(sb.nextSegment(at(0), sndNxt, sndNxt, WINDOW)).toEqual(segment(1000, 1000))
    sb.markSent(at(1000), 1000, true)
    // The fast retransmit arrives; segment 1's retransmission is still on its way.
    sb.onAck(at(1000), [block(2000, 9000)], sndNxt)
    expect(sb.rescueRxt).toBe(at(1000))
    expect(sb.nextSegment(at(1000), sndNxt, sndNxt, WINDOW)).toBeUndefined() // HighACK 999 is not > RescueRxt 999
    sb.onAck(at(9000), [], sndNxt)
    expect(sb.nextSegment(at(9000), sndNxt, sndNxt, WINDOW)).toEqual(segment(9000, 1000, true))
  })

  it('rescue: a short last segment, and a hole shorter than SMSS under the SND.NXT', () => {
    const sb = scoreboard()
    let sndNxt = at(9500)
    sb.onAck(at(0), [block(1000, 9000)], sndNxt)
    sb.enterRecovery(sndNxt)
    sb.markSent(at(0), 1000, true)
    sb.onAck(at(9000), [], sndNxt)
    expect(sb.nextSegment(at(9000), sndNxt, sndNxt, WINDOW)).toEqual(segment(9000, 500, true))

    const other = scoreboard()
    sndNxt = at(10_000)
    other.onAck(at(0), [block(1000, 9700)], sndNxt)
    other.enterRecovery(sndNxt)
    other.markSent(at(0), 1000, true)
    // The retransmission arrives: the cumulative ACK jumps to the 300-octet tail hole.
    expect(other.onAck(at(9700), [], sndNxt).newlyAckedBytes).toBe(9700)
    expect(other.nextSegment(at(9700), sndNxt, sndNxt, WINDOW)).toEqual(segment(9700, 300, true))
  })

  it('rescue: when a SACKed range ends at SND.NXT, the segment ends just below it, within its hole', () => {
    const sb = scoreboard()
    const sndNxt = at(10_000)
    // Lost: [0, 1000) and [8500, 9000); SACKed [1000, 8500) and [9000, 10000).
    sb.onAck(at(0), [block(9000, 10_000), block(1000, 8500)], sndNxt)
    sb.enterRecovery(sndNxt)
    expect(sb.nextSegment(at(0), sndNxt, sndNxt, WINDOW)).toEqual(segment(0, 1000))
    sb.markSent(at(0), 1000, true)
    // [8500, 9000) has one range of 1000 octets above it: not lost; rule 3 offers it.
    expect(sb.nextSegment(at(0), sndNxt, sndNxt, WINDOW)).toEqual(segment(8500, 500))
    sb.markSent(at(8500), 500, true)
    sb.onAck(at(8500), [block(9000, 10_000)], sndNxt)
    // HighACK (8499) > RescueRxt (999): the highest unSACKed octet is 8999, its hole starts at 8500.
    expect(sb.nextSegment(at(8500), sndNxt, sndNxt, WINDOW)).toEqual(segment(8500, 500, true))
  })

  it('outside recovery only rules 1 and 2 apply', () => {
    const sb = scoreboard()
    const sndNxt = at(6000)
    sb.onAck(at(0), [block(1000, 2000)], sndNxt)
    expect(sb.nextSegment(at(0), sndNxt, sndNxt, WINDOW)).toBeUndefined() // not lost: no rule 3 outside recovery
    expect(sb.nextSegment(at(0), sndNxt, at(7000), WINDOW)).toEqual(newData(6000, 1000)) // limited transmit
    sb.onAck(at(0), [block(1000, 4000)], sndNxt)
    expect(sb.nextSegment(at(0), sndNxt, at(7000), WINDOW)).toEqual(segment(0, 1000)) // lost: rule 1
  })

  it('tolerates reneging: SACKed data stays marked until an RTO, then is retransmitted (RFC 2018 §8, RFC 6675 §5.1)', () => {
    const sb = scoreboard()
    const sndNxt = at(6000)
    sb.onAck(at(0), [block(1000, 2000)], sndNxt)
    sb.onAck(at(0), [block(3000, 6000), block(1000, 2000)], sndNxt)
    expect(sb.isLost(at(0))).toBe(true)
    expect(sb.isLost(at(2000))).toBe(true) // 3000 octets SACKed above
    sb.enterRecovery(sndNxt)
    sb.markSent(at(0), 1000, true)
    sb.markSent(at(2000), 1000, true)

    // The receiver discards [1000, 2000) and stops reporting it; the ACK stops at its left edge.
    const update = sb.onAck(at(1000), [block(3000, 6000)], sndNxt)
    expect(update).toMatchObject({ newlyAckedBytes: 1000, reneging: true })
    // Still marked: no rule offers [1000, 2000), and it is not counted in flight.
    expect(sb.isSacked(at(1500))).toBe(true)
    expect(sb.sackedBytes).toBe(4000)
    expect(sb.nextSegment(at(1000), sndNxt, sndNxt, WINDOW)).toBeUndefined()
    expect(sb.onAck(at(1000), [block(3000, 6000)], sndNxt).reneging).toBe(true)

    // RTO: forget every SACK and retransmission mark; recovery ends (RFC 6675 §5.1).
    sb.clearSacked()
    expect(sb).toMatchObject({ sackedBytes: 0, lostBytes: 0, rangeCount: 0, inRecovery: false, highRxt: undefined, rescueRxt: undefined })
    expect(sb.highestSacked).toBeUndefined()
    expect(sb.isSacked(at(1500))).toBe(false)
    expect(sb.isLost(at(1000))).toBe(false)
    expect(sb.pipe(at(1000), sndNxt)).toBe(5000)

    // SACK information after the RTO is used again: the reneged data is now a lost hole and goes out.
    expect(sb.onAck(at(1000), [block(3000, 6000)], sndNxt)).toMatchObject({ newlySackedBytes: 3000, newlyLostBytes: 2000, newlyLostSegments: 2, reneging: false })
    expect(sb.nextSegment(at(1000), sndNxt, sndNxt, WINDOW)).toEqual(segment(1000, 1000))
    sb.markSent(at(1000), 1000, true)
    expect(sb.nextSegment(at(1000), sndNxt, sndNxt, WINDOW)).toEqual(segment(2000, 1000))
    sb.markSent(at(2000), 1000, true)
    expect(sb.nextSegment(at(1000), sndNxt, sndNxt, WINDOW)).toBeUndefined()
    expect(sb.onAck(at(6000), [], sndNxt)).toMatchObject({ newlyAckedBytes: 5000, deliveredBytes: 2000 })
  })

  it('recognizes a D-SACK against the ACK of the same segment and marks nothing new with it (RFC 2883 §5)', () => {
    const sb = scoreboard({ sndUna: 3000 })
    // §4 example 1: ACK 4000 with D-SACK 3000-3500.
    expect(sb.onAck(at(4000), [block(3000, 3500)], at(4000))).toMatchObject({ newlyAckedBytes: 1000, dsack: true, newlySackedBytes: 0, rejectedBlocks: 0 })
    // §4 example 3: ACK 4000, D-SACK 5000-5500 inside the second block 4500-5500.
    const blocks = [block(5000, 5500), block(4500, 5500)]
    const update = sb.onAck(at(4000), blocks, at(5500))
    expect(update).toMatchObject({ dsack: true, newlySackedBytes: 1000, newlySackedSegments: 1 })
    expect(update.dsackBlock).toBe(blocks[0])
    expect(sb.sackedRanges()).toEqual([block(4500, 5500)])
    // An ordinary SACK is not a D-SACK.
    expect(sb.onAck(at(4000), [block(4500, 5500)], at(5500)).dsack).toBe(false)
  })

  it('rejects bad blocks, ignores an ACK of unsent data, and uses a reordered ACK’s blocks without moving back', () => {
    const sb = scoreboard()
    const sndNxt = at(5000)
    expect(sb.onAck(at(0), [block(1000, 2000), block(4000, 5500), block(3000, 3000), block(3500, 3200)], sndNxt)).toMatchObject({
      newlySackedBytes: 1000,
      rejectedBlocks: 3,
    })
    expect(sb.sackedRanges()).toEqual([block(1000, 2000)])
    // RFC 9293 §3.10.7.4: an ACK of something not yet sent changes nothing.
    expect(sb.onAck(at(5001), [block(2000, 3000)], sndNxt)).toMatchObject({ newlyAckedBytes: 0, newlySackedBytes: 0, rejectedBlocks: 1 })
    expect(sb.sndUna).toBe(at(0))
    expect(sb.sackedBytes).toBe(1000)
    // ACK 2000, then an older ACK (1000) arriving late with a block: SND.UNA stays, the block is used.
    sb.onAck(at(2000), [], sndNxt)
    expect(sb.onAck(at(1000), [block(3000, 4000)], sndNxt)).toMatchObject({ newlyAckedBytes: 0, newlySackedBytes: 1000, dsack: false })
    expect(sb.sndUna).toBe(at(2000))
    expect(sb.sackedRanges()).toEqual([block(3000, 4000)])
  })

  it('counts newly SACKed segments per block, rounded up, and only octets not SACKed before', () => {
    const sb = scoreboard()
    const sndNxt = at(10_000)
    expect(sb.onAck(at(0), [block(1000, 2500), block(3000, 3500), block(4000, 4500)], sndNxt)).toMatchObject({
      newlySackedBytes: 2500,
      newlySackedSegments: 4, // 2 + 1 + 1
    })
    // Overlaps: only [2500, 3000) and [3500, 3600) are new, both in one block.
    expect(sb.onAck(at(0), [block(2000, 3600)], sndNxt)).toMatchObject({ newlySackedBytes: 600, newlySackedSegments: 1 })
    expect(sb.sackedRanges()).toEqual([block(1000, 3600), block(4000, 4500)])
    // A block partly under the cumulative ACK counts only what lies above it. As the first block it is a
    // D-SACK (RFC 2883 §5), and still the receiver holds what it covers above the ACK.
    expect(sb.onAck(at(5000), [block(4800, 6000)], sndNxt)).toMatchObject({
      newlyAckedBytes: 5000,
      newlySackedBytes: 1000,
      deliveredBytes: 5000 - 3100 + 1000,
      dsack: true,
    })
    expect(sb.onAck(at(5000), [block(7000, 7500), block(4900, 6500)], sndNxt)).toMatchObject({ newlySackedBytes: 1000, newlySackedSegments: 2, dsack: false })
  })

  it('counts newly lost segments per hole, rounded up', () => {
    const sb = scoreboard()
    const sndNxt = at(10_000)
    expect(sb.onAck(at(0), [block(2500, 3000), block(1500, 2000)], sndNxt).newlyLostBytes).toBe(0)
    // Two more ranges make both lower holes lost at once: [0, 1500) is 2 segments, [2000, 2500) 1.
    expect(sb.onAck(at(0), [block(4500, 5000), block(3500, 4000)], sndNxt)).toMatchObject({ newlyLostBytes: 2000, newlyLostSegments: 3 })
    expect(sb.lostBytes).toBe(2000)
    expect(sb.isLost(at(3000))).toBe(false) // two ranges, 1000 octets above
  })

  it('takes DupThresh from the options', () => {
    const sb = new SackScoreboard({ mss: MSS, dupThresh: 1, sndUna: at(0) })
    expect(sb.onAck(at(0), [block(1000, 1001)], at(2000)).newlyLostBytes).toBe(1000)
    const patient = new SackScoreboard({ mss: MSS, dupThresh: 5, sndUna: at(0) })
    patient.onAck(at(0), [block(1000, 2000), block(2500, 3000), block(3500, 4000), block(4500, 5000)], at(6000))
    expect(patient.isLost(at(0))).toBe(false) // 4 ranges, 2500 octets: neither 5 ranges nor > 4000
    patient.onAck(at(0), [block(5500, 6000)], at(6000))
    expect(patient.isLost(at(0))).toBe(true)
  })

  it('learns SND.UNA from the first ACK when not configured', () => {
    const sb = new SackScoreboard({ mss: MSS })
    expect(sb.sndUna).toBeUndefined()
    expect(sb.pipe(at(100), at(3000))).toBe(2900)
    expect(sb.lostBytes).toBe(0)
    expect(sb.nextSegment(at(100), at(3000), at(5000), WINDOW)).toEqual(newData(3000, 1000))
    expect(sb.onAck(at(100), [block(1100, 2100)], at(3000))).toMatchObject({ newlyAckedBytes: 0, newlySackedBytes: 1000 })
    expect(sb.sndUna).toBe(at(100))
  })

  it('forgets retransmission marks when recovery starts again or ends', () => {
    const sb = scoreboard()
    sb.onAck(at(0), [block(1000, 4000)], at(5000))
    sb.enterRecovery(at(5000))
    sb.markSent(at(0), 1000, true)
    expect(sb.recoveryPoint).toBe(at(5000))
    sb.exitRecovery()
    expect(sb).toMatchObject({ inRecovery: false, highRxt: undefined, rescueRxt: undefined, recoveryPoint: undefined })
    expect(sb.sackedBytes).toBe(3000) // RFC 6675 §5 (A): SACK information is kept
    sb.markSent(at(0), 1000, true) // a retransmission outside recovery still raises HighRxt, not RescueRxt
    expect(sb.highRxt).toBe(at(1000))
    expect(sb.rescueRxt).toBeUndefined()
    sb.markSent(at(4000), 500, false) // new data: nothing to record
    sb.markSent(at(4500), 0, true)
    expect(sb.highRxt).toBe(at(1000))
    sb.enterRecovery(at(5000))
    expect(sb.highRxt).toBeUndefined()
  })
})

describe('SackScoreboard on a captured Linux exchange', () => {
  it('reads the SACK and then the D-SACK that the receiver sent', () => {
    const sackAck = capturedTcp(capturedFrames.sackAck)
    const dsackAck = capturedTcp(capturedFrames.dsackAck)
    const first = capturedTcp(capturedFrames.firstSegment)
    const third = capturedTcp(capturedFrames.thirdSegment)
    const sndNxt = (third.seq + third.payloadLength) >>> 0 // 1425594894
    const sb = new SackScoreboard({ mss: 1460, sndUna: first.seq })
    expect(sb.onAck(sackAck.ack, [], sndNxt).newlyAckedBytes).toBe(19) // the first segment's ACK
    const sack = decodeSackOption(sackAck.options, sackAck.sackAt)
    if (!Array.isArray(sack)) throw new Error(String(sack))
    expect(sb.onAck(sackAck.ack, sack, sndNxt)).toMatchObject({ newlySackedBytes: 19, newlySackedSegments: 1, dsack: false })
    expect(sb.onAck(1425594894, [], sndNxt)).toMatchObject({ newlyAckedBytes: 39, deliveredBytes: 20 })
    const dsack = decodeSackOption(dsackAck.options, dsackAck.sackAt)
    if (!Array.isArray(dsack)) throw new Error(String(dsack))
    expect(sb.onAck(dsackAck.ack, dsack, sndNxt)).toMatchObject({ dsack: true, newlyAckedBytes: 0, newlySackedBytes: 0, deliveredBytes: 0 })
  })
})

describe('SackScoreboard configuration', () => {
  it.each([
    [{ mss: 0 }, /^mss must be an integer in \[1, 65535\], got 0$/],
    [{ mss: 1.5 }, /^mss must be an integer in \[1, 65535\]/],
    [{ mss: 65_536 }, /^mss must be an integer in \[1, 65535\]/],
    [{ mss: 1000, dupThresh: 0 }, /^dupThresh must be an integer in \[1, 1024\], got 0$/],
    [{ mss: 1000, dupThresh: 2.5 }, /^dupThresh must be an integer in \[1, 1024\]/],
    [{ mss: 1000, sndUna: -1 }, /^sndUna must be an integer in \[0, 4294967295\]/],
  ])('throws ERR_INVALID_CONFIG for %o', (options, message) => {
    expect(() => new SackScoreboard(options)).toThrowError(expect.objectContaining({ name: 'SackUsageError', code: 'ERR_INVALID_CONFIG', message: expect.stringMatching(message) }))
  })

  it('throws ERR_INVALID_ARG for arguments out of range', () => {
    const sb = new SackScoreboard({ mss: 1000 })
    expect(() => sb.onAck(-1, [], 0)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringMatching(/^ack must be a sequence number/) }))
    expect(() => sb.nextSegment(0, 0, 0, -1)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG', message: expect.stringMatching(/^window must be an integer in \[0, 2147483647\]/) }))
    expect(() => sb.markSent(0, -5, true)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
    expect(() => sb.enterRecovery(2 ** 32)).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
  })
})
