/**
 * IPv6 flows (decision record 0080): `@mtcp/libccp`'s Datapath starts an IPv6 flow and an IPv4 flow side by
 * side; the agent takes both, gives the IPv6 one its 16-byte addresses, runs Reno on both, and the windows it
 * sets come back. Also: a CREATE as the Linux kernel's CCP datapath sends it for an IPv6 socket (127.0.0.6,
 * no trailer) is an ordinary flow.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InProcessHub, openUnixAgent, openUnixDatapath, type DatapathTransport } from '@mtcp/ccp-ipc'
import { type Connection, CREATE_IPV6_PLACEHOLDER, createMeasurements, Datapath, decodeMessage, encodeMessage, MessageType } from '@mtcp/libccp'
import { afterEach, describe, expect, it } from 'vitest'
import { Agent } from './agent.js'
import { Reno } from './algorithms/reno.js'
import type { Flow, FlowInfo } from './flow.js'

const MSS = 1428
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** `fd00:ccp::<last>`-like addresses: 16 bytes, ULA prefix fd00::/8 (RFC 4193). */
function ula(last: number): Uint8Array {
  const address = new Uint8Array(16)
  address.set([0xfd, 0x00, 0x0c, 0xcb])
  address[15] = last
  return address
}

/** Reno that remembers what each flow's CREATE said. */
class Recording extends Reno {
  readonly infos: FlowInfo[] = []
  override onCreate(flow: Flow<never>): void {
    this.infos.push(flow.info)
    super.onCreate(flow)
  }
}

interface Sender {
  cwnd: number
  calls: number
}

const cleanups: (() => void)[] = []
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()!()
})

/** A datapath on `transport` with an IPv6 flow and an IPv4 flow; `step` feeds each one ACK, 200 µs apart. */
function dualStackDatapath(transport: DatapathTransport) {
  let clock = 0
  const datapath = new Datapath<Sender>({
    sendMsg: (bytes) => transport.send(bytes),
    now: () => clock,
    setCwnd: (connection, bytes) => {
      connection.context.cwnd = bytes
      connection.context.calls++
    },
    setRateAbs() {},
  })
  transport.onMessage((bytes) => datapath.receive(bytes))
  datapath.start()
  const v6: Connection<Sender> = datapath.connectionStart({ initCwnd: 10 * MSS, mss: MSS, srcIp: ula(1), srcPort: 40000, dstIp: ula(2), dstPort: 5201, congAlg: 'reno' }, { cwnd: 10 * MSS, calls: 0 })
  const v4: Connection<Sender> = datapath.connectionStart({ initCwnd: 10 * MSS, mss: MSS, srcIp: 0x0a000001, srcPort: 40001, dstIp: 0x0a000002, dstPort: 5201, congAlg: 'reno' }, { cwnd: 10 * MSS, calls: 0 })
  const m = createMeasurements()
  return {
    v6,
    v4,
    step() {
      clock += 200
      for (const connection of [v6, v4]) {
        m.bytesAcked = MSS
        m.packetsAcked = 1
        m.rttSampleUs = 10_000
        m.cwnd = connection.context.cwnd
        m.bytesInFlight = connection.context.cwnd
        m.packetsInFlight = Math.floor(connection.context.cwnd / MSS)
        connection.invoke(m)
      }
      datapath.tick()
    },
  }
}

function expectBothFlows(reno: Recording): void {
  expect(reno.infos).toHaveLength(2)
  const [v6, v4] = reno.infos
  expect(v6).toMatchObject({ srcIp: CREATE_IPV6_PLACEHOLDER, dstIp: CREATE_IPV6_PLACEHOLDER, srcPort: 40000, dstPort: 5201, mss: MSS, congAlg: 'reno' })
  expect(v6!.srcIp6).toEqual(ula(1))
  expect(v6!.dstIp6).toEqual(ula(2))
  expect(v4).toEqual({ initCwnd: 10 * MSS, mss: MSS, srcIp: 0x0a000001, srcPort: 40001, dstIp: 0x0a000002, dstPort: 5201, congAlg: 'reno' })
}

describe('the agent with IPv6 flows', () => {
  it('over unix datagram sockets: an IPv6 and an IPv4 flow of one datapath, both taken over by Reno, windows growing', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'mtcp-ccp6-'))
    cleanups.push(() => rmSync(directory, { recursive: true, force: true }))
    const reno = new Recording()
    const agent = new Agent({ transport: openUnixAgent({ dir: directory, name: 'portus' }), algorithms: [reno] })
    agent.start()
    const transport = openUnixDatapath({ dir: directory, name: 'dp6', agent: 'portus' })
    cleanups.push(() => {
      agent.close()
      transport.close()
    })
    const dp = dualStackDatapath(transport)
    let steps = 0
    const done = (): boolean => [dp.v6, dp.v4].every((c) => c.inControl && c.context.calls > 0 && c.context.cwnd > 20 * MSS)
    while (!done()) {
      if (++steps > 20_000) throw new Error('flows not in control with a window above 20 packets in 20,000 steps')
      dp.step()
      await yieldToEventLoop()
    }
    expectBothFlows(reno)
    expect(agent.stats).toMatchObject({ flows: 2, flowsCreated: 2, unknownAlgorithms: 0 })
    // Reno grows both alike: the family changes nothing but the addresses.
    expect(dp.v6.context.cwnd).toBe(dp.v4.context.cwnd)
  })

  it('on the synchronous in-process hub: the same, answered inside each send', () => {
    const hub = new InProcessHub({ synchronous: true })
    const reno = new Recording()
    const agent = new Agent({ transport: hub.agent(), algorithms: [reno] })
    agent.start()
    const dp = dualStackDatapath(hub.datapath('dp'))
    for (let i = 0; i < 200; i++) dp.step()
    expectBothFlows(reno)
    expect(dp.v6.inControl && dp.v4.inControl).toBe(true)
    expect(dp.v6.context.cwnd).toBeGreaterThan(10 * MSS)
    expect(dp.v6.context.cwnd).toBe(dp.v4.context.cwnd)
  })

  it('takes a CREATE as the Linux CCP datapath sends it for an IPv6 socket (127.0.0.6, no trailer) as an ordinary flow', () => {
    const hub = new InProcessHub({ synchronous: true })
    const reno = new Recording()
    const agent = new Agent({ transport: hub.agent(), algorithms: [reno] })
    agent.start()
    const transport = hub.datapath('kernel')
    const answers: number[] = []
    transport.onMessage((bytes) => answers.push(decodeMessage(bytes).type))
    transport.send(encodeMessage({ type: MessageType.Ready, sid: 0, id: 1 }))
    answers.length = 0
    const kernelStyle = { type: MessageType.Create, sid: 1, initCwnd: 14480, mss: 1428, srcIp: CREATE_IPV6_PLACEHOLDER, srcPort: 22, dstIp: CREATE_IPV6_PLACEHOLDER, dstPort: 50000, congAlg: 'reno' } as const
    expect(transport.send(encodeMessage(kernelStyle))).toBe(0)
    expect(answers).toEqual([MessageType.ChangeProg])
    expect(reno.infos).toEqual([{ initCwnd: 14480, mss: 1428, srcIp: 0x7f000006, srcPort: 22, dstIp: 0x7f000006, dstPort: 50000, congAlg: 'reno' }])
    expect(agent.stats.flows).toBe(1)
  })
})
