/**
 * Nagle's algorithm (RFC 9293 §3.7.4, RFC 1122 §4.2.3.4) in Minshall's variant, as Linux's
 * `tcp_minshall_check`: a segment shorter than the MSS waits only while an earlier short segment is
 * unacknowledged, so the tail of a bulk write does not wait a round trip.
 * @module
 */
import { seqGt, seqLe } from '../../wire/seq.js'

/** @internal */
export class Nagle {
  /**
   * The end of the last short segment sent. Kept in [SND.UNA, SND.MAX]: every ACK that passes it pulls it
   * up to SND.UNA, so it never falls 2^31 behind and compares the wrong way (decision 0010).
   */
  #smallEnd: number

  constructor(iss: number) {
    this.#smallEnd = iss
  }

  /** A data segment ending at `end` left; `short` when it carried less than the MSS. */
  onSent(end: number, short: boolean): void {
    if (short) this.#smallEnd = end
  }

  /** SND.UNA moved to `ack`. */
  onAck(ack: number): void {
    if (!seqGt(this.#smallEnd, ack)) this.#smallEnd = ack
  }

  /**
   * Whether a short segment must wait: a short segment is in flight (its end after SND.UNA and not after
   * SND.NXT; after a timeout rewinds SND.NXT it is not), unless `noDelay` (TCP_NODELAY) or the segment
   * carries the last data before our FIN.
   */
  holds(sndUna: number, sndNxt: number, noDelay: boolean, lastBeforeFin: boolean): boolean {
    if (noDelay || lastBeforeFin) return false
    return seqGt(this.#smallEnd, sndUna) && seqLe(this.#smallEnd, sndNxt)
  }
}
