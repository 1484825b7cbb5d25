import { describe, expect, it } from 'vitest'
import { testConfig } from '../../testing/index.js'
import { TcpFlags } from '../../wire/tcp.js'
import { ConnectionState } from '../connection-state.js'
import { TcpEvents } from '../connection-types.js'
import { ackAcceptable, resetArrived, timeWaitResetIgnored } from './rst-and-syn-checks.js'

function established(iss: number): ConnectionState {
  return new ConnectionState(testConfig(), 0, iss, 'ESTABLISHED', undefined)
}

describe('RFC 5961 §5.2: SND.UNA − MAX.SND.WND ≤ SEG.ACK ≤ SND.NXT', () => {
  it('takes the bounds and refuses one past them, across the 2^32 wrap, with a challenge ACK', () => {
    const s = established(0xffff_fe00)
    s.sndUna = 0xffff_ff00
    s.sndNxt = s.sndMax = 0x100
    s.maxSndWnd = 0x1000
    expect(ackAcceptable(s, 0, 0x100)).toBe(true)
    expect(ackAcceptable(s, 0, 0xffff_ef00)).toBe(true) // SND.UNA − MAX.SND.WND
    expect(s.stats.challengeAcks).toBe(0)
    expect(ackAcceptable(s, 0, 0x101)).toBe(false)
    expect(ackAcceptable(s, 0, 0xffff_eeff)).toBe(false)
    expect(s.stats.challengeAcks).toBe(2)
    expect(s.acks.pureOwed).toBe(2)
  })

  it('sends at most 10 challenge ACKs a second (RFC 5961 §7)', () => {
    const s = established(1000)
    s.sndNxt = s.sndMax = 2000
    for (let i = 0; i < 15; i++) expect(ackAcceptable(s, 500_000, 5000)).toBe(false)
    expect(s.stats.challengeAcks).toBe(10)
    expect(ackAcceptable(s, 1_500_000, 5000)).toBe(false)
    expect(s.stats.challengeAcks).toBe(11)
  })
})

describe('RFC 5961 §3.2: a RST resets only at exactly RCV.NXT', () => {
  it('answers an in-window RST elsewhere with a challenge ACK, and resets at RCV.NXT (across the wrap)', () => {
    const s = established(1000)
    s.rcvNxt = 0xffff_fffe
    resetArrived(s, 0, 0x4)
    expect(s.state).toBe('ESTABLISHED')
    expect(s.stats.challengeAcks).toBe(1)
    resetArrived(s, 0, 0xffff_fffe)
    expect(s.state).toBe('CLOSED')
    expect(s.error).toBe('ECONNRESET')
    expect(s.events & TcpEvents.ERROR).toBe(TcpEvents.ERROR)
  })

  it('closes without an error from LAST-ACK, and refuses from SYN-RECEIVED (RFC 9293 §3.10.7.4)', () => {
    const lastAck = established(1000)
    lastAck.state = 'LAST-ACK'
    resetArrived(lastAck, 0, lastAck.rcvNxt)
    expect([lastAck.state, lastAck.error]).toEqual(['CLOSED', undefined])
    const synReceived = established(1000)
    synReceived.state = 'SYN-RECEIVED'
    resetArrived(synReceived, 0, synReceived.rcvNxt)
    expect([synReceived.state, synReceived.error]).toEqual(['CLOSED', 'ECONNREFUSED'])
  })
})

describe('RFC 1337: no TIME-WAIT assassination', () => {
  it('ignores a RST in TIME-WAIT and counts it; not in other states, nor other segments', () => {
    const s = established(1000)
    expect(timeWaitResetIgnored(s, TcpFlags.RST)).toBe(false)
    s.state = 'TIME-WAIT'
    expect(timeWaitResetIgnored(s, TcpFlags.ACK)).toBe(false)
    expect(timeWaitResetIgnored(s, TcpFlags.RST | TcpFlags.ACK)).toBe(true)
    expect(s.stats.timeWaitResetsIgnored).toBe(1)
  })
})
