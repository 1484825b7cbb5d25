/**
 * Shared by the tests against the Linux kernel (kernel.test.ts, tap-kernel.test.ts): what the machine
 * offers, the kernel peer (test-peers/kernel_peer.py, ordinary sockets in a network namespace), its byte
 * pattern, and the kernel's TCP counters. Test code only; not part of the package.
 * @module
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { expect } from 'vitest'
import type { TcpSocket } from '../node-socket.js'
import type { Stack } from '../stack.js'

/** Running as root (network namespaces, packet sockets and TAP devices need it). */
export const isRoot = process.getuid?.() === 0

/** In CI nothing is skipped: a missing tool fails the run instead of hiding a test. */
export const inCI = process.env.CI !== undefined

/** Whether `@mtcp/dpdk-io-native` is installed with its addon built. */
export async function nativeReady(): Promise<boolean> {
  try {
    const native = (await import('@mtcp/dpdk-io-native' as string)) as { nativeAvailable(): boolean }
    return native.nativeAvailable()
  } catch {
    return false
  }
}

/** Whether `tool` is on the PATH. */
export function has(tool: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { stdio: 'ignore' }).status === 0
}

/** Run `fn`, ignoring a failure (best-effort setup such as turning IPv6 address generation off). */
export function quiet(fn: () => void): void {
  try {
    fn()
  } catch {
    // best effort
  }
}

/** `ip …`, throwing with its error output on failure. */
export function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' })
}

/** Run a command in namespace `ns`; returns its standard output. */
export function inNamespace(ns: string, ...command: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...command], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] })
}

const PEER = join(import.meta.dirname, '..', '..', 'test-peers', 'kernel_peer.py')

/** A running kernel peer: `ready` once it listens (server modes), `result` its last output line when it exits 0. */
export interface KernelPeer {
  child: ChildProcess
  ready: Promise<void>
  result: Promise<string>
  /** Everything it printed, when it exits 0 (sink and send print `tcpi_options <n>` first). */
  output: Promise<string>
}

/** Run the kernel peer in namespace `ns` with `args` (see kernel_peer.py for the modes). */
export function peer(ns: string, ...args: string[]): KernelPeer {
  const child = spawn('ip', ['netns', 'exec', ns, 'python3', PEER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  let errors = ''
  let readyResolve: () => void = () => {}
  const ready = new Promise<void>((resolve) => (readyResolve = resolve))
  child.stdout!.on('data', (data: Buffer) => {
    output += data.toString()
    if (output.includes('ready')) readyResolve()
  })
  child.stderr!.on('data', (data: Buffer) => (errors += data.toString()))
  const all = new Promise<string>((resolve, reject) => {
    child.on('exit', (code) => {
      if (code === 0) resolve(output)
      else reject(new Error(`kernel peer exited ${code}: ${output}${errors}`))
    })
  })
  const result = all.then((text) => text.trim().split('\n').at(-1)!)
  return { child, ready, result, output: all }
}

/** One 64 KB block of the kernel peer's pattern: byte i is (i * 7 + 3 + seed) & 0xff. */
export function patternBlock(seed = 0): Uint8Array {
  return Uint8Array.from({ length: 65536 }, (_, i) => (i * 7 + 3 + seed) & 0xff)
}

/** SHA-256 of the first `total` bytes of the pattern, as the kernel peer prints it. */
export function patternHash(total: number): string {
  const block = patternBlock()
  const hash = createHash('sha256')
  for (let sent = 0; sent < total; sent += block.length) hash.update(block.subarray(0, Math.min(block.length, total - sent)))
  return hash.digest('hex')
}

/** Write `total` bytes of the pattern to `socket`, respecting backpressure, then end it. */
export function sendPattern(socket: TcpSocket, total: number): Promise<void> {
  const block = patternBlock()
  let written = 0
  return new Promise<void>((resolve) => {
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
}

/**
 * Accept one connection on `port` of `stack`, hash what arrives until EOF, close, and close the server.
 * `onAccept` sees the accepted socket's fd first.
 */
export function receiveOne(stack: Stack, port: number, onAccept?: (fd: number) => void): Promise<{ bytes: number; sha256: string }> {
  return new Promise((resolve) => {
    const hash = createHash('sha256')
    let bytes = 0
    const server = stack.createServer((socket) => {
      onAccept?.(socket.fd)
      socket.on('data', (data: Buffer) => {
        hash.update(data)
        bytes += data.length
      })
      socket.on('end', () => {
        socket.end()
        server.close()
        resolve({ bytes, sha256: hash.digest('hex') })
      })
    })
    server.listen(port)
  })
}

/** The kernel's SNMP and TCP extension counters in namespace `ns`, as `Tcp.RetransSegs`, `TcpExt.TCPSACKDiscard`, …. */
export function kernelCounters(ns: string): Map<string, number> {
  const lines = inNamespace(ns, 'cat', '/proc/net/snmp', '/proc/net/netstat').trim().split('\n')
  const counters = new Map<string, number>()
  // Each group is a line of names and a line of values, both led by "Group:".
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i]!.trim().split(/\s+/)
    const values = lines[i + 1]!.trim().split(/\s+/)
    const group = names[0]!.replace(/:$/, '')
    for (let j = 1; j < names.length; j++) counters.set(`${group}.${names[j]}`, Number(values[j]))
  }
  return counters
}

/** How much counter `name` grew between two {@link kernelCounters} readings. */
export function counterDelta(before: Map<string, number>, after: Map<string, number>, name: string): number {
  if (!after.has(name)) throw new Error(`the kernel has no counter ${name}`)
  return after.get(name)! - (before.get(name) ?? 0)
}

/** The MAC address of `dev` in namespace `ns`. */
export function macOf(ns: string, dev: string): Uint8Array {
  return Uint8Array.from(
    inNamespace(ns, 'cat', `/sys/class/net/${dev}/address`)
      .trim()
      .split(':')
      .map((byte) => Number.parseInt(byte, 16)),
  )
}

/** Ping `address` `count` times from namespace `ns`, without blocking the event loop (the stack runs on it); resolves with ping's output. */
export async function ping(ns: string, address: string, count: number): Promise<string> {
  const child = spawn('ip', ['netns', 'exec', ns, 'ping', '-c', String(count), '-i', '0.2', '-W', '2', address], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (data: Buffer) => (output += data.toString()))
  await new Promise((resolve) => child.on('close', resolve))
  return output
}

/** Result of the kernel peer's `clients` mode: one entry per connection. */
export interface ClientFlow {
  port: number
  sha256: string
  echoed: boolean
}

/**
 * Listen on `port` of every stack in `stacks` with an echo server that hashes what it receives, run the
 * kernel peer's `clients` mode from `ns` against `address`, and return, per stack, the flows it served
 * (the client's port → SHA-256 of the data), with the clients' own account.
 */
export async function echoFlows(stacks: readonly Stack[], ns: string, address: string, port: number, flowCount: number, bytes: number): Promise<{ served: Map<number, string>[]; clients: Array<ClientFlow | null> }> {
  const served = stacks.map(() => new Map<number, string>())
  let open = flowCount
  const servers = stacks.map((stack) => stack.createServer())
  const allEnded = new Promise<void>((resolve) => {
    servers.forEach((server, index) => {
      server.on('connection', (socket: TcpSocket) => {
        const hash = createHash('sha256')
        const remotePort = socket.remotePort!
        socket.on('data', (data: Buffer) => {
          hash.update(data)
          socket.write(data)
        })
        socket.on('end', () => {
          served[index]!.set(remotePort, hash.digest('hex'))
          socket.end()
          if (--open === 0) resolve()
        })
      })
      server.listen(port)
    })
  })
  try {
    const clients = peer(ns, 'clients', address, String(port), String(flowCount), String(bytes))
    const result = JSON.parse(await clients.result) as Array<ClientFlow | null>
    await allEnded
    return { served, clients: result }
  } finally {
    for (const server of servers) server.close()
  }
}

/**
 * Assert a spread of flows over stacks: every client connection echoed intact, served by exactly one
 * stack with the same SHA-256, and every stack given at least one (with 32 flows hashed over two, all on
 * one side has probability 2^-31).
 */
export function expectSpread(served: readonly Map<number, string>[], clients: ReadonlyArray<ClientFlow | null>, flowCount: number): void {
  expect(clients).toHaveLength(flowCount)
  expect(clients.filter((flow) => flow?.echoed !== true)).toEqual([])
  for (const flows of served) expect(flows.size).toBeGreaterThan(0)
  expect(served.reduce((sum, flows) => sum + flows.size, 0)).toBe(flowCount)
  for (const flow of clients) {
    const holders = served.filter((flows) => flows.has(flow!.port))
    expect(holders).toHaveLength(1)
    expect(holders[0]!.get(flow!.port)).toBe(flow!.sha256)
  }
}
