// mtcp-recv as a program (the built dist/cli.js), against a sender written here from the protocol
// description alone, over node:net on 127.0.0.1.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'

const cli = join(import.meta.dirname, '..', 'dist', 'cli.js')
const children: ChildProcess[] = []

beforeAll(() => {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build first (pnpm --filter @mtcp/recv build)`)
})

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill()
})

/** Run the CLI; lines of its stdout arrive through `next()` in order. */
function run(...args: string[]): { child: ChildProcess; next: () => Promise<string>; exit: Promise<number | null> } {
  return runWith(process.execPath, ...args)
}

/** {@link run} with another Node binary. */
function runWith(node: string, ...args: string[]): { child: ChildProcess; next: () => Promise<string>; exit: Promise<number | null> } {
  const child = spawn(node, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  const lines: string[] = []
  const waiting: ((line: string) => void)[] = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const waiter = waiting.shift()
    if (waiter) waiter(line)
    else lines.push(line)
  })
  const exit = once(child, 'exit').then(([code]) => code as number | null)
  const next = (): Promise<string> => {
    const line = lines.shift()
    return line !== undefined ? Promise.resolve(line) : new Promise((resolve) => waiting.push(resolve))
  }
  return { child, next, exit }
}

/**
 * The sender side of the protocol: `chunks` chunks of 8192 bytes (0x90 … 0x90 0x00), the marker 0x96,
 * then read the reply and close. Resolves with the reply and the data bytes written (the marker not counted).
 */
function sendTransfer(socket: Socket, chunks: number): Promise<{ reply: string; sent: number }> {
  const chunk = Buffer.alloc(8192, 0x90)
  chunk[8191] = 0x00
  let sent = 0
  return new Promise((resolve, reject) => {
    let reply = ''
    socket.on('error', reject)
    socket.on('data', (data: Buffer) => {
      reply += data.toString('latin1')
      if (reply.endsWith('\n')) {
        socket.end()
        resolve({ reply, sent })
      }
    })
    const pump = (): void => {
      while (sent < chunks * 8192) {
        sent += chunk.length
        if (!socket.write(chunk)) return void socket.once('drain', pump)
      }
      socket.write(Buffer.from([0x96]))
    }
    pump()
  })
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

const INTERVAL = /^\d+\.\d+ \d{2}\d*\.\d{3} Mbps$/
const DONE = /^Done with 127\.0\.0\.1:(\d+), bytes_rcvd: (\d+), time: (\d+\.\d+(?:e-\d+)?), thru: (\d+\.\d+(?:e[+-]\d+)?)Mbps$/

describe('mtcp-recv wait', () => {
  it("prints recv.py's lines, counts every byte, answers OK, and exits after one transfer with --once", async () => {
    const port = await freePort()
    const receiver = run('wait', '127.0.0.1', String(port), '--once')
    expect(await receiver.next()).toBe('Server ready...')
    expect(await receiver.next()).toBe(`Listening on 127.0.0.1:${port}`)
    const socket = netConnect({ host: '127.0.0.1', port })
    await once(socket, 'connect')
    const transfer = sendTransfer(socket, 5000)
    expect(await receiver.next()).toBe('Connected!')
    const lines: string[] = []
    for (let line = await receiver.next(); !line.startsWith('Done with'); line = await receiver.next()) lines.push(line)
    const { reply } = await transfer
    expect(reply).toBe('OK\n')
    expect(lines.at(-1)).toBe('Received END from client')
    for (const line of lines.slice(0, -1)) expect(line).toMatch(INTERVAL)
    expect(await receiver.exit).toBe(0)
  })

  it('reports the byte count of the transfer, the marker included, in its last line', async () => {
    const port = await freePort()
    const receiver = run('wait', '127.0.0.1', String(port), '--once')
    expect(await receiver.next()).toBe('Server ready...')
    expect(await receiver.next()).toBe(`Listening on 127.0.0.1:${port}`)
    const socket = netConnect({ host: '127.0.0.1', port })
    const transfer = sendTransfer(socket, 1234)
    let line = await receiver.next()
    while (!line.startsWith('Done with')) line = await receiver.next()
    const match = DONE.exec(line)
    expect(match, line).not.toBeNull()
    const { sent } = await transfer
    expect(Number(match![2])).toBe(sent + 1)
    expect(Number(match![1])).toBe(socket.localPort)
    const seconds = Number(match![3])
    expect(Number(match![4])).toBeCloseTo(((sent + 1) / seconds) * 8e-6, 3)
    expect(await receiver.exit).toBe(0)
  })

  it('with port 0, prints the port it chose, and receives on it', async () => {
    const receiver = run('wait', '127.0.0.1', '0', '--once')
    expect(await receiver.next()).toBe('Server ready...')
    const listening = /^Listening on 127\.0\.0\.1:(\d+)$/.exec(await receiver.next())
    expect(listening).not.toBeNull()
    const port = Number(listening![1])
    expect(port).toBeGreaterThan(0)
    const socket = netConnect({ host: '127.0.0.1', port })
    expect((await sendTransfer(socket, 10)).reply).toBe('OK\n')
    expect(await receiver.exit).toBe(0)
  })

  it('drops a connection that sends nothing for --idle-timeout, naming why, and ends with --once', async () => {
    const receiver = run('wait', '127.0.0.1', '0', '--once', '--idle-timeout', '0.2', '--json')
    const ready = JSON.parse(await receiver.next())
    const socket = netConnect({ host: '127.0.0.1', port: ready.port })
    const closed = once(socket, 'close')
    expect(JSON.parse(await receiver.next())).toMatchObject({ event: 'connected' })
    const failure = JSON.parse(await receiver.next())
    expect(failure).toMatchObject({ event: 'error', code: 'ERR_STREAM' })
    expect(failure.message).toContain('nothing received for 0.2 s (--idle-timeout)')
    await closed
    expect(await receiver.exit).toBe(1)
  })

  it('with --json, prints one JSON object per line: ready, connected, done', async () => {
    const receiver = run('wait', '127.0.0.1', '0', '--once', '--json')
    const ready = JSON.parse(await receiver.next())
    expect(ready).toMatchObject({ event: 'ready', host: '127.0.0.1' })
    const socket = netConnect({ host: '127.0.0.1', port: ready.port })
    const transfer = sendTransfer(socket, 100)
    const events = []
    for (let event = JSON.parse(await receiver.next()); ; event = JSON.parse(await receiver.next())) {
      events.push(event)
      if (event.event === 'done') break
    }
    const { sent } = await transfer
    expect(events[0]).toMatchObject({ event: 'connected', host: '127.0.0.1', port: socket.localPort })
    expect(events.at(-1)).toMatchObject({ event: 'done', bytes: sent + 1, endedBy: 'marker', mismatchedChunks: 0, replied: true })
    expect(await receiver.exit).toBe(0)
  })
})

/** Whether this host can listen on ::1 (IPv6 loopback); CI must have it, elsewhere the IPv6 tests are skipped. */
async function ipv6LoopbackAvailable(): Promise<boolean> {
  const server = createServer()
  try {
    server.listen(0, '::1')
    await once(server, 'listening')
    server.close()
    return true
  } catch {
    return false
  }
}
const hasIpv6 = await ipv6LoopbackAvailable()
if (!hasIpv6 && process.env.CI !== undefined) throw new Error('CI must have IPv6 loopback (::1) for the mtcp-recv IPv6 tests')
const DONE6 = /^Done with \[::1\]:(\d+), bytes_rcvd: (\d+), time: /

describe.skipIf(!hasIpv6)(`mtcp-recv over IPv6 loopback, with kernel (node:net) peers${hasIpv6 ? '' : ' (skipped: this host has no ::1)'}`, () => {
  it('wait ::1: prints [::1]:<port>, takes a kernel IPv6 client, reports the peer as [::1]:<its port>', async () => {
    const receiver = run('wait', '::1', '0', '--once')
    expect(await receiver.next()).toBe('Server ready...')
    const listening = /^Listening on \[::1\]:(\d+)$/.exec(await receiver.next())
    expect(listening).not.toBeNull()
    const socket = netConnect({ host: '::1', port: Number(listening![1]) })
    await once(socket, 'connect')
    expect(socket.remoteFamily).toBe('IPv6')
    const transfer = sendTransfer(socket, 300)
    expect(await receiver.next()).toBe('Connected!')
    let line = await receiver.next()
    while (!line.startsWith('Done with')) line = await receiver.next()
    const done = DONE6.exec(line)
    expect(done, line).not.toBeNull()
    expect(Number(done![1])).toBe(socket.localPort)
    expect(Number(done![2])).toBe((await transfer).sent + 1)
    expect(await receiver.exit).toBe(0)
  })

  it('wait [::1]:<port> in one argument, with --json: the host is ::1 without brackets', async () => {
    const port = await freePort()
    const receiver = run('wait', `[::1]:${port}`, '--once', '--json')
    expect(JSON.parse(await receiver.next())).toEqual({ event: 'ready', host: '::1', port })
    const socket = netConnect({ host: '::1', port })
    await once(socket, 'connect')
    const transfer = sendTransfer(socket, 50)
    expect(JSON.parse(await receiver.next())).toEqual({ event: 'connected', host: '::1', port: socket.localPort })
    let event = JSON.parse(await receiver.next())
    while (event.event !== 'done') event = JSON.parse(await receiver.next())
    expect(event).toMatchObject({ host: '::1', port: socket.localPort, bytes: (await transfer).sent + 1, endedBy: 'marker' })
    expect(await receiver.exit).toBe(0)
  })

  it('wait :: is dual-stack: an IPv4 kernel client is reported in RFC 5952 mixed notation, ::ffff:127.0.0.1', async () => {
    const receiver = run('wait', '::', '0', '--once', '--json')
    const ready = JSON.parse(await receiver.next())
    expect(ready).toMatchObject({ event: 'ready', host: '::' })
    const socket = netConnect({ host: '127.0.0.1', port: ready.port })
    const transfer = sendTransfer(socket, 50)
    expect(JSON.parse(await receiver.next())).toMatchObject({ event: 'connected', host: '::ffff:127.0.0.1' })
    let event = JSON.parse(await receiver.next())
    while (event.event !== 'done') event = JSON.parse(await receiver.next())
    expect(event).toMatchObject({ host: '::ffff:127.0.0.1', bytes: (await transfer).sent + 1 })
    expect(await receiver.exit).toBe(0)
  })

  it('wait :: --ipv6-only refuses IPv4 clients and takes IPv6 ones', async () => {
    const receiver = run('wait', '::', '0', '--once', '--ipv6-only', '--json')
    const ready = JSON.parse(await receiver.next())
    const refused = netConnect({ host: '127.0.0.1', port: ready.port })
    const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException]
    expect(error.code).toBe('ECONNREFUSED')
    const socket = netConnect({ host: '::1', port: ready.port })
    const transfer = sendTransfer(socket, 20)
    expect(JSON.parse(await receiver.next())).toMatchObject({ event: 'connected', host: '::1' })
    expect((await transfer).reply).toBe('OK\n')
    expect(await receiver.exit).toBe(0)
  })

  it('send [::1]:<port>: connects to a kernel IPv6 listener and reports it as [::1]:<port>', async () => {
    const server: Server = createServer()
    server.listen(0, '::1')
    await once(server, 'listening')
    const { port } = server.address() as { port: number }
    const receiver = run('send', `[::1]:${port}`)
    const [socket] = (await once(server, 'connection')) as [Socket]
    expect(socket.remoteAddress).toBe('::1')
    const transfer = sendTransfer(socket, 100)
    expect(await receiver.next()).toBe('Connected')
    let line = await receiver.next()
    while (!line.startsWith('Done with')) line = await receiver.next()
    expect(DONE6.exec(line)?.[1]).toBe(String(port))
    expect((await transfer).reply).toBe('OK\n')
    expect(await receiver.exit).toBe(0)
    server.close()
  })

  it('send with a long-form IPv6 address reports it in RFC 5952 form', async () => {
    const server: Server = createServer()
    server.listen(0, '::1')
    await once(server, 'listening')
    const { port } = server.address() as { port: number }
    const receiver = run('send', '0000:0000:0000:0000:0000:0000:0000:0001', String(port), '--json')
    const [socket] = (await once(server, 'connection')) as [Socket]
    const transfer = sendTransfer(socket, 10)
    expect(JSON.parse(await receiver.next())).toEqual({ event: 'connected', host: '::1', port })
    let event = JSON.parse(await receiver.next())
    while (event.event !== 'done') event = JSON.parse(await receiver.next())
    expect(event).toMatchObject({ host: '::1', port })
    await transfer
    expect(await receiver.exit).toBe(0)
    server.close()
  })
})

// CI points MTCP_NODE18 at a Node 18 binary (the oldest the package supports); locally the test is skipped without it.
const node18 = process.env.MTCP_NODE18
describe.skipIf(node18 === undefined)('mtcp-recv on Node 18', () => {
  it('runs a whole transfer: the same lines, OK, exit 0', async () => {
    const version = spawnSync(node18!, ['--version'], { encoding: 'utf8' }).stdout.trim()
    expect(version).toMatch(/^v18\./)
    const port = await freePort()
    const receiver = runWith(node18!, 'wait', '127.0.0.1', String(port), '--once')
    expect(await receiver.next()).toBe('Server ready...')
    expect(await receiver.next()).toBe(`Listening on 127.0.0.1:${port}`)
    const socket = netConnect({ host: '127.0.0.1', port })
    await once(socket, 'connect')
    const transfer = sendTransfer(socket, 2000)
    expect(await receiver.next()).toBe('Connected!')
    let line = await receiver.next()
    while (!line.startsWith('Done with')) line = await receiver.next()
    expect((await transfer).reply).toBe('OK\n')
    expect(Number(DONE.exec(line)![2])).toBe(2000 * 8192 + 1)
    expect(await receiver.exit).toBe(0)
  })
})

describe('mtcp-recv send', () => {
  it('connects to a waiting sender, receives one transfer and answers OK', async () => {
    const server: Server = createServer()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as { port: number }
    const receiver = run('send', '127.0.0.1', String(port))
    const [socket] = (await once(server, 'connection')) as [Socket]
    const transfer = sendTransfer(socket, 2000)
    expect(await receiver.next()).toBe('Connected')
    let line = await receiver.next()
    while (line !== 'Received END from client') {
      expect(line).toMatch(INTERVAL)
      line = await receiver.next()
    }
    const match = DONE.exec(await receiver.next())
    const { reply, sent } = await transfer
    expect(reply).toBe('OK\n')
    expect(Number(match![1])).toBe(port)
    expect(Number(match![2])).toBe(sent + 1)
    expect(await receiver.exit).toBe(0)
    server.close()
  })

  it('exits 1 naming the error when nobody is waiting', async () => {
    const port = await freePort()
    const result = spawnSync(process.execPath, [cli, 'send', '127.0.0.1', String(port)], { encoding: 'utf8' })
    expect(result.status).toBe(1)
    expect(result.stderr).toContain('ECONNREFUSED')
  })
})

describe('mtcp-recv usage errors exit 2 naming the problem', () => {
  it.each([
    [['wait', '127.0.0.1', 'x'], '<port> must be an integer in [0, 65535], got "x"'],
    [['send', '127.0.0.1', '0'], '<port> must be an integer in [1, 65535]'],
    [['listen', '127.0.0.1', '5'], '<mode> must be wait or send, got "listen"'],
    [['wait', '10.0.0', '5'], '<ip> must be an IPv4 address (10.0.0.1) or an IPv6 address (::1, or bracketed [::1]), optionally with :<port> (10.0.0.1:5001, [::1]:5001), got "10.0.0"'],
    [['wait', '[10.0.0.1]', '5'], '<ip> must be an IPv4 address (10.0.0.1) or an IPv6 address (::1, or bracketed [::1])'],
    [['wait', '[::1', '5'], 'got "[::1"'],
    [['wait', '::1:5001'], 'missing <port>: an integer in [0, 65535]; after an IPv6 address, give the port as the next argument or write [::1:5001]:<port>'],
    [['wait', '[::1]:99999'], '<port> must be an integer in [0, 65535], got "99999"'],
    [['wait', '[::1]:5001', '5002'], 'unexpected argument "5002"'],
    [['send', '10.0.0.1:0'], '<port> must be an integer in [1, 65535], got "0"'],
    [['wait', '0.0.0.0', '5', '--ipv6-only'], '--ipv6-only applies to wait on an IPv6 address (wait :: <port>), got wait "0.0.0.0"'],
    [['send', '::1', '5', '--ipv6-only'], '--ipv6-only applies to wait on an IPv6 address'],
    [['wait', '127.0.0.1'], 'missing <port>'],
    [['wait', '127.0.0.1', '5', '--bogus'], 'unknown flag --bogus; accepted: --once, --ipv6-only, --idle-timeout, --json, --help'],
    [['wait', '127.0.0.1', '5', '--idle-timeout', '-1'], "--idle-timeout needs a value (for a value starting with '-', write --idle-timeout=<value>)"],
    [['wait', '127.0.0.1', '5', '--idle-timeout=0.01'], '--idle-timeout must be a number of seconds in [0.1, 86400], or 0 for never, got "0.01"'],
    [['wait', '127.0.0.1', '5', '--idle-timeout'], '--idle-timeout needs a value'],
    [['wait', '127.0.0.1', '5', '--json=yes'], '--json takes no value'],
    [['send', '127.0.0.1', '5', '--once'], '--once applies to wait only'],
    [['wait', '127.0.0.1', '5', 'extra'], 'unexpected argument "extra"'],
  ])('%j', (args, message) => {
    const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' })
    expect(result.status).toBe(2)
    expect(result.stderr).toContain(message)
    expect(result.stderr).toMatch(/^mtcp-recv: [^\n]+ \(mtcp-recv --help lists the flags\)\n$/)
    expect(result.stdout).toBe('')
  })

  it('--help (or -h, anywhere) prints the usage on stdout and exits 0', () => {
    for (const args of [['--help'], ['wait', '-h'], ['wait', '--bogus', '--help']]) {
      const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' })
      expect(result.status).toBe(0)
      expect(result.stdout).toMatch(/^usage: mtcp-recv wait <ip> <port>/)
      expect(result.stderr).toBe('')
    }
  })
})
