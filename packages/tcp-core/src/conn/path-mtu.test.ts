import { describe, expect, it } from 'vitest'
import { icmpSequenceAcceptable, loweredPayload, MIN_PATH_MTU, reportedNextHopMtu } from './rules/path-mtu.js'

describe('path MTU rules (RFC 1191, RFC 5927)', () => {
  it('takes the next-hop MTU field, or the plateau below the quoted length when it is 0 (RFC 1191 §5, §7)', () => {
    expect(reportedNextHopMtu(1280, 1500)).toBe(1280)
    expect(reportedNextHopMtu(0, 1500)).toBe(1492)
    expect(reportedNextHopMtu(0, 1492)).toBe(1006)
    expect(reportedNextHopMtu(0, 600)).toBe(508)
    expect(reportedNextHopMtu(0, 68)).toBe(68)
  })

  it('lowers the payload only, never below the floor', () => {
    expect(loweredPayload(1000, 1448, 12)).toBe(948)
    expect(loweredPayload(1500, 1448, 12)).toBeUndefined() // the same
    expect(loweredPayload(9000, 1448, 12)).toBeUndefined() // RFC 1191 §3: never up
    expect(loweredPayload(100, 1448, 0)).toBe(MIN_PATH_MTU - 40)
    expect(loweredPayload(100, MIN_PATH_MTU - 40, 0)).toBeUndefined()
  })

  it('accepts SND.UNA ≤ seq < SND.MAX only, across the 2^32 wrap (RFC 5927 §4.1)', () => {
    const una = 0xffff_ff00
    const max = 0x0000_0100
    expect(icmpSequenceAcceptable(una, una, max)).toBe(true)
    expect(icmpSequenceAcceptable(0xffff_ffff, una, max)).toBe(true)
    expect(icmpSequenceAcceptable(0, una, max)).toBe(true)
    expect(icmpSequenceAcceptable(0xff, una, max)).toBe(true)
    expect(icmpSequenceAcceptable(max, una, max)).toBe(false)
    expect(icmpSequenceAcceptable(una - 1, una, max)).toBe(false)
    expect(icmpSequenceAcceptable((una + 0x8000_0000) >>> 0, una, max)).toBe(false)
    expect(icmpSequenceAcceptable(una, una, una)).toBe(false) // nothing in flight
  })
})
