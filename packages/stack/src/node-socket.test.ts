// The Node-style API: net.Socket-like behaviour, and node:http running unchanged over the stack.
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import http from 'node:http'
import { createMemoryLink } from '@mtcp/dpdk-io'
import { afterEach, describe, expect, it } from 'vitest'
import type { TcpSocket } from './node-socket.js'
import { createStack, type Stack } from './stack.js'

let cleanups: Array<() => void> = []
afterEach(() => {
  for (const cleanup of cleanups) cleanup()
  cleanups = []
})

/** Two stacks on the real clock, joined by a fast emulated link. */
function pair(): { a: Stack; b: Stack } {
  const link = createMemoryLink({ impairments: { rate: 10e9, delay: 50 } })
  const a = createStack({ port: link.a, address: '10.0.0.1/24' })
  const b = createStack({ port: link.b, address: '10.0.0.2/24' })
  cleanups.push(() => {
    a.stop()
    b.stop()
    link.close()
  })
  return { a, b }
}

describe('TcpSocket and TcpServer', () => {
  it('connect, data both ways, end, close, with addresses and byte counts', async () => {
    const { a, b } = pair()
    const server = b.createServer((socket) => {
      socket.on('data', (data: Buffer) => socket.write(data.toString().toUpperCase()))
      socket.on('end', () => socket.end())
    })
    server.listen(7)
    await once(server, 'listening')
    expect(server.address()).toEqual({ address: '10.0.0.2', port: 7, family: 'IPv4' })
    const socket = a.connect({ host: '10.0.0.2', port: 7 })
    expect(socket.connecting).toBe(true)
    await once(socket, 'connect')
    expect(socket.remoteAddress).toBe('10.0.0.2')
    expect(socket.remotePort).toBe(7)
    expect(socket.localAddress).toBe('10.0.0.1')
    socket.end('hello')
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    await once(socket, 'close')
    expect(Buffer.concat(chunks).toString()).toBe('HELLO')
    expect(socket.bytesWritten).toBe(5)
    expect(socket.bytesRead).toBe(5)
  })

  it('end() again after the socket finished: a bare call is a no-op, with a callback Node\'s ERR_STREAM_ALREADY_FINISHED', async () => {
    const { a, b } = pair()
    const server = b.createServer((socket) => {
      socket.resume()
      socket.on('end', () => socket.end())
    })
    server.listen(7)
    await once(server, 'listening')
    const socket = a.connect({ host: '10.0.0.2', port: 7 })
    await once(socket, 'connect')
    socket.resume()
    socket.end('x')
    await once(socket, 'finish')
    const errors: Error[] = []
    socket.on('error', (error: Error) => errors.push(error))
    expect(socket.end()).toBe(socket) // what node:http's server does once per connection
    const fromCallback = await new Promise<Error | undefined>((resolve) => socket.end(resolve as () => void))
    expect((fromCallback as NodeJS.ErrnoException | undefined)?.code).toBe('ERR_STREAM_ALREADY_FINISHED')
    await once(socket, 'close')
    expect(errors).toEqual([])
  })

  it('moves 8 MB through pipe() with backpressure, intact', async () => {
    const { a, b } = pair()
    const received = createHash('sha256')
    let total = 0
    const done = new Promise<void>((resolve) => {
      b.createServer((socket) => {
        socket.on('data', (chunk: Buffer) => {
          received.update(chunk)
          total += chunk.length
        })
        socket.on('end', () => {
          socket.end()
          resolve()
        })
      }).listen(9)
    })
    const socket = a.connect({ host: '10.0.0.2', port: 9 })
    const sent = createHash('sha256')
    let writes = 0
    let refused = 0
    const write = (): void => {
      while (writes < 128) {
        const chunk = Buffer.alloc(64 * 1024, writes & 0xff)
        sent.update(chunk)
        writes++
        if (!socket.write(chunk)) {
          refused++
          socket.once('drain', write)
          return
        }
      }
      socket.end()
    }
    write()
    await done
    expect(total).toBe(128 * 64 * 1024)
    expect(received.digest('hex')).toBe(sent.digest('hex'))
    expect(refused).toBeGreaterThan(0) // the stream really pushed back
  })

  it('emits ECONNREFUSED as an error event', async () => {
    const { a } = pair()
    const socket = a.connect({ host: '10.0.0.2', port: 1 })
    const closed = new Promise((resolve) => socket.on('close', resolve))
    const [error] = (await once(socket, 'error')) as [Error & { code: string }]
    expect(error.code).toBe('ECONNREFUSED')
    await closed
  })

  it('emits EADDRINUSE from listen as an error event', async () => {
    const { b } = pair()
    b.createServer().listen(80)
    const second = b.createServer().listen(80)
    const [error] = (await once(second, 'error')) as [Error & { code: string }]
    expect(error.code).toBe('EADDRINUSE')
  })

  it('times out an idle socket, and destroy() resets the peer', async () => {
    const { a, b } = pair()
    let serverSide: TcpSocket | undefined
    const errors: string[] = []
    b.createServer((socket) => {
      serverSide = socket
      socket.on('error', (error: Error & { code: string }) => errors.push(error.code))
    }).listen(10)
    const socket = a.connect({ host: '10.0.0.2', port: 10 })
    await once(socket, 'connect')
    socket.setTimeout(30)
    await once(socket, 'timeout')
    socket.destroy()
    await once(socket, 'close')
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(serverSide?.destroyed).toBe(true)
    expect(errors).toEqual(['ECONNRESET'])
  })

  it('setNoDelay and setKeepAlive reach the connection', async () => {
    const { a, b } = pair()
    b.createServer().listen(11)
    const socket = a.connect({ host: '10.0.0.2', port: 11 })
    await once(socket, 'connect')
    socket.setNoDelay(true)
    socket.setKeepAlive(true, 5000)
    const connection = a.connectionOf(socket.fd)!
    expect(connection.config.noDelay).toBe(true)
    expect(connection.config.keepAlive).toBe(true)
    expect(connection.config.keepAliveIdle).toBe(5_000_000)
    socket.destroy()
  })
})

describe('node:http over the stack, unchanged', () => {
  it('serves requests from an http client', async () => {
    const { a, b } = pair()
    const httpServer = http.createServer((request, response) => {
      let body = ''
      request.on('data', (chunk) => (body += chunk))
      request.on('end', () => {
        response.setHeader('content-type', 'text/plain')
        response.end(`${request.method} ${request.url} ${body.length}`)
      })
    })
    const tcp = b.createServer((socket) => httpServer.emit('connection', socket))
    tcp.listen(80)
    await once(tcp, 'listening')
    const get = (path: string, body?: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const request = http.request(
          // No `agent` option: with createConnection, node:http then uses our socket and never the kernel's.
          { method: body === undefined ? 'GET' : 'POST', path, headers: { host: '10.0.0.2' }, createConnection: () => a.connect({ host: '10.0.0.2', port: 80 }) },
          (response) => {
            let text = ''
            response.on('data', (chunk) => (text += chunk))
            response.on('end', () => resolve({ status: response.statusCode ?? 0, text }))
          },
        )
        request.on('error', reject)
        request.end(body)
      })
    expect(await get('/hello')).toEqual({ status: 200, text: 'GET /hello 0' })
    expect(await get('/upload', 'x'.repeat(100_000))).toEqual({ status: 200, text: 'POST /upload 100000' })
    const parallel = await Promise.all(Array.from({ length: 20 }, (_, i) => get(`/p${i}`)))
    expect(parallel.map((r) => r.text)).toEqual(Array.from({ length: 20 }, (_, i) => `GET /p${i} 0`))
    httpServer.close()
  })
})
