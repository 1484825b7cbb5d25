/**
 * Issue 16 part 10: the `random` option. With a fixed source the stack's ISNs (RFC 6528), ephemeral ports
 * (RFC 6056 §3.3.4), timestamp offsets (RFC 7323 §5.4) and SYN cookies (RFC 4987 §3.6) are fixed; each is
 * checked against a value computed here from the algorithm's definition (secrets.ts documents the layout of
 * the random bytes), not against the implementation's output.
 */
import { describe, expect, it } from 'vitest'
import { connectSockets, runUntil, stackPair } from './testing.js'

// ---- the definitions, written out again -------------------------------------------------------------

/** The fixed random source: byte i is (i·37 + 11) mod 256, whatever the length asked. */
function fixedSource(salt: number): (bytes: Uint8Array) => void {
  return (bytes) => {
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 37 + 11 + salt) & 0xff
  }
}

/** The bytes the stack gets from {@link fixedSource}: 80 of them. */
function sourceBytes(salt: number): Uint8Array {
  const bytes = new Uint8Array(80)
  fixedSource(salt)(bytes)
  return bytes
}

/** Little-endian uint32 at `offset`. */
function le32(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0
}

/** A four-letter ASCII word as a big-endian uint32 ("PRTF" → 0x50525446). */
function ascii(word: string): number {
  return [...word].reduce((n, c) => ((n << 8) | c.charCodeAt(0)) >>> 0, 0)
}

/**
 * HalfSipHash-2-4 (Aumasson and Bernstein) written here from its definition, independently of the
 * packages: state v0..v3 from the 64-bit key (k0, k1) and the constants 0x6c796765, 0x74656462 ("lyge",
 * "tedb"); each 32-bit message word m (little-endian bytes): v3 ^= m, two SipRounds, v0 ^= m; then the
 * length block (the byte length in the top byte) the same way; then v2 ^= 0xff, four SipRounds; v1 ^ v3.
 */
function halfSipHash24Reference(k0: number, k1: number, words: readonly number[]): number {
  const v = new Uint32Array([k0, k1, 0x6c796765 ^ k0, 0x74656462 ^ k1])
  const rot = (x: number, n: number): number => ((x << n) | (x >>> (32 - n))) >>> 0
  const sipRound = (): void => {
    v[0] = v[0]! + v[1]!
    v[1] = rot(v[1]!, 5) ^ v[0]!
    v[0] = rot(v[0]!, 16)
    v[2] = v[2]! + v[3]!
    v[3] = rot(v[3]!, 8) ^ v[2]!
    v[0] = v[0]! + v[3]!
    v[3] = rot(v[3]!, 7) ^ v[0]!
    v[2] = v[2]! + v[1]!
    v[1] = rot(v[1]!, 13) ^ v[2]!
    v[2] = rot(v[2]!, 16)
  }
  for (const word of [...words, (words.length * 4) << 24]) {
    v[3] = v[3]! ^ word
    sipRound()
    sipRound()
    v[0] = v[0]! ^ word
  }
  v[2] = v[2]! ^ 0xff
  for (let i = 0; i < 4; i++) sipRound()
  return (v[1]! ^ v[3]!) >>> 0
}

/** The stack's keyed function of a 4-tuple and a word separating its uses: HalfSipHash-2-4 of 16 bytes. */
function tupleHash(k0: number, k1: number, localIp: number, localPort: number, remoteIp: number, remotePort: number, tweak: number): number {
  return halfSipHash24Reference(k0, k1, [localIp, remoteIp, localPort * 65536 + remotePort, tweak])
}

/** RFC 6528's F for the ISN: HalfSipHash-2-4 of the 12 bytes of the 4-tuple. */
function isnHash(k0: number, k1: number, localIp: number, localPort: number, remoteIp: number, remotePort: number): number {
  return halfSipHash24Reference(k0, k1, [localIp, remoteIp, localPort * 65536 + remotePort])
}

const A = 0x0a000001 // 10.0.0.1, the client
const B = 0x0a000002 // 10.0.0.2, the server
const LOW = 32768
const COUNT = 60999 - 32768 + 1

/** RFC 6056 §3.3.4 for the n-th connection (n from 0) from A to B:port, when all go to the same table entry. */
function expectedPort(bytes: Uint8Array, remotePort: number, n: number): number {
  const offset = tupleHash(le32(bytes, 8), le32(bytes, 12), A, 0, B, remotePort, ascii('PRTF'))
  const index = tupleHash(le32(bytes, 16), le32(bytes, 20), A, 0, B, remotePort, ascii('PRTG')) % 16
  const entry = bytes[48 + 2 * index]! | (bytes[49 + 2 * index]! << 8)
  return LOW + ((offset + entry + n) % COUNT)
}

/** The TSval option of a captured TCP frame (Ethernet + 20-byte IPv4 header), or undefined. */
function tsValOf(frame: Uint8Array): number | undefined {
  const tcp = 34
  const end = tcp + (frame[tcp + 12]! >> 4) * 4
  for (let i = tcp + 20; i < end; ) {
    const kind = frame[i]!
    if (kind === 0) return undefined
    if (kind === 1) {
      i++
      continue
    }
    if (kind === 8) return ((frame[i + 2]! << 24) | (frame[i + 3]! << 16) | (frame[i + 4]! << 8) | frame[i + 5]!) >>> 0
    i += frame[i + 1]!
  }
  return undefined
}

// ---- the checks -----------------------------------------------------------------------------------------

describe('the random source (issue 16 part 10)', () => {
  it('fixed bytes give fixed ephemeral ports (RFC 6056 §3.3.4: F + table entry, the entry counting up), ISNs (RFC 6528: 4 µs ticks + F) and timestamp offsets (a keyed hash of the 4-tuple)', () => {
    const pair = stackPair({ stackA: { random: fixedSource(0) }, stackB: { random: fixedSource(100) } })
    const bytes = sourceBytes(0)
    const { a, clock, link } = pair
    const synTsVals: Array<{ at: number; tsVal: number }> = []
    link.a.capture({
      record(frame, offset, length, at, direction) {
        const bytes = frame.subarray(offset, offset + length)
        // SYNs a sends (flags byte: SYN without ACK).
        if (direction === 'tx' && bytes[23] === 6 && (bytes[34 + 13]! & 0x12) === 0x02) synTsVals.push({ at, tsVal: tsValOf(bytes)! })
      },
    })
    const listener = pair.b.socket()
    pair.b.bind(listener, '0.0.0.0', 80)
    pair.b.listen(listener)
    for (let n = 0; n < 3; n++) {
      clock.advanceBy(1234)
      const fd = a.socket()
      const now = clock.now()
      a.connect(fd, '10.0.0.2', 80)
      const port = a.getsockname(fd).port
      expect(port).toBe(expectedPort(bytes, 80, n))
      // RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M ticking every 4 µs.
      const f = isnHash(le32(bytes, 0), le32(bytes, 4), A, port, B, 80)
      expect(a.connectionOf(fd)!.iss).toBe((Math.floor(now / 4) + f) >>> 0)
      runUntil(clock, () => a.state(fd) === 'ESTABLISHED')
      // The SYN's TSval: the ms clock plus the 4-tuple's keyed offset.
      const offset = tupleHash(le32(bytes, 24), le32(bytes, 28), A, port, B, 80, ascii('TSOF'))
      const syn = synTsVals[n]!
      expect(syn.tsVal).toBe((Math.floor(syn.at / 1000) + offset) >>> 0)
    }
  })

  it('a table entry at 65,535 counts on to 65,536: the next port follows, no jump back to recently used ones', () => {
    const source = (bytes: Uint8Array): void => {
      fixedSource(3)(bytes)
      bytes.fill(0xff, 48) // every perturbation entry 65,535
    }
    const bytes = new Uint8Array(80)
    source(bytes)
    const pair = stackPair({ stackA: { random: source } })
    const listener = pair.b.socket()
    pair.b.bind(listener, '0.0.0.0', 80)
    pair.b.listen(listener)
    const ports: number[] = []
    for (let n = 0; n < 3; n++) {
      const fd = pair.a.socket()
      pair.a.connect(fd, '10.0.0.2', 80)
      ports.push(pair.a.getsockname(fd).port)
      expect(ports[n]).toBe(expectedPort(bytes, 80, n))
    }
    expect(new Set(ports).size).toBe(3)
  })

  it('a listener port 0 is drawn the same way with no remote end', () => {
    const pair = stackPair({ stackB: { random: fixedSource(7) } })
    const bytes = sourceBytes(7)
    const fd = pair.b.socket()
    pair.b.bind(fd, '0.0.0.0', 0)
    const offset = tupleHash(le32(bytes, 8), le32(bytes, 12), B, 0, 0, 0, ascii('PRTF'))
    const index = tupleHash(le32(bytes, 16), le32(bytes, 20), B, 0, 0, 0, ascii('PRTG')) % 16
    const entry = bytes[48 + 2 * index]! | (bytes[49 + 2 * index]! << 8)
    expect(pair.b.getsockname(fd).port).toBe(LOW + ((offset + entry) % COUNT))
  })

  it("fixed bytes give a fixed SYN cookie: H1 + peer ISN + counter · 2^24 + ((H2(counter) + MSS index) mod 2^24), and the options in the TSval's low 6 bits", () => {
    const pair = stackPair({ stackA: { random: fixedSource(0) }, stackB: { random: fixedSource(100), synCookies: 'always' } })
    const bytes = sourceBytes(100)
    const { a, b, clock, link } = pair
    clock.advanceTo(61_000_000) // cookie counter 1
    let synAckTsVal: number | undefined
    let synAckAt = 0
    link.b.capture({
      record(frame, offset, length, at, direction) {
        const f = frame.subarray(offset, offset + length)
        if (direction === 'tx' && f[23] === 6 && (f[34 + 13]! & 0x12) === 0x12) {
          synAckTsVal = tsValOf(f)
          synAckAt = at
        }
      },
    })
    const { client, server } = connectSockets(pair, 80)
    const clientPort = a.getsockname(client).port
    const peerIsn = a.connectionOf(client)!.iss
    const counter = 1
    const h1 = tupleHash(le32(bytes, 32), le32(bytes, 36), B, 80, A, clientPort, ascii('SYN1'))
    const h2 = tupleHash(le32(bytes, 40), le32(bytes, 44), B, 80, A, clientPort, counter)
    const mssIndex = 3 // 1460, the largest of 536, 1300, 1440, 1460 not above the client's 1460
    const cookie = (h1 + peerIsn + counter * 2 ** 24 + ((h2 + mssIndex) % 2 ** 24)) % 2 ** 32
    expect(b.connectionOf(server)!.iss).toBe(cookie)
    expect(b.stats.synCookies.validated).toBe(1)
    // TSval: the server's clock (ms + the 4-tuple's offset) with its low 6 bits replaced by the client's
    // window shift (4 bits) and SACK-permitted (bit 4), one step of 64 back if that passed the clock.
    const clockValue = (Math.floor(synAckAt / 1000) + tupleHash(le32(bytes, 24), le32(bytes, 28), B, 80, A, clientPort, ascii('TSOF'))) >>> 0
    const shift = a.connectionOf(client)!.negotiated.receiveShift
    let expected = ((clockValue - (clockValue % 64)) + shift + 16) % 2 ** 32
    if (((expected - clockValue) | 0) > 0) expected = (expected - 64 + 2 ** 32) % 2 ** 32 // ahead of the clock (mod 2^32)
    expect(synAckTsVal).toBe(expected)
  })
})
