import { decodeMessage, MessageType, RegType } from '@mtcp/libccp'
import { describe, expect, it } from 'vitest'
import vectors from './fixtures/programs.json' with { type: 'json' }
import { AgentError, ProgramError } from './errors.js'
import { compileProgram } from './program.js'

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

describe('compileProgram: byte-identical to portus 0.8', () => {
  it.each(vectors.programs.map((p) => [p.name, p] as const))('%s, compiled with the dump’s sid 1 and uid 9', (_name, program) => {
    expect(hex(compileProgram(program.dsl, { uid: 9, sid: 1 }).bytes)).toBe(program.installHex)
  })

  it.each(vectors.programs.map((p) => [p.name, p] as const))('%s, as a live agent sends it (sid 0): same from byte 12 on', (_name, program) => {
    const { bytes } = compileProgram(program.dsl, { uid: 3 })
    expect(hex(bytes.subarray(12))).toBe(program.installHex.slice(24))
    const message = decodeMessage(bytes)
    expect(message).toMatchObject({ type: MessageType.InstallExpr, sid: 0, programUid: 3 })
  })
})

describe('compileProgram: the result', () => {
  const source = `
    (def (Report (volatile acked 0) (minrtt +infinity)) (reportTime 0) (volatile pulse 0))
    (when true (:= Report.acked (+ Report.acked Ack.bytes_acked)) (fallthrough))
    (when (> Micros reportTime) (report) (:= Micros 0))`

  it('describes the program: events, report fields in MEASURE order, updatable registers', () => {
    const program = compileProgram(source, { uid: 1 })
    expect(program.uid).toBe(1)
    expect(program.events).toBe(2)
    expect(program.bytes.length).toBe(20 + 16 * (2 + program.instructions.length))
    expect(program.reportFields).toEqual(['acked', 'minrtt'])
    expect(program.register('reportTime')).toEqual({ regType: RegType.NonVolatileControl, regIndex: 0 })
    expect(program.register('pulse')).toEqual({ regType: RegType.VolatileControl, regIndex: 1 })
    expect(program.register('Cwnd')).toEqual({ regType: RegType.Implicit, regIndex: 4 })
    expect(program.register('Rate')).toEqual({ regType: RegType.Implicit, regIndex: 5 })
    expect(program.register('Report.acked')).toBeUndefined()
    expect(program.register('Micros')).toBeUndefined()
    expect(program.register('Ack.bytes_acked')).toBeUndefined()
  })

  it('throws ProgramError for a bad program and AgentError for a bad uid', () => {
    expect(() => compileProgram('(when true', { uid: 1 })).toThrow(ProgramError)
    for (const uid of [-1, 1.5, 2 ** 32, Number.NaN]) {
      expect(() => compileProgram(source, { uid })).toThrow(AgentError)
    }
    expect(() => compileProgram(source, { uid: 1, sid: -1 })).toThrow(/sid must be an integer/)
  })
})
