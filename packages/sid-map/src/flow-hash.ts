/**
 * The keyed hash of a TCP 4-tuple: HalfSipHash-1-3 (Aumasson and Bernstein's SipHash on 32-bit words,
 * one compression round per word and three finalization rounds, the variant the Linux kernel uses as
 * `hsiphash` for hash tables) over three words, with a 64-bit secret key per table.
 *
 * In the spirit of RFC 6528 §3 (a secret key mixed into a function of the 4-tuple, so that remote hosts
 * cannot predict its output), the key is random per table: a peer that chooses its address and ports cannot
 * compute which tuples share a bucket, so it cannot force long probe sequences (hash flooding). Unkeyed or
 * weakly keyed mixers (a multiply-xorshift, or a seeded MurmurHash3) have seed-independent collisions.
 *
 * All four fields enter the hash: word 0 is the local address, word 1 the remote address, word 2 the local
 * port in the high 16 bits and the remote port in the low 16 bits. Each word is treated as 4 little-endian
 * bytes, so `flowHash` equals reference HalfSipHash-1-3 (32-bit output) of those 12 bytes.
 * @module
 */

/** The HalfSipHash length block for a 12-byte message: the length in the top byte. */
const LENGTH_BLOCK = 12 << 24

/**
 * HalfSipHash-1-3 of three 32-bit words under the key `(key0, key1)`, as an int32. Allocates nothing.
 * @internal
 */
export function flowHash(key0: number, key1: number, word0: number, word1: number, word2: number): number {
  let v0 = key0 | 0
  let v1 = key1 | 0
  let v2 = 0x6c796765 ^ key0
  let v3 = 0x74656462 ^ key1
  // Rounds 0-3 compress word0, word1, word2 and the length block (c = 1); rounds 4-6 finalize (d = 3).
  for (let round = 0; round < 7; round++) {
    const message = round === 0 ? word0 : round === 1 ? word1 : round === 2 ? word2 : round === 3 ? LENGTH_BLOCK : 0
    v3 ^= message
    if (round === 4) v2 ^= 0xff
    // SipRound on 32-bit words: rotations 5, 16, 8, 7, 13, 16.
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
    v0 ^= message
  }
  return v1 ^ v3
}

/**
 * A fresh random 64-bit hash key as two uint32 words, from the platform's cryptographic generator.
 * @internal
 */
export function randomHashKey(): [number, number] {
  const words = globalThis.crypto.getRandomValues(new Uint32Array(2))
  return [words[0]!, words[1]!]
}
