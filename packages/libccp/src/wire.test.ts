import { describe, expect, it } from 'vitest'
import { CcpError, type CcpErrorCode } from './errors.js'
import { fromHex, loadPrograms, loadSession } from './test-support/session-replay.js'
import {
  type CcpMessage,
  type ChangeProgMessage,
  type CreateMessage,
  decodeMessage,
  encodedLength,
  encodeMessage,
  encodeMessageInto,
  type InstallExprMessage,
  type MeasureMessage,
  MessageType,
  readHeader,
  type ReadyMessage,
  RegType,
  U64_LIMIT,
  type UpdateFieldsMessage,
} from './wire.js'

const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

function codeOf(run: () => unknown): CcpErrorCode | 'no error' {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(CcpError)
    return (error as CcpError).code
  }
  return 'no error'
}

/** Little-endian helpers to build malformed messages by hand. */
function header(type: number, length: number, sid = 0): number[] {
  return [type & 0xff, type >> 8, length & 0xff, length >> 8, sid & 0xff, (sid >> 8) & 0xff, (sid >> 16) & 0xff, sid >>> 24]
}
function u32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24]
}
function u64(value: number): number[] {
  return [...u32(value % 2 ** 32), ...u32(Math.floor(value / 2 ** 32))]
}
function bytesOf(...parts: number[][]): Uint8Array {
  return new Uint8Array(parts.flat())
}
/** An INSTALL with one expression over one instruction built from raw fields. */
function install(instruction: number[], expression = [0, 1, 0, 0]): Uint8Array {
  const body = [...u32(1), ...u32(1), ...u32(1), ...expression.flatMap(u32), ...instruction]
  return bytesOf(header(MessageType.InstallExpr, 8 + body.length), body)
}
function rawInstruction(opcode: number, resType: number, resIndex: number, leftType: number, left: number, rightType: number, right: number): number[] {
  return [opcode, resType, ...u32(resIndex), leftType, ...u32(left), rightType, ...u32(right)]
}

describe('the vector programs (portus 0.8.0 INSTALL_EXPR bytes)', () => {
  const vectors = loadPrograms().programs

  it.each(vectors.map((vector) => [vector.name, vector] as const))('%s decodes to its events table and re-encodes to identical bytes', (_name, vector) => {
    const bytes = fromHex(vector.installHex)
    const message = decodeMessage(bytes) as InstallExprMessage
    expect(message.type).toBe(MessageType.InstallExpr)
    expect(message.sid).toBe(1) // dump_fold's fixed values
    expect(message.programUid).toBe(9)
    expect(message.expressions).toEqual(
      (vector.events as Array<{ flagIdx: number; numFlagInstrs: number; bodyIdx: number; numBodyInstrs: number }>).map((event) => ({
        condStart: event.flagIdx,
        condLength: event.numFlagInstrs,
        eventStart: event.bodyIdx,
        eventLength: event.numBodyInstrs,
      })),
    )
    expect(toHex(encodeMessage(message))).toBe(vector.installHex)
    expect(encodedLength(message)).toBe(bytes.length)
  })

  it('decodes bbr_init_program\'s "+infinity" default as the immediate 0xFFFFFFFF', () => {
    const message = decodeMessage(fromHex(vectors.find((vector) => vector.name === 'bbr_init_program')!.installHex)) as InstallExprMessage
    expect(message.instructions[1]).toEqual({ opcode: 2, resType: 6, resIndex: 1, leftType: 6, left: 1, rightType: 1, right: 0xffffffff })
  })
})

describe('recorded sessions', () => {
  it.each(['reno', 'cubic', 'bbr', 'reno_perack', 'late_0.5', 'late_1.6'])('every message of session %s decodes and re-encodes to identical bytes', (name) => {
    const entries = loadSession(name).messages.filter((entry) => entry.hex !== undefined)
    expect(entries.length).toBeGreaterThan(10)
    for (const entry of entries) {
      const message = decodeMessage(fromHex(entry.hex!))
      expect(message.type).toBe(entry.type)
      expect(message.sid).toBe(entry.sid)
      expect(toHex(encodeMessage(message))).toBe(entry.hex)
    }
  })

  it('reads libccp\'s 96-byte CREATE', () => {
    const create = loadSession('reno').messages.find((entry) => entry.type === MessageType.Create)!
    expect(decodeMessage(fromHex(create.hex!))).toEqual({
      type: MessageType.Create,
      sid: 1,
      initCwnd: 14480,
      mss: 1448,
      // Read as the kernel's CCP module writes them (network byte order): libccp's test datapath wrote the
      // address that way (bytes 7f 00 00 01) but its ports in host order (5000 as 88 13 00 00), so they read swapped.
      srcIp: 0x7f000001,
      srcPort: 0x8813,
      dstIp: 0x7f000001,
      dstPort: 0x5000,
      congAlg: 'reno',
    } satisfies CreateMessage)
  })

  it('writes CREATE\'s addresses and ports in network byte order, as the Linux kernel\'s CCP module (issue 17, 6)', () => {
    const bytes = encodeMessage({ type: MessageType.Create, sid: 1, initCwnd: 1, mss: 1448, srcIp: 0x0a000001, srcPort: 5001, dstIp: 0xc0a80102, dstPort: 80, congAlg: 'reno' })
    expect(Array.from(bytes.subarray(16, 32))).toEqual([10, 0, 0, 1, 0x13, 0x89, 0, 0, 192, 168, 1, 2, 0, 80, 0, 0])
    expect(() => encodeMessage({ type: MessageType.Create, sid: 1, initCwnd: 1, mss: 1, srcIp: 0, srcPort: 65536, dstIp: 0, dstPort: 0, congAlg: '' })).toThrow(
      expect.objectContaining({ code: 'ERR_CCP_VALUE' }),
    )
  })

  it('reads READY, MEASURE, UPDATE_FIELDS and CHANGE_PROG', () => {
    const session = loadSession('bbr').messages
    expect(decodeMessage(fromHex(session[0]!.hex!))).toEqual({ type: MessageType.Ready, sid: 0, id: 7 } satisfies ReadyMessage)
    const change = session.find((entry) => entry.type === MessageType.ChangeProg && entry.hex!.length > 100)!
    expect(decodeMessage(fromHex(change.hex!))).toEqual({
      type: MessageType.ChangeProg,
      sid: 1,
      programUid: 3,
      updates: [
        { regType: RegType.NonVolatileControl, regIndex: 1, value: 28960 },
        { regType: RegType.NonVolatileControl, regIndex: 2, value: 1448000 },
        { regType: RegType.NonVolatileControl, regIndex: 3, value: 1086000 },
        { regType: RegType.NonVolatileControl, regIndex: 4, value: 1810000 },
      ],
    } satisfies ChangeProgMessage)
    expect(decodeMessage(fromHex('0300190001000000010000000204000000c876000000000000'))).toEqual({
      type: MessageType.UpdateFields,
      sid: 1,
      updates: [{ regType: RegType.Implicit, regIndex: 4, value: 30408 }],
    } satisfies UpdateFieldsMessage)
    expect(decodeMessage(fromHex('01004000010000000100000006000000383e00000000000000000000000000000000000000000000000000000000000010270000000000000a00000000000000'))).toEqual({
      type: MessageType.Measure,
      sid: 1,
      programUid: 1,
      fields: [15928, 0, 0, 0, 10000, 10],
    } satisfies MeasureMessage)
    // The close report: no fields.
    expect(decodeMessage(fromHex('01001000010000000000000000000000'))).toEqual({ type: MessageType.Measure, sid: 1, programUid: 0, fields: [] })
  })
})

describe('encoding', () => {
  const samples: CcpMessage[] = [
    { type: MessageType.Create, sid: 3, initCwnd: 14480, mss: 1448, srcIp: 1, srcPort: 2, dstIp: 3, dstPort: 4, congAlg: 'cubic' },
    { type: MessageType.Measure, sid: 3, programUid: 2, fields: [1, 2 ** 53 - 1, U64_LIMIT] },
    { type: MessageType.UpdateFields, sid: 3, updates: [{ regType: RegType.VolatileControl, regIndex: 109, value: 2 ** 40 }] },
    { type: MessageType.ChangeProg, sid: 3, programUid: 4, updates: [] },
    { type: MessageType.Ready, sid: 0, id: 0xffffffff },
  ]

  it('writes every byte of the message into a reused buffer (0xa5 never shows through)', () => {
    for (const message of samples) {
      const target = new Uint8Array(200).fill(0xa5)
      const length = encodeMessageInto(message, target, 7)
      expect(target.subarray(0, 7).every((byte) => byte === 0xa5)).toBe(true)
      expect(target.subarray(7 + length).every((byte) => byte === 0xa5)).toBe(true)
      expect(toHex(target.subarray(7, 7 + length))).toBe(toHex(encodeMessage(message)))
      expect(decodeMessage(target.subarray(7, 7 + length))).toEqual(message)
    }
  })

  it('writes the u64 maximum (2^64 in a double) as all ones', () => {
    const bytes = encodeMessage({ type: MessageType.Measure, sid: 1, programUid: 1, fields: [U64_LIMIT] })
    expect(toHex(bytes.subarray(16))).toBe('ffffffffffffffff')
  })

  it.each([
    ['a negative sid', { type: MessageType.Ready, sid: -1, id: 0 }, 'ERR_CCP_VALUE'],
    ['a fractional u32', { type: MessageType.Ready, sid: 0, id: 1.5 }, 'ERR_CCP_VALUE'],
    ['a u32 past 2^32 − 1', { type: MessageType.Ready, sid: 2 ** 32, id: 0 }, 'ERR_CCP_VALUE'],
    ['a u64 past 2^64', { type: MessageType.Measure, sid: 1, programUid: 1, fields: [2 ** 65] }, 'ERR_CCP_VALUE'],
    ['111 fields', { type: MessageType.Measure, sid: 1, programUid: 1, fields: new Array(111).fill(0) }, 'ERR_CCP_COUNT'],
    ['a 64-byte algorithm name', { ...samples[0]!, congAlg: 'x'.repeat(64) }, 'ERR_CCP_STRING'],
    ['a NUL in the algorithm name', { ...samples[0]!, congAlg: 're\0no' }, 'ERR_CCP_STRING'],
    ['an unknown type', { type: 6, sid: 0 }, 'ERR_CCP_TYPE'],
    ['an update of a report register', { type: MessageType.UpdateFields, sid: 1, updates: [{ regType: RegType.VolatileReport, regIndex: 0, value: 1 }] }, 'ERR_CCP_REGISTER'],
    [
      'an instruction writing a primitive',
      { type: MessageType.InstallExpr, sid: 0, programUid: 1, expressions: [], instructions: [{ opcode: 1, resType: 4, resIndex: 0, leftType: 1, left: 0, rightType: 1, right: 0 }] },
      'ERR_CCP_REGISTER',
    ],
    [
      'an expression past the instructions',
      { type: MessageType.InstallExpr, sid: 0, programUid: 1, expressions: [{ condStart: 0, condLength: 1, eventStart: 0, eventLength: 0 }], instructions: [] },
      'ERR_CCP_RANGE',
    ],
  ] as const)('rejects %s', (_what, message, code) => {
    expect(codeOf(() => encodeMessage(message as unknown as CcpMessage))).toBe(code)
  })

  it('rejects a target too small', () => {
    expect(codeOf(() => encodeMessageInto(samples[0]!, new Uint8Array(95)))).toBe('ERR_INVALID_CONFIG')
  })
})

describe('decoding rejects what does not add up, with a code', () => {
  const validInstruction = rawInstruction(1, RegType.Tmp, 0, RegType.Tmp, 0, RegType.Immediate, 5)
  const create = fromHex(loadSession('reno').messages.find((entry) => entry.type === MessageType.Create)!.hex!)

  it.each([
    ['an empty datagram', new Uint8Array(0), 'ERR_CCP_TRUNCATED'],
    ['7 bytes', new Uint8Array(7), 'ERR_CCP_TRUNCATED'],
    ['type 6', bytesOf(header(6, 12), u32(0)), 'ERR_CCP_TYPE'],
    ['type 0x0100', bytesOf(header(0x100, 12), u32(0)), 'ERR_CCP_TYPE'],
    ['a len past the datagram', bytesOf(header(MessageType.Ready, 13), u32(0)), 'ERR_CCP_TRUNCATED'],
    ['a len short of the datagram', bytesOf(header(MessageType.Ready, 11), u32(0)), 'ERR_CCP_LENGTH'],
    ['a READY of 16 bytes', bytesOf(header(MessageType.Ready, 16), u32(0), u32(0)), 'ERR_CCP_LENGTH'],
    ['the 32-byte CREATE of 2018 libccp', bytesOf(header(MessageType.Create, 32), new Array(24).fill(0)), 'ERR_CCP_LENGTH'],
    ['a CREATE name without NUL', bytesOf(Array.from(create.subarray(0, 32)), new Array(64).fill(0x61)), 'ERR_CCP_STRING'],
    ['a MEASURE of 12 bytes', bytesOf(header(MessageType.Measure, 12), u32(1)), 'ERR_CCP_TRUNCATED'],
    ['a MEASURE claiming 111 fields', bytesOf(header(MessageType.Measure, 16), u32(1), u32(111)), 'ERR_CCP_COUNT'],
    ['a MEASURE whose fields do not fill len', bytesOf(header(MessageType.Measure, 24), u32(1), u32(2), u64(5)), 'ERR_CCP_COUNT'],
    ['an INSTALL of 16 bytes', bytesOf(header(MessageType.InstallExpr, 16), u32(1), u32(0)), 'ERR_CCP_TRUNCATED'],
    ['an INSTALL claiming 257 instructions', bytesOf(header(MessageType.InstallExpr, 20), u32(1), u32(0), u32(257)), 'ERR_CCP_COUNT'],
    ['an INSTALL claiming 2^32 − 1 expressions', bytesOf(header(MessageType.InstallExpr, 20), u32(1), u32(0xffffffff), u32(0)), 'ERR_CCP_COUNT'],
    ['an INSTALL one instruction short', bytesOf(header(MessageType.InstallExpr, 20), u32(1), u32(0), u32(1)), 'ERR_CCP_COUNT'],
    ['opcode 15', install(rawInstruction(15, RegType.Tmp, 0, RegType.Tmp, 0, RegType.Tmp, 0)), 'ERR_CCP_OPCODE'],
    ['opcode 255', install(rawInstruction(255, RegType.Tmp, 0, RegType.Tmp, 0, RegType.Tmp, 0)), 'ERR_CCP_OPCODE'],
    ['an immediate result', install(rawInstruction(1, RegType.Immediate, 0, RegType.Tmp, 0, RegType.Tmp, 0)), 'ERR_CCP_REGISTER'],
    ['a primitive result', install(rawInstruction(1, RegType.Primitive, 0, RegType.Tmp, 0, RegType.Tmp, 0)), 'ERR_CCP_REGISTER'],
    ['register type 9', install(rawInstruction(1, RegType.Tmp, 0, 9, 0, RegType.Tmp, 0)), 'ERR_CCP_REGISTER'],
    ['tmp 16', install(rawInstruction(1, RegType.Tmp, 16, RegType.Tmp, 0, RegType.Tmp, 0)), 'ERR_CCP_REGISTER'],
    ['local 8', install(rawInstruction(1, RegType.Local, 8, RegType.Tmp, 0, RegType.Tmp, 0)), 'ERR_CCP_REGISTER'],
    ['implicit 6', install(rawInstruction(1, RegType.Tmp, 0, RegType.Implicit, 6, RegType.Tmp, 0)), 'ERR_CCP_REGISTER'],
    ['primitive 15', install(rawInstruction(1, RegType.Tmp, 0, RegType.Tmp, 0, RegType.Primitive, 15)), 'ERR_CCP_REGISTER'],
    ['report 110', install(rawInstruction(1, RegType.VolatileReport, 110, RegType.Tmp, 0, RegType.Tmp, 0)), 'ERR_CCP_REGISTER'],
    ['control 2^32 − 1', install(rawInstruction(1, RegType.NonVolatileControl, 0xffffffff, RegType.Tmp, 0, RegType.Tmp, 0)), 'ERR_CCP_REGISTER'],
    ['a condition past the instructions', install(validInstruction, [1, 1, 0, 0]), 'ERR_CCP_RANGE'],
    ['a body past the instructions', install(validInstruction, [0, 1, 0, 2]), 'ERR_CCP_RANGE'],
    ['a range whose end wraps u32', install(validInstruction, [0xffffffff, 2, 0, 0]), 'ERR_CCP_RANGE'],
    ['an UPDATE_FIELDS of 8 bytes', bytesOf(header(MessageType.UpdateFields, 8)), 'ERR_CCP_TRUNCATED'],
    ['an UPDATE_FIELDS one update short', bytesOf(header(MessageType.UpdateFields, 12, 1), u32(1)), 'ERR_CCP_COUNT'],
    ['an UPDATE_FIELDS claiming 223 updates', bytesOf(header(MessageType.UpdateFields, 12, 1), u32(223)), 'ERR_CCP_COUNT'],
    ['an update of a report register', bytesOf(header(MessageType.UpdateFields, 25, 1), u32(1), [RegType.VolatileReport], u32(0), u64(1)), 'ERR_CCP_REGISTER'],
    ['an update of control register 110', bytesOf(header(MessageType.UpdateFields, 25, 1), u32(1), [RegType.NonVolatileControl], u32(110), u64(1)), 'ERR_CCP_REGISTER'],
    ['a CHANGE_PROG of 12 bytes', bytesOf(header(MessageType.ChangeProg, 12, 1), u32(1)), 'ERR_CCP_TRUNCATED'],
    ['a CHANGE_PROG with a byte too many', bytesOf(header(MessageType.ChangeProg, 17, 1), u32(1), u32(0), [0]), 'ERR_CCP_COUNT'],
  ] as const)('%s', (_what, bytes, code) => {
    expect(codeOf(() => decodeMessage(bytes))).toBe(code)
  })

  it('accepts the hand-built messages once they are right', () => {
    expect(codeOf(() => decodeMessage(install(validInstruction)))).toBe('no error')
    expect(codeOf(() => decodeMessage(bytesOf(header(MessageType.UpdateFields, 25, 1), u32(1), [RegType.VolatileControl], u32(109), u64(1))))).toBe('no error')
  })

  it('reads a message that sits at an odd offset inside a larger buffer', () => {
    const bytes = fromHex('0300190001000000010000000204000000c876000000000000')
    const big = new Uint8Array(bytes.length + 3)
    big.set(bytes, 3)
    expect(decodeMessage(big.subarray(3))).toEqual(decodeMessage(bytes))
  })
})

describe('readHeader', () => {
  it('reads type, length and sid without checking the rest, and never throws', () => {
    expect(readHeader(fromHex('0300190001000000'))).toEqual({ type: 3, length: 25, sid: 1 })
    expect(readHeader(fromHex('ffff0000ffffffff'))).toEqual({ type: 0xffff, length: 0, sid: 0xffffffff })
    expect(readHeader(new Uint8Array(7))).toBeUndefined()
    expect(readHeader('nope' as unknown as Uint8Array)).toBeUndefined()
  })
})
