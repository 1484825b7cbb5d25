// The recorded libccp ↔ portus 0.8.0 sessions replayed through our datapath: the agent's messages at their
// recorded times on a fake clock, ACKs as the vectors' README describes. The datapath must make the same
// callbacks and send MEASUREs of the same shape (program uid, number of fields, field order).
import { describe, expect, it } from 'vitest'
import {
  ACK_INTERVAL_US,
  fromHex,
  loadSession,
  recordedCallbacks,
  recordedMeasures,
  replaySession,
  type ReplayResult,
} from './test-support/session-replay.js'
import { decodeMessage, type MeasureMessage, MessageType, type UpdateFieldsMessage } from './wire.js'

const SESSIONS = ['reno', 'cubic', 'bbr', 'reno_perack', 'late_0.5'] as const
const GENERIC_CONG_AVOID = ['reno', 'cubic', 'reno_perack', 'late_0.5'] as const

function ourMeasures(result: ReplayResult): Array<{ tUs: number; message: MeasureMessage }> {
  return result.sent
    .filter((sent) => sent.delivered && sent.message.type === MessageType.Measure)
    .map((sent) => ({ tUs: sent.tUs, message: sent.message as MeasureMessage }))
}

/** The sequence of MEASURE shapes (program uid / number of fields), consecutive repeats collapsed. */
function shapes(measures: Array<{ message: MeasureMessage }>): string[] {
  const out: string[] = []
  for (const { message } of measures) {
    const shape = `${message.programUid}/${message.fields.length}`
    if (out[out.length - 1] !== shape) out.push(shape)
  }
  return out
}

/** Per shape and field index: the values the field took. */
function fieldValues(measures: Array<{ message: MeasureMessage }>): Map<string, Array<Set<number>>> {
  const byShape = new Map<string, Array<Set<number>>>()
  for (const { message } of measures) {
    const shape = `${message.programUid}/${message.fields.length}`
    let sets = byShape.get(shape)
    if (sets === undefined) {
      sets = message.fields.map(() => new Set<number>())
      byShape.set(shape, sets)
    }
    message.fields.forEach((value, i) => sets[i]!.add(value))
  }
  return byShape
}

describe.each([true, false])('replaying the recorded sessions (compiled: %s)', (compile) => {
  it.each(SESSIONS)('%s: the same set_cwnd / set_rate callbacks, in order', (name) => {
    const session = loadSession(name)
    const expected = recordedCallbacks(session).map(({ call, value }) => ({ call, value }))
    expect(expected.length).toBeGreaterThan(10)
    const ours = replaySession(session, { compile }).callbacks.map(({ call, value }) => ({ call, value }))
    expect(ours).toEqual(expected)
  })

  it.each(GENERIC_CONG_AVOID)('%s: each new cwnd is applied at the first ACK after the UPDATE_FIELDS that carried it', (name) => {
    const session = loadSession(name)
    const updates: Array<{ tUs: number; value: number }> = []
    let last = -1
    for (const entry of session.messages) {
      if (entry.dir !== 'agent->dp' || entry.type !== MessageType.UpdateFields) continue
      const cwnd = (decodeMessage(fromHex(entry.hex!)) as UpdateFieldsMessage).updates.find((update) => update.regType === 2 && update.regIndex === 4)
      if (cwnd !== undefined && cwnd.value !== last) {
        updates.push({ tUs: entry.tUs, value: cwnd.value })
        last = cwnd.value
      }
    }
    const ours = replaySession(session, { compile }).callbacks
    expect(ours.length).toBe(updates.length)
    ours.forEach((callback, i) => {
      expect(callback.value).toBe(updates[i]!.value)
      expect(callback.tUs).toBeGreaterThanOrEqual(updates[i]!.tUs)
      expect(callback.tUs).toBeLessThanOrEqual(updates[i]!.tUs + ACK_INTERVAL_US)
    })
  })

  it.each(SESSIONS)('%s: MEASUREs of the same program uids and field counts, in the same order', (name) => {
    const session = loadSession(name)
    const recorded = recordedMeasures(session)
    const ours = ourMeasures(replaySession(session, { compile }))
    expect(shapes(ours)).toEqual(shapes(recorded))
    // The flow's last word is the close report: program uid 0, no fields.
    expect(ours[ours.length - 1]!.message).toEqual({ type: MessageType.Measure, sid: 1, programUid: 0, fields: [] })
  })

  it.each(SESSIONS)('%s: fields in the same order (constant fields equal, the one loss in the same field)', (name) => {
    const session = loadSession(name)
    const recorded = fieldValues(recordedMeasures(session))
    const ours = fieldValues(ourMeasures(replaySession(session, { compile })))
    expect([...ours.keys()].sort()).toEqual([...recorded.keys()].sort())
    let lossFields = 0
    for (const [shape, sets] of recorded) {
      const ourSets = ours.get(shape)!
      sets.forEach((values, i) => {
        // A field that never changed in the recording (the RTT, sacked, timeout, BBR's minrtt) has the same value in ours.
        if (values.size === 1) expect([...ourSets[i]!], `${shape} field ${i}`).toEqual([...values])
        // The single loss of the run shows as 0 and 1 in the same field.
        if (values.size === 2 && values.has(0) && values.has(1)) {
          expect([...ourSets[i]!].sort(), `${shape} field ${i}`).toEqual([0, 1])
          lossFields++
        }
      })
    }
    expect(lossFields).toBeGreaterThan(0)
  })
})

describe('interpreted and compiled programs', () => {
  it.each(SESSIONS)('%s: send byte-identical messages at identical times', (name) => {
    const session = loadSession(name)
    const compiled = replaySession(session, { compile: true })
    const interpreted = replaySession(session, { compile: false })
    expect([...compiled.datapath.programs.values()].every((program) => program.compiled)).toBe(true)
    expect([...interpreted.datapath.programs.values()].some((program) => program.compiled)).toBe(false)
    expect(compiled.sent).toEqual(interpreted.sent)
    expect(compiled.callbacks).toEqual(interpreted.callbacks)
  })
})

describe('late agent (better than libccp)', () => {
  it('late_0.5: falls back while the agent is absent, then hands over to it', () => {
    const result = replaySession(loadSession('late_0.5'))
    const failedBefore = result.sent.filter((sent) => !sent.delivered)
    expect(failedBefore.length).toBeGreaterThan(0)
    expect(failedBefore.every((sent) => sent.tUs < 602_166)).toBe(true)
    // READY was retried about every 100 ms while refused.
    const readies = failedBefore.filter((sent) => sent.message.type === MessageType.Ready).map((sent) => sent.tUs)
    expect(readies.length).toBeGreaterThanOrEqual(5)
    expect(result.datapath.stats.createsSent).toBe(1)
  })

  it('late_1.6: keeps retrying READY past libccp\'s give-up and reaches the agent once it is up', () => {
    // libccp stopped retrying CREATE after 1.1 s and never recovered; ours keeps going.
    const session = loadSession('late_1.6')
    const recordedLast = Math.max(...session.messages.filter((entry) => entry.type === MessageType.Create).map((entry) => entry.tUs))
    const result = replaySession(session, { agentUpAtUs: 1_600_000 })
    const readies = result.sent.filter((sent) => sent.message.type === MessageType.Ready)
    expect(readies.some((sent) => !sent.delivered && sent.tUs > recordedLast)).toBe(true)
    const delivered = readies.find((sent) => sent.delivered)!
    expect(delivered.tUs).toBeGreaterThanOrEqual(1_600_000)
    expect(delivered.tUs).toBeLessThan(1_600_000 + result.datapath.retryIntervalUs + ACK_INTERVAL_US)
    // Once READY got through, the flow's CREATE follows at its next invoke.
    const create = result.sent.find((sent) => sent.delivered && sent.message.type === MessageType.Create)!
    expect(create.tUs - delivered.tUs).toBeLessThanOrEqual(ACK_INTERVAL_US)
  })
})
