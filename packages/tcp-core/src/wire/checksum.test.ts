import { describe, expect, it } from 'vitest'
import { internetChecksum, ipv4PseudoHeaderSum } from './checksum.js'
import { addressField, bytesAt, capturedFrame, numberField } from './fixtures/frame-helpers.js'

describe('the Internet checksum (from @mtcp/primitives) on captured frames', () => {
  it('verifies the captured IPv4 header checksum to 0 and recomputes it', () => {
    const frame = capturedFrame('syn')
    const ip = bytesAt(frame).subarray(14, 34)
    expect(internetChecksum(ip, 0, 20)).toBe(0)
    const copy = ip.slice()
    copy[10] = 0
    copy[11] = 0
    expect(internetChecksum(copy)).toBe(numberField(frame, 'ip.checksum'))
  })

  it('sums the TCP pseudo-header of a captured segment', () => {
    const frame = capturedFrame('data')
    const segment = bytesAt(frame).subarray(34)
    const pseudo = ipv4PseudoHeaderSum(addressField(frame, 'ip.src'), addressField(frame, 'ip.dst'), 6, segment.length)
    expect(internetChecksum(segment, 0, segment.length, pseudo)).toBe(0)
    expect(internetChecksum(segment, 0, segment.length, pseudo + 1)).not.toBe(0)
  })
})
