// Connections over IPv6 on a port that offers TCP checksum and segmentation offload over IPv6
// (`offloads.txChecksum.tcp6`, `offloads.segmentation.tcp6`): the stack leaves checksums to the port and
// sends super segments, which the port cuts (segmentTcp6); the data arrives intact, with impairments too.
// Without the offloads every frame leaves with its checksum computed.
import { createMemoryLink, OffloadFlags, type PacketBuffer } from '@mtcp/dpdk-io'
import { describe, expect, it } from 'vitest'
import { createStack } from './index.js'
import { bulkTransfer, stackPair } from './testing.js'

const MB = 1_000_000

describe('IPv6 connections and the port offloads', () => {
  it.each([
    ['no loss', {}, 2],
    ['1% random loss', { loss: 0.01 }, 1.5],
  ])('checksum and segmentation offload (%s): super segments cut by the port, data intact', (_, impairments, factor) => {
    const pair = stackPair({ family: 6, seed: 5, impairments: { rate: 1e9, delay: 100, ...impairments }, link: { offloads: { checksum: true, segmentation: true } }, stack: { tcp: { receiveBufferSize: 4 << 20 } } })
    const result = bulkTransfer(pair, 50 * MB)
    expect(result.receivedHash).toBe(result.sentHash)
    expect(pair.b.stats.rx.ipv6).toBeGreaterThan(0)
    // Fewer, larger frames from the stack than went on the wire.
    expect(pair.a.stats.tx.tcp * factor).toBeLessThan(pair.link.stats('aToB').enqueued)
  }, 120_000)

  it('checksum offload alone, on a link that corrupts: the port completes the checksums, damaged frames are dropped by them', () => {
    const pair = stackPair({ family: 6, seed: 3, impairments: { rate: 1e9, delay: 100, corrupt: 0.01 }, link: { offloads: { checksum: true } } })
    const result = bulkTransfer(pair, 20 * MB)
    expect(result.receivedHash).toBe(result.sentHash)
    expect(pair.a.stats.rx.drops.badTcpChecksum + pair.b.stats.rx.drops.badTcpChecksum).toBeGreaterThan(0)
  }, 120_000)

  it.each([
    [true, OffloadFlags.TX_TCP_CHECKSUM],
    [false, 0],
  ])('with checksum offload %s, a connection segment over IPv6 asks the port for flags %i', (checksum, flags) => {
    const link = createMemoryLink({ offloads: { checksum } })
    const seen: number[] = []
    const inner = link.a.txBurst.bind(link.a)
    link.a.txBurst = (bufs: PacketBuffer[], count: number) => {
      for (let i = 0; i < count; i++) if (bufs[i]!.data[bufs[i]!.offset + 12] === 0x86 && bufs[i]!.data[bufs[i]!.offset + 14 + 6] === 6) seen.push(bufs[i]!.offloadFlags)
      return inner(bufs, count)
    }
    const a = createStack({ port: link.a, address: '10.0.0.1/24', ipv6: 'fd00::1/64', staticNeighbors: [{ ip: 'fd00::2', mac: link.b.link.mac }] })
    const b = createStack({ port: link.b, address: '10.0.0.2/24', ipv6: 'fd00::2/64' })
    const fd = a.socket()
    a.connect(fd, 'fd00::2', 80)
    a.poll()
    expect(seen.length).toBeGreaterThan(0)
    for (const f of seen) expect(f).toBe(flags)
    a.stop()
    b.stop()
    link.close()
  })
})
