/**
 * A token bucket in bytes: tokens refill at `rate` bytes per second up to `burst` bytes, and a send of
 * `bytes` takes `bytes` tokens. mTCP's bucket added tokens in bits and spent them in bytes; here every
 * quantity is bytes, bytes per second or µs, and the names say so.
 *
 * ## Exact refill
 *
 * Tokens are never topped up call by call (which rounds, or with integers truncates, every refill: a bucket
 * refilled in steps smaller than one byte would then never fill). The bucket stores a snapshot, the tokens
 * at an anchor time, plus the integer count of bytes consumed since, and derives the level from the whole
 * elapsed time in one step:
 *
 * ```
 * tokens(now) = min(burst, tokensAtAnchor + (now − anchorTime) × rate / 10^6 − bytesConsumedSinceAnchor)
 * ```
 *
 * Nothing is added per refill, so nothing accumulates: a million refills of a quarter byte leave exactly the
 * tokens one refill of the whole interval would. Sums of whole bytes are exact below 2^53. The anchor moves
 * when the bucket is full (to exactly `burst`, an integer: no rounding), when the rate changes (one rounding
 * per change) and after 2^52 bytes consumed without the bucket filling.
 *
 * A send is allowed when the level left after it, computed exactly as it will be stored, is not negative;
 * the level therefore never goes below 0 or above `burst`, not even by a rounding error, and
 * {@link TokenBucket.timeUntil} is the inverse of that same test.
 * @module
 */
import { checkBytes, checkRate, checkSizeSetting, checkTime } from './errors.js'
import { MICROS_PER_SECOND, type Micros } from '@mtcp/primitives'

/** Above this many bytes consumed since the anchor, the anchor moves forward, keeping the byte sum exact. */
const REBASE_BYTES = 2 ** 52

/** Settings of a {@link TokenBucket}. */
export interface TokenBucketOptions {
  /**
   * Refill rate in bytes per second (bytes, not bits: 10 Mbit/s is `10e6 / 8`), in [0, Infinity].
   * 0: the bucket never refills; Infinity: it is always full.
   */
  rate: number
  /** Capacity in bytes, an integer in [1, 2^52]: the most that can be consumed at once after an idle period. */
  burst: number
}

/**
 * A sans-I/O token bucket in bytes. It starts full. Every call takes `now` in µs (any finite number,
 * fractions allowed; it should not go backwards, and if it does no tokens are added for the backward step).
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket({ rate: 1_000_000, burst: 3000 }) // 1 MB/s, 3000-byte burst
 * bucket.tryConsume(3000, 0) // true: it starts full
 * bucket.tryConsume(1500, 0) // false: empty
 * bucket.timeUntil(1500, 0) // 1500 µs
 * bucket.tryConsume(1500, 1500) // true
 * ```
 */
export class TokenBucket {
  /** Capacity in bytes: the most tokens the bucket holds. */
  readonly burst: number

  /** Refill rate in bytes per second. */
  #rate: number
  /** The anchor time in µs; the initial 0 does not matter because the bucket starts full. */
  #anchorTime: Micros = 0
  /** Tokens in bytes at `#anchorTime`, in [0, burst]; may be fractional. */
  #anchorTokens: number
  /** Whole bytes consumed since `#anchorTime`, below 2^53 so the sum stays exact. */
  #consumedSinceAnchor = 0

  constructor(options: TokenBucketOptions) {
    this.#rate = checkRate('rate', options.rate, '0: never refills, Infinity: always full')
    this.burst = checkSizeSetting('burst', options.burst)
    this.#anchorTokens = this.burst
  }

  /** Refill rate in bytes per second. */
  get rate(): number {
    return this.#rate
  }

  /**
   * Change the refill rate at `now` (bytes per second, in [0, Infinity]). The tokens already in the bucket
   * stay; only the refill from `now` on uses the new rate. Setting the same rate again changes nothing.
   */
  setRate(bytesPerSecond: number, now: Micros): void {
    checkRate('rate', bytesPerSecond, '0: never refills, Infinity: always full')
    checkTime('now', now)
    if (bytesPerSecond === this.#rate) return
    this.#anchorTokens = this.#level(now)
    this.#anchorTime = Math.max(now, this.#anchorTime)
    this.#consumedSinceAnchor = 0
    this.#rate = bytesPerSecond
  }

  /** Tokens in bytes at `now`, in [0, burst]; may be fractional. */
  available(now: Micros): number {
    checkTime('now', now)
    return this.#level(now)
  }

  /**
   * Take `bytes` tokens at `now` if the bucket holds them: returns true and consumes them, or returns false
   * and changes nothing. More than `burst` bytes are never available (false).
   */
  tryConsume(bytes: number, now: Micros): boolean {
    checkBytes('bytes', bytes)
    checkTime('now', now)
    if (bytes > this.burst) return false
    if (this.#rate === Number.POSITIVE_INFINITY) return true
    const refilled = this.#refilled(now)
    if (refilled - this.#consumedSinceAnchor >= this.burst) {
      // Full: forget the overflow. `burst` is an integer, so this snapshot is exact.
      this.#anchorTime = Math.max(now, this.#anchorTime)
      this.#anchorTokens = this.burst
      this.#consumedSinceAnchor = bytes
      return true
    }
    const consumed = this.#consumedSinceAnchor + bytes
    const left = refilled - consumed
    if (left < 0) return false
    if (consumed > REBASE_BYTES) {
      this.#anchorTime = Math.max(now, this.#anchorTime)
      this.#anchorTokens = left
      this.#consumedSinceAnchor = 0
    } else {
      this.#consumedSinceAnchor = consumed
    }
    return true
  }

  /**
   * How long from `now` until `bytes` tokens are available, in µs: 0 if they are already, Infinity if they
   * never will be (`bytes` > `burst`, or the rate is 0 and the bucket holds too few). If nothing else is
   * consumed meanwhile, `tryConsume(bytes, now + timeUntil(bytes, now))` succeeds, exactly (not only up to
   * rounding), and is not far from the first instant it would.
   */
  timeUntil(bytes: number, now: Micros): Micros {
    checkBytes('bytes', bytes)
    checkTime('now', now)
    if (bytes > this.burst) return Number.POSITIVE_INFINITY
    if (this.#rate === Number.POSITIVE_INFINITY || this.#fits(bytes, now)) return 0
    if (this.#rate === 0) return Number.POSITIVE_INFINITY
    // Solve tokensAtAnchor + (t − anchorTime) × rate / 10^6 − consumed = bytes for t, then correct the
    // rounding: first the absolute time, then the wait as the caller will add it to `now`.
    const needed = this.#consumedSinceAnchor + bytes - this.#anchorTokens
    const at = Math.max(now, this.#anchorTime + (needed * MICROS_PER_SECOND) / this.#rate)
    const fitAt = firstTrue(at, (t) => this.#fits(bytes, t))
    return firstTrue(fitAt - now, (wait) => this.#fits(bytes, now + wait))
  }

  /** Tokens at the anchor plus the refill since it, before consumption and the cap. */
  #refilled(now: Micros): number {
    const elapsed = now > this.#anchorTime ? now - this.#anchorTime : 0
    return this.#anchorTokens + (elapsed * this.#rate) / MICROS_PER_SECOND
  }

  /** The level in [0, burst]. */
  #level(now: Micros): number {
    if (this.#rate === Number.POSITIVE_INFINITY) return this.burst
    return Math.min(this.burst, this.#refilled(now) - this.#consumedSinceAnchor)
  }

  /** Whether `tryConsume(bytes, now)` would succeed (`bytes` ≤ burst, finite rate); monotone in `now`. */
  #fits(bytes: number, now: Micros): boolean {
    const refilled = this.#refilled(now)
    return refilled - this.#consumedSinceAnchor >= this.burst || refilled - (this.#consumedSinceAnchor + bytes) >= 0
  }
}

/**
 * The first value at or after `start` (stepping up by a few ulps, then doubling steps) at which the monotone
 * `test` holds. Used only to correct the last bits of a computed time.
 */
function firstTrue(start: number, test: (value: number) => boolean): number {
  let value = start
  let step = Math.max(Math.abs(value) * Number.EPSILON, Number.MIN_VALUE)
  while (!test(value)) {
    value += step
    step *= 2
  }
  return value
}
