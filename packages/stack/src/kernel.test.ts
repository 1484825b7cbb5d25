// The stack against the Linux kernel: our stack on a packet socket bound to one end of a veth pair, the
// kernel in a network namespace of its own on the other end (root only; addresses inside the test's
// namespace only). Skipped where the native addon or root is missing, except in CI.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openPacketPort, type Port } from '@mtcp/dpdk-io'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createStack, type Stack } from './stack.js'

const isRoot = process.getuid?.() === 0
let nativeReady = false
try {
  const native = (await import('@mtcp/dpdk-io-native' as string)) as { nativeAvailable(): boolean }
  nativeReady = native.nativeAvailable()
} catch {
  nativeReady = false
}
const enabled = (isRoot && nativeReady) || process.env.CI !== undefined

const tag = String(process.pid % 100000)
const NS = `mtcpk${tag}`
const OURS = `mk${tag}a`
const THEIRS = `mk${tag}b`
const KERNEL_IP = '10.201.0.2'
const OUR_IP = '10.201.0.1'
const THIRD_IP = '10.201.0.3'
const PEER = join(import.meta.dirname, '..', 'test-peers', 'kernel_peer.py')

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' })
}

function cleanUp(): void {
  spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' })
  spawnSync('ip', ['link', 'del', OURS], { stdio: 'ignore' })
}

/** Run the kernel peer in the namespace; resolves with its last output line. */
function peer(...args: string[]): { child: ChildProcess; ready: Promise<void>; result: Promise<string> } {
  const child = spawn('ip', ['netns', 'exec', NS, 'python3', PEER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  let readyResolve: () => void = () => {}
  const ready = new Promise<void>((resolve) => (readyResolve = resolve))
  child.stdout!.on('data', (data: Buffer) => {
    output += data.toString()
    if (output.includes('ready')) readyResolve()
  })
  const result = new Promise<string>((resolve, reject) => {
    child.on('exit', (code) => {
      if (code === 0) resolve(output.trim().split('\n').at(-1)!)
      else reject(new Error(`kernel peer exited ${code}: ${output}`))
    })
  })
  return { child, ready, result }
}

/** Bytes in the kernel peer's pattern (kernel_peer.py), hashed. */
function patternHash(total: number): string {
  const block = Uint8Array.from({ length: 65536 }, (_, i) => (i * 7 + 3) & 0xff)
  const hash = createHash('sha256')
  for (let sent = 0; sent < total; sent += block.length) hash.update(block.subarray(0, Math.min(block.length, total - sent)))
  return hash.digest('hex')
}

let port: Port
let stack: Stack

describe.runIf(enabled)('interoperability with the Linux kernel', () => {
  beforeAll(async () => {
    cleanUp()
    ip('netns', 'add', NS)
    ip('link', 'add', OURS, 'type', 'veth', 'peer', 'name', THEIRS, 'netns', NS)
    ip('link', 'set', OURS, 'up') // no address: only our stack answers for 10.201.0.1
    ip('-n', NS, 'link', 'set', 'lo', 'up')
    ip('-n', NS, 'addr', 'add', `${KERNEL_IP}/24`, 'dev', THEIRS)
    ip('-n', NS, 'link', 'set', THEIRS, 'up')
    port = await openPacketPort({ interface: OURS, offloads: true })
    stack = createStack({ port, address: `${OUR_IP}/24`, tcp: { sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } })
  })

  afterAll(() => {
    stack?.stop()
    port?.close()
    cleanUp()
  })

  it('answers ARP and ping from the kernel', async () => {
    // Asynchronous: the stack runs on this event loop, so nothing here may block it.
    const ping = spawn('ip', ['netns', 'exec', NS, 'ping', '-c', '3', '-i', '0.2', '-W', '2', OUR_IP], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    ping.stdout!.on('data', (data: Buffer) => (output += data.toString()))
    await once(ping, 'exit')
    expect(output).toMatch(/3 received/)
    expect(stack.stats.rx.arp).toBeGreaterThan(0)
    expect(stack.stats.tx.icmp).toBeGreaterThanOrEqual(3)
    const neighbours = execFileSync('ip', ['-n', NS, 'neigh', 'show', OUR_IP], { encoding: 'utf8' })
    expect(neighbours).toContain(Buffer.from(port.link.mac).toString('hex').replace(/(..)(?!$)/g, '$1:'))
  })

  it('our client sends 1 GB to a kernel server, SHA-256 equal, with window scaling, timestamps and SACK', async () => {
    const sink = peer('sink', KERNEL_IP, '7001')
    await sink.ready
    const socket = stack.connect({ host: KERNEL_IP, port: 7001 })
    await once(socket, 'connect')
    const negotiated = stack.connectionOf(socket.fd)!.negotiated
    expect(negotiated.timestamps).toBe(true)
    expect(negotiated.sack).toBe(true)
    expect(negotiated.sendShift).toBeGreaterThan(0)
    const total = 1_000_000_000
    const block = Uint8Array.from({ length: 65536 }, (_, i) => (i * 7 + 3) & 0xff)
    let written = 0
    await new Promise<void>((resolve) => {
      const write = (): void => {
        while (written < total) {
          const chunk = Buffer.from(block.buffer, 0, Math.min(block.length, total - written))
          written += chunk.length
          if (!socket.write(chunk)) return void socket.once('drain', write)
        }
        socket.end()
        resolve()
      }
      write()
    })
    const [bytes, hash] = (await sink.result).split(' ')
    expect(Number(bytes)).toBe(total)
    expect(hash).toBe(patternHash(total))
  }, 120_000)

  it('a kernel client sends 1 GB to our server, SHA-256 equal', async () => {
    const total = 1_000_000_000
    const received = createHash('sha256')
    let count = 0
    const done = new Promise<void>((resolve) => {
      stack
        .createServer((socket) => {
          socket.on('data', (data: Buffer) => {
            received.update(data)
            count += data.length
          })
          socket.on('end', () => {
            socket.end()
            resolve()
          })
        })
        .listen(7002)
    })
    const sender = peer('send', OUR_IP, '7002', String(total))
    await done
    const [bytes, hash] = (await sender.result).split(' ')
    expect(count).toBe(Number(bytes))
    expect(received.digest('hex')).toBe(hash)
  }, 120_000)

  it('receives intact from a kernel sender whose packets a tbf limiter drops', async () => {
    execFileSync('tc', ['-n', NS, 'qdisc', 'add', 'dev', THEIRS, 'root', 'tbf', 'rate', '200mbit', 'burst', '10kb', 'limit', '15kb'])
    try {
      const total = 20_000_000
      const received = createHash('sha256')
      let count = 0
      const done = new Promise<void>((resolve) => {
        const server = stack.createServer((socket) => {
          socket.on('data', (data: Buffer) => {
            received.update(data)
            count += data.length
          })
          socket.on('end', () => {
            socket.end()
            server.close()
            resolve()
          })
        })
        server.listen(7005)
      })
      const sender = peer('send', OUR_IP, '7005', String(total))
      await done
      const [bytes, hash] = (await sender.result).split(' ')
      expect(count).toBe(Number(bytes))
      expect(received.digest('hex')).toBe(hash)
      const stats = execFileSync('tc', ['-n', NS, '-s', 'qdisc', 'show', 'dev', THEIRS], { encoding: 'utf8' })
      expect(Number(/dropped (\d+)/.exec(stats)?.[1] ?? 0)).toBeGreaterThan(0)
    } finally {
      spawnSync('tc', ['-n', NS, 'qdisc', 'del', 'dev', THEIRS, 'root'], { stdio: 'ignore' })
    }
  }, 120_000)

  it('serves 100 concurrent connections against a kernel echo server', async () => {
    const echo = peer('echo', KERNEL_IP, '7004', '100')
    await echo.ready
    const results = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const socket = stack.connect({ host: KERNEL_IP, port: 7004 })
        await once(socket, 'connect')
        const message = Buffer.alloc(10_000, i)
        const chunks: Buffer[] = []
        socket.on('data', (data: Buffer) => chunks.push(data))
        const ended = once(socket, 'end')
        socket.end(message)
        await ended
        return Buffer.concat(chunks).equals(message)
      }),
    )
    expect(results.every(Boolean)).toBe(true)
    expect(await echo.result).toBe('done')
  }, 120_000)

  it('leaves a capture tshark dissects with no malformed packet and no bad checksum, showing the negotiated options', async () => {
    // A second stack without offloads, and the kernel's checksum offload turned off, so every checksum on
    // the wire is final; captured on the kernel's side.
    execFileSync('ip', ['netns', 'exec', NS, 'ethtool', '-K', THEIRS, 'tx', 'off', 'tso', 'off', 'gso', 'off'], { stdio: 'pipe' })
    const plainPort = await openPacketPort({ interface: OURS, offloads: false })
    const plain = createStack({ port: plainPort, address: `${THIRD_IP}/24` })
    const file = join(tmpdir(), `mtcp-kernel-${process.pid}.pcap`)
    const dumpcap = spawn('ip', ['netns', 'exec', NS, 'dumpcap', '-q', '-i', THEIRS, '-f', `host ${THIRD_IP}`, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] })
    try {
      let log = ''
      await new Promise<void>((resolve, reject) => {
        dumpcap.stderr!.on('data', (data: Buffer) => {
          log += data.toString()
          if (log.includes('Capturing on')) resolve()
        })
        dumpcap.on('exit', (code) => reject(new Error(`dumpcap exited ${code}: ${log}`)))
      })
      const sink = peer('sink', KERNEL_IP, '7006')
      await sink.ready
      const socket = plain.connect({ host: KERNEL_IP, port: 7006 })
      await once(socket, 'connect')
      socket.end(Buffer.alloc(2_000_000, 0x61))
      expect((await sink.result).split(' ')[0]).toBe('2000000')
      const ping = spawn('ip', ['netns', 'exec', NS, 'ping', '-c', '2', '-i', '0.2', THIRD_IP], { stdio: 'ignore' })
      await once(ping, 'exit')
    } finally {
      dumpcap.kill('SIGINT')
      await once(dumpcap, 'exit')
      plain.stop()
      plainPort.close()
    }
    const fields = execFileSync(
      'tshark',
      ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-T', 'fields', '-E', 'separator=;', '-e', 'frame.number', '-e', '_ws.malformed', '-e', 'ip.checksum.status', '-e', 'tcp.checksum.status', '-e', 'tcp.flags.syn', '-e', 'tcp.options.wscale.shift', '-e', 'tcp.options.sack_perm', '-e', 'tcp.options.timestamp.tsval', '-e', 'tcp.options.sack_le'],
      { encoding: 'utf8', maxBuffer: 1 << 28 },
    )
    rmSync(file, { force: true })
    const rows = fields.trim().split('\n').map((line) => line.split(';'))
    expect(rows.length).toBeGreaterThan(100)
    for (const [, malformed, ipStatus, tcpStatus] of rows) {
      expect(malformed).toBe('')
      if (ipStatus !== '') expect(ipStatus).toBe('1') // good
      if (tcpStatus !== '') expect(tcpStatus).toBe('1')
    }
    const syns = rows.filter((row) => row[4] === '1')
    expect(syns.length).toBe(2) // SYN and SYN-ACK
    for (const syn of syns) {
      expect(syn[5]).not.toBe('') // window scale
      expect(syn[6]).not.toBe('') // SACK permitted
      expect(syn[7]).not.toBe('') // timestamps
    }
    expect(rows.filter((row) => row[7] !== '').length).toBe(rows.filter((row) => row[3] !== '').length) // timestamps on every segment
  }, 120_000)

  it('closes with FIN and aborts with RST, and the kernel sees each', async () => {
    for (const [port, how, expected] of [
      ['7007', 'end', 'eof'],
      ['7008', 'destroy', 'reset'],
    ] as const) {
      const waiter = peer('wait', KERNEL_IP, port)
      await waiter.ready
      const socket = stack.connect({ host: KERNEL_IP, port: Number(port) })
      await once(socket, 'connect')
      socket.write('some data first')
      if (how === 'end') socket.end()
      else socket.destroy()
      expect(await waiter.result).toBe(expected)
    }
  })

  it('gets a reset from the kernel for a closed port (ECONNREFUSED)', async () => {
    const socket = stack.connect({ host: KERNEL_IP, port: 7999 })
    const closed = new Promise((resolve) => socket.on('close', resolve))
    const [error] = (await once(socket, 'error')) as [Error & { code: string }]
    expect(error.code).toBe('ECONNREFUSED')
    await closed
  })
})
