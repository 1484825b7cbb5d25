import { describe, expect, it } from 'vitest'
import { parseIpv4Address as ip } from '../route/ipv4-address.js'
import { ArpCache, type ArpCacheOptions, ArpOpcode, type ArpPacketInfo } from './arp-cache.js'
import { ArpError } from './arp-error.js'
import { parseMacAddress as mac } from '@mtcp/primitives'

const OUR_IP = ip('10.0.0.1')
const PEER_IP = ip('10.0.0.2')
const OTHER_IP = ip('10.0.0.3')
const PEER_MAC = mac('02:00:00:00:00:02')
const NEW_PEER_MAC = mac('02:00:00:00:00:22')
const OTHER_MAC = mac('02:00:00:00:00:03')
const SECOND = 1_000_000

/** A reply from `senderIp` to us. */
function reply(senderIp: number, senderMac: Uint8Array, targetIp = OUR_IP): ArpPacketInfo {
  return { operation: ArpOpcode.REPLY, senderIp, senderMac, targetIp }
}

/** A request from `senderIp` for `targetIp` (us by default). */
function request(senderIp: number, senderMac: Uint8Array, targetIp = OUR_IP): ArpPacketInfo {
  return { operation: ArpOpcode.REQUEST, senderIp, senderMac, targetIp }
}

/** Run `poll` and collect what it asked for. */
function poll<T extends {}>(cache: ArpCache<T>, now: number): { requests: number[]; dropped: T[] } {
  const requests: number[] = []
  const dropped: T[] = []
  cache.poll(
    now,
    (target) => requests.push(target),
    (packet) => dropped.push(packet),
  )
  return { requests, dropped }
}

/** A cache whose `PEER_IP` has missed at `now` and whose first request went out. */
function resolving(options: ArpCacheOptions = {}, now = 0): ArpCache<string> {
  const cache = new ArpCache<string>(options)
  expect(cache.resolve(now, PEER_IP)).toBeUndefined()
  expect(poll(cache, now).requests).toEqual([PEER_IP])
  return cache
}

/** A cache that has learned `PEER_IP` → `PEER_MAC` at `now`. */
function learned(options: ArpCacheOptions = {}, now = 0): ArpCache<string> {
  const cache = new ArpCache<string>(options)
  expect(cache.onArpPacket(now, request(PEER_IP, PEER_MAC), OUR_IP).learned).toBe(true)
  return cache
}

describe('ArpCache: resolution on a miss', () => {
  it('owes a request at once on a miss, and one only', () => {
    const cache = new ArpCache<string>()
    expect(cache.pollAt()).toBeUndefined()
    expect(cache.resolve(5, PEER_IP)).toBeUndefined()
    expect(cache.state(5, PEER_IP)).toBe('incomplete')
    expect(cache.pollAt()).toBe(5)
    expect(cache.resolve(6, PEER_IP)).toBeUndefined()
    expect(poll(cache, 7)).toEqual({ requests: [PEER_IP], dropped: [] })
    expect(cache.pollAt()).toBe(7 + SECOND)
    expect(poll(cache, 8)).toEqual({ requests: [], dropped: [] })
    expect(cache.stats).toMatchObject({ misses: 2, hits: 0, requestsSent: 1 })
  })

  it('retries every retryInterval, maxRetries times, then fails and hands back every waiting packet in order', () => {
    const cache = new ArpCache<string>({ retryInterval: 250, maxRetries: 2, failedHoldTime: 10_000 })
    cache.resolve(1000, PEER_IP)
    expect(cache.enqueue(1000, PEER_IP, 'a')).toBeUndefined()
    expect(cache.enqueue(1000, PEER_IP, 'b')).toBeUndefined()
    const timeline: string[] = []
    for (let i = 0; i < 10; i++) {
      const at = cache.pollAt()
      if (at === undefined) break
      expect(poll(cache, at - 1)).toEqual({ requests: [], dropped: [] }) // nothing is done early
      const { requests, dropped } = poll(cache, at)
      timeline.push(`${at}: ${requests.length} request(s)${dropped.length ? `, dropped ${dropped.join(',')}` : ''}`)
      if (dropped.length > 0) break
    }
    expect(timeline).toEqual(['1000: 1 request(s)', '1250: 1 request(s)', '1500: 1 request(s)', '1750: 0 request(s), dropped a,b'])
    expect(cache.stats).toMatchObject({ requestsSent: 3, resolutionFailures: 1, unresolvedDrops: 2, queueDrops: 0 })
    expect(cache.queuedPackets).toBe(0)
    expect(cache.state(1750, PEER_IP)).toBe('failed')
  })

  it('defaults to a request a second and four requests in all (the first and 3 retries)', () => {
    const cache = resolving()
    const times: number[] = []
    for (let at = cache.pollAt(); at !== undefined && cache.state(at, PEER_IP) === 'incomplete'; at = cache.pollAt()) {
      if (poll(cache, at).requests.length > 0) times.push(at)
    }
    expect(times).toEqual([1, 2, 3].map((n) => n * SECOND))
    expect(cache.stats.requestsSent).toBe(4)
    expect(cache.stats.resolutionFailures).toBe(1)
  })

  it('sends a late retry when polled late, and counts from the late send', () => {
    const cache = resolving({ retryInterval: 100 })
    expect(poll(cache, 350).requests).toEqual([PEER_IP]) // one request, not three
    expect(cache.pollAt()).toBe(450)
  })

  it('while failed: lookups miss without requests, packets come straight back, until failedHoldTime ends', () => {
    const cache = resolving({ maxRetries: 0, failedHoldTime: 5 * SECOND })
    expect(poll(cache, SECOND)).toEqual({ requests: [], dropped: [] })
    expect(cache.state(SECOND, PEER_IP)).toBe('failed')
    expect(cache.resolve(2 * SECOND, PEER_IP)).toBeUndefined()
    expect(cache.enqueue(2 * SECOND, PEER_IP, 'refused')).toBe('refused')
    expect(cache.stats.unresolvedDrops).toBe(1)
    expect(cache.pollAt()).toBe(6 * SECOND)
    expect(poll(cache, 6 * SECOND - 1).requests).toEqual([])
    expect(poll(cache, 6 * SECOND)).toEqual({ requests: [], dropped: [] })
    expect(cache.size).toBe(0)
    expect(cache.pollAt()).toBeUndefined()
    // A new attempt starts from scratch.
    expect(cache.resolve(7 * SECOND, PEER_IP)).toBeUndefined()
    expect(poll(cache, 7 * SECOND).requests).toEqual([PEER_IP])
  })

  it('a failed entry past its hold time is gone even if poll has not run', () => {
    const cache = resolving({ maxRetries: 0, failedHoldTime: SECOND })
    poll(cache, SECOND)
    expect(cache.state(2 * SECOND, PEER_IP)).toBeUndefined()
    expect(cache.resolve(2 * SECOND, PEER_IP)).toBeUndefined()
    expect(cache.state(2 * SECOND, PEER_IP)).toBe('incomplete')
    expect(cache.pollAt()).toBe(2 * SECOND)
  })

  it('with failedHoldTime 0, keeps no negative entry', () => {
    const cache = resolving({ maxRetries: 0, failedHoldTime: 0 })
    cache.enqueue(0, PEER_IP, 'p')
    expect(poll(cache, SECOND)).toEqual({ requests: [], dropped: ['p'] })
    expect(cache.size).toBe(0)
    expect(cache.pollAt()).toBeUndefined()
    cache.resolve(SECOND, PEER_IP)
    expect(poll(cache, SECOND).requests).toEqual([PEER_IP])
  })

  it('an ARP packet from a failed address resolves it at once', () => {
    const cache = resolving({ maxRetries: 0 })
    poll(cache, SECOND)
    expect(cache.state(SECOND, PEER_IP)).toBe('failed')
    const input = cache.onArpPacket(2 * SECOND, request(PEER_IP, PEER_MAC, OTHER_IP), OUR_IP)
    expect(input.learned).toBe(true) // in the table, so merged although the target is someone else
    expect(cache.resolve(2 * SECOND, PEER_IP)).toEqual(PEER_MAC)
  })

  it('requests each unresolved address, in the order they missed', () => {
    const cache = new ArpCache<string>()
    cache.resolve(0, OTHER_IP)
    cache.resolve(1, PEER_IP)
    expect(poll(cache, 2).requests).toEqual([OTHER_IP, PEER_IP])
  })
})

describe('ArpCache: waiting packets', () => {
  it('releases waiting packets in order when the reply comes, and then hits', () => {
    const cache = resolving()
    for (const packet of ['p1', 'p2', 'p3']) expect(cache.enqueue(10, PEER_IP, packet)).toBeUndefined()
    expect(cache.queuedPackets).toBe(3)
    expect(cache.queuedFor(PEER_IP)).toBe(3)
    const input = cache.onArpPacket(20, reply(PEER_IP, PEER_MAC), OUR_IP)
    expect(input).toEqual({ replyOwed: false, learned: true, mac: PEER_MAC, ready: ['p1', 'p2', 'p3'] })
    expect(cache.queuedPackets).toBe(0)
    expect(cache.resolve(30, PEER_IP)).toBe(input.mac)
    expect(cache.pollAt()).toBe(20 + 60 * SECOND) // no more requests: only the expiry
    expect(poll(cache, 2 * SECOND).requests).toEqual([])
    expect(cache.stats).toMatchObject({ hits: 1, misses: 1, requestsSent: 1, repliesLearned: 1, packetsReleased: 3 })
  })

  it('enqueue alone starts resolution', () => {
    const cache = new ArpCache<string>()
    expect(cache.enqueue(0, PEER_IP, 'p')).toBeUndefined()
    expect(cache.state(0, PEER_IP)).toBe('incomplete')
    expect(poll(cache, 0).requests).toEqual([PEER_IP])
  })

  it('drops the oldest packet of a destination past maxQueuedPerDestination, and hands it back', () => {
    const cache = resolving({ maxQueuedPerDestination: 2 })
    expect(cache.enqueue(0, PEER_IP, 'a')).toBeUndefined()
    expect(cache.enqueue(0, PEER_IP, 'b')).toBeUndefined()
    expect(cache.enqueue(0, PEER_IP, 'c')).toBe('a')
    expect(cache.enqueue(0, PEER_IP, 'd')).toBe('b')
    expect(cache.stats.queueDrops).toBe(2)
    expect(cache.queuedFor(PEER_IP)).toBe(2)
    expect(cache.onArpPacket(1, reply(PEER_IP, PEER_MAC), OUR_IP).ready).toEqual(['c', 'd'])
  })

  it('defaults to 4 packets per destination', () => {
    const cache = resolving()
    const dropped = ['a', 'b', 'c', 'd', 'e', 'f'].map((packet) => cache.enqueue(0, PEER_IP, packet))
    expect(dropped).toEqual([undefined, undefined, undefined, undefined, 'a', 'b'])
  })

  it('drops the oldest packet in the whole cache past maxQueuedTotal', () => {
    const cache = new ArpCache<string>({ maxQueuedTotal: 3 })
    cache.resolve(0, PEER_IP)
    cache.resolve(0, OTHER_IP)
    expect(cache.enqueue(0, PEER_IP, 'peer1')).toBeUndefined()
    expect(cache.enqueue(0, OTHER_IP, 'other1')).toBeUndefined()
    expect(cache.enqueue(0, PEER_IP, 'peer2')).toBeUndefined()
    expect(cache.enqueue(0, OTHER_IP, 'other2')).toBe('peer1')
    expect(cache.enqueue(0, PEER_IP, 'peer3')).toBe('other1')
    expect(cache.queuedPackets).toBe(3)
    expect(cache.stats.queueDrops).toBe(2)
    expect(cache.onArpPacket(1, reply(PEER_IP, PEER_MAC), OUR_IP).ready).toEqual(['peer2', 'peer3'])
    expect(cache.onArpPacket(1, reply(OTHER_IP, OTHER_MAC), OUR_IP).ready).toEqual(['other2'])
  })

  it('refuses to queue for an address that resolves', () => {
    const cache = learned()
    expect(() => cache.enqueue(0, PEER_IP, 'p')).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_STATE' }))
    cache.addStatic(OTHER_IP, OTHER_MAC)
    expect(() => cache.enqueue(0, OTHER_IP, 'p')).toThrowError(ArpError)
  })

  it('clear hands back every waiting packet and keeps static entries', () => {
    const cache = new ArpCache<string>()
    cache.addStatic(ip('10.0.0.9'), OTHER_MAC)
    cache.enqueue(0, PEER_IP, 'a')
    cache.enqueue(0, OTHER_IP, 'b')
    cache.enqueue(0, PEER_IP, 'c')
    const dropped: string[] = []
    cache.clear((packet) => dropped.push(packet))
    expect(dropped.sort()).toEqual(['a', 'b', 'c'])
    expect(cache.size).toBe(1)
    expect(cache.queuedPackets).toBe(0)
    expect(cache.pollAt()).toBeUndefined()
    expect(cache.stats.unresolvedDrops).toBe(3)
  })
})

describe('ArpCache: learning (RFC 826 merge rule)', () => {
  it('adds the sender of a request for us, and owes a reply', () => {
    const cache = new ArpCache<string>()
    const input = cache.onArpPacket(0, request(PEER_IP, PEER_MAC), OUR_IP)
    expect(input).toEqual({ replyOwed: true, learned: true, mac: PEER_MAC, ready: [] })
    expect(cache.resolve(1, PEER_IP)).toEqual(PEER_MAC)
  })

  it('adds the sender of a reply to us, with no reply owed', () => {
    const cache = new ArpCache<string>()
    expect(cache.onArpPacket(0, reply(PEER_IP, PEER_MAC), OUR_IP)).toMatchObject({ replyOwed: false, learned: true })
    expect(cache.state(0, PEER_IP)).toBe('reachable')
  })

  it('does not add a sender when we are not the target', () => {
    const cache = new ArpCache<string>()
    expect(cache.onArpPacket(0, request(PEER_IP, PEER_MAC, OTHER_IP), OUR_IP)).toEqual({ replyOwed: false, learned: false, mac: undefined, ready: [] })
    expect(cache.onArpPacket(0, reply(PEER_IP, PEER_MAC, OTHER_IP), OUR_IP).learned).toBe(false)
    expect(cache.size).toBe(0)
    expect(cache.resolve(0, PEER_IP)).toBeUndefined()
  })

  it('updates a known sender from any packet, even when we are not the target', () => {
    const cache = learned({}, 0)
    const input = cache.onArpPacket(10 * SECOND, request(PEER_IP, NEW_PEER_MAC, OTHER_IP), OUR_IP)
    expect(input).toMatchObject({ replyOwed: false, learned: true })
    expect(cache.resolve(10 * SECOND, PEER_IP)).toEqual(NEW_PEER_MAC)
    expect(cache.stats.macChanges).toBe(1)
    // The update also refreshed the entry: it lives 60 s from the last packet.
    expect(cache.resolve(65 * SECOND, PEER_IP)).toEqual(NEW_PEER_MAC)
  })

  it('gratuitous ARP refreshes an existing entry but adds none', () => {
    const cache = learned()
    cache.onArpPacket(0, request(PEER_IP, NEW_PEER_MAC, PEER_IP), OUR_IP)
    expect(cache.resolve(0, PEER_IP)).toEqual(NEW_PEER_MAC)
    cache.onArpPacket(0, reply(OTHER_IP, OTHER_MAC, OTHER_IP), OUR_IP)
    expect(cache.state(0, OTHER_IP)).toBeUndefined()
  })

  it('answers a request for us whatever the sender, but owes nothing for other targets or operations', () => {
    const cache = new ArpCache<string>()
    expect(cache.onArpPacket(0, request(PEER_IP, PEER_MAC, OTHER_IP), OUR_IP).replyOwed).toBe(false)
    expect(cache.onArpPacket(0, { ...request(PEER_IP, PEER_MAC), operation: 3 }, OUR_IP)).toMatchObject({ replyOwed: false, learned: true })
  })

  it.each<[string, ArpPacketInfo]>([
    ['an RFC 5227 probe (sender 0.0.0.0)', request(0, PEER_MAC)],
    ['a sender claiming our address', request(OUR_IP, PEER_MAC)],
    ['a broadcast sender MAC', request(PEER_IP, mac('ff:ff:ff:ff:ff:ff'))],
    ['a multicast sender MAC', request(PEER_IP, mac('01:00:5e:00:00:01'))],
    ['an all-zero sender MAC', request(PEER_IP, mac('00:00:00:00:00:00'))],
    ['a multicast sender IP', request(ip('224.0.0.1'), PEER_MAC)],
    ['the broadcast sender IP', request(ip('255.255.255.255'), PEER_MAC)],
  ])('does not learn from %s, but still owes the reply', (_name, packet) => {
    const cache = new ArpCache<string>()
    expect(cache.onArpPacket(0, packet, OUR_IP)).toEqual({ replyOwed: true, learned: false, mac: undefined, ready: [] })
    expect(cache.size).toBe(0)
    expect(cache.stats.ignoredSenders).toBe(1)
  })

  it('keeps its own copy of the MAC, and a new array when it changes', () => {
    const cache = new ArpCache<string>()
    const frame = new Uint8Array([0xaa, 0xbb, ...PEER_MAC, 0xcc])
    cache.onArpPacket(0, request(PEER_IP, frame.subarray(2, 8)), OUR_IP)
    frame.fill(0)
    const stored = cache.resolve(0, PEER_IP)!
    expect(stored).toEqual(PEER_MAC)
    cache.onArpPacket(1, reply(PEER_IP, NEW_PEER_MAC), OUR_IP)
    expect(stored).toEqual(PEER_MAC)
    expect(cache.resolve(1, PEER_IP)).toEqual(NEW_PEER_MAC)
    cache.onArpPacket(2, reply(PEER_IP, NEW_PEER_MAC), OUR_IP)
    expect(cache.stats.macChanges).toBe(1) // the same MAC again is no change
  })
})

describe('ArpCache: expiry', () => {
  it('expires a learned entry reachableTime after it was confirmed: a lookup at that instant is a miss', () => {
    const cache = learned({ reachableTime: 1000 }, 500)
    expect(cache.pollAt()).toBe(1500)
    expect(cache.resolve(1499, PEER_IP)).toEqual(PEER_MAC)
    expect(cache.resolve(1500, PEER_IP)).toBeUndefined()
    expect(cache.state(1500, PEER_IP)).toBe('incomplete') // the miss started resolution again
    expect(poll(cache, 1500).requests).toEqual([PEER_IP])
  })

  it('poll forgets expired entries', () => {
    const cache = learned({ reachableTime: 1000 }, 0)
    cache.onArpPacket(400, request(OTHER_IP, OTHER_MAC), OUR_IP)
    expect(poll(cache, 999)).toEqual({ requests: [], dropped: [] })
    expect(cache.size).toBe(2)
    poll(cache, 1000)
    expect(cache.size).toBe(1)
    expect(cache.pollAt()).toBe(1400)
    poll(cache, 1400)
    expect(cache.size).toBe(0)
    expect(cache.pollAt()).toBeUndefined()
  })

  it('does not learn from a stranger whose old entry expired unless we are the target', () => {
    const cache = learned({ reachableTime: 1000 }, 0)
    expect(cache.onArpPacket(2000, request(PEER_IP, PEER_MAC, OTHER_IP), OUR_IP).learned).toBe(false)
    expect(cache.size).toBe(0)
  })
})

describe('ArpCache: revalidation of entries in use (RFC 1122 §2.3.2.1 unicast poll)', () => {
  /** Run `poll` and collect requests with the MAC they are unicast to, if any. */
  function pollRequests(cache: ArpCache<string>, now: number): [number, Uint8Array | undefined][] {
    const requests: [number, Uint8Array | undefined][] = []
    cache.poll(
      now,
      (target, to) => requests.push([target, to]),
      () => {},
    )
    return requests
  }

  it('a hit in the last refreshWindow owes one unicast request; the answer extends the entry without a miss', () => {
    const cache = learned({ reachableTime: 10 * SECOND, refreshWindow: 2 * SECOND }, 0)
    expect(cache.resolve(8 * SECOND - 1, PEER_IP)).toEqual(PEER_MAC)
    expect(cache.pollAt()).toBe(10 * SECOND) // no refresh owed yet: only the expiry
    expect(cache.resolve(8 * SECOND, PEER_IP)).toEqual(PEER_MAC)
    expect(cache.pollAt()).toBe(8 * SECOND)
    expect(cache.resolve(8.5 * SECOND, PEER_IP)).toEqual(PEER_MAC) // still one owed
    expect(pollRequests(cache, 8.5 * SECOND)).toEqual([[PEER_IP, PEER_MAC]])
    expect(cache.resolve(9 * SECOND, PEER_IP)).toEqual(PEER_MAC)
    expect(pollRequests(cache, 9 * SECOND)).toEqual([]) // one per lifetime
    cache.onArpPacket(9.1 * SECOND, reply(PEER_IP, PEER_MAC), OUR_IP)
    expect(cache.resolve(15 * SECOND, PEER_IP)).toEqual(PEER_MAC) // no miss at 10 s
    expect(cache.stats).toMatchObject({ misses: 0, requestsSent: 1, refreshRequests: 1 })
    // The next lifetime gets its own revalidation.
    expect(cache.resolve(17.5 * SECOND, PEER_IP)).toEqual(PEER_MAC)
    expect(pollRequests(cache, 17.5 * SECOND)).toEqual([[PEER_IP, PEER_MAC]])
  })

  it('an unanswered revalidation lets the entry expire as usual', () => {
    const cache = learned({ reachableTime: 10 * SECOND }, 0)
    cache.resolve(9.5 * SECOND, PEER_IP)
    expect(pollRequests(cache, 9.5 * SECOND)).toEqual([[PEER_IP, PEER_MAC]])
    expect(cache.resolve(10 * SECOND, PEER_IP)).toBeUndefined()
    expect(pollRequests(cache, 10 * SECOND)).toEqual([[PEER_IP, undefined]]) // broadcast resolution
  })

  it('an entry that is not used is not revalidated, and refreshWindow 0 turns it off', () => {
    const idle = learned({ reachableTime: 10 * SECOND }, 0)
    expect(pollRequests(idle, 9.5 * SECOND)).toEqual([])
    const off = learned({ reachableTime: 10 * SECOND, refreshWindow: 0 }, 0)
    off.resolve(10 * SECOND - 1, PEER_IP)
    expect(off.pollAt()).toBe(10 * SECOND)
    expect(pollRequests(off, 10 * SECOND - 1)).toEqual([])
  })

  it('skips an owed revalidation whose entry was confirmed, made static or expired meanwhile', () => {
    const cache = learned({ reachableTime: 10 * SECOND }, 0)
    cache.onArpPacket(0, request(OTHER_IP, OTHER_MAC), OUR_IP)
    cache.resolve(9.5 * SECOND, PEER_IP)
    cache.onArpPacket(9.6 * SECOND, reply(PEER_IP, PEER_MAC), OUR_IP)
    cache.resolve(9.7 * SECOND, OTHER_IP)
    cache.addStatic(OTHER_IP, OTHER_MAC)
    expect(pollRequests(cache, 9.8 * SECOND)).toEqual([])
    expect(cache.pollAt()).toBe(19.6 * SECOND)
  })
})

describe('ArpCache: static entries', () => {
  it('never expire and are not overwritten by learning', () => {
    const cache = new ArpCache<string>()
    expect(cache.addStatic(PEER_IP, PEER_MAC)).toEqual([])
    expect(cache.pollAt()).toBeUndefined()
    expect(cache.resolve(1e12, PEER_IP)).toEqual(PEER_MAC)
    expect(cache.onArpPacket(1e12, reply(PEER_IP, NEW_PEER_MAC), OUR_IP)).toMatchObject({ learned: false, replyOwed: false })
    expect(cache.onArpPacket(1e12, request(PEER_IP, NEW_PEER_MAC), OUR_IP)).toMatchObject({ learned: false, replyOwed: true })
    expect(cache.resolve(1e12, PEER_IP)).toEqual(PEER_MAC)
    expect(cache.stats.ignoredSenders).toBe(2)
    expect(cache.state(1e12, PEER_IP)).toBe('static')
  })

  it('replace a dynamic entry, releasing its waiting packets to be sent', () => {
    const cache = resolving()
    cache.enqueue(0, PEER_IP, 'a')
    cache.enqueue(0, PEER_IP, 'b')
    expect(cache.addStatic(PEER_IP, PEER_MAC)).toEqual(['a', 'b'])
    expect(cache.queuedPackets).toBe(0)
    expect(cache.pollAt()).toBeUndefined() // no more requests for it
    expect(cache.resolve(0, PEER_IP)).toEqual(PEER_MAC)
  })

  it('can be changed and removed; removeStatic leaves dynamic entries alone', () => {
    const cache = learned()
    expect(cache.removeStatic(PEER_IP)).toBe(false)
    cache.addStatic(OTHER_IP, OTHER_MAC)
    cache.addStatic(OTHER_IP, NEW_PEER_MAC)
    expect(cache.resolve(0, OTHER_IP)).toEqual(NEW_PEER_MAC)
    expect(cache.removeStatic(OTHER_IP)).toBe(true)
    expect(cache.removeStatic(OTHER_IP)).toBe(false)
    expect(cache.resolve(0, OTHER_IP)).toBeUndefined()
    expect(cache.resolve(0, PEER_IP)).toEqual(PEER_MAC)
  })

  it('do not count against maxEntries', () => {
    const cache = new ArpCache<string>({ maxEntries: 1 })
    cache.addStatic(OTHER_IP, OTHER_MAC)
    cache.addStatic(ip('10.0.0.9'), OTHER_MAC)
    expect(cache.onArpPacket(0, request(PEER_IP, PEER_MAC), OUR_IP).learned).toBe(true)
    expect(cache.size).toBe(3)
  })
})

describe('ArpCache: table bound', () => {
  it('evicts the oldest learned entry to make room', () => {
    const cache = new ArpCache<string>({ maxEntries: 2 })
    cache.onArpPacket(0, request(PEER_IP, PEER_MAC), OUR_IP)
    cache.onArpPacket(1, request(OTHER_IP, OTHER_MAC), OUR_IP)
    cache.onArpPacket(2, request(PEER_IP, PEER_MAC), OUR_IP) // refreshes PEER: OTHER is now the oldest
    cache.resolve(3, ip('10.0.0.9'))
    expect(cache.state(3, OTHER_IP)).toBeUndefined()
    expect(cache.state(3, PEER_IP)).toBe('reachable')
    expect(cache.state(3, ip('10.0.0.9'))).toBe('incomplete')
  })

  it('refuses a new resolution when every entry is still resolving, handing the packet back', () => {
    const cache = new ArpCache<string>({ maxEntries: 1 })
    cache.resolve(0, PEER_IP)
    expect(cache.resolve(0, OTHER_IP)).toBeUndefined()
    expect(cache.enqueue(0, OTHER_IP, 'p')).toBe('p')
    expect(cache.stats).toMatchObject({ tableFull: 2, unresolvedDrops: 1 })
    expect(cache.onArpPacket(0, request(OTHER_IP, OTHER_MAC), OUR_IP)).toMatchObject({ learned: false, replyOwed: true })
    expect(poll(cache, 0).requests).toEqual([PEER_IP])
  })
})

describe('ArpCache: counters', () => {
  it('counts a whole episode', () => {
    const cache = new ArpCache<string>({ maxQueuedPerDestination: 1, maxRetries: 1 })
    cache.resolve(0, PEER_IP) // miss
    cache.enqueue(0, PEER_IP, 'a')
    cache.enqueue(0, PEER_IP, 'b') // drops a
    poll(cache, 0) // request 1
    cache.onArpPacket(1, reply(PEER_IP, PEER_MAC), OUR_IP) // learns, releases b
    cache.resolve(2, PEER_IP) // hit
    cache.resolve(2, OTHER_IP) // miss
    cache.enqueue(2, OTHER_IP, 'c')
    poll(cache, 2) // request 2
    poll(cache, 2 + SECOND) // request 3
    poll(cache, 2 + 2 * SECOND) // fails, drops c
    cache.onArpPacket(3 * SECOND, request(0, OTHER_MAC), OUR_IP) // ignored
    expect(cache.stats).toEqual({
      hits: 1,
      misses: 2,
      requestsSent: 3,
      refreshRequests: 0,
      repliesLearned: 1,
      macChanges: 0,
      ignoredSenders: 1,
      queueDrops: 1,
      resolutionFailures: 1,
      unresolvedDrops: 1,
      tableFull: 0,
      packetsReleased: 1,
    })
  })
})

describe('ArpCache: validation', () => {
  it.each<[keyof ArpCacheOptions, number, RegExp]>([
    ['reachableTime', 0, /reachableTime must be a number in \[1, 86400000000\] µs, got 0/],
    ['reachableTime', -5, /reachableTime/],
    ['retryInterval', 0, /retryInterval must be a number in \[1, 3600000000\] µs, got 0/],
    ['retryInterval', Number.NaN, /retryInterval .* got NaN/],
    ['refreshWindow', -1, /refreshWindow must be a number in \[0, 86400000000\] µs, got -1/],
    ['failedHoldTime', -1, /failedHoldTime must be a number in \[0, 86400000000\] µs, got -1/],
    ['maxRetries', 1.5, /maxRetries must be an integer in \[0, 255\], got 1.5/],
    ['maxRetries', -1, /maxRetries/],
    ['maxQueuedPerDestination', 0, /maxQueuedPerDestination must be an integer in \[1, 65536\], got 0/],
    ['maxQueuedPerDestination', 2.5, /maxQueuedPerDestination/],
    ['maxQueuedTotal', 0, /maxQueuedTotal must be an integer in \[1, 16777216\], got 0/],
    ['maxEntries', Number.POSITIVE_INFINITY, /maxEntries must be an integer in \[1, 16777216\], got Infinity/],
  ])('rejects %s = %d with ERR_INVALID_CONFIG naming the range', (setting, value, message) => {
    expect(() => new ArpCache({ [setting]: value })).toThrowError(expect.objectContaining({ code: 'ERR_INVALID_CONFIG', message: expect.stringMatching(message) }))
  })

  it('accepts the edges of each range', () => {
    const cache = new ArpCache({ reachableTime: 1, retryInterval: 1, maxRetries: 0, failedHoldTime: 0, maxQueuedPerDestination: 1, maxQueuedTotal: 1, maxEntries: 1 })
    expect(cache.options.retryInterval).toBe(1)
    expect(new ArpCache().options).toEqual({
      reachableTime: 60 * SECOND,
      retryInterval: SECOND,
      refreshWindow: SECOND,
      maxRetries: 3,
      failedHoldTime: 20 * SECOND,
      maxQueuedPerDestination: 4,
      maxQueuedTotal: 1024,
      maxEntries: 4096,
    })
  })

  it('rejects a MAC that is not 6 bytes and an address that is not a uint32 with ERR_INVALID_ARG', () => {
    const cache = new ArpCache<string>()
    const invalidArg = expect.objectContaining({ code: 'ERR_INVALID_ARG' })
    expect(() => cache.addStatic(PEER_IP, new Uint8Array(5))).toThrowError(invalidArg)
    expect(() => cache.addStatic(PEER_IP, new Uint8Array(7))).toThrowError(/mac must be a 6-byte Uint8Array, got a Uint8Array of 7 bytes/)
    expect(() => cache.onArpPacket(0, request(PEER_IP, new Uint8Array(4)), OUR_IP)).toThrowError(/senderMac/)
    expect(() => cache.addStatic(-1, PEER_MAC)).toThrowError(invalidArg)
    expect(() => cache.resolve(0, 2 ** 32)).toThrowError(/ip must be an IPv4 address as an integer in \[0, 4294967295\], got 4294967296/)
    expect(() => cache.enqueue(0, 1.5, 'p')).toThrowError(invalidArg)
    expect(() => cache.onArpPacket(0, request(PEER_IP, PEER_MAC, -1), OUR_IP)).toThrowError(/targetIp/)
    expect(() => cache.onArpPacket(0, request(PEER_IP, PEER_MAC), Number.NaN)).toThrowError(/ourIp/)
    expect(() => cache.removeStatic(Number.NaN)).toThrowError(invalidArg)
    expect(cache.size).toBe(0)
  })
})
