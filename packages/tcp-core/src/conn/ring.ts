/**
 * Growth of the byte rings behind the send and receive buffers.
 * @module
 */

/** Smallest storage a ring grows to at first. */
const MIN_STORAGE = 2048

/**
 * A larger ring holding the `used` bytes of `bytes` that start at `head`, now starting at 0.
 * The new size doubles until it holds `needed` bytes, capped at `capacity`.
 * @internal
 */
export function growRing(bytes: Uint8Array, head: number, used: number, needed: number, capacity: number): Uint8Array {
  let size = Math.max(bytes.byteLength, MIN_STORAGE)
  while (size < needed) size *= 2
  const grown = new Uint8Array(Math.min(size, capacity))
  const old = bytes.byteLength
  if (used > 0) {
    const first = Math.min(used, old - head)
    grown.set(bytes.subarray(head, head + first), 0)
    if (first < used) grown.set(bytes.subarray(0, used - first), first)
  }
  return grown
}
