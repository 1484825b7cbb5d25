/**
 * Socket ids for CCP flows: unique among live flows, reused only after a quarantine.
 *
 * The agent keys its flows by sid, and its replies to a flow (UPDATE_FIELDS, CHANGE_PROG) may still be in
 * flight when the flow ends; handing the sid at once to a new flow would let those land on the wrong flow.
 * So a freed sid waits in a FIFO until {@link SID_QUARANTINE} newer frees have happened; until then fresh
 * sids are used. Sids stay dense (at most live flows + the quarantine), so an array can map them.
 * @module
 */

/** How many freed sids wait before the oldest is reused. @internal */
export const SID_QUARANTINE = 4096

/** Allocates sids from 1; never returns a sid that is still allocated. @internal */
export class SidAllocator {
  #next = 1
  // Freed sids, oldest first from #head (compacted when the consumed prefix grows large).
  #freed: number[] = []
  #head = 0

  /** A sid that is not allocated: the oldest freed one once the quarantine is full, else a fresh one. */
  allocate(): number {
    const waiting = this.#freed.length - this.#head
    if (waiting > SID_QUARANTINE || (waiting > 0 && this.#next > 0xffffffff)) {
      const sid = this.#freed[this.#head++]!
      if (this.#head >= 1024 && this.#head * 2 >= this.#freed.length) {
        this.#freed = this.#freed.slice(this.#head)
        this.#head = 0
      }
      return sid
    }
    if (this.#next > 0xffffffff) throw new RangeError('all 2^32 − 1 CCP sids are in use')
    return this.#next++
  }

  /** Give `sid` back; it will be reused after the quarantine. */
  release(sid: number): void {
    this.#freed.push(sid)
  }

  /** The highest sid handed out so far. */
  get highest(): number {
    return this.#next - 1
  }
}
