/**
 * What RFC 6675 (SACK-based loss recovery) leaves to the implementation: finding retransmissions that
 * were lost again. A retransmission still unacknowledged when data sent three segments after it has been
 * SACKed is lost too (the DupThresh idea applied to retransmissions, as Linux's tcp_mark_lost_retrans
 * did before RACK), and goes again instead of waiting for the RTO. The scoreboard itself (IsLost,
 * SetPipe, NextSeg) is `@mtcp/sack`'s {@link SackScoreboard}.
 * @module
 */
import type { SackScoreboard } from '@mtcp/sack'
import { seqAdd, seqGe, seqLe } from '../../../wire/seq.js'
import type { LostQueue } from './lost-queue.js'

/** @internal */
export class LostRetransmissions {
  /** Retransmissions of this recovery still unacknowledged: seq, end, SND.MAX when sent, as flat triples (no object per segment). */
  readonly #list: number[] = []

  /** A retransmission of [seq, end) went while SND.MAX was `sndMax`. */
  onRetransmission(seq: number, end: number, sndMax: number): void {
    this.#list.push(seq, end, sndMax)
  }

  /** Move the retransmissions found lost again to `lost`. @returns how many. */
  detect(scoreboard: SackScoreboard, sndUna: number, mss: number, lost: LostQueue): number {
    const highest = scoreboard.highestSacked
    const list = this.#list
    let kept = 0
    let found = 0
    for (let i = 0; i < list.length; i += 3) {
      const seq = list[i]!
      const end = list[i + 1]!
      const sndMaxAtSend = list[i + 2]!
      if (seqLe(end, sndUna) || scoreboard.isSacked(seq)) continue // arrived
      // Three segments sent after it were SACKed: it is not merely late.
      if (highest !== undefined && seqGe(highest, seqAdd(sndMaxAtSend, 3 * mss))) {
        lost.push(seq, end)
        found++
        continue
      }
      list[kept++] = seq
      list[kept++] = end
      list[kept++] = sndMaxAtSend
    }
    list.length = kept
    return found
  }

  clear(): void {
    this.#list.length = 0
  }
}
