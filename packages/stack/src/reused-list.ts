/**
 * A list that keeps its storage when cleared. An array's `length = 0` gives V8's backing store up, so the
 * next `push` allocates a new one (about 150 bytes): on the driver's per-iteration lists (connections to
 * dispatch, sockets to notify) that was an allocation per segment. This list only moves its count.
 * @internal
 * @module
 */
export class ReusedList<T> {
  readonly #items: T[] = []
  /** How many items the list holds. */
  length = 0

  /** Append `item`. Allocates only when the list is longer than it ever was. */
  push(item: T): void {
    this.#items[this.length++] = item
  }

  /** The item at `index` (0 ≤ index < length). */
  get(index: number): T {
    return this.#items[index]!
  }

  /** Empty the list, keeping its storage; drops the references so nothing is kept alive. */
  clear(): void {
    const items = this.#items
    for (let i = 0; i < this.length; i++) items[i] = undefined as T
    this.length = 0
  }
}
