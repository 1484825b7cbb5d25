/**
 * `@mtcp/libccp`: the CCP datapath in TypeScript, wire-compatible with the portus agent and the C libccp.
 * The wire codec ({@link encodeMessage}, {@link decodeMessage}), the program table, the per-ACK program
 * machine (interpreted, and compiled to JavaScript), staged updates and program changes, and a fallback to
 * the caller's native congestion control while the agent is absent. No I/O and no clock of its own.
 * This file is the public API: named re-exports only.
 * @packageDocumentation
 */
export {
  Connection,
  Datapath,
  type ConnectionInfo,
  type DatapathCallbacks,
  type DatapathOptions,
  type DatapathStats,
  type LogLevel,
} from './datapath.js'
export { CcpError, type CcpErrorCode } from './errors.js'
export { createMeasurements, type Measurements } from './measurements.js'
export type { CcpTransport } from './transport.js'
export {
  compileProgram,
  interpretProgram,
  Program,
  ProgramStatus,
  type ProgramFunction,
  type ProgramOptions,
} from './program.js'
export {
  CONG_ALG_BYTES,
  CREATE_IPV6_MAX_CONG_ALG,
  CREATE_IPV6_PLACEHOLDER,
  CREATE_IPV6_TRAILER_OFFSET,
  CREATE_LENGTH,
  decodeMessage,
  encodedLength,
  encodeMessage,
  encodeMessageInto,
  EXPRESSION_LENGTH,
  HEADER_LENGTH,
  IMPLICIT_REGISTERS,
  Implicit,
  INSTRUCTION_LENGTH,
  MAX_CONTROL_REGISTERS,
  MAX_DATAPATH_MESSAGE,
  MAX_EXPRESSIONS,
  MAX_INSTRUCTIONS,
  MAX_LOCAL_REGISTERS,
  MAX_REPORT_REGISTERS,
  MAX_TMP_REGISTERS,
  MAX_UPDATES,
  MessageType,
  Opcode,
  Primitive,
  PRIMITIVE_REGISTERS,
  READY_LENGTH,
  readHeader,
  RegType,
  U32_MAX,
  U64_LIMIT,
  UPDATE_FIELD_LENGTH,
  type CcpMessage,
  type ChangeProgMessage,
  type CreateMessage,
  type Expression,
  type InstallExprMessage,
  type Instruction,
  type MeasureMessage,
  type MessageHeader,
  type ReadyMessage,
  type UpdateField,
  type UpdateFieldsMessage,
} from './wire.js'
