import { describe, expect, it } from 'vitest'
import { PollEvents } from './socket-record.js'
import { acceptWhenReady, bulkTransfer, runUntil, stackPair } from './testing.js'

describe('two stacks over the memory link', () => {
  it('resolve each other with ARP, connect, exchange data and close (mTCP-style API)', () => {
    const { clock, a, b } = stackPair({ impairments: { rate: 1e9, delay: 1000 } })
    const listener = b.socket()
    b.bind(listener, '0.0.0.0', 80)
    b.listen(listener, 16)
    const client = a.socket()
    a.connect(client, '10.0.0.2', 80)
    expect(a.state(client)).toBe('SYN-SENT')
    const server = acceptWhenReady(clock, b, listener)
    runUntil(clock, () => (a.readiness(client) & PollEvents.OUT) !== 0)
    expect(a.state(client)).toBe('ESTABLISHED')
    expect(b.getpeername(server)).toEqual({ address: '10.0.0.1', port: a.getsockname(client).port, family: 'IPv4' })
    expect(a.stats.tx.arp + b.stats.tx.arp).toBeGreaterThanOrEqual(2)
    a.write(client, new TextEncoder().encode('hello'))
    const buffer = new Uint8Array(100)
    runUntil(clock, () => (b.readiness(server) & PollEvents.IN) !== 0)
    expect(new TextDecoder().decode(buffer.subarray(0, b.read(server, buffer)))).toBe('hello')
    expect(() => b.read(server, buffer)).toThrowError(expect.objectContaining({ code: 'EAGAIN' }))
    a.close(client)
    runUntil(clock, () => (b.readiness(server) & PollEvents.RDHUP) !== 0)
    expect(b.read(server, buffer)).toBe(0)
    b.close(server)
    runUntil(clock, () => a.connectionsByState()['TIME-WAIT'] === 1 && b.socketCount === 1)
    expect(b.connectionsByState()).toEqual({ LISTEN: 1 })
  })

  it('offers the MSS of a configured MTU smaller than the port MTU', () => {
    const { clock, a, b } = stackPair({ stack: { mtu: 1000 } })
    const listener = b.socket()
    b.bind(listener, '0.0.0.0', 80)
    b.listen(listener)
    const client = a.socket()
    a.connect(client, '10.0.0.2', 80)
    const server = acceptWhenReady(clock, b, listener)
    expect(a.connectionOf(client)!.negotiated.mss).toBe(960 - 12)
    expect(b.connectionOf(server)!.negotiated.mss).toBe(960 - 12)
  })

  it('moves 10 MB intact on a perfect link', () => {
    const pair = stackPair({ impairments: { rate: 10e9, delay: 100 } })
    const result = bulkTransfer(pair, 10_000_000)
    expect(result.bytes).toBe(10_000_000)
    expect(result.receivedHash).toBe(result.sentHash)
  })
})
