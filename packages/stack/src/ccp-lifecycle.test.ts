// CCP in the stack across an agent's life (issue 17): what the agent may set is bounded by the stack's
// limits; while it is gone the native controller governs window *and* pacing; a new agent's CREATE carries
// the flow's window now; onControlChange tells when the flow passed between the two.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { InProcessHub } from '@mtcp/ccp-ipc'
import { type CcpMessage, type CreateMessage, decodeMessage, encodeMessage, Implicit, type InstallExprMessage, MessageType, RegType, type UpdateField } from '@mtcp/libccp'
import { describe, expect, it } from 'vitest'
import type { CcpControlEvent } from './ccp.js'
import { StackError } from './errors.js'
import { bulkTransfer, stackPair } from './testing.js'

const MB = 1_000_000
const fixtures = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'ccp-gca-programs.json'), 'utf8')) as {
  programs: Record<string, { installHex: string }>
}
const link = { rate: 100e6, delay: 5000, queuePackets: 1000 }

function ackUpdateProgram(): Uint8Array {
  const install = decodeMessage(Buffer.from(fixtures.programs.gca_AckUpdateProg!.installHex, 'hex')) as InstallExprMessage
  return encodeMessage({ ...install, sid: 0, programUid: 1 })
}

/** A stub agent on `hub`: per-ACK program, answers each report with `cwnd` and, when given, `rate`. */
function stubAgent(hub: InProcessHub, answer: { cwnd: number; rate?: number }) {
  const agent = hub.agent('portus')
  const received: CcpMessage[] = []
  agent.onMessage((bytes, from) => {
    const message = decodeMessage(bytes)
    received.push(message)
    if (message.type === MessageType.Ready) agent.sendTo(from, ackUpdateProgram())
    else if (message.type === MessageType.Create) agent.sendTo(from, encodeMessage({ type: MessageType.ChangeProg, sid: message.sid, programUid: 1, updates: [] }))
    else if (message.type === MessageType.Measure && message.fields.length > 0) {
      const updates: UpdateField[] = [{ regType: RegType.Implicit, regIndex: Implicit.Cwnd, value: answer.cwnd }]
      if (answer.rate !== undefined) updates.push({ regType: RegType.Implicit, regIndex: Implicit.Rate, value: answer.rate })
      agent.sendTo(from, encodeMessage({ type: MessageType.UpdateFields, sid: message.sid, updates }))
    }
  })
  return { agent, received, creates: () => received.filter((m): m is CreateMessage => m.type === MessageType.Create) }
}

describe('CCP limits (issue 17, 3)', () => {
  it('clamps the window and the rate an agent sets to the stack\'s limits', () => {
    const hub = new InProcessHub({ synchronous: true })
    stubAgent(hub, { cwnd: 100 * 1448, rate: 1 })
    const pair = stackPair({
      impairments: link,
      stackA: { congestionControl: 'ccp:reno', ccp: { transport: hub.datapath('mtcp-a'), limits: { maxCwnd: 10 * 1448, minRate: 2_000_000 } } },
    })
    const result = bulkTransfer(pair, 1 * MB)
    expect(result.receivedHash).toBe(result.sentHash)
    expect(result.clientInfo.cwnd).toBe(10 * 1448)
    expect(result.clientInfo.pacingRate).toBe(2_000_000)
  })

  it('by default an agent asking for 1 B/s cannot stall a flow (the floor is 100 kbit/s)', () => {
    const hub = new InProcessHub({ synchronous: true })
    stubAgent(hub, { cwnd: 10 * 1448, rate: 1 })
    const pair = stackPair({ impairments: link, stackA: { congestionControl: 'ccp:reno', ccp: { transport: hub.datapath('mtcp-a') } } })
    const result = bulkTransfer(pair, 100_000)
    expect(result.receivedHash).toBe(result.sentHash)
    expect(result.clientInfo.pacingRate).toBe(12_500)
  })

  it('rejects bad limits with ERR_INVALID_CONFIG naming the field', () => {
    const hub = new InProcessHub({ synchronous: true })
    expect(() => stackPair({ stackA: { ccp: { transport: hub.datapath('a'), limits: { maxCwnd: -1 } } } })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_CONFIG', message: expect.stringContaining('ccp.limits.maxCwnd') }),
    )
    expect(() => stackPair({ stackA: { ccp: { transport: hub.datapath('b'), limits: { minRate: 10, maxRate: 5 } } } })).toThrow(StackError)
  })
})

describe('an agent restart (issue 17, 4)', () => {
  it('native pacing while the agent is gone; the new agent\'s CREATE carries the window now; events tell the changes', () => {
    const hub = new InProcessHub({ synchronous: true })
    const rate = 3_000_000
    let stub = stubAgent(hub, { cwnd: 40 * 1448, rate })
    const first = stub
    const events: CcpControlEvent[] = []
    const pair = stackPair({
      impairments: link,
      seed: 3,
      stackA: {
        congestionControl: 'ccp:reno',
        ccp: {
          transport: hub.datapath('mtcp-a'),
          onControlChange: (event) => {
            events.push(event)
            throw new Error('a user callback that throws') // the stack must not care
          },
        },
      },
    })
    const { clock } = pair
    const congestion = () => pair.a.connectionOf(65536)?.congestion as { inControl: boolean; window: number; pacingRate: number | undefined } | undefined
    const seen: Record<string, { inControl: boolean; window: number; pacingRate: number | undefined }> = {}
    const look = (at: string) => {
      const c = congestion()!
      seen[at] = { inControl: c.inControl, window: c.window, pacingRate: c.pacingRate }
    }
    clock.createTimer(() => {
      look('before kill')
      stub.agent.close()
    }).arm(1_000_000)
    clock.createTimer(() => {
      look('while dead')
      stub = stubAgent(hub, { cwnd: 30 * 1448 }) // sets no rate
    }).arm(2_000_000)
    clock.createTimer(() => look('after restart')).arm(3_000_000)
    const result = bulkTransfer(pair, 60 * MB)
    expect(result.receivedHash).toBe(result.sentHash)
    expect(result.elapsed).toBeGreaterThan(3_000_000)
    expect(seen['before kill']).toEqual({ inControl: true, window: 40 * 1448, pacingRate: rate })
    expect(seen['while dead']!.inControl).toBe(false)
    expect(seen['while dead']!.pacingRate).not.toBe(rate) // the dead agent's rate is not in force
    expect(seen['after restart']).toMatchObject({ inControl: true, window: 30 * 1448 })
    expect(seen['after restart']!.pacingRate).not.toBe(rate)
    // One CREATE per agent; the second with the window the flow had when the new agent came.
    expect(first.creates()).toHaveLength(1)
    expect(stub.creates()).toHaveLength(1)
    expect(first.creates()[0]!.initCwnd).toBe(10 * 1448)
    expect(stub.creates()[0]!.initCwnd).toBeGreaterThan(10 * 1448)
    expect(stub.creates()[0]!.initCwnd).not.toBe(40 * 1448) // not the dead agent's window: the native controller's since
    expect(events.map((event) => event.inControl)).toEqual([true, false, true])
    expect(events[1]!.at).toBeGreaterThanOrEqual(1_000_000)
    expect(events[1]!.at).toBeLessThan(2_000_000)
    expect(events[2]!.at).toBeGreaterThanOrEqual(2_000_000)
    expect(events[0]!.flow.remotePort).toBe(5001)
  }, 60_000) // 60 MB on the virtual clock: several seconds of wall time on a busy machine
})
