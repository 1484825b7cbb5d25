import { describe, expect, it } from 'vitest'
import { type Connection, Datapath, type DatapathOptions } from './datapath.js'
import { CcpError } from './errors.js'
import { createMeasurements } from './measurements.js'
import { ProgramStatus } from './program.js'
import { SID_QUARANTINE } from './sid-allocator.js'
import { control, def, imm, implicit, instruction, nonVolatileReport, primitive, program, report } from './test-support/programs.js'
import { fromHex, loadSession } from './test-support/session-replay.js'
import {
  type CcpMessage,
  type ChangeProgMessage,
  decodeMessage,
  encodeMessage,
  Implicit,
  type InstallExprMessage,
  type MeasureMessage,
  MessageType,
  Opcode,
  Primitive,
  RegType,
  type UpdateField,
} from './wire.js'

const INFO = { initCwnd: 14480, mss: 1448, srcIp: 0x0100007f, srcPort: 5000, dstIp: 0x0100007f, dstPort: 80, congAlg: 'reno' }
const flag = instruction(Opcode.Bind, implicit(Implicit.EventFlag), implicit(Implicit.EventFlag), imm(1))
const fallthrough = instruction(Opcode.Bind, implicit(Implicit.ShouldContinue), implicit(Implicit.ShouldContinue), imm(1))
const doReport = instruction(Opcode.Bind, implicit(Implicit.ShouldReport), implicit(Implicit.ShouldReport), imm(1))

/**
 * A counting program: report 0 (volatile) and report 1 (non-volatile) add up bytes acked; it reports, and
 * restarts Micros, once Micros passes control 0 (default 1000 µs).
 */
function counting(uid: number): InstallExprMessage {
  return program(uid, [def(report(0), 0), def(nonVolatileReport(1), 0), def(control(0), 1000)], [
    {
      when: [flag],
      then: [
        instruction(Opcode.Add, report(0), report(0), primitive(Primitive.AckBytesAcked)),
        instruction(Opcode.Add, nonVolatileReport(1), nonVolatileReport(1), primitive(Primitive.AckBytesAcked)),
        fallthrough,
      ],
    },
    {
      when: [instruction(Opcode.Gt, implicit(Implicit.EventFlag), implicit(Implicit.Micros), control(0))],
      then: [doReport, instruction(Opcode.Bind, implicit(Implicit.Micros), implicit(Implicit.Micros), imm(0))],
    },
  ])
}

/** Cwnd grows by the bytes acked on every ACK; it never reports. */
function growing(uid: number): InstallExprMessage {
  return program(uid, [], [{ when: [flag], then: [instruction(Opcode.Add, implicit(Implicit.Cwnd), implicit(Implicit.Cwnd), primitive(Primitive.AckBytesAcked))] }])
}

/** A fake stack and agent around a datapath, on a fake clock. */
function harness(options: DatapathOptions = {}) {
  const env = {
    now: 1_000_000,
    agentUp: true,
    /** When set, sends return this (e.g. -11, EAGAIN: the agent's queue is full) and are not delivered. */
    sendResult: 0,
    sent: [] as CcpMessage[],
    refused: 0,
    cwnd: [] as Array<[number, number]>,
    rate: [] as Array<[number, number]>,
  }
  const datapath = new Datapath<{ name: string }>(
    {
      now: () => env.now,
      sendMsg(bytes) {
        expect(bytes.length).toBeLessThanOrEqual(1024)
        if (!env.agentUp) {
          env.refused++
          return -111
        }
        if (env.sendResult !== 0) {
          env.refused++
          return env.sendResult
        }
        env.sent.push(decodeMessage(bytes))
        return 0
      },
      setCwnd: (connection, bytes) => env.cwnd.push([connection.sid, bytes]),
      setRateAbs: (connection, rate) => env.rate.push([connection.sid, rate]),
    },
    options,
  )
  const m = createMeasurements()
  m.bytesAcked = 1448
  m.packetsAcked = 1
  m.rttSampleUs = 10_000
  m.cwnd = 14480
  return {
    env,
    datapath,
    m,
    deliver: (message: CcpMessage) => datapath.receive(encodeMessage(message)),
    /** Messages sent since the last call. */
    take(): CcpMessage[] {
      const sent = env.sent
      env.sent = []
      return sent
    },
    changeProgram(sid: number, programUid: number, updates: UpdateField[] = []) {
      return datapath.receive(encodeMessage({ type: MessageType.ChangeProg, sid, programUid, updates } satisfies ChangeProgMessage))
    },
    /** A flow in control of `programUid`. */
    controlled(programUid: number, messages: InstallExprMessage[]): Connection<{ name: string }> {
      for (const message of messages) datapath.receive(encodeMessage(message))
      const connection = datapath.connectionStart(INFO, { name: 'flow' })
      datapath.receive(encodeMessage({ type: MessageType.ChangeProg, sid: connection.sid, programUid, updates: [] }))
      return connection
    },
  }
}

const measures = (messages: CcpMessage[]): MeasureMessage[] => messages.filter((message): message is MeasureMessage => message.type === MessageType.Measure)

describe('configuration', () => {
  it('rejects missing callbacks and bad options with ERR_INVALID_CONFIG', () => {
    const ok = { sendMsg: () => 0, now: () => 0, setCwnd: () => {}, setRateAbs: () => {} }
    const code = (run: () => unknown) => {
      try {
        run()
      } catch (error) {
        return (error as CcpError).code
      }
      return 'no error'
    }
    expect(code(() => new Datapath({ ...ok, now: undefined } as never))).toBe('ERR_INVALID_CONFIG')
    expect(code(() => new Datapath(ok, { retryIntervalUs: 0 }))).toBe('ERR_INVALID_CONFIG')
    expect(code(() => new Datapath(ok, { id: -1 }))).toBe('ERR_INVALID_CONFIG')
    expect(code(() => new Datapath(ok, { maxPrograms: 0 }))).toBe('ERR_INVALID_CONFIG')
    expect(code(() => new Datapath(ok).connectionStart({ ...INFO, congAlg: 'x'.repeat(64) }, null))).toBe('ERR_CCP_STRING')
    expect(code(() => new Datapath(ok).connectionStart({ ...INFO, mss: -1 }, null))).toBe('ERR_CCP_VALUE')
    expect(code(() => new Datapath(ok))).toBe('no error')
  })
})

describe('handshake', () => {
  it('start sends READY with the datapath id; connectionStart sends the 96-byte CREATE', () => {
    const { datapath, take } = harness({ id: 42 })
    datapath.start()
    expect(take()).toEqual([{ type: MessageType.Ready, sid: 0, id: 42 }])
    const connection = datapath.connectionStart(INFO, { name: 'a' })
    expect(connection.sid).toBe(1)
    expect(connection.context).toEqual({ name: 'a' })
    expect(take()).toEqual([{ type: MessageType.Create, sid: 1, ...INFO }])
    expect(datapath.connection(1)).toBe(connection)
    expect(datapath.connectionCount).toBe(1)
  })

  it('a flow is not in control, and runs nothing, until the agent switches it to a program', () => {
    const { datapath, deliver, env, m, take, changeProgram } = harness()
    deliver(growing(1))
    const connection = datapath.connectionStart(INFO, { name: 'a' })
    take()
    connection.invoke(m)
    expect(connection.inControl).toBe(false)
    expect(env.cwnd).toEqual([])
    changeProgram(connection.sid, 1)
    expect(connection.inControl).toBe(true)
    expect(connection.programUid).toBeUndefined() // staged until the next invoke
    connection.invoke(m)
    expect(connection.programUid).toBe(1)
    expect(env.cwnd).toEqual([[1, 14480 + 1448]])
  })

  it('never sends a CREATE or READY again once it went out, however far its clock runs (issue 17, 1)', () => {
    const { datapath, env, m, take } = harness({ retryIntervalUs: 100_000, resyncIntervalUs: 1e12 })
    datapath.start()
    const connection = datapath.connectionStart(INFO, { name: 'a' })
    expect(take().map((message) => message.type)).toEqual([MessageType.Ready, MessageType.Create])
    // A virtual clock ten times faster than the agent: 100 s of datapath time, no answer yet.
    for (let i = 0; i < 1000; i++) {
      env.now += 100_000
      connection.invoke(m)
      datapath.tick()
    }
    expect(take()).toEqual([])
    expect(datapath.stats).toMatchObject({ readySent: 1, createsSent: 1 })
  })

  it('re-sends a CREATE whose send failed (EAGAIN), at most every retry interval, from invoke and from tick', () => {
    const { datapath, env, m, take } = harness({ retryIntervalUs: 100_000 })
    datapath.start()
    take()
    env.sendResult = -11 // EAGAIN: the agent is there, its queue is full
    const connection = datapath.connectionStart(INFO, { name: 'a' })
    expect(datapath.stats.sendDropped).toBe(1)
    env.sendResult = 0
    for (let i = 0; i < 99; i++) {
      env.now += 1000
      connection.invoke(m)
      datapath.tick()
    }
    expect(take()).toEqual([])
    env.now += 1000
    connection.invoke(m)
    expect(take()).toEqual([{ type: MessageType.Create, sid: 1, ...INFO }])
    env.now += 100_000
    datapath.tick()
    connection.invoke(m)
    expect(take()).toEqual([])
    expect(datapath.stats).toMatchObject({ readySent: 1, createsSent: 1, sendFailures: 0, agentLost: 0 })
  })

  it('stops retrying READY once the agent has answered', () => {
    const { datapath, env, deliver, take } = harness()
    datapath.start()
    deliver(growing(1))
    expect(datapath.agentPresent).toBe(true)
    take()
    env.now += 10_000_000
    datapath.tick()
    expect(take()).toEqual([])
  })
})

describe('one invoke', () => {
  it('reports the report registers in register order under the program uid, then resets the volatile ones', () => {
    const { env, m, take, controlled } = harness()
    const connection = controlled(7, [counting(7)])
    take()
    for (let i = 0; i < 5; i++) {
      env.now += 300 // the 1st invoke applies the program (Micros 0); Micros passes 1000 at the 5th
      connection.invoke(m)
    }
    expect(measures(take())).toEqual([{ type: MessageType.Measure, sid: 1, programUid: 7, fields: [5 * 1448, 5 * 1448] }])
    for (let i = 0; i < 4; i++) {
      env.now += 300
      connection.invoke(m)
    }
    // The volatile report register restarted from its DEF, the non-volatile one kept counting.
    expect(measures(take())).toEqual([{ type: MessageType.Measure, sid: 1, programUid: 7, fields: [4 * 1448, 9 * 1448] }])
  })

  it('Micros advances only when invoke runs, from the program change', () => {
    const { env, m, controlled, datapath } = harness()
    const connection = controlled(1, [counting(1)])
    env.now += 5000
    connection.invoke(m)
    expect(connection.registers[Implicit.Micros]).toBe(0) // the change set time zero to now
    env.now += 700
    expect(connection.registers[Implicit.Micros]).toBe(0)
    connection.invoke(m)
    expect(connection.registers[Implicit.Micros]).toBe(700)
    expect(datapath.stats.measuresSent).toBe(0)
  })

  it('Ack.now reads µs since the datapath started', () => {
    const { env, m, controlled } = harness()
    const nowProgram = program(1, [def(report(0), 0)], [{ when: [flag], then: [instruction(Opcode.Bind, report(0), report(0), primitive(Primitive.AckNow))] }])
    const connection = controlled(1, [nowProgram])
    env.now += 2500
    connection.invoke(m)
    expect(connection.registers[connection.registers.length - 1]).toBe(2500)
  })

  it('calls setCwnd when Cwnd > 0 and setRateAbs when Rate ≠ 0, after the program', () => {
    const { env, m, controlled } = harness()
    const connection = controlled(1, [growing(1)])
    m.rate = 0
    connection.invoke(m)
    m.rate = 125_000
    m.cwnd = 20_000
    connection.invoke(m)
    expect(env.cwnd).toEqual([
      [1, 14480 + 1448],
      [1, 20_000 + 1448],
    ])
    expect(env.rate).toEqual([[1, 125_000]])
    m.cwnd = 0
    m.bytesAcked = 0
    connection.invoke(m)
    expect(env.cwnd.length).toBe(2) // Cwnd stayed 0: no call
  })

  it('an instruction error aborts the invoke: no callbacks, no report, counted', () => {
    const { env, m, controlled, datapath, take } = harness()
    const failing = program(1, [], [
      {
        when: [flag],
        then: [
          instruction(Opcode.Bind, implicit(Implicit.Cwnd), implicit(Implicit.Cwnd), imm(5000)),
          doReport,
          instruction(Opcode.Div, report(0), imm(1), imm(0)),
        ],
      },
    ])
    const connection = controlled(1, [failing])
    take()
    connection.invoke(m)
    expect(connection.lastStatus).toBe(ProgramStatus.DivideByZero)
    expect(datapath.stats.programErrors).toBe(1)
    expect(env.cwnd).toEqual([])
    expect(take()).toEqual([])
  })
})

describe('staged updates and program changes', () => {
  it('UPDATE_FIELDS waits for the next invoke, then sets Cwnd and Rate at once (and the program sees them)', () => {
    const { env, m, controlled, deliver } = harness()
    const connection = controlled(1, [growing(1)])
    connection.invoke(m)
    env.cwnd = []
    deliver({
      type: MessageType.UpdateFields,
      sid: 1,
      updates: [
        { regType: RegType.Implicit, regIndex: Implicit.Rate, value: 1_000_000 },
        { regType: RegType.Implicit, regIndex: Implicit.Cwnd, value: 30408 },
      ],
    })
    expect(env.cwnd).toEqual([])
    connection.invoke(m)
    // At once 30408 (libccp: the staged value calls set_cwnd), then the program adds an ACK to it.
    expect(env.cwnd).toEqual([
      [1, 30408],
      [1, 30408 + 1448],
    ])
    expect(env.rate).toEqual([
      [1, 1_000_000],
      [1, 1_000_000],
    ])
    env.cwnd = []
    connection.invoke(m)
    expect(env.cwnd).toEqual([[1, 14480 + 1448]]) // applied once: back to the stack's cwnd
  })

  it('later updates of a register replace earlier ones; control updates land in the program\'s registers', () => {
    const { m, controlled, deliver } = harness()
    const connection = controlled(1, [counting(1)])
    connection.invoke(m)
    const base = connection.registers.length - 2 - 1 // control 0 sits before the two report registers
    for (const value of [5, 6, 7]) deliver({ type: MessageType.UpdateFields, sid: 1, updates: [{ regType: RegType.VolatileControl, regIndex: 0, value }] })
    deliver({ type: MessageType.UpdateFields, sid: 1, updates: [{ regType: RegType.NonVolatileControl, regIndex: 50, value: 9 }] })
    connection.invoke(m)
    expect(connection.registers[base]).toBe(7)
  })

  it('CHANGE_PROG drops updates staged before it, applies the DEFs, then its own updates', () => {
    const { env, m, controlled, deliver, changeProgram } = harness()
    const connection = controlled(1, [counting(1), counting(2)])
    connection.invoke(m)
    env.cwnd = []
    deliver({ type: MessageType.UpdateFields, sid: 1, updates: [{ regType: RegType.Implicit, regIndex: Implicit.Cwnd, value: 99_999 }] })
    changeProgram(1, 2, [{ regType: RegType.NonVolatileControl, regIndex: 0, value: 50 }])
    connection.invoke(m)
    expect(env.cwnd).toEqual([[1, 14480]]) // no 99,999
    expect(connection.programUid).toBe(2)
    const controlBase = 7
    expect(connection.registers[controlBase]).toBe(50) // DEF said 1000, the CHANGE_PROG's update said 50
  })

  it('a CHANGE_PROG to a program not in the table is dropped, counted, and resynchronises with backoff (issue 17, 3)', () => {
    const { env, m, controlled, changeProgram, datapath, take, deliver } = harness({ resyncIntervalUs: 1_000_000 })
    datapath.start()
    const connection = controlled(1, [growing(1)])
    connection.invoke(m)
    take()
    expect(changeProgram(1, 9)).toBe(false)
    expect(datapath.stats.unknownProgram).toBe(1)
    // Our table and the agent's differ: READY (the agent reinstalls and forgets the flows), CREATE again.
    expect(take()).toEqual([{ type: MessageType.Ready, sid: 0, id: 0 }, { type: MessageType.Create, sid: 1, ...INFO }])
    expect(connection.inControl).toBe(false)
    // More garbage within the backoff: counted, nothing sent; after it, one more resync; the backoff doubles.
    env.now += 500_000
    changeProgram(1, 9)
    datapath.tick()
    expect(take()).toEqual([])
    env.now += 500_000
    datapath.tick()
    expect(take().map((message) => message.type)).toEqual([MessageType.Ready, MessageType.Create])
    env.now += 1_000_000
    changeProgram(1, 9)
    datapath.tick()
    expect(take()).toEqual([]) // 2 s now
    env.now += 1_000_000
    datapath.tick()
    expect(take().map((message) => message.type)).toEqual([MessageType.Ready, MessageType.Create])
    expect(datapath.stats.resyncs).toBe(3)
    // The agent answers sensibly: the flow is in control again.
    deliver(growing(1))
    changeProgram(1, 1)
    connection.invoke(m)
    expect(connection.programUid).toBe(1)
  })

  it('never reports under the new uid with the old program\'s registers, nor under the old uid after the change', () => {
    const { env, m, controlled, changeProgram, take } = harness()
    const connection = controlled(1, [counting(1), counting(2)])
    for (let i = 0; i < 3; i++) {
      env.now += 300
      connection.invoke(m) // 3 ACKs counted under uid 1, no report yet
    }
    changeProgram(1, 2)
    for (let i = 0; i < 5; i++) {
      env.now += 300
      connection.invoke(m)
    }
    expect(measures(take())).toEqual([{ type: MessageType.Measure, sid: 1, programUid: 2, fields: [5 * 1448, 5 * 1448] }])
  })

  it('keeps the values of registers the old and new program share when their layouts differ', () => {
    const { m, controlled, changeProgram, deliver } = harness()
    const wide = program(2, [def(report(0), 0), def(report(1), 0), def(report(2), 0)], [{ when: [flag], then: [] }])
    const connection = controlled(1, [counting(1), wide])
    deliver({ type: MessageType.UpdateFields, sid: 1, updates: [{ regType: RegType.NonVolatileControl, regIndex: 0, value: 1234 }] })
    connection.invoke(m)
    changeProgram(1, 2)
    connection.invoke(m)
    expect(connection.registers.length).toBe(7 + 3)
    changeProgram(1, 1)
    connection.invoke(m)
    expect(connection.registers[7]).toBe(1000) // DEF'd again by counting
  })
})

describe('the program table', () => {
  it('an INSTALL with uid 1 clears the table; other uids append, and a repeated uid replaces', () => {
    const { datapath, deliver } = harness()
    deliver(growing(1))
    deliver(growing(2))
    deliver(counting(2))
    expect([...datapath.programs.keys()]).toEqual([1, 2])
    expect(datapath.programs.get(2)!.reportFields).toBe(2)
    deliver(counting(1))
    expect([...datapath.programs.keys()]).toEqual([1])
    expect(datapath.stats.tableClears).toBe(2)
  })

  it('drops and counts an INSTALL beyond maxPrograms', () => {
    const { datapath, deliver } = harness({ maxPrograms: 2 })
    expect(deliver(growing(1))).toBe(true)
    expect(deliver(growing(2))).toBe(true)
    expect(deliver(growing(3))).toBe(false)
    expect(datapath.stats.tableFull).toBe(1)
    expect(deliver(counting(2))).toBe(true) // replacing is always possible
  })
})

describe('agent absent and restarted (better than libccp)', () => {
  it('a failed send (ECONNREFUSED) hands every flow back to native control; READY is retried; a restarted agent takes the flows over', () => {
    const { env, m, datapath, controlled, take, deliver, changeProgram } = harness({ retryIntervalUs: 100_000 })
    datapath.start()
    const a = controlled(1, [counting(1)])
    const b = datapath.connectionStart(INFO, { name: 'b' })
    changeProgram(b.sid, 1)
    a.invoke(m)
    b.invoke(m)
    take()
    const epoch = a.controlEpoch
    // The agent dies; a's next report fails.
    env.agentUp = false
    env.now += 2000
    a.invoke(m)
    expect(datapath.agentPresent).toBe(false)
    expect(a.inControl).toBe(false)
    expect(b.inControl).toBe(false)
    expect(a.controlEpoch).not.toBe(epoch) // what the dead agent set is stale
    env.cwnd = []
    b.invoke(m)
    expect(env.cwnd).toEqual([]) // native congestion control governs
    // READY every 100 ms, whoever drives the retries; no CREATE while it fails.
    const refusedBefore = env.refused
    for (let i = 0; i < 300; i++) {
      env.now += 1000
      a.invoke(m)
      datapath.tick()
    }
    expect(env.refused - refusedBefore).toBe(3)
    // The agent is back: READY gets through, and every flow's CREATE right after it.
    env.agentUp = true
    env.now += 100_000
    datapath.tick()
    expect(take()).toEqual([
      { type: MessageType.Ready, sid: 0, id: 0 },
      { type: MessageType.Create, sid: a.sid, ...INFO },
      { type: MessageType.Create, sid: b.sid, ...INFO },
    ])
    deliver(counting(1)) // the answer to READY: uid 1 resets the table
    expect(datapath.agentPresent).toBe(true)
    expect(a.inControl).toBe(false) // its program is gone
    env.now += 1
    a.invoke(m)
    datapath.tick()
    expect(take()).toEqual([]) // the agent has the CREATEs already
    changeProgram(a.sid, 1)
    changeProgram(b.sid, 1)
    expect(a.inControl && b.inControl).toBe(true)
    a.invoke(m)
    expect(a.programUid).toBe(1)
    expect(datapath.stats).toMatchObject({ readySent: 2, createsSent: 4, agentLost: 1 })
  })

  it('a CREATE after the first carries the flow\'s window now (issue 17, 4)', () => {
    const cwnd = { now: 14480 }
    const sent: CcpMessage[] = []
    let up = true
    let now = 0
    const datapath = new Datapath<null>({
      now: () => now,
      sendMsg: (bytes) => (up ? (sent.push(decodeMessage(bytes)), 0) : -2),
      setCwnd: () => {},
      setRateAbs: () => {},
      currentCwnd: () => cwnd.now,
    }, { retryIntervalUs: 1 })
    datapath.start()
    datapath.connectionStart(INFO, null)
    cwnd.now = 68_000
    up = false
    datapath.tick() // nothing to send
    datapath.connectionStart({ ...INFO, initCwnd: 5000 }, null) // fails: the agent is gone
    up = true
    now += 1
    datapath.tick()
    const creates = sent.filter((message) => message.type === MessageType.Create).map((message) => [message.sid, (message as { initCwnd: number }).initCwnd])
    expect(creates).toEqual([[1, 14480], [1, 68_000], [2, 5000]]) // flow 2's first CREATE had not gone out
  })

  it('an agent restarted between two sends (INSTALL uid 1 unasked while flows run): READY, then every flow\'s CREATE', () => {
    const { env, m, datapath, controlled, take, deliver, changeProgram } = harness()
    datapath.start()
    const a = controlled(1, [counting(1)])
    a.invoke(m)
    env.now += 500_000
    take()
    deliver(growing(1)) // not an answer to our READY: a new agent, which may not know our flows
    expect(a.inControl).toBe(false)
    expect(take()).toEqual([{ type: MessageType.Ready, sid: 0, id: 0 }, { type: MessageType.Create, sid: a.sid, ...INFO }])
    env.cwnd = []
    a.invoke(m) // no program: runs nothing, sends nothing
    expect(take()).toEqual([])
    expect(env.cwnd).toEqual([])
    deliver(growing(1)) // the answer to that READY
    changeProgram(a.sid, 1)
    a.invoke(m)
    expect(env.cwnd).toEqual([[1, 14480 + 1448]]) // the new uid 1 (growing), not the old one (counting)
    expect(datapath.stats.resyncs).toBe(1)
  })

  it('a CREATE that went out after READY is not sent again when the answer to READY resets the table', () => {
    const { env, m, datapath, take, deliver } = harness()
    datapath.start()
    const a = datapath.connectionStart(INFO, { name: 'a' })
    take()
    env.now += 300
    deliver(growing(1)) // the agent's INSTALLs, then its CHANGE_PROG for a, are on the way
    a.invoke(m)
    datapath.tick()
    expect(take()).toEqual([])
  })

  it('a flow started while the agent is absent sends no CREATE until READY goes', () => {
    const { env, m, datapath, take, deliver } = harness()
    env.agentUp = false
    datapath.start()
    const a = datapath.connectionStart(INFO, { name: 'a' })
    a.invoke(m)
    expect(env.refused).toBe(1) // only the READY was tried
    env.agentUp = true
    deliver(growing(1)) // the agent is there (it installs on its own): READY, then the CREATE
    expect(take()).toEqual([{ type: MessageType.Ready, sid: 0, id: 0 }, { type: MessageType.Create, sid: a.sid, ...INFO }])
    a.invoke(m)
    expect(take()).toEqual([])
  })

  it('a CREATE left unanswered for the resync interval (its answer lost) is sent again for that flow alone, with backoff', () => {
    const { env, datapath, deliver, take, changeProgram } = harness({ resyncIntervalUs: 1_000_000 })
    datapath.start()
    deliver(growing(1)) // the answer to READY
    const a = datapath.connectionStart(INFO, { name: 'a' })
    const b = datapath.connectionStart(INFO, { name: 'b' })
    changeProgram(b.sid, 1) // a's CHANGE_PROG was lost
    take()
    env.now += 999_999
    datapath.tick()
    expect(take()).toEqual([])
    env.now += 1
    datapath.tick()
    expect(take()).toEqual([{ type: MessageType.Create, sid: a.sid, ...INFO }])
    env.now += 1_999_999
    datapath.tick()
    expect(take()).toEqual([])
    env.now += 1
    datapath.tick()
    expect(take()).toEqual([{ type: MessageType.Create, sid: a.sid, ...INFO }])
    expect(datapath.stats).toMatchObject({ recreates: 2, resyncs: 0, readySent: 1 })
  })

  it('READY left unanswered for the resync interval is sent again, with backoff', () => {
    const { env, datapath, take } = harness({ resyncIntervalUs: 1_000_000 })
    datapath.start()
    take()
    env.now += 999_999
    datapath.tick()
    expect(take()).toEqual([])
    env.now += 1
    datapath.tick()
    expect(take()).toEqual([{ type: MessageType.Ready, sid: 0, id: 0 }])
    env.now += 1_999_999
    datapath.tick()
    expect(take()).toEqual([])
    env.now += 1
    datapath.tick()
    expect(take()).toEqual([{ type: MessageType.Ready, sid: 0, id: 0 }])
  })
})

describe('a full queue (EAGAIN) is not a lost agent (issue 17, 2)', () => {
  it('a dropped report keeps the flow in control, is counted, and is coalesced into the next one', () => {
    const { env, m, datapath, controlled, take, deliver } = harness({ retryIntervalUs: 100_000 })
    datapath.start()
    const a = controlled(1, [counting(1)])
    a.invoke(m) // takes the program: Micros starts at 0
    take()
    env.now += 2000
    a.invoke(m) // reports the two ACKs
    expect(measures(take()).map((report) => report.fields[0])).toEqual([2 * 1448])
    env.sendResult = -11
    env.now += 2000
    a.invoke(m) // dropped: the volatile register keeps its 1448
    expect(a.inControl).toBe(true)
    expect(datapath.agentPresent).toBe(true)
    expect(datapath.stats).toMatchObject({ sendDropped: 1, sendFailures: 0, agentLost: 0, reportsCoalesced: 1 })
    env.sendResult = 0
    env.now += 2000
    a.invoke(m) // held back: within a retry interval of the full queue
    expect(take()).toEqual([])
    expect(datapath.stats.reportsCoalesced).toBe(2)
    env.now += 100_000
    a.invoke(m)
    // One report with the three ACKs since the last one that went out.
    expect(measures(take()).map((report) => report.fields[0])).toEqual([3 * 1448])
    // A message from the agent means it reads its queue: reports go at once again.
    env.sendResult = -11
    env.now += 2000
    a.invoke(m)
    env.sendResult = 0
    deliver({ type: MessageType.UpdateFields, sid: a.sid, updates: [] })
    env.now += 2000
    a.invoke(m)
    expect(measures(take()).map((report) => report.fields[0])).toEqual([2 * 1448])
  })
})

describe('receive never throws and counts what it drops', () => {
  it('malformed, unexpected and unknown-sid messages', () => {
    const { datapath, deliver } = harness()
    expect(datapath.receive(new Uint8Array([1, 2, 3]))).toBe(false)
    expect(datapath.receive(fromHex('0600'.padEnd(24, '0')))).toBe(false)
    expect(datapath.receive(null as unknown as Uint8Array)).toBe(false)
    expect(datapath.stats.malformed).toBe(3)
    expect(datapath.stats.malformedByCode).toEqual({ ERR_CCP_TRUNCATED: 1, ERR_CCP_TYPE: 1, ERR_CCP_VALUE: 1 })
    expect(deliver({ type: MessageType.Ready, sid: 0, id: 1 })).toBe(false)
    expect(datapath.stats.unexpected).toBe(1)
    expect(deliver({ type: MessageType.UpdateFields, sid: 77, updates: [] })).toBe(false)
    expect(datapath.stats.unknownSid).toBe(1)
    expect(datapath.stats.received).toBe(5)
    expect(datapath.agentPresent).toBe(true) // the UPDATE_FIELDS came from the agent
  })

  it('takes a recorded portus session\'s agent messages', () => {
    const { datapath } = harness()
    const connection = datapath.connectionStart(INFO, { name: 'a' })
    for (const entry of loadSession('bbr').messages) if (entry.dir === 'agent->dp') expect(datapath.receive(fromHex(entry.hex!))).toBe(true)
    expect(datapath.stats.installs).toBe(3)
    expect(connection.inControl).toBe(true)
  })
})

describe('free and sids', () => {
  it('free sends the close MEASURE, releases the sid, and the connection refuses invokes', () => {
    const { m, datapath, take, controlled, deliver } = harness()
    const a = controlled(1, [counting(1)])
    take()
    a.free()
    expect(take()).toEqual([{ type: MessageType.Measure, sid: a.sid, programUid: 0, fields: [] }])
    expect(a.freed).toBe(true)
    expect(a.inControl).toBe(false)
    expect(datapath.connection(a.sid)).toBeUndefined()
    expect(datapath.connectionCount).toBe(0)
    a.free()
    expect(take()).toEqual([])
    expect(() => a.invoke(m)).toThrow(CcpError)
    expect(deliver({ type: MessageType.UpdateFields, sid: a.sid, updates: [] })).toBe(false)
    expect(datapath.stats.unknownSid).toBe(1)
  })

  it('never hands out a live sid, and reuses a freed one only after the quarantine', () => {
    const { datapath } = harness()
    const live = new Set<number>()
    const first = datapath.connectionStart(INFO, { name: 'first' })
    live.add(first.sid)
    first.free()
    live.delete(first.sid)
    const seen: number[] = []
    for (let i = 0; i < SID_QUARANTINE + 10; i++) {
      const connection = datapath.connectionStart(INFO, { name: String(i) })
      expect(live.has(connection.sid)).toBe(false)
      seen.push(connection.sid)
      connection.free()
    }
    // The first freed sid came back only after SID_QUARANTINE others had been freed.
    expect(seen.indexOf(first.sid)).toBe(SID_QUARANTINE)
    expect(datapath.connectionCount).toBe(0)
  })

  it('runs 10,000 concurrent flows, each with registers sized to its program', () => {
    const { env, m, datapath, take, deliver, changeProgram } = harness()
    deliver(counting(1))
    const connections: Array<Connection<{ name: string }>> = []
    for (let i = 0; i < 10_000; i++) connections.push(datapath.connectionStart(INFO, { name: String(i) }))
    expect(new Set(connections.map((connection) => connection.sid)).size).toBe(10_000)
    expect(take().length).toBe(10_000) // one CREATE each
    for (const connection of connections) changeProgram(connection.sid, 1)
    for (let round = 0; round < 5; round++) {
      env.now += 300
      for (const connection of connections) connection.invoke(m)
    }
    const reports = measures(take())
    expect(reports.length).toBe(10_000)
    expect(new Set(reports.map((report) => report.sid)).size).toBe(10_000)
    expect(reports.every((report) => report.fields[0] === 5 * 1448)).toBe(true)
    expect(connections[9_999]!.registers.length).toBe(7 + 1 + 2)
  })
})
