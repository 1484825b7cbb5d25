import { createMemoryLink, type PacketBuffer, VirtualClock } from '@mtcp/dpdk-io'
import { formatIpv4Address, parseIpv4Address } from '@mtcp/tcp-core'
import { describe, expect, it } from 'vitest'
import { PollEvents } from './socket-record.js'
import { createStack } from './stack.js'
import type { StackHooks } from './stack-hooks.js'
import { acceptWhenReady, runUntil } from './testing.js'

/** Stack a (10.0.0.1, with `hooks`) and stack b (10.0.0.2) on a virtual-clock link. */
function pair(hooks: StackHooks, staticArp = true) {
  const clock = new VirtualClock()
  const link = createMemoryLink({ clock, impairments: { rate: 1e9, delay: 100 } })
  const arpA = staticArp ? [{ ip: '10.0.0.2', mac: link.b.link.mac }] : []
  const arpB = staticArp ? [{ ip: '10.0.0.1', mac: link.a.link.mac }] : []
  const a = createStack({ port: link.a, address: '10.0.0.1/24', hooks, staticArp: arpA })
  const b = createStack({ port: link.b, address: '10.0.0.2/24', staticArp: arpB })
  return { clock, link, a, b }
}

describe('stack hooks (cluster workers)', () => {
  it('acceptEphemeralPort: connect takes only ports the hook accepts, and is told the destination', () => {
    const asked: [number, string, number][] = []
    const { clock, a, b } = pair({
      acceptEphemeralPort(localPort, remoteIp, remotePort) {
        asked.push([localPort, formatIpv4Address(remoteIp), remotePort])
        return localPort % 4 === 3
      },
    })
    const listener = b.socket()
    b.bind(listener, '0.0.0.0', 80)
    b.listen(listener)
    for (let i = 0; i < 5; i++) {
      const fd = a.socket()
      a.connect(fd, '10.0.0.2', 80)
      expect(a.getsockname(fd).port % 4).toBe(3)
      acceptWhenReady(clock, b, listener)
    }
    expect(asked.every(([, ip, port]) => ip === '10.0.0.2' && port === 80)).toBe(true)
    expect(asked.some(([port]) => port % 4 !== 3)).toBe(true) // refused ones were asked about too
  })

  it('acceptEphemeralPort refusing every port makes connect fail with EADDRINUSE', () => {
    const { a } = pair({ acceptEphemeralPort: () => false })
    expect(() => a.connect(a.socket(), '10.0.0.2', 80)).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }))
  })

  it('unmatchedSegment: a segment for no connection goes to the hook; taken, it gets no reset', () => {
    const seen: { localPort: number; remotePort: number; bytes: number }[] = []
    let take = true
    const { clock, a, b } = pair({
      unmatchedSegment(frame: PacketBuffer, localPort, remoteIp, remotePort) {
        expect(formatIpv4Address(remoteIp)).toBe('10.0.0.2')
        seen.push({ localPort, remotePort, bytes: frame.length })
        return take
      },
    })
    // b connects to a port where a has no listener: a SYN for no connection.
    const fd = b.socket()
    b.connect(fd, '10.0.0.1', 9999)
    runUntil(clock, () => seen.length > 0)
    expect(seen[0]!.localPort).toBe(9999)
    expect(seen[0]!.bytes).toBeGreaterThanOrEqual(54)
    expect(a.stats.tx.resets).toBe(0)
    expect(a.stats.rx.drops.noSocket).toBe(0)
    // Not taken: the usual reset, and b's connect is refused.
    take = false
    runUntil(clock, () => (b.readiness(fd) & PollEvents.ERR) !== 0)
    expect(a.stats.tx.resets).toBeGreaterThan(0)
    expect(b.connectionOf(fd)!.error).toBe('ECONNREFUSED')
  })

  it('unmatchedSegment is not asked about segments of known connections or SYNs for a listener', () => {
    let calls = 0
    const { clock, a, b } = pair({
      unmatchedSegment: () => {
        calls++
        return false
      },
    })
    const listener = a.socket()
    a.bind(listener, '0.0.0.0', 80)
    a.listen(listener)
    const fd = b.socket()
    b.connect(fd, '10.0.0.1', 80)
    const server = acceptWhenReady(clock, a, listener)
    b.write(fd, new Uint8Array(5000))
    runUntil(clock, () => a.connectionOf(server)!.readableBytes === 5000)
    expect(calls).toBe(0)
  })

  it('arpLearned: told of the neighbour an ARP packet taught; addArpEntry teaches another stack without ARP', () => {
    const learned: [string, string][] = []
    const { clock, link, a, b } = pair({ arpLearned: (ip, mac) => learned.push([formatIpv4Address(ip), Buffer.from(mac).toString('hex')]) }, false)
    const listener = a.socket()
    a.bind(listener, '0.0.0.0', 80)
    a.listen(listener)
    b.connect(b.socket(), '10.0.0.1', 80)
    acceptWhenReady(clock, a, listener)
    expect(learned).toContainEqual(['10.0.0.2', Buffer.from(link.b.link.mac).toString('hex')])

    // A third stack on a fresh link learns b's MAC from addArpEntry alone: its first frame needs no ARP.
    const link2 = createMemoryLink({ clock, impairments: { rate: 1e9, delay: 100 } })
    const c = createStack({ port: link2.a, address: '10.0.0.1/24' })
    c.addArpEntry('10.0.0.2', link2.b.link.mac)
    c.connect(c.socket(), '10.0.0.2', 80)
    runUntil(clock, () => link2.stats('aToB').enqueued > 0)
    expect(c.stats.tx.arp).toBe(0)
    expect(c.stats.tx.tcp).toBe(1)
  })

  it('addArpEntry releases frames waiting for the neighbour at once', () => {
    const { clock, a } = pair({}, false)
    a.connect(a.socket(), '10.0.0.2', 80) // the SYN waits for ARP
    runUntil(clock, () => a.stats.tx.arp > 0)
    expect(a.stats.tx.tcp).toBe(1) // built, parked in the ARP queue
    const sentBefore = a.stats.tx.frames
    a.addArpEntry(parseIpv4Address('10.0.0.2'), Uint8Array.of(2, 0, 0, 0, 0, 9))
    runUntil(clock, () => a.stats.tx.frames > sentBefore)
    expect(a.stats.tx.drops.arpUnresolved).toBe(0)
  })

  it('addArpEntry rejects a bad address or MAC with EINVAL', () => {
    const { a } = pair({})
    expect(() => a.addArpEntry('10.0.0.300', new Uint8Array(6))).toThrow(expect.objectContaining({ code: 'EINVAL' }))
    expect(() => a.addArpEntry(-1, new Uint8Array(6))).toThrow(expect.objectContaining({ code: 'EINVAL' }))
    expect(() => a.addArpEntry('10.0.0.2', new Uint8Array(5))).toThrow(expect.objectContaining({ code: 'EINVAL' }))
  })
})
