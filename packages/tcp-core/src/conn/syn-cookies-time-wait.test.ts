// SYN cookies (rules/syn-cookies.ts, RFC 4987 §3.6) and TIME-WAIT answers (rules/time-wait.ts: RFC 9293
// §3.10.7.4, RFC 1337, RFC 7323 §5.3, RFC 6191), and the connection's side of both.
import { describe, expect, it } from 'vitest'
import { ConnectionHarness, testConfig } from '../testing/index.js'
import { TcpFlags } from '../wire/tcp.js'
import { TcpConnection } from './connection.js'
import type { IsnSecret } from './initial-sequence.js'
import {
  checkSynCookie,
  cookieSackPermitted,
  cookieTimestamp,
  cookieWindowScale,
  makeSynCookie,
  SYN_COOKIE_MSS_TABLE,
  synCookieMssIndex,
  type SynCookieSecret,
} from './rules/syn-cookies.js'
import { TimeWaitAction, timeWaitVerdict } from './rules/time-wait.js'
import { emptyInboundSegment } from './segment.js'

const { SYN, ACK, FIN, RST, PSH } = TcpFlags
const SECRET: SynCookieSecret = [[0x01234567, 0x89abcdef] as IsnSecret, [0xdeadbeef, 0x0badf00d] as IsnSecret]
const L = 0x0a000002
const R = 0xc6120001

describe('SYN cookies (RFC 4987 §3.6)', () => {
  it('a cookie comes back with its MSS index, for every index, peer ISNs across 2^31 and 2^32', () => {
    for (const peerIsn of [0, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffff0]) {
      for (let index = 0; index < SYN_COOKIE_MSS_TABLE.length; index++) {
        const cookie = makeSynCookie(SECRET, 7, L, 80, R, 40000, peerIsn, index)
        expect(checkSynCookie(SECRET, 7, L, 80, R, 40000, peerIsn, cookie)).toBe(index)
      }
    }
  })

  it('is valid in its counter period and the next, not after', () => {
    const cookie = makeSynCookie(SECRET, 100, L, 80, R, 40000, 1234, 2)
    expect(checkSynCookie(SECRET, 100, L, 80, R, 40000, 1234, cookie)).toBe(2)
    expect(checkSynCookie(SECRET, 101, L, 80, R, 40000, 1234, cookie)).toBe(2)
    expect(checkSynCookie(SECRET, 102, L, 80, R, 40000, 1234, cookie)).toBe(-1)
    // Across the counter's 8-bit wrap in the cookie.
    const late = makeSynCookie(SECRET, 255, L, 80, R, 40000, 1234, 1)
    expect(checkSynCookie(SECRET, 256, L, 80, R, 40000, 1234, late)).toBe(1)
  })

  it('fails for another 4-tuple, another secret, a peer ISN or cookie changed beyond the low bits', () => {
    const cookie = makeSynCookie(SECRET, 5, L, 80, R, 40000, 99, 3)
    expect(checkSynCookie(SECRET, 5, L, 80, R, 40001, 99, cookie)).toBe(-1)
    expect(checkSynCookie(SECRET, 5, L, 81, R, 40000, 99, cookie)).toBe(-1)
    expect(checkSynCookie(SECRET, 5, L, 80, R + 1, 40000, 99, cookie)).toBe(-1)
    expect(checkSynCookie([SECRET[0], [1, 2]], 5, L, 80, R, 40000, 99, cookie)).toBe(-1)
    expect(checkSynCookie(SECRET, 5, L, 80, R, 40000, 99 + 0x800000, cookie)).toBe(-1)
    // The layout is additive (as Linux's): the MSS index sits in the low bits, so a cookie (or peer ISN)
    // off by less than the table's size reads as another index: only those bits are not authenticated.
    expect(checkSynCookie(SECRET, 5, L, 80, R, 40000, 100, cookie)).toBe(2)
    for (let bit = 2; bit < 32; bit++) expect(checkSynCookie(SECRET, 5, L, 80, R, 40000, 99, (cookie ^ (1 << bit)) >>> 0)).toBe(-1)
  })

  it('MSS index: the largest table entry not above the MSS', () => {
    expect(SYN_COOKIE_MSS_TABLE.map((mss) => synCookieMssIndex(mss))).toEqual([0, 1, 2, 3])
    expect(synCookieMssIndex(9000)).toBe(3)
    expect(synCookieMssIndex(1439)).toBe(1)
    expect(synCookieMssIndex(100)).toBe(0)
  })

  it('the TSval carries window shift and SACK-permitted in its low 6 bits, never ahead of the clock, across 2^32', () => {
    for (const clock of [1000, 0xffffffff, 0x80000000, 63, 64, 5]) {
      for (const [shift, sack] of [[7, true], [0, false], [-1, true], [14, false]] as const) {
        const ts = cookieTimestamp(clock, shift, sack)
        expect(cookieWindowScale(ts)).toBe(shift)
        expect(cookieSackPermitted(ts)).toBe(sack)
        const behind = (clock - ts) >>> 0
        expect(behind).toBeLessThan(128) // at most one step of 64 behind (mod 2^32)
      }
    }
    expect(cookieWindowScale(0b1111)).toBe(-1)
    // A shift above 14 is not something we wrote.
    for (let bits = 0; bits < 15; bits++) expect(cookieWindowScale(bits)).toBe(bits)
  })
})

const verdict = (state: { rcvNxt: number; timestamps: boolean; tsRecent: number }, seq: number, flags: number, length: number, tsValue: number | undefined) =>
  timeWaitVerdict(state.rcvNxt, state.timestamps, state.tsRecent, seq, flags, length, tsValue)

describe('TIME-WAIT answers (rules/time-wait.ts)', () => {
  const tw = { rcvNxt: 5000, timestamps: true, tsRecent: 1000 }
  it('RFC 1337: a RST is ignored', () => {
    expect(verdict(tw, 5000, RST, 0, undefined)).toBe(TimeWaitAction.IgnoreReset)
    expect(verdict(tw, 5000, RST | ACK, 0, 2000)).toBe(TimeWaitAction.IgnoreReset)
  })
  it('the peer FIN again: ACK and restart', () => {
    expect(verdict(tw, 4999, FIN | ACK, 0, 1001)).toBe(TimeWaitAction.AckAndRestart)
    expect(verdict(tw, 4989, FIN | ACK | PSH, 10, 1001)).toBe(TimeWaitAction.AckAndRestart)
  })
  it('RFC 7323: without the option dropped, an old TSval acknowledged', () => {
    expect(verdict(tw, 4999, FIN | ACK, 0, undefined)).toBe(TimeWaitAction.Drop)
    expect(verdict(tw, 4999, FIN | ACK, 0, 999)).toBe(TimeWaitAction.Ack)
  })
  it('old duplicates get an ACK; a bare ACK at RCV.NXT nothing', () => {
    expect(verdict(tw, 4000, ACK, 100, 1001)).toBe(TimeWaitAction.Ack)
    expect(verdict(tw, 5000, ACK, 0, 1001)).toBe(TimeWaitAction.Drop)
  })
  it('RFC 6191 §2 with timestamps: higher TSval reopens; equal TSval needs a higher sequence number; lower never', () => {
    expect(verdict(tw, 1, SYN, 0, 1001)).toBe(TimeWaitAction.Reuse)
    expect(verdict(tw, 5000, SYN, 0, 1000)).toBe(TimeWaitAction.Reuse)
    expect(verdict(tw, 4999, SYN, 0, 1000)).toBe(TimeWaitAction.Drop)
    expect(verdict(tw, 9000, SYN, 0, 999)).toBe(TimeWaitAction.Drop)
    // Across the TSval wrap: 5 is after 0xfffffff0.
    expect(verdict({ ...tw, tsRecent: 0xfffffff0 }, 1, SYN, 0, 5)).toBe(TimeWaitAction.Reuse)
    // A SYN without timestamps to a 4-tuple that had them: only the sequence number.
    expect(verdict(tw, 5001, SYN, 0, undefined)).toBe(TimeWaitAction.Reuse)
    expect(verdict(tw, 4000, SYN, 0, undefined)).toBe(TimeWaitAction.Drop)
  })
  it('RFC 6191 §2 without timestamps: a higher sequence number, across 2^32', () => {
    const plain = { rcvNxt: 3, timestamps: false, tsRecent: 0 }
    expect(verdict(plain, 0xfffffff0, SYN, 0, undefined)).toBe(TimeWaitAction.Drop)
    expect(verdict(plain, 10, SYN, 0, 12345)).toBe(TimeWaitAction.Reuse)
  })
})

describe('the connection side', () => {
  it('timeWaitHandoff: what TIME-WAIT needs, only in TIME-WAIT', () => {
    const h = ConnectionHarness.connect(testConfig({ timestampOffset: 0 }), 1000)
    const [syn] = h.recv()
    h.now = 10_000
    h.send({ seq: 5000, ack: 1001, flags: SYN | ACK, window: 65535, mss: 1460, windowScale: 7, sackPermitted: true, tsValue: 777, tsEcho: syn!.tsValue })
    h.recv()
    expect(h.connection.timeWaitHandoff()).toBeUndefined()
    h.connection.shutdown()
    h.recv()
    h.send({ seq: 5001, ack: 1002, flags: ACK | FIN, window: 1024, tsValue: 778 })
    expect(h.connection.state).toBe('TIME-WAIT')
    const handoff = h.connection.timeWaitHandoff()!
    expect(handoff).toMatchObject({ sndNxt: 1002, rcvNxt: 5002, timestamps: true, tsRecent: 778, tsOffset: 0, endsAt: h.now + testConfig().timeWaitTimeout })
    expect(handoff.window).toBeGreaterThan(0)
  })

  it('acceptCookie: SYN-RECEIVED with the SYN-ACK counted as sent; the ACK establishes it and nothing is sent', () => {
    const syn = { ...emptyInboundSegment(), seq: 0xffffffff, flags: SYN, window: 1000, mss: 1460, windowScale: 7, sackPermitted: true, tsValue: 50 }
    const connection = TcpConnection.acceptCookie(testConfig(), 0, 0x7fffffff, syn, 0)
    expect(connection.state).toBe('SYN-RECEIVED')
    expect(connection.hasPendingOutput).toBe(false)
    connection.process(0, { ...emptyInboundSegment(), seq: 0, ack: 0x80000000, flags: ACK, window: 1000, tsValue: 51, tsEcho: 0 })
    expect(connection.state).toBe('ESTABLISHED')
    expect(connection.sequence).toMatchObject({ sndUna: 0x80000000, sndNxt: 0x80000000, rcvNxt: 0 })
    expect(connection.negotiated).toMatchObject({ sendShift: 7, sack: true, timestamps: true })
    // With resend, the SYN-ACK goes again at the next dispatch.
    expect(TcpConnection.acceptCookie(testConfig(), 0, 5, syn, 0, true).hasPendingOutput).toBe(true)
  })
})
