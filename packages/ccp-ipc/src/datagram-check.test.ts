import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AGENT_TO_DATAPATH_MAX_BYTES, checkDatagram, DATAPATH_TO_AGENT_MAX_BYTES } from './datagram-check.js'
import { datagram } from './test-support.js'

describe('checkDatagram', () => {
  it('accepts each message type 0..5 whose header length is its size', () => {
    // Sizes from the framing table: CREATE 96, MEASURE 16+8n, INSTALL 20+16(E+I), UPDATE 12+13n, CHANGE_PROG 16+13n, READY 12.
    const sizes = [96, 16 + 8 * 3, 20 + 16 * 4, 12 + 13 * 2, 16 + 13, 12]
    for (const [type, size] of sizes.entries()) expect(checkDatagram(datagram(type, size, 7), DATAPATH_TO_AGENT_MAX_BYTES)).toBeUndefined()
  })

  it('reads the header little-endian', () => {
    // len 0x0110 = 272 little-endian; read big-endian it would be 0x1001.
    const bytes = new Uint8Array(272)
    bytes.set([1, 0, 0x10, 0x01])
    expect(checkDatagram(bytes, DATAPATH_TO_AGENT_MAX_BYTES)).toBeUndefined()
    bytes.set([0, 1]) // type 0x0100 = 256 little-endian
    expect(checkDatagram(bytes, DATAPATH_TO_AGENT_MAX_BYTES)).toBe('malformed')
  })

  it('refuses what is too large for its direction, too short, mislabelled or of an unknown type', () => {
    expect(checkDatagram(datagram(1, 1025), DATAPATH_TO_AGENT_MAX_BYTES)).toBe('oversized')
    expect(checkDatagram(datagram(1, 1024), DATAPATH_TO_AGENT_MAX_BYTES)).toBeUndefined()
    expect(checkDatagram(datagram(2, 32679), AGENT_TO_DATAPATH_MAX_BYTES)).toBe('oversized')
    expect(checkDatagram(datagram(2, 32678), AGENT_TO_DATAPATH_MAX_BYTES)).toBeUndefined()
    expect(checkDatagram(new Uint8Array(0), 1024)).toBe('malformed')
    expect(checkDatagram(new Uint8Array(7), 1024)).toBe('malformed')
    expect(checkDatagram(datagram(1, 16).subarray(0, 15), 1024)).toBe('malformed')
    expect(checkDatagram(datagram(6, 16), 1024)).toBe('malformed')
    expect(checkDatagram(datagram(0xffff, 16), 1024)).toBe('malformed')
  })

  it('honours a view that starts inside a larger buffer', () => {
    const backing = new Uint8Array(64).fill(0xa5)
    backing.set(datagram(5, 12), 20)
    expect(checkDatagram(backing.subarray(20, 32), 1024)).toBeUndefined()
  })

  it('never throws, and accepts exactly: size ≤ max, size ≥ 8, len = size, type ≤ 5 (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1200 }), fc.integer({ min: 0, max: 2000 }), (bytes, max) => {
        const result = checkDatagram(bytes, max)
        const size = bytes.length
        const type = size >= 2 ? bytes[0]! + 256 * bytes[1]! : -1
        const length = size >= 4 ? bytes[2]! + 256 * bytes[3]! : -1
        if (size > max) expect(result).toBe('oversized')
        else if (size >= 8 && length === size && type <= 5) expect(result).toBeUndefined()
        else expect(result).toBe('malformed')
      }),
    )
  })
})
