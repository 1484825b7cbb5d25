// The mTCP-style API checks its arguments (issue 16 §7): a range outside the array is EINVAL, never bytes
// that were not written; and callbacks that throw (§8) leave the stack and its buffer pool whole.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { StackError } from './errors.js'
import { PollEvents } from './socket-record.js'
import { connectSockets, runUntil, runUntilAsync, stackPair } from './testing.js'

function connected() {
  const errors: unknown[] = []
  const pair = stackPair({ stackB: { onCallbackError: (error) => errors.push(error) } })
  const { listener, client, server } = connectSockets(pair)
  return { ...pair, client, server, listener, errors }
}

const code = (fn: () => unknown): string | undefined => {
  try {
    fn()
    return undefined
  } catch (error) {
    return error instanceof StackError ? error.code : String(error)
  }
}

describe('write and read take only ranges inside the array', () => {
  it('EINVAL for a range past the end, a negative or fractional offset or length, or NaN', () => {
    const { a, client } = connected()
    const data = new Uint8Array(10)
    for (const [offset, length] of [
      [0, 100],
      [20, 5],
      [-1, 2],
      [0, 3.7],
      [Number.NaN, 1],
      [0, Number.NaN],
    ] as const) {
      expect(code(() => a.write(client, data, offset, length))).toBe('EINVAL')
      expect(code(() => a.read(client, data, offset, length))).toBe('EINVAL')
    }
  })

  it('the peer receives exactly the bytes each accepted write named (property over argument values)', () => {
    const value = fc.oneof(fc.integer({ min: -5, max: 70 }), fc.constantFrom(Number.NaN, 2.5, -0.5))
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uint8Array({ minLength: 0, maxLength: 64 }), value, value), { minLength: 1, maxLength: 20 }), (writes) => {
        const { a, b, clock, client, server } = connected()
        const expected: number[] = []
        for (const [data, offset, length] of writes) {
          const result = code(() => a.write(client, data, offset, length))
          const valid = Number.isInteger(offset) && Number.isInteger(length) && offset >= 0 && length >= 0 && offset + length <= data.byteLength
          if (!valid) {
            expect(result).toBe('EINVAL')
            continue
          }
          expect(result === undefined || (result === 'EAGAIN' && length === 0)).toBe(true)
          expected.push(...data.subarray(offset, offset + length))
        }
        a.shutdown(client)
        const received: number[] = []
        const scratch = new Uint8Array(256)
        runUntil(clock, () => {
          for (;;) {
            const n = code(() => received.push(...scratch.subarray(0, b.read(server, scratch))))
            if (n !== undefined) return false
            if (b.connectionOf(server)!.readEnded) return true
          }
        })
        expect(received).toEqual(expected)
      }),
      { numRuns: 30 },
    )
  }, 60_000)
})

describe('callbacks that throw', () => {
  it('10,000 throwing callbacks: reported and counted, the pool is whole again, and a transfer afterwards is intact', () => {
    const { a, b, clock, client, server, errors } = connected()
    const poolFree = b.pool.available
    let calls = 0
    b.watch(server, () => {
      calls++
      throw new Error(`callback ${calls}`)
    })
    const scratch = new Uint8Array(65536)
    let received = 0
    b.watch(server, (_fd, events) => {
      if (events & PollEvents.IN) while (b.readiness(server) & PollEvents.IN) received += b.read(server, scratch)
    })
    const chunk = new Uint8Array(100).fill(7)
    for (let i = 0; i < 10_000; i++) {
      a.write(client, chunk)
      runUntil(clock, () => received >= (i + 1) * 100)
    }
    expect(calls).toBeGreaterThanOrEqual(10_000)
    expect(errors.length).toBe(calls)
    expect(b.stats.callbackErrors).toBe(calls)
    expect(received).toBe(1_000_000)
    runUntil(clock, () => a.tcpInfo(client).bytesInFlight === 0)
    expect(b.pool.available).toBe(poolFree)
  }, 60_000)
})

describe('connect checks the address every time', () => {
  it('EINVAL for a malformed address, also as the first connect and after a good one (connect keeps the last address it parsed)', () => {
    const { a } = stackPair()
    for (const address of ['', 'not-an-ip', '10.0.0.2', '', '10.0.0.', '10.0.0.2', 'x']) {
      const fd = a.socket()
      const result = code(() => a.connect(fd, address, 80))
      expect(result, address).toBe(address === '10.0.0.2' ? undefined : 'EINVAL')
      a.close(fd)
    }
  })
})

describe("Node-style sockets' listeners that throw", () => {
  it("a 'connection' listener and a 'data' handler that throw are reported; every connection is accepted and reads on to the end of its stream, nothing lost", async () => {
    const errors: unknown[] = []
    const pair = stackPair({ stackB: { onCallbackError: (error) => errors.push(error) } })
    const { a, b, clock } = pair
    const received: number[] = [0, 0]
    const ended: boolean[] = [false, false]
    let throws = 0
    let accepted = 0
    const server = b.createServer((socket) => {
      const index = accepted++
      socket.on('data', (chunk: Buffer) => {
        received[index]! += chunk.length
        // The first connection's handler throws on every chunk.
        if (index === 0) {
          throws++
          throw new Error('data handler')
        }
      })
      socket.on('end', () => {
        ended[index] = true
        socket.end()
      })
      throws++
      throw new Error('connection listener')
    })
    server.listen(80)
    const total = 3_000_000
    // Both connect in the same turn, so both wait in the accept queue when the listener first throws.
    const clients = [a.connect({ host: '10.0.0.2', port: 80 }), a.connect({ host: '10.0.0.2', port: 80 })]
    for (const socket of clients) socket.end(Buffer.alloc(total, 1))
    await runUntilAsync(clock, () => ended[0]! && ended[1]!)
    expect(accepted).toBe(2)
    expect(received).toEqual([total, total])
    expect(throws).toBeGreaterThan(3)
    expect(errors.length).toBe(throws)
    expect(b.stats.callbackErrors).toBe(throws)
    server.close()
  }, 60_000)
})
