import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type ConnectionInfo, Datapath } from './datapath.js'
import { fromHex, loadSession } from './test-support/session-replay.js'
import {
  CREATE_IPV6_MAX_CONG_ALG,
  CREATE_IPV6_PLACEHOLDER,
  CREATE_IPV6_TRAILER_OFFSET,
  CREATE_LENGTH,
  type CreateMessage,
  decodeMessage,
  encodeMessage,
  MessageType,
} from './wire.js'

// Decision record 0080: CREATE for IPv6 flows.

/**
 * A decoder of the real CREATE as portus 0.8.0 reads it (`serialize/create.rs`), written from its rules and
 * nothing of ours: header type u16 LE, len u16 LE, sid u32 LE; six u32s, little-endian as portus reads them,
 * at 8..32; `cong_alg` is the 64-byte field up to its first NUL as UTF-8, `None` when the first byte is NUL,
 * and nothing after the NUL is read.
 */
function portusCreate(bytes: Uint8Array) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getUint16(0, true) !== 0) throw new Error('not a CREATE')
  if (view.getUint16(2, true) !== bytes.length || bytes.length !== 8 + 6 * 4 + 64) throw new Error('bad length')
  const u32s = [0, 1, 2, 3, 4, 5].map((i) => view.getUint32(8 + 4 * i, true))
  const field = bytes.subarray(32, 96)
  const end = field.indexOf(0)
  const congAlg = field[0] === 0 ? null : new TextDecoder('utf-8', { fatal: true }).decode(field.subarray(0, end < 0 ? 64 : end))
  return { sid: view.getUint32(4, true), initCwnd: u32s[0], mss: u32s[1], srcIp: u32s[2], srcPort: u32s[3], dstIp: u32s[4], dstPort: u32s[5], congAlg }
}

/** The bytes of the CREATEs a datapath sends for `info`. */
function createsFor(info: ConnectionInfo): Uint8Array[] {
  const sent: Uint8Array[] = []
  const datapath = new Datapath({ now: () => 1000, sendMsg: (bytes) => (sent.push(bytes.slice()), 0), setCwnd() {}, setRateAbs() {} })
  datapath.connectionStart(info, {})
  return sent.filter((bytes) => bytes[0] === MessageType.Create)
}

/** `2001:db8::<last>` as 16 bytes. */
function documentation(last: number): Uint8Array {
  const address = new Uint8Array(16)
  address.set([0x20, 0x01, 0x0d, 0xb8])
  address[15] = last
  return address
}

/** `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2). */
function mapped(ipv4: number): Uint8Array {
  const address = new Uint8Array(16)
  address[10] = 0xff
  address[11] = 0xff
  new DataView(address.buffer).setUint32(12, ipv4)
  return address
}

const recorded = fromHex(loadSession('reno').messages.find((entry) => entry.dir === 'dp->agent' && entry.type === MessageType.Create)!.hex!)
const recordedCreate = decodeMessage(recorded) as CreateMessage

describe('CREATE for IPv4 flows is unchanged', () => {
  it('a datapath sends the recorded libccp ↔ portus CREATE byte for byte, from IPv4 numbers and from IPv4-mapped IPv6 addresses', () => {
    const { initCwnd, mss, srcIp, srcPort, dstIp, dstPort, congAlg } = recordedCreate
    const fromNumbers = createsFor({ initCwnd, mss, srcIp, srcPort, dstIp, dstPort, congAlg })
    const fromMapped = createsFor({ initCwnd, mss, srcIp: mapped(srcIp), srcPort, dstIp: mapped(dstIp), dstPort, congAlg })
    expect(fromNumbers).toEqual([recorded])
    expect(fromMapped).toEqual([recorded])
    expect(decodeMessage(recorded)).not.toHaveProperty('srcIp6')
  })

  it('a long IPv4 algorithm name whose bytes 60..63 spell the trailer marker is still only a name', () => {
    const congAlg = `${'x'.repeat(CREATE_IPV6_TRAILER_OFFSET - 32)}ip6\u0001tail`
    const bytes = encodeMessage({ type: MessageType.Create, sid: 1, initCwnd: 1, mss: 1, srcIp: 1, srcPort: 2, dstIp: 3, dstPort: 4, congAlg })
    expect(Array.from(bytes.subarray(60, 64))).toEqual([0x69, 0x70, 0x36, 0x01])
    const decoded = decodeMessage(bytes) as CreateMessage
    expect(decoded.congAlg).toBe(congAlg)
    expect(decoded).not.toHaveProperty('srcIp6')
  })
})

describe('CREATE for IPv6 flows', () => {
  const info: ConnectionInfo = { initCwnd: 14480, mss: 1428, srcIp: documentation(1), srcPort: 40000, dstIp: documentation(2), dstPort: 5201, congAlg: 'reno' }

  it('holds 127.0.0.6 in the u32 address fields, the ports as for IPv4, and the addresses in the trailer after the name', () => {
    const [bytes] = createsFor(info)
    expect(bytes!.length).toBe(CREATE_LENGTH)
    expect(Array.from(bytes!.subarray(16, 32))).toEqual([127, 0, 0, 6, 0x9c, 0x40, 0, 0, 127, 0, 0, 6, 0x14, 0x51, 0, 0])
    expect(Array.from(bytes!.subarray(32, 37))).toEqual([0x72, 0x65, 0x6e, 0x6f, 0]) // "reno", NUL
    expect(bytes!.subarray(37, 60).every((byte) => byte === 0)).toBe(true)
    expect(Array.from(bytes!.subarray(60, 64))).toEqual([0x69, 0x70, 0x36, 0x01])
    expect(bytes!.subarray(64, 80)).toEqual(documentation(1))
    expect(bytes!.subarray(80, 96)).toEqual(documentation(2))
  })

  it('decodes back to the 16-byte addresses, with the placeholder in srcIp and dstIp', () => {
    const [bytes] = createsFor(info)
    expect(decodeMessage(bytes!)).toEqual({
      type: MessageType.Create,
      sid: 1,
      initCwnd: 14480,
      mss: 1428,
      srcIp: CREATE_IPV6_PLACEHOLDER,
      srcPort: 40000,
      dstIp: CREATE_IPV6_PLACEHOLDER,
      dstPort: 5201,
      congAlg: 'reno',
      srcIp6: documentation(1),
      dstIp6: documentation(2),
    } satisfies CreateMessage)
  })

  it('is a well-formed CREATE to a decoder of the real format: portus reads the name, the window, the MSS and the ports', () => {
    const [bytes] = createsFor(info)
    const portus = portusCreate(bytes!)
    expect(portus).toEqual({ sid: 1, initCwnd: 14480, mss: 1428, srcIp: 0x0600007f, srcPort: 0x409c, dstIp: 0x0600007f, dstPort: 0x5114, congAlg: 'reno' })
    // The same reading as portus's of the recorded IPv4 CREATE (whose u32s it reads the same way).
    expect(portusCreate(recorded).congAlg).toBe('reno')
  })

  it('round-trips any addresses and any name that fits, and portus always reads the name alone', () => {
    const address = fc.uint8Array({ minLength: 16, maxLength: 16 }).filter((a) => !(a.subarray(0, 10).every((b) => b === 0) && a[10] === 0xff && a[11] === 0xff))
    const name = fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: CREATE_IPV6_MAX_CONG_ALG }).filter((n) => !n.includes('\0'))
    fc.assert(
      fc.property(address, address, fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), name, (src, dst, srcPort, dstPort, congAlg) => {
        const [bytes] = createsFor({ initCwnd: 1, mss: 1220, srcIp: src, srcPort, dstIp: dst, dstPort, congAlg })
        const decoded = decodeMessage(bytes!) as CreateMessage
        expect(decoded.srcIp6).toEqual(src)
        expect(decoded.dstIp6).toEqual(dst)
        expect([decoded.srcPort, decoded.dstPort, decoded.congAlg]).toEqual([srcPort, dstPort, congAlg])
        expect(portusCreate(bytes!).congAlg).toBe(congAlg)
      }),
    )
  })

  it('keeps its own copy of the addresses: a caller reusing its arrays does not change a later CREATE', () => {
    const src = documentation(7)
    const sent: Uint8Array[] = []
    let now = 0
    let up = false
    const datapath = new Datapath({ now: () => now, sendMsg: (bytes) => (up ? (sent.push(bytes.slice()), 0) : -111), setCwnd() {}, setRateAbs() {} })
    datapath.connectionStart({ ...info, srcIp: src }, {})
    expect(sent).toEqual([])
    src.fill(0xee)
    up = true
    now += 1_000_000
    datapath.tick() // READY, then the CREATE that failed
    const creates = sent.map((bytes) => decodeMessage(bytes)).filter((message) => message.type === MessageType.Create) as CreateMessage[]
    expect(creates.map((create) => create.srcIp6)).toEqual([documentation(7)])
  })

  it('copies addresses given or received as Buffers (whose slice is a view): the CREATE and the decoded message own their bytes', () => {
    const src = Buffer.from(documentation(9))
    const sent: Uint8Array[] = []
    let now = 0
    let up = false
    const datapath = new Datapath({ now: () => now, sendMsg: (bytes) => (up ? (sent.push(Buffer.from(bytes)), 0) : -111), setCwnd() {}, setRateAbs() {} })
    datapath.connectionStart({ ...info, srcIp: src }, {})
    src.fill(0xee)
    up = true
    now += 1_000_000
    datapath.tick()
    const received = sent.find((bytes) => bytes[0] === MessageType.Create) as Buffer
    const decoded = decodeMessage(received) as CreateMessage
    received.fill(0)
    expect(decoded.srcIp6).toEqual(documentation(9))
    expect(decoded.dstIp6).toEqual(documentation(2))
    expect(Buffer.isBuffer(decoded.srcIp6)).toBe(false)
  })

  it.each([
    ['an algorithm name too long for the trailer', { ...info, congAlg: 'x'.repeat(CREATE_IPV6_MAX_CONG_ALG + 1) }, 'ERR_CCP_STRING'],
    ['an IPv4 number with an IPv6 address', { ...info, dstIp: 0x0a000001 }, 'ERR_CCP_VALUE'],
    ['a 4-byte array', { ...info, srcIp: new Uint8Array(4), dstIp: new Uint8Array(4) }, 'ERR_CCP_VALUE'],
    ['a string address', { ...info, srcIp: '2001:db8::1' as unknown as Uint8Array }, 'ERR_CCP_VALUE'],
  ] as const)('rejects %s with %s, before a sid is taken', (_, bad, code) => {
    const sent: Uint8Array[] = []
    const datapath = new Datapath({ now: () => 0, sendMsg: (bytes) => (sent.push(bytes.slice()), 0), setCwnd() {}, setRateAbs() {} })
    expect(() => datapath.connectionStart(bad as ConnectionInfo, {})).toThrow(expect.objectContaining({ code }))
    expect(createsFor(info)[0]![4]).toBe(1) // the next flow still gets sid 1 in a fresh datapath
    expect(sent.filter((bytes) => bytes[0] === MessageType.Create)).toEqual([])
  })

  it('the encoder checks a hand-made IPv6 CREATE: both addresses, 16 bytes each', () => {
    const base = { type: MessageType.Create, sid: 1, initCwnd: 1, mss: 1, srcIp: 0, srcPort: 0, dstIp: 0, dstPort: 0, congAlg: 'reno' } as const
    expect(() => encodeMessage({ ...base, srcIp6: documentation(1) })).toThrow(expect.objectContaining({ code: 'ERR_CCP_VALUE' }))
    expect(() => encodeMessage({ ...base, srcIp6: documentation(1), dstIp6: new Uint8Array(15) })).toThrow(/dstIp6 must be a 16-byte/)
  })
})
