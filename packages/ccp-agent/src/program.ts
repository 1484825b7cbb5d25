/**
 * `compileProgram`: datapath program source → the INSTALL_EXPR message portus would send for it.
 * @module
 */
import { encodeMessage, Implicit, MessageType, RegType, U32_MAX, type Expression, type Instruction } from '@mtcp/libccp'
import { AgentError } from './errors.js'
import { compileSource, type VariableInfo } from './lang/compiler.js'

export type { VariableInfo } from './lang/compiler.js'

/** Options of {@link compileProgram}. */
export interface CompileOptions {
  /** The program's uid in the datapath's table: a live agent numbers its programs from 1. */
  uid: number
  /** The header's sid: 0 from a live agent (the default); portus's dumps use 1. */
  sid?: number
}

/** A register an agent may update in a flow running the program (UPDATE_FIELDS, CHANGE_PROG). */
export interface UpdatableRegister {
  readonly regType: RegType
  readonly regIndex: number
}

/** A compiled datapath program. */
export interface CompiledProgram {
  /** The uid it was compiled with. */
  readonly uid: number
  /** The INSTALL_EXPR message, header included: byte for byte what portus 0.8 sends for the same source. */
  readonly bytes: Uint8Array
  /** The instruction list (DEFs first, then each `when`'s condition and body). */
  readonly instructions: readonly Instruction[]
  /** One per `when`, in order: the condition's and the body's instruction ranges. */
  readonly expressions: readonly Expression[]
  /** Number of `when` clauses (`expressions.length`). */
  readonly events: number
  /** Every variable of `def`, in declaration order. */
  readonly variables: readonly VariableInfo[]
  /** The report fields' names (`acked` for `Report.acked`) in the order a MEASURE carries them. */
  readonly reportFields: readonly string[]
  /**
   * The register behind a name an agent may update: a control variable (`reportTime`), `Cwnd` or `Rate`;
   * `undefined` for anything else (report fields, primitives and `Micros` cannot be updated).
   */
  register(name: string): UpdatableRegister | undefined
}

const IMPLICIT_UPDATES: ReadonlyMap<string, UpdatableRegister> = new Map([
  ['Cwnd', { regType: RegType.Implicit, regIndex: Implicit.Cwnd }],
  ['Rate', { regType: RegType.Implicit, regIndex: Implicit.Rate }],
])

function checkU32(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > U32_MAX) {
    throw new AgentError('ERR_INVALID_CONFIG', `${option} must be an integer in [0, ${U32_MAX}], got ${String(value)}`)
  }
  return value
}

/**
 * Parse, type-check and compile a datapath program (portus's language) into its INSTALL_EXPR message, with
 * the register allocation and instruction order of portus 0.8, so the bytes are the same as portus's.
 *
 * @example
 * ```ts
 * const program = compileProgram('(def (Report (volatile acked 0))) (when true (:= Report.acked (+ Report.acked Ack.bytes_acked)) (report))', { uid: 1 })
 * program.bytes.length // 20 + 16 × (1 expression + 4 instructions) = 100
 * ```
 * @throws {ProgramError} for a program that does not parse or type-check (`code`, `line`, `column`).
 * @throws {AgentError} `ERR_INVALID_CONFIG` for a uid or sid that is not a u32.
 */
export function compileProgram(source: string, options: CompileOptions): CompiledProgram {
  if (typeof source !== 'string') throw new AgentError('ERR_INVALID_CONFIG', 'the program source must be a string')
  const uid = checkU32('uid', options?.uid)
  const sid = checkU32('sid', options.sid ?? 0)
  const code = compileSource(source)
  const bytes = encodeMessage({
    type: MessageType.InstallExpr,
    sid,
    programUid: uid,
    expressions: code.expressions as Expression[],
    instructions: code.instructions as Instruction[],
  })
  const updatable = new Map<string, UpdatableRegister>(IMPLICIT_UPDATES)
  for (const variable of code.variables) {
    if (variable.kind === 'control') updatable.set(variable.name, { regType: variable.registerType, regIndex: variable.index })
  }
  return {
    uid,
    bytes,
    instructions: code.instructions,
    expressions: code.expressions,
    events: code.expressions.length,
    variables: code.variables,
    reportFields: code.reportFields,
    register: (name) => updatable.get(name),
  }
}
