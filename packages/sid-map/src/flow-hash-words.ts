/**
 * HalfSipHash-1-3 over a message of whole 32-bit words fed one at a time: the bucket hash of the IPv6 flow
 * table, whose key is nine words (two 128-bit addresses and the ports), longer than the three or four
 * words `@mtcp/primitives` hashes in one call. Each word is taken as 4 little-endian bytes, as there, so a
 * message of three words hashes exactly as `halfSipHash13` of those words (the tests hold the two to it).
 *
 * The state lives in module variables and the caller drives it ({@link sipStart}, {@link sipWord},
 * {@link sipFinish}): no array, no closure, no allocation per hash. JavaScript runs one call at a time,
 * and nothing here calls out, so two hashes never interleave.
 * @internal
 * @module
 */

let v0 = 0
let v1 = 0
let v2 = 0
let v3 = 0
let words = 0

/** One SipRound on 32-bit words (rotations 5, 16, 8, 7, 13, 16, as HalfSipHash). */
function sipRound(): void {
  v0 = (v0 + v1) | 0
  v1 = (v1 << 5) | (v1 >>> 27)
  v1 ^= v0
  v0 = (v0 << 16) | (v0 >>> 16)
  v2 = (v2 + v3) | 0
  v3 = (v3 << 8) | (v3 >>> 24)
  v3 ^= v2
  v0 = (v0 + v3) | 0
  v3 = (v3 << 7) | (v3 >>> 25)
  v3 ^= v0
  v2 = (v2 + v1) | 0
  v1 = (v1 << 13) | (v1 >>> 19)
  v1 ^= v2
  v2 = (v2 << 16) | (v2 >>> 16)
}

/** Start a hash under the 64-bit key `(key0, key1)`. */
export function sipStart(key0: number, key1: number): void {
  v0 = key0 | 0
  v1 = key1 | 0
  v2 = 0x6c796765 ^ key0
  v3 = 0x74656462 ^ key1
  words = 0
}

/** Absorb one message word (c = 1 compression round). */
export function sipWord(word: number): void {
  v3 ^= word
  sipRound()
  v0 ^= word
  words++
}

/** The length block (byte length in the top byte, no tail bytes), d = 3 finalization rounds: the uint32 hash. */
export function sipFinish(): number {
  const lengthBlock = ((words * 4) & 0xff) << 24
  v3 ^= lengthBlock
  sipRound()
  v0 ^= lengthBlock
  v2 ^= 0xff
  sipRound()
  sipRound()
  sipRound()
  return (v1 ^ v3) >>> 0
}
