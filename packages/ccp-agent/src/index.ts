/**
 * `@mtcp/ccp-agent`: a CCP agent in TypeScript that speaks portus 0.8's protocol. The datapath program
 * language ({@link compileProgram}: parser, type checker and a compiler whose bytes are portus's), the
 * {@link Agent} over any `@mtcp/ccp-ipc` transport, the algorithms {@link Reno}, {@link Cubic} and
 * {@link Bbr}, and the {@link CongestionAlgorithm} interface to write new ones.
 * This file is the public API: named re-exports only.
 * @packageDocumentation
 */
export { Agent, type AgentOptions, type AgentStats } from './agent.js'
export { Bbr, BBR_PROGRAMS, type BbrOptions, type BbrPhase, type BbrState } from './algorithms/bbr.js'
export { Cubic, CUBIC_BETA, CUBIC_C, CubicWindow } from './algorithms/cubic.js'
export {
  DEFAULT_SS_THRESH,
  GENERIC_CONG_AVOID_PROGRAMS,
  GenericCongAvoid,
  type CongestionWindow,
  type GenericCongAvoidOptions,
  type GenericCongAvoidState,
  type ReportingMode,
  type WindowMeasurements,
} from './algorithms/generic-cong-avoid.js'
export { Reno, RenoWindow } from './algorithms/reno.js'
export { AgentError, ProgramError, type AgentErrorCode, type ProgramErrorCode } from './errors.js'
export { Flow, type CongestionAlgorithm, type FlowInfo, type Report } from './flow.js'
export { compileProgram, type CompiledProgram, type CompileOptions, type UpdatableRegister, type VariableInfo } from './program.js'
