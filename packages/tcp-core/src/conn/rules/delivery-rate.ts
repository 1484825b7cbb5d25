/**
 * Delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation): the count of bytes delivered,
 * the per-segment delivery state kept in the {@link SentLog} (§3.2), rate samples per ACK (§3.3), and
 * application-limited phases (§3.4): segments sent while the application, not cwnd, limited the
 * connection are marked, so their ACKs neither grow cwnd (RFC 7661, RFC 9438 §5.8) nor pass for the
 * path's rate. Every value here is a byte count or a time, none a sequence number: nothing wraps.
 * @module
 */
import type { AckMeasurement, Micros } from '../../congestion/congestion-control.js'
import { seqLt } from '../../wire/seq.js'
import type { ConnectionState } from '../connection-state.js'
import type { SentLog } from '../sent-log.js'

/** @internal */
export class DeliveryRate {
  /** C.delivered: bytes delivered (cumulatively and selectively acknowledged); only grows. */
  delivered = 0
  /** C.delivered_time. */
  #deliveredTime: Micros = 0
  /** C.first_sent_time. */
  #firstSentTime: Micros = 0
  /** C.app_limited: while not 0, the delivered count at which the application-limited phase ends. */
  #appLimitedUntil = 0
  readonly #log: SentLog
  /** Whether per-segment delivery state is kept (for controllers that take rate samples). */
  readonly #withState: boolean

  constructor(log: SentLog, withState: boolean) {
    this.#log = log
    this.#withState = withState
  }

  /** Whether the connection is in an application-limited phase now. */
  get appLimited(): boolean {
    return this.#appLimitedUntil !== 0
  }

  /** An ACK: `delivered` is the new total (it never goes back); the application-limited phase ends once its data is delivered (§3.4). */
  onAck(now: Micros, delivered: number): void {
    if (delivered <= this.delivered) return
    this.delivered = delivered
    this.#deliveredTime = now
    if (this.#appLimitedUntil !== 0 && delivered > this.#appLimitedUntil) this.#appLimitedUntil = 0
  }

  /** A first transmission of [start, end) at `now` (§3.2); `idle` when nothing was in flight before it. */
  onSent(now: Micros, start: number, end: number, idle: boolean): void {
    const appLimited = this.#appLimitedUntil !== 0
    if (!this.#withState) {
      this.#log.add(now, start, end, appLimited)
      return
    }
    // §3.2: with nothing in flight, the intervals start now.
    if (idle || this.#log.size === 0) {
      this.#firstSentTime = now
      this.#deliveredTime = now
    }
    this.#log.add(now, start, end, appLimited, this.delivered, this.#deliveredTime, this.#firstSentTime)
  }

  /** §3.4: the connection is application-limited now: C.app_limited = delivered + in flight (at least 1). */
  markApplicationLimited(inFlight: number): void {
    this.#appLimitedUntil = Math.max(this.delivered + inFlight, 1)
  }

  /**
   * §3.3: from the newest segment this ACK acknowledged, the data delivered since it was sent over the
   * longer of its send and ACK intervals (so ACK compression cannot inflate it). Rates stay 0 when the
   * ACK acknowledged no logged segment (SACK only, or a duplicate).
   */
  sample(now: Micros, measurement: AckMeasurement): void {
    measurement.deliveryRate = 0
    measurement.sendRate = 0
    measurement.appLimited = this.#log.ackedAppLimited
    const log = this.#log
    if (log.ackedSentAt < 0) return
    const delivered = this.delivered - log.ackedDelivered
    const sendElapsed = log.ackedSentAt - log.ackedFirstSentTime
    const ackElapsed = now - log.ackedDeliveredTime
    this.#firstSentTime = log.ackedSentAt
    log.ackedSentAt = -1
    if (delivered <= 0) return
    const interval = Math.max(sendElapsed, ackElapsed)
    if (interval > 0) measurement.deliveryRate = (delivered * 1e6) / interval
    if (sendElapsed > 0) measurement.sendRate = (delivered * 1e6) / sendElapsed
  }
}

/**
 * draft-cheng-iccrg-delivery-rate-estimation §3.4 (rules/delivery-rate.ts): after sending what it could,
 * the connection is application-limited when less than a segment is left to send, nothing waits for
 * retransmission, and cwnd has room for more. A pacer holding data back is not the application's doing.
 * @internal
 */
export function checkApplicationLimited(s: ConnectionState): void {
  if (!s.canSendData() || s.recovery.inRecovery || s.paceAt !== undefined || seqLt(s.sndNxt, s.sndMax)) return
  const inFlight = s.bytesInFlight
  if (s.sendBuffer.length - inFlight >= s.payloadMax) return
  if (inFlight >= s.congestion.window) return
  s.delivery.markApplicationLimited(inFlight)
}
