/**
 * Replays of the live portus 0.8 sessions in ccp-vectors (copied to src/fixtures): the recorded
 * datapath → agent messages (READY, CREATE, each MEASURE) go to this agent, in order, on a clock set to their
 * recorded times; what it answers must be what portus answered.
 *
 * One liberty, because portus installs its programs in HashMap order (each recording has its own order):
 * the INSTALLs are compared as a set, each by its bytes from offset 12 on (the uid differs), and uids in
 * the messages that follow are translated by program name.
 */
import { InProcessHub } from '@mtcp/ccp-ipc'
import { decodeMessage, encodeMessage, MessageType, type CcpMessage } from '@mtcp/libccp'
import { describe, expect, it } from 'vitest'
import { Agent } from './agent.js'
import { Bbr } from './algorithms/bbr.js'
import { Cubic } from './algorithms/cubic.js'
import { Reno } from './algorithms/reno.js'
import type { CongestionAlgorithm } from './flow.js'
import vectors from './fixtures/programs.json' with { type: 'json' }
import bbrSession from './fixtures/session-bbr.json' with { type: 'json' }
import cubicSession from './fixtures/session-cubic.json' with { type: 'json' }
import late05Session from './fixtures/session-late_0.5.json' with { type: 'json' }
import renoPerAckSession from './fixtures/session-reno_perack.json' with { type: 'json' }
import renoSession from './fixtures/session-reno.json' with { type: 'json' }

interface Recorded {
  dir: string
  tUs: number
  type?: number
  hex?: string
}

/** Program name (as the algorithms declare it) by INSTALL bytes from offset 12 on. */
const programByBody = new Map(vectors.programs.map((p) => [p.installHex.slice(24), p.name.replace(/^(gca|bbr)_/, '')]))

const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')
const fromHex = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'))

interface Step {
  /** A datapath → agent message. */
  readonly message: Recorded & { hex: string }
  /** What portus sent back before the datapath's next message. */
  readonly answers: (Recorded & { hex: string })[]
}

function steps(messages: readonly Recorded[]): Step[] {
  const wire = messages.filter((m): m is Recorded & { hex: string } => m.hex !== undefined)
  // Datapath messages sent before the agent was listening (session-late_0.5) reached nobody: start at
  // the one portus first answered.
  const firstAnswer = wire.findIndex((m) => m.dir === 'agent->dp')
  const out: Step[] = []
  for (const [index, m] of wire.entries()) {
    if (m.dir === 'dp->agent') {
      if (index < firstAnswer - 1) continue
      out.push({ message: m, answers: [] })
    } else {
      out.at(-1)!.answers.push(m)
    }
  }
  return out
}

interface ReplayResult {
  agent: Agent
  installs: number
  compared: number
  updates: number
  /** Answers the recording lacks because the datapath closed the flow before they arrived. */
  overtakenByClose: number
}

function replay(session: { messages: readonly Recorded[] }, algorithms: CongestionAlgorithm<any>[]): ReplayResult {
  let clock = 0
  const hub = new InProcessHub({ synchronous: true })
  const agent = new Agent({ transport: hub.agent(), algorithms, now: () => clock })
  agent.start()
  const datapath = hub.datapath('recorded')
  const received: Uint8Array[] = []
  datapath.onMessage((bytes) => received.push(bytes))

  const recordedUidToName = new Map<number, string>()
  const ourUidOf = (name: string): number => agent.programs.indexOf(name) + 1
  const result: ReplayResult = { agent, installs: 0, compared: 0, updates: 0, overtakenByClose: 0 }
  const all = steps(session.messages)
  for (const [index, step] of all.entries()) {
    clock = step.message.tUs
    let bytes = fromHex(step.message.hex)
    const sent = decodeMessage(bytes)
    if (sent.type === MessageType.Measure && sent.fields.length > 0) {
      const name = recordedUidToName.get(sent.programUid)
      expect(name, `MEASURE at ${step.message.tUs} µs names an installed program`).toBeDefined()
      bytes = encodeMessage({ ...sent, programUid: ourUidOf(name!) })
    }
    received.length = 0
    expect(datapath.send(bytes)).toBe(0)
    const ours = received.map((b) => decodeMessage(b))

    // INSTALLs: the same programs (bytes from offset 12 on), ours numbered 1, 2, … in our order.
    const recordedInstalls = step.answers.filter((a) => a.type === MessageType.InstallExpr)
    const ourInstalls = received.filter((b) => decodeMessage(b).type === MessageType.InstallExpr)
    for (const recorded of recordedInstalls) {
      const name = programByBody.get(recorded.hex.slice(24))!
      recordedUidToName.set((decodeMessage(fromHex(recorded.hex)) as { programUid: number }).programUid, name)
    }
    expect(new Set(ourInstalls.map((b) => programByBody.get(toHex(b).slice(24))))).toEqual(new Set(recordedInstalls.map((r) => programByBody.get(r.hex.slice(24)))))
    ourInstalls.forEach((b, i) => {
      expect(decodeMessage(b)).toMatchObject({ sid: 0, programUid: i + 1 })
      expect(programByBody.get(toHex(b).slice(24))).toBe(agent.programs[i])
    })
    result.installs += ourInstalls.length

    // Everything else, in order: UPDATE_FIELDS byte for byte, CHANGE_PROG with its uid translated.
    const recordedRest = step.answers.filter((a) => a.type !== MessageType.InstallExpr)
    const ourRest = ours.filter((m) => m.type !== MessageType.InstallExpr)
    const next = all[index + 1]?.message
    if (recordedRest.length === 0 && ourRest.length > 0 && next !== undefined && decodeMessage(fromHex(next.hex)).type === MessageType.Measure && (decodeMessage(fromHex(next.hex)) as { fields: number[] }).fields.length === 0) {
      // portus's answer was still on its way when the datapath closed the flow: the recording stops.
      result.overtakenByClose++
      continue
    }
    expect(ourRest.length, `answers to the message at ${step.message.tUs} µs`).toBe(recordedRest.length)
    recordedRest.forEach((recorded, i) => {
      const theirs = decodeMessage(fromHex(recorded.hex))
      const mine = ourRest[i]!
      if (theirs.type === MessageType.ChangeProg) {
        const translated: CcpMessage = { ...theirs, programUid: ourUidOf(recordedUidToName.get(theirs.programUid)!) }
        expect(mine).toEqual(translated)
      } else {
        expect(toHex(encodeMessage(mine))).toBe(recorded.hex)
        result.updates++
      }
      result.compared++
    })
  }
  return result
}

const count = (session: { messages: readonly Recorded[] }, dir: string, type: number): number =>
  session.messages.filter((m) => m.dir === dir && m.type === type).length

describe('replay of portus 0.8 sessions', () => {
  it('reno: the four INSTALLs, CHANGE_PROG to the RTT program, every window (slow start, the loss, congestion avoidance)', () => {
    const { agent, installs, compared, updates, overtakenByClose } = replay(renoSession, [new Reno()])
    expect(installs).toBe(4)
    expect(updates).toBe(count(renoSession, 'agent->dp', MessageType.UpdateFields))
    expect(updates).toBe(270)
    expect(compared).toBe(updates + 1)
    expect(overtakenByClose).toBe(0)
    expect(agent.stats).toMatchObject({ reports: 270, flows: 0, flowsCreated: 1, errors: 0, staleReports: 0 })
  })

  it('cubic: every window, including the 0.7 reduction and the cubic growth after it', () => {
    const { agent, updates, overtakenByClose } = replay(cubicSession, [new Cubic()])
    expect(updates).toBe(count(cubicSession, 'agent->dp', MessageType.UpdateFields))
    expect(updates).toBe(265)
    expect(overtakenByClose).toBe(0)
    expect(agent.stats).toMatchObject({ reports: 265, errors: 0 })
  })

  it('reno with per-ACK reports: CHANGE_PROG to AckUpdateProg and every window', () => {
    const { agent, updates, overtakenByClose } = replay(renoPerAckSession, [new Reno({ report: 'ack' })])
    expect(updates).toBe(count(renoPerAckSession, 'agent->dp', MessageType.UpdateFields))
    expect(updates).toBe(711)
    // The last report's answer was overtaken by the flow's close in the recording.
    expect(overtakenByClose).toBe(1)
    expect(agent.stats.errors).toBe(0)
  })

  it('an agent started after the datapath: CREATE without READY gets the INSTALLs first', () => {
    const { agent, installs, updates } = replay(late05Session, [new Reno()])
    expect(installs).toBe(4)
    expect(updates).toBe(count(late05Session, 'agent->dp', MessageType.UpdateFields))
    expect(agent.stats.errors).toBe(0)
  })

  it('bbr: init program with Cwnd, probe_bw with its four values, each rate update (saturated at 2^32 − 1)', () => {
    const { agent, installs, compared, updates } = replay(bbrSession, [new Bbr()])
    expect(installs).toBe(3)
    const recorded = count(bbrSession, 'agent->dp', MessageType.UpdateFields) + count(bbrSession, 'agent->dp', MessageType.ChangeProg)
    expect(compared).toBe(recorded)
    expect(updates).toBe(count(bbrSession, 'agent->dp', MessageType.UpdateFields))
    expect(compared - updates).toBe(2) // CHANGE_PROG to init_program, then to probe_bw
    expect(agent.stats).toMatchObject({ errors: 0, staleReports: 0, reports: count(bbrSession, 'dp->agent', MessageType.Measure) - 1 })
  })
})
