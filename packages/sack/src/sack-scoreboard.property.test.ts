/**
 * The scoreboard against a byte-set model of RFC 6675 written octet by octet, straight from the RFC's
 * definitions: random ACKs with random (often invalid) blocks, sends, recoveries and RTOs, with the
 * sequence space starting at 0, just below 2^31 and just below 2^32 so that runs cross both boundaries.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { SackBlock } from './sack-block.js'
import { type NextSegment, SackScoreboard } from './sack-scoreboard.js'

// A fixed number of generated cases: fast on an idle machine, several times slower on a loaded 2-core one,
// so this test sets its own time budget instead of vitest's 5 s default.
const PROPERTY_BUDGET = { timeout: 60_000 }

/** The RFC, octet by octet, on small integers (offsets from the base). */
class ByteModel {
  una = 0
  nxt: number
  readonly sacked = new Set<number>()
  inRecovery = false
  recoveryPoint: number | undefined
  highRxt: number | undefined
  rescueRxt: number | undefined

  constructor(
    readonly mss: number,
    readonly dupThresh: number,
    flight: number,
  ) {
    this.nxt = flight
  }

  /** Maximal runs [left, right) of SACKed octets, ascending. */
  runs(): Array<[number, number]> {
    const runs: Array<[number, number]> = []
    for (const x of [...this.sacked].sort((a, b) => a - b)) {
      const last = runs[runs.length - 1]
      if (last !== undefined && last[1] === x) last[1] = x + 1
      else runs.push([x, x + 1])
    }
    return runs
  }

  /** RFC 6675 §4 IsLost(x): DupThresh discontiguous SACKed runs above x, or more than (DupThresh − 1)·SMSS octets. */
  isLost(x: number, sackedRuns = this.runs()): boolean {
    let runs = 0
    let bytes = 0
    for (const [left, right] of sackedRuns) {
      if (right - 1 > x) {
        runs++
        bytes += right - Math.max(left, x + 1)
      }
    }
    return runs >= this.dupThresh || bytes > (this.dupThresh - 1) * this.mss
  }

  /** UnSACKed octets in [una, nxt) that IsLost() declares lost. */
  lostSet(): Set<number> {
    const runs = this.runs()
    const lost = new Set<number>()
    for (let x = this.una; x < this.nxt; x++) if (!this.sacked.has(x) && this.isLost(x, runs)) lost.add(x)
    return lost
  }

  /** RFC 6675 §4 SetPipe(). */
  pipe(): number {
    const runs = this.runs()
    let pipe = 0
    for (let x = this.una; x < this.nxt; x++) {
      if (this.sacked.has(x)) continue
      if (!this.isLost(x, runs)) pipe++ // (a)
      if (this.highRxt !== undefined && x < this.highRxt) pipe++ // (b): S1 ≤ HighRxt
    }
    return pipe
  }

  /** RFC 2018 §3 checks plus "not beyond SND.NXT" (small offsets are never too old). */
  blockValid(block: [number, number] | undefined): boolean {
    return block !== undefined && block[0] < block[1] && block[1] <= this.nxt
  }

  onAck(ack: number, blocks: Array<[number, number]>) {
    const update = {
      newlyAckedBytes: 0,
      newlySackedBytes: 0,
      newlySackedSegments: 0,
      newlyLostBytes: 0,
      newlyLostSegments: 0,
      deliveredBytes: 0,
      dsack: false,
      rejectedBlocks: 0,
      reneging: false,
      recoveryEnded: false,
    }
    if (ack > this.nxt) {
      update.rejectedBlocks = blocks.length
      return update
    }
    const lostBefore = this.lostSet()
    let removed = 0
    if (ack > this.una) {
      update.newlyAckedBytes = ack - this.una
      this.una = ack
      for (const x of this.sacked) {
        if (x < ack) {
          this.sacked.delete(x)
          removed++
        }
      }
      if (this.highRxt !== undefined && this.highRxt <= ack) this.highRxt = undefined
    }
    const [first, second] = blocks
    // RFC 2883 §5: compared with this segment's ACK.
    update.dsack = this.blockValid(first) && (first![0] < ack || (this.blockValid(second) && first![0] >= second![0] && first![1] <= second![1]))
    const order = update.dsack ? [...blocks.slice(1), first!] : blocks
    update.rejectedBlocks = blocks.filter((block) => !this.blockValid(block)).length
    for (const block of order) {
      if (!this.blockValid(block)) continue
      let added = 0
      for (let x = Math.max(block[0], this.una); x < block[1]; x++) {
        if (!this.sacked.has(x)) {
          this.sacked.add(x)
          added++
        }
      }
      update.newlySackedBytes += added
      update.newlySackedSegments += Math.ceil(added / this.mss)
    }
    update.deliveredBytes = update.newlyAckedBytes - removed + update.newlySackedBytes
    const newlyLost = [...this.lostSet()].filter((x) => !lostBefore.has(x)).sort((a, b) => a - b)
    update.newlyLostBytes = newlyLost.length
    let run = 0
    for (let i = 0; i < newlyLost.length; i++) {
      run++
      if (i + 1 === newlyLost.length || newlyLost[i + 1] !== newlyLost[i]! + 1) {
        update.newlyLostSegments += Math.ceil(run / this.mss)
        run = 0
      }
    }
    update.reneging = this.sacked.size > 0 && Math.min(...this.sacked) === this.una
    if (this.inRecovery && this.una >= this.recoveryPoint!) {
      this.exitRecovery()
      update.recoveryEnded = true
    }
    return update
  }

  /** RFC 6675 §4 NextSeg(), literally: the smallest octet meeting each rule's criteria. */
  nextSegment(dataEnd: number, window: number): NextSegment | undefined {
    const start = Math.max(this.highRxt ?? this.una, this.una)
    const runs = this.runs()
    const highest = runs.length === 0 ? -Infinity : runs[runs.length - 1]![1] - 1
    const sackedAbove = (x: number) => x < highest // (1.b): below the highest octet covered by any SACK
    const holeLength = (x: number) => {
      let length = 0
      while (length < this.mss && x + length < this.nxt && !this.sacked.has(x + length)) length++
      return length
    }
    for (let x = start; x < this.nxt; x++) {
      if (!this.sacked.has(x) && sackedAbove(x) && this.isLost(x, runs)) return { seq: x, length: holeLength(x), retransmission: true, rescue: false }
    }
    const windowEnd = this.una + window
    if (this.nxt < dataEnd && this.nxt < windowEnd) {
      return { seq: this.nxt, length: Math.min(this.mss, dataEnd - this.nxt, windowEnd - this.nxt), retransmission: false, rescue: false }
    }
    if (!this.inRecovery) return undefined
    for (let x = start; x < this.nxt; x++) {
      if (!this.sacked.has(x) && sackedAbove(x)) return { seq: x, length: holeLength(x), retransmission: true, rescue: false }
    }
    // Rule 4: HighACK (una − 1) > RescueRxt (rescueRxt − 1).
    if (this.rescueRxt !== undefined && !(this.una > this.rescueRxt)) return undefined
    let top = this.nxt - 1 // the highest outstanding unSACKed octet
    while (top >= this.una && this.sacked.has(top)) top--
    if (top < this.una) return undefined
    let seq = top
    while (seq - 1 >= this.una && !this.sacked.has(seq - 1) && top + 1 - (seq - 1) <= this.mss) seq--
    return { seq, length: top + 1 - seq, retransmission: true, rescue: true }
  }

  markSent(segment: NextSegment): void {
    if (!segment.retransmission) {
      this.nxt = Math.max(this.nxt, segment.seq + segment.length)
      return
    }
    if (segment.rescue) {
      if (this.inRecovery) this.rescueRxt = this.recoveryPoint
      return
    }
    const end = segment.seq + segment.length
    this.highRxt = Math.max(this.highRxt ?? end, end)
    if (this.inRecovery && this.rescueRxt === undefined) this.rescueRxt = end
  }

  enterRecovery(): void {
    this.inRecovery = true
    this.recoveryPoint = this.nxt
    this.highRxt = undefined
    this.rescueRxt = undefined
  }

  exitRecovery(): void {
    this.inRecovery = false
    this.recoveryPoint = undefined
    this.highRxt = undefined
    this.rescueRxt = undefined
  }

  clearSacked(): void {
    this.sacked.clear()
    this.exitRecovery()
  }
}

const fraction = fc.nat({ max: 1000 })
const step = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('ack' as const),
      advance: fc.boolean(),
      ackFraction: fraction,
      ackJitter: fc.integer({ min: -3, max: 3 }),
      blocks: fc.array(fc.record({ leftFraction: fraction, length: fc.integer({ min: -3, max: 80 }) }), { maxLength: 4 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({
      kind: fc.constant('send' as const),
      extraData: fc.oneof(fc.constant(0), fc.nat({ max: 100 })), // often nothing new: rules 3 and 4
      window: fc.nat({ max: 400 }),
    }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('enter' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('exit' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rto' as const) }) },
)

describe.each([
  ['from 0', 0],
  ['across 2^31', 2 ** 31 - 150],
  ['across 2^32', 2 ** 32 - 150],
])('SackScoreboard against a byte-set model %s', (_name, base) => {
  const abs = (x: number) => (base + x) >>> 0
  const rel = (seq: number | undefined) => (seq === undefined ? undefined : (seq - base) | 0)

  it('agrees on every update, the SACKed set, IsLost, lost bytes, pipe and NextSeg', PROPERTY_BUDGET, () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.nat({ max: 300 }),
        fc.array(step, { minLength: 1, maxLength: 30 }),
        (mss, dupThresh, flight, steps) => {
          const model = new ByteModel(mss, dupThresh, flight)
          const scoreboard = new SackScoreboard({ mss, dupThresh, sndUna: abs(0) })
          for (const s of steps) {
            if (s.kind === 'ack') {
              const outstanding = model.nxt - model.una
              const ack = s.advance ? model.una + Math.round((s.ackFraction / 1000) * outstanding) + s.ackJitter : model.una
              const span = outstanding + 16
              const blocks = s.blocks.map(({ leftFraction, length }): [number, number] => {
                const left = model.una - 8 + Math.round((leftFraction / 1000) * span)
                return [left, left + length]
              })
              const wire: SackBlock[] = blocks.map(([left, right]) => ({ left: abs(left), right: abs(right) }))
              const expected = model.onAck(ack, blocks)
              const actual = scoreboard.onAck(abs(ack), wire, abs(model.nxt))
              expect({ ...actual, dsackBlock: undefined }).toEqual({ ...expected, dsackBlock: undefined })
              expect(actual.dsackBlock).toBe(expected.dsack ? wire[0] : undefined)
            } else if (s.kind === 'send') {
              const dataEnd = model.nxt + s.extraData
              const expected = model.nextSegment(dataEnd, s.window)
              const actual = scoreboard.nextSegment(abs(model.una), abs(model.nxt), abs(dataEnd), s.window)
              expect(actual && { ...actual, seq: rel(actual.seq) }).toEqual(expected)
              if (expected !== undefined) {
                scoreboard.markSent(abs(expected.seq), expected.length, expected.retransmission, expected.rescue)
                model.markSent(expected)
              }
            } else if (s.kind === 'enter') {
              if (!model.inRecovery) {
                model.enterRecovery()
                scoreboard.enterRecovery(abs(model.nxt))
              }
            } else if (s.kind === 'exit') {
              model.exitRecovery()
              scoreboard.exitRecovery()
            } else {
              model.clearSacked()
              scoreboard.clearSacked()
            }
            check(model, scoreboard)
          }
        },
      ),
      { numRuns: 250 },
    )

    function check(model: ByteModel, scoreboard: SackScoreboard): void {
      const runs = model.runs()
      expect(scoreboard.sackedBytes).toBe(model.sacked.size)
      expect(scoreboard.rangeCount).toBe(runs.length)
      expect(scoreboard.sackedRanges().map(({ left, right }) => [rel(left), rel(right)])).toEqual(runs)
      expect(rel(scoreboard.highestSacked)).toBe(runs.length === 0 ? undefined : runs[runs.length - 1]![1])
      expect(rel(scoreboard.sndUna)).toBe(model.una)
      expect(scoreboard.inRecovery).toBe(model.inRecovery)
      expect(rel(scoreboard.recoveryPoint)).toBe(model.recoveryPoint)
      expect(rel(scoreboard.highRxt)).toBe(model.highRxt)
      expect(rel(scoreboard.rescueRxt)).toBe(model.rescueRxt)
      for (let x = model.una - 3; x < model.nxt + 3; x++) {
        expect(scoreboard.isSacked(abs(x))).toBe(model.sacked.has(x))
        expect(scoreboard.isLost(abs(x))).toBe(model.isLost(x, runs))
      }
      expect(scoreboard.lostBytes).toBe(model.lostSet().size)
      expect(scoreboard.pipe(abs(model.una), abs(model.nxt))).toBe(model.pipe())
    }
  })
})
