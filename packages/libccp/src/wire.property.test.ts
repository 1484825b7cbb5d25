// Fuzzing the codec and the datapath's receive path with more than 100,000 datagrams: random bytes, and
// valid messages (portus's INSTALLs, recorded sessions) with bytes flipped, cut, extended or retyped.
// decodeMessage may only throw a CcpError; Datapath.receive, and the invokes after it, never throw.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type Connection, Datapath } from './datapath.js'
import { CcpError } from './errors.js'
import { createMeasurements } from './measurements.js'
import { fromHex, loadPrograms, loadSession } from './test-support/session-replay.js'
import {
  type CcpMessage,
  decodeMessage,
  encodeMessage,
  type Expression,
  type Instruction,
  MAX_EXPRESSIONS,
  MessageType,
  type Opcode,
  RegType,
  type UpdateField,
  U64_LIMIT,
} from './wire.js'

const CODES = new Set([
  'ERR_CCP_TRUNCATED',
  'ERR_CCP_LENGTH',
  'ERR_CCP_TYPE',
  'ERR_CCP_COUNT',
  'ERR_CCP_OPCODE',
  'ERR_CCP_REGISTER',
  'ERR_CCP_RANGE',
  'ERR_CCP_STRING',
])

const corpus: Uint8Array[] = [
  ...loadPrograms().programs.map((vector) => fromHex(vector.installHex)),
  ...['reno', 'bbr', 'late_0.5'].flatMap((name) =>
    loadSession(name)
      .messages.filter((entry) => entry.hex !== undefined)
      .slice(0, 40)
      .map((entry) => fromHex(entry.hex!)),
  ),
]

/** A valid message with some of: bytes overwritten, cut or extended, the type changed, the header len fixed up. */
const mutated = fc
  .record({
    base: fc.constantFrom(...corpus),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    resize: fc.oneof(fc.constant(0), fc.integer({ min: -40, max: 40 })),
    type: fc.option(fc.integer({ min: 0, max: 7 }), { nil: undefined }),
    fixLength: fc.boolean(),
  })
  .map(({ base, edits, resize, type, fixLength }) => {
    const length = Math.max(0, base.length + resize)
    const bytes = new Uint8Array(length)
    bytes.set(base.subarray(0, length))
    for (const [at, value] of edits) if (length > 0) bytes[at % length] = value
    if (type !== undefined && length >= 2) {
      bytes[0] = type
      bytes[1] = 0
    }
    if (fixLength && length >= 4) {
      bytes[2] = length & 0xff
      bytes[3] = length >> 8
    }
    return bytes
  })

/** Random bytes, half of them with a plausible header (a known type, the right len). */
const random = fc.tuple(fc.uint8Array({ maxLength: 300 }), fc.boolean(), fc.integer({ min: 0, max: 5 })).map(([bytes, plausible, type]) => {
  if (plausible && bytes.length >= 4) {
    bytes[0] = type
    bytes[1] = 0
    bytes[2] = bytes.length & 0xff
    bytes[3] = bytes.length >> 8
  }
  return bytes
})

describe('more than 100,000 hostile datagrams', () => {
  // One datapath across all runs, so state builds up: programs (also mutated ones that still decode) get
  // installed, flows get switched to them and run them.
  let now = 0
  const datapath = new Datapath({ now: () => (now += 37), sendMsg: () => 0, setCwnd: () => {}, setRateAbs: () => {} })
  const connections: Connection[] = []
  for (let i = 0; i < 3; i++) connections.push(datapath.connectionStart({ initCwnd: 14480, mss: 1448, srcIp: 0, srcPort: 0, dstIp: 0, dstPort: 0, congAlg: 'reno' }, null))
  for (const entry of loadSession('reno').messages.slice(0, 7)) if (entry.dir === 'agent->dp') datapath.receive(fromHex(entry.hex!))
  const m = createMeasurements()
  m.bytesAcked = 1448
  m.cwnd = 14480

  // Plain checks (no expect per datagram): a property returning false, or throwing, fails the run.
  const check = (bytes: Uint8Array): boolean => {
    try {
      decodeMessage(bytes)
    } catch (error) {
      if (!(error instanceof CcpError) || !CODES.has(error.code)) return false
    }
    datapath.receive(bytes) // any throw fails the property
    for (const connection of connections) {
      m.rttSampleUs = bytes.length
      connection.invoke(m)
    }
    return true
  }

  it('60,000 mutated valid messages', () => {
    fc.assert(fc.property(mutated, check), { numRuns: 60_000 })
    expect(datapath.stats.received).toBeGreaterThanOrEqual(60_000)
    expect(datapath.stats.malformed).toBeGreaterThan(1000)
    expect(datapath.stats.installs).toBeGreaterThan(100) // mutated programs that still decode got installed and run
  }, 120_000)

  it('50,000 random datagrams', () => {
    fc.assert(fc.property(random, check), { numRuns: 50_000 })
    expect(datapath.stats.received).toBeGreaterThanOrEqual(110_000)
    for (const code of ['ERR_CCP_TRUNCATED', 'ERR_CCP_LENGTH', 'ERR_CCP_TYPE', 'ERR_CCP_COUNT', 'ERR_CCP_OPCODE', 'ERR_CCP_REGISTER']) {
      expect(datapath.stats.malformedByCode[code], code).toBeGreaterThan(0)
    }
  }, 120_000)
})

describe('encode → decode round-trips any valid message', () => {
  const u32 = fc.integer({ min: 0, max: 0xffffffff })
  const u64 = fc.oneof(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constant(U64_LIMIT))
  const update: fc.Arbitrary<UpdateField> = fc.oneof(
    fc.record({ regType: fc.constantFrom(RegType.NonVolatileControl, RegType.VolatileControl), regIndex: fc.integer({ min: 0, max: 109 }), value: u64 }),
    fc.record({ regType: fc.constant(RegType.Implicit), regIndex: fc.integer({ min: 0, max: 5 }), value: u64 }),
  )
  const instruction: fc.Arbitrary<Instruction> = fc.record({
    opcode: fc.integer({ min: 0, max: 14 }).map((opcode) => opcode as Opcode),
    resType: fc.constantFrom(RegType.Tmp, RegType.VolatileReport, RegType.Implicit),
    resIndex: fc.integer({ min: 0, max: 5 }),
    leftType: fc.constant(RegType.Immediate),
    left: u32,
    rightType: fc.constantFrom(RegType.Primitive, RegType.Local),
    right: fc.integer({ min: 0, max: 7 }),
  })
  const install = fc.array(instruction, { maxLength: 20 }).chain((instructions) => {
    const index = fc.integer({ min: 0, max: instructions.length })
    const expression: fc.Arbitrary<Expression> = fc
      .tuple(index, index, index, index)
      .map(([a, b, c, d]) => ({ condStart: Math.min(a, b), condLength: Math.abs(a - b), eventStart: Math.min(c, d), eventLength: Math.abs(c - d) }))
    return fc.record({
      type: fc.constant(MessageType.InstallExpr),
      sid: u32,
      programUid: u32,
      expressions: fc.array(expression, { maxLength: Math.min(MAX_EXPRESSIONS, 8) }),
      instructions: fc.constant(instructions),
    })
  })
  const message: fc.Arbitrary<CcpMessage> = fc.oneof(
    fc.record({
      type: fc.constant(MessageType.Create),
      sid: u32,
      initCwnd: u32,
      mss: u32,
      srcIp: u32,
      srcPort: fc.integer({ min: 0, max: 0xffff }),
      dstIp: u32,
      dstPort: fc.integer({ min: 0, max: 0xffff }),
      congAlg: fc.string({ maxLength: 20 }).filter((name) => !name.includes('\0')),
    }),
    fc.record({ type: fc.constant(MessageType.Measure), sid: u32, programUid: u32, fields: fc.array(u64, { maxLength: 110 }) }),
    install,
    fc.record({ type: fc.constant(MessageType.UpdateFields), sid: u32, updates: fc.array(update, { maxLength: 30 }) }),
    fc.record({ type: fc.constant(MessageType.ChangeProg), sid: u32, programUid: u32, updates: fc.array(update, { maxLength: 30 }) }),
    fc.record({ type: fc.constant(MessageType.Ready), sid: u32, id: u32 }),
  )

  it('for 5,000 messages of every type', () => {
    fc.assert(
      fc.property(message, (original) => {
        const bytes = encodeMessage(original)
        expect(bytes.length).toBe((bytes[2]! | (bytes[3]! << 8)) >>> 0)
        expect(decodeMessage(bytes)).toEqual(original)
      }),
      { numRuns: 5_000 },
    )
  })
})
