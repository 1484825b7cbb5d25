// Loss recovery with data flowing both ways on one connection over the emulated link, 1% random loss
// each way: nearly every ACK rides on a data segment and carries SACK blocks. Counts, not timings.
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { StackError } from './errors.js'
import { PollEvents } from './socket-record.js'
import type { Stack } from './stack.js'
import { runUntil, stackPair } from './testing.js'

const MB = 1_000_000

/** One end: writes `total` pseudo-random bytes then shuts down, reads and hashes what arrives. */
function endpoint(stack: Stack, fd: () => number, total: number, seed: number) {
  const chunk = new Uint8Array(64 * 1024)
  const readBuffer = new Uint8Array(256 * 1024)
  const sentHash = createHash('sha256')
  const receivedHash = createHash('sha256')
  let state = seed
  let queued = 0
  let pending = 0
  let offset = 0
  let shut = false
  const self = {
    received: 0,
    ended: false,
    sentHash: '',
    receivedHash: '',
    pump(): void {
      while (queued < total || pending > 0) {
        if (pending === 0) {
          for (let i = 0; i < chunk.length; i++) {
            state = (Math.imul(state, 1664525) + 1013904223) >>> 0
            chunk[i] = state >>> 24
          }
          pending = Math.min(chunk.length, total - queued)
          offset = 0
          sentHash.update(chunk.subarray(0, pending))
          queued += pending
        }
        let n: number
        try {
          n = stack.write(fd(), chunk, offset, pending)
        } catch (error) {
          if (error instanceof StackError && error.code === 'EAGAIN') return
          throw error
        }
        pending -= n
        offset += n
      }
      if (!shut) {
        shut = true
        self.sentHash = sentHash.digest('hex')
        stack.shutdown(fd())
      }
    },
    drain(): void {
      for (;;) {
        let n: number
        try {
          n = stack.read(fd(), readBuffer)
        } catch (error) {
          if (error instanceof StackError && error.code === 'EAGAIN') return
          throw error
        }
        if (n === 0) {
          if (!self.ended) {
            self.ended = true
            self.receivedHash = receivedHash.digest('hex')
          }
          return
        }
        self.received += n
        receivedHash.update(readBuffer.subarray(0, n))
      }
    },
  }
  return self
}

function exchange(options: { seed: number; bytes: number }) {
  const pair = stackPair({
    seed: options.seed,
    impairments: { rate: 1e9, delay: 1000, loss: 0.01 },
    stack: { tcp: { sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } },
  })
  const { a, b, clock, link } = pair
  const listener = b.socket()
  b.bind(listener, '0.0.0.0', 5001)
  b.listen(listener)
  const client = a.socket()
  let server = -1
  const atA = endpoint(a, () => client, options.bytes, 1)
  const atB = endpoint(b, () => server, options.bytes, 2)
  b.watch(listener, () => {
    if (server >= 0) return
    try {
      server = b.accept(listener)
    } catch {
      return
    }
    b.watch(server, (_fd, events) => {
      if (events & (PollEvents.IN | PollEvents.HUP | PollEvents.ERR)) atB.drain()
      if (events & PollEvents.OUT) atB.pump()
    })
    atB.drain()
    atB.pump()
  })
  a.watch(client, (_fd, events) => {
    if (events & (PollEvents.IN | PollEvents.HUP | PollEvents.ERR)) atA.drain()
    if (events & PollEvents.OUT) atA.pump()
  })
  a.connect(client, '10.0.0.2', 5001)
  runUntil(clock, () => atA.ended && atB.ended)
  return { atA, atB, statsA: a.connectionOf(client)!.stats, statsB: b.connectionOf(server)!.stats, link }
}

describe('loss both ways with data both ways on one connection', () => {
  it('recovers by SACK, not by timeouts: 20 MB each way with 1% loss each way, intact', () => {
    const { atA, atB, statsA, statsB, link } = exchange({ seed: 3, bytes: 20 * MB })
    expect(atB.received).toBe(20 * MB)
    expect(atA.received).toBe(20 * MB)
    expect(atB.receivedHash).toBe(atA.sentHash)
    expect(atA.receivedHash).toBe(atB.sentHash)
    const lost = link.stats('aToB').randomLosses + link.stats('bToA').randomLosses
    expect(lost).toBeGreaterThan(200)
    // A data segment that carries SACK blocks still fits the MTU (RFC 6691 §2): the link drops none as oversize.
    expect(link.a.stats.drops.oversize + link.b.stats.drops.oversize).toBe(0)
    // Data-carrying ACKs count as DupAcks (RFC 6675 §2): fast retransmits repair the losses...
    expect(statsA.fastRetransmits + statsB.fastRetransmits).toBeGreaterThan(100)
    // ...and timeouts are rare: at most one per 50 losses (before: the connection timed out).
    expect(statsA.retransmitTimeouts + statsB.retransmitTimeouts).toBeLessThanOrEqual(Math.ceil(lost / 50))
  }, 120_000)
})
