import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { InProcessHub, openUnixDatapath } from '@mtcp/ccp-ipc'
import { decodeMessage, encodeMessage, MessageType } from '@mtcp/libccp'
import { describe, expect, it } from 'vitest'
import { parseCliArguments, runCli, USAGE, UsageError, type CliProcess } from './cli-main.js'

function usageError(argv: string[]): string {
  try {
    parseCliArguments(argv)
  } catch (error) {
    if (error instanceof UsageError) return error.message
    throw error
  }
  throw new Error(`no usage error for ${argv.join(' ')}`)
}

describe('mtcp-ccp arguments', () => {
  it('takes an algorithm and the flags in any order, with or without =', () => {
    expect(parseCliArguments(['reno'])).toEqual({ algorithm: 'reno', dir: '/tmp/ccp', name: 'portus', verbose: false })
    expect(parseCliArguments(['--dir', '/run/ccp', 'bbr', '--name=agent', '-v'])).toEqual({ algorithm: 'bbr', dir: '/run/ccp', name: 'agent', verbose: true })
    expect(parseCliArguments(['--verbose', 'cubic', '--dir=/x'])).toEqual({ algorithm: 'cubic', dir: '/x', name: 'portus', verbose: true })
    expect(parseCliArguments(['reno', '--help'])).toBe('help')
  })

  it.each([
    [['reno', '--port', '3'], /unknown flag --port: accepted flags are --dir <directory>, --name <name>, --verbose, --help/],
    [['vegas'], /unknown algorithm 'vegas': one of reno, cubic, bbr/],
    [[], /missing the algorithm: one of reno, cubic, bbr/],
    [['reno', 'cubic'], /one algorithm only/],
    [['reno', '--dir'], /--dir needs a directory/],
    [['reno', '--dir', '--verbose'], /--dir needs a directory/],
    [['reno', '--name='], /--name needs a socket name/],
    [['reno', '--name', 'a/b'], /--name must be a file name inside --dir/],
    [['reno', '--verbose=yes'], /--verbose takes no value/],
    [['reno', '-x'], /unknown flag -x: accepted flags are/],
  ])('%j → %s', (argv, message) => {
    expect(usageError(argv)).toMatch(message)
  })
})

interface FakeProcess extends CliProcess {
  out: string
  err: string
  exitCode: number | undefined
  signals: Map<string, () => void>
}

function fakeProcess(argv: string[], extra: Partial<CliProcess> = {}): FakeProcess {
  const io: FakeProcess = {
    argv,
    out: '',
    err: '',
    exitCode: undefined,
    signals: new Map(),
    writeOut: (text) => {
      io.out += text
    },
    writeErr: (text) => {
      io.err += text
    },
    onSignal: (signal, handler) => io.signals.set(signal, handler),
    exit: (code) => {
      io.exitCode = code
    },
    ...extra,
  }
  return io
}

describe('mtcp-ccp in process', () => {
  it('prints one line naming the bad flag (no usage) and exits 2', () => {
    const io = fakeProcess(['cubic', '--fast'])
    expect(runCli(io)).toBeUndefined()
    expect(io.exitCode).toBe(2)
    expect(io.err).toBe('mtcp-ccp: unknown flag --fast: accepted flags are --dir <directory>, --name <name>, --verbose, --help (mtcp-ccp --help lists the flags)\n')
  })

  it('prints the usage on --help and exits 0', () => {
    const io = fakeProcess(['--help'])
    runCli(io)
    expect(io.exitCode).toBe(0)
    expect(io.out).toBe(`${USAGE}\n`)
  })

  it('runs the named algorithm for every flow and closes on SIGTERM', () => {
    const hub = new InProcessHub({ synchronous: true })
    const io = fakeProcess(['bbr', '--name', 'agent-x'], { openTransport: ({ name }) => hub.agent(name) })
    const agent = runCli(io)!
    expect(io.exitCode).toBeUndefined()
    expect(agent.algorithms).toEqual(['bbr'])
    expect(io.err).toContain('bbr listening at agent-x')
    const datapath = hub.datapath('dp', { agent: 'agent-x' })
    const answers: number[] = []
    datapath.onMessage((bytes) => answers.push(decodeMessage(bytes).type))
    datapath.send(encodeMessage({ type: MessageType.Ready, sid: 0, id: 1 }))
    // A CREATE asking for reno gets BBR: the command runs one algorithm, as a portus binary does.
    datapath.send(encodeMessage({ type: MessageType.Create, sid: 1, initCwnd: 14480, mss: 1448, srcIp: 0, srcPort: 0, dstIp: 0, dstPort: 0, congAlg: 'reno' }))
    expect(answers).toEqual([MessageType.InstallExpr, MessageType.InstallExpr, MessageType.InstallExpr, MessageType.ChangeProg])
    expect([...io.signals.keys()].sort()).toEqual(['SIGINT', 'SIGTERM'])
    io.signals.get('SIGTERM')!()
    expect(io.exitCode).toBe(0)
    expect(io.err).toContain('closed after 1 flows, 0 reports, 0 errors')
    // The agent's name is free again.
    expect(() => hub.agent('agent-x').close()).not.toThrow()
  })

  it('exits 1 with the reason when it cannot bind', () => {
    const io = fakeProcess(['reno'], {
      openTransport: () => {
        throw Object.assign(new Error('address in use'), { code: 'EADDRINUSE' })
      },
    })
    expect(runCli(io)).toBeUndefined()
    expect(io.exitCode).toBe(1)
    expect(io.err).toContain('cannot start the agent at /tmp/ccp/portus: address in use (EADDRINUSE)')
  })
})

describe('the mtcp-ccp executable (dist/cli.js)', () => {
  const cli = join(import.meta.dirname, '..', 'dist', 'cli.js')

  function run(args: string[]): { child: ReturnType<typeof spawn>; exit: Promise<number | null>; stderr: () => string; line: (text: string) => Promise<void> } {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    const waiting: { text: string; resolve: () => void }[] = []
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      for (const w of waiting.filter((w) => stderr.includes(w.text))) w.resolve()
    })
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    return {
      child,
      exit,
      stderr: () => stderr,
      line: (text) => (stderr.includes(text) ? Promise.resolve() : new Promise((resolve) => waiting.push({ text, resolve }))),
    }
  }

  it('exits 2 on a bad flag, naming it', async () => {
    const process = run(['reno', '--bogus'])
    expect(await process.exit).toBe(2)
    expect(process.stderr()).toContain('unknown flag --bogus')
  })

  it.each(['SIGTERM', 'SIGINT'] as const)('binds the socket, answers a datapath, and unlinks it on %s', async (signal) => {
    const dir = mkdtempSync(join(tmpdir(), 'mtcp-ccp-cli-'))
    try {
      const agent = run(['reno', '--dir', dir, '--name', 'portus'])
      await agent.line('listening at')
      expect(existsSync(join(dir, 'portus'))).toBe(true)
      const datapath = openUnixDatapath({ dir, name: 'dp', agent: 'portus' })
      const installs = new Promise<number>((resolve) => {
        let count = 0
        datapath.onMessage((bytes) => {
          if (decodeMessage(bytes).type === MessageType.InstallExpr && ++count === 4) resolve(count)
        })
      })
      expect(datapath.send(encodeMessage({ type: MessageType.Ready, sid: 0, id: 1 }))).toBe(0)
      expect(await installs).toBe(4)
      datapath.close()
      agent.child.kill(signal)
      expect(await agent.exit).toBe(0)
      expect(existsSync(join(dir, 'portus'))).toBe(false)
      expect(agent.stderr()).toContain('closed after')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
