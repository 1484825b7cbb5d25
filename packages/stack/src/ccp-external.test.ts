// 100 flows on one stack against an external `mtcp-ccp` process (issue 17): on the real clock, over real unix
// datagram sockets in a temp dir. One READY and exactly one CREATE per flow, also when the agent reads slowly
// (stopped and resumed, so its 10-datagram queue fills and sends see EAGAIN): a full queue is a dropped
// datagram, never a lost agent. Needs the built mtcp-ccp (`pnpm build`; `pnpm test` builds first).
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openUnixDatapath } from '@mtcp/ccp-ipc'
import { createMemoryLink, realClock } from '@mtcp/dpdk-io'
import { afterEach, describe, expect, it } from 'vitest'
import type { CcpControlEvent } from './ccp.js'
import { StackError } from './errors.js'
import { PollEvents } from './socket-record.js'
import { createStack, type Stack } from './stack.js'

const FLOWS = 100
const BYTES = 256 * 1024
const cli = join(import.meta.dirname, '..', '..', 'ccp-agent', 'dist', 'cli.js')

interface AgentProcess {
  child: ChildProcess
  stderr(): string
  line(text: string): Promise<void>
  exit: Promise<number | null>
}

function startAgent(dir: string): AgentProcess {
  const child = spawn(process.execPath, [cli, 'reno', '--dir', dir, '--name', 'portus'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  const waiting: Array<{ text: string; resolve: () => void }> = []
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
    for (const w of waiting.filter((entry) => stderr.includes(entry.text))) w.resolve()
  })
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {
    child,
    stderr: () => stderr,
    line: (text) => (stderr.includes(text) ? Promise.resolve() : new Promise((resolve) => waiting.push({ text, resolve }))),
    exit,
  }
}

/** Resolves once `condition` holds, checking once per turn of the event loop (no timers). */
function until(condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (condition()) resolve()
      else setImmediate(check)
    }
    check()
  })
}

const cleanup: Array<() => void> = []
afterEach(() => {
  for (const step of cleanup.splice(0).reverse()) step()
})

/** The byte at `offset` of every flow's payload. */
const patternAt = (offset: number): number => (offset * 7 + 3) & 0xff

/** Two stacks on an emulated link on the real clock; stack a's CCP datapath talks to the agent in `dir`. */
function setUp(dir: string) {
  const link = createMemoryLink({ clock: realClock, seed: 17, impairments: { rate: 400e6, delay: 2000, queuePackets: 2000 } })
  const events: CcpControlEvent[] = []
  const a = createStack({
    port: link.a,
    address: '10.0.0.1/24',
    congestionControl: 'ccp:reno',
    ccp: {
      transport: openUnixDatapath({ dir, name: `mtcp-${process.pid}` }),
      onControlChange: (event) => events.push(event),
      // No timing in the test: however loaded the machine, an answer the agent sends is waited for.
      resyncIntervalUs: 600_000_000,
    },
  })
  const b = createStack({ port: link.b, address: '10.0.0.2/24' })
  cleanup.push(() => {
    a.stop()
    b.stop()
    link.close()
  })
  return { a, b, events }
}

/** Connect FLOWS flows from a to b; resolves with their fds once all are established. */
async function connectAll(a: Stack, b: Stack): Promise<{ clients: number[]; received: () => number[] }> {
  const listener = b.socket()
  b.bind(listener, '0.0.0.0', 7000)
  b.listen(listener, FLOWS)
  const counts: number[] = []
  const buffer = new Uint8Array(65536)
  b.watch(listener, () => {
    for (;;) {
      let fd: number
      try {
        fd = b.accept(listener)
      } catch {
        return
      }
      const index = counts.push(0) - 1
      b.watch(fd, () => {
        for (;;) {
          let n: number
          try {
            n = b.read(fd, buffer)
          } catch (error) {
            if (error instanceof StackError && error.code === 'EAGAIN') return
            throw error
          }
          if (n === 0) {
            b.close(fd)
            return
          }
          for (let i = 0; i < n; i++) if (buffer[i] !== patternAt(counts[index]! + i)) throw new Error(`flow ${index}: wrong byte at ${counts[index]! + i}`)
          counts[index]! += n
        }
      })
    }
  })
  const clients: number[] = []
  let established = 0
  for (let i = 0; i < FLOWS; i++) {
    const fd = a.socket()
    let up = false
    a.watch(fd, (_fd, events) => {
      if (!up && events & PollEvents.OUT) {
        up = true
        established++
      }
    })
    a.connect(fd, '10.0.0.2', 7000)
    clients.push(fd)
  }
  await until(() => established === FLOWS)
  return { clients, received: () => counts }
}

/** Send BYTES on every flow, then shut it down; resolves once b has read all of it. */
async function sendAll(a: Stack, clients: number[], received: () => number[]): Promise<void> {
  const payload = new Uint8Array(BYTES)
  for (let i = 0; i < BYTES; i++) payload[i] = patternAt(i)
  for (const fd of clients) {
    let offset = 0
    const pump = (): void => {
      while (offset < BYTES) {
        let n: number
        try {
          n = a.write(fd, payload, offset, BYTES - offset)
        } catch (error) {
          if (error instanceof StackError && error.code === 'EAGAIN') return
          throw error
        }
        offset += n
      }
      a.shutdown(fd)
      offset = Number.POSITIVE_INFINITY
    }
    a.watch(fd, (_fd, events) => {
      if (events & PollEvents.OUT && offset <= BYTES) pump()
    })
    pump()
  }
  await until(() => received().length === FLOWS && received().every((count) => count === BYTES))
}

/** The agent's closing line: flows, READYs, re-created flows. */
function closingCounts(stderr: string): { flows: number; readies: number; recreated: number } {
  const match = /closed after (\d+) flows, \d+ reports, \d+ errors \((\d+) READY, (\d+) re-created/.exec(stderr)
  if (match === null) throw new Error(`no closing line from mtcp-ccp in:\n${stderr}`)
  return { flows: Number(match[1]), readies: Number(match[2]), recreated: Number(match[3]) }
}

describe.skipIf(!existsSync(cli))('100 flows against an external mtcp-ccp (issue 17)', () => {
  it('one READY and exactly one CREATE per flow; every flow taken over and none lost; data intact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtcp-ccp-100-'))
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
    const agent = startAgent(dir)
    cleanup.push(() => agent.child.kill('SIGKILL'))
    await agent.line('listening at')
    const { a, b, events } = setUp(dir)
    const { clients, received } = await connectAll(a, b)
    // Every flow passes to the agent (seen at its next ACK or retry tick) before the data goes.
    await until(() => new Set(events.filter((event) => event.inControl).map((event) => event.sid)).size === FLOWS)
    await sendAll(a, clients, received)
    const datapath = a.ccpDatapath!
    expect(events.filter((event) => !event.inControl)).toEqual([])
    expect(datapath.stats).toMatchObject({ readySent: 1, createsSent: FLOWS, resyncs: 0, recreates: 0, agentLost: 0, sendFailures: 0 })
    a.stop()
    agent.child.kill('SIGTERM')
    expect(await agent.exit).toBe(0)
    expect(closingCounts(agent.stderr())).toEqual({ flows: FLOWS, readies: 1, recreated: 0 })
  }, 120_000)

  it('an agent that reads slowly: EAGAIN drops datagrams, the flows stay and are taken over; one READY, one CREATE per flow', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtcp-ccp-slow-'))
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
    const agent = startAgent(dir)
    cleanup.push(() => agent.child.kill('SIGKILL'))
    await agent.line('listening at')
    // Stopped: it reads nothing, so its queue (net.unix.max_dgram_qlen, 10 by default) fills up.
    agent.child.kill('SIGSTOP')
    cleanup.push(() => agent.child.kill('SIGCONT'))
    const { a, b, events } = setUp(dir)
    const connecting = connectAll(a, b)
    const datapath = a.ccpDatapath!
    await until(() => datapath.stats.sendDropped > 0)
    // From now on it reads in fits and starts: 10 ms running, 10 ms stopped.
    let running = false
    const toggle = setInterval(() => {
      running = !running
      agent.child.kill(running ? 'SIGCONT' : 'SIGSTOP')
    }, 10)
    cleanup.push(() => clearInterval(toggle))
    const { clients, received } = await connecting
    await until(() => new Set(events.filter((event) => event.inControl).map((event) => event.sid)).size === FLOWS)
    await sendAll(a, clients, received)
    clearInterval(toggle)
    agent.child.kill('SIGCONT')
    expect(datapath.stats.sendDropped).toBeGreaterThan(0)
    expect(events.filter((event) => !event.inControl)).toEqual([]) // a full queue never cost a flow its agent
    expect(datapath.stats).toMatchObject({ readySent: 1, createsSent: FLOWS, resyncs: 0, agentLost: 0, sendFailures: 0 })
    a.stop()
    agent.child.kill('SIGTERM')
    expect(await agent.exit).toBe(0)
    expect(closingCounts(agent.stderr())).toEqual({ flows: FLOWS, readies: 1, recreated: 0 })
  }, 180_000)
})
