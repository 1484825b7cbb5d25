// 100 MB between two stacks over the emulated link, checked by SHA-256, under each impairment.
import { describe, expect, it } from 'vitest'
import type { LinkImpairments } from '@mtcp/dpdk-io'
import { bulkTransfer, stackPair } from './testing.js'

const MB = 1_000_000
const base: LinkImpairments = { rate: 1e9, delay: 1000, queuePackets: 1000 }

describe('100 MB bulk transfer, SHA-256 equal at both ends', () => {
  it.each<[string, LinkImpairments]>([
    ['no loss', {}],
    ['1% random loss', { loss: 0.01 }],
    ['5% random loss', { loss: 0.05 }],
    ['reordering and duplication', { reorder: 0.02, reorderDelay: 300, duplicate: 0.02 }],
    ['bursty loss', { burstLoss: { p: 0.002, r: 0.3 } }],
  ])('%s', (_, impairments) => {
    const pair = stackPair({ impairments: { ...base, ...impairments }, seed: 7 })
    const result = bulkTransfer(pair, 100 * MB)
    expect(result.bytes).toBe(100 * MB)
    expect(result.receivedHash).toBe(result.sentHash)
    const lossy = impairments.loss !== undefined || impairments.burstLoss !== undefined
    if (lossy) expect(pair.a.stats.tcp.retransmittedSegments).toBeGreaterThan(0)
  }, 120_000)

  it.each<[string, LinkImpairments, number]>([
    ['no loss', {}, 2],
    ['1% random loss', { loss: 0.01 }, 1.5],
  ])('with segmentation offload (%s): super segments cut by the port, intact', (_, impairments, factor) => {
    // A 4 MB receive window: the receiving application reads after the stack has acknowledged (the driver
    // delivers events after each burst, as the kernel wakes a reader after its softirq), so with the 1 MB
    // default the window, not the congestion window, would cut each send, into pieces of a few MSS.
    const pair = stackPair({ impairments: { ...base, ...impairments }, seed: 9, link: { offloads: { checksum: true, segmentation: true } }, stack: { tcp: { receiveBufferSize: 4 << 20 } } })
    const result = bulkTransfer(pair, 100 * MB)
    expect(result.receivedHash).toBe(result.sentHash)
    // The stack handed the port fewer, larger frames than went on the wire (ACK clocking keeps them at a
    // few MSS each: every ACK opens the window by about two segments).
    expect(pair.a.stats.tx.tcp * factor).toBeLessThan(pair.link.stats('aToB').enqueued)
  }, 120_000)

  it('with corruption: damaged frames are dropped by checksum, the data arrives intact', () => {
    const pair = stackPair({ impairments: { ...base, corrupt: 0.01 }, seed: 3 })
    const result = bulkTransfer(pair, 100 * MB)
    expect(result.receivedHash).toBe(result.sentHash)
    const drops = [pair.a.stats.rx.drops, pair.b.stats.rx.drops]
    const checksumDrops = drops.reduce((sum, d) => sum + d.badTcpChecksum + d.badIpv4Checksum, 0)
    const corrupted = pair.link.stats('aToB').corrupted + pair.link.stats('bToA').corrupted
    expect(checksumDrops).toBeGreaterThan(0)
    // Only corrupted frames were dropped (a flip in the source MAC or the padding is covered by no
    // checksum and is rightly accepted: the emulated link has no FCS).
    const allDrops = drops.reduce((sum, d) => sum + Object.values(d).reduce((x, y) => x + y, 0), 0)
    expect(allDrops).toBeLessThanOrEqual(corrupted)
    expect(allDrops).toBeGreaterThan(corrupted * 0.9)
  }, 120_000)

  it('tcpInfo reports the connection: windows, RTT, counters', () => {
    const pair = stackPair({ impairments: { ...base, rate: 100e6, delay: 10_000, loss: 0.01 }, seed: 3 })
    const result = bulkTransfer(pair, 5 * MB)
    expect(result.receivedHash).toBe(result.sentHash)
    const info = result.clientInfo
    // The receiver saw the end of the stream; the last ACKs may still be on their way back.
    expect(info.bytesAcked).toBeLessThanOrEqual(5 * MB)
    expect(5 * MB - info.bytesAcked).toBeLessThanOrEqual(info.bytesInFlight)
    expect(info.bytesSent).toBeGreaterThanOrEqual(5 * MB + info.retransmittedBytes)
    expect(info.retransmittedSegments).toBe(result.clientStats.retransmittedSegments)
    expect(info.retransmittedSegments).toBeGreaterThan(0)
    // 10 ms each way: the RTT is at least 20 ms, and the smallest sample is not above the smoothed one.
    expect(info.minRttUs).toBeGreaterThanOrEqual(20_000)
    expect(info.srttUs).toBeGreaterThanOrEqual(info.minRttUs)
    expect(info.mss).toBe(1448) // 1460 less the 12 bytes of the timestamps option
    expect(info.cwnd).toBeGreaterThanOrEqual(2 * info.mss)
    expect(info.congestionControl).toBe('cubic')
    expect(() => pair.a.tcpInfo(result.clientFd)).toThrow(/EBADF/) // closed by now
  }, 60_000)
})

