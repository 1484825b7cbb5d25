/**
 * The window we advertise: RFC 9293 §3.8.6.2.2 (receiver silly window syndrome avoidance: the right edge
 * never moves left, and moves right only in useful steps; window updates once the application read
 * enough) and RFC 7323 §2 (window scaling: the shift we offer, the scaled field). RCV.WND, for the
 * acceptability test, is the window last advertised.
 * @module
 */
import { seqAdd, seqGe, seqGt, seqLt, seqSub } from '../../wire/seq.js'
import type { ConnectionState } from '../connection-state.js'
import type { ReceiveBuffer } from '../receive-buffer.js'

/** Largest window field (RFC 9293 §3.1). */
export const MAX_WINDOW_FIELD = 0xffff
/** RFC 7323 §2.3: the largest shift. */
export const MAX_WINDOW_SHIFT = 14

/** The smallest shift that lets a window of `bufferSize` bytes fit 16 bits, at most 14 (RFC 7323 §2.3). */
export function windowShiftFor(bufferSize: number): number {
  let shift = 0
  while (shift < MAX_WINDOW_SHIFT && bufferSize >>> shift > MAX_WINDOW_FIELD) shift++
  return shift
}

/** @internal */
export class ReceiveWindow {
  /** The right edge last advertised (RCV.NXT + RCV.WND). */
  right = 0
  /** Our receive shift (RFC 7323 §2.2: what we offered, once the peer offered one too; else 0). */
  shift = 0
  readonly #buffer: ReceiveBuffer
  readonly #mss: number

  constructor(buffer: ReceiveBuffer, mss: number) {
    this.#buffer = buffer
    this.#mss = mss
  }

  /** RCV.WND: the window last advertised, from `rcvNxt`. */
  advertised(rcvNxt: number): number {
    return seqSub(this.right, rcvNxt)
  }

  /** Set the right edge to what a SYN-ACK (unscaled, RFC 7323 §2.2) advertised, or to the buffer's free space at the handshake. */
  setRight(rcvNxt: number, window: number): void {
    this.right = seqAdd(rcvNxt, window)
  }

  /** The FIN took a sequence number: the edge is at least RCV.NXT. */
  atLeast(rcvNxt: number): void {
    if (seqGt(rcvNxt, this.right)) this.right = rcvNxt
  }

  /**
   * The window field for the next segment, scaled (RFC 7323 §2.3); records the edge it advertises. The
   * edge moves right only by at least min(buffer / 2, MSS) (RFC 9293 §3.8.6.2.2) and never left.
   */
  field(rcvNxt: number): number {
    const candidate = seqAdd(rcvNxt, this.#buffer.window)
    const threshold = Math.min(this.#buffer.capacity / 2, this.#mss)
    if (seqGe(candidate, seqAdd(this.right, threshold)) || seqLt(this.right, rcvNxt)) this.right = candidate
    let window = seqSub(this.right, rcvNxt)
    if (window < 0) window = 0
    const field = Math.min(window >>> this.shift, MAX_WINDOW_FIELD)
    // The edge actually advertised, after the shift rounded it down.
    this.right = seqAdd(rcvNxt, field << this.shift)
    return field
  }

  /**
   * After the application read: whether a window update is worth a segment of its own. The window must
   * open by a useful step (RFC 9293 §3.8.6.2.2: min(buffer / 2, 2·MSS)); and, as Linux's
   * tcp_cleanup_rbuf, only while the advertised window is at most half the buffer and the new one at
   * least twice it: a window that is mostly open already rides on the next ACK instead.
   */
  updateDue(rcvNxt: number): boolean {
    const advertised = this.advertised(rcvNxt)
    const offer = this.#buffer.window
    if (2 * advertised > this.#buffer.capacity) return false
    const threshold = Math.min(this.#buffer.capacity / 2, 2 * this.#mss)
    return offer - advertised >= threshold && offer >= 2 * advertised
  }
}

/** After the application read: an ACK is due if the window opened by enough (RFC 9293 §3.8.6.2.2). @internal */
export function windowUpdateAfterRead(s: ConnectionState): void {
  if (s.state === 'CLOSED' || s.finReceived) return
  // A window update goes at once, as its own segment (rules/receive-window.ts, rules/delayed-ack.ts).
  if (s.rcvWindow.updateDue(s.rcvNxt)) s.acks.owePureOnce()
}
