import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ArpCache, ArpOpcode } from './arp-cache.js'

const OUR_IP = 0x0a00_0001
/** A handful of neighbours, so that operations collide on the same entries. */
const NEIGHBOURS = [0x0a00_0002, 0x0a00_0003, 0x0a00_0004, 0x0a00_0005]
const MACS = [0x02, 0x04, 0x06].map((last) => new Uint8Array([0x02, 0, 0, 0, 0, last]))

const neighbour = fc.constantFrom(...NEIGHBOURS)
const operation = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('send' as const), ip: neighbour }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('arp' as const),
      ip: neighbour,
      mac: fc.constantFrom(...MACS),
      operation: fc.constantFrom(ArpOpcode.REQUEST, ArpOpcode.REPLY),
      toUs: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), by: fc.integer({ min: 0, max: 2_500_000 }), poll: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pollAtDue' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('addStatic' as const), ip: neighbour, mac: fc.constantFrom(...MACS) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('removeStatic' as const), ip: neighbour }) },
)
const options = fc.record({
  maxQueuedPerDestination: fc.integer({ min: 1, max: 5 }),
  maxQueuedTotal: fc.integer({ min: 1, max: 12 }),
  maxRetries: fc.integer({ min: 0, max: 3 }),
  retryInterval: fc.integer({ min: 1, max: 1_500_000 }),
  reachableTime: fc.integer({ min: 1, max: 5_000_000 }),
  failedHoldTime: fc.integer({ min: 0, max: 3_000_000 }),
  maxEntries: fc.integer({ min: 1, max: 5 }),
})

interface Packet {
  readonly id: number
  readonly ip: number
}

describe('ArpCache properties', () => {
  it('never loses a packet: each one is sent after resolution or handed back as dropped, exactly once', () => {
    fc.assert(
      fc.property(options, fc.array(operation, { maxLength: 150 }), (config, operations) => {
        const cache = new ArpCache<Packet>(config)
        let now = 0
        let nextId = 0
        /** id → how it left the cache. */
        const outcome = new Map<number, 'sent' | 'dropped'>()
        const settle = (packet: Packet, how: 'sent' | 'dropped'): void => {
          expect(outcome.has(packet.id), `packet ${packet.id} came back twice`).toBe(false)
          outcome.set(packet.id, how)
        }
        const sendAll = (packets: readonly Packet[], ip: number): void => {
          for (const packet of packets) {
            expect(packet.ip).toBe(ip) // released for the address it waited on
            settle(packet, 'sent')
          }
        }
        const drop = (packet: Packet): void => settle(packet, 'dropped')
        const poll = (): void => {
          cache.poll(now, () => {}, drop)
          // Everything due has been done.
          expect(cache.pollAt() ?? Number.POSITIVE_INFINITY).toBeGreaterThan(now)
        }

        for (const op of operations) {
          switch (op.kind) {
            case 'send': {
              if (cache.resolve(now, op.ip) !== undefined) break
              const packet = { id: nextId++, ip: op.ip }
              const dropped = cache.enqueue(now, op.ip, packet)
              if (dropped !== undefined) drop(dropped)
              break
            }
            case 'arp': {
              const input = cache.onArpPacket(now, { operation: op.operation, senderIp: op.ip, senderMac: op.mac, targetIp: op.toUs ? OUR_IP : NEIGHBOURS[0]! }, OUR_IP)
              expect(input.replyOwed).toBe(op.toUs && op.operation === ArpOpcode.REQUEST)
              if (input.ready.length > 0) expect(input.mac).toEqual(op.mac)
              sendAll(input.ready, op.ip)
              break
            }
            case 'advance':
              now += op.by
              if (op.poll) poll()
              break
            case 'pollAtDue': {
              const at = cache.pollAt()
              if (at !== undefined && at > now) now = at
              poll()
              break
            }
            case 'addStatic':
              sendAll(cache.addStatic(op.ip, op.mac), op.ip)
              break
            case 'removeStatic':
              cache.removeStatic(op.ip)
              break
          }
          expect(cache.queuedPackets).toBe(nextId - outcome.size)
          expect(cache.queuedPackets).toBeLessThanOrEqual(config.maxQueuedTotal)
          for (const ip of NEIGHBOURS) expect(cache.queuedFor(ip)).toBeLessThanOrEqual(config.maxQueuedPerDestination)
        }

        // With no more replies, following pollAt hands every remaining packet back within maxRetries + 1 intervals.
        const deadline = now + (config.maxRetries + 2) * config.retryInterval
        for (let at = cache.pollAt(); at !== undefined && cache.queuedPackets > 0; at = cache.pollAt()) {
          now = Math.max(now, at)
          expect(now).toBeLessThanOrEqual(deadline)
          poll()
        }
        expect(cache.queuedPackets).toBe(0)
        expect(outcome.size).toBe(nextId)
        const { packetsReleased, queueDrops, unresolvedDrops } = cache.stats
        expect(packetsReleased).toBe([...outcome.values()].filter((how) => how === 'sent').length)
        expect(queueDrops + unresolvedDrops).toBe([...outcome.values()].filter((how) => how === 'dropped').length)
      }),
      { numRuns: 500 },
    )
  })

  it('resolves to the MAC of the last merged ARP packet until reachableTime passes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 40_000_000 }), mac: fc.constantFrom(...MACS), toUs: fc.boolean() }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 100_000_000 }),
        (packets, probeGap) => {
          const reachableTime = 60_000_000
          const cache = new ArpCache<never>({ reachableTime })
          const ip = NEIGHBOURS[0]!
          let now = 0
          /** The model: the MAC and expiry of the entry, if any. */
          let model: { mac: Uint8Array; expires: number } | undefined
          for (const { gap, mac, toUs } of packets) {
            now += gap
            if (model !== undefined && now >= model.expires) model = undefined
            cache.onArpPacket(now, { operation: ArpOpcode.REPLY, senderIp: ip, senderMac: mac, targetIp: toUs ? OUR_IP : NEIGHBOURS[1]! }, OUR_IP)
            // RFC 826: merge if present; add only when we are the target.
            if (model !== undefined || toUs) model = { mac, expires: now + reachableTime }
          }
          now += probeGap
          const expected = model !== undefined && now < model.expires ? model.mac : undefined
          expect(cache.resolve(now, ip)).toEqual(expected)
        },
      ),
    )
  })
})
