/**
 * Keepalive (RFC 1122 §4.2.3.6, RFC 9293 §3.8.4): after `keepAliveIdle` without a segment from the peer,
 * probe at `keepAliveInterval`, and give up after `keepAliveCount` unanswered probes.
 * @module
 */
import type { Micros } from '../../congestion/congestion-control.js'
import type { ConnectionState } from '../connection-state.js'

/** @internal */
export class KeepAlive {
  /** When the next probe is due, or undefined. */
  at: Micros | undefined = undefined
  #sent = 0

  /** An acceptable segment arrived: the peer is alive. */
  onPeerHeard(): void {
    this.#sent = 0
    this.at = undefined
  }

  /** Arm when idle (nothing in flight or queued) and not armed: the idle time after the last segment heard, or the probe interval once probing. */
  armIfIdle(now: Micros, idle: boolean, lastHeardAt: Micros, idleTime: Micros, interval: Micros): void {
    if (!idle) {
      this.at = undefined
      return
    }
    if (this.at === undefined) this.at = this.#sent === 0 ? lastHeardAt + idleTime : now + interval
  }

  /** The timer: 'probe' when one is due, 'dead' after `count` unanswered probes, else undefined. */
  due(now: Micros, count: number): 'probe' | 'dead' | undefined {
    if (this.at === undefined || now < this.at) return undefined
    this.at = undefined
    return this.#sent >= count ? 'dead' : 'probe'
  }

  /** A probe left (SEG.SEQ = SND.UNA − 1, no data). */
  onProbeSent(now: Micros, interval: Micros): void {
    this.#sent++
    this.at = now + interval
  }
}

/** Arm keepalive (RFC 1122 §4.2.3.6) while the connection is open and idle, with nothing in flight or queued. @internal */
export function armKeepAlive(s: ConnectionState, now: Micros): void {
  if (!s.config.keepAlive) return
  const state = s.state
  const idle = (state === 'ESTABLISHED' || state === 'CLOSE-WAIT') && s.bytesInFlight === 0 && s.sendBuffer.length === 0
  s.keepAlive.armIfIdle(now, idle, s.lastReceivedAt, s.config.keepAliveIdle, s.config.keepAliveInterval)
}
