// The compiled programs against the interpreter (the reference): every vector program, and random valid
// programs, over random register files and measurements. Status and every register must agree.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createMeasurements, type Measurements } from './measurements.js'
import { Program } from './program.js'
import { fromHex, loadPrograms, loadSession } from './test-support/session-replay.js'
import {
  decodeMessage,
  encodeMessage,
  type Expression,
  type InstallExprMessage,
  type Instruction,
  MessageType,
  type Opcode,
  RegType,
  U32_MAX,
  U64_LIMIT,
} from './wire.js'

/** Register and measurement values: small numbers, the edges the opcodes care about, and anything below 2^64. */
const value = fc.oneof(
  fc.integer({ min: 0, max: 20 }),
  fc.constantFrom(0, 1, 10, 11, 0xfffffff0, U32_MAX, 2 ** 32, 2 ** 53 - 1, 2 ** 63, U64_LIMIT),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.double({ min: 0, max: 2 ** 64, noNaN: true }).map(Math.floor),
)

const measurements: fc.Arbitrary<Measurements> = fc
  .record({
    bytesAcked: value,
    bytesMisordered: value,
    ecnBytes: value,
    ecnPackets: value,
    lostPktsSample: value,
    packetsAcked: value,
    packetsMisordered: value,
    bytesInFlight: value,
    bytesPending: value,
    packetsInFlight: value,
    rateIncoming: value,
    rateOutgoing: value,
    rttSampleUs: value,
    wasTimeout: fc.boolean(),
    cwnd: value,
    rate: value,
  })
  .map((record) => Object.assign(createMeasurements(), record))

/** Run both over the same random start; assert the same status and registers. */
function agree(message: InstallExprMessage, runs: number): void {
  const compiled = new Program(message, { compile: true })
  const interpreted = new Program(message, { compile: false })
  expect(compiled.compiled).toBe(true)
  fc.assert(
    fc.property(
      fc.array(value, { minLength: compiled.registerCount, maxLength: compiled.registerCount }),
      measurements,
      fc.integer({ min: 0, max: 2 ** 40 }),
      value,
      (start, m, now, ackNow) => {
        const a = Float64Array.from(start)
        const b = Float64Array.from(start)
        const statusA = compiled.run(a, m, now, ackNow)
        const statusB = interpreted.run(b, m, now, ackNow)
        expect(statusA).toBe(statusB)
        expect(Array.from(a)).toEqual(Array.from(b))
      },
    ),
    { numRuns: runs },
  )
}

describe('compiled programs agree with the interpreter', () => {
  const vectors = loadPrograms().programs.map((vector) => [vector.name, decodeMessage(fromHex(vector.installHex)) as InstallExprMessage] as const)
  const installed = ['reno', 'bbr'].flatMap((name) =>
    loadSession(name)
      .messages.filter((entry) => entry.type === MessageType.InstallExpr)
      .map((entry) => decodeMessage(fromHex(entry.hex!)) as InstallExprMessage)
      .map((message) => [`${name} session INSTALL uid ${message.programUid}`, message] as const),
  )

  it.each([...vectors, ...installed])('%s, over random register files', (_name, message) => {
    agree(message, 2_000)
  }, 60_000)

  it('random valid programs (every opcode, every register type), over random register files', () => {
    const operandOf = (types: readonly RegType[]) =>
      fc.constantFrom(...types).chain((type): fc.Arbitrary<[RegType, number]> => {
        switch (type) {
          case RegType.Immediate:
            return value.filter((v) => v <= U32_MAX).map((v) => [type, v])
          case RegType.Implicit:
            return fc.integer({ min: 0, max: 5 }).map((i) => [type, i])
          case RegType.Primitive:
            return fc.integer({ min: 0, max: 14 }).map((i) => [type, i])
          case RegType.Local:
            return fc.integer({ min: 0, max: 7 }).map((i) => [type, i])
          case RegType.Tmp:
            return fc.integer({ min: 0, max: 15 }).map((i) => [type, i])
          default:
            return fc.integer({ min: 0, max: 5 }).map((i) => [type, i])
        }
      })
    const allTypes = [0, 1, 2, 3, 4, 5, 6, 7, 8] as RegType[]
    const resultTypes = [0, 2, 3, 5, 6, 7, 8] as RegType[]
    const instruction: fc.Arbitrary<Instruction> = fc
      .tuple(fc.integer({ min: 0, max: 14 }), operandOf(resultTypes), operandOf(allTypes), operandOf(allTypes))
      .map(([opcode, res, left, right]) => ({
        opcode: opcode as Opcode,
        resType: res[0],
        resIndex: res[1],
        leftType: left[0],
        left: left[1],
        rightType: right[0],
        right: right[1],
      }))
    const programArbitrary = fc.array(instruction, { minLength: 1, maxLength: 30 }).chain((instructions) => {
      const n = instructions.length
      const range = fc.integer({ min: 0, max: n }).chain((start) => fc.integer({ min: 0, max: n - start }).map((length) => [start, length] as const))
      const expression: fc.Arbitrary<Expression> = fc
        .tuple(range, range)
        .map(([cond, event]) => ({ condStart: cond[0], condLength: cond[1], eventStart: event[0], eventLength: event[1] }))
      return fc.array(expression, { minLength: 1, maxLength: 5 }).map(
        (expressions): InstallExprMessage => ({ type: MessageType.InstallExpr, sid: 0, programUid: 1, expressions, instructions }),
      )
    })
    fc.assert(
      fc.property(programArbitrary, (message) => {
        // Every generated program is one the decoder accepts.
        expect(decodeMessage(encodeMessage(message))).toEqual(message)
        agree(message, 20)
      }),
      { numRuns: 500 },
    )
  }, 120_000)
})
