import { decodeMessage, Implicit, MessageType, RegType } from '@mtcp/libccp'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ProgramError } from '../errors.js'
import { compileProgram } from '../program.js'

const TOKENS = [
  '(', ')', '(', ')', ' ', '\n', 'def', 'when', 'Report', 'volatile', ':=', '+', '-', '*', '/', '==', '>', '<', '&&', '||',
  'max', 'min', 'wrapped_max', 'ewma', 'if', '!if', 'true', 'false', '0', '7', '2147483648', '+infinity', '-1', 'x', 'Report.x',
  'Cwnd', 'Rate', 'Micros', 'Flow.rtt_sample_us', 'Flow.was_timeout', 'Ack.bytes_acked', 'Ack.nope', '(report)', '(fallthrough)',
]

describe('compileProgram on arbitrary input', () => {
  it('returns or throws a ProgramError with a position, nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.array(fc.constantFrom(...TOKENS), { maxLength: 60 }).map((t) => t.join(' ')), fc.string({ maxLength: 80 })), (source) => {
        try {
          compileProgram(source, { uid: 1 })
        } catch (error) {
          expect(error).toBeInstanceOf(ProgramError)
          const { line, column } = error as ProgramError
          expect(line).toBeGreaterThanOrEqual(1)
          expect(column).toBeGreaterThanOrEqual(1)
        }
      }),
      { numRuns: 2000 },
    )
  })
})

// Well-typed expressions up to depth 4: at most 15 operators, within the 16 temporaries of a statement
// (each statement below holds one such tree), and two clauses stay under libccp's 256 instructions.
const { num, bool } = fc.letrec<{ num: string; bool: string }>((tie) => ({
  num: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('0', '1448', '2147483647', '+infinity', 'Cwnd', 'Rate', 'Micros', 'Flow.rtt_sample_us', 'Ack.bytes_acked', 'x', 'Report.a', 'Report.b'),
    fc.tuple(fc.constantFrom('+', '-', '*', '/', 'max', 'min', 'wrapped_max'), tie('num'), tie('num')).map(([op, a, b]) => `(${op} ${a} ${b})`),
  ),
  bool: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('true', 'false', 'Flow.was_timeout', 'flag'),
    fc.tuple(fc.constantFrom('==', '>', '<'), tie('num'), tie('num')).map(([op, a, b]) => `(${op} ${a} ${b})`),
    fc.tuple(fc.constantFrom('&&', '||'), tie('bool'), tie('bool')).map(([op, a, b]) => `(${op} ${a} ${b})`),
  ),
}))
const depth = (expression: string): number => {
  let max = 0
  let current = 0
  for (const c of expression) {
    if (c === '(') max = Math.max(max, ++current)
    else if (c === ')') current--
  }
  return max
}
const shallow = (arbitrary: fc.Arbitrary<string>): fc.Arbitrary<string> => arbitrary.filter((e) => depth(e) <= 4)

describe('compileProgram on well-typed programs', () => {
  it('always compiles to a message libccp accepts, each condition ending in the event flag', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(shallow(bool), shallow(num), shallow(num), shallow(bool)), { minLength: 1, maxLength: 2 }), (clauses) => {
        const source = [
          '(def (Report (volatile a 0) (b +infinity)) (x 0) (volatile flag false))',
          ...clauses.map(([cond, n1, n2, b]) => `(when ${cond} (:= x ${n1}) (:= Report.a (ewma 3 ${n2})) (:= Cwnd (if ${b} Rate)) (:= flag ${b}) (fallthrough) (report))`),
        ].join('\n')
        const program = compileProgram(source, { uid: 2 })
        const message = decodeMessage(program.bytes)
        expect(message.type).toBe(MessageType.InstallExpr)
        expect(program.expressions).toHaveLength(clauses.length)
        for (const expression of program.expressions) {
          const last = program.instructions[expression.condStart + expression.condLength - 1]!
          expect([last.resType, last.resIndex]).toEqual([RegType.Implicit, Implicit.EventFlag])
          expect(expression.eventStart).toBe(expression.condStart + expression.condLength)
        }
      }),
      { numRuns: 300 },
    )
  })
})
