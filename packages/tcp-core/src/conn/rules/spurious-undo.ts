/**
 * Finding spurious congestion events, so the controller can undo its reduction (`onUndo`):
 * - after a timeout, Eifel detection (RFC 3522 §3.2): the first ACK that advances SND.UNA echoes a
 *   timestamp older than the retransmission's TSval, so it acknowledges the original (response: RFC 4015);
 * - after a fast recovery, RFC 3708 §3: D-SACK blocks report every byte the recovery retransmitted as
 *   received twice, so nothing was lost.
 * Both states are short-lived: the Eifel TSval is decided by one ACK, and the recovery's range closes once
 * SND.UNA is 2^30 past it, so no stored sequence number goes stale (decision 0010).
 * @module
 */
import type { SackBlock } from '@mtcp/sack'
import { seqGe, seqLe, seqLt, seqSub } from '../../wire/seq.js'
import type { Micros } from '../../congestion/congestion-control.js'
import type { ConnectionState } from '../connection-state.js'
import type { InboundSegment } from '../segment.js'

/** @internal */
export class SpuriousUndo {
  /** TSval of the first retransmission after a first timeout; 'pending' until it goes; undefined otherwise. */
  #eifel: number | 'pending' | undefined = undefined
  #open = false
  #start = 0
  #end = 0
  #retransmitted = 0
  #duplicated = 0

  /** A retransmission timeout: only the first of a series can be found spurious; a recovery's check ends. */
  onTimeout(first: boolean, timestamps: boolean, enabled: boolean): void {
    this.#eifel = first && timestamps && enabled ? 'pending' : undefined
    this.#open = false
  }

  /** A retransmission left, with this TSval (undefined without timestamps). */
  onRetransmission(tsValue: number, bytes: number): void {
    if (this.#eifel === 'pending') this.#eifel = tsValue
    if (this.#open) this.#retransmitted += bytes
  }

  /** Whether an ACK that advances SND.UNA still has an Eifel decision to make. */
  get eifelPending(): boolean {
    return this.#eifel !== undefined
  }

  /** RFC 3522 §3.2, on the first ACK that advances SND.UNA after the timeout: whether the timeout was spurious. */
  eifelSpurious(tsEcho: number | undefined): boolean {
    const retransmitted = this.#eifel
    this.#eifel = undefined
    return typeof retransmitted === 'number' && tsEcho !== undefined && seqLt(tsEcho, retransmitted)
  }

  /** A fast recovery starts over [SND.UNA, SND.MAX). */
  onRecoveryStart(enabled: boolean, sndUna: number, sndMax: number): void {
    this.#open = enabled
    this.#start = sndUna
    this.#end = sndMax
    this.#retransmitted = 0
    this.#duplicated = 0
  }

  /**
   * A reduction for congestion that was certainly real (an ECN-Echo, RFC 3168 §6.1.2): nothing before it
   * may be undone any more, since the controller's saved window would restore the window from before it.
   */
  onCongestion(): void {
    this.#open = false
    this.#eifel = undefined
  }

  /** Whether the last recovery may still prove spurious. */
  get recoveryOpen(): boolean {
    return this.#open
  }

  /**
   * RFC 3708 §3: count a D-SACK inside the recovery's range; once recovery is over and the D-SACKed bytes
   * cover every retransmitted byte, the recovery was spurious (and the check closes).
   */
  recoverySpurious(sndUna: number, dsack: SackBlock | undefined, inRecovery: boolean): boolean {
    if (!this.#open) return false
    if (seqSub(sndUna, this.#end) > 1 << 30) {
      this.#open = false
      return false
    }
    if (dsack !== undefined && seqGe(dsack.left, this.#start) && seqLe(dsack.right, this.#end)) this.#duplicated += seqSub(dsack.right, dsack.left)
    if (inRecovery || this.#retransmitted === 0 || this.#duplicated < this.#retransmitted) return false
    this.#open = false
    return true
  }
}

/**
 * RFC 3522 §3.2 Eifel detection (rules/spurious-undo.ts) on the first ACK that advances SND.UNA after a
 * timeout. The response (RFC 4015 §3.2): restore cwnd and ssthresh, and resume with new data
 * (SND.NXT = SND.MAX) instead of resending the rest of the flight.
 * @internal
 */
export function eifelCheck(s: ConnectionState, now: Micros, segment: InboundSegment): void {
  if (!s.undo.eifelSpurious(segment.tsEcho)) return
  s.stats.spuriousTimeouts++
  s.congestion.onUndo?.(now)
  s.frto.cancel()
  if (seqLt(s.sndNxt, s.sndMax)) s.sndNxt = s.sndMax
}
