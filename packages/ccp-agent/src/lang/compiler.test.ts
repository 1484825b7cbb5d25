import { describe, expect, it } from 'vitest'
import vectors from '../fixtures/programs.json' with { type: 'json' }
import { ProgramError } from '../errors.js'
import { Opcode, RegType, type Expression, type Instruction } from '@mtcp/libccp'
import { compileSource } from './compiler.js'

/** Decode the expressions and instructions of an INSTALL_EXPR dump, independently of any codec. */
function decodeInstall(hex: string): { expressions: Expression[]; instructions: Instruction[] } {
  const bytes = Buffer.from(hex, 'hex')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const e = view.getUint32(12, true)
  const n = view.getUint32(16, true)
  const expressions: Expression[] = []
  const instructions: Instruction[] = []
  let offset = 20
  for (let i = 0; i < e; i++, offset += 16) {
    expressions.push({
      condStart: view.getUint32(offset, true),
      condLength: view.getUint32(offset + 4, true),
      eventStart: view.getUint32(offset + 8, true),
      eventLength: view.getUint32(offset + 12, true),
    })
  }
  for (let i = 0; i < n; i++, offset += 16) {
    instructions.push({
      opcode: view.getUint8(offset) as Opcode,
      resType: view.getUint8(offset + 1) as RegType,
      resIndex: view.getUint32(offset + 2, true),
      leftType: view.getUint8(offset + 6) as RegType,
      left: view.getUint32(offset + 7, true),
      rightType: view.getUint8(offset + 11) as RegType,
      right: view.getUint32(offset + 12, true),
    })
  }
  return { expressions, instructions }
}

describe('compileSource against portus 0.8 (ccp-vectors/programs.json)', () => {
  it.each(vectors.programs.map((p) => [p.name, p] as const))('%s: same expressions and instructions', (_name, program) => {
    const compiled = compileSource(program.dsl)
    const expected = decodeInstall(program.installHex)
    expect(compiled.instructions).toEqual(expected.instructions)
    expect(compiled.expressions).toEqual(expected.expressions)
    expect(compiled.expressions.map((e) => ({ flagIdx: e.condStart, numFlagInstrs: e.condLength, bodyIdx: e.eventStart, numBodyInstrs: e.eventLength }))).toEqual(program.events)
  })

  it('lists report fields in declaration order, volatile and not sharing indices', () => {
    const bbr = vectors.programs.find((p) => p.name === 'bbr_init_program')!
    const compiled = compileSource(bbr.dsl)
    expect(compiled.reportFields).toEqual(['loss', 'minrtt', 'rate', 'pulseState'])
    expect(compiled.variables.map((v) => [v.name, v.registerType, v.index])).toEqual([
      ['Report.loss', RegType.VolatileReport, 0],
      ['Report.minrtt', RegType.NonVolatileReport, 1],
      ['Report.rate', RegType.VolatileReport, 2],
      ['Report.pulseState', RegType.NonVolatileReport, 3],
    ])
  })
})

describe('compileSource: the language', () => {
  it('compiles the issue example: DEFs sorted by name, control indices in declaration order', () => {
    const compiled = compileSource('(def (Report (volatile x 0) (y +infinity)) (ctl 0) (volatile c 0))')
    expect(compiled.variables.map((v) => [v.name, v.registerType, v.index, v.initial])).toEqual([
      ['Report.x', RegType.VolatileReport, 0, 0],
      ['Report.y', RegType.NonVolatileReport, 1, 0xffffffff],
      ['ctl', RegType.NonVolatileControl, 0, 0],
      ['c', RegType.VolatileControl, 1, 0],
    ])
    // Report.x, Report.y, c, ctl
    expect(compiled.instructions.map((i) => [i.opcode, i.resType, i.resIndex])).toEqual([
      [Opcode.Def, RegType.VolatileReport, 0],
      [Opcode.Def, RegType.NonVolatileReport, 1],
      [Opcode.Def, RegType.VolatileControl, 1],
      [Opcode.Def, RegType.NonVolatileControl, 0],
    ])
    expect(compiled.expressions).toEqual([])
  })

  it('writes ewma, if and !if straight into the assigned variable, after their operands', () => {
    const compiled = compileSource(`
      (def (Report (volatile rate 0)) (cap 0))
      (when true
        (:= Report.rate (ewma 2 (max Flow.rate_outgoing Flow.rate_incoming)))
        (:= Cwnd (if (> Cwnd cap) cap))
        (:= Rate (!if (== cap 0) (* cap 2))))`)
    const body = compiled.instructions.slice(compiled.expressions[0]!.eventStart)
    expect(body).toEqual([
      { opcode: Opcode.Max, resType: RegType.Tmp, resIndex: 0, leftType: RegType.Primitive, left: 12, rightType: RegType.Primitive, right: 11 },
      { opcode: Opcode.Ewma, resType: RegType.VolatileReport, resIndex: 0, leftType: RegType.Immediate, left: 2, rightType: RegType.Tmp, right: 0 },
      { opcode: Opcode.Gt, resType: RegType.Tmp, resIndex: 0, leftType: RegType.Implicit, left: 4, rightType: RegType.NonVolatileControl, right: 0 },
      { opcode: Opcode.If, resType: RegType.Implicit, resIndex: 4, leftType: RegType.Tmp, left: 0, rightType: RegType.NonVolatileControl, right: 0 },
      { opcode: Opcode.Equiv, resType: RegType.Tmp, resIndex: 0, leftType: RegType.NonVolatileControl, left: 0, rightType: RegType.Immediate, right: 0 },
      { opcode: Opcode.Mul, resType: RegType.Tmp, resIndex: 1, leftType: RegType.NonVolatileControl, left: 0, rightType: RegType.Immediate, right: 2 },
      { opcode: Opcode.NotIf, resType: RegType.Implicit, resIndex: 5, leftType: RegType.Tmp, left: 0, rightType: RegType.Tmp, right: 1 },
    ])
  })

  it('compiles an atom condition to a BIND of the event flag, booleans to 0 and 1', () => {
    const compiled = compileSource('(def (Report (volatile t false))) (when Flow.was_timeout (:= Report.t true) (report))')
    expect(compiled.instructions.slice(1)).toEqual([
      { opcode: Opcode.Bind, resType: 2, resIndex: 0, leftType: 2, left: 0, rightType: RegType.Primitive, right: 14 },
      { opcode: Opcode.Bind, resType: 5, resIndex: 0, leftType: 5, left: 0, rightType: RegType.Immediate, right: 1 },
      { opcode: Opcode.Bind, resType: 2, resIndex: 2, leftType: 2, left: 2, rightType: RegType.Immediate, right: 1 },
    ])
  })

  it('accepts a program without def, wrapped_max, / and -', () => {
    const compiled = compileSource('(when (> (wrapped_max Micros 3) (/ (- Cwnd 1) 2)) (:= Micros 0))')
    expect(compiled.instructions.map((i) => i.opcode)).toEqual([Opcode.MaxWrap, Opcode.Sub, Opcode.Div, Opcode.Gt, Opcode.Bind])
    expect(compiled.instructions[3]).toMatchObject({ resType: 2, resIndex: 0, leftType: 7, left: 0, rightType: 7, right: 2 })
    expect(compiled.reportFields).toEqual([])
  })

  it('accepts the largest number and +infinity as immediates', () => {
    const compiled = compileSource('(def (x 2147483647)) (when true (:= x +infinity))')
    expect(compiled.instructions[0]!.right).toBe(2147483647)
    expect(compiled.instructions[2]!.right).toBe(0xffffffff)
  })
})

function errorOf(source: string): ProgramError {
  try {
    compileSource(source)
  } catch (error) {
    if (error instanceof ProgramError) return error
    throw error
  }
  throw new Error('expected a ProgramError')
}

describe('compileSource: errors with line and column', () => {
  it.each([
    ['unclosed list', '(def (x 0))\n(when true\n  (:= x 1)', 'ERR_PROGRAM_SYNTAX', 2, 1],
    ['stray )', '(when true (report)))', 'ERR_PROGRAM_SYNTAX', 1, 21],
    ['empty list', '(when true ())', 'ERR_PROGRAM_SYNTAX', 1, 12],
    ['number too large', '(def (x 0))\n(when true (:= x 2147483648))', 'ERR_PROGRAM_NUMBER', 2, 18],
    ['negative number', '(when (> Cwnd -1) (report))', 'ERR_PROGRAM_NUMBER', 1, 15],
    ['fraction', '(def (x 1.5))', 'ERR_PROGRAM_NUMBER', 1, 9],
    ['unknown name', '(def (x 0))\n(when true\n    (:= x y))', 'ERR_PROGRAM_UNKNOWN_NAME', 3, 11],
    ['unknown primitive', '(when (> Flow.snd_cwnd 0) (report))', 'ERR_PROGRAM_UNKNOWN_NAME', 1, 10],
    ['undefined report field', '(when true (:= Report.x 1))', 'ERR_PROGRAM_UNKNOWN_NAME', 1, 16],
    ['unknown operator', '(when (>= Cwnd 1) (report))', 'ERR_PROGRAM_UNKNOWN_OPERATOR', 1, 8],
    ['unknown statement', '(when true (send))', 'ERR_PROGRAM_UNKNOWN_OPERATOR', 1, 13],
    ['three operands', '(when (> Cwnd 1 2) (report))', 'ERR_PROGRAM_ARITY', 1, 8],
    ['report with operand', '(when true (report 1))', 'ERR_PROGRAM_ARITY', 1, 13],
    ['def twice', '(def (x 0))\n(def (y 0))', 'ERR_PROGRAM_STRUCTURE', 2, 1],
    ['def after when', '(when true (report))\n(def (y 0))', 'ERR_PROGRAM_STRUCTURE', 2, 1],
    ['top-level atom', '(when true (report)) report', 'ERR_PROGRAM_STRUCTURE', 1, 22],
    ['bare expression statement', '(when true (+ Cwnd 1))', 'ERR_PROGRAM_STRUCTURE', 1, 13],
    ['duplicate definition', '(def (Report (a 0) (volatile a 1)))', 'ERR_PROGRAM_DUPLICATE', 1, 30],
    ['reserved name', '(def (Cwnd 0))', 'ERR_PROGRAM_DUPLICATE', 1, 7],
    ['__proto__ as a report field', '(def (Report (__proto__ 0)))', 'ERR_PROGRAM_DUPLICATE', 1, 15],
    ['assign to primitive', '(when true (:= Ack.bytes_acked 0))', 'ERR_PROGRAM_READ_ONLY', 1, 16],
    ['assign to a number', '(when true (:= 3 0))', 'ERR_PROGRAM_READ_ONLY', 1, 16],
    ['nested ewma', '(def (x 0))\n(when true (:= x (+ 1 (ewma 2 Cwnd))))', 'ERR_PROGRAM_STATEFUL', 2, 23],
    ['if as condition', '(when (if true true) (report))', 'ERR_PROGRAM_STATEFUL', 1, 7],
    ['too deep', `(def (x 0)) (when true (:= x ${'(+ 1 '.repeat(17)}1${')'.repeat(17)}))`, 'ERR_PROGRAM_LIMIT', 1, 30],
  ])('%s', (_name, source, code, line, column) => {
    const error = errorOf(source)
    expect({ code: error.code, line: error.line, column: error.column }).toEqual({ code, line, column })
    expect(error.message).toContain(`at ${line}:${column}`)
  })
})

describe('compileSource: type errors', () => {
  it.each([
    ['a number condition', '(when (+ Cwnd 1) (report))', 1, 7],
    ['a number atom condition', '(when Cwnd (report))', 1, 7],
    ['&& of numbers', '(when (&& Cwnd 1) (report))', 1, 11],
    ['+ of a boolean', '(def (x 0)) (when true (:= x (+ Flow.was_timeout 1)))', 1, 33],
    ['> of a boolean', '(when (> true 1) (report))', 1, 10],
    ['a boolean into a number', '(def (x 0)) (when true (:= x (> Cwnd 1)))', 1, 30],
    ['a number into a boolean', '(def (Report (volatile t false))) (when true (:= Report.t Flow.rtt_sample_us))', 1, 59],
    ['if with a number condition', '(when true (:= Cwnd (if Cwnd 3)))', 1, 25],
    ['if of a boolean into a number', '(when true (:= Cwnd (if true false)))', 1, 21],
    ['ewma into a boolean', '(def (b false)) (when true (:= b (ewma 2 Cwnd)))', 1, 34],
  ])('%s', (_name, source, line, column) => {
    const error = errorOf(source)
    expect({ code: error.code, line: error.line, column: error.column }).toEqual({ code: 'ERR_PROGRAM_TYPE', line, column })
  })
})

describe('compileSource: datapath limits', () => {
  it('refuses more report fields than libccp has registers', () => {
    const fields = Array.from({ length: 111 }, (_, i) => `(f${i} 0)`).join(' ')
    const source = `(def (Report ${fields}))`
    const error = errorOf(source)
    expect(error.code).toBe('ERR_PROGRAM_LIMIT')
    expect(error.column).toBe(source.indexOf('f110') + 1) // the 111th field's name
  })

  it('refuses more than 256 instructions', () => {
    const body = Array.from({ length: 256 }, () => '(report)').join(' ')
    expect(errorOf(`(when true ${body})`).code).toBe('ERR_PROGRAM_LIMIT')
    expect(compileSource(`(when true ${body.slice('(report) '.length)})`).instructions).toHaveLength(256)
  })
})
