/**
 * What the compiler needs of the datapath's instruction set beyond `@mtcp/libccp`'s wire constants: the
 * names a program may use for the measurement primitives and the implicit registers, their value types,
 * and the datapath's limits (libccp's `machine.h`, as `@mtcp/libccp` implements it).
 * @module
 */
import { Implicit, MAX_CONTROL_REGISTERS, MAX_EXPRESSIONS, MAX_INSTRUCTIONS, MAX_REPORT_REGISTERS, MAX_TMP_REGISTERS, U32_MAX } from '@mtcp/libccp'

/** The value type of a register or expression. */
export type ValueType = 'num' | 'bool'

/** A primitive's index and type. */
export interface PrimitiveInfo {
  readonly index: number
  readonly type: ValueType
}

/**
 * The measurement primitives, read-only, by name. Indices follow the alphabetical order of the names
 * (ccp-datapath.md, "Primitives"); `Flow.was_timeout` is the only boolean.
 */
export const PRIMITIVES: ReadonlyMap<string, PrimitiveInfo> = new Map(
  (
    [
      'Ack.bytes_acked',
      'Ack.bytes_misordered',
      'Ack.ecn_bytes',
      'Ack.ecn_packets',
      'Ack.lost_pkts_sample',
      'Ack.now',
      'Ack.packets_acked',
      'Ack.packets_misordered',
      'Flow.bytes_in_flight',
      'Flow.bytes_pending',
      'Flow.packets_in_flight',
      'Flow.rate_incoming',
      'Flow.rate_outgoing',
      'Flow.rtt_sample_us',
      'Flow.was_timeout',
    ] as const
  ).map((name, index): [string, PrimitiveInfo] => [name, { index, type: name === 'Flow.was_timeout' ? 'bool' : 'num' }]),
)

/** The implicit registers a program may name (read and write), all numbers. */
export const NAMED_IMPLICITS: ReadonlyMap<string, Implicit> = new Map<string, Implicit>([
  ['Micros', Implicit.Micros],
  ['Cwnd', Implicit.Cwnd],
  ['Rate', Implicit.Rate],
])

/** The immediate that stands for `+infinity`: u32 all ones. */
export const INFINITY_IMMEDIATE = U32_MAX

/** Temporaries per statement: the datapath has 16 (portus uses indices up to 15). */
export const MAX_TEMPORARIES = MAX_TMP_REGISTERS

/** Report fields per program: libccp's report bank (its MEASURE then stays under 1024 bytes). */
export const MAX_REPORT_FIELDS = MAX_REPORT_REGISTERS

/** Control variables per program: libccp's control bank (volatile and not share it). */
export const MAX_CONTROL_VARIABLES = MAX_CONTROL_REGISTERS

/** Instructions per program that libccp accepts. */
export const MAX_PROGRAM_INSTRUCTIONS = MAX_INSTRUCTIONS

/** `when` clauses per program that libccp accepts. */
export const MAX_PROGRAM_EXPRESSIONS = MAX_EXPRESSIONS
