/**
 * Which connection needs attention next: a min-heap of (time, socket id) with lazy deletion. An entry
 * is stale when the connection's current deadline differs; stale entries are skipped when popped.
 * @module
 */

/** @internal */
export class TimerQueue {
  #times: number[] = []
  #ids: number[] = []

  get size(): number {
    return this.#times.length
  }

  /** The earliest time, or undefined. */
  peekTime(): number | undefined {
    return this.#times[0]
  }

  push(at: number, id: number): void {
    const times = this.#times
    const ids = this.#ids
    let i = times.length
    times.push(at)
    ids.push(id)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (times[parent]! <= at) break
      times[i] = times[parent]!
      ids[i] = ids[parent]!
      i = parent
    }
    times[i] = at
    ids[i] = id
  }

  /** Remove the earliest entry if it is due at or before `now`; returns its id or -1. */
  popDue(now: number): number {
    const times = this.#times
    if (times.length === 0 || times[0]! > now) return -1
    const ids = this.#ids
    const id = ids[0]!
    const lastTime = times.pop()!
    const lastId = ids.pop()!
    const n = times.length
    if (n > 0) {
      let i = 0
      for (;;) {
        const left = 2 * i + 1
        if (left >= n) break
        const right = left + 1
        const child = right < n && times[right]! < times[left]! ? right : left
        if (times[child]! >= lastTime) break
        times[i] = times[child]!
        ids[i] = ids[child]!
        i = child
      }
      times[i] = lastTime
      ids[i] = lastId
    }
    return id
  }
}
