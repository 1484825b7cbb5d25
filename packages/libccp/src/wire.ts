/**
 * The CCP wire format: the six messages between a datapath and a CCP agent (portus ≥ 0.6, libccp), their
 * encoder and their checked decoder.
 *
 * The framing, registers and opcodes of libccp (ccp-project/libccp: `serialize.h`, `machine.h`) and
 * portus 0.8.0: one message per unix datagram, little-endian throughout, an 8-byte
 * header `type u16 @0, len u16 @2 (whole message), sid u32 @4`.
 *
 * Numbers, not bigints (docs/decisions/0007): u64 fields are JavaScript numbers, exact below 2^53. The u64
 * maximum 2^64 − 1 reads as 2^64 (the nearest double), and 2^64 encodes as all ones.
 * @module
 */
import { CcpError } from './errors.js'

// ---------------------------------------------------------------------------------------------------------
// Named constants (portus's numbering)

/** Message types (header `type`). */
export const MessageType = {
  /** datapath → agent: a new flow (96 bytes). */
  Create: 0,
  /** datapath → agent: a report of the flow's report registers; no fields means the flow closed. */
  Measure: 1,
  /** agent → datapath: a program for the program table. */
  InstallExpr: 2,
  /** agent → datapath: new values for a flow's control registers, Cwnd or Rate, applied at its next invoke. */
  UpdateFields: 3,
  /** agent → datapath: switch a flow to an installed program (plus updates), applied at its next invoke. */
  ChangeProg: 4,
  /** datapath → agent: the datapath started; the agent answers with its INSTALLs. */
  Ready: 5,
} as const
/** A message type number, 0–5. */
export type MessageType = (typeof MessageType)[keyof typeof MessageType]

/** Instruction opcodes (libccp's numbering; 15 and above are rejected). */
export const Opcode = {
  /** res = left + right; past 2^64 − 1 is an error. */
  Add: 0,
  /** res = right. */
  Bind: 1,
  /** Install-time default: register `left` starts at immediate `right`; a no-op when run. */
  Def: 2,
  /** res = ⌊left / right⌋; right = 0 is an error. */
  Div: 3,
  /** res = left == right ? 1 : 0. */
  Equiv: 4,
  /** res = (left·res + (10 − left)·right) / 10, or right when res is 0. */
  Ewma: 5,
  /** res = left > right ? 1 : 0. */
  Gt: 6,
  /** res = right if left ≠ 0. */
  If: 7,
  /** res = left < right ? 1 : 0. */
  Lt: 8,
  /** res = max(left, right). */
  Max: 9,
  /** res = the later of left and right under u32 wraparound. */
  MaxWrap: 10,
  /** res = min(left, right). */
  Min: 11,
  /** res = left × right; past 2^64 − 1 is an error. */
  Mul: 12,
  /** res = right if left = 0. */
  NotIf: 13,
  /** res = left − right; below 0 is an error. */
  Sub: 14,
} as const
/** An opcode number, 0–14. */
export type Opcode = (typeof Opcode)[keyof typeof Opcode]

/** Register types (libccp's numbering). */
export const RegType = {
  /** Non-volatile control register: set by DEF at a program change and by the agent's updates; kept across reports. */
  NonVolatileControl: 0,
  /** Immediate: the u32 operand itself (0xFFFFFFFF is "+infinity"); never a result. */
  Immediate: 1,
  /** Implicit register, see {@link Implicit}. */
  Implicit: 2,
  /** Local variable of the program. */
  Local: 3,
  /** Primitive (a measurement of the current ACK or flow, see {@link Primitive}); read-only. */
  Primitive: 4,
  /** Volatile report register: reported, then reset to its DEF. */
  VolatileReport: 5,
  /** Non-volatile report register: reported, kept. */
  NonVolatileReport: 6,
  /** Temporary register of an expression (portus uses indices up to 15). */
  Tmp: 7,
  /** Volatile control register: reset to its DEF after each report. */
  VolatileControl: 8,
} as const
/** A register type number, 0–8. */
export type RegType = (typeof RegType)[keyof typeof RegType]

/** Indices of the implicit registers (register type {@link RegType.Implicit}). */
export const Implicit = {
  /** The condition's result: set by a `when` condition's last instruction. Reset every invoke. */
  EventFlag: 0,
  /** `(fallthrough)`: go on with the next expression. Reset every invoke. */
  ShouldContinue: 1,
  /** `(report)`: send a MEASURE after the program. Reset every invoke. */
  ShouldReport: 2,
  /** µs since the program's time zero; writing it moves the time zero. */
  Micros: 3,
  /** The flow's congestion window in bytes. */
  Cwnd: 4,
  /** The flow's pacing rate in bytes per second. */
  Rate: 5,
} as const
/** An implicit register index, 0–5. */
export type Implicit = (typeof Implicit)[keyof typeof Implicit]

/** Indices of the primitive registers (register type {@link RegType.Primitive}), alphabetical as in portus. */
export const Primitive = {
  /** Bytes newly acknowledged by this ACK. */
  AckBytesAcked: 0,
  /** Bytes newly SACKed out of order. */
  AckBytesMisordered: 1,
  /** Bytes newly acknowledged with ECN marks. */
  AckEcnBytes: 2,
  /** Packets newly acknowledged with ECN marks. */
  AckEcnPackets: 3,
  /** Packets newly detected lost. */
  AckLostPktsSample: 4,
  /** µs since the datapath started. */
  AckNow: 5,
  /** Packets newly acknowledged. */
  AckPacketsAcked: 6,
  /** Packets newly SACKed out of order. */
  AckPacketsMisordered: 7,
  /** Bytes in flight. */
  FlowBytesInFlight: 8,
  /** Bytes waiting to be sent (absolute, not a delta). */
  FlowBytesPending: 9,
  /** Packets in flight. */
  FlowPacketsInFlight: 10,
  /** Receive rate, bytes/s. */
  FlowRateIncoming: 11,
  /** Send rate, bytes/s. */
  FlowRateOutgoing: 12,
  /** This ACK's RTT sample in µs; a sample of 0 (none) reads as 0xFFFFFFFF. */
  FlowRttSampleUs: 13,
  /** 1 after a retransmission timeout, else 0. */
  FlowWasTimeout: 14,
} as const
/** A primitive register index, 0–14. */
export type Primitive = (typeof Primitive)[keyof typeof Primitive]

// ---------------------------------------------------------------------------------------------------------
// Sizes and limits

/** The header: `type u16, len u16, sid u32`. */
export const HEADER_LENGTH = 8
/** CREATE is exactly 96 bytes (the 32-byte CREATE of 2018 libccp crashes portus 0.8). */
export const CREATE_LENGTH = 96
/** READY is exactly 12 bytes. */
export const READY_LENGTH = 12
/** Bytes of CREATE's NUL-terminated congestion-control name; at most 63 characters. */
export const CONG_ALG_BYTES = 64
/**
 * What an IPv6 flow's CREATE carries in its two u32 address fields: 127.0.0.6, the IPv4 address Linux
 * gives the IPv4 fields of an IPv6 TCP socket (`LOOPBACK4_IPV6`), so an agent sees what the kernel's CCP
 * datapath sends for an IPv6 flow. The real addresses follow in the IPv6 trailer (decision record 0080).
 */
export const CREATE_IPV6_PLACEHOLDER = 0x7f000006
/** Where CREATE's IPv6 trailer starts in the message: its 4-byte marker, then source and destination (16 bytes each) at 64 and 80. */
export const CREATE_IPV6_TRAILER_OFFSET = 60
/** The longest congAlg, in bytes of UTF-8, that leaves room for the IPv6 trailer (its NUL must come before the marker). */
export const CREATE_IPV6_MAX_CONG_ALG = CREATE_IPV6_TRAILER_OFFSET - 32 - 1
/** The trailer's marker: "ip6" and version 1. */
const IPV6_TRAILER_MARKER = [0x69, 0x70, 0x36, 0x01] as const
/** Bytes of one expression in INSTALL_EXPR. */
export const EXPRESSION_LENGTH = 16
/** Bytes of one packed instruction in INSTALL_EXPR. */
export const INSTRUCTION_LENGTH = 16
/** Bytes of one packed update field in UPDATE_FIELDS and CHANGE_PROG. */
export const UPDATE_FIELD_LENGTH = 13
/** The largest message the datapath may send to the agent (portus's receive buffer). */
export const MAX_DATAPATH_MESSAGE = 1024
/** Most expressions in one program (libccp's MAX_EXPRESSIONS). */
export const MAX_EXPRESSIONS = 256
/** Most instructions in one program (libccp's MAX_INSTRUCTIONS). */
export const MAX_INSTRUCTIONS = 256
/** Report registers per flow (libccp's MAX_REPORT_REG); also the most fields of a MEASURE. */
export const MAX_REPORT_REGISTERS = 110
/** Control registers per flow (libccp's MAX_CONTROL_REG), volatile and non-volatile share them. */
export const MAX_CONTROL_REGISTERS = 110
/** Local registers per flow (libccp's MAX_LOCAL_REG). */
export const MAX_LOCAL_REGISTERS = 8
/** Tmp registers per flow: portus uses indices up to 15 (libccp's 8 is too few). */
export const MAX_TMP_REGISTERS = 16
/** Implicit registers. */
export const IMPLICIT_REGISTERS = 6
/** Primitive registers. */
export const PRIMITIVE_REGISTERS = 15
/** Most updates in one UPDATE_FIELDS or CHANGE_PROG (libccp's MAX_MUTABLE_REG). */
export const MAX_UPDATES = 222
/** 2^64 as a double: the u64 maximum 2^64 − 1 rounds to it. */
export const U64_LIMIT = 18446744073709551616
/** The "+infinity" immediate. */
export const U32_MAX = 0xffffffff

// ---------------------------------------------------------------------------------------------------------
// Messages

/** One `when` clause: its condition and its body as ranges of the program's instruction array. */
export interface Expression {
  /** Index of the condition's first instruction. */
  condStart: number
  /** Number of condition instructions. */
  condLength: number
  /** Index of the body's first instruction. */
  eventStart: number
  /** Number of body instructions. */
  eventLength: number
}

/** One instruction: `res := op(left, right)`; each operand is a register type and an index (or, for an immediate, the value). */
export interface Instruction {
  opcode: Opcode
  resType: RegType
  resIndex: number
  leftType: RegType
  left: number
  rightType: RegType
  right: number
}

/** One update: register `regType`/`regIndex` := `value` (a u64). */
export interface UpdateField {
  regType: RegType
  regIndex: number
  value: number
}

/** CREATE (type 0, datapath → agent, 96 bytes): a new flow. */
export interface CreateMessage {
  type: typeof MessageType.Create
  sid: number
  /** Initial congestion window in bytes. */
  initCwnd: number
  mss: number
  /**
   * The flow's local IPv4 address as a number in host order (10.0.0.1 is `0x0a000001`). On the wire the
   * u32 field at offset 16 holds it in **network byte order** (bytes 10 0 0 1), as the Linux kernel's CCP
   * module sends `inet_saddr`.
   */
  srcIp: number
  /**
   * The local port (0–65535). On the wire the u32 field at offset 20 holds it as the kernel's CCP module
   * sends `inet_sport`: the 16-bit port in network byte order, then two zero bytes.
   */
  srcPort: number
  /** The remote IPv4 address, host order; network byte order at offset 24 (see {@link srcIp}). */
  dstIp: number
  /** The remote port; network byte order at offset 28 (see {@link srcPort}). */
  dstPort: number
  /**
   * The algorithm the datapath asks for, e.g. `"reno"`; at most 63 bytes of UTF-8 (27 with the IPv6
   * trailer, {@link CREATE_IPV6_MAX_CONG_ALG}).
   */
  congAlg: string
  /**
   * An IPv6 flow's local address, 16 bytes, present with {@link dstIp6} or not at all. The CREATE format has
   * only u32 address fields (they then hold {@link CREATE_IPV6_PLACEHOLDER}); the 16-byte addresses travel
   * in a trailer at the end of the congAlg field, after its NUL, where portus and libccp read nothing
   * (they stop at the NUL): a 4-byte marker at offset 60, the source at 64 and the destination at 80
   * (decision record 0080). Absent for IPv4 flows, whose bytes are unchanged.
   */
  srcIp6?: Uint8Array
  /** An IPv6 flow's remote address, 16 bytes (see {@link srcIp6}). */
  dstIp6?: Uint8Array
}

/** MEASURE (type 1, datapath → agent): the report registers, in register order. No fields: the flow closed. */
export interface MeasureMessage {
  type: typeof MessageType.Measure
  sid: number
  programUid: number
  /** u64 values; at most {@link MAX_REPORT_REGISTERS}. */
  fields: number[]
}

/** INSTALL_EXPR (type 2, agent → datapath): a program for the table. A uid of 1 clears the table first. */
export interface InstallExprMessage {
  type: typeof MessageType.InstallExpr
  /** 0 from a live agent. */
  sid: number
  programUid: number
  expressions: Expression[]
  instructions: Instruction[]
}

/** UPDATE_FIELDS (type 3, agent → datapath): staged, applied at the flow's next invoke. */
export interface UpdateFieldsMessage {
  type: typeof MessageType.UpdateFields
  sid: number
  updates: UpdateField[]
}

/** CHANGE_PROG (type 4, agent → datapath): switch the flow to `programUid`, then apply `updates`; staged. */
export interface ChangeProgMessage {
  type: typeof MessageType.ChangeProg
  sid: number
  programUid: number
  updates: UpdateField[]
}

/** READY (type 5, datapath → agent, 12 bytes): the datapath started; sid is 0. */
export interface ReadyMessage {
  type: typeof MessageType.Ready
  sid: number
  /** The datapath's id. */
  id: number
}

/** Any CCP message, discriminated by `type`. */
export type CcpMessage =
  | CreateMessage
  | MeasureMessage
  | InstallExprMessage
  | UpdateFieldsMessage
  | ChangeProgMessage
  | ReadyMessage

/** The 8-byte header. */
export interface MessageHeader {
  type: number
  /** The whole message's length in bytes, header included. */
  length: number
  sid: number
}

// ---------------------------------------------------------------------------------------------------------
// Little-endian access without DataView (any byteOffset, no allocation)

/** @internal */
export function readU16(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8)
}
/** @internal */
export function readU32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0
}
/** @internal */
export function readU64(bytes: Uint8Array, at: number): number {
  return readU32(bytes, at) + readU32(bytes, at + 4) * 4294967296
}
/** A u32 in network byte order (big-endian). @internal */
/** Whether a CREATE's bytes 60..63 hold the IPv6 trailer's marker. */
function hasIpv6Trailer(bytes: Uint8Array): boolean {
  const at = CREATE_IPV6_TRAILER_OFFSET
  return bytes[at] === IPV6_TRAILER_MARKER[0] && bytes[at + 1] === IPV6_TRAILER_MARKER[1] && bytes[at + 2] === IPV6_TRAILER_MARKER[2] && bytes[at + 3] === IPV6_TRAILER_MARKER[3]
}

function readU32BE(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) >>> 0) + (bytes[at + 1]! << 16) + (bytes[at + 2]! << 8) + bytes[at + 3]!
}

/** A 16-bit port in network byte order (CREATE's port fields; the two bytes after it are padding). @internal */
function readU16BE(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!
}

function writeU32BE(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value >>> 24
  bytes[at + 1] = (value >>> 16) & 0xff
  bytes[at + 2] = (value >>> 8) & 0xff
  bytes[at + 3] = value & 0xff
}

/** A port as the kernel's `__be16` in a u32: two bytes of network order, two zero bytes. */
function writePortBE(bytes: Uint8Array, at: number, port: number): void {
  bytes[at] = port >>> 8
  bytes[at + 1] = port & 0xff
  bytes[at + 2] = 0
  bytes[at + 3] = 0
}

/** @internal */
export function writeU16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff
  bytes[at + 1] = (value >>> 8) & 0xff
}
/** @internal */
export function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = value & 0xff
  bytes[at + 1] = (value >>> 8) & 0xff
  bytes[at + 2] = (value >>> 16) & 0xff
  bytes[at + 3] = (value >>> 24) & 0xff
}
/** Write a u64 held in a number: 2^64 (the rounded u64 maximum) and above as all ones. @internal */
export function writeU64(bytes: Uint8Array, at: number, value: number): void {
  if (value >= U64_LIMIT) {
    writeU32(bytes, at, U32_MAX)
    writeU32(bytes, at + 4, U32_MAX)
    return
  }
  const high = Math.floor(value / 4294967296)
  writeU32(bytes, at, value - high * 4294967296)
  writeU32(bytes, at + 4, high)
}

// ---------------------------------------------------------------------------------------------------------
// Register checks shared by the decoder and the encoder

/**
 * How many registers of a type exist (indices must be below it); `Infinity` for an immediate, whose
 * "index" is its value. -1 for a type that does not exist.
 * @internal
 */
export function registerBankSize(type: number): number {
  switch (type) {
    case RegType.NonVolatileControl:
    case RegType.VolatileControl:
      return MAX_CONTROL_REGISTERS
    case RegType.Immediate:
      return Number.POSITIVE_INFINITY
    case RegType.Implicit:
      return IMPLICIT_REGISTERS
    case RegType.Local:
      return MAX_LOCAL_REGISTERS
    case RegType.Primitive:
      return PRIMITIVE_REGISTERS
    case RegType.VolatileReport:
    case RegType.NonVolatileReport:
      return MAX_REPORT_REGISTERS
    case RegType.Tmp:
      return MAX_TMP_REGISTERS
    default:
      return -1
  }
}

function checkOperand(what: string, index: number, type: number, value: number): void {
  const size = registerBankSize(type)
  if (size < 0) throw new CcpError('ERR_CCP_REGISTER', `instruction ${index}: ${what} register type ${type} is not 0–8`)
  if (value >= size) {
    throw new CcpError('ERR_CCP_REGISTER', `instruction ${index}: ${what} register ${type}:${value} is outside its bank of ${size}`)
  }
}

/** libccp `read_instruction`: opcode < 15, result neither immediate nor primitive, every register in its bank. */
function checkInstruction(instruction: Instruction, index: number): void {
  if (instruction.opcode >= 15) throw new CcpError('ERR_CCP_OPCODE', `instruction ${index}: opcode ${instruction.opcode} is not 0–14`)
  if (instruction.resType === RegType.Immediate || instruction.resType === RegType.Primitive) {
    throw new CcpError('ERR_CCP_REGISTER', `instruction ${index}: the result may not be an immediate or a primitive (type ${instruction.resType})`)
  }
  checkOperand('result', index, instruction.resType, instruction.resIndex)
  checkOperand('left', index, instruction.leftType, instruction.left)
  checkOperand('right', index, instruction.rightType, instruction.right)
}

function checkExpression(expression: Expression, index: number, instructionCount: number): void {
  // libccp runs instructions [start, start + count) of the whole array: both ranges must lie inside it.
  if (expression.condStart + expression.condLength > instructionCount || expression.eventStart + expression.eventLength > instructionCount) {
    throw new CcpError(
      'ERR_CCP_RANGE',
      `expression ${index}: condition [${expression.condStart}, +${expression.condLength}) or body [${expression.eventStart}, +${expression.eventLength}) runs past ${instructionCount} instructions`,
    )
  }
}

/**
 * An update may set a control register (volatile or not) or an implicit register (libccp applies Cwnd and
 * Rate and ignores the others); nothing else (libccp `stage_update` fails on other types).
 */
function checkUpdate(update: UpdateField, index: number): void {
  const type = update.regType
  if (type === RegType.NonVolatileControl || type === RegType.VolatileControl) {
    if (update.regIndex < MAX_CONTROL_REGISTERS) return
  } else if (type === RegType.Implicit) {
    if (update.regIndex < IMPLICIT_REGISTERS) return
  } else {
    throw new CcpError('ERR_CCP_REGISTER', `update ${index}: register type ${type} cannot be updated (only control 0/8 and implicit 2)`)
  }
  throw new CcpError('ERR_CCP_REGISTER', `update ${index}: register ${type}:${update.regIndex} is outside its bank of ${registerBankSize(type)}`)
}

// ---------------------------------------------------------------------------------------------------------
// Decoding

/**
 * Read the 8-byte header without checking anything else; `undefined` when there are fewer than 8 bytes.
 * Never throws.
 */
export function readHeader(bytes: Uint8Array): MessageHeader | undefined {
  if (!(bytes instanceof Uint8Array) || bytes.length < HEADER_LENGTH) return undefined
  return { type: readU16(bytes, 0), length: readU16(bytes, 2), sid: readU32(bytes, 4) }
}

const utf8Decoder = new TextDecoder('utf-8')
const utf8Encoder = new TextEncoder()

function truncated(what: string, need: number, have: number): CcpError {
  return new CcpError('ERR_CCP_TRUNCATED', `${what} needs at least ${need} bytes, got ${have}`)
}

function decodeUpdates(bytes: Uint8Array, at: number, count: number): UpdateField[] {
  const updates: UpdateField[] = new Array(count)
  for (let i = 0; i < count; i++, at += UPDATE_FIELD_LENGTH) {
    const update: UpdateField = { regType: bytes[at]! as RegType, regIndex: readU32(bytes, at + 1), value: readU64(bytes, at + 5) }
    checkUpdate(update, i)
    updates[i] = update
  }
  return updates
}

/**
 * Decode one datagram into a message, checking every count against the length: nothing is read outside
 * `bytes`, and anything that does not add up throws a {@link CcpError} (and only that) with a stable code.
 *
 * The header's `len` must equal `bytes.length` (one message per datagram). INSTALL_EXPR is checked as libccp
 * installs it (opcodes, register types and banks, expression ranges), so a decoded program is safe to run.
 *
 * @throws {CcpError} `ERR_CCP_TRUNCATED`, `ERR_CCP_LENGTH`, `ERR_CCP_TYPE`, `ERR_CCP_COUNT`,
 *   `ERR_CCP_OPCODE`, `ERR_CCP_REGISTER`, `ERR_CCP_RANGE` or `ERR_CCP_STRING`.
 */
export function decodeMessage(bytes: Uint8Array): CcpMessage {
  if (!(bytes instanceof Uint8Array)) throw new CcpError('ERR_CCP_VALUE', 'decodeMessage takes a Uint8Array')
  if (bytes.length < HEADER_LENGTH) throw truncated('a CCP header', HEADER_LENGTH, bytes.length)
  const type = readU16(bytes, 0)
  const length = readU16(bytes, 2)
  const sid = readU32(bytes, 4)
  if (type > MessageType.Ready) throw new CcpError('ERR_CCP_TYPE', `message type ${type} is not 0–5`)
  if (length > bytes.length) throw truncated(`a message whose header says len ${length}`, length, bytes.length)
  if (length !== bytes.length) {
    throw new CcpError('ERR_CCP_LENGTH', `header len ${length} is not the datagram's ${bytes.length} bytes`)
  }
  switch (type) {
    case MessageType.Create: {
      if (length !== CREATE_LENGTH) throw new CcpError('ERR_CCP_LENGTH', `CREATE is ${CREATE_LENGTH} bytes, got ${length}`)
      const name = bytes.subarray(32, 32 + CONG_ALG_BYTES)
      const end = name.indexOf(0)
      if (end < 0) throw new CcpError('ERR_CCP_STRING', 'CREATE congAlg is not NUL-terminated within its 64 bytes')
      const create: CreateMessage = {
        type: MessageType.Create,
        sid,
        initCwnd: readU32(bytes, 8),
        mss: readU32(bytes, 12),
        srcIp: readU32BE(bytes, 16),
        srcPort: readU16BE(bytes, 20),
        dstIp: readU32BE(bytes, 24),
        dstPort: readU16BE(bytes, 28),
        congAlg: utf8Decoder.decode(name.subarray(0, end)),
      }
      // Decision 0080: the IPv6 trailer, only where the name's NUL comes before the marker.
      if (32 + end < CREATE_IPV6_TRAILER_OFFSET && hasIpv6Trailer(bytes)) {
        // Copies into plain Uint8Arrays (a Buffer's slice would be a view of the receive buffer).
        create.srcIp6 = new Uint8Array(bytes.subarray(CREATE_IPV6_TRAILER_OFFSET + 4, CREATE_IPV6_TRAILER_OFFSET + 20))
        create.dstIp6 = new Uint8Array(bytes.subarray(CREATE_IPV6_TRAILER_OFFSET + 20, CREATE_IPV6_TRAILER_OFFSET + 36))
      }
      return create
    }
    case MessageType.Measure: {
      if (length < 16) throw truncated('MEASURE', 16, length)
      const programUid = readU32(bytes, 8)
      const count = readU32(bytes, 12)
      if (count > MAX_REPORT_REGISTERS) throw new CcpError('ERR_CCP_COUNT', `MEASURE num_fields ${count} is over ${MAX_REPORT_REGISTERS}`)
      if (length !== 16 + 8 * count) throw new CcpError('ERR_CCP_COUNT', `MEASURE with ${count} fields is ${16 + 8 * count} bytes, len says ${length}`)
      const fields: number[] = new Array(count)
      for (let i = 0; i < count; i++) fields[i] = readU64(bytes, 16 + 8 * i)
      return { type: MessageType.Measure, sid, programUid, fields }
    }
    case MessageType.InstallExpr: {
      if (length < 20) throw truncated('INSTALL_EXPR', 20, length)
      const programUid = readU32(bytes, 8)
      const expressionCount = readU32(bytes, 12)
      const instructionCount = readU32(bytes, 16)
      if (expressionCount > MAX_EXPRESSIONS || instructionCount > MAX_INSTRUCTIONS) {
        throw new CcpError(
          'ERR_CCP_COUNT',
          `INSTALL_EXPR has ${expressionCount} expressions and ${instructionCount} instructions; at most ${MAX_EXPRESSIONS} and ${MAX_INSTRUCTIONS}`,
        )
      }
      const expected = 20 + EXPRESSION_LENGTH * expressionCount + INSTRUCTION_LENGTH * instructionCount
      if (length !== expected) {
        throw new CcpError('ERR_CCP_COUNT', `INSTALL_EXPR with ${expressionCount} expressions and ${instructionCount} instructions is ${expected} bytes, len says ${length}`)
      }
      const instructions: Instruction[] = new Array(instructionCount)
      let at = 20 + EXPRESSION_LENGTH * expressionCount
      for (let i = 0; i < instructionCount; i++, at += INSTRUCTION_LENGTH) {
        // Packed: opcode u8 @0, res_type u8 @1, res_idx u32 @2, left_type u8 @6, left u32 @7, right_type u8 @11, right u32 @12.
        const instruction: Instruction = {
          opcode: bytes[at]! as Opcode,
          resType: bytes[at + 1]! as RegType,
          resIndex: readU32(bytes, at + 2),
          leftType: bytes[at + 6]! as RegType,
          left: readU32(bytes, at + 7),
          rightType: bytes[at + 11]! as RegType,
          right: readU32(bytes, at + 12),
        }
        checkInstruction(instruction, i)
        instructions[i] = instruction
      }
      const expressions: Expression[] = new Array(expressionCount)
      at = 20
      for (let i = 0; i < expressionCount; i++, at += EXPRESSION_LENGTH) {
        const expression: Expression = {
          condStart: readU32(bytes, at),
          condLength: readU32(bytes, at + 4),
          eventStart: readU32(bytes, at + 8),
          eventLength: readU32(bytes, at + 12),
        }
        checkExpression(expression, i, instructionCount)
        expressions[i] = expression
      }
      return { type: MessageType.InstallExpr, sid, programUid, expressions, instructions }
    }
    case MessageType.UpdateFields: {
      if (length < 12) throw truncated('UPDATE_FIELDS', 12, length)
      const count = readU32(bytes, 8)
      if (count > MAX_UPDATES) throw new CcpError('ERR_CCP_COUNT', `UPDATE_FIELDS num_updates ${count} is over ${MAX_UPDATES}`)
      if (length !== 12 + UPDATE_FIELD_LENGTH * count) {
        throw new CcpError('ERR_CCP_COUNT', `UPDATE_FIELDS with ${count} updates is ${12 + UPDATE_FIELD_LENGTH * count} bytes, len says ${length}`)
      }
      return { type: MessageType.UpdateFields, sid, updates: decodeUpdates(bytes, 12, count) }
    }
    case MessageType.ChangeProg: {
      if (length < 16) throw truncated('CHANGE_PROG', 16, length)
      const programUid = readU32(bytes, 8)
      const count = readU32(bytes, 12)
      if (count > MAX_UPDATES) throw new CcpError('ERR_CCP_COUNT', `CHANGE_PROG num_updates ${count} is over ${MAX_UPDATES}`)
      if (length !== 16 + UPDATE_FIELD_LENGTH * count) {
        throw new CcpError('ERR_CCP_COUNT', `CHANGE_PROG with ${count} updates is ${16 + UPDATE_FIELD_LENGTH * count} bytes, len says ${length}`)
      }
      return { type: MessageType.ChangeProg, sid, programUid, updates: decodeUpdates(bytes, 16, count) }
    }
    default: {
      if (length !== READY_LENGTH) throw new CcpError('ERR_CCP_LENGTH', `READY is ${READY_LENGTH} bytes, got ${length}`)
      return { type: MessageType.Ready, sid, id: readU32(bytes, 8) }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Encoding

function checkInteger(field: string, value: unknown, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new CcpError('ERR_CCP_VALUE', `${field} must be an integer in [0, ${max}], got ${String(value)}`)
  }
}

function checkU64(field: string, value: unknown): void {
  // 2^64 is accepted: it is what the u64 maximum 2^64 − 1 becomes in a double.
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > U64_LIMIT) {
    throw new CcpError('ERR_CCP_VALUE', `${field} must be an integer in [0, 2^64 − 1], got ${String(value)}`)
  }
}

function checkList(field: string, value: unknown, max: number): asserts value is unknown[] {
  if (!Array.isArray(value)) throw new CcpError('ERR_CCP_VALUE', `${field} must be an array`)
  if (value.length > max) throw new CcpError('ERR_CCP_COUNT', `${field} has ${value.length} entries; at most ${max}`)
}

function checkUpdateValues(updates: unknown[], field: string): void {
  for (let i = 0; i < updates.length; i++) {
    const update = updates[i] as UpdateField
    if (typeof update !== 'object' || update === null) throw new CcpError('ERR_CCP_VALUE', `${field}[${i}] must be an object`)
    checkInteger(`${field}[${i}].regType`, update.regType, 0xff)
    checkInteger(`${field}[${i}].regIndex`, update.regIndex, U32_MAX)
    checkU64(`${field}[${i}].value`, update.value)
    checkUpdate(update, i)
  }
}

/** The bytes `message` encodes to (after checking it). */
function checkedLength(message: CcpMessage): number {
  if (typeof message !== 'object' || message === null) throw new CcpError('ERR_CCP_VALUE', 'a message must be an object')
  checkInteger('sid', message.sid, U32_MAX)
  switch (message.type) {
    case MessageType.Create: {
      for (const field of ['initCwnd', 'mss', 'srcIp', 'dstIp'] as const) checkInteger(field, message[field], U32_MAX)
      for (const field of ['srcPort', 'dstPort'] as const) checkInteger(field, message[field], 0xffff)
      if (typeof message.congAlg !== 'string') throw new CcpError('ERR_CCP_STRING', 'congAlg must be a string')
      if (message.congAlg.includes('\0')) throw new CcpError('ERR_CCP_STRING', 'congAlg may not contain NUL')
      const size = utf8Encoder.encode(message.congAlg).length
      if (size > CONG_ALG_BYTES - 1) throw new CcpError('ERR_CCP_STRING', `congAlg is ${size} bytes of UTF-8; at most ${CONG_ALG_BYTES - 1}`)
      if (message.srcIp6 !== undefined || message.dstIp6 !== undefined) {
        for (const field of ['srcIp6', 'dstIp6'] as const) {
          const address = message[field]
          if (!(address instanceof Uint8Array) || address.length !== 16) {
            throw new CcpError('ERR_CCP_VALUE', `${field} must be a 16-byte Uint8Array (an IPv6 CREATE has both srcIp6 and dstIp6)`)
          }
        }
        if (size > CREATE_IPV6_MAX_CONG_ALG) {
          throw new CcpError('ERR_CCP_STRING', `congAlg is ${size} bytes of UTF-8; an IPv6 CREATE leaves room for at most ${CREATE_IPV6_MAX_CONG_ALG} before its address trailer`)
        }
      }
      return CREATE_LENGTH
    }
    case MessageType.Measure: {
      checkInteger('programUid', message.programUid, U32_MAX)
      checkList('fields', message.fields, MAX_REPORT_REGISTERS)
      for (let i = 0; i < message.fields.length; i++) checkU64(`fields[${i}]`, message.fields[i])
      return 16 + 8 * message.fields.length
    }
    case MessageType.InstallExpr: {
      checkInteger('programUid', message.programUid, U32_MAX)
      checkList('expressions', message.expressions, MAX_EXPRESSIONS)
      checkList('instructions', message.instructions, MAX_INSTRUCTIONS)
      for (let i = 0; i < message.instructions.length; i++) {
        const instruction = message.instructions[i] as Instruction
        if (typeof instruction !== 'object' || instruction === null) throw new CcpError('ERR_CCP_VALUE', `instructions[${i}] must be an object`)
        for (const field of ['opcode', 'resType', 'leftType', 'rightType'] as const) checkInteger(`instructions[${i}].${field}`, instruction[field], 0xff)
        for (const field of ['resIndex', 'left', 'right'] as const) checkInteger(`instructions[${i}].${field}`, instruction[field], U32_MAX)
        checkInstruction(instruction, i)
      }
      for (let i = 0; i < message.expressions.length; i++) {
        const expression = message.expressions[i] as Expression
        if (typeof expression !== 'object' || expression === null) throw new CcpError('ERR_CCP_VALUE', `expressions[${i}] must be an object`)
        for (const field of ['condStart', 'condLength', 'eventStart', 'eventLength'] as const) {
          checkInteger(`expressions[${i}].${field}`, expression[field], U32_MAX)
        }
        checkExpression(expression, i, message.instructions.length)
      }
      return 20 + EXPRESSION_LENGTH * message.expressions.length + INSTRUCTION_LENGTH * message.instructions.length
    }
    case MessageType.UpdateFields:
      checkList('updates', message.updates, MAX_UPDATES)
      checkUpdateValues(message.updates, 'updates')
      return 12 + UPDATE_FIELD_LENGTH * message.updates.length
    case MessageType.ChangeProg:
      checkInteger('programUid', message.programUid, U32_MAX)
      checkList('updates', message.updates, MAX_UPDATES)
      checkUpdateValues(message.updates, 'updates')
      return 16 + UPDATE_FIELD_LENGTH * message.updates.length
    case MessageType.Ready:
      checkInteger('id', message.id, U32_MAX)
      return READY_LENGTH
    default:
      throw new CcpError('ERR_CCP_TYPE', `message type ${String((message as { type: unknown }).type)} is not 0–5`)
  }
}

function writeUpdates(target: Uint8Array, at: number, updates: UpdateField[]): void {
  for (const update of updates) {
    target[at] = update.regType
    writeU32(target, at + 1, update.regIndex)
    writeU64(target, at + 5, update.value)
    at += UPDATE_FIELD_LENGTH
  }
}

/** The encoded size of `message` in bytes (after checking it as {@link encodeMessage} does). */
export function encodedLength(message: CcpMessage): number {
  return checkedLength(message)
}

/**
 * Encode `message` into `target` at `offset`; returns the number of bytes written. Every byte of the
 * message is written (CREATE's name is NUL-padded), so a reused buffer leaks nothing.
 * @throws {CcpError} as {@link encodeMessage}, or `ERR_INVALID_CONFIG` when `target` is too small.
 */
export function encodeMessageInto(message: CcpMessage, target: Uint8Array, offset = 0): number {
  const length = checkedLength(message)
  if (!(target instanceof Uint8Array) || !Number.isInteger(offset) || offset < 0 || offset + length > target.length) {
    throw new CcpError('ERR_INVALID_CONFIG', `target needs ${length} bytes from offset ${String(offset)}`)
  }
  const bytes = target.subarray(offset, offset + length)
  writeU16(bytes, 0, message.type)
  writeU16(bytes, 2, length)
  writeU32(bytes, 4, message.sid)
  switch (message.type) {
    case MessageType.Create: {
      writeU32(bytes, 8, message.initCwnd)
      writeU32(bytes, 12, message.mss)
      // Addresses and ports in network byte order, as the Linux kernel's CCP module sends them.
      writeU32BE(bytes, 16, message.srcIp)
      writePortBE(bytes, 20, message.srcPort)
      writeU32BE(bytes, 24, message.dstIp)
      writePortBE(bytes, 28, message.dstPort)
      const name = bytes.subarray(32, 32 + CONG_ALG_BYTES)
      name.fill(0)
      utf8Encoder.encodeInto(message.congAlg, name)
      if (message.srcIp6 !== undefined && message.dstIp6 !== undefined) {
        // Decision 0080: after the name's NUL, where portus and libccp read nothing.
        bytes.set(IPV6_TRAILER_MARKER, CREATE_IPV6_TRAILER_OFFSET)
        bytes.set(message.srcIp6, CREATE_IPV6_TRAILER_OFFSET + 4)
        bytes.set(message.dstIp6, CREATE_IPV6_TRAILER_OFFSET + 20)
      }
      break
    }
    case MessageType.Measure:
      writeU32(bytes, 8, message.programUid)
      writeU32(bytes, 12, message.fields.length)
      for (let i = 0; i < message.fields.length; i++) writeU64(bytes, 16 + 8 * i, message.fields[i]!)
      break
    case MessageType.InstallExpr: {
      writeU32(bytes, 8, message.programUid)
      writeU32(bytes, 12, message.expressions.length)
      writeU32(bytes, 16, message.instructions.length)
      let at = 20
      for (const expression of message.expressions) {
        writeU32(bytes, at, expression.condStart)
        writeU32(bytes, at + 4, expression.condLength)
        writeU32(bytes, at + 8, expression.eventStart)
        writeU32(bytes, at + 12, expression.eventLength)
        at += EXPRESSION_LENGTH
      }
      for (const instruction of message.instructions) {
        bytes[at] = instruction.opcode
        bytes[at + 1] = instruction.resType
        writeU32(bytes, at + 2, instruction.resIndex)
        bytes[at + 6] = instruction.leftType
        writeU32(bytes, at + 7, instruction.left)
        bytes[at + 11] = instruction.rightType
        writeU32(bytes, at + 12, instruction.right)
        at += INSTRUCTION_LENGTH
      }
      break
    }
    case MessageType.UpdateFields:
      writeU32(bytes, 8, message.updates.length)
      writeUpdates(bytes, 12, message.updates)
      break
    case MessageType.ChangeProg:
      writeU32(bytes, 8, message.programUid)
      writeU32(bytes, 12, message.updates.length)
      writeUpdates(bytes, 16, message.updates)
      break
    case MessageType.Ready:
      writeU32(bytes, 8, message.id)
      break
  }
  return length
}

/**
 * Encode `message` into a new buffer of exactly its length.
 * @throws {CcpError} `ERR_CCP_VALUE` for a field out of its range, `ERR_CCP_COUNT` for too many entries,
 *   `ERR_CCP_TYPE`, `ERR_CCP_OPCODE`, `ERR_CCP_REGISTER`, `ERR_CCP_RANGE` or `ERR_CCP_STRING` for what the
 *   decoder would reject.
 */
export function encodeMessage(message: CcpMessage): Uint8Array {
  const bytes = new Uint8Array(checkedLength(message))
  encodeMessageInto(message, bytes)
  return bytes
}
