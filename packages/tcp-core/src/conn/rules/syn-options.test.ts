import { describe, expect, it } from 'vitest'
import { segment, testConfig } from '../../testing/index.js'
import { TcpFlags } from '../../wire/tcp.js'
import { ConnectionState } from '../connection-state.js'
import { OutboundSegment } from '../segment.js'
import type { TcpConfig } from '../tcp-config.js'
import { offerSynOptions, takeSynOptions } from './syn-options.js'

function passive(overrides: Partial<TcpConfig> = {}): ConnectionState {
  return new ConnectionState(testConfig({ receiveBufferSize: 1 << 20, ...overrides }), 0, 1000, 'SYN-RECEIVED', undefined)
}

describe('the peer SYN settles the options', () => {
  it('IRS and RCV.NXT across the 2^32 wrap', () => {
    const s = passive()
    takeSynOptions(s, segment({ seq: 0xffff_ffff, flags: TcpFlags.SYN }), 0)
    expect([s.irs, s.rcvNxt, s.lastAckSent]).toEqual([0xffff_ffff, 0, 0])
  })

  it('window scale: both sides, shift above 14 taken as 14 (RFC 7323 §2.2–§2.3)', () => {
    const s = passive()
    takeSynOptions(s, segment({ seq: 1, flags: TcpFlags.SYN, windowScale: 15 }), 0)
    expect(s.sndShift).toBe(14)
    expect(s.rcvWindow.shift).toBe(5) // ours for a 1 MiB buffer
    const none = passive()
    takeSynOptions(none, segment({ seq: 1, flags: TcpFlags.SYN }), 0)
    expect([none.sndShift, none.rcvWindow.shift, none.offerWindowScale]).toEqual([0, 0, -1])
  })

  it('MSS: 536 without the option, less the timestamps option when on (RFC 9293 §3.7.1, RFC 7323 §3.2)', () => {
    const plain = passive()
    takeSynOptions(plain, segment({ seq: 1, flags: TcpFlags.SYN }), 0)
    expect([plain.payloadMax, plain.ts.on]).toEqual([536, false])
    const stamped = passive()
    takeSynOptions(stamped, segment({ seq: 1, flags: TcpFlags.SYN, mss: 9000, tsValue: 5 }), 0)
    expect([stamped.payloadMax, stamped.ts.on]).toEqual([1460 - 12, true])
  })

  it('SACK only when both sides permit it (RFC 2018 §2)', () => {
    const on = passive()
    takeSynOptions(on, segment({ seq: 1, flags: TcpFlags.SYN, sackPermitted: true }), 0)
    expect(on.sackOn).toBe(true)
    const off = passive({ sack: false })
    takeSynOptions(off, segment({ seq: 1, flags: TcpFlags.SYN, sackPermitted: true }), 0)
    expect(off.sackOn).toBe(false)
  })
})

describe('our SYN-ACK offers only what the SYN offered', () => {
  it('a SYN without options gets a SYN-ACK without them', () => {
    const s = passive()
    takeSynOptions(s, segment({ seq: 1, flags: TcpFlags.SYN }), 0)
    const out = new OutboundSegment()
    offerSynOptions(s, out, 0, false)
    expect({ sack: out.sackPermitted, ws: out.windowScale, ts: out.timestamps, mss: out.mss }).toEqual({ sack: false, ws: -1, ts: false, mss: 1460 })
  })

  it('a SYN with every option gets them all back, echoing its TSval', () => {
    const s = passive()
    takeSynOptions(s, segment({ seq: 1, flags: TcpFlags.SYN, sackPermitted: true, windowScale: 7, tsValue: 4242 }), 0)
    const out = new OutboundSegment()
    offerSynOptions(s, out, 0, false)
    expect({ sack: out.sackPermitted, ws: out.windowScale, ts: out.timestamps, echo: out.tsEcho }).toEqual({ sack: true, ws: 5, ts: true, echo: 4242 })
  })
})
