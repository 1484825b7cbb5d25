// The server modes over node:net on 127.0.0.1, and `iperf3` against the stock iperf3 client (Debian's
// iperf3, which CI installs): the protocol code is the same whatever carries the connections.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { connect, createServer, type Server } from 'node:net'
import { get } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { skipReason, suiteTitle } from '../../../test/support/environment.js'
import { frame, Iperf3State, runIperf3Client, StreamReader } from './iperf3.js'
import { serveConnections, type ServeHandle, type ServeMode } from './serve.js'

let server: Server | undefined
let handle: ServeHandle | undefined

afterEach(async () => {
  handle?.close()
  if (server !== undefined) {
    server.close()
    await once(server, 'close')
  }
  server = undefined
  handle = undefined
})

async function start(mode: ServeMode, lines: string[] = []): Promise<number> {
  server = createServer({ allowHalfOpen: true })
  handle = serveConnections(server, { mode, onLine: (line) => lines.push(line), congestionControl: 'cubic' })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return (server.address() as { port: number }).port
}

describe('serveConnections', () => {
  it('discard counts what arrives and closes when the client does', async () => {
    const port = await start('discard')
    const socket = connect(port, '127.0.0.1')
    socket.end(Buffer.alloc(100_000, 1))
    await once(socket, 'close')
    expect(handle!.stats).toMatchObject({ accepted: 1, bytesIn: 100_000, bytesOut: 0 })
  })

  it('echo sends back every byte, in order', async () => {
    const port = await start('echo')
    const socket = connect(port, '127.0.0.1')
    const sent = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251))
    const received: Buffer[] = []
    socket.on('data', (data: Buffer) => received.push(data))
    socket.end(sent)
    await once(socket, 'close')
    expect(Buffer.concat(received).equals(sent)).toBe(true)
    expect(handle!.stats).toMatchObject({ bytesIn: 70_000, bytesOut: 70_000 })
  })

  it('http answers requests on a kept-alive connection', async () => {
    const port = await start('http')
    const body = await new Promise<string>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/hello' }, (response) => {
        let text = ''
        response.on('data', (data: Buffer) => (text += data.toString()))
        response.on('end', () => resolve(text))
      }).on('error', reject)
    })
    expect(body).toBe('mtcp-perf serve: GET /hello\n')
    expect(handle!.stats.requests).toBe(1)
  })
})

describe('iperf3 mode, as iperf 3.12\'s client drives it', () => {
  // iperf 3.12's client reads its data streams without blocking while the test runs, then blocking, a
  // whole block at a time, until the server's EXCHANGE_RESULTS: after a short read it waits on the data
  // stream, not on the control connection. A stock server closes the data streams at TEST_END; one that
  // keeps them open until IPERF_DONE leaves that client waiting for ever (this test then times out).
  it('ends the data streams at TEST_END, before the results exchange', async () => {
    const port = await start('iperf3')
    const cookie = Buffer.from(`${'c'.repeat(36)}\0`, 'latin1')
    const control = connect(port, '127.0.0.1')
    await once(control, 'connect')
    const reader = new StreamReader(control)
    control.write(cookie)
    expect((await reader.read(1)).readInt8(0)).toBe(Iperf3State.PARAM_EXCHANGE)
    control.write(frame({ tcp: true, time: 1, parallel: 2, reverse: true, len: 128 * 1024 }))
    expect((await reader.read(1)).readInt8(0)).toBe(Iperf3State.CREATE_STREAMS)
    const streams = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1')]
    const received = [0, 0]
    for (const [i, stream] of streams.entries()) {
      await once(stream, 'connect')
      stream.on('data', (data: Buffer) => (received[i]! += data.byteLength))
      stream.write(cookie)
    }
    const ended = streams.map((stream) => once(stream, 'end'))
    expect([...(await reader.read(2))]).toEqual([Iperf3State.TEST_START, Iperf3State.TEST_RUNNING])
    control.write(Buffer.of(Iperf3State.TEST_END))
    await Promise.all(ended)
    expect((await reader.read(1)).readInt8(0)).toBe(Iperf3State.EXCHANGE_RESULTS)
    control.write(frame({ streams: [{ id: 1 }, { id: 3 }] }))
    const results = JSON.parse((await reader.read((await reader.read(4)).readUInt32BE(0))).toString('utf8')) as { streams: { bytes: number }[] }
    // What the server reports sending is what arrived: it ended the streams after its last block.
    expect(results.streams.map((stream) => stream.bytes)).toEqual(received)
    expect((await reader.read(1)).readInt8(0)).toBe(Iperf3State.DISPLAY_RESULTS)
    control.end(Buffer.of(Iperf3State.IPERF_DONE))
    await once(control, 'close')
    expect(handle!.stats.requests).toBe(1)
  })
})

const skip = skipReason({ tools: ['iperf3'] })
// Each test runs iperf3 for a second or two: a budget of their own, not vitest's 5 s.
describe.skipIf(skip !== undefined)(suiteTitle('iperf3 mode against the stock iperf3 client', skip), { timeout: 120_000 }, () => {
  /** Run `iperf3 -c` against our server with `args` (asynchronously: the server runs in this process), and read its JSON. */
  async function iperf3(port: number, ...args: string[]) {
    const client = spawn('iperf3', ['-c', '127.0.0.1', '-p', String(port), '-t', '1', '-J', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    client.stdout.on('data', (data: Buffer) => (stdout += data.toString()))
    client.stderr.on('data', (data: Buffer) => (stderr += data.toString()))
    const [code] = await once(client, 'close')
    expect(code, `${stdout}\n${stderr}`).toBe(0)
    return JSON.parse(stdout) as { end: { sum_sent: { bytes: number }; sum_received: { bytes: number }; streams: unknown[] } }
  }

  it('measures a test as a stock iperf3 server would: the client reports our count as the receiver', async () => {
    const lines: string[] = []
    const port = await start('iperf3', lines)
    const result = await iperf3(port)
    // sum_received comes from the results we send: our count when the client said TEST_END, as a stock
    // iperf3 server counts. Bytes still in flight then arrive after it (bytesIn counts them too), so the
    // reported count is at most what arrived in the end and at most what the client sent.
    expect(handle!.stats.requests).toBe(1)
    expect(lines[0]).toMatch(/^iperf3: test from a client, 1 stream, we receive, 1 s$/)
    const reported = Number(/^iperf3: test done: (\d+) bytes received in \d+\.\d{3} s$/.exec(lines[1] ?? '')?.[1])
    expect(result.end.sum_received.bytes).toBe(reported)
    expect(result.end.sum_received.bytes).toBeGreaterThan(0)
    expect(result.end.sum_received.bytes).toBeLessThanOrEqual(handle!.stats.bytesIn)
    expect(handle!.stats.bytesIn).toBeLessThanOrEqual(result.end.sum_sent.bytes)
  })

  it('sends in reverse mode (-R) on parallel streams (-P 2), and takes the next test after', async () => {
    const port = await start('iperf3')
    const reverse = await iperf3(port, '-R', '-P', '2')
    expect(reverse.end.streams).toHaveLength(2)
    expect(reverse.end.sum_received.bytes).toBeGreaterThan(0)
    expect(reverse.end.sum_sent.bytes).toBeGreaterThanOrEqual(reverse.end.sum_received.bytes)
    const forward = await iperf3(port)
    expect(forward.end.sum_received.bytes).toBeGreaterThan(0)
    expect(handle!.stats.requests).toBe(2)
  })

  /** A stock `iperf3 -s` for one test on a free port of 127.0.0.1, once it says it listens. */
  async function stockServer(): Promise<{ port: number; done: Promise<unknown> }> {
    const probe = createServer().listen(0, '127.0.0.1')
    await once(probe, 'listening')
    const { port } = probe.address() as { port: number }
    probe.close()
    await once(probe, 'close')
    const server = spawn('iperf3', ['-s', '-1', '-p', String(port), '-B', '127.0.0.1', '--forceflush'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const done = once(server, 'close')
    let output = ''
    await new Promise<void>((resolve, reject) => {
      server.stdout.on('data', (data: Buffer) => {
        output += data.toString()
        if (output.includes(`Server listening on ${port}`)) resolve()
      })
      void done.then(() => reject(new Error(`iperf3 -s exited: ${output}`)))
    })
    return { port, done }
  }

  it('runIperf3Client runs a test against the stock iperf3 server, on two streams', async () => {
    const { port, done } = await stockServer()
    const result = await runIperf3Client({ connect: () => connect(port, '127.0.0.1'), seconds: 1, parallel: 2 })
    await done
    expect(result.bytesSent).toBeGreaterThan(0)
    expect(result.serverBytes).toBeGreaterThan(0)
    expect(result.serverBytes).toBeLessThanOrEqual(result.bytesSent)
    expect((result.serverResults.streams as unknown[]).length).toBe(2)
  })

  it('runIperf3Client receives in reverse mode (-R) from the stock iperf3 server', async () => {
    const { port, done } = await stockServer()
    const result = await runIperf3Client({ connect: () => connect(port, '127.0.0.1'), seconds: 1, reverse: true })
    await done
    expect(result.bytesReceived).toBeGreaterThan(0)
    expect(result.bytesReceived).toBeLessThanOrEqual(result.serverBytes)
  })
})
