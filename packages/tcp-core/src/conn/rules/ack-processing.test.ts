import { describe, expect, it } from 'vitest'
import { testConfig } from '../../testing/index.js'
import { ConnectionState } from '../connection-state.js'
import { updateSendWindow } from './ack-processing.js'

function established(iss: number): ConnectionState {
  const s = new ConnectionState(testConfig(), 0, iss, 'ESTABLISHED', undefined)
  return s
}

/** RFC 9293 §3.10.7.4 fifth check: SND.WND comes from segments no older than SND.WL1/SND.WL2, across the 2^32 wrap. */
describe('send-window update (RFC 9293 §3.10.7.4, SND.WL1/SND.WL2)', () => {
  it('takes the window of a newer segment whose sequence number wrapped past 2^32', () => {
    const s = established(0xffff_ff00)
    s.sndWl1 = 0xffff_fff0
    s.sndWl2 = 0xffff_ff80
    s.sndWnd = 1000
    updateSendWindow(s, 0x10, 0xffff_ff90, 5000)
    expect([s.sndWnd, s.sndWl1, s.sndWl2, s.maxSndWnd]).toEqual([5000, 0x10, 0xffff_ff90, 5000])
  })

  it('ignores an older (reordered) segment, whatever its window', () => {
    const s = established(0xffff_ff00)
    s.sndWl1 = 0x10
    s.sndWl2 = 0x20
    s.sndWnd = 4000
    updateSendWindow(s, 0xffff_fff0, 0x30, 0)
    expect([s.sndWnd, s.sndWl1, s.sndWl2]).toEqual([4000, 0x10, 0x20])
  })

  it('with the same SEG.SEQ, takes the window only when SND.WL2 ≤ SEG.ACK (across the wrap)', () => {
    const s = established(0xffff_ff00)
    s.sndWl1 = 0x7fff_fff0
    s.sndWl2 = 0xffff_fff8
    s.sndWnd = 4000
    updateSendWindow(s, 0x7fff_fff0, 0xffff_fff0, 100) // older ACK
    expect(s.sndWnd).toBe(4000)
    updateSendWindow(s, 0x7fff_fff0, 0x8, 9000) // newer ACK, wrapped
    expect([s.sndWnd, s.sndWl2, s.maxSndWnd]).toEqual([9000, 0x8, 9000])
  })

  it('stops the persist timer when a zero window opens (RFC 9293 §3.8.6.1)', () => {
    const s = established(1000)
    s.sndWnd = 0
    s.persist.arm(0, undefined, 1_000_000)
    expect(s.persist.at).toBeDefined()
    updateSendWindow(s, 1, 1001, 0)
    expect(s.persist.at).toBeDefined()
    updateSendWindow(s, 2, 1001, 1460)
    expect(s.persist.at).toBeUndefined()
  })
})
