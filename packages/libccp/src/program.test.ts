import { describe, expect, it } from 'vitest'
import { createMeasurements, type Measurements } from './measurements.js'
import { Program, ProgramStatus, TIME_ZERO_SLOT } from './program.js'
import { control, def, imm, implicit, instruction, local, nonVolatileReport, primitive, program, report, tmp, volatileControl } from './test-support/programs.js'
import { fromHex, loadPrograms } from './test-support/session-replay.js'
import { decodeMessage, Implicit, type InstallExprMessage, Opcode, Primitive, RegType, U32_MAX, U64_LIMIT } from './wire.js'

const NOW = 5_000_000
const ACK_NOW = 123_456
const setFlag = instruction(Opcode.Bind, implicit(Implicit.EventFlag), implicit(Implicit.EventFlag), imm(1))
const fallthrough = instruction(Opcode.Bind, implicit(Implicit.ShouldContinue), implicit(Implicit.ShouldContinue), imm(1))
const doReport = instruction(Opcode.Bind, implicit(Implicit.ShouldReport), implicit(Implicit.ShouldReport), imm(1))

/** Run `message` both interpreted and compiled from the same start; assert they agree; return the result. */
function runBoth(message: InstallExprMessage, setup: (r: Float64Array, p: Program) => void = () => {}, m: Measurements = createMeasurements()) {
  const outcomes = [true, false].map((compile) => {
    const p = new Program(message, { compile })
    expect(p.compiled).toBe(compile)
    const r = new Float64Array(p.registerCount)
    setup(r, p)
    const status = p.run(r, m, NOW, ACK_NOW)
    return { status, registers: Array.from(r), program: p }
  })
  expect(outcomes[0]!.status).toBe(outcomes[1]!.status)
  expect(outcomes[0]!.registers).toEqual(outcomes[1]!.registers)
  return { status: outcomes[0]!.status, r: outcomes[0]!.registers, p: outcomes[0]!.program }
}

/** control(2) := opcode(control(0) = a, control(1) = b), control(2) starting at `old`. */
function exec(opcode: Opcode, a: number, b: number, old = 0): { status: number; value: number } {
  const message = program(1, [], [{ when: [setFlag], then: [instruction(opcode, control(2), control(0), control(1))] }])
  const { status, r, p } = runBoth(message, (registers, layout) => {
    registers[layout.controlBase] = a
    registers[layout.controlBase + 1] = b
    registers[layout.controlBase + 2] = old
  })
  return { status, value: r[p.controlBase + 2]! }
}

describe('opcodes (interpreted and compiled agree on each)', () => {
  it('ADD adds, and past 2^64 − 1 is an overflow that leaves the result alone', () => {
    expect(exec(Opcode.Add, 2, 3)).toEqual({ status: ProgramStatus.Ok, value: 5 })
    expect(exec(Opcode.Add, 2 ** 53, 2 ** 53)).toEqual({ status: ProgramStatus.Ok, value: 2 ** 54 })
    expect(exec(Opcode.Add, 2 ** 63, 2 ** 63, 77)).toEqual({ status: ProgramStatus.AddOverflow, value: 77 })
    expect(exec(Opcode.Add, U64_LIMIT, 1, 77)).toEqual({ status: ProgramStatus.AddOverflow, value: 77 })
    // The u64 maximum (2^64 in a double) plus 0 is not an overflow.
    expect(exec(Opcode.Add, U64_LIMIT, 0)).toEqual({ status: ProgramStatus.Ok, value: U64_LIMIT })
  })

  it('BIND copies the right operand', () => {
    expect(exec(Opcode.Bind, 9, 41, 3)).toEqual({ status: ProgramStatus.Ok, value: 41 })
  })

  it('DEF does nothing when run', () => {
    expect(exec(Opcode.Def, 9, 41, 3)).toEqual({ status: ProgramStatus.Ok, value: 3 })
  })

  it('DIV floors, and dividing by 0 is an error', () => {
    expect(exec(Opcode.Div, 7, 2)).toEqual({ status: ProgramStatus.Ok, value: 3 })
    expect(exec(Opcode.Div, 2 ** 53 - 1, 3)).toEqual({ status: ProgramStatus.Ok, value: 3002399751580330 })
    expect(exec(Opcode.Div, 7, 0, 5)).toEqual({ status: ProgramStatus.DivideByZero, value: 5 })
  })

  it('EQUIV, GT and LT give 1 or 0', () => {
    expect(exec(Opcode.Equiv, 4, 4).value).toBe(1)
    expect(exec(Opcode.Equiv, 4, 5).value).toBe(0)
    expect(exec(Opcode.Gt, 5, 4).value).toBe(1)
    expect(exec(Opcode.Gt, 4, 4).value).toBe(0)
    expect(exec(Opcode.Lt, 4, 5).value).toBe(1)
    expect(exec(Opcode.Lt, 5, 5).value).toBe(0)
  })

  it('EWMA weighs the old value by left/10, starts from the new value, and rejects weights above 10', () => {
    // (a·old + (10 − a)·new) / 10 with a = 2, old = 100, new = 200: (200 + 1600) / 10.
    expect(exec(Opcode.Ewma, 2, 200, 100)).toEqual({ status: ProgramStatus.Ok, value: 180 })
    expect(exec(Opcode.Ewma, 8, 15, 10)).toEqual({ status: ProgramStatus.Ok, value: 11 }) // ⌊(80 + 30)/10⌋
    expect(exec(Opcode.Ewma, 10, 999, 50)).toEqual({ status: ProgramStatus.Ok, value: 50 })
    expect(exec(Opcode.Ewma, 0, 999, 50)).toEqual({ status: ProgramStatus.Ok, value: 999 })
    expect(exec(Opcode.Ewma, 7, 1234, 0)).toEqual({ status: ProgramStatus.Ok, value: 1234 }) // old = 0 → new
    expect(exec(Opcode.Ewma, 11, 5, 100)).toEqual({ status: ProgramStatus.EwmaWeight, value: 100 })
    expect(exec(Opcode.Ewma, 5, 2 ** 63, 2 ** 63)).toEqual({ status: ProgramStatus.EwmaOverflow, value: 2 ** 63 })
  })

  it('IF and NOTIF copy the right operand only when the left is non-zero / zero', () => {
    expect(exec(Opcode.If, 1, 42, 7).value).toBe(42)
    expect(exec(Opcode.If, 0, 42, 7).value).toBe(7)
    expect(exec(Opcode.NotIf, 0, 42, 7).value).toBe(42)
    expect(exec(Opcode.NotIf, 3, 42, 7).value).toBe(7)
  })

  it('MAX and MIN', () => {
    expect(exec(Opcode.Max, 3, 9).value).toBe(9)
    expect(exec(Opcode.Max, 2 ** 60, 9).value).toBe(2 ** 60)
    expect(exec(Opcode.Min, 3, 9).value).toBe(3)
    expect(exec(Opcode.Min, 2 ** 60, 9).value).toBe(9)
  })

  it('MAXWRAP takes the later value under u32 wraparound, and 0 as unset', () => {
    expect(exec(Opcode.MaxWrap, 10, 20).value).toBe(20)
    expect(exec(Opcode.MaxWrap, 20, 10).value).toBe(20)
    expect(exec(Opcode.MaxWrap, 0xfffffff0, 5).value).toBe(5) // 5 comes after the wrap
    expect(exec(Opcode.MaxWrap, 5, 0xfffffff0).value).toBe(5)
    expect(exec(Opcode.MaxWrap, 0, 2 ** 40).value).toBe(2 ** 40) // 0 yields the other, untruncated
    expect(exec(Opcode.MaxWrap, 2 ** 40, 0).value).toBe(2 ** 40)
    expect(exec(Opcode.MaxWrap, 2 ** 32 + 7, 3).value).toBe(7) // compared and returned as u32
    expect(exec(Opcode.MaxWrap, 1234, 1234).value).toBe(1234)
  })

  it('MUL multiplies, and past 2^64 − 1 is an overflow', () => {
    expect(exec(Opcode.Mul, 6, 7).value).toBe(42)
    expect(exec(Opcode.Mul, 2 ** 32, 2 ** 31)).toEqual({ status: ProgramStatus.Ok, value: 2 ** 63 })
    expect(exec(Opcode.Mul, 2 ** 32, 2 ** 32, 1)).toEqual({ status: ProgramStatus.MulOverflow, value: 1 })
    expect(exec(Opcode.Mul, U64_LIMIT, 1)).toEqual({ status: ProgramStatus.Ok, value: U64_LIMIT })
    expect(exec(Opcode.Mul, U64_LIMIT, 0)).toEqual({ status: ProgramStatus.Ok, value: 0 })
  })

  it('SUB subtracts, and below 0 is an underflow', () => {
    expect(exec(Opcode.Sub, 5, 3)).toEqual({ status: ProgramStatus.Ok, value: 2 })
    expect(exec(Opcode.Sub, 5, 5)).toEqual({ status: ProgramStatus.Ok, value: 0 })
    expect(exec(Opcode.Sub, 3, 5, 9)).toEqual({ status: ProgramStatus.SubUnderflow, value: 9 })
  })
})

describe('operands', () => {
  it('reads every primitive from the measurements (an RTT of 0 as 0xFFFFFFFF, a timeout as 1, Ack.now from the caller)', () => {
    const m = createMeasurements()
    const names = [
      'bytesAcked',
      'bytesMisordered',
      'ecnBytes',
      'ecnPackets',
      'lostPktsSample',
      'now',
      'packetsAcked',
      'packetsMisordered',
      'bytesInFlight',
      'bytesPending',
      'packetsInFlight',
      'rateIncoming',
      'rateOutgoing',
      'rttSampleUs',
    ] as const
    names.forEach((name, i) => {
      if (name !== 'now') (m as unknown as Record<string, number>)[name] = 1000 + i
    })
    m.wasTimeout = true
    const body = Array.from({ length: 15 }, (_, i) => instruction(Opcode.Bind, report(i), report(i), primitive(i)))
    const message = program(1, [], [{ when: [setFlag], then: body }])
    let { r, p } = runBoth(message, () => {}, m)
    const expected = names.map((name, i) => (name === 'now' ? ACK_NOW : 1000 + i))
    expect(r.slice(p.reportBase, p.reportBase + 15)).toEqual([...expected, 1])
    m.rttSampleUs = 0
    m.wasTimeout = false
    ;({ r, p } = runBoth(message, () => {}, m))
    expect(r[p.reportBase + Primitive.FlowRttSampleUs]).toBe(U32_MAX)
    expect(r[p.reportBase + Primitive.FlowWasTimeout]).toBe(0)
  })

  it('uses tmp (16), local and both control kinds, each in its own bank', () => {
    const message = program(1, [], [
      {
        when: [setFlag],
        then: [
          instruction(Opcode.Bind, tmp(15), tmp(15), imm(1)),
          instruction(Opcode.Bind, local(7), local(7), imm(2)),
          instruction(Opcode.Bind, volatileControl(3), volatileControl(3), imm(3)),
          instruction(Opcode.Add, control(4), control(3), tmp(15)),
        ],
      },
    ])
    const { status, r, p } = runBoth(message)
    expect(status).toBe(ProgramStatus.Ok)
    expect(p.tmpBase + 15).toBe(p.registerCount - 1)
    expect(r[p.tmpBase + 15]).toBe(1)
    expect(r[p.localBase + 7]).toBe(2)
    expect(r[p.controlBase + 3]).toBe(3) // volatile and non-volatile control share one bank
    expect(r[p.controlBase + 4]).toBe(4)
  })

  it('writing Micros moves the time zero so that Micros reads the written value now', () => {
    const message = program(1, [], [{ when: [setFlag], then: [instruction(Opcode.Bind, implicit(Implicit.Micros), implicit(Implicit.Micros), imm(250))] }])
    const { r } = runBoth(message)
    expect(r[Implicit.Micros]).toBe(250)
    expect(r[TIME_ZERO_SLOT]).toBe(NOW - 250)
  })
})

describe('expressions: when, fallthrough and report', () => {
  const mark = (i: number) => instruction(Opcode.Bind, report(i), report(i), imm(1))
  const gt = (left: number, right: number) => instruction(Opcode.Gt, implicit(Implicit.EventFlag), imm(left), imm(right))

  it('runs a body only when its condition holds, and stops after the first true clause', () => {
    const message = program(1, [], [
      { when: [gt(1, 2)], then: [mark(0)] },
      { when: [gt(2, 1)], then: [mark(1)] },
      { when: [setFlag], then: [mark(2)] },
    ])
    const { r, p } = runBoth(message)
    expect(r.slice(p.reportBase, p.reportBase + 3)).toEqual([0, 1, 0])
  })

  it('goes on to the next clause after (fallthrough), and __shouldContinue stays set for the invoke', () => {
    const message = program(1, [], [
      { when: [setFlag], then: [mark(0), fallthrough] },
      { when: [gt(2, 1)], then: [mark(1)] },
      { when: [setFlag], then: [mark(2)] },
    ])
    const { r, p } = runBoth(message)
    expect(r.slice(p.reportBase, p.reportBase + 3)).toEqual([1, 1, 1])
  })

  it('a clause with an empty condition reuses the flag the previous one left', () => {
    const message = program(1, [], [
      { when: [gt(1, 2)], then: [mark(0)] },
      { when: [], then: [mark(1)] },
      { when: [setFlag], then: [mark(2)] },
    ])
    const { r, p } = runBoth(message)
    expect(r.slice(p.reportBase, p.reportBase + 3)).toEqual([0, 0, 1])
  })

  it('an instruction error aborts the invoke: nothing after it runs', () => {
    const message = program(1, [], [
      { when: [setFlag], then: [mark(0), instruction(Opcode.Sub, tmp(0), imm(1), imm(2)), mark(1), fallthrough] },
      { when: [setFlag], then: [mark(2)] },
    ])
    const { status, r, p } = runBoth(message)
    expect(status).toBe(ProgramStatus.SubUnderflow)
    expect(r.slice(p.reportBase, p.reportBase + 3)).toEqual([1, 0, 0])
  })

  it('(report) sets __shouldReport', () => {
    const { r } = runBoth(program(1, [], [{ when: [setFlag], then: [doReport] }]))
    expect(r[Implicit.ShouldReport]).toBe(1)
  })
})

describe('layout and DEF defaults', () => {
  it('counts the report registers of the leading DEFs, volatile or not, and ignores DEFs after other instructions', () => {
    const message = program(
      1,
      [def(report(0), 5), def(nonVolatileReport(1), 6), def(control(0), 7), def(volatileControl(1), 8), def(report(2), 0x3fffffff)],
      [{ when: [setFlag, def(report(3), 99)], then: [] }],
    )
    const p = new Program(message)
    expect(p.reportFields).toBe(3)
    expect(p.reportCount).toBe(4) // report 3 is used (by the late DEF) but not reported
    // A default of 0x3fffffff is libccp's legacy "+infinity": 0xFFFFFFFF.
    expect(Array.from(p.defaults)).toEqual([
      p.reportBase,
      5,
      p.reportBase + 1,
      6,
      p.controlBase,
      7,
      p.controlBase + 1,
      8,
      p.reportBase + 2,
      U32_MAX,
    ])
    expect(Array.from(p.volatileDefaults)).toEqual([p.reportBase, 5, p.controlBase + 1, 8, p.reportBase + 2, U32_MAX])
  })

  it('lays out every vector program as its events table says', () => {
    for (const vector of loadPrograms().programs) {
      const message = decodeMessage(fromHex(vector.installHex)) as InstallExprMessage
      const p = new Program(message)
      expect(p.compiled).toBe(true)
      expect(p.source).toContain('r[0] !== 0')
      const reportDefs = message.instructions.filter((i) => i.opcode === Opcode.Def && (i.leftType === RegType.VolatileReport || i.leftType === RegType.NonVolatileReport))
      expect(p.reportFields, vector.name).toBe(reportDefs.length)
      expect(p.ranges.length / 4).toBe(vector.events.length)
    }
  })
})
