/**
 * Helpers for tests and benchmarks: two stacks joined by an emulated link, a virtual-clock runner,
 * and a bulk transfer over the socket API. Exported as `@mtcp/stack/testing`.
 * @module
 */
import { createHash } from 'node:crypto'
import { createMemoryLink, type LinkImpairments, type MemoryLink, type MemoryLinkOptions, VirtualClock } from '@mtcp/dpdk-io'
import type { TcpConnectionStats } from '@mtcp/tcp-core'
import type { StackOptions } from './config.js'
import { StackError } from './errors.js'
import { PollEvents } from './socket-record.js'
import { createStack, type Stack } from './stack.js'
import type { TcpInfo } from './tcp-info.js'

/**
 * Two stacks, 10.0.0.1 (a) and 10.0.0.2 (b), on the two ends of one memory link; with `family: 6` they
 * also have fd00::1/64 and fd00::2/64, and the helpers below connect over IPv6.
 */
export interface StackPair {
  clock: VirtualClock
  link: MemoryLink
  a: Stack
  b: Stack
  /** The family the helpers connect over (4 unless `stackPair` was given `family: 6`). */
  family?: 4 | 6
}

/** The address b's listeners bind and a connects to, for the pair's family. */
function addresses(pair: StackPair): { bind: string; connect: string } {
  return pair.family === 6 ? { bind: '::', connect: 'fd00::2' } : { bind: '0.0.0.0', connect: '10.0.0.2' }
}

/** Build a {@link StackPair} on a virtual clock. */
export function stackPair(
  options: {
    impairments?: LinkImpairments
    seed?: number
    link?: Partial<MemoryLinkOptions>
    /** Options for both stacks. */
    stack?: Partial<StackOptions>
    /** Options for stack a only (e.g. its CCP transport), over `stack`. */
    stackA?: Partial<StackOptions>
    /** Options for stack b only, over `stack`. */
    stackB?: Partial<StackOptions>
    /** The clock; default a new virtual clock. */
    clock?: VirtualClock
    /** 6: the stacks get IPv6 addresses too (fd00::1/64, fd00::2/64) and the helpers connect over IPv6. Default 4. */
    family?: 4 | 6
  } = {},
): StackPair {
  const clock = options.clock ?? new VirtualClock()
  const link = createMemoryLink({ clock, seed: options.seed ?? 1, impairments: options.impairments ?? {}, ...options.link })
  const six = options.family === 6
  const a = createStack({ port: link.a, address: '10.0.0.1/24', ...(six ? { ipv6: 'fd00::1/64' } : {}), ...options.stack, ...options.stackA })
  const b = createStack({ port: link.b, address: '10.0.0.2/24', ...(six ? { ipv6: 'fd00::2/64' } : {}), ...options.stack, ...options.stackB })
  return six ? { clock, link, a, b, family: 6 } : { clock, link, a, b }
}

/** Step the virtual clock until `done()` or until `limit` µs of virtual time; throws when nothing is left to run. */
export function runUntil(clock: VirtualClock, done: () => boolean, limit = 3_600_000_000): void {
  while (!done()) {
    if (clock.now() > limit) throw new Error(`not done after ${limit} µs of virtual time`)
    if (!clock.step()) throw new Error(`stalled at ${clock.now()} µs: nothing scheduled and not done`)
  }
}

/** Like {@link runUntil}, letting promises, `nextTick` and immediates run between steps (for Node streams). */
export async function runUntilAsync(clock: VirtualClock, done: () => boolean, limit = 3_600_000_000): Promise<void> {
  let idleTurns = 0
  while (!done()) {
    if (clock.now() > limit) throw new Error(`not done after ${limit} µs of virtual time`)
    await new Promise<void>((resolve) => setImmediate(resolve))
    if (done()) return
    if (clock.step()) idleTurns = 0
    else if (++idleTurns > 50) throw new Error(`stalled at ${clock.now()} µs: nothing scheduled and not done`)
  }
}

/** Step the clock until `listener` (on `stack`) has a connection to accept, and accept it. */
export function acceptWhenReady(clock: VirtualClock, stack: Stack, listener: number): number {
  let fd = -1
  runUntil(clock, () => {
    try {
      fd = stack.accept(listener)
      return true
    } catch (error) {
      if (error instanceof StackError && error.code === 'EAGAIN') return false
      throw error
    }
  })
  return fd
}

/**
 * A connection from a to b on `pair`: b listens on `port`, a connects, b accepts; returns the three
 * socket ids once a is ESTABLISHED (on the pair's virtual clock).
 */
export function connectSockets(pair: StackPair, port = 5001): { listener: number; client: number; server: number } {
  const { a, b, clock } = pair
  const listener = b.socket()
  b.bind(listener, addresses(pair).bind, port)
  b.listen(listener)
  const client = a.socket()
  a.connect(client, addresses(pair).connect, port)
  const server = acceptWhenReady(clock, b, listener)
  runUntil(clock, () => a.state(client) === 'ESTABLISHED')
  return { listener, client, server }
}

/** Result of {@link bulkTransfer}. */
export interface BulkResult {
  bytes: number
  sentHash: string
  receivedHash: string
  /** Virtual µs from connect to the receiver seeing the end of the stream. */
  elapsed: number
  clientFd: number
  serverFd: number
  /** The sending connection's counters (retransmissions, timeouts, …) when the transfer ended. */
  clientStats: TcpConnectionStats
  /** The sending connection's {@link TcpInfo} when the transfer ended. */
  clientInfo: TcpInfo
}

/**
 * Move `bytes` of pseudo-random data from a (client) to b (server) through the socket API, then close
 * both ends; hashes both sides with SHA-256. With `verify` false the data is one constant chunk and
 * nothing is hashed (the hashes come back empty), so a benchmark times the stacks, not the harness.
 */
export function bulkTransfer(pair: StackPair, bytes: number, port = 5001, chunk = 64 * 1024, verify = true): BulkResult {
  const transfer = startBulkTransfer(pair, bytes, port, chunk, verify)
  runUntil(pair.clock, transfer.done)
  return transfer.finish()
}

/**
 * {@link bulkTransfer} for stacks that also wait on the event loop (a CCP agent over unix sockets, Node
 * streams): the virtual clock steps with turns of the loop between them ({@link runUntilAsync}).
 */
export async function bulkTransferAsync(pair: StackPair, bytes: number, port = 5001, chunk = 64 * 1024, verify = true): Promise<BulkResult> {
  const transfer = startBulkTransfer(pair, bytes, port, chunk, verify)
  await runUntilAsync(pair.clock, transfer.done)
  return transfer.finish()
}

/** Set up a bulk transfer's sockets and watchers; the caller runs the clock until `done()`, then calls `finish()`. */
function startBulkTransfer(pair: StackPair, bytes: number, port: number, chunk: number, verify: boolean): { done: () => boolean; finish: () => BulkResult } {
  const { a, b, clock } = pair
  const listener = b.socket()
  b.bind(listener, addresses(pair).bind, port)
  b.listen(listener)
  const client = a.socket()
  const sentHash = createHash('sha256')
  const receivedHash = createHash('sha256')
  const data = new Uint8Array(chunk)
  let state = 0x12345678
  const fill = (): void => {
    for (let i = 0; i < data.length; i += 4) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0
      data[i] = state & 0xff
      data[i + 1] = (state >>> 8) & 0xff
      data[i + 2] = (state >>> 16) & 0xff
      data[i + 3] = state >>> 24
    }
  }
  let sent = 0
  let pending = 0 // bytes of `data` not yet taken
  let pendingOffset = 0
  let server = -1
  let received = 0
  let finished = false
  const start = clock.now()
  let end = start
  const readBuffer = new Uint8Array(256 * 1024)

  const pump = (): void => {
    while (sent < bytes || pending > 0) {
      if (pending === 0) {
        if (verify) fill()
        pending = Math.min(chunk, bytes - sent)
        pendingOffset = 0
        if (verify) sentHash.update(data.subarray(0, pending))
        sent += pending
      }
      let n: number
      try {
        n = a.write(client, data, pendingOffset, pending)
      } catch (error) {
        if (error instanceof StackError && error.code === 'EAGAIN') return
        throw error
      }
      pending -= n
      pendingOffset += n
    }
    a.shutdown(client)
  }
  const drain = (): void => {
    for (;;) {
      let n: number
      try {
        n = b.read(server, readBuffer)
      } catch (error) {
        if (error instanceof StackError && error.code === 'EAGAIN') return
        throw error
      }
      if (n === 0) {
        if (!finished) {
          finished = true
          end = clock.now()
          b.close(server)
        }
        return
      }
      received += n
      if (verify) receivedHash.update(readBuffer.subarray(0, n))
    }
  }
  b.watch(listener, () => {
    if (server >= 0) return
    try {
      server = b.accept(listener)
    } catch {
      return
    }
    b.watch(server, (_fd, events) => {
      if (events & (PollEvents.IN | PollEvents.HUP | PollEvents.ERR)) drain()
    })
    drain()
  })
  a.watch(client, (_fd, events) => {
    if (events & PollEvents.ERR) throw new Error(`client failed: ${a.connectionOf(client)?.error}`)
    if (events & PollEvents.OUT) pump()
  })
  a.connect(client, addresses(pair).connect, port)
  const finish = (): BulkResult => {
    const clientStats = { ...a.connectionOf(client)!.stats }
    const clientInfo = a.tcpInfo(client)
    a.close(client)
    b.close(listener)
    const digest = (hash: ReturnType<typeof createHash>): string => (verify ? hash.digest('hex') : '')
    return { bytes: received, sentHash: digest(sentHash), receivedHash: digest(receivedHash), elapsed: end - start, clientFd: client, serverFd: server, clientStats, clientInfo }
  }
  return { done: () => finished, finish }
}
