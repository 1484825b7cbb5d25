// The whole CCP system in one process: the stack's datapath driven by @mtcp/ccp-agent, over the in-process
// channel and over real unix datagram sockets, including an agent that dies and comes back mid-transfer.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, Cubic, Reno } from '@mtcp/ccp-agent'
import { InProcessHub, openUnixAgent, openUnixDatapath } from '@mtcp/ccp-ipc'
import { describe, expect, it } from 'vitest'
import { bulkTransfer, bulkTransferAsync, stackPair } from './testing.js'

const MB = 1_000_000
const link = { rate: 100e6, delay: 10_000, queuePackets: 1000 }

describe('the stack driven by the TypeScript CCP agent', () => {
  it('CCP-Reno through the in-process channel: the agent governs the window, data intact under loss', () => {
    const hub = new InProcessHub({ synchronous: true })
    const pair = stackPair({ impairments: { ...link, loss: 0.001 }, seed: 5, stackA: { congestionControl: 'ccp:reno', ccp: { transport: hub.datapath('mtcp-a') } } })
    const agent = new Agent({ transport: hub.agent(), algorithms: [new Reno(), new Cubic()], now: () => pair.clock.now() })
    agent.start()
    const result = bulkTransfer(pair, 20 * MB)
    expect(result.receivedHash).toBe(result.sentHash)
    expect(result.clientInfo.congestionControl).toBe('ccp')
    const datapath = pair.a.ccpDatapath!
    expect(datapath.stats.measuresSent).toBeGreaterThan(10)
    expect(datapath.stats.updates).toBeGreaterThan(10)
    expect(agent.stats.reports).toBeGreaterThan(10)
    expect(agent.stats.errors).toBe(0)
    // Once per RTT (generic-cong-avoid's default), not per ACK: far fewer reports than segments.
    expect(datapath.stats.measuresSent).toBeLessThan(result.clientStats.segmentsOut / 4)
    agent.close()
  })

  it('an agent killed mid-transfer and restarted: the flow falls back, is taken over again, data intact', () => {
    const hub = new InProcessHub({ synchronous: true })
    const pair = stackPair({ impairments: link, seed: 6, stackA: { congestionControl: 'ccp:reno', ccp: { transport: hub.datapath('mtcp-a') } } })
    const { clock } = pair
    let agent = new Agent({ transport: hub.agent(), algorithms: [new Reno()], now: () => clock.now() })
    agent.start()
    const datapath = pair.a.ccpDatapath!
    const control = () => pair.a.connectionOf(65536)?.congestion as { inControl?: boolean } | undefined
    const seen: Array<{ at: string; inControl: boolean | undefined }> = []
    // 1 s in: kill the agent; 2 s in: start a new one on the same address.
    clock.createTimer(() => {
      seen.push({ at: 'before kill', inControl: control()?.inControl })
      agent.close()
    }).arm(1_000_000)
    clock.createTimer(() => {
      seen.push({ at: 'while dead', inControl: control()?.inControl })
      agent = new Agent({ transport: hub.agent(), algorithms: [new Reno()], now: () => clock.now() })
      agent.start()
    }).arm(2_000_000)
    clock.createTimer(() => seen.push({ at: 'after restart', inControl: control()?.inControl })).arm(3_000_000)
    const result = bulkTransfer(pair, 50 * MB)
    expect(result.receivedHash).toBe(result.sentHash)
    expect(result.elapsed).toBeGreaterThan(3_000_000) // the transfer spanned the kill and the restart
    expect(seen).toEqual([
      { at: 'before kill', inControl: true },
      { at: 'while dead', inControl: false },
      { at: 'after restart', inControl: true },
    ])
    expect(datapath.stats.agentLost).toBe(1)
    expect(datapath.stats.tableClears).toBeGreaterThanOrEqual(2) // each agent's first INSTALL (uid 1) reset the table
    expect(agent.stats.reports).toBeGreaterThan(0)
    agent.close()
  })

  it('over real unix datagram sockets (temp dir), as with portus', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtcp-ccp-'))
    try {
      const agent = new Agent({ transport: openUnixAgent({ dir }), algorithms: [new Reno()] })
      agent.start()
      const pair = stackPair({ impairments: link, seed: 7, stackA: { congestionControl: 'ccp:reno', ccp: { transport: openUnixDatapath({ dir, name: 'mtcp-test' }) } } })
      // The agent's answers arrive on the event loop: turns of the loop between steps of the virtual clock.
      const result = await bulkTransferAsync(pair, 4 * MB, 6000)
      expect(result.receivedHash).toBe(result.sentHash)
      expect(pair.a.ccpDatapath!.agentPresent).toBe(true)
      expect(pair.a.ccpDatapath!.stats.measuresSent).toBeGreaterThan(0)
      expect(agent.stats.reports).toBeGreaterThan(0)
      pair.a.stop()
      pair.b.stop()
      agent.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
