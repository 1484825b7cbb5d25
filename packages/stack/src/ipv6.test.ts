// TCP over IPv6 (RFC 8200, RFC 9293) between two stacks on the memory link, virtual clock: Neighbor
// Discovery both ways (RFC 4861), data intact, resets, a dual-stack listener, Node-style addresses, echo
// (RFC 4443 §4), and frames of every shape counted, never thrown on.
import { BufferPool, createMemoryLink, type PacketBuffer, VirtualClock } from '@mtcp/dpdk-io'
import { emitIcmpv6, emitIpv6, formatIpv6Address, Ipv6NextHeader, parseIpv6Address } from '@mtcp/tcp-core'
import { once } from 'node:events'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createStack } from './stack.js'
import { rxFramesAccounted } from './stats.js'
import { acceptWhenReady, bulkTransfer, connectSockets, runUntil, stackPair } from './testing.js'

const MB = 1_000_000
const base = { rate: 1e9, delay: 1000, queuePackets: 1000 }

describe('TCP over IPv6 between two stacks', () => {
  it('resolves each other by Neighbor Discovery and moves 10 MB intact, only as IPv6', () => {
    const pair = stackPair({ family: 6, impairments: base, seed: 4 })
    const result = bulkTransfer(pair, 10 * MB)
    expect(result.bytes).toBe(10 * MB)
    expect(result.receivedHash).toBe(result.sentHash)
    for (const stack of [pair.a, pair.b]) {
      expect(stack.stats.tx.ndp).toBeGreaterThanOrEqual(1) // a solicited b; b answered (and may solicit a in turn)
      expect(stack.stats.rx.ipv4).toBe(0)
      expect(stack.stats.tx.arp).toBe(0)
      expect(stack.stats.rx.ipv6).toBeGreaterThan(0)
      expect(rxFramesAccounted(stack.stats)).toBe(stack.stats.rx.frames)
    }
    // RFC 8200 §8.3: 1500 − 40 − 20, less the 12 bytes of the timestamps option.
    expect(result.clientInfo.mss).toBe(1440 - 12)
  }, 60_000)

  it('moves data under loss and reordering, intact', () => {
    const pair = stackPair({ family: 6, impairments: { ...base, loss: 0.01, reorder: 0.02, reorderDelay: 300 }, seed: 11 })
    const result = bulkTransfer(pair, 4 * MB)
    expect(result.receivedHash).toBe(result.sentHash)
    expect(pair.a.stats.tcp.retransmittedSegments).toBeGreaterThan(0)
  }, 60_000)

  it('reports family IPv6 and RFC 5952 text from getsockname and getpeername', () => {
    const pair = stackPair({ family: 6, impairments: base })
    const { listener, client, server } = connectSockets(pair)
    expect(pair.b.getsockname(listener)).toEqual({ address: '::', port: 5001, family: 'IPv6' })
    expect(pair.a.getpeername(client)).toEqual({ address: 'fd00::2', port: 5001, family: 'IPv6' })
    const local = pair.a.getsockname(client)
    expect(local.address).toBe('fd00::1')
    expect(local.family).toBe('IPv6')
    expect(pair.b.getpeername(server)).toEqual({ address: 'fd00::1', port: local.port, family: 'IPv6' })
    expect(pair.b.getsockname(server)).toEqual({ address: 'fd00::2', port: 5001, family: 'IPv6' })
  })

  it('gives a connection one non-zero flow label for all its packets (RFC 6437 §3), different per connection', () => {
    const pair = stackPair({ family: 6, impairments: base })
    const labels = new Map<number, Set<number>>() // source port → labels seen
    const tap = pair.link.a
    const txBurst = tap.txBurst.bind(tap)
    tap.txBurst = (bufs: PacketBuffer[], count: number) => {
      for (let i = 0; i < count; i++) {
        const { data, offset } = bufs[i]!
        if (data[offset + 12] !== 0x86 || data[offset + 13] !== 0xdd || data[offset + 14 + 6] !== 6) continue
        const label = ((data[offset + 15]! & 0x0f) << 16) | (data[offset + 16]! << 8) | data[offset + 17]!
        const port = (data[offset + 54]! << 8) | data[offset + 55]!
        if (!labels.has(port)) labels.set(port, new Set())
        labels.get(port)!.add(label)
      }
      return txBurst(bufs, count)
    }
    const listener = pair.b.socket()
    pair.b.bind(listener, '::', 80)
    pair.b.listen(listener)
    const clients = [pair.a.socket(), pair.a.socket()]
    for (const fd of clients) pair.a.connect(fd, 'fd00::2', 80)
    runUntil(pair.clock, () => clients.every((fd) => pair.a.state(fd) === 'ESTABLISHED'))
    expect(labels.size).toBe(2)
    const [first, second] = [...labels.values()]
    expect(first!.size).toBe(1)
    expect(second!.size).toBe(1)
    expect([...first!][0]).not.toBe(0)
    expect([...first!][0]).not.toBe([...second!][0])
  })

  it('hands a closed connection over IPv6 to the compact TIME-WAIT table (issue 20): the socket and its rings go at once, the entry at the timeout', () => {
    const pair = stackPair({ family: 6, impairments: base, stack: { tcp: { timeWaitTimeout: 2_000_000 } } })
    const { client, server } = connectSockets(pair)
    pair.a.write(client, new Uint8Array(10_000).fill(1))
    runUntil(pair.clock, () => pair.b.connectionOf(server)!.readableBytes === 10_000)
    pair.b.read(server, new Uint8Array(10_000)) // (unread data would make close a reset)
    const returnedBefore = pair.a.ringStorage!.returned
    const sockets = pair.a.socketCount
    pair.a.close(client) // a closes first: a goes through TIME-WAIT
    pair.b.close(server)
    runUntil(pair.clock, () => pair.a.connectionsByState()['TIME-WAIT'] === 1)
    expect(pair.a.ringStorage!.returned).toBeGreaterThan(returnedBefore) // the rings went back at once
    expect(pair.a.timeWaitCount).toBe(1) // an entry of the table, not a socket
    expect(pair.a.socketCount).toBe(sockets - 1)
    expect(pair.a.stats.timeWait.added).toBe(1)
    runUntil(pair.clock, () => pair.a.timeWaitCount === 0)
    expect(pair.clock.now()).toBeGreaterThanOrEqual(2_000_000)
    expect(pair.a.stats.timeWait.expired).toBe(1)
    expect(pair.a.connectionsByState()['TIME-WAIT']).toBeUndefined()
  })

  it('answers a SYN for no listener with a reset: the connect fails with ECONNREFUSED', () => {
    const pair = stackPair({ family: 6, impairments: base })
    const client = pair.a.socket()
    pair.a.connect(client, 'fd00::2', 9)
    runUntil(pair.clock, () => pair.a.state(client) === 'CLOSED')
    expect(pair.a.connectionOf(client)!.error).toBe('ECONNREFUSED')
    expect(pair.b.stats.rx.drops.noSocket).toBe(1)
    expect(pair.b.stats.tx.resets).toBe(1)
  })

  it('serves an IPv4 and an IPv6 client at once on one dual-stack listener bound to ::', () => {
    const pair = stackPair({ family: 6, impairments: base })
    const { a, b, clock } = pair
    const listener = b.socket()
    b.bind(listener, '::', 7000)
    b.listen(listener)
    const over4 = a.socket()
    const over6 = a.socket()
    a.connect(over4, '10.0.0.2', 7000)
    a.connect(over6, 'fd00::2', 7000)
    const first = acceptWhenReady(clock, b, listener)
    const second = acceptWhenReady(clock, b, listener)
    runUntil(clock, () => a.state(over4) === 'ESTABLISHED' && a.state(over6) === 'ESTABLISHED')
    const peers = [b.getpeername(first), b.getpeername(second)].map((peer) => peer.address).sort()
    // Node reports an IPv4 peer of a dual-stack server as IPv4-mapped IPv6 (RFC 4291 §2.5.5.2).
    expect(peers).toEqual(['::ffff:10.0.0.1', 'fd00::1'])
    expect(b.getpeername(first).family).toBe('IPv6')
    expect(a.getpeername(over4)).toEqual({ address: '10.0.0.2', port: 7000, family: 'IPv4' })
    // Each carries its own bytes.
    a.write(over4, new TextEncoder().encode('four'))
    a.write(over6, new TextEncoder().encode('six'))
    const got = new Map<string, string>()
    const buffer = new Uint8Array(16)
    runUntil(clock, () => {
      for (const fd of [first, second]) {
        try {
          const n = b.read(fd, buffer)
          got.set(b.getpeername(fd).address, new TextDecoder().decode(buffer.subarray(0, n)))
        } catch {
          // EAGAIN: not yet
        }
      }
      return got.size === 2
    })
    expect(got.get('::ffff:10.0.0.1')).toBe('four')
    expect(got.get('fd00::1')).toBe('six')
  })

  it('checks IPv6 arguments: EAFNOSUPPORT without the ipv6 option, EADDRNOTAVAIL for another address, ERR_INVALID_CONFIG for a bad ipv6 option', () => {
    const plain = stackPair({ impairments: base })
    expect(() => plain.a.connect(plain.a.socket(), 'fd00::2', 80)).toThrowError(/EAFNOSUPPORT/)
    const pair = stackPair({ family: 6, impairments: base })
    expect(() => pair.b.bind(pair.b.socket(), 'fd00::99', 80)).toThrowError(/EADDRNOTAVAIL/)
    expect(() => pair.a.connect(pair.a.socket(), 'ff02::1', 80)).toThrowError(/EINVAL/)
    expect(() => pair.a.connect(pair.a.socket(), '2001:db8::1', 80)).toThrowError(/EHOSTUNREACH/) // off-link, no gateway
    const clock = new VirtualClock()
    const link = createMemoryLink({ clock })
    expect(() => createStack({ port: link.a, address: '10.0.0.1/24', ipv6: 'fd00::1/129' })).toThrowError(/ERR_INVALID_CONFIG.*ipv6 must be/)
    expect(() => createStack({ port: link.a, address: '10.0.0.1/24', ipv6: 'ff02::1' })).toThrowError(/ERR_INVALID_CONFIG/)
  })
})

describe('ICMPv6 echo and malformed IPv6 frames', () => {
  const PEER_MAC = Uint8Array.of(0x02, 0, 0, 0, 0, 0x0a)

  function rawPeer() {
    const clock = new VirtualClock()
    const link = createMemoryLink({ clock, impairments: base })
    const stack = createStack({ port: link.b, address: '10.0.0.2/24', ipv6: 'fd00::2/64', staticNeighbors: [{ ip: 'fd00::1', mac: PEER_MAC }] })
    const pool = new BufferPool({ count: 64, dataRoom: 2048 })
    const send = (frame: Uint8Array): void => {
      const buffer = pool.alloc()!
      buffer.data.set(frame, buffer.offset)
      buffer.length = frame.byteLength
      link.a.txBurst([buffer], 1)
    }
    const received: Uint8Array[] = []
    const rx: PacketBuffer[] = []
    const collect = (): void => {
      const n = link.a.rxBurst(rx, 32)
      for (let i = 0; i < n; i++) {
        received.push(rx[i]!.frame().slice())
        rx[i]!.release()
      }
    }
    link.a.onReadable(collect)
    return { clock, stack, send, received, collect }
  }

  function echoRequest(dstMac: Uint8Array, data: Uint8Array): Uint8Array {
    const src = parseIpv6Address('fd00::1')!
    const dst = parseIpv6Address('fd00::2')!
    const frame = new Uint8Array(14 + 40 + 8 + data.byteLength)
    frame.set(dstMac, 0)
    frame.set(PEER_MAC, 6)
    frame[12] = 0x86
    frame[13] = 0xdd
    emitIpv6({ src, dst, nextHeader: Ipv6NextHeader.ICMPV6, hopLimit: 64, payloadLength: 8 + data.byteLength }, frame, 14)
    emitIcmpv6({ kind: 'echoRequest', identifier: 0x1234, sequenceNumber: 7, data }, frame, 54, src, dst)
    return frame
  }

  it('answers an echo request with the same identifier, sequence number and data (RFC 4443 §4.2)', () => {
    const peer = rawPeer()
    const data = Uint8Array.from({ length: 100 }, (_, i) => i)
    peer.send(echoRequest(peer.stack.options.mac, data))
    runUntil(peer.clock, () => {
      peer.collect()
      return peer.received.length > 0
    })
    const reply = peer.received[0]!
    expect([...reply.subarray(0, 6)]).toEqual([...PEER_MAC])
    expect(reply[14 + 6]).toBe(58)
    expect(formatIpv6Address(reply, 14 + 8)).toBe('fd00::2')
    expect(formatIpv6Address(reply, 14 + 24)).toBe('fd00::1')
    expect(reply[54]).toBe(129)
    expect((reply[58]! << 8) | reply[59]!).toBe(0x1234)
    expect((reply[60]! << 8) | reply[61]!).toBe(7)
    expect([...reply.subarray(62)]).toEqual([...data])
    expect(peer.stack.stats.tx.icmpv6).toBe(1)
  })

  it('counts a corrupted echo request as malformed ICMPv6 and answers nothing', () => {
    const peer = rawPeer()
    const frame = echoRequest(peer.stack.options.mac, new Uint8Array(8))
    frame[frame.byteLength - 1] = frame[frame.byteLength - 1]! ^ 0xff
    peer.send(frame)
    runUntil(peer.clock, () => peer.stack.stats.rx.frames === 1)
    expect(peer.stack.stats.rx.drops.malformedIcmpv6).toBe(1)
    expect(peer.stack.stats.tx.icmpv6).toBe(0)
  })

  it('never throws on fuzzed IPv6 frames, and counts each one once', () => {
    const peer = rawPeer()
    const header = echoRequest(peer.stack.options.mac, new Uint8Array(0)).subarray(0, 14 + 40)
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), fc.nat({ max: 53 }), fc.boolean(), (tail, keep, multicast) => {
        // A real Ethernet and IPv6 prefix (up to `keep` bytes of it, the rest random): every layer gets to refuse something.
        const frame = new Uint8Array(14 + Math.max(0, keep - 14) + tail.byteLength)
        frame.set(header.subarray(0, Math.min(14, keep + 14)))
        frame.set(header.subarray(14, keep), 14)
        frame.set(tail, 14 + Math.max(0, keep - 14))
        frame[12] = 0x86
        frame[13] = 0xdd
        if (multicast) frame.set([0x33, 0x33, 0xff, 0, 0, 2], 0)
        peer.send(frame)
        peer.clock.step()
      }),
      { numRuns: 300 },
    )
    runUntil(peer.clock, () => peer.stack.stats.rx.frames === 300)
    expect(rxFramesAccounted(peer.stack.stats)).toBe(peer.stack.stats.rx.frames)
  })
})

describe('Node-style sockets over IPv6', () => {
  it('a server listening with no host takes IPv6 and IPv4 clients; addresses and families as net reports them', async () => {
    const link = createMemoryLink({ impairments: { rate: 10e9, delay: 50 } })
    const a = createStack({ port: link.a, address: '10.0.0.1/24', ipv6: 'fd00:0:0:0::1/64' })
    const b = createStack({ port: link.b, address: '10.0.0.2/24', ipv6: 'fd00::2/64' })
    try {
      const seen: Array<{ address: string | undefined; family: string | undefined; local: string | undefined }> = []
      const server = b.createServer((socket) => {
        seen.push({ address: socket.remoteAddress, family: socket.remoteFamily, local: socket.localAddress })
        socket.on('data', (data: Buffer) => socket.end(data.toString().toUpperCase()))
      })
      server.listen(8080)
      await once(server, 'listening')
      expect(server.address()).toEqual({ address: '::', port: 8080, family: 'IPv6' })
      const six = a.connect({ host: 'FD00:0::2', port: 8080 })
      expect(six.remoteAddress).toBe('fd00::2') // RFC 5952: lower case, the zeros compressed
      expect(six.remoteFamily).toBe('IPv6')
      await once(six, 'connect')
      expect(six.localAddress).toBe('fd00::1')
      const four = a.connect({ host: '10.0.0.2', port: 8080 })
      await once(four, 'connect')
      const replies = await Promise.all(
        [six, four].map(async (socket, i) => {
          const chunks: Buffer[] = []
          socket.on('data', (chunk: Buffer) => chunks.push(chunk))
          socket.end(i === 0 ? 'six' : 'four')
          await once(socket, 'close')
          return Buffer.concat(chunks).toString()
        }),
      )
      expect(replies).toEqual(['SIX', 'FOUR'])
      expect(seen).toEqual([
        { address: 'fd00::1', family: 'IPv6', local: 'fd00::2' },
        { address: '::ffff:10.0.0.1', family: 'IPv6', local: '::ffff:10.0.0.2' },
      ])
      server.close()
    } finally {
      a.stop()
      b.stop()
      link.close()
    }
  })
})

describe('packet too big (RFC 4443 §3.2, RFC 8201)', () => {
  /** A connection over IPv6 with data in flight, the first full-sized data frame a sent, and a way to inject frames into a. */
  function inFlight() {
    const pair = stackPair({ family: 6, impairments: { rate: 1e9, delay: 20_000 } })
    const { client } = connectSockets(pair)
    let captured: Uint8Array | undefined
    const tap = pair.link.a
    const txBurst = tap.txBurst.bind(tap)
    tap.txBurst = (bufs: PacketBuffer[], count: number) => {
      for (let i = 0; i < count && captured === undefined; i++) if (bufs[i]!.length > 1400) captured = bufs[i]!.frame().slice()
      return txBurst(bufs, count)
    }
    pair.a.write(client, new Uint8Array(200_000).fill(5))
    runUntil(pair.clock, () => captured !== undefined)
    const pool = new BufferPool({ count: 8, dataRoom: 2048 })
    /** A packet too big from a router (fd00::fe) to a, quoting the captured frame's IPv6 packet. */
    const tooBig = (mtu: number, edit: (invoking: Uint8Array) => void = () => {}): void => {
      const invoking = captured!.slice(14, 14 + 1232 - 8 - 40) // as much as fits in 1280 (RFC 4443 §2.4 (c))
      edit(invoking)
      const src = parseIpv6Address('fd00::fe')!
      const dst = parseIpv6Address('fd00::1')!
      const buffer = pool.alloc()!
      const frame = buffer.data.subarray(buffer.offset)
      frame.set(pair.a.options.mac, 0)
      frame.set(pair.b.options.mac, 6)
      frame[12] = 0x86
      frame[13] = 0xdd
      const length = 8 + invoking.byteLength
      emitIpv6({ src, dst, nextHeader: Ipv6NextHeader.ICMPV6, hopLimit: 64, payloadLength: length }, frame, 14)
      emitIcmpv6({ kind: 'packetTooBig', code: 0, value: mtu, invoking }, frame, 54, src, dst)
      buffer.length = 54 + length
      pair.link.b.txBurst([buffer], 1)
    }
    return { pair, client, tooBig }
  }

  it('lowers the segment size to the reported MTU, no lower than 1280; a larger MTU does not raise it', () => {
    const { pair, client, tooBig } = inFlight()
    const icmpv6Before = pair.a.stats.rx.icmpv6
    tooBig(1000) // below the IPv6 minimum: taken as 1280 (RFC 8200 §5)
    runUntil(pair.clock, () => pair.a.stats.rx.icmpErrors.pathMtuLowered === 1)
    expect(pair.a.tcpInfo(client).mss).toBe(1280 - 60 - 12)
    expect(pair.a.stats.rx.icmpv6 - icmpv6Before).toBe(1)
    tooBig(1400) // not lower than the current size: nothing changes (RFC 8201 §4: never raised by a PTB)
    runUntil(pair.clock, () => pair.a.stats.rx.icmpErrors.pathMtuNotLower === 1)
    expect(pair.a.tcpInfo(client).mss).toBe(1280 - 60 - 12)
    expect(rxFramesAccounted(pair.a.stats)).toBe(pair.a.stats.rx.frames)
  })

  it('ignores a packet too big whose quoted sequence number is not in flight (RFC 5927 §4.1) or that quotes no connection', () => {
    const { pair, client, tooBig } = inFlight()
    tooBig(1300, (invoking) => {
      invoking[40 + 4] = invoking[40 + 4]! ^ 0x80 // the quoted sequence number, 2^31 away
    })
    runUntil(pair.clock, () => pair.a.stats.rx.drops.icmpOutOfWindow === 1)
    tooBig(1300, (invoking) => {
      invoking[40 + 1] = invoking[40 + 1]! ^ 1 // another local port
    })
    runUntil(pair.clock, () => pair.a.stats.rx.drops.icmpNoConnection === 1)
    expect(pair.a.tcpInfo(client).mss).toBe(1440 - 12)
    expect(pair.a.stats.rx.icmpErrors.pathMtuLowered).toBe(0)
  })
})
