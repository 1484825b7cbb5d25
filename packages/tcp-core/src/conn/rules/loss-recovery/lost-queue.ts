/**
 * Ranges found lost and not yet retransmitted, oldest first: what a SACK-based recovery sends before
 * anything else (RACK's marks, RFC 8985 §6.2 step 5, and lost retransmissions found by RFC 6675's
 * bookkeeping). Two growable Float64Arrays used as a ring: no object per range, nothing allocated once
 * the ring is as long as the longest loss episode, and nothing at all for a connection that never loses.
 * @module
 */
import { seqSub } from '../../../wire/seq.js'

/** A queue's storage until its first range: one shared empty array. */
const EMPTY = new Float64Array(0)
const FIRST_CAPACITY = 16

/** @internal */
export class LostQueue {
  #starts = EMPTY
  #ends = EMPTY
  #head = 0
  #size = 0
  /** Sequence space queued (the ranges' total length, as queued). */
  bytes = 0

  get size(): number {
    return this.#size
  }

  push(start: number, end: number): void {
    if (this.#size === this.#starts.length) this.#grow()
    const at = (this.#head + this.#size) % this.#starts.length
    this.#starts[at] = start
    this.#ends[at] = end
    this.#size++
    this.bytes += seqSub(end, start)
  }

  /** The oldest range's start (the queue must not be empty). */
  get start(): number {
    return this.#starts[this.#head]!
  }

  get end(): number {
    return this.#ends[this.#head]!
  }

  /** Drop the oldest range. */
  shift(): void {
    this.bytes -= seqSub(this.#ends[this.#head]!, this.#starts[this.#head]!)
    this.#head = (this.#head + 1) % this.#starts.length
    this.#size--
    if (this.#size === 0) this.bytes = 0
  }

  /** The oldest range now starts at `start` (part of it went, or SND.UNA passed part of it). */
  advance(start: number): void {
    this.bytes -= seqSub(start, this.#starts[this.#head]!)
    this.#starts[this.#head] = start
  }

  clear(): void {
    this.#head = 0
    this.#size = 0
    this.bytes = 0
  }

  #grow(): void {
    const capacity = this.#starts.length === 0 ? FIRST_CAPACITY : this.#starts.length * 2
    const starts = new Float64Array(capacity)
    const ends = new Float64Array(capacity)
    for (let i = 0; i < this.#size; i++) {
      const from = (this.#head + i) % this.#starts.length
      starts[i] = this.#starts[from]!
      ends[i] = this.#ends[from]!
    }
    this.#starts = starts
    this.#ends = ends
    this.#head = 0
  }
}
