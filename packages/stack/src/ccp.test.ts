// CCP in the stack: measurements per ACK, the agent's cwnd applied, native fallback while the agent is absent.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { type AgentTransport, InProcessHub, openUnixAgent, openUnixDatapath } from '@mtcp/ccp-ipc'
import { type CcpMessage, decodeMessage, encodeMessage, Implicit, type InstallExprMessage, MessageType, RegType } from '@mtcp/libccp'
import { describe, expect, it } from 'vitest'
import { StackError } from './errors.js'
import { PollEvents } from './socket-record.js'
import { bulkTransfer, bulkTransferAsync, runUntil, stackPair } from './testing.js'

const MB = 1_000_000
const fixtures = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'ccp-gca-programs.json'), 'utf8')) as {
  programs: Record<string, { installHex: string }>
}

/** generic-cong-avoid's per-ACK program (reports on every ACK), as portus compiles it, re-addressed as uid 1. */
function ackUpdateProgram(): Uint8Array {
  const install = decodeMessage(Buffer.from(fixtures.programs.gca_AckUpdateProg!.installHex, 'hex')) as InstallExprMessage
  return encodeMessage({ ...install, sid: 0, programUid: 1 })
}

/**
 * A stub agent written for the test: installs the per-ACK program, takes every flow on CREATE, and
 * answers each report with a fixed window (`cwnd` bytes). Records everything it receives.
 */
function stubAgent(hubOrTransport: InProcessHub | AgentTransport, cwnd: number) {
  const agent = hubOrTransport instanceof InProcessHub ? hubOrTransport.agent('portus') : hubOrTransport
  const received: CcpMessage[] = []
  const closed: number[] = []
  agent.onMessage((bytes, from) => {
    const message = decodeMessage(bytes)
    received.push(message)
    switch (message.type) {
      case MessageType.Ready:
        agent.sendTo(from, ackUpdateProgram())
        break
      case MessageType.Create:
        agent.sendTo(from, encodeMessage({ type: MessageType.ChangeProg, sid: message.sid, programUid: 1, updates: [] }))
        break
      case MessageType.Measure:
        if (message.fields.length === 0) closed.push(message.sid)
        else agent.sendTo(from, encodeMessage({ type: MessageType.UpdateFields, sid: message.sid, updates: [{ regType: RegType.Implicit, regIndex: Implicit.Cwnd, value: cwnd }] }))
        break
    }
  })
  return { agent, received, closed }
}

describe('CCP congestion control in the stack', () => {
  it('an IPv6 connection sends CREATE with its 16-byte addresses (in the trailer portus ignores), and the agent window applies', () => {
    const hub = new InProcessHub({ synchronous: true })
    const cwnd = 20 * 1428
    const stub = stubAgent(hub, cwnd)
    const pair = stackPair({ family: 6, impairments: { rate: 100e6, delay: 5000, queuePackets: 1000 }, seed: 12, stackA: { congestionControl: 'ccp:reno', ccp: { transport: hub.datapath('mtcp-a6') } } })
    const result = bulkTransfer(pair, 2 * MB)
    expect(result.receivedHash).toBe(result.sentHash)
    expect(result.clientInfo.cwnd).toBe(cwnd)
    const create = stub.received.find((m) => m.type === MessageType.Create)
    if (create?.type !== MessageType.Create) throw new Error('no CREATE')
    expect(create.mss).toBe(1428) // 1500 − 40 (IPv6) − 20 (TCP) − 12 (timestamps)
    expect(Buffer.from(create.srcIp6 ?? []).toString('hex')).toBe('fd000000000000000000000000000001')
    expect(Buffer.from(create.dstIp6 ?? []).toString('hex')).toBe('fd000000000000000000000000000002')
    expect(create.dstPort).toBe(5001)
  })

  it('sends CREATE with the flow, reports every ACK, and applies the agent window; data intact', () => {
    const hub = new InProcessHub({ synchronous: true })
    const cwnd = 20 * 1448
    const stub = stubAgent(hub, cwnd)
    const pair = stackPair({
      impairments: { rate: 100e6, delay: 5000, queuePackets: 1000, loss: 0.005 },
      seed: 11,
      stackA: { congestionControl: 'ccp:reno', ccp: { transport: hub.datapath('mtcp-a') } },
    })
    const result = bulkTransfer(pair, 5 * MB)
    expect(result.receivedHash).toBe(result.sentHash)
    expect(result.clientInfo.congestionControl).toBe('ccp')
    // The agent's window governs: 20 segments, never the native controller's.
    expect(result.clientInfo.cwnd).toBe(cwnd)
    const creates = stub.received.filter((m) => m.type === MessageType.Create)
    expect(creates).toHaveLength(1)
    const create = creates[0]!
    if (create.type !== MessageType.Create) throw new Error('unreachable')
    expect(create.congAlg).toBe('reno')
    expect(create.mss).toBe(1448)
    expect(create.srcIp).toBe(0x0a000001)
    expect(create.dstIp).toBe(0x0a000002)
    expect(create.dstPort).toBe(5001)
    const measures = stub.received.filter((m) => m.type === MessageType.Measure && m.fields.length > 0)
    // One report per ACK while the program ran (the per-ACK program): hundreds for 5 MB.
    expect(measures.length).toBeGreaterThan(500)
    // Report fields in DEF order (sorted by name): acked, inflight, loss, rtt, sacked, timeout.
    const acked = measures.reduce((sum, m) => sum + (m.type === MessageType.Measure ? m.fields[0]! : 0), 0)
    expect(acked).toBeGreaterThan(4 * MB)
    expect(acked).toBeLessThanOrEqual(5 * MB)
    expect(measures.some((m) => m.type === MessageType.Measure && m.fields[2]! > 0)).toBe(true) // losses reported
    // Closing the connection sent the close MEASURE for its sid.
    pair.clock.advanceBy(1_000_000)
    expect(stub.closed).toEqual([create.sid])
  })

  it('the same over real unix datagram sockets (temp dir): CREATE, per-ACK reports, the window applied', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtcp-ccp-stub-'))
    try {
      const stub = stubAgent(openUnixAgent({ dir }), 16 * 1448)
      const pair = stackPair({
        impairments: { rate: 100e6, delay: 5000, queuePackets: 1000 },
        stackA: { congestionControl: 'ccp:cubic', ccp: { transport: openUnixDatapath({ dir, name: 'mtcp-stub' }) } },
      })
      // The stub's answers arrive on the event loop: turns of the loop between steps of the virtual clock.
      const result = await bulkTransferAsync(pair, 2 * MB, 5003)
      expect(result.receivedHash).toBe(result.sentHash)
      expect(result.clientInfo.cwnd).toBe(16 * 1448)
      expect(stub.received.filter((m) => m.type === MessageType.Create).map((m) => m.type === MessageType.Create && m.congAlg)).toEqual(['cubic'])
      expect(stub.received.filter((m) => m.type === MessageType.Measure).length).toBeGreaterThan(10)
      expect(pair.a.ccpDatapath!.agentPresent).toBe(true)
      pair.a.stop()
      pair.b.stop()
      stub.agent.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('runs on the native controller while the agent is absent, and hands over when it appears', () => {
    const hub = new InProcessHub({ synchronous: true })
    const pair = stackPair({
      impairments: { rate: 100e6, delay: 5000, queuePackets: 1000 },
      stackA: { congestionControl: 'ccp', ccp: { transport: hub.datapath('mtcp-a'), algorithm: 'cubic' } },
    })
    // No agent: the transfer completes on the fallback (Cubic), and the datapath keeps retrying.
    const alone = bulkTransfer(pair, 2 * MB, 5001)
    expect(alone.receivedHash).toBe(alone.sentHash)
    expect(alone.clientInfo.congestionControl).toBe('ccp')
    const datapath = pair.a.ccpDatapath!
    expect(datapath.agentPresent).toBe(false)
    expect(datapath.stats.sendFailures).toBeGreaterThan(1) // READY (and CREATE) retried on the timer
    expect(datapath.stats.measuresSent).toBe(0)
    // The agent starts; the next connection (and the retried READY) bring it in.
    const stub = stubAgent(hub, 12 * 1448)
    pair.clock.advanceBy(300_000)
    const governed = bulkTransfer(pair, 2 * MB, 5002)
    expect(governed.receivedHash).toBe(governed.sentHash)
    expect(governed.clientInfo.cwnd).toBe(12 * 1448)
    expect(stub.received.some((m) => m.type === MessageType.Ready)).toBe(true)
    expect(stub.received.some((m) => m.type === MessageType.Create && m.congAlg === 'cubic')).toBe(true)
    expect(datapath.agentPresent).toBe(true)
    expect(datapath.stats.readySent).toBeGreaterThanOrEqual(1)
    expect(datapath.stats.measuresSent).toBeGreaterThan(0)
  })

  it('10,000 concurrent CCP flows, each with its own sid and window', () => {
    const hub = new InProcessHub({ synchronous: true })
    const stub = stubAgent(hub, 8 * 1448)
    const pair = stackPair({
      impairments: { rate: 10e9, delay: 1000, queuePackets: 100_000 },
      stackA: { congestionControl: 'ccp:reno', ccp: { transport: hub.datapath('mtcp-a') } },
    })
    const { a, b, clock } = pair
    const listener = b.socket()
    b.bind(listener, '0.0.0.0', 7000)
    b.listen(listener, 20_000)
    const flows = 10_000
    const payload = new Uint8Array(20 * 1448).fill(7)
    const buffer = new Uint8Array(65536)
    let complete = 0
    b.watch(listener, () => {
      for (;;) {
        let fd: number
        try {
          fd = b.accept(listener)
        } catch {
          return
        }
        let got = 0
        b.watch(fd, () => {
          for (;;) {
            let n = 0
            try {
              n = b.read(fd, buffer)
            } catch {
              return
            }
            if (n === 0) return
            got += n
            if (got === payload.length) complete++
          }
        })
      }
    })
    const clients: number[] = []
    for (let i = 0; i < flows; i++) {
      const fd = a.socket()
      let sent = false
      a.watch(fd, (_fd, events) => {
        if (!sent && events & PollEvents.OUT) {
          sent = true
          expect(a.write(fd, payload)).toBe(payload.length)
        }
      })
      a.connect(fd, '10.0.0.2', 7000)
      clients.push(fd)
    }
    runUntil(clock, () => complete === flows)
    const creates = stub.received.filter((m) => m.type === MessageType.Create)
    expect(creates).toHaveLength(flows)
    expect(new Set(creates.map((m) => m.sid)).size).toBe(flows)
    // Every flow ran its own program and reported on its own sid.
    const reporting = new Set(stub.received.filter((m) => m.type === MessageType.Measure && m.fields.length > 0).map((m) => m.sid))
    expect(reporting.size).toBe(flows)
    expect(pair.a.ccpDatapath!.connectionCount).toBe(flows)
    const governed = clients.filter((fd) => a.tcpInfo(fd).cwnd === 8 * 1448).length
    expect(governed).toBe(flows)
  }, 120_000)

  it('rejects ccp choices without a transport, and bad algorithm names, with EINVAL', () => {
    const pair = stackPair()
    const fd = pair.a.socket()
    expect(() => pair.a.setsockopt(fd, 'congestionControl', 'ccp')).toThrow(StackError)
    expect(() => pair.a.setsockopt(fd, 'congestionControl', 'ccp')).toThrow(/needs CCP/)
    const hub = new InProcessHub({ synchronous: true })
    const withCcp = stackPair({ stackA: { ccp: { transport: hub.datapath('x') } } })
    const fd2 = withCcp.a.socket()
    expect(() => withCcp.a.setsockopt(fd2, 'congestionControl', 'ccp:')).toThrow(/1 to 63 characters/)
    expect(() => withCcp.a.setsockopt(fd2, 'congestionControl', `ccp:${'x'.repeat(64)}`)).toThrow(/1 to 63 characters/)
    withCcp.a.setsockopt(fd2, 'congestionControl', 'ccp:bbr')
    expect(withCcp.a.getsockopt(fd2, 'congestionControl')).toBe('ccp:bbr')
  })

  it("holds the agent's messages that arrive during a burst and applies them after it (a synchronous transport answers inside send)", () => {
    const hub = new InProcessHub({ synchronous: true })
    stubAgent(hub, 20 * 1448)
    const pair = stackPair({ impairments: { delay: 1000 }, stackA: { congestionControl: 'ccp:reno', ccp: { transport: hub.datapath('mtcp-a') } } })
    const { a, b, clock } = pair
    const datapath = a.ccpDatapath!
    const listener = b.socket()
    b.bind(listener, '0.0.0.0', 5001)
    b.listen(listener)
    const client = a.socket()
    // The CREATE leaves while stack a processes the SYN-ACK, and the stub answers it inside that send.
    let seenByWatcher: number | undefined
    a.watch(client, (_fd, events) => {
      if (events & PollEvents.OUT && seenByWatcher === undefined) seenByWatcher = datapath.stats.received
    })
    runUntil(clock, () => datapath.stats.received >= 1) // the program install answering READY
    const before = datapath.stats.received
    a.connect(client, '10.0.0.2', 5001)
    runUntil(clock, () => seenByWatcher !== undefined)
    // The application heard of the connection before the agent's answer to its CREATE was applied ...
    expect(seenByWatcher).toBe(before)
    // ... and the answer was applied when that iteration ended.
    expect(datapath.stats.received).toBeGreaterThan(before)
  })
})
