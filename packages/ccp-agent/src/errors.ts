/**
 * The error classes of `@mtcp/ccp-agent`.
 *
 * - A datapath program that does not parse or does not type-check throws a {@link ProgramError} with a stable
 *   `code` and the 1-based `line` and `column` of the offending token.
 * - API misuse (a bad agent option, an unknown program or field name, a value out of range for a register)
 *   throws an {@link AgentError} with a stable `code`; the message names the option or name and what is accepted.
 * - Nothing a datapath sends ever throws: malformed or unexpected messages are logged, counted in
 *   `agent.stats.errors` and dropped.
 * @module
 */

/** Stable codes of a {@link ProgramError}. */
export type ProgramErrorCode =
  /** Unbalanced parentheses, an empty list, a token where another was expected. */
  | 'ERR_PROGRAM_SYNTAX'
  /** A number that is not a decimal integer in [0, 2^31), or `+infinity`. */
  | 'ERR_PROGRAM_NUMBER'
  /** The `def` form or a `when` form is misplaced or malformed (e.g. `def` after a `when`, two `def`s). */
  | 'ERR_PROGRAM_STRUCTURE'
  /** A name defined twice, or a definition of a reserved name (`Cwnd`, `Rate`, `Micros`, `Report`, `true`, …). */
  | 'ERR_PROGRAM_DUPLICATE'
  /** A name that is neither defined in `def` nor a primitive (`Ack.*`, `Flow.*`) nor `Micros`, `Cwnd`, `Rate`. */
  | 'ERR_PROGRAM_UNKNOWN_NAME'
  /** An operator or statement that the language does not have. */
  | 'ERR_PROGRAM_UNKNOWN_OPERATOR'
  /** An operator or statement with the wrong number of operands. */
  | 'ERR_PROGRAM_ARITY'
  /** Operand or assignment types that do not match (a boolean where a number is expected, or the reverse). */
  | 'ERR_PROGRAM_TYPE'
  /** An assignment to something that cannot be written (a primitive, a constant). */
  | 'ERR_PROGRAM_READ_ONLY'
  /** `ewma`, `if` or `!if` anywhere but as the whole right-hand side of `:=`. */
  | 'ERR_PROGRAM_STATEFUL'
  /** The program exceeds a limit of libccp: 16 temporaries per statement, 110 report fields, 110 control variables, 256 instructions, 256 `when` clauses. */
  | 'ERR_PROGRAM_LIMIT'

/** An error in a datapath program's source, with where it is. */
export class ProgramError extends Error {
  override readonly name = 'ProgramError'
  constructor(
    /** The stable error code. */
    readonly code: ProgramErrorCode,
    /** What is wrong, without the position (the full `message` adds `at line:column`). */
    readonly reason: string,
    /** 1-based line of the offending token. */
    readonly line: number,
    /** 1-based column of the offending token. */
    readonly column: number,
  ) {
    super(`${reason} at ${line}:${column}`)
  }
}

/** Stable codes of an {@link AgentError}. */
export type AgentErrorCode =
  /** An agent or algorithm option outside its accepted range; the message names it and the range. */
  | 'ERR_INVALID_CONFIG'
  /** A call made at the wrong time (e.g. `start()` twice, using a flow after it closed). */
  | 'ERR_INVALID_STATE'
  /** A program name the algorithm did not declare. */
  | 'ERR_UNKNOWN_PROGRAM'
  /** A name an update cannot set in the flow's program: only its control variables, `Cwnd` and `Rate` can be. */
  | 'ERR_UNKNOWN_FIELD'
  /** A value to send that is not a non-negative integer (at most 2^64 − 1, the u64 on the wire). */
  | 'ERR_INVALID_VALUE'
  /** Two algorithms with the same name. */
  | 'ERR_DUPLICATE'

/** An error from the agent's API, with a stable {@link AgentErrorCode}. */
export class AgentError extends Error {
  override readonly name = 'AgentError'
  constructor(
    /** The stable error code. */
    readonly code: AgentErrorCode,
    message: string,
  ) {
    super(message)
  }
}
