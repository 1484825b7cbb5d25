/**
 * The error class of `@mtcp/libccp`.
 *
 * - A malformed message from the agent makes {@link decodeMessage} throw a {@link CcpError} with a stable
 *   code; {@link Datapath.receive} catches it, counts it in `datapath.stats` and drops the datagram, so
 *   nothing malformed ever throws out of the receive path.
 * - API misuse (encoding a value out of range, invoking a freed connection, a bad option) throws a
 *   {@link CcpError} too; its message names the field or option and the accepted range.
 * @module
 */

/** Stable codes of a {@link CcpError}. */
export type CcpErrorCode =
  /** Fewer bytes than the 8-byte header, than the header's `len`, or than the message type's fixed part. */
  | 'ERR_CCP_TRUNCATED'
  /** The header's `len` is not the datagram's size, or a fixed-size message (CREATE 96, READY 12) has another length. */
  | 'ERR_CCP_LENGTH'
  /** The message type is not one of the six (0 CREATE … 5 READY). */
  | 'ERR_CCP_TYPE'
  /** A count inside the message (fields, expressions, instructions, updates) is over its limit or does not add up to `len`. */
  | 'ERR_CCP_COUNT'
  /** An instruction's opcode is 15 or more. */
  | 'ERR_CCP_OPCODE'
  /** A register type is 9 or more, a result is an immediate or a primitive, an index is outside its bank, or an update targets a register that cannot be updated. */
  | 'ERR_CCP_REGISTER'
  /** An expression's condition or body runs outside the instruction array. */
  | 'ERR_CCP_RANGE'
  /** CREATE's congestion-control name is not NUL-terminated within its 64 bytes, or is too long to encode. */
  | 'ERR_CCP_STRING'
  /** A value to encode is not an integer in its field's range (u8, u16, u32, u64), or a message is not an object. */
  | 'ERR_CCP_VALUE'
  /** `invoke` or `free` on a connection that was already freed. */
  | 'ERR_CCP_FREED'
  /** A constructor option or argument outside its accepted range; the message names it and the range. */
  | 'ERR_INVALID_CONFIG'

/** An error with a stable {@link CcpErrorCode} that callers can `switch` on. */
export class CcpError extends Error {
  override readonly name = 'CcpError'
  constructor(
    /** The stable error code. */
    readonly code: CcpErrorCode,
    message: string,
  ) {
    super(message)
  }
}
