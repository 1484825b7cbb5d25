// generic-cong-avoid's window freeze (issue 17, 5): in portus, a report with SACKed packets but no loss adds
// to the reduction owed (cwndDeficit); in slow start every acked byte goes to the window before the
// deficit is paid, so it is never paid and no window is ever sent again. Reproduced through the agent's
// protocol: READY, CREATE, then the MEASUREs a datapath running DatapathIntervalRTTProg would send.
import { InProcessHub } from '@mtcp/ccp-ipc'
import { type CcpMessage, decodeMessage, encodeMessage, Implicit, MessageType, type UpdateFieldsMessage } from '@mtcp/libccp'
import { describe, expect, it } from 'vitest'
import { Agent } from '../agent.js'
import { Cubic } from './cubic.js'
import { Reno } from './reno.js'

const MSS = 1448

function session(algorithm: Reno | Cubic) {
  const hub = new InProcessHub({ synchronous: true })
  let clock = 0
  const agent = new Agent({ transport: hub.agent(), algorithms: [algorithm], now: () => clock })
  agent.start()
  const datapath = hub.datapath('dp')
  const received: CcpMessage[] = []
  datapath.onMessage((bytes) => received.push(decodeMessage(bytes)))
  datapath.send(encodeMessage({ type: MessageType.Ready, sid: 0, id: 0 }))
  datapath.send(encodeMessage({ type: MessageType.Create, sid: 1, initCwnd: 10 * MSS, mss: MSS, srcIp: 0, srcPort: 0, dstIp: 0, dstPort: 0, congAlg: algorithm.name }))
  const change = received.find((message) => message.type === MessageType.ChangeProg)!
  const programUid = change.type === MessageType.ChangeProg ? change.programUid : 0
  return {
    /** One report; returns the window the agent answered with, or undefined when it sent none. */
    report(fields: { acked: number; sacked?: number; loss?: number }): number | undefined {
      clock += 10_000
      received.length = 0
      // MEASURE order: the Report DEFs' (acked, sacked, loss, timeout, rtt, inflight).
      const values = [fields.acked, fields.sacked ?? 0, fields.loss ?? 0, 0, 10_000, 10]
      datapath.send(encodeMessage({ type: MessageType.Measure, sid: 1, programUid, fields: values }))
      const update = received.find((message): message is UpdateFieldsMessage => message.type === MessageType.UpdateFields)
      return update?.updates.find((field) => field.regIndex === Implicit.Cwnd)?.value
    },
    agent,
  }
}

describe('generic-cong-avoid: SACKs without loss in slow start do not freeze the window (issue 17, 5)', () => {
  for (const make of [() => new Reno(), () => new Cubic()]) {
    it(`${make().name}: the window keeps growing after a report with SACKed packets and no loss`, () => {
      const { report, agent } = session(make())
      expect(report({ acked: 10 * MSS })).toBe(20 * MSS) // slow start
      // Two packets SACKed (reordering), nothing lost: no reduction, but a deficit of 2 packets owed.
      report({ acked: 10 * MSS, sacked: 2 })
      // Clean reports: in slow start the acked bytes must still pay the deficit down, and the window is sent again.
      const after = [report({ acked: 20 * MSS }), report({ acked: 40 * MSS }), report({ acked: 80 * MSS })]
      expect(after.every((cwnd) => cwnd !== undefined)).toBe(true)
      expect(after[2]!).toBeGreaterThan(after[0]!)
      expect(agent.stats.errors).toBe(0)
    })
  }

  it('a loss still reduces once per episode and the deficit still holds the window while SACKs arrive', () => {
    const { report } = session(new Reno())
    report({ acked: 10 * MSS })
    const reduced = report({ acked: 10 * MSS, loss: 1, sacked: 3 })
    expect(reduced).toBeDefined()
    expect(reduced!).toBeLessThan(30 * MSS)
    expect(report({ acked: 0, sacked: 2 })).toBeUndefined() // still in the episode: no new window
  })
})
