/**
 * HalfSipHash (Aumasson and Bernstein's SipHash on 32-bit words, 64-bit key, 32-bit output) over a
 * message of three or four 32-bit words, each taken as 4 little-endian bytes: exactly the reference
 * function of those 12 or 16 bytes. The one keyed hash of the mtcp packages: the flow table's
 * bucket hash (`@mtcp/sid-map`, HalfSipHash-1-3, the variant Linux uses as `hsiphash` for tables) and
 * the secret functions of RFC 6528 (initial sequence numbers), RFC 6056 (ephemeral ports) and SYN
 * cookies (`@mtcp/tcp-core`, `@mtcp/stack`, HalfSipHash-2-4, the reference parameters).
 *
 * With a random key per use, a peer that picks its addresses and ports cannot predict the output: it
 * can neither force hash-table collisions nor guess another connection's sequence numbers.
 * @module
 */

/**
 * HalfSipHash-c-d of the three words under the key `(key0, key1)`, as a uint32: a 12-byte message.
 * Allocates nothing.
 * @param compressionRounds - c: SipRounds per message word (1 for hash tables, 2 for secrets)
 * @param finalizationRounds - d: SipRounds at the end (3 for hash tables, 4 for secrets)
 */
export function halfSipHash(
  key0: number,
  key1: number,
  word0: number,
  word1: number,
  word2: number,
  compressionRounds: number,
  finalizationRounds: number,
): number {
  return sipWords(key0, key1, word0, word1, word2, 0, 3, compressionRounds, finalizationRounds)
}

/**
 * HalfSipHash-c-d of `count` (3 or 4) message words and the length block (the byte length in the top
 * byte, no tail bytes: messages here are whole words).
 */
function sipWords(key0: number, key1: number, word0: number, word1: number, word2: number, word3: number, count: number, compressionRounds: number, finalizationRounds: number): number {
  let v0 = key0 | 0
  let v1 = key1 | 0
  let v2 = 0x6c796765 ^ key0
  let v3 = 0x74656462 ^ key1
  const blocks = count + 1 // the words, then the length block
  const lengthBlock = (count * 4) << 24
  // Each block is xored into v3, put through c SipRounds and xored into v0; then 0xff into v2 and d SipRounds.
  let block = 0
  let roundsInBlock = 0
  let message = word0
  v3 ^= message
  const total = blocks * compressionRounds + finalizationRounds
  for (let round = 0; round < total; round++) {
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
    if (block < blocks && ++roundsInBlock === compressionRounds) {
      v0 ^= message
      roundsInBlock = 0
      block++
      if (block < blocks) {
        message = block === count ? lengthBlock : block === 1 ? word1 : block === 2 ? word2 : word3
        v3 ^= message
      } else {
        v2 ^= 0xff // finalization starts
      }
    }
  }
  return (v1 ^ v3) >>> 0
}

/** HalfSipHash-1-3 of three words: the fast variant, for hash-table buckets. */
export function halfSipHash13(key0: number, key1: number, word0: number, word1: number, word2: number): number {
  return halfSipHash(key0, key1, word0, word1, word2, 1, 3)
}

/** HalfSipHash-2-4 of three words: the reference parameters, for secrets a peer must not predict. */
export function halfSipHash24(key0: number, key1: number, word0: number, word1: number, word2: number): number {
  return halfSipHash(key0, key1, word0, word1, word2, 2, 4)
}

/**
 * HalfSipHash-2-4 of four words (a 16-byte message): for a secret function of a 4-tuple and one more word
 * that separates its uses (a SYN cookie's counter, a timestamp offset's label).
 */
export function halfSipHash24x4(key0: number, key1: number, word0: number, word1: number, word2: number, word3: number): number {
  return sipWords(key0, key1, word0, word1, word2, word3, 4, 2, 4)
}

/**
 * HalfSipHash-1-3 of the first `count` words of `words` (a message of any number of whole 32-bit words,
 * each taken as 4 little-endian bytes): for keys longer than four words, such as the IPv6 flow table's
 * nine (two 128-bit addresses and the ports). Three words hash exactly as {@link halfSipHash13} of them.
 * Allocates nothing.
 */
export function halfSipHash13Words(key0: number, key1: number, words: Int32Array | Uint32Array, count: number): number {
  // The same SipRound as sipWords, written out again on purpose: routing the three- and four-word functions
  // through one array version (words stored into a scratch array first) made the IPv4 flow table's lookup
  // 1.25× slower, and that lookup runs for every segment.
  let v0 = key0 | 0
  let v1 = key1 | 0
  let v2 = 0x6c796765 ^ key0
  let v3 = 0x74656462 ^ key1
  // One compression round per word and for the length block (byte length in the top byte, no tail
  // bytes), then 0xff into v2 and three finalization rounds.
  for (let i = 0; i <= count + 3; i++) {
    let message = 0
    if (i < count) message = words[i]! | 0
    else if (i === count) message = ((count * 4) & 0xff) << 24
    else if (i === count + 1) v2 ^= 0xff
    if (i <= count) v3 ^= message
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
    if (i <= count) v0 ^= message
  }
  return (v1 ^ v3) >>> 0
}

/** A 64-bit HalfSipHash key as two uint32 words. */
export type HalfSipHashKey = readonly [number, number]

/** A fresh random key from the platform's cryptographic generator (`crypto.getRandomValues`). */
export function randomHalfSipHashKey(): HalfSipHashKey {
  const words = globalThis.crypto.getRandomValues(new Uint32Array(2))
  return [words[0]!, words[1]!]
}
