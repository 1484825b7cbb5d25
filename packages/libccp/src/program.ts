/**
 * An installed datapath program: the INSTALL_EXPR message checked and laid out for running, its DEF
 * defaults, and the two ways to run it: {@link interpretProgram} (the reference) and a JavaScript function
 * compiled from it ({@link compileProgram}).
 *
 * Semantics from libccp's `machine.h` (registers, opcodes) and `machine.c` (one invoke): per expression run the condition, run the body if `__eventFlag` is set, stop when the flag is
 * set and `__shouldContinue` is not; an instruction error aborts the invoke.
 *
 * The register file of a flow is one Float64Array:
 * `[0..5]` the implicit registers, `[6]` the program's time zero (µs), then the control, report, local and
 * tmp banks, each sized to the highest index the program uses (so 10,000 flows cost a few hundred bytes each).
 * @module
 */
import { Implicit, type InstallExprMessage, Opcode, Primitive, RegType, U32_MAX, U64_LIMIT } from './wire.js'
import type { Measurements } from './measurements.js'

/** Slot of the register file holding the program's time zero: Micros = now − timeZero. @internal */
export const TIME_ZERO_SLOT = 6
/** First slot of the register banks. @internal */
export const BANK_START = 7

/** What running a program returned: 0, or why the invoke was aborted. */
export const ProgramStatus = {
  /** The program ran to its end. */
  Ok: 0,
  /** ADD past 2^64 − 1. */
  AddOverflow: 1,
  /** MUL past 2^64 − 1. */
  MulOverflow: 2,
  /** SUB below 0. */
  SubUnderflow: 3,
  /** DIV by 0. */
  DivideByZero: 4,
  /** EWMA with a weight above 10 (libccp would compute with a wrapped 10 − weight). */
  EwmaWeight: 5,
  /** EWMA whose weighted sum passes 2^64 − 1 (libccp would wrap silently). */
  EwmaOverflow: 6,
} as const
/** A {@link ProgramStatus} value. */
export type ProgramStatus = (typeof ProgramStatus)[keyof typeof ProgramStatus]

/** `ProgramStatus` values by name, for logs. @internal */
export const PROGRAM_STATUS_NAMES = ['ok', 'ADD overflow', 'MUL overflow', 'SUB underflow', 'DIV by zero', 'EWMA weight above 10', 'EWMA overflow'] as const

/**
 * A program body as a function of a flow's register file, the ACK's measurements, the time now (µs) and
 * `Ack.now` (µs since the datapath started). Returns a {@link ProgramStatus}.
 */
export type ProgramFunction = (registers: Float64Array, measurements: Measurements, now: number, ackNow: number) => number

/** How an operand is read. @internal */
const enum OperandKind {
  Register = 0,
  Immediate = 1,
  Primitive = 2,
}

/** libccp's `reset_state`: a DEF default of 0x3fffffff (an older portus's "+infinity") stands for 0xFFFFFFFF. */
const LEGACY_INFINITY = 0x3fffffff

/** Options of {@link Program}. */
export interface ProgramOptions {
  /** Compile the program to a JavaScript function (default true); otherwise `run` is the interpreter. */
  compile?: boolean
}

/** An installed program, laid out for a flow's register file. */
export class Program {
  /** The program uid the agent gave it; MEASUREs of flows running it carry it. */
  readonly uid: number
  /** The INSTALL_EXPR it came from. */
  readonly message: InstallExprMessage
  /** Register file size for a flow running this program. */
  readonly registerCount: number
  /** Offset of control register 0 (volatile and non-volatile share the bank). */
  readonly controlBase: number
  /** Control registers the program uses (highest index + 1). */
  readonly controlCount: number
  /** Offset of report register 0. */
  readonly reportBase: number
  /** Report registers (highest index + 1, and at least {@link reportFields}). */
  readonly reportCount: number
  /** Offset of local register 0. */
  readonly localBase: number
  /** Offset of tmp register 0. */
  readonly tmpBase: number
  /**
   * Fields of this program's MEASURE: the number of report registers DEF'd in the leading DEFs; the MEASURE
   * carries report registers 0 … reportFields − 1 (libccp `reset_state` / `send_measurement`).
   */
  readonly reportFields: number
  /** `[offset, value, …]`: every leading DEF, applied at a program change. @internal */
  readonly defaults: Float64Array
  /** `[offset, value, …]`: the leading DEFs of volatile registers, re-applied after each report. @internal */
  readonly volatileDefaults: Float64Array
  /** Whether {@link run} is the compiled function (false: the interpreter, or compilation was unavailable). */
  readonly compiled: boolean
  /** Run the program body: the compiled function, or the interpreter. */
  readonly run: ProgramFunction
  /** The interpreter bound to this program (the reference the compiled function is tested against). */
  readonly interpret: ProgramFunction
  /** The compiled function's source, when compiled. */
  readonly source: string | undefined

  /** @internal interpreter tables, one entry per instruction. */
  readonly opcodes: Uint8Array
  /** @internal */
  readonly resultOffsets: Int32Array
  /** @internal */
  readonly leftKinds: Uint8Array
  /** @internal */
  readonly leftValues: Float64Array
  /** @internal */
  readonly rightKinds: Uint8Array
  /** @internal */
  readonly rightValues: Float64Array
  /** @internal `[condStart, condEnd, eventStart, eventEnd]` per expression. */
  readonly ranges: Int32Array

  /** Lay out a decoded (hence checked) INSTALL_EXPR. */
  constructor(message: InstallExprMessage, options: ProgramOptions = {}) {
    this.uid = message.programUid
    this.message = message
    const instructions = message.instructions

    // Bank sizes: the highest index each bank is used at, + 1.
    let control = 0
    let report = 0
    let local = 0
    let tmp = 0
    const use = (type: number, index: number): void => {
      switch (type) {
        case RegType.NonVolatileControl:
        case RegType.VolatileControl:
          control = Math.max(control, index + 1)
          break
        case RegType.VolatileReport:
        case RegType.NonVolatileReport:
          report = Math.max(report, index + 1)
          break
        case RegType.Local:
          local = Math.max(local, index + 1)
          break
        case RegType.Tmp:
          tmp = Math.max(tmp, index + 1)
          break
      }
    }
    for (const instruction of instructions) {
      use(instruction.resType, instruction.resIndex)
      use(instruction.leftType, instruction.left)
      use(instruction.rightType, instruction.right)
    }

    // Leading DEFs only (libccp's reset_state and init_register_state stop at the first other opcode).
    const defaults: number[] = []
    const volatileDefaults: number[] = []
    let reportFields = 0
    const defs: Array<{ type: number; index: number; value: number }> = []
    for (const instruction of instructions) {
      if (instruction.opcode !== Opcode.Def) break
      const type = instruction.leftType
      if (
        type !== RegType.NonVolatileControl &&
        type !== RegType.VolatileControl &&
        type !== RegType.VolatileReport &&
        type !== RegType.NonVolatileReport
      ) {
        continue
      }
      // Both kinds of report registers are reported (libccp counts num_to_return this way).
      if (type === RegType.VolatileReport || type === RegType.NonVolatileReport) reportFields++
      let value = instruction.rightType === RegType.Immediate ? instruction.right : 0
      if (value === LEGACY_INFINITY) value = U32_MAX
      defs.push({ type, index: instruction.left, value })
    }
    report = Math.max(report, reportFields)

    this.controlBase = BANK_START
    this.controlCount = control
    this.reportBase = this.controlBase + control
    this.reportCount = report
    this.localBase = this.reportBase + report
    this.tmpBase = this.localBase + local
    this.registerCount = this.tmpBase + tmp
    this.reportFields = reportFields

    for (const def of defs) {
      const offset = this.offsetOf(def.type, def.index)
      defaults.push(offset, def.value)
      if (def.type === RegType.VolatileControl || def.type === RegType.VolatileReport) volatileDefaults.push(offset, def.value)
    }
    this.defaults = Float64Array.from(defaults)
    this.volatileDefaults = Float64Array.from(volatileDefaults)

    // Interpreter tables.
    const count = instructions.length
    this.opcodes = new Uint8Array(count)
    this.resultOffsets = new Int32Array(count)
    this.leftKinds = new Uint8Array(count)
    this.leftValues = new Float64Array(count)
    this.rightKinds = new Uint8Array(count)
    this.rightValues = new Float64Array(count)
    for (let i = 0; i < count; i++) {
      const instruction = instructions[i]!
      this.opcodes[i] = instruction.opcode
      this.resultOffsets[i] = this.offsetOf(instruction.resType, instruction.resIndex)
      this.leftKinds[i] = kindOf(instruction.leftType)
      this.leftValues[i] = this.operandValue(instruction.leftType, instruction.left)
      this.rightKinds[i] = kindOf(instruction.rightType)
      this.rightValues[i] = this.operandValue(instruction.rightType, instruction.right)
    }
    this.ranges = new Int32Array(4 * message.expressions.length)
    message.expressions.forEach((expression, i) => {
      this.ranges[4 * i] = expression.condStart
      this.ranges[4 * i + 1] = expression.condStart + expression.condLength
      this.ranges[4 * i + 2] = expression.eventStart
      this.ranges[4 * i + 3] = expression.eventStart + expression.eventLength
    })

    this.interpret = (registers, measurements, now, ackNow) => interpretProgram(this, registers, measurements, now, ackNow)
    let run: ProgramFunction = this.interpret
    let source: string | undefined
    if (options.compile !== false) {
      try {
        const compiled = compileProgram(this)
        run = compiled.run
        source = compiled.source
      } catch {
        // No `new Function` here (a CSP, a locked-down realm): the interpreter is exact, only slower.
      }
    }
    this.run = run
    this.source = source
    this.compiled = run !== this.interpret
  }

  /** Register file offset of register `type`:`index` (a register type other than immediate and primitive). @internal */
  offsetOf(type: number, index: number): number {
    switch (type) {
      case RegType.Implicit:
        return index
      case RegType.NonVolatileControl:
      case RegType.VolatileControl:
        return this.controlBase + index
      case RegType.VolatileReport:
      case RegType.NonVolatileReport:
        return this.reportBase + index
      case RegType.Local:
        return this.localBase + index
      case RegType.Tmp:
        return this.tmpBase + index
      default:
        return -1
    }
  }

  private operandValue(type: number, index: number): number {
    if (type === RegType.Immediate || type === RegType.Primitive) return index
    return this.offsetOf(type, index)
  }
}

function kindOf(type: number): OperandKind {
  if (type === RegType.Immediate) return OperandKind.Immediate
  if (type === RegType.Primitive) return OperandKind.Primitive
  return OperandKind.Register
}

/** Read primitive `index` of `m` (notes: an RTT sample of 0 reads as 0xFFFFFFFF; Ack.now is µs since start). @internal */
export function readPrimitive(m: Measurements, index: number, ackNow: number): number {
  switch (index) {
    case Primitive.AckBytesAcked:
      return m.bytesAcked
    case Primitive.AckBytesMisordered:
      return m.bytesMisordered
    case Primitive.AckEcnBytes:
      return m.ecnBytes
    case Primitive.AckEcnPackets:
      return m.ecnPackets
    case Primitive.AckLostPktsSample:
      return m.lostPktsSample
    case Primitive.AckNow:
      return ackNow
    case Primitive.AckPacketsAcked:
      return m.packetsAcked
    case Primitive.AckPacketsMisordered:
      return m.packetsMisordered
    case Primitive.FlowBytesInFlight:
      return m.bytesInFlight
    case Primitive.FlowBytesPending:
      return m.bytesPending
    case Primitive.FlowPacketsInFlight:
      return m.packetsInFlight
    case Primitive.FlowRateIncoming:
      return m.rateIncoming
    case Primitive.FlowRateOutgoing:
      return m.rateOutgoing
    case Primitive.FlowRttSampleUs:
      return m.rttSampleUs === 0 ? U32_MAX : m.rttSampleUs
    default:
      return m.wasTimeout ? 1 : 0
  }
}

/** libccp `mymax64_wrap`: the later of two u32 sequence-like values; 0 means "unset" and yields the other. @internal */
export function maxWrap(a: number, b: number): number {
  if (a === 0) return b
  if (b === 0) return a
  const a32 = a >>> 0
  const b32 = b >>> 0
  // dif32(left, right): the distance walking up from left to right, through the wrap.
  const leftToRight = b32 > a32 ? b32 - a32 : U32_MAX - a32 + b32
  const rightToLeft = a32 > b32 ? a32 - b32 : U32_MAX - b32 + a32
  return rightToLeft < leftToRight ? a32 : b32
}

/**
 * Run one instruction; returns a {@link ProgramStatus}. The arithmetic is the reference for the compiled
 * code in {@link compileProgram}: change both together.
 */
function step(program: Program, i: number, r: Float64Array, m: Measurements, now: number, ackNow: number): number {
  const leftKind = program.leftKinds[i]!
  const leftValue = program.leftValues[i]!
  const a = leftKind === OperandKind.Register ? r[leftValue]! : leftKind === OperandKind.Immediate ? leftValue : readPrimitive(m, leftValue, ackNow)
  const rightKind = program.rightKinds[i]!
  const rightValue = program.rightValues[i]!
  const b = rightKind === OperandKind.Register ? r[rightValue]! : rightKind === OperandKind.Immediate ? rightValue : readPrimitive(m, rightValue, ackNow)
  const out = program.resultOffsets[i]!
  let value: number
  switch (program.opcodes[i]) {
    case Opcode.Add:
      value = a + b
      // libccp: the u64 sum wrapped (result < left) is an overflow. 2^64 − 1 itself rounds to 2^64, so a
      // sum with a zero operand is never one.
      if (value >= U64_LIMIT && a !== 0 && b !== 0) return ProgramStatus.AddOverflow
      break
    case Opcode.Bind:
      value = b
      break
    case Opcode.Def:
      return ProgramStatus.Ok // install-time only
    case Opcode.Div:
      if (b === 0) return ProgramStatus.DivideByZero
      value = Math.floor(a / b) // exact for a < 2^53
      break
    case Opcode.Equiv:
      value = a === b ? 1 : 0
      break
    case Opcode.Ewma: {
      // res = (a·old + (10 − a)·new) / 10, a = left, new = right; if old = 0 → new.
      const old = r[out]!
      if (old === 0) {
        value = b
      } else {
        if (a > 10) return ProgramStatus.EwmaWeight
        const sum = a * old + (10 - a) * b
        if (sum >= U64_LIMIT) return ProgramStatus.EwmaOverflow
        value = Math.floor(sum / 10)
      }
      break
    }
    case Opcode.Gt:
      value = a > b ? 1 : 0
      break
    case Opcode.If:
      if (a === 0) return ProgramStatus.Ok
      value = b
      break
    case Opcode.Lt:
      value = a < b ? 1 : 0
      break
    case Opcode.Max:
      value = a > b ? a : b
      break
    case Opcode.MaxWrap:
      value = maxWrap(a, b)
      break
    case Opcode.Min:
      value = a < b ? a : b
      break
    case Opcode.Mul:
      value = a * b
      if (value >= U64_LIMIT && a > 1 && b > 1) return ProgramStatus.MulOverflow
      break
    case Opcode.NotIf:
      if (a !== 0) return ProgramStatus.Ok
      value = b
      break
    default: // Sub
      if (a < b) return ProgramStatus.SubUnderflow
      value = a - b
      break
  }
  // Writing Micros moves the program's time zero (libccp write_reg: time zero = now − value).
  if (out === Implicit.Micros) r[TIME_ZERO_SLOT] = now - value
  r[out] = value
  return ProgramStatus.Ok
}

/**
 * Run `program`'s expressions over a flow's register file, the reference semantics (libccp
 * `state_machine`): for each expression, the condition; the body if `__eventFlag` is set; stop when the
 * flag is set and `__shouldContinue` is not. The caller resets the implicit flags and sets Micros first.
 */
export function interpretProgram(program: Program, r: Float64Array, m: Measurements, now: number, ackNow: number): number {
  const ranges = program.ranges
  for (let e = 0; e < ranges.length; e += 4) {
    for (let i = ranges[e]!, end = ranges[e + 1]!; i < end; i++) {
      const status = step(program, i, r, m, now, ackNow)
      if (status !== ProgramStatus.Ok) return status
    }
    if (r[Implicit.EventFlag] !== 0) {
      for (let i = ranges[e + 2]!, end = ranges[e + 3]!; i < end; i++) {
        const status = step(program, i, r, m, now, ackNow)
        if (status !== ProgramStatus.Ok) return status
      }
    }
    // Checked after the body, as libccp does (a body may write either flag).
    if (r[Implicit.EventFlag] !== 0 && r[Implicit.ShouldContinue] === 0) return ProgramStatus.Ok
  }
  return ProgramStatus.Ok
}

// ---------------------------------------------------------------------------------------------------------
// Compilation to straight-line JavaScript

const PRIMITIVE_SOURCE: readonly string[] = [
  'm.bytesAcked',
  'm.bytesMisordered',
  'm.ecnBytes',
  'm.ecnPackets',
  'm.lostPktsSample',
  'ackNow',
  'm.packetsAcked',
  'm.packetsMisordered',
  'm.bytesInFlight',
  'm.bytesPending',
  'm.packetsInFlight',
  'm.rateIncoming',
  'm.rateOutgoing',
  `(m.rttSampleUs === 0 ? ${U32_MAX} : m.rttSampleUs)`,
  '(m.wasTimeout ? 1 : 0)',
]

const LIMIT = String(U64_LIMIT)

function operandSource(kind: number, value: number): string {
  if (kind === OperandKind.Register) return `r[${value}]`
  if (kind === OperandKind.Immediate) return String(value)
  return PRIMITIVE_SOURCE[value]!
}

/** The statements of instruction `i`, leaving its result written (or returning a status). */
function instructionSource(program: Program, i: number): string {
  const a = operandSource(program.leftKinds[i]!, program.leftValues[i]!)
  const b = operandSource(program.rightKinds[i]!, program.rightValues[i]!)
  const out = program.resultOffsets[i]!
  const write = out === Implicit.Micros ? `r[${TIME_ZERO_SLOT}] = now - s; r[${out}] = s;` : `r[${out}] = s;`
  switch (program.opcodes[i]) {
    case Opcode.Add:
      return `a = ${a}; b = ${b}; s = a + b; if (s >= ${LIMIT} && a !== 0 && b !== 0) return ${ProgramStatus.AddOverflow}; ${write}`
    case Opcode.Bind:
      return `s = ${b}; ${write}`
    case Opcode.Def:
      return '/* DEF: install-time default */'
    case Opcode.Div:
      return `a = ${a}; b = ${b}; if (b === 0) return ${ProgramStatus.DivideByZero}; s = Math.floor(a / b); ${write}`
    case Opcode.Equiv:
      return `s = ${a} === ${b} ? 1 : 0; ${write}`
    case Opcode.Ewma:
      return (
        `a = ${a}; b = ${b}; s = r[${out}]; ` +
        `if (s === 0) { s = b; } else { if (a > 10) return ${ProgramStatus.EwmaWeight}; ` +
        `s = a * s + (10 - a) * b; if (s >= ${LIMIT}) return ${ProgramStatus.EwmaOverflow}; s = Math.floor(s / 10); } ${write}`
      )
    case Opcode.Gt:
      return `s = ${a} > ${b} ? 1 : 0; ${write}`
    case Opcode.If:
      return `if (${a} !== 0) { s = ${b}; ${write} }`
    case Opcode.Lt:
      return `s = ${a} < ${b} ? 1 : 0; ${write}`
    case Opcode.Max:
      return `a = ${a}; b = ${b}; s = a > b ? a : b; ${write}`
    case Opcode.MaxWrap:
      return `s = maxWrap(${a}, ${b}); ${write}`
    case Opcode.Min:
      return `a = ${a}; b = ${b}; s = a < b ? a : b; ${write}`
    case Opcode.Mul:
      return `a = ${a}; b = ${b}; s = a * b; if (s >= ${LIMIT} && a > 1 && b > 1) return ${ProgramStatus.MulOverflow}; ${write}`
    case Opcode.NotIf:
      return `if (${a} === 0) { s = ${b}; ${write} }`
    default:
      return `a = ${a}; b = ${b}; if (a < b) return ${ProgramStatus.SubUnderflow}; s = a - b; ${write}`
  }
}

/**
 * Compile `program` to one straight-line JavaScript function over the register file (a Float64Array the
 * JIT keeps unboxed) and the measurements object: no dispatch, no operand decoding, constants inlined.
 * Semantics are exactly {@link interpretProgram}'s (the tests run both over every vector program).
 */
export function compileProgram(program: Program): { run: ProgramFunction; source: string } {
  const lines: string[] = ['"use strict";', 'let a = 0, b = 0, s = 0;']
  const ranges = program.ranges
  for (let e = 0; e < ranges.length; e += 4) {
    lines.push(`// expression ${e / 4}: condition`)
    for (let i = ranges[e]!; i < ranges[e + 1]!; i++) lines.push(instructionSource(program, i))
    lines.push(`if (r[${Implicit.EventFlag}] !== 0) {`)
    for (let i = ranges[e + 2]!; i < ranges[e + 3]!; i++) lines.push(`  ${instructionSource(program, i)}`)
    lines.push('}', `if (r[${Implicit.EventFlag}] !== 0 && r[${Implicit.ShouldContinue}] === 0) return 0;`)
  }
  lines.push('return 0;')
  const source = lines.join('\n')
  // The body sees only its parameters and maxWrap: `new Function` bodies have no access to this module's scope.
  const factory = new Function('maxWrap', `return function ccpProgram${program.uid}(r, m, now, ackNow) {\n${source}\n}`) as (
    maxWrapHelper: typeof maxWrap,
  ) => ProgramFunction
  return { run: factory(maxWrap), source }
}
