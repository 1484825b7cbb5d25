/**
 * A small seeded pseudo-random generator (xoshiro128**, seeded through splitmix32) so that every
 * emulated impairment is reproducible from a seed.
 * @module
 */

/** A deterministic stream of uniform numbers in [0, 1). */
export class SeededRandom {
  #a: number
  #b: number
  #c: number
  #d: number

  /**
   * @param seed - any 32-bit integer.
   * @param stream - selects an independent stream for the same seed (one per impairment, so enabling one does not shift another).
   */
  constructor(seed: number, stream = 0) {
    let state = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0
    const next = (): number => {
      state = (state + 0x9e3779b9) >>> 0
      let z = state
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.#a = next()
    this.#b = next()
    this.#c = next()
    this.#d = next()
    if ((this.#a | this.#b | this.#c | this.#d) === 0) this.#a = 1
  }

  /** The next unsigned 32-bit integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.#b, 5), 7), 9) >>> 0
    const t = this.#b << 9
    this.#c ^= this.#a
    this.#d ^= this.#b
    this.#b ^= this.#c
    this.#a ^= this.#d
    this.#c ^= t
    this.#d = rotl(this.#d, 11)
    return result
  }

  /** The next number in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296
  }

  /** `true` with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n)
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k))
}
