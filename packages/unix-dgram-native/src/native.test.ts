// The addon against the kernel: bind, send, receive with the sender's path and credentials, every queued
// datagram delivered, a full queue as -EAGAIN, ENOENT/ECONNREFUSED for no one there, close idempotent,
// and a socket in a worker thread.
import { mkdtempSync, rmSync } from 'node:fs'
import { constants, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { bindUnixDatagram, isAvailable, probeUnixSocket, type UnixDatagramSocket } from './index.js'

const errno = constants.errno
let dir: string
const sockets: UnixDatagramSocket[] = []

function bind(name: string, onMessage: Parameters<typeof bindUnixDatagram>[1] = () => {}): UnixDatagramSocket {
  const socket = bindUnixDatagram(join(dir, name), onMessage)
  if (typeof socket === 'number') throw new Error(`bind ${name}: ${socket}`)
  sockets.push(socket)
  return socket
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'unix-dgram-native-'))
})
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close()
  rmSync(dir, { recursive: true, force: true })
})

describe.runIf(process.platform === 'linux')('unix datagram sockets (Linux)', () => {
  it('loads (the prebuild, or a build from source)', () => {
    expect(isAvailable()).toBe(true)
  })

  it('delivers each datagram with the sender\'s path, uid and pid; all queued ones on one wake-up', async () => {
    const got: Array<{ text: string; from: string | null; uid: number; pid: number }> = []
    let wakeups = 0
    let lastTick = -1
    let tick = 0
    const counter = setInterval(() => tick++, 0)
    const done = new Promise<void>((resolve) => {
      bind('agent', (bytes, from, uid, pid) => {
        if (tick !== lastTick) {
          wakeups++
          lastTick = tick
        }
        got.push({ text: bytes.toString(), from, uid, pid })
        if (got.length === 10) resolve()
      })
    })
    const sender = bind('datapath')
    for (let i = 0; i < 10; i++) expect(sender.send(Buffer.from(`m${i}`), join(dir, 'agent'))).toBe(0)
    await done
    clearInterval(counter)
    expect(got.map((entry) => entry.text)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`))
    expect(got.every((entry) => entry.from === join(dir, 'datapath') && entry.uid === process.getuid!() && entry.pid === process.pid)).toBe(true)
    expect(wakeups).toBe(1) // the ten queued datagrams were read in one turn of the loop
  })

  it('a full receive queue is -EAGAIN at once; nobody bound is -ENOENT, a stale file -ECONNREFUSED', () => {
    bind('slow') // never read: its handler is not reached within this synchronous test
    const sender = bind('fast')
    let result = 0
    let sent = 0
    while (result === 0 && sent < 10_000) {
      result = sender.send(new Uint8Array(64), join(dir, 'slow'))
      if (result === 0) sent++
    }
    expect(result).toBe(-errno.EAGAIN!)
    expect(sent).toBeGreaterThan(0)
    expect(sender.send(new Uint8Array(1), join(dir, 'none'))).toBe(-errno.ENOENT!)
    expect(probeUnixSocket(join(dir, 'none'))).toBe(-errno.ENOENT!)
    const stale = bind('stale')
    expect(probeUnixSocket(join(dir, 'stale'))).toBe(0)
    stale.close()
    expect(probeUnixSocket(join(dir, 'stale'))).toBe(-errno.ECONNREFUSED!)
    expect(sender.send(new Uint8Array(1), join(dir, 'stale'))).toBe(-errno.ECONNREFUSED!)
  })

  it('refuses what it cannot do with -errno, never by throwing; close is idempotent', () => {
    expect(bindUnixDatagram(join(dir, 'x'.repeat(120)), () => {})).toBe(-errno.ENAMETOOLONG!)
    expect(bindUnixDatagram(join(dir, 'missing', 'a'), () => {})).toBe(-errno.ENOENT!)
    const socket = bind('a')
    expect(bindUnixDatagram(join(dir, 'a'), () => {})).toBe(-errno.EADDRINUSE!)
    expect(socket.send('text' as unknown as Uint8Array, join(dir, 'a'))).toBe(-errno.EINVAL!)
    expect(socket.send(new Uint8Array(1), `${dir}/a\0b`)).toBe(-errno.EINVAL!)
    socket.close()
    socket.close()
    expect(socket.send(new Uint8Array(1), join(dir, 'a'))).toBe(-errno.EBADF!)
  })

  it('works in a worker thread, on that thread\'s event loop', async () => {
    const agentPath = join(dir, 'agent')
    const got = new Promise<string>((resolve) => {
      const agent = bind('agent', (bytes) => resolve(bytes.toString()))
      void agent
    })
    const source = `
      const { bindUnixDatagram } = require(${JSON.stringify(join(import.meta.dirname, '..', 'dist', 'index.cjs'))})
      const { parentPort, workerData } = require('node:worker_threads')
      const socket = bindUnixDatagram(workerData.path, (bytes) => { parentPort.postMessage(bytes.toString()); socket.close() })
      parentPort.postMessage(socket.send(Buffer.from('from a worker'), workerData.agent))
    `
    const worker = new Worker(source, { eval: true, workerData: { path: join(dir, 'worker'), agent: agentPath } })
    const first = await new Promise((resolve) => worker.once('message', resolve))
    expect(first).toBe(0)
    expect(await got).toBe('from a worker')
    const answered = new Promise((resolve) => worker.once('message', resolve))
    expect(sockets[0]!.send(Buffer.from('to the worker'), join(dir, 'worker'))).toBe(0)
    expect(await answered).toBe('to the worker')
    await worker.terminate()
  })
})
