/**
 * The agent with `@mtcp/libccp`'s Datapath, over real unix datagram sockets (in a temporary directory) and
 * over the in-process channel. A simulated flow feeds one ACK per step as the vectors' recorder did
 * (ccp-vectors/README.md: 1448 bytes acked, an RTT of 10 ms, in flight = cwnd, rates = cwnd × 100) on the
 * datapath's virtual clock (200 µs per ACK); the messages themselves travel for real, and the test waits
 * for them by yielding to the event loop until a condition holds (bounded by a step count, not by time).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InProcessHub, openUnixAgent, openUnixDatapath, type AgentTransport, type DatapathTransport } from '@mtcp/ccp-ipc'
import { createMeasurements, Datapath, type Connection } from '@mtcp/libccp'
import { afterEach, describe, expect, it } from 'vitest'
import { Agent } from './agent.js'

const MSS = 1448
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** A TCP sender as far as CCP sees it: its window and rate, and the calls the datapath made. */
interface SimulatedFlow {
  cwnd: number
  rate: number
  setCwndCalls: number
}

/** One datapath with one flow, stepped one ACK at a time on a virtual clock. */
class SimulatedDatapath {
  clock = 0
  readonly flow: SimulatedFlow = { cwnd: 10 * MSS, rate: 0, setCwndCalls: 0 }
  readonly datapath: Datapath<SimulatedFlow>
  readonly connection: Connection<SimulatedFlow>
  readonly #measurements = createMeasurements()

  constructor(
    readonly transport: DatapathTransport,
    congAlg: string,
  ) {
    this.datapath = new Datapath<SimulatedFlow>({
      sendMsg: (bytes) => transport.send(bytes),
      now: () => this.clock,
      setCwnd: (connection, bytes) => {
        connection.context.cwnd = bytes
        connection.context.setCwndCalls++
      },
      setRateAbs: (connection, bytesPerSecond) => {
        connection.context.rate = bytesPerSecond
      },
    })
    transport.onMessage((bytes) => this.datapath.receive(bytes))
    this.datapath.start()
    this.connection = this.datapath.connectionStart({ initCwnd: 10 * MSS, mss: MSS, srcIp: 0x0100007f, srcPort: 5000, dstIp: 0x0100007f, dstPort: 80, congAlg }, this.flow)
  }

  /** One ACK 200 µs after the last. */
  step(): void {
    this.clock += 200
    if (this.connection.freed) return
    const m = this.#measurements
    const flow = this.flow
    m.bytesAcked = MSS
    m.packetsAcked = 1
    m.rttSampleUs = 10_000
    m.cwnd = flow.cwnd
    m.rate = flow.rate
    m.bytesInFlight = flow.cwnd
    m.packetsInFlight = Math.floor(flow.cwnd / MSS)
    m.rateOutgoing = flow.cwnd * 100
    m.rateIncoming = flow.cwnd * 100
    this.connection.invoke(m)
    this.datapath.tick()
  }
}

/** Step every datapath, yielding to the event loop after each step, until `done()`; fails past `maxSteps`. */
async function runUntil(datapaths: SimulatedDatapath[], what: string, done: () => boolean, maxSteps = 20_000): Promise<number> {
  for (let steps = 0; steps < maxSteps; steps++) {
    if (done()) return steps
    for (const datapath of datapaths) datapath.step()
    await yieldToEventLoop()
  }
  throw new Error(`${what}: not reached in ${maxSteps} steps`)
}

/** Step every datapath `steps` times, yielding to the event loop after each step. */
async function runSteps(datapaths: SimulatedDatapath[], steps: number): Promise<void> {
  for (let i = 0; i < steps; i++) {
    for (const datapath of datapaths) datapath.step()
    await yieldToEventLoop()
  }
}

interface Channel {
  openAgent(): AgentTransport
  openDatapath(name: string): DatapathTransport
  /** Whether nothing is left at the agent's address once it closed (the socket file is unlinked). */
  agentAddressFree(): boolean
}

const cleanups: (() => void)[] = []
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!()
})

async function takeoverScenario(channel: Channel): Promise<void> {
  // The default algorithms: Reno, Cubic and BBR.
  let agent = new Agent({ transport: channel.openAgent() })
  agent.start()
  const reno = new SimulatedDatapath(channel.openDatapath('dp-reno'), 'reno')
  const cubic = new SimulatedDatapath(channel.openDatapath('dp-cubic'), 'cubic')
  const bbr = new SimulatedDatapath(channel.openDatapath('dp-bbr'), 'bbr')
  cleanups.push(() => {
    agent.close()
    for (const d of all) d.transport.close()
  })
  const all = [reno, cubic, bbr]

  // The agent takes the flows and grows their windows: slow start in the agent with one report per RTT
  // (Reno, Cubic), the probe_bw cycle's window cap of 2 × rate × RTT (BBR, whose rate is paced).
  await runUntil(all, 'every flow in control with an agent-set window above 20 packets', () =>
    all.every((d) => d.connection.inControl && d.flow.setCwndCalls > 0 && d.flow.cwnd > 20 * MSS),
  )
  expect(bbr.flow.rate).toBeGreaterThan(0)
  expect([reno.flow.rate, cubic.flow.rate]).toEqual([0, 0])
  expect(agent.stats).toMatchObject({ datapaths: 3, flows: 3, errors: 0 })
  expect(agent.stats.reports).toBeGreaterThan(0)

  // The agent goes away: at their next report the datapaths find it gone and fall back.
  agent.close()
  expect(channel.agentAddressFree()).toBe(true)
  await runUntil(all, 'every flow falls back', () => all.every((d) => !d.connection.inControl))
  const callsAtFallback = all.map((d) => d.flow.setCwndCalls)
  // Native congestion control governs now: no set_cwnd from CCP while the agent is away (three RTTs).
  await runSteps(all, 150)
  expect(all.map((d) => d.flow.setCwndCalls)).toEqual(callsAtFallback)
  expect(all.every((d) => !d.connection.inControl)).toBe(true)

  // A new agent at the same address: READY is retried, the INSTALLs clear the table, CREATE goes again,
  // and the flows are taken over; set_cwnd resumes.
  agent = new Agent({ transport: channel.openAgent() })
  agent.start()
  await runUntil(all, 'every flow taken over again with set_cwnd resumed', () =>
    all.every((d, i) => d.connection.inControl && d.flow.setCwndCalls > callsAtFallback[i]!),
  )
  expect(agent.stats).toMatchObject({ datapaths: 3, flows: 3, flowsCreated: 3, errors: 0 })
  expect(all.map((d) => d.datapath.stats.tableClears)).toEqual([2, 2, 2])

  // Closing a flow reaches the agent.
  reno.connection.free()
  await runUntil(all, 'the closed flow gone from the agent', () => agent.stats.flows === 2)
}

describe('end to end with @mtcp/libccp', () => {
  it('over unix datagram sockets: three datapaths (reno, cubic, bbr), agent restart, takeover', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtcp-ccp-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    await takeoverScenario({
      openAgent: () => openUnixAgent({ dir, name: 'portus' }),
      openDatapath: (name) => openUnixDatapath({ dir, name, agent: 'portus' }),
      agentAddressFree: () => !existsSync(join(dir, 'portus')),
    })
  })

  it('over the in-process channel (an agent embedded next to the stack): same scenario', async () => {
    const hub = new InProcessHub()
    await takeoverScenario({
      openAgent: () => hub.agent(),
      openDatapath: (name) => hub.datapath(name),
      agentAddressFree: () => {
        // The name can be taken only once the old agent released it (else EADDRINUSE).
        hub.agent().close()
        return true
      },
    })
  })
})
