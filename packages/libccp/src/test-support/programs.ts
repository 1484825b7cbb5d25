/**
 * Builders for hand-written programs in tests. Test-only.
 * @module
 */
import { type Expression, type InstallExprMessage, type Instruction, MessageType, type Opcode, RegType } from '../wire.js'

/** An operand: a register type and index (or an immediate's value). */
export type Operand = readonly [RegType, number]

/** Shorthands for operands. */
export const imm = (value: number): Operand => [RegType.Immediate, value]
export const control = (index: number): Operand => [RegType.NonVolatileControl, index]
export const volatileControl = (index: number): Operand => [RegType.VolatileControl, index]
export const report = (index: number): Operand => [RegType.VolatileReport, index]
export const nonVolatileReport = (index: number): Operand => [RegType.NonVolatileReport, index]
export const implicit = (index: number): Operand => [RegType.Implicit, index]
export const primitive = (index: number): Operand => [RegType.Primitive, index]
export const tmp = (index: number): Operand => [RegType.Tmp, index]
export const local = (index: number): Operand => [RegType.Local, index]

/** One instruction `result := opcode(left, right)`. */
export function instruction(opcode: Opcode, result: Operand, left: Operand, right: Operand): Instruction {
  return { opcode, resType: result[0], resIndex: result[1], leftType: left[0], left: left[1], rightType: right[0], right: right[1] }
}

/** A DEF of `register` with default `value`. */
export function def(register: Operand, value: number): Instruction {
  return instruction(2 as Opcode, register, register, imm(value))
}

/**
 * An INSTALL_EXPR from DEFs and `when` clauses (each a condition and a body), laid out as portus does:
 * the DEFs first, then each clause's condition and body.
 */
export function program(uid: number, defs: Instruction[], clauses: Array<{ when: Instruction[]; then: Instruction[] }>): InstallExprMessage {
  const instructions = [...defs]
  const expressions: Expression[] = []
  for (const clause of clauses) {
    const condStart = instructions.length
    instructions.push(...clause.when)
    const eventStart = instructions.length
    instructions.push(...clause.then)
    expressions.push({ condStart, condLength: clause.when.length, eventStart, eventLength: clause.then.length })
  }
  return { type: MessageType.InstallExpr, sid: 0, programUid: uid, expressions, instructions }
}
