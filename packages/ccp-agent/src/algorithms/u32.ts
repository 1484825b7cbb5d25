/**
 * Rust's float-to-integer `as u32`, which the portus algorithms use everywhere: truncate toward zero and
 * saturate (NaN and negatives give 0, anything past 2^32 − 1 gives 2^32 − 1).
 * @internal
 */
export function saturatingU32(value: number): number {
  if (!(value > 0)) return 0
  return value >= 0xffff_ffff ? 0xffff_ffff : Math.trunc(value)
}

/**
 * Rust's integer `u64 as u32`, which the portus algorithms apply to report fields: keep the low 32 bits.
 * @internal
 */
export function lowU32(value: number): number {
  return value % 0x1_0000_0000
}
