import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CcpIpcError } from './errors.js'
import { isPeerAbsent, SendResult } from './errno.js'
import { agentReceives, datagram, datapathReceives, ready, sidOf } from './test-support.js'
import type { AgentTransport, DatapathTransport, LogHook } from './transport.js'
import { openUnixAgent, openUnixDatapath } from './unix.js'
import { bindUnixDatagram, type UnixDatagramSocket } from '@mtcp/unix-dgram-native'

let root: string
let dir: string
const open: Array<{ close(): void }> = []

function track<T extends { close(): void }>(transport: T): T {
  open.push(transport)
  return transport
}

/** A raw socket of the addon, to send what our transports refuse to and to leave stale socket files behind. */
let unboundCount = 0
function rawSocket(path?: string): UnixDatagramSocket {
  // The addon always binds: an "unbound" sender is one bound in the abstract namespace (no path to answer).
  const socket = bindUnixDatagram(path ?? `\0ccp-ipc-test-${process.pid}-${unboundCount++}`, () => {})
  if (typeof socket === 'number') throw new Error(`bind ${path}: ${socket}`)
  open.push(socket)
  return socket
}

/** A raw agent at `<dir>/portus` (the directory check would refuse the loosened directory). */
function openUnixAgentUnchecked(directory: string): { sendTo(to: string, bytes: Uint8Array): number; close(): void } {
  const socket = rawSocket(join(directory, 'portus'))
  return { sendTo: (to, bytes) => socket.send(bytes, to), close: () => socket.close() }
}

function rawSend(socket: UnixDatagramSocket, to: string, bytes: Uint8Array): void {
  expect(socket.send(bytes, to)).toBe(0)
}

/** Resolves once `condition` holds, checking once per event-loop turn (no timers, no sleeping). */
function loopTurnsUntil(condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (condition()) resolve()
      else setImmediate(check)
    }
    check()
  })
}

function pair(name = 'mtcp-0'): { agent: AgentTransport; datapath: DatapathTransport } {
  const agent = track(openUnixAgent({ dir }))
  const datapath = track(openUnixDatapath({ dir, name }))
  return { agent, datapath }
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ccp-ipc-'))
  dir = join(root, 'ccp') // not there yet: the first transport creates it
})

afterEach(() => {
  for (const transport of open.splice(0).reverse()) {
    transport.close()
  }
  rmSync(root, { recursive: true, force: true })
})

describe('unix transport: round trips', () => {
  it('carries a datagram from the datapath to the agent, which sees the datapath path as from and answers there', async () => {
    const { agent, datapath } = pair('mtcp-7')
    expect(datapath.address).toBe(join(dir, 'mtcp-7'))
    expect(agent.address).toBe(join(dir, 'portus'))

    const atAgent = agentReceives(agent)
    expect(datapath.send(ready(42))).toBe(0)
    const [first] = await atAgent
    expect(first!.from).toBe(datapath.address)
    expect([...first!.bytes]).toEqual([...ready(42)])

    const atDatapath = datapathReceives(datapath)
    const update = datagram(3, 12 + 13, 9, 0x5a) // UPDATE_FIELDS-sized, sid 9
    expect(agent.sendTo(first!.from, update)).toBe(0)
    const [answer] = await atDatapath
    expect([...answer!]).toEqual([...update])

    expect(datapath.stats).toMatchObject({ sent: 1, received: 1, sendFailed: 0 })
    expect(agent.stats).toMatchObject({ sent: 1, received: 1, sendFailed: 0 })
  })

  it('keeps the order of many datagrams from several datapaths and answers each at its own address', async () => {
    const agent = track(openUnixAgent({ dir }))
    const datapaths = [0, 1, 2].map((index) => track(openUnixDatapath({ dir, name: `dp-${index}` })))
    const atAgent = agentReceives(agent, 9)
    for (let round = 0; round < 3; round++) {
      for (const [index, datapath] of datapaths.entries()) expect(datapath.send(datagram(1, 16, round * 10 + index))).toBe(0)
    }
    const got = await atAgent
    expect(got.map(({ bytes, from }) => [from, sidOf(bytes)])).toEqual(
      [0, 1, 2].flatMap((round) => datapaths.map((datapath, index) => [datapath.address, round * 10 + index])),
    )
    const answers = datapaths.map((datapath) => datapathReceives(datapath))
    for (const { bytes, from } of got.slice(0, 3)) expect(agent.sendTo(from, bytes)).toBe(0)
    const received = await Promise.all(answers)
    expect(received.map(([bytes]) => sidOf(bytes!))).toEqual([0, 1, 2])
  })
})

describe('unix transport: only the agent speaks to a datapath (issue 17, 3)', () => {
  it('drops and counts datagrams from any other address or an unbound socket; the agent\'s get through', async () => {
    const { agent, datapath } = pair()
    const intruder = rawSocket(join(dir, 'intruder'))
    const unbound = rawSocket()
    const got: number[] = []
    datapath.onMessage((bytes) => got.push(sidOf(bytes)))
    // A forged CHANGE_PROG-sized datagram from a bound socket in the same directory, and one from an unbound socket.
    rawSend(intruder, datapath.address, datagram(4, 16, 666))
    rawSend(unbound, datapath.address, datagram(4, 16, 667))
    expect(agent.sendTo(datapath.address, datagram(4, 16, 1))).toBe(0)
    // Datagrams are read in the order they were queued: once the agent's is in, the two before it were seen.
    await loopTurnsUntil(() => got.length > 0)
    expect(got).toEqual([1])
    expect(datapath.stats.dropped.foreign).toBe(2)
    expect(datapath.stats.received).toBe(1)
  })
})

describe.runIf(process.getuid?.() === 0)('unix transport: the agent\'s credentials (SO_PASSCRED)', () => {
  it('drops a datagram from the agent\'s path when it comes from another user', async () => {
    const datapath = track(openUnixDatapath({ dir, name: 'mtcp-0' }))
    const got: number[] = []
    datapath.onMessage((bytes) => got.push(sidOf(bytes)))
    // Someone loosened the permissions after we opened: another user binds the agent's path and writes to us.
    chmodSync(root, 0o711)
    chmodSync(dir, 0o777)
    chmodSync(datapath.address, 0o666)
    const addon = join(import.meta.dirname, '..', 'node_modules', '@mtcp', 'unix-dgram-native', 'dist', 'index.cjs')
    const script = `
      const { bindUnixDatagram } = require(${JSON.stringify(addon)})
      const socket = bindUnixDatagram(${JSON.stringify(join(dir, 'portus'))}, () => {})
      if (typeof socket === 'number') process.exit(10)
      process.exit(socket.send(Buffer.from(${JSON.stringify(Array.from(datagram(4, 16, 666)))}), ${JSON.stringify(datapath.address)}) === 0 ? 0 : 11)
    `
    const child = spawnSync(process.execPath, ['-e', script], { uid: 4242, gid: 4242 })
    expect(child.status).toBe(0)
    // Then the real agent (this user) at the same path, after the intruder's socket file is gone.
    rmSync(join(dir, 'portus'))
    const agent = track(openUnixAgentUnchecked(dir))
    expect(agent.sendTo(datapath.address, datagram(4, 16, 1))).toBe(0)
    await loopTurnsUntil(() => got.length > 0)
    expect(got).toEqual([1])
    expect(datapath.stats.dropped.foreign).toBe(1)
  })
})

describe('unix transport: permissions', () => {
  it('creates the socket directory 0700 and each socket 0600', () => {
    const { agent, datapath } = pair()
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    expect(statSync(dir).isDirectory()).toBe(true)
    for (const path of [agent.address, datapath.address]) {
      const stats = statSync(path)
      expect(stats.isSocket()).toBe(true)
      expect(stats.mode & 0o777).toBe(0o600)
    }
  })

  it('takes a directory others may read but not write (portus makes /tmp/ccp 0755), telling the log hook', () => {
    mkdirSync(dir)
    chmodSync(dir, 0o755)
    const entries: Parameters<LogHook>[] = []
    const agent = track(openUnixAgent({ dir, log: (...entry) => entries.push(entry) }))
    expect(entries).toHaveLength(1)
    expect(entries[0]![0]).toBe('info')
    expect(entries[0]![1]).toContain('0755')
    expect(statSync(dir).mode & 0o777).toBe(0o755) // left as it is: portus may have made it
    expect(statSync(agent.address).mode & 0o777).toBe(0o600)
  })

  it('does not log about a directory that is already 0700', () => {
    mkdirSync(dir, { mode: 0o700 })
    const warnings: unknown[] = []
    track(openUnixAgent({ dir, log: (...entry) => warnings.push(entry) }))
    expect(warnings).toEqual([])
  })

  it.each([0o777, 0o1777, 0o775, 0o757])('refuses a directory writable by others (mode %o) with ERR_UNSAFE_SOCKET_DIR, at both ends (issue 17, 3)', (mode) => {
    mkdirSync(dir)
    chmodSync(dir, mode)
    expect(() => openUnixAgent({ dir })).toThrow(expect.objectContaining({ code: 'ERR_UNSAFE_SOCKET_DIR' }))
    expect(() => openUnixDatapath({ dir, name: 'mtcp-0' })).toThrow(expect.objectContaining({ code: 'ERR_UNSAFE_SOCKET_DIR', message: expect.stringContaining(mode.toString(8)) }))
    expect(readdirSync(dir)).toEqual([]) // nothing bound
  })

  it.runIf(process.getuid?.() === 0)('refuses a directory owned by another user (not root) with ERR_UNSAFE_SOCKET_DIR', () => {
    mkdirSync(dir, { mode: 0o700 })
    chownSync(dir, 4242, 4242)
    expect(() => openUnixDatapath({ dir, name: 'mtcp-0' })).toThrow(expect.objectContaining({ code: 'ERR_UNSAFE_SOCKET_DIR', message: expect.stringContaining('4242') }))
  })

  it('refuses a socket directory that is a file, with ENOTDIR', () => {
    writeFileSync(dir, 'not a directory')
    expect(() => openUnixAgent({ dir })).toThrow(expect.objectContaining({ code: 'ENOTDIR' }))
  })
})

describe('unix transport: bad datagrams', () => {
  it('refuses to send over 1024 bytes to the agent, or a malformed header, and counts them', async () => {
    const { agent, datapath } = pair()
    expect(datapath.send(datagram(1, 1025))).toBe(SendResult.EMSGSIZE)
    expect(datapath.send(datagram(1, 16).subarray(0, 12))).toBe(SendResult.EINVAL) // len 16 in a 12-byte datagram
    expect(datapath.send(datagram(6, 16))).toBe(SendResult.EINVAL) // no such type
    expect(datapath.send(new Uint8Array(3))).toBe(SendResult.EINVAL) // shorter than a header
    expect(datapath.send('ready' as unknown as Uint8Array)).toBe(SendResult.EINVAL)
    expect(datapath.stats.dropped).toMatchObject({ oversized: 1, malformed: 4 })
    expect(datapath.stats.sent).toBe(0)

    // None of them reached the agent: the next datagram it sees is the valid one.
    const atAgent = agentReceives(agent)
    expect(datapath.send(datagram(1, 1024, 77))).toBe(0) // exactly 1024 is allowed
    const [got] = await atAgent
    expect(sidOf(got!.bytes)).toBe(77)
    expect(agent.stats.received).toBe(1)
  })

  it('lets the agent send up to 32678 bytes to a datapath and no more', async () => {
    const { agent, datapath } = pair()
    expect(agent.sendTo(datapath.address, datagram(2, 32679))).toBe(SendResult.EMSGSIZE)
    expect(agent.stats.dropped.oversized).toBe(1)
    const atDatapath = datapathReceives(datapath)
    expect(agent.sendTo(datapath.address, datagram(2, 32678, 5))).toBe(0)
    const [got] = await atDatapath
    expect(got!.length).toBe(32678)
  })

  it('counts and drops oversized and garbled datagrams the agent receives, and goes on', async () => {
    const agent = track(openUnixAgent({ dir }))
    mkdirSync(join(root, 'raw'))
    const raw = rawSocket(join(root, 'raw', 'sender'))
    rawSend(raw, agent.address, datagram(1, 1025)) // over portus's 1024
    rawSend(raw, agent.address, new Uint8Array([1, 0, 16])) // a truncated header
    rawSend(raw, agent.address, datagram(1, 16).subarray(0, 15)) // len says 16, 15 arrive
    rawSend(raw, agent.address, datagram(200, 16)) // unknown type
    rawSend(raw, agent.address, new Uint8Array(0)) // empty
    const atAgent = agentReceives(agent)
    rawSend(raw, agent.address, ready(1)) // the sentinel: datagrams from one sender arrive in order
    const [got] = await atAgent
    expect(got!.from).toBe(join(root, 'raw', 'sender'))
    expect(agent.stats.dropped).toMatchObject({ oversized: 1, malformed: 4 })
    expect(agent.stats.received).toBe(1)
  })

  it('counts and drops garbled datagrams a datapath receives', async () => {
    const datapath = track(openUnixDatapath({ dir, name: 'mtcp-0' }))
    const raw = rawSocket(join(dir, 'portus')) // a raw agent
    rawSend(raw, datapath.address, datagram(3, 32679)) // over libccp's 32678
    rawSend(raw, datapath.address, datagram(3, 25).subarray(0, 24))
    rawSend(raw, datapath.address, datagram(9, 12))
    const atDatapath = datapathReceives(datapath)
    rawSend(raw, datapath.address, datagram(3, 25, 3))
    const [got] = await atDatapath
    expect(sidOf(got!)).toBe(3)
    expect(datapath.stats.dropped).toMatchObject({ oversized: 1, malformed: 2 })
  })

  it('drops datagrams from an unbound sender at the agent: there is no address to answer', async () => {
    const agent = track(openUnixAgent({ dir }))
    rawSend(rawSocket(), agent.address, ready(1))
    const atAgent = agentReceives(agent)
    rawSend(rawSocket(join(root, 'bound')), agent.address, ready(2))
    const [got] = await atAgent
    expect(new DataView(got!.bytes.buffer, got!.bytes.byteOffset).getUint32(8, true)).toBe(2)
    expect(agent.stats.dropped.unaddressed).toBe(1)
  })

  it('counts datagrams that arrive while no handler is set', async () => {
    const { agent, datapath } = pair()
    agent.onMessage(undefined)
    expect(datapath.send(ready(1))).toBe(0)
    await loopTurnsUntil(() => agent.stats.dropped.unhandled === 1)
    const atAgent = agentReceives(agent)
    expect(datapath.send(ready(2))).toBe(0)
    const [got] = await atAgent
    expect(new DataView(got!.bytes.buffer, got!.bytes.byteOffset).getUint32(8, true)).toBe(2)
    expect(agent.stats).toMatchObject({ received: 1, dropped: { unhandled: 1 } })
  })
})

describe('unix transport: an absent or restarted agent', () => {
  it('returns a negative code, and does not throw, when no agent is bound', () => {
    const datapath = track(openUnixDatapath({ dir, name: 'mtcp-0' }))
    const result = datapath.send(ready(1))
    expect(result).toBe(SendResult.ENOENT)
    expect(isPeerAbsent(result)).toBe(true)
    expect(datapath.stats).toMatchObject({ sent: 0, sendFailed: 1 })
  })

  it('returns ECONNREFUSED for a stale agent socket file', () => {
    rawSocket(join(root, 'portus')).close() // bound, then closed: the file stays
    const datapath = track(openUnixDatapath({ dir: root, name: 'mtcp-0' }))
    expect(existsSync(join(root, 'portus'))).toBe(true)
    const result = datapath.send(ready(1))
    expect(result).toBe(SendResult.ECONNREFUSED)
    expect(isPeerAbsent(result)).toBe(true)
  })

  it('reaches an agent that closes and comes back', async () => {
    const datapath = track(openUnixDatapath({ dir, name: 'mtcp-0' }))
    const first = openUnixAgent({ dir })
    let atAgent = agentReceives(first)
    expect(datapath.send(ready(1))).toBe(0)
    await atAgent
    first.close()
    expect(existsSync(first.address)).toBe(false) // close unlinks
    expect(datapath.send(ready(2))).toBe(SendResult.ENOENT)

    const second = track(openUnixAgent({ dir }))
    atAgent = agentReceives(second)
    expect(datapath.send(ready(3))).toBe(0)
    const [got] = await atAgent
    expect(new DataView(got!.bytes.buffer, got!.bytes.byteOffset).getUint32(8, true)).toBe(3)
    expect(datapath.stats).toMatchObject({ sent: 2, sendFailed: 1 })
  })

  it('drops and counts sends to an agent whose queue is full, without throwing or waiting', async () => {
    const { agent, datapath } = pair()
    const attempts = 2000 // far beyond the kernel's queue (net.unix.max_dgram_qlen, 10 by default)
    const message = datagram(1, 64)
    let sent = 0
    for (let index = 0; index < attempts; index++) {
      const result = datapath.send(message)
      expect([0, SendResult.EAGAIN]).toContain(result)
      if (result === 0) sent++
    }
    expect(datapath.stats.dropped.congested).toBeGreaterThan(0)
    expect(datapath.stats.sent + datapath.stats.dropped.congested).toBe(attempts)
    expect(datapath.stats.sent).toBe(sent)
    expect(datapath.stats.sendFailed).toBe(0)
    // Everything the kernel accepted arrives.
    await agentReceives(agent, sent)
    expect(agent.stats.received).toBe(sent)
  })
})

describe('unix transport: the socket file', () => {
  it('replaces a stale socket file at its own path', async () => {
    mkdirSync(dir, { mode: 0o700 })
    const path = join(dir, 'mtcp-0')
    rawSocket(path).close()
    expect(lstatSync(path).isSocket()).toBe(true)
    const logs: Parameters<LogHook>[] = []
    const agent = track(openUnixAgent({ dir }))
    const datapath = track(openUnixDatapath({ dir, name: 'mtcp-0', log: (...entry) => logs.push(entry) }))
    expect(logs.map(([level, message]) => [level, message.includes('stale')])).toEqual([['info', true]])
    const atAgent = agentReceives(agent)
    expect(datapath.send(ready(1))).toBe(0)
    const [got] = await atAgent
    expect(got!.from).toBe(path)
  })

  it('refuses with EADDRINUSE when a live process is bound at the path, and leaves it working', async () => {
    const { agent, datapath } = pair('mtcp-0')
    let thrown: unknown
    try {
      openUnixDatapath({ dir, name: 'mtcp-0' })
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(CcpIpcError)
    expect(thrown).toMatchObject({ code: 'EADDRINUSE', message: expect.stringContaining(datapath.address) })
    expect(() => openUnixAgent({ dir })).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }))
    const atAgent = agentReceives(agent)
    expect(datapath.send(ready(1))).toBe(0)
    await atAgent
  })

  it('refuses with EEXIST to replace something that is not a socket', () => {
    mkdirSync(dir, { mode: 0o700 })
    writeFileSync(join(dir, 'mtcp-0'), 'keep me')
    expect(() => openUnixDatapath({ dir, name: 'mtcp-0' })).toThrow(expect.objectContaining({ code: 'EEXIST' }))
    expect(readFileSync(join(dir, 'mtcp-0'), 'utf8')).toBe('keep me')
  })

  it('unlinks its socket file on close; close is idempotent and sends after it fail with EBADF', () => {
    const { agent, datapath } = pair()
    datapath.close()
    datapath.close()
    expect(existsSync(datapath.address)).toBe(false)
    expect(datapath.send(ready(1))).toBe(SendResult.EBADF)
    expect(agent.sendTo(datapath.address, ready(1))).toBe(SendResult.ENOENT)
    expect(datapath.stats.sendFailed).toBe(1)
  })

  it('does not unlink a socket file that another transport bound after it', () => {
    const first = openUnixDatapath({ dir, name: 'mtcp-0' })
    rmSync(first.address) // someone removed it and a new datapath took the name
    const second = track(openUnixDatapath({ dir, name: 'mtcp-0' }))
    first.close()
    expect(lstatSync(second.address).isSocket()).toBe(true)
  })
})

describe('unix transport: options', () => {
  it('rejects names that are not a file name, with ERR_INVALID_ARG', () => {
    for (const name of ['', '.', '..', 'a/b', 'nul\0', undefined, 7]) {
      expect(() => openUnixDatapath({ dir, name: name as string })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
    }
    expect(() => openUnixDatapath({ dir, name: 'ok', agent: 'x/y' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
    expect(() => openUnixAgent({ dir: '' })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
  })

  it('rejects a path longer than a unix socket address holds, with ENAMETOOLONG', () => {
    expect(() => openUnixDatapath({ dir, name: 'x'.repeat(120) })).toThrow(expect.objectContaining({ code: 'ENAMETOOLONG' }))
    expect(() => openUnixAgent({ dir, name: 'x'.repeat(120) })).toThrow(expect.objectContaining({ code: 'ENAMETOOLONG' }))
    expect(existsSync(dir)).toBe(false) // checked before anything is created
  })

  it('answers sendTo with an unusable address by EINVAL, not by sending elsewhere', () => {
    const agent = track(openUnixAgent({ dir }))
    expect(agent.sendTo(`/${'x'.repeat(200)}`, ready(1))).toBe(SendResult.EINVAL)
    expect(agent.sendTo('', ready(1))).toBe(SendResult.EINVAL)
    expect(agent.stats.sendFailed).toBe(2)
  })

  it('resolves a relative dir, so the agent can answer at the address it sees', () => {
    const cwd = process.cwd()
    process.chdir(root)
    try {
      const datapath = track(openUnixDatapath({ dir: 'relative', name: 'mtcp-0' }))
      expect(datapath.address).toBe(join(root, 'relative', 'mtcp-0'))
    } finally {
      process.chdir(cwd)
    }
  })
})
