/**
 * Proportional Rate Reduction (RFC 6937): during fast recovery, how much may be sent on each ACK, so
 * that the data in flight falls smoothly to ssthresh (in proportion to what the receiver reports
 * delivered) instead of in one step, and, once it is below ssthresh, grows back by at most what was
 * delivered plus one segment (the slow-start reduction bound, SSRB, RFC 6937 §3.1).
 * @module
 */

/** @internal */
export class ProportionalRateReduction {
  /** prr_delivered: bytes the receiver reported delivered since recovery began (RFC 6937 §3). */
  delivered = 0
  /** prr_out: bytes sent since recovery began. */
  out = 0
  /** RecoverFS: the pipe when recovery began. */
  #recoverFs = 1
  /** sndcnt: bytes the latest ACK allows to go; spent by {@link onSent}. */
  quota = 0

  /** RFC 6937 §3 "at the beginning of recovery". */
  start(pipe: number): void {
    this.delivered = 0
    this.out = 0
    this.#recoverFs = Math.max(pipe, 1)
    this.quota = 0
  }

  /**
   * RFC 6937 §3 "on every ACK during recovery": DeliveredData is what this ACK reported delivered
   * (cumulatively or selectively), `pipe` RFC 6675's estimate after it.
   */
  onAck(deliveredData: number, pipe: number, ssthresh: number, mss: number, newlyLost = false): void {
    this.delivered += deliveredData
    let sndcnt: number
    if (pipe > ssthresh) {
      // Proportional part: sndcnt = CEIL(prr_delivered × ssthresh / RecoverFS) − prr_out.
      sndcnt = Math.ceil((this.delivered * ssthresh) / this.#recoverFs) - this.out
    } else {
      // §3.1 Slow Start Reduction Bound: limit = MAX(prr_delivered − prr_out, DeliveredData) + MSS.
      const limit = Math.max(this.delivered - this.out, deliveredData) + mss
      sndcnt = Math.min(ssthresh - pipe, limit)
    }
    // As Linux's tcp_cwnd_reduction(): the fast retransmit goes on the first ACK whatever the arithmetic
    // says, and so does one segment whenever new losses were found (else a small window that the lost
    // segments still count in would wait for the RTO with the repair ready).
    if ((this.out === 0 || newlyLost) && sndcnt < mss) sndcnt = mss
    this.quota = Math.max(sndcnt, 0)
  }

  /** `bytes` were sent (prr_out grows; the ACK's allowance shrinks). */
  onSent(bytes: number): void {
    this.out += bytes
    this.quota -= bytes
  }
}
