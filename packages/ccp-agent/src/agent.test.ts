import { InProcessHub, SendResult, type AgentTransport } from '@mtcp/ccp-ipc'
import { decodeMessage, encodeMessage, Implicit, MessageType, RegType, type CcpMessage } from '@mtcp/libccp'
import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { Agent, type AgentOptions } from './agent.js'
import { Bbr } from './algorithms/bbr.js'
import { Cubic } from './algorithms/cubic.js'
import { GENERIC_CONG_AVOID_PROGRAMS } from './algorithms/generic-cong-avoid.js'
import { Reno } from './algorithms/reno.js'
import { AgentError, ProgramError } from './errors.js'
import type { CongestionAlgorithm, Flow, Report } from './flow.js'

/** A datapath on a synchronous in-process hub: each send returns with the agent's answers collected. */
class TestDatapath {
  readonly answers: CcpMessage[] = []
  readonly transport
  constructor(hub: InProcessHub, name: string) {
    this.transport = hub.datapath(name)
    this.transport.onMessage((bytes) => this.answers.push(decodeMessage(bytes)))
  }
  /** Send a message; returns what the agent answered to it. */
  send(message: CcpMessage): CcpMessage[] {
    return this.raw(encodeMessage(message))
  }
  raw(bytes: Uint8Array): CcpMessage[] {
    this.answers.length = 0
    expect(this.transport.send(bytes)).toBe(0)
    return [...this.answers]
  }
  ready(): CcpMessage[] {
    return this.send({ type: MessageType.Ready, sid: 0, id: 7 })
  }
  create(sid: number, congAlg = 'reno', initCwnd = 14480): CcpMessage[] {
    return this.send({ type: MessageType.Create, sid, initCwnd, mss: 1448, srcIp: 1, srcPort: 2, dstIp: 3, dstPort: 4, congAlg })
  }
  measure(sid: number, programUid: number, fields: number[]): CcpMessage[] {
    return this.send({ type: MessageType.Measure, sid, programUid, fields })
  }
}

interface Setup {
  hub: InProcessHub
  agent: Agent
  log: { level: string; message: string; detail?: Record<string, unknown> }[]
  clock: { now: number }
}

function setup(options: Partial<AgentOptions> = {}): Setup {
  const hub = new InProcessHub({ synchronous: true })
  const log: Setup['log'] = []
  const clock = { now: 0 }
  const agent = new Agent({ transport: hub.agent(), log: (level, message, detail) => log.push({ level, message, detail }), now: () => clock.now, ...options })
  agent.start()
  return { hub, agent, log, clock }
}

const uidOf = (agent: Agent, name: string): number => agent.programs.indexOf(name) + 1
const cwndUpdate = (sid: number, value: number): CcpMessage => ({ type: MessageType.UpdateFields, sid, updates: [{ regType: RegType.Implicit, regIndex: Implicit.Cwnd, value }] })
/** A generic-cong-avoid report: acked, sacked, loss, timeout, rtt, inflight. */
const gca = (acked: number, { loss = 0, timeout = 0, inflight = 10 } = {}): number[] => [acked, 0, loss, timeout, 10_000, inflight]

describe('Agent: the handshake', () => {
  it('installs the default algorithms’ programs once each (Reno and Cubic share theirs), uids from 1', () => {
    const { hub, agent } = setup()
    expect(agent.algorithms).toEqual(['reno', 'cubic', 'bbr'])
    expect(agent.defaultAlgorithm).toBe('reno')
    expect(agent.programs).toEqual([...Object.keys(GENERIC_CONG_AVOID_PROGRAMS), 'init_program', 'probe_rtt', 'probe_bw'])
    const answers = new TestDatapath(hub, 'dp').ready()
    expect(answers.map((m) => [m.type, m.sid, (m as { programUid: number }).programUid])).toEqual(agent.programs.map((_, i) => [MessageType.InstallExpr, 0, i + 1]))
    expect(agent.stats).toMatchObject({ datapaths: 1, flows: 0 })
  })

  it('gives each CREATE the algorithm it names, or the default', () => {
    const { hub, agent } = setup()
    const dp = new TestDatapath(hub, 'dp')
    dp.ready()
    expect(dp.create(1, 'bbr')).toEqual([{ type: MessageType.ChangeProg, sid: 1, programUid: uidOf(agent, 'init_program'), updates: [{ regType: RegType.Implicit, regIndex: Implicit.Cwnd, value: 14480 }] }])
    expect(dp.create(2, 'cubic')).toEqual([{ type: MessageType.ChangeProg, sid: 2, programUid: uidOf(agent, 'DatapathIntervalRTTProg'), updates: [] }])
    expect(dp.create(3, 'vegas')).toEqual(dp.create(4, 'reno').map((m) => ({ ...m, sid: 3 })))
    expect(agent.stats).toMatchObject({ flows: 4, flowsCreated: 4 })
  })

  it('keeps the flows of several datapaths apart, even with the same sid', () => {
    const { hub, agent } = setup({ algorithms: [new Reno()] })
    const a = new TestDatapath(hub, 'a')
    const b = new TestDatapath(hub, 'b')
    a.ready()
    b.ready()
    a.create(1)
    b.create(1, 'reno', 28960)
    const uid = uidOf(agent, 'DatapathIntervalRTTProg')
    expect(a.measure(1, uid, gca(1448))).toEqual([cwndUpdate(1, 14480 + 1448)])
    expect(b.measure(1, uid, gca(1448))).toEqual([cwndUpdate(1, 28960 + 1448)])
    expect(a.measure(1, uid, gca(1448))).toEqual([cwndUpdate(1, 14480 + 2 * 1448)])
    expect(agent.stats).toMatchObject({ datapaths: 2, flows: 2, reports: 3 })
  })

  it('ends a flow on a MEASURE without fields; its reports are then unknown', () => {
    const closed: number[] = []
    class Tracking extends Reno {
      onClose(flow: Flow<never>): void {
        closed.push(flow.sid)
      }
    }
    const { hub, agent } = setup({ algorithms: [new Tracking()] })
    const dp = new TestDatapath(hub, 'dp')
    dp.ready()
    dp.create(5)
    expect(dp.measure(5, 0, [])).toEqual([])
    expect(closed).toEqual([5])
    expect(agent.stats).toMatchObject({ flows: 0, unknownFlows: 0 })
    expect(dp.measure(5, 1, gca(1448))).toEqual([])
    expect(agent.stats).toMatchObject({ unknownFlows: 1, errors: 1 })
  })

  it('treats a second READY as a restarted datapath: its flows end and the programs go again', () => {
    const { hub, agent } = setup({ algorithms: [new Reno()] })
    const dp = new TestDatapath(hub, 'dp')
    dp.ready()
    dp.create(1)
    dp.create(2)
    expect(dp.ready()).toHaveLength(4)
    expect(agent.stats).toMatchObject({ flows: 0, datapaths: 1 })
    expect(dp.measure(1, 1, gca(1448))).toEqual([])
    expect(agent.stats.unknownFlows).toBe(1)
  })

  it('starts a flow over on a repeated CREATE (libccp repeats it until it hears back)', () => {
    const { hub, agent } = setup({ algorithms: [new Reno()] })
    const dp = new TestDatapath(hub, 'dp')
    dp.ready()
    dp.create(1)
    const uid = uidOf(agent, 'DatapathIntervalRTTProg')
    dp.measure(1, uid, gca(10_000))
    dp.create(1)
    expect(dp.measure(1, uid, gca(1448))).toEqual([cwndUpdate(1, 14480 + 1448)])
    expect(agent.stats).toMatchObject({ flows: 1, flowsCreated: 2 })
  })
})

describe('Agent: what it survives', () => {
  it('drops reports of a program the flow has left, as stale', () => {
    const { hub, agent, log } = setup({ algorithms: [new Bbr()] })
    const dp = new TestDatapath(hub, 'dp')
    dp.ready()
    dp.create(1)
    const init = uidOf(agent, 'init_program')
    // loss, minrtt, rate, pulseState: moves the flow to probe_bw
    expect(dp.measure(1, init, [0, 10_000, 1_448_000, 5]).map((m) => m.type)).toEqual([MessageType.UpdateFields, MessageType.ChangeProg])
    expect(dp.measure(1, init, [0, 10_000, 9_000_000, 5])).toEqual([])
    expect(agent.stats).toMatchObject({ staleReports: 1, errors: 0, reports: 1 })
    expect(log.some((entry) => entry.message.includes('stale'))).toBe(true)
  })

  it('counts and drops garbage, wrong-direction messages and reports of the wrong size', () => {
    const { hub, agent } = setup({ algorithms: [new Reno()] })
    const dp = new TestDatapath(hub, 'dp')
    dp.ready()
    dp.create(1)
    // A well-framed INSTALL_EXPR header with a count that does not add up: passes the transport, not the codec.
    const bad = new Uint8Array(24)
    bad.set([2, 0, 24, 0])
    bad[12] = 1
    expect(dp.raw(bad)).toEqual([])
    expect(dp.send({ type: MessageType.UpdateFields, sid: 1, updates: [] })).toEqual([])
    expect(dp.measure(1, uidOf(agent, 'DatapathIntervalRTTProg'), [1, 2, 3])).toEqual([])
    expect(agent.stats).toMatchObject({ malformed: 2, badReports: 1, errors: 3, reports: 0 })
    // and the flow goes on
    expect(dp.measure(1, uidOf(agent, 'DatapathIntervalRTTProg'), gca(1448))).toEqual([cwndUpdate(1, 15928)])
  })

  it('never throws on arbitrary datagrams, and keeps answering', () => {
    const { hub, agent } = setup({ algorithms: [new Reno()] })
    expect(agent.address).toBe('portus')
    const dp = new TestDatapath(hub, 'dp')
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 200 }), fc.integer({ min: 0, max: 5 }), (bytes, type) => {
        // A valid header around random bodies reaches the agent (the transport checks only the header).
        bytes[0] = type
        bytes[1] = 0
        bytes[2] = bytes.length & 0xff
        bytes[3] = bytes.length >> 8
        dp.transport.send(bytes)
      }),
    )
    expect(agent.stats.errors).toBeGreaterThan(0)
    dp.ready()
    dp.create(9)
    expect(dp.measure(9, uidOf(agent, 'DatapathIntervalRTTProg'), gca(1448))).toEqual([cwndUpdate(9, 15928)])
  })

  it('survives an algorithm that throws, and still sends what it set before', () => {
    let calls = 0
    const flaky: CongestionAlgorithm<number> = {
      name: 'flaky',
      programs: { main: '(def (Report (volatile acked 0))) (when true (:= Report.acked Ack.bytes_acked) (report))' },
      onCreate: (flow) => flow.changeProgram('main'),
      onReport: (flow, report) => {
        calls++
        flow.setCwnd(report.acked! * 10)
        if (calls === 1) throw new Error('boom')
      },
    }
    const { hub, agent, log } = setup({ algorithms: [flaky] })
    const dp = new TestDatapath(hub, 'dp')
    dp.ready()
    dp.create(1, 'flaky')
    expect(dp.measure(1, 1, [100])).toEqual([cwndUpdate(1, 1000)])
    expect(dp.measure(1, 1, [200])).toEqual([cwndUpdate(1, 2000)])
    expect(agent.stats).toMatchObject({ algorithmErrors: 1, errors: 1, reports: 2 })
    expect(log.find((entry) => entry.level === 'warn')?.detail).toMatchObject({ error: 'boom' })
  })

  it('counts sends the transport refuses, and goes on', () => {
    const hub = new InProcessHub({ synchronous: true })
    const inner = hub.agent()
    let refusing = false
    const transport: AgentTransport = {
      address: inner.address,
      sendTo: (address, bytes) => (refusing ? SendResult.ENOENT : inner.sendTo(address, bytes)),
      onMessage: (handler) => inner.onMessage(handler),
      close: () => inner.close(),
      stats: inner.stats,
    }
    const log: string[] = []
    const agent = new Agent({ transport, algorithms: [new Reno()], log: (_level, message, detail) => log.push(`${message} ${String(detail?.result)}`) })
    agent.start()
    const dp = new TestDatapath(hub, 'dp')
    refusing = true
    expect(dp.ready()).toEqual([])
    expect(agent.stats).toMatchObject({ sendFailures: 4, errors: 4, messagesOut: 0 })
    expect(log).toContain('send to a datapath failed ENOENT')
    refusing = false
    expect(dp.ready()).toHaveLength(4)
    expect(agent.stats.messagesOut).toBe(4)
  })
})

describe('Agent: a datapath whose queue is full (issue 17, 2)', () => {
  it('holds what EAGAIN refused and sends it, in order and before anything newer, once there is room', () => {
    vi.useFakeTimers()
    try {
      const hub = new InProcessHub({ synchronous: true })
      const inner = hub.agent()
      let room = 2 // datagrams the datapath's queue takes before EAGAIN
      const transport: AgentTransport = {
        address: inner.address,
        sendTo: (address, bytes) => (room-- > 0 ? inner.sendTo(address, bytes) : SendResult.EAGAIN),
        onMessage: (handler) => inner.onMessage(handler),
        close: () => inner.close(),
        stats: inner.stats,
      }
      const agent = new Agent({ transport, algorithms: [new Reno()] })
      agent.start()
      const dp = new TestDatapath(hub, 'dp')
      const first = dp.ready() // four INSTALLs, two fit
      expect(first.map((message) => message.type === MessageType.InstallExpr && message.programUid)).toEqual([1, 2])
      dp.create(1) // its CHANGE_PROG waits behind INSTALLs 3 and 4
      expect(agent.stats).toMatchObject({ deferred: 3, sendFailures: 0, errors: 0 })
      room = 10
      dp.answers.length = 0
      vi.advanceTimersByTime(1)
      expect(dp.answers.map((message) => [message.type, message.type === MessageType.InstallExpr ? message.programUid : message.sid])).toEqual([
        [MessageType.InstallExpr, 3],
        [MessageType.InstallExpr, 4],
        [MessageType.ChangeProg, 1],
      ])
      expect(agent.stats.messagesOut).toBe(5)
      agent.close()
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('Agent: lifecycle and options', () => {
  it('close() ends every flow, closes the transport, and frees the address for the next agent', () => {
    const onClose: number[] = []
    class Tracking extends Reno {
      onClose(flow: Flow<never>): void {
        onClose.push(flow.sid)
      }
    }
    const { hub, agent } = setup({ algorithms: [new Tracking()] })
    const dp = new TestDatapath(hub, 'dp')
    dp.ready()
    dp.create(1)
    dp.create(2)
    agent.close()
    agent.close()
    expect(onClose).toEqual([1, 2])
    expect(agent.stats).toMatchObject({ flows: 0, datapaths: 0 })
    expect(dp.transport.send(encodeMessage({ type: MessageType.Ready, sid: 0, id: 1 }))).toBeLessThan(0)
    const next = new Agent({ transport: hub.agent(), algorithms: [new Reno()] })
    next.start()
    expect(dp.ready()).toHaveLength(4)
    expect(() => next.start()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }))
  })

  it('rejects bad options with a code naming them', () => {
    const transport = new InProcessHub().agent('x')
    const codeOf = (options: unknown): string | undefined => {
      try {
        new Agent(options as AgentOptions)
      } catch (error) {
        return (error as AgentError).code
      }
      return undefined
    }
    expect(codeOf({})).toBe('ERR_INVALID_CONFIG')
    expect(codeOf({ transport: {} as AgentTransport })).toBe('ERR_INVALID_CONFIG')
    expect(codeOf({ transport, algorithms: [] })).toBe('ERR_INVALID_CONFIG')
    expect(codeOf({ transport, algorithms: [new Reno(), new Reno()] })).toBe('ERR_DUPLICATE')
    expect(codeOf({ transport, algorithms: [new Reno(), new Reno({ name: 'reno-2' })] })).toBeUndefined()
    expect(codeOf({ transport, defaultAlgorithm: 'vegas' })).toBe('ERR_INVALID_CONFIG')
    expect(codeOf({ transport, algorithms: [{ name: 'x', programs: {} }] })).toBe('ERR_INVALID_CONFIG')
    expect(codeOf({ transport, now: 5 })).toBe('ERR_INVALID_CONFIG')
    expect(() => new Reno({ report: { intervalUs: 0 } })).toThrow(AgentError)
    expect(() => new Bbr({ probeRttIntervalUs: -1 })).toThrow(AgentError)
  })

  it('compiles programs at construction and names the failing one', () => {
    const transport = new InProcessHub().agent()
    const broken: CongestionAlgorithm = { name: 'broken', programs: { main: '(when true\n  (:= Cwnd nope))' }, onCreate() {}, onReport() {} }
    let error: unknown
    try {
      new Agent({ transport, algorithms: [broken] })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ProgramError)
    expect(error).toMatchObject({ code: 'ERR_PROGRAM_UNKNOWN_NAME', line: 2, column: 12 })
    expect((error as Error).message).toContain("program 'main' of algorithm 'broken'")
  })

  it('installs one program per distinct source: the same name with another source is another program', () => {
    const { agent } = setup({
      algorithms: [
        { name: 'a', programs: { main: '(when true (report))' }, onCreate() {}, onReport() {} },
        { name: 'b', programs: { main: '(when true (fallthrough))' }, onCreate() {}, onReport() {} },
        { name: 'c', programs: { main: '(when true (report))' }, onCreate() {}, onReport() {} },
      ],
    })
    expect(agent.programs).toEqual(['main', 'main'])
  })
})

describe('Flow: what an algorithm can send', () => {
  function flowOf(algorithm: CongestionAlgorithm<unknown>): { dp: TestDatapath; agent: Agent } {
    const { hub, agent } = setup({ algorithms: [algorithm] })
    const dp = new TestDatapath(hub, 'dp')
    dp.ready()
    return { dp, agent }
  }
  const PROGRAMS = {
    one: '(def (Report (volatile acked 0)) (target 0) (volatile pulse 0)) (when true (:= Report.acked Ack.bytes_acked) (report))',
    two: '(def (Report (volatile rtt 0) (volatile lost 0)) (limit 0)) (when true (:= Report.rtt Flow.rtt_sample_us) (report))',
  }

  it('gathers setCwnd and setRate into one UPDATE_FIELDS, Cwnd first, last value wins', () => {
    const { dp } = flowOf({
      name: 'x',
      programs: PROGRAMS,
      onCreate: (flow) => {
        flow.changeProgram('one')
        flow.setRate(5000)
        flow.setCwnd(1)
        flow.setCwnd(2)
      },
      onReport() {},
    })
    expect(dp.create(1, 'x')).toEqual([
      { type: MessageType.ChangeProg, sid: 1, programUid: 1, updates: [] },
      {
        type: MessageType.UpdateFields,
        sid: 1,
        updates: [
          { regType: RegType.Implicit, regIndex: Implicit.Cwnd, value: 2 },
          { regType: RegType.Implicit, regIndex: Implicit.Rate, value: 5000 },
        ],
      },
    ])
  })

  it('keeps the order: what was gathered goes before update() and changeProgram()', () => {
    const seen: (string | undefined)[] = []
    const { dp } = flowOf({
      name: 'x',
      programs: PROGRAMS,
      onCreate: (flow) => {
        flow.changeProgram('one', { target: 7, pulse: 1 })
        flow.setCwnd(100)
        flow.update({ target: 9, Rate: 3 })
        flow.setCwnd(200)
        flow.changeProgram('two', { limit: 4, Cwnd: 5 })
        seen.push(flow.program, String(flow.programUid))
      },
      onReport: (_flow, report: Report) => {
        seen.push(Object.keys(report).join(','))
      },
    })
    expect(dp.create(1, 'x')).toEqual([
      { type: MessageType.ChangeProg, sid: 1, programUid: 1, updates: [{ regType: RegType.NonVolatileControl, regIndex: 0, value: 7 }, { regType: RegType.VolatileControl, regIndex: 1, value: 1 }] },
      cwndUpdate(1, 100),
      { type: MessageType.UpdateFields, sid: 1, updates: [{ regType: RegType.NonVolatileControl, regIndex: 0, value: 9 }, { regType: RegType.Implicit, regIndex: Implicit.Rate, value: 3 }] },
      cwndUpdate(1, 200),
      { type: MessageType.ChangeProg, sid: 1, programUid: 2, updates: [{ regType: RegType.NonVolatileControl, regIndex: 0, value: 4 }, { regType: RegType.Implicit, regIndex: Implicit.Cwnd, value: 5 }] },
    ])
    expect(dp.measure(1, 2, [10_000, 1])).toEqual([])
    expect(seen).toEqual(['two', '2', 'rtt,lost'])
  })

  it('refuses unknown programs and fields, bad values, and use after close', () => {
    const errors: string[] = []
    let kept: Flow<unknown> | undefined
    const attempt = (run: () => void): void => {
      try {
        run()
        errors.push('none')
      } catch (error) {
        errors.push((error as AgentError).code)
      }
    }
    const { dp } = flowOf({
      name: 'x',
      programs: PROGRAMS,
      onCreate: (flow) => {
        kept = flow
        attempt(() => flow.update({ target: 1 })) // no program yet
        attempt(() => flow.changeProgram('three'))
        attempt(() => flow.changeProgram('one', { limit: 1 })) // limit is program two's
        attempt(() => flow.changeProgram('one', { acked: 1 })) // a report field
        attempt(() => flow.changeProgram('one', { 'Report.acked': 1 }))
        attempt(() => flow.changeProgram('one', { Micros: 1 }))
        attempt(() => flow.setCwnd(-1))
        attempt(() => flow.setCwnd(1.5))
        attempt(() => flow.setRate(Number.NaN))
        attempt(() => flow.update({ Cwnd: 2 ** 65 }))
        attempt(() => flow.update({ Cwnd: 2 }))
      },
      onReport() {},
    })
    dp.create(1, 'x')
    expect(errors).toEqual([
      'ERR_UNKNOWN_FIELD',
      'ERR_UNKNOWN_PROGRAM',
      'ERR_UNKNOWN_FIELD',
      'ERR_UNKNOWN_FIELD',
      'ERR_UNKNOWN_FIELD',
      'ERR_UNKNOWN_FIELD',
      'ERR_INVALID_VALUE',
      'ERR_INVALID_VALUE',
      'ERR_INVALID_VALUE',
      'ERR_INVALID_VALUE',
      'none',
    ])
    dp.measure(1, 0, [])
    expect(kept!.closed).toBe(true)
    expect(() => kept!.setCwnd(1)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }))
  })

  it('exposes what CREATE said', () => {
    let info: unknown
    const { dp } = flowOf({
      name: 'x',
      programs: PROGRAMS,
      onCreate: (flow) => {
        info = { ...flow.info, initCwnd: flow.initCwnd, mss: flow.mss, sid: flow.sid, datapath: flow.datapath, algorithm: flow.algorithm }
      },
      onReport() {},
    })
    dp.create(3, 'asked-for', 2896)
    expect(info).toEqual({ initCwnd: 2896, mss: 1448, srcIp: 1, srcPort: 2, dstIp: 3, dstPort: 4, congAlg: 'asked-for', sid: 3, datapath: 'dp', algorithm: 'x' })
  })
})

describe('generic-cong-avoid options', () => {
  it('reports on an interval: DatapathIntervalProg with reportTime', () => {
    const { hub, agent } = setup({ algorithms: [new Cubic({ report: { intervalUs: 25_000 } })] })
    const dp = new TestDatapath(hub, 'dp')
    dp.ready()
    expect(dp.create(1, 'cubic')).toEqual([
      { type: MessageType.ChangeProg, sid: 1, programUid: uidOf(agent, 'DatapathIntervalProg'), updates: [{ regType: RegType.NonVolatileControl, regIndex: 0, value: 25_000 }] },
    ])
  })

  it('slow start in the datapath: SSUpdateProg, then at the first report the RTT program and cwnd = inflight × mss', () => {
    const { hub, agent } = setup({ algorithms: [new Reno({ slowStartInDatapath: true })] })
    const dp = new TestDatapath(hub, 'dp')
    dp.ready()
    expect(dp.create(1)).toEqual([{ type: MessageType.ChangeProg, sid: 1, programUid: uidOf(agent, 'SSUpdateProg'), updates: [] }])
    // A loss report from the datapath's slow start: 40 packets in flight.
    const answers = dp.measure(1, uidOf(agent, 'SSUpdateProg'), gca(0, { loss: 1, inflight: 40 }))
    expect(answers).toEqual([{ type: MessageType.ChangeProg, sid: 1, programUid: uidOf(agent, 'DatapathIntervalRTTProg'), updates: [] }, cwndUpdate(1, (40 * 1448) / 2)])
  })

  it('a timeout: the window back to the initial one, ssthresh halved (so congestion avoidance starts earlier)', () => {
    const { hub, agent } = setup({ algorithms: [new Reno({ ssThresh: 100_000 })] })
    const dp = new TestDatapath(hub, 'dp')
    dp.ready()
    dp.create(1)
    const uid = uidOf(agent, 'DatapathIntervalRTTProg')
    expect(dp.measure(1, uid, gca(20_000))).toEqual([cwndUpdate(1, 34_480)])
    expect(dp.measure(1, uid, gca(0, { timeout: 1 }))).toEqual([cwndUpdate(1, 14_480)])
    // ssthresh is now 50 000: slow start stops there and the rest is congestion avoidance.
    expect(dp.measure(1, uid, gca(40_000))).toEqual([cwndUpdate(1, Math.trunc(50_000 + (1448 * 4480) / 50_000))])
  })

  it('one reduction per loss episode: no update while the deficit is outstanding', () => {
    const { hub, agent } = setup({ algorithms: [new Reno()] })
    const dp = new TestDatapath(hub, 'dp')
    dp.ready()
    dp.create(1)
    const uid = uidOf(agent, 'DatapathIntervalRTTProg')
    dp.measure(1, uid, gca(100_000 - 14_480))
    expect(dp.measure(1, uid, gca(0, { loss: 2 }))).toEqual([cwndUpdate(1, 50_000)])
    expect(dp.measure(1, uid, gca(0, { loss: 1 }))).toEqual([])
    expect(dp.measure(1, uid, gca(1448))).toEqual([cwndUpdate(1, Math.trunc(50_000 + (1448 * 1448) / 50_000))])
  })
})

describe('Bbr beyond the recording', () => {
  it('goes to probe_rtt when the min RTT is 10 s old (4 packets, after the program change), and back', () => {
    const { hub, agent, clock } = setup({ algorithms: [new Bbr()] })
    const dp = new TestDatapath(hub, 'dp')
    dp.ready()
    dp.create(1, 'bbr')
    clock.now = 10_000
    dp.measure(1, uidOf(agent, 'init_program'), [0, 10_000, 1_000_000, 5])
    const probeBw = uidOf(agent, 'probe_bw')
    // A lower RTT: the window cap follows (2 × 1 000 000 B/s × 8 ms).
    clock.now = 2_000_000
    expect(dp.measure(1, probeBw, [0, 8_000, 1_000_000, 0])).toEqual([{ type: MessageType.UpdateFields, sid: 1, updates: [{ regType: RegType.NonVolatileControl, regIndex: 1, value: 16_000 }] }])
    clock.now = 12_000_001
    expect(dp.measure(1, probeBw, [0, 9_000, 1_000_000, 1])).toEqual([
      { type: MessageType.ChangeProg, sid: 1, programUid: uidOf(agent, 'probe_rtt'), updates: [] },
      cwndUpdate(1, 4 * 1448),
    ])
    clock.now = 12_300_000
    expect(dp.measure(1, uidOf(agent, 'probe_rtt'), [7_000]).map((m) => m.type)).toEqual([MessageType.UpdateFields, MessageType.ChangeProg])
    // A second probe_rtt report, sent before the change arrived, is stale.
    expect(dp.measure(1, uidOf(agent, 'probe_rtt'), [7_000])).toEqual([])
    expect(agent.stats.staleReports).toBe(1)
  })
})

describe('Agent: message trace', () => {
  it('logs every message in and out at debug level with traceMessages, nothing of the kind without', () => {
    for (const traceMessages of [true, false]) {
      const { hub, agent, log } = setup({ algorithms: [new Reno()], traceMessages })
      const dp = new TestDatapath(hub, 'dp')
      dp.ready()
      dp.create(1)
      dp.measure(1, uidOf(agent, 'DatapathIntervalRTTProg'), gca(1448))
      const trace = log.filter((entry) => entry.message === 'receive' || entry.message === 'send').map((entry) => `${entry.message} ${String(entry.detail?.type)}`)
      expect(trace).toEqual(
        traceMessages
          ? ['receive READY', ...Array(4).fill('send INSTALL_EXPR'), 'receive CREATE', 'send CHANGE_PROG', 'receive MEASURE', 'send UPDATE_FIELDS']
          : [],
      )
    }
  })
})
