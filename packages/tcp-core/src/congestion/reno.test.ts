import { describe, expect, it } from 'vitest'
import type { AckSample, Micros } from './congestion-control.js'
import { initialWindow } from './loss-based.js'
import { RenoControl } from './reno.js'

const MSS = 1460

function ack(bytesAcked: number, extra: Partial<AckSample> = {}): AckSample {
  return {
    bytesAcked,
    bytesSacked: 0,
    rttSample: undefined,
    smoothedRtt: undefined,
    bytesInFlight: 0,
    appLimited: false,
    ...extra,
  }
}

/** One RTT: the whole window that was in flight at the round's start is acknowledged, `perAck` segments per ACK. */
function ackRound(cc: RenoControl, now: Micros, perAck = 1): void {
  let remaining = cc.window
  while (remaining > 0) {
    const bytes = Math.min(remaining, perAck * cc.maxSegmentSize)
    cc.onAck(now, ack(bytes))
    remaining -= bytes
  }
}

/** A Reno in congestion avoidance with cwnd = ssthresh = `segments` segments (after one recovery episode). */
function inAvoidance(segments: number): RenoControl {
  const cc = new RenoControl({ mss: MSS })
  // Slow start to 2*segments, then a loss halves it; a full ACK with plenty in flight sets cwnd = ssthresh.
  while (cc.window < 2 * segments * MSS) cc.onAck(0, ack(MSS))
  expect(cc.window).toBe(2 * segments * MSS)
  cc.onEnterRecovery(0, cc.window)
  cc.onExitRecovery(0, 2 * segments * MSS)
  expect(cc.window).toBe(segments * MSS)
  expect(cc.slowStartThreshold).toBe(segments * MSS)
  return cc
}

describe('RenoControl initial window (RFC 6928)', () => {
  it.each([
    [536, 5360],
    [1460, 14600],
    [8960, 17920],
  ])('MSS %i gives IW %i bytes', (mss, expected) => {
    // RFC 6928 §2, written out independently: IW = min(10*MSS, max(2*MSS, 14600)).
    expect(Math.min(10 * mss, Math.max(2 * mss, 14600))).toBe(expected)
    expect(initialWindow(mss)).toBe(expected)
    const cc = new RenoControl({ mss })
    expect(cc.window).toBe(expected)
    expect(cc.initialWindow).toBe(expected)
    expect(cc.slowStartThreshold).toBe(Number.POSITIVE_INFINITY)
  })

  it('scales the 14600-byte allowance with initialWindowSegments (N*1460), never above N segments', () => {
    expect(initialWindow(1460, 1)).toBe(1460)
    expect(initialWindow(536, 4)).toBe(4 * 536)
    expect(initialWindow(1460, 4)).toBe(4 * 1460)
    expect(initialWindow(1460, 20)).toBe(20 * 1460)
    expect(initialWindow(8960, 2)).toBe(2 * 8960)
    expect(initialWindow(8960, 4)).toBe(2 * 8960)
    expect(initialWindow(8960, 20)).toBe(20 * 1460)
    expect(initialWindow(9000, 1)).toBe(9000)
    expect(new RenoControl({ mss: 1460, initialWindowSegments: 3 }).window).toBe(3 * 1460)
  })

  it('follows the MSS before any data, keeps its bytes after', () => {
    const cc = new RenoControl()
    expect(cc.window).toBe(5360) // default MSS 536
    cc.setMss(1460)
    expect(cc.window).toBe(14600)
    cc.setMss(8960)
    expect(cc.window).toBe(17920)
    cc.setMss(1460)
    cc.onAck(0, ack(1460))
    expect(cc.window).toBe(16060)
    cc.setMss(1200)
    expect(cc.window).toBe(16060)
    expect(cc.maxSegmentSize).toBe(1200)
  })

  it('never holds less than one segment or a threshold below two after an MSS increase', () => {
    const cc = new RenoControl({ mss: 536 })
    cc.onRetransmitTimeout(0, 536)
    expect(cc.window).toBe(536)
    expect(cc.slowStartThreshold).toBe(1072)
    cc.setMss(1460)
    expect(cc.window).toBe(1460)
    expect(cc.slowStartThreshold).toBe(2920)
  })

  it('has a name and leaves pacing to the connection', () => {
    const cc = new RenoControl()
    expect(cc.name).toBe('reno')
    expect(cc.pacingRate).toBeUndefined()
  })
})

describe('RenoControl slow start (RFC 5681 §3.1, RFC 3465)', () => {
  it('doubles the window every RTT with one ACK per segment', () => {
    const cc = new RenoControl({ mss: MSS })
    const windows = [cc.window]
    for (let round = 1; round <= 6; round++) {
      ackRound(cc, round * 50_000)
      windows.push(cc.window)
    }
    expect(windows).toEqual([1, 2, 4, 8, 16, 32, 64].map((k) => k * 14600))
  })

  it('doubles the window every RTT with delayed ACKs (one per two segments, L = 2*SMSS)', () => {
    const cc = new RenoControl({ mss: MSS })
    for (let round = 1; round <= 5; round++) {
      const before = cc.window
      ackRound(cc, round * 50_000, 2)
      expect(cc.window).toBe(2 * before)
    }
  })

  it('limits the growth per ACK to 2*SMSS (RFC 3465 §2.2)', () => {
    const cc = new RenoControl({ mss: MSS })
    cc.onAck(0, ack(10 * MSS))
    expect(cc.window).toBe(14600 + 2 * MSS)
    cc.onAck(0, ack(100))
    expect(cc.window).toBe(14600 + 2 * MSS + 100)
  })

  it('stops at ssthresh and spends the rest of the ACK on congestion avoidance', () => {
    const cc = inAvoidance(10) // ssthresh 14600
    cc.onRetransmitTimeout(0, 4 * MSS)
    expect(cc.slowStartThreshold).toBe(2 * MSS)
    expect(cc.window).toBe(MSS)
    cc.onAck(0, ack(MSS)) // 1460 → 2920 = ssthresh
    expect(cc.window).toBe(2 * MSS)
    expect(cc.inSlowStart).toBe(false)
  })

  it('does not grow on ACKs for application-limited data', () => {
    const cc = new RenoControl({ mss: MSS })
    cc.onAck(0, ack(MSS, { appLimited: true }))
    expect(cc.window).toBe(14600)
    const ca = inAvoidance(10)
    for (let i = 0; i < 20; i++) ca.onAck(0, ack(MSS, { appLimited: true }))
    expect(ca.window).toBe(14600)
  })

  it('ignores an ACK that acknowledges nothing', () => {
    const cc = new RenoControl({ mss: MSS })
    cc.onAck(0, ack(0))
    expect(cc.window).toBe(14600)
  })
})

describe('RenoControl congestion avoidance (RFC 5681 §3.1 byte counting)', () => {
  it('adds exactly one SMSS per RTT', () => {
    const cc = inAvoidance(10)
    for (let round = 1; round <= 10; round++) {
      ackRound(cc, round * 50_000)
      expect(cc.window).toBe((10 + round) * MSS)
    }
  })

  it('adds one SMSS per RTT with delayed ACKs too', () => {
    const cc = inAvoidance(10)
    for (let round = 1; round <= 10; round++) {
      ackRound(cc, round * 50_000, 2)
      expect(cc.window).toBe((10 + round) * MSS)
    }
  })

  it('grows nothing until a full window is acknowledged, and at most one SMSS per ACK', () => {
    const cc = inAvoidance(10)
    cc.onAck(0, ack(14599))
    expect(cc.window).toBe(14600)
    cc.onAck(0, ack(1))
    expect(cc.window).toBe(16060)
    cc.onAck(0, ack(10 * 16060)) // a huge stretch ACK
    expect(cc.window).toBe(17520)
  })
})

describe('RenoControl fast recovery (RFC 5681 §3.2, RFC 6582 §3.2)', () => {
  /** cwnd = 20 segments = 29200 bytes in slow start. */
  function twentySegments(): RenoControl {
    const cc = new RenoControl({ mss: MSS })
    while (cc.window < 29200) cc.onAck(0, ack(MSS))
    expect(cc.window).toBe(29200)
    return cc
  }

  it('follows each step with the RFC numbers', () => {
    const cc = twentySegments()
    // Entering: ssthresh = max(FlightSize/2, 2*SMSS) = 14600; cwnd = ssthresh + 3*SMSS = 18980.
    cc.onEnterRecovery(1000, 29200)
    expect(cc.inRecovery).toBe(true)
    expect(cc.slowStartThreshold).toBe(14600)
    expect(cc.window).toBe(14600 + 3 * 1460)
    // Each further duplicate ACK inflates by SMSS.
    cc.onDuplicateAck(2000)
    expect(cc.window).toBe(20440)
    cc.onDuplicateAck(3000)
    expect(cc.window).toBe(21900)
    // Partial ACK of two segments: deflate by 2920, add back one SMSS.
    cc.onPartialAck(4000, 2920)
    expect(cc.window).toBe(21900 - 2920 + 1460)
    // Partial ACK of less than one SMSS: deflate only.
    cc.onPartialAck(5000, 1000)
    expect(cc.window).toBe(20440 - 1000)
    // Partial ACK of exactly one SMSS: no net change.
    cc.onPartialAck(5500, 1460)
    expect(cc.window).toBe(19440)
    // Full ACK with 5 segments still in flight: cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS) = 8760.
    cc.onExitRecovery(6000, 7300)
    expect(cc.inRecovery).toBe(false)
    expect(cc.window).toBe(8760)
    expect(cc.slowStartThreshold).toBe(14600)
  })

  it('keeps the recovery ssthresh when the timer expires during recovery (one reduction per event)', () => {
    const cc = twentySegments()
    cc.onEnterRecovery(1000, 29200)
    for (let i = 0; i < 30; i++) cc.onDuplicateAck(2000) // recovery sent new data: FlightSize grew
    cc.onRetransmitTimeout(3000, 29200 + 30 * MSS)
    expect(cc.slowStartThreshold).toBe(14600)
    expect(cc.window).toBe(MSS)
    expect(cc.inRecovery).toBe(false)
  })

  it('deflates to ssthresh on a full ACK with a full pipe, and to 2*SMSS with an empty one', () => {
    const full = twentySegments()
    full.onEnterRecovery(0, 29200)
    full.onExitRecovery(0, 29200)
    expect(full.window).toBe(14600)
    const empty = twentySegments()
    empty.onEnterRecovery(0, 29200)
    empty.onExitRecovery(0, 0)
    expect(empty.window).toBe(2 * MSS) // max(0, SMSS) + SMSS
  })

  it('floors ssthresh at 2*SMSS', () => {
    const cc = twentySegments()
    cc.onEnterRecovery(0, 2 * MSS)
    expect(cc.slowStartThreshold).toBe(2 * MSS)
    expect(cc.window).toBe(5 * MSS)
  })

  it('uses FlightSize, not cwnd, and rounds half a byte down', () => {
    const cc = twentySegments()
    cc.onEnterRecovery(0, 10001)
    expect(cc.slowStartThreshold).toBe(5000)
  })

  it('ignores calls that do not fit the episode', () => {
    const cc = twentySegments()
    cc.onDuplicateAck(0) // first duplicates: no change (RFC 5681 §3.2 step 1)
    cc.onPartialAck(0, MSS)
    cc.onExitRecovery(0, 0)
    expect(cc.window).toBe(29200)
    cc.onEnterRecovery(0, 29200)
    cc.onEnterRecovery(0, 2920) // already in recovery: no second reduction
    expect(cc.slowStartThreshold).toBe(14600)
    expect(cc.window).toBe(18980)
    cc.onAck(0, ack(MSS)) // growth is the recovery steps' business
    expect(cc.window).toBe(18980)
  })

  it('never deflates below one SMSS', () => {
    const cc = twentySegments()
    cc.onEnterRecovery(0, 29200)
    cc.onPartialAck(0, 1_000_000)
    expect(cc.window).toBe(MSS)
    cc.onPartialAck(0, 1000)
    expect(cc.window).toBe(MSS)
    cc.onDuplicateAck(0)
    expect(cc.window).toBe(2 * MSS)
  })
})

describe('RenoControl retransmission timeout (RFC 5681 §3.1)', () => {
  it('sets ssthresh from FlightSize and cwnd to the loss window, and ends recovery', () => {
    const cc = new RenoControl({ mss: MSS })
    while (cc.window < 29200) cc.onAck(0, ack(MSS))
    cc.onEnterRecovery(0, 29200)
    cc.onRetransmitTimeout(0, 29200)
    expect(cc.inRecovery).toBe(false)
    expect(cc.slowStartThreshold).toBe(14600)
    expect(cc.window).toBe(MSS)
  })

  it('holds ssthresh on a repeated timeout, recomputes it once new data was acknowledged', () => {
    const cc = new RenoControl({ mss: MSS })
    while (cc.window < 29200) cc.onAck(0, ack(MSS))
    cc.onRetransmitTimeout(0, 29200)
    cc.onRetransmitTimeout(0, 29200 - MSS)
    expect(cc.slowStartThreshold).toBe(14600)
    expect(cc.window).toBe(MSS)
    cc.onAck(0, ack(MSS))
    cc.onRetransmitTimeout(0, 4 * MSS)
    expect(cc.slowStartThreshold).toBe(2 * MSS)
  })

  it('slow-starts afterwards with L = 1*SMSS (RFC 3465 §2.3)', () => {
    const cc = new RenoControl({ mss: MSS })
    while (cc.window < 29200) cc.onAck(0, ack(MSS))
    cc.onRetransmitTimeout(0, 29200)
    cc.onAck(0, ack(3 * MSS))
    expect(cc.window).toBe(2 * MSS)
    cc.onAck(0, ack(3 * MSS))
    expect(cc.window).toBe(3 * MSS)
  })
})

describe('RenoControl restart after idle (RFC 5681 §4.1)', () => {
  it('cuts a large window to the initial window and keeps ssthresh', () => {
    const cc = inAvoidance(20)
    cc.onIdleRestart(1_000_000)
    expect(cc.window).toBe(14600)
    expect(cc.slowStartThreshold).toBe(29200)
  })

  it('keeps a window already below the initial window', () => {
    const cc = new RenoControl({ mss: MSS })
    cc.onRetransmitTimeout(0, 14600)
    cc.onIdleRestart(1_000_000)
    expect(cc.window).toBe(MSS)
  })

  it('uses the initial window of the current MSS', () => {
    const cc = inAvoidance(20)
    cc.setMss(536)
    cc.onIdleRestart(0)
    expect(cc.window).toBe(5360)
  })
})
