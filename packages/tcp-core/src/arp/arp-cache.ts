/**
 * The ARP cache: IPv4 → Ethernet address translation (RFC 826), with the packets that wait for a
 * translation. Sans-I/O: it never sends, never reads a clock and arms no timer. The driver passes `now`
 * (µs), hands it every received ARP packet ({@link ArpCache.onArpPacket}), asks it for addresses
 * ({@link ArpCache.resolve}) and calls {@link ArpCache.poll} at {@link ArpCache.pollAt} to send requests and
 * age entries. mTCP had the same pieces: a static table file, learning, and requests on a miss with a 1 s timeout.
 *
 * Entries and their states:
 * - **static**: added by {@link ArpCache.addStatic}; never expires, never overwritten by learning.
 * - **incomplete**: a miss started resolution. A request is owed at once, then repeated every
 *   `retryInterval` up to `maxRetries` times; packets may wait on the entry ({@link ArpCache.enqueue}).
 * - **reachable**: learned from an ARP packet; valid until `reachableTime` after the last packet that
 *   confirmed it. A lookup at or after that instant is a miss. An entry that is used in its last
 *   `refreshWindow` is revalidated with one unicast request to the known MAC (RFC 1122 §2.3.2.1,
 *   "Unicast Poll"), so that a busy flow does not stall and overflow the waiting queue every
 *   `reachableTime` (Linux's STALE → DELAY → PROBE states serve the same end).
 * - **failed**: every request went unanswered. Lookups miss and no request is sent until
 *   `failedHoldTime` has passed (a negative entry, as FreeBSD's 20 s `net.link.ether.inet.wait`), unless
 *   an ARP packet from the address arrives first.
 *
 * Every operation is O(1) (amortised): entries live in a `Map` keyed by the uint32 address, and each
 * dynamic entry sits in one intrusive list per state, ordered by its deadline, because every deadline
 * is `now` plus a fixed interval and `now` never decreases. Waiting packets sit in a per-entry FIFO
 * threaded through one cache-wide FIFO, so "the oldest waiting packet" is found in O(1) too.
 *
 * No packet is ever lost: each one given to {@link ArpCache.enqueue} comes back exactly once, either
 * in {@link ArpInput.ready} / the array returned by {@link ArpCache.addStatic} (to send), or as a
 * dropped packet (returned by `enqueue`, or passed to the `drop` callback of {@link ArpCache.poll} or
 * {@link ArpCache.clear}) for the caller to free, and counted.
 * @module
 */
import { describeMacArgument, isMacAddress, isUnicastMacAddress, macAddressEquals, type Micros } from '@mtcp/primitives'
import { isIpv4Address, type Ipv4Address } from '../route/ipv4-address.js'
import { ArpError } from './arp-error.js'

/** ARP operation codes (RFC 826 `ar$op`). */
export const ArpOpcode = {
  /** `ares_op$REQUEST`. */
  REQUEST: 1,
  /** `ares_op$REPLY`. */
  REPLY: 2,
} as const

/** The fields of a received ARP packet that the cache needs (the wire layer has checked `ar$hrd`, `ar$pro` and the lengths). */
export interface ArpPacketInfo {
  /** `ar$op`: {@link ArpOpcode.REQUEST}, {@link ArpOpcode.REPLY}, or another code (learned from, never answered). */
  operation: number
  /** `ar$sha`, 6 bytes. Copied if kept: it may be a view into a receive buffer. */
  senderMac: Uint8Array
  /** `ar$spa` as a uint32. */
  senderIp: Ipv4Address
  /** `ar$tpa` as a uint32. */
  targetIp: Ipv4Address
}

/** What {@link ArpCache.onArpPacket} asks the caller to do. */
export interface ArpInput<T> {
  /**
   * The packet is a request for our address: send a reply (RFC 826: swap the sender and target fields,
   * put our addresses in the sender fields, `ar$op` = reply) to `senderMac`.
   */
  readonly replyOwed: boolean
  /** Whether the sender's addresses were merged into the table (an entry updated, or added because we were the target). */
  readonly learned: boolean
  /** The sender's MAC as stored by the cache, when {@link learned}; never changes afterwards (a new MAC gets a new array). */
  readonly mac: Uint8Array | undefined
  /** Packets that waited for the sender's address, oldest first: send each to {@link mac}. Empty most of the time. */
  readonly ready: readonly T[]
}

/** The state of a cache entry, as reported by {@link ArpCache.state}. */
export type ArpEntryState = 'static' | 'reachable' | 'incomplete' | 'failed'

/** Tuning of an {@link ArpCache}. Times are µs. */
export interface ArpCacheOptions {
  /** How long a learned entry stays valid after the ARP packet that confirmed it. Default 60 s; in [1, 86400000000] µs. */
  reachableTime?: Micros | undefined
  /** Time between requests for an unresolved address. Default 1 s (as mTCP); in [1, 3600000000] µs. */
  retryInterval?: Micros | undefined
  /**
   * How long before a reachable entry expires a lookup that hits it asks for one unicast request to
   * revalidate it (RFC 1122 §2.3.2.1). Default 1 s; 0 turns revalidation off. In [0, 86400000000] µs.
   */
  refreshWindow?: Micros | undefined
  /** Requests repeated after the first before the address is declared unreachable. Default 3 (4 requests in all); integer in [0, 255]. */
  maxRetries?: number | undefined
  /**
   * How long a failed address stays failed (lookups miss, packets are refused, no requests) before a new
   * attempt may start. Default 20 s (FreeBSD's `net.link.ether.inet.wait`); 0 keeps no negative entry, so the
   * next packet starts over at once. In [0, 86400000000] µs.
   */
  failedHoldTime?: Micros | undefined
  /** Packets that may wait for one address. Default 4; integer in [1, 65536]. */
  maxQueuedPerDestination?: number | undefined
  /** Packets that may wait in the whole cache. Default 1024; integer in [1, 16777216]. */
  maxQueuedTotal?: number | undefined
  /** Dynamic (non-static) entries the cache holds. Default 4096; integer in [1, 16777216]. */
  maxEntries?: number | undefined
}

/** Counters of an {@link ArpCache}. Plain numbers, updated in place. */
export interface ArpCacheStats {
  /** {@link ArpCache.resolve} calls answered with a MAC. */
  hits: number
  /** {@link ArpCache.resolve} calls that found no usable MAC. */
  misses: number
  /** Requests handed to `emitRequest` by {@link ArpCache.poll}, revalidations included. */
  requestsSent: number
  /** Of {@link requestsSent}, the unicast revalidations of reachable entries in use (RFC 1122 §2.3.2.1). */
  refreshRequests: number
  /** ARP packets (replies, and requests merged under RFC 826's rule) whose sender was merged into the table. */
  repliesLearned: number
  /** Learned MACs that differed from the one already stored for the address. */
  macChanges: number
  /** Senders not learned from: 0.0.0.0 (an RFC 5227 probe), our own address, a multicast or broadcast IP, a non-unicast MAC, or a static entry with another MAC. */
  ignoredSenders: number
  /** Waiting packets handed back because a queue bound was hit (Linux's `unres_discards`). */
  queueDrops: number
  /** Addresses declared unreachable after `maxRetries` retries went unanswered. */
  resolutionFailures: number
  /** Packets handed back because their address did not resolve: on failure, while failed, or by {@link ArpCache.clear}. */
  unresolvedDrops: number
  /** New entries refused because `maxEntries` incomplete entries already existed (no entry could be evicted). */
  tableFull: number
  /** Waiting packets released to be sent after their address resolved. */
  packetsReleased: number
}

/** {@link ArpCacheOptions} with every default applied. */
export type ResolvedArpCacheOptions = { readonly [K in keyof ArpCacheOptions]-?: number }

/** Default {@link ArpCacheOptions}. */
export const ARP_CACHE_DEFAULTS: ResolvedArpCacheOptions = Object.freeze({
  reachableTime: 60_000_000,
  retryInterval: 1_000_000,
  refreshWindow: 1_000_000,
  maxRetries: 3,
  failedHoldTime: 20_000_000,
  maxQueuedPerDestination: 4,
  maxQueuedTotal: 1024,
  maxEntries: 4096,
})

const STATIC = 0
const REACHABLE = 1
const INCOMPLETE = 2
const FAILED = 3
const STATE_NAMES: readonly ArpEntryState[] = ['static', 'reachable', 'incomplete', 'failed']

const NOTHING: readonly never[] = Object.freeze([])

/** One address. `deadline` is when it expires (reachable, failed) or its next request is due (incomplete). */
class Entry<T> {
  mac: Uint8Array | undefined = undefined
  deadline = 0
  /** Requests sent for the current resolution attempt. */
  requestsSent = 0
  /** Revalidation of a reachable entry: 0 none yet, 1 owed, 2 sent. Reset when the entry is confirmed. */
  refresh = 0
  list: EntryList<T> | undefined = undefined
  prev: Entry<T> | undefined = undefined
  next: Entry<T> | undefined = undefined
  /** Oldest waiting packet. */
  queueHead: QueueNode<T> | undefined = undefined
  queueTail: QueueNode<T> | undefined = undefined
  queueLength = 0
  constructor(
    readonly ip: Ipv4Address,
    public state: number,
  ) {}
}

/** A doubly linked list of entries with non-decreasing deadlines (appended in deadline order). */
class EntryList<T> {
  head: Entry<T> | undefined = undefined
  tail: Entry<T> | undefined = undefined

  push(entry: Entry<T>): void {
    entry.list = this
    entry.prev = this.tail
    entry.next = undefined
    if (this.tail === undefined) this.head = entry
    else this.tail.next = entry
    this.tail = entry
  }

  remove(entry: Entry<T>): void {
    if (entry.prev === undefined) this.head = entry.next
    else entry.prev.next = entry.next
    if (entry.next === undefined) this.tail = entry.prev
    else entry.next.prev = entry.prev
    entry.list = entry.prev = entry.next = undefined
  }
}

/** A waiting packet: in its entry's FIFO (`next`) and in the cache-wide FIFO (`older`/`newer`). */
class QueueNode<T> {
  packet: T | undefined = undefined
  entry: Entry<T> | undefined = undefined
  next: QueueNode<T> | undefined = undefined
  older: QueueNode<T> | undefined = undefined
  newer: QueueNode<T> | undefined = undefined
}

/**
 * A sans-I/O ARP cache (RFC 826) holding the packets that wait for resolution.
 *
 * Addresses are uint32 numbers ({@link Ipv4Address}); MACs are 6-byte `Uint8Array`s. The cache copies
 * every MAC it keeps into an array of its own that it never modifies, so the array returned by
 * {@link resolve} may be kept and compared by reference; a changed MAC gets a new array.
 *
 * `now` must never decrease from one call to the next.
 *
 * @typeParam T - what waits for resolution; the stack uses pool buffers. Opaque to the cache, but not
 * `undefined` or `null`: `enqueue` returns `undefined` for "nothing dropped".
 *
 * @example
 * ```ts
 * const arp = new ArpCache<PacketBuffer>()
 * // transmit path
 * const mac = arp.resolve(now, nextHop)
 * if (mac !== undefined) sendTo(mac, buffer)
 * else arp.enqueue(now, nextHop, buffer)?.release()          // a dropped packet comes back: free it
 * // receive path
 * const input = arp.onArpPacket(now, parsedArp, ourIp)
 * if (input.replyOwed) sendArpReply(parsedArp)
 * for (const waiting of input.ready) sendTo(input.mac!, waiting)
 * // timers
 * if ((arp.pollAt() ?? Infinity) <= now) arp.poll(now, sendArpRequest, (buffer) => buffer.release())
 * ```
 */
export class ArpCache<T extends {}> {
  /** The options in force, defaults applied. */
  readonly options: ResolvedArpCacheOptions
  /** Counters. */
  readonly stats: ArpCacheStats = {
    hits: 0,
    misses: 0,
    requestsSent: 0,
    refreshRequests: 0,
    repliesLearned: 0,
    macChanges: 0,
    ignoredSenders: 0,
    queueDrops: 0,
    resolutionFailures: 0,
    unresolvedDrops: 0,
    tableFull: 0,
    packetsReleased: 0,
  }

  readonly #entries = new Map<Ipv4Address, Entry<T>>()
  /** Incomplete entries whose first request is owed; deadline = the time of the miss. */
  readonly #owed = new EntryList<T>()
  /** Incomplete entries that sent a request; deadline = when the next one (or the failure) is due. */
  readonly #retrying = new EntryList<T>()
  readonly #reachable = new EntryList<T>()
  readonly #failed = new EntryList<T>()
  /** Reachable entries owed a revalidation request, and since when. */
  #refreshOwed: Entry<T>[] = []
  #refreshOwedSince = 0
  #dynamicCount = 0
  #oldestQueued: QueueNode<T> | undefined = undefined
  #newestQueued: QueueNode<T> | undefined = undefined
  #queuedCount = 0
  readonly #freeNodes: QueueNode<T>[] = []

  /** @throws {@link ArpError} `ERR_INVALID_CONFIG` naming the setting and its accepted range when an option is out of range. */
  constructor(options: ArpCacheOptions = {}) {
    const d = ARP_CACHE_DEFAULTS
    this.options = Object.freeze({
      reachableTime: checkOption('reachableTime', options.reachableTime ?? d.reachableTime, 1, 86_400_000_000, false, 'µs'),
      retryInterval: checkOption('retryInterval', options.retryInterval ?? d.retryInterval, 1, 3_600_000_000, false, 'µs'),
      refreshWindow: checkOption('refreshWindow', options.refreshWindow ?? d.refreshWindow, 0, 86_400_000_000, false, 'µs'),
      maxRetries: checkOption('maxRetries', options.maxRetries ?? d.maxRetries, 0, 255, true),
      failedHoldTime: checkOption('failedHoldTime', options.failedHoldTime ?? d.failedHoldTime, 0, 86_400_000_000, false, 'µs'),
      maxQueuedPerDestination: checkOption('maxQueuedPerDestination', options.maxQueuedPerDestination ?? d.maxQueuedPerDestination, 1, 65_536, true),
      maxQueuedTotal: checkOption('maxQueuedTotal', options.maxQueuedTotal ?? d.maxQueuedTotal, 1, 16_777_216, true),
      maxEntries: checkOption('maxEntries', options.maxEntries ?? d.maxEntries, 1, 16_777_216, true),
    })
  }

  /** Number of entries, static ones included. */
  get size(): number {
    return this.#entries.size
  }

  /** Number of packets waiting for resolution in the whole cache. */
  get queuedPackets(): number {
    return this.#queuedCount
  }

  /**
   * Look up the MAC for `ip`.
   *
   * A miss on an address the cache knows nothing of (or whose entry has expired) starts resolution: an
   * incomplete entry is created and a request is owed at once ({@link pollAt} returns `now`). A miss on
   * an incomplete entry changes nothing; on a failed one, no request is sent until the hold time ends.
   * A hit in the last `refreshWindow` of a learned entry's life owes one unicast revalidation request.
   * On a miss, queue the packet with {@link enqueue} (or drop it).
   * @returns the MAC (do not modify it), or undefined on a miss.
   * @throws {@link ArpError} `ERR_INVALID_ARG` when `ip` is not a uint32.
   */
  resolve(now: Micros, ip: Ipv4Address): Uint8Array | undefined {
    checkIp('ip', ip)
    const entry = this.#current(now, ip)
    if (entry !== undefined && (entry.state === STATIC || entry.state === REACHABLE)) {
      this.stats.hits++
      // RFC 1122 §2.3.2.1: revalidate an entry in use before it times out, with one unicast poll.
      if (entry.state === REACHABLE && entry.refresh === 0 && now >= entry.deadline - this.options.refreshWindow) {
        entry.refresh = 1
        if (this.#refreshOwed.length === 0) this.#refreshOwedSince = now
        this.#refreshOwed.push(entry)
      }
      return entry.mac
    }
    this.stats.misses++
    if (entry === undefined) this.#startResolution(now, ip)
    return undefined
  }

  /**
   * Queue `packet` until `ip` resolves (after {@link resolve} missed). Starts resolution if it is not under way.
   *
   * Bounds: when `ip` already has `maxQueuedPerDestination` packets waiting, its oldest is dropped; else
   * when the cache holds `maxQueuedTotal`, the oldest waiting packet of any address is dropped. Dropping
   * the oldest is what Linux does (`__neigh_event_send` dequeues from the head of `arp_queue` while it is
   * over `unres_qlen_bytes`, counting `unres_discards`) and FreeBSD too (`arp_maxhold`): the newest packet
   * carries the most recent state (a retransmission, the latest ACK), so it is the one worth keeping.
   * @returns a packet the caller must now free, counted in {@link ArpCacheStats}: the evicted oldest
   * (`queueDrops`), or `packet` itself when it could not be queued because `ip` is failed or the table is
   * full (`unresolvedDrops`); undefined when nothing was dropped.
   * @throws {@link ArpError} `ERR_INVALID_STATE` when `ip` resolves (send the packet instead);
   * `ERR_INVALID_ARG` when `ip` is not a uint32.
   */
  enqueue(now: Micros, ip: Ipv4Address, packet: T): T | undefined {
    checkIp('ip', ip)
    const entry = this.#current(now, ip) ?? this.#startResolution(now, ip)
    if (entry === undefined || entry.state === FAILED) {
      this.stats.unresolvedDrops++
      return packet
    }
    if (entry.state !== INCOMPLETE) {
      throw new ArpError('ERR_INVALID_STATE', `${formatIp(ip)} resolves (${STATE_NAMES[entry.state]!} entry): send the packet instead of queueing it`)
    }
    let dropped: T | undefined
    if (entry.queueLength >= this.options.maxQueuedPerDestination) {
      dropped = this.#dequeue(entry)
    } else if (this.#queuedCount >= this.options.maxQueuedTotal) {
      dropped = this.#dequeue(this.#oldestQueued!.entry!)
    }
    if (dropped !== undefined) this.stats.queueDrops++
    this.#append(entry, packet)
    return dropped
  }

  /**
   * Apply a received ARP packet (RFC 826, "Packet Reception").
   *
   * The merge rule: if the sender's address is in the table, its MAC is updated (and any waiting packets
   * are released) whatever the operation; if it is not, an entry is added only when we are the target.
   * Only then is the operation looked at: a request for our address owes a reply. Gratuitous ARP (sender
   * = target) therefore refreshes an existing entry but adds none.
   *
   * Not learned from (counted in `ignoredSenders`, the reply is still owed): sender 0.0.0.0 (an RFC 5227
   * §2.1.1 probe), our own address (a conflict, which is not ours to resolve here), multicast and
   * broadcast IPs (224.0.0.0/3), non-unicast or all-zero MACs, and an address held by a static entry.
   * @param ourIp - the address of the interface the packet came in on.
   * @throws {@link ArpError} `ERR_INVALID_ARG` when a MAC is not 6 bytes or an address is not a uint32.
   */
  onArpPacket(now: Micros, packet: ArpPacketInfo, ourIp: Ipv4Address): ArpInput<T> {
    const { operation, senderMac, senderIp, targetIp } = packet
    if (!isMacAddress(senderMac)) throw new ArpError('ERR_INVALID_ARG', `senderMac must be a 6-byte Uint8Array, got ${describeMacArgument(senderMac)}`)
    checkIp('senderIp', senderIp)
    checkIp('targetIp', targetIp)
    checkIp('ourIp', ourIp)
    const targetIsUs = targetIp === ourIp
    // RFC 826: "?Is the opcode ares_op$REQUEST? (NOW look at the opcode!!)", only once the merge is done.
    const replyOwed = targetIsUs && operation === ArpOpcode.REQUEST
    const learnable = senderIp !== 0 && senderIp !== ourIp && senderIp < 0xe000_0000 && isUnicastMacAddress(senderMac)
    let entry = learnable ? this.#current(now, senderIp) : undefined
    if (!learnable || entry?.state === STATIC) {
      if (!learnable || !macAddressEquals(entry!.mac!, senderMac)) this.stats.ignoredSenders++
      return { replyOwed, learned: false, mac: undefined, ready: NOTHING }
    }
    // RFC 826: "If the pair <protocol type, sender protocol address> is already in my translation table,
    // update the sender hardware address field of the entry" (Merge_flag), else "?Am I the target
    // protocol address? Yes: If Merge_flag is false, add the triplet".
    if (entry === undefined) {
      if (!targetIsUs) return { replyOwed, learned: false, mac: undefined, ready: NOTHING }
      entry = this.#createEntry(REACHABLE, senderIp)
      if (entry === undefined) return { replyOwed, learned: false, mac: undefined, ready: NOTHING }
    }
    const mac = this.#confirm(now, entry, senderMac)
    const ready = this.#release(entry)
    return { replyOwed, learned: true, mac, ready }
  }

  /**
   * Add (or replace) a static entry: it never expires and learning never overwrites it. A dynamic entry for
   * `ip` is replaced; packets that were waiting on it are returned, to be sent to `mac`.
   * @returns the released packets, oldest first (usually none).
   * @throws {@link ArpError} `ERR_INVALID_ARG` when `mac` is not 6 bytes or `ip` is not a uint32.
   */
  addStatic(ip: Ipv4Address, mac: Uint8Array): readonly T[] {
    checkIp('ip', ip)
    if (!isMacAddress(mac)) throw new ArpError('ERR_INVALID_ARG', `mac must be a 6-byte Uint8Array, got ${describeMacArgument(mac)}`)
    let entry = this.#entries.get(ip)
    let ready: readonly T[] = NOTHING
    if (entry === undefined) {
      entry = new Entry<T>(ip, STATIC)
      this.#entries.set(ip, entry)
    } else if (entry.state !== STATIC) {
      ready = this.#release(entry)
      entry.list!.remove(entry)
      this.#dynamicCount--
      entry.state = STATIC
    }
    if (entry.mac === undefined || !macAddressEquals(entry.mac, mac)) entry.mac = copyMac(mac)
    entry.deadline = Number.POSITIVE_INFINITY
    return ready
  }

  /**
   * Remove the static entry for `ip`.
   * @returns false when `ip` has no static entry (a dynamic entry is left alone).
   * @throws {@link ArpError} `ERR_INVALID_ARG` when `ip` is not a uint32.
   */
  removeStatic(ip: Ipv4Address): boolean {
    checkIp('ip', ip)
    const entry = this.#entries.get(ip)
    if (entry?.state !== STATIC) return false
    this.#entries.delete(ip)
    return true
  }

  /**
   * The state of the entry for `ip` at `now`, or undefined when there is none (or it has expired). Changes nothing.
   * @throws {@link ArpError} `ERR_INVALID_ARG` when `ip` is not a uint32.
   */
  state(now: Micros, ip: Ipv4Address): ArpEntryState | undefined {
    checkIp('ip', ip)
    const entry = this.#entries.get(ip)
    if (entry === undefined || isExpired(now, entry)) return undefined
    return STATE_NAMES[entry.state]
  }

  /**
   * Packets waiting for `ip`.
   * @throws {@link ArpError} `ERR_INVALID_ARG` when `ip` is not a uint32.
   */
  queuedFor(ip: Ipv4Address): number {
    checkIp('ip', ip)
    return this.#entries.get(ip)?.queueLength ?? 0
  }

  /**
   * When {@link poll} has work next: a request owed or due, a resolution to give up, an entry to expire.
   * Returns a time at or before the current time when a request is owed now; undefined when idle.
   */
  pollAt(): Micros | undefined {
    const at = Math.min(
      this.#refreshOwed.length > 0 ? this.#refreshOwedSince : Number.POSITIVE_INFINITY,
      this.#owed.head?.deadline ?? Number.POSITIVE_INFINITY,
      this.#retrying.head?.deadline ?? Number.POSITIVE_INFINITY,
      this.#reachable.head?.deadline ?? Number.POSITIVE_INFINITY,
      this.#failed.head?.deadline ?? Number.POSITIVE_INFINITY,
    )
    return at === Number.POSITIVE_INFINITY ? undefined : at
  }

  /**
   * Do the work due at `now`:
   * - send owed requests, and repeat a request every `retryInterval` while it goes unanswered;
   * - send the owed revalidations of reachable entries in use, unicast to their MAC (one per entry's life);
   * - when `retryInterval` has passed after the last of `maxRetries` retries, declare the address failed
   *   and hand every packet waiting on it to `drop`, oldest first (counted in `unresolvedDrops`);
   * - forget reachable entries past `reachableTime` and failed entries past `failedHoldTime`.
   *
   * The callbacks must not call back into this cache.
   * @param emitRequest - send an ARP request for `ip` (RFC 826 `ar$op` = request, `ar$tpa` = `ip`): to the
   * broadcast address, or when `mac` is given, a unicast poll to `mac` (RFC 1122 §2.3.2.1).
   * @param drop - free a packet that will never be sent.
   */
  poll(now: Micros, emitRequest: (ip: Ipv4Address, mac?: Uint8Array) => void, drop: (packet: T) => void): void {
    const { retryInterval, maxRetries } = this.options
    if (this.#refreshOwed.length > 0 && this.#refreshOwedSince <= now) {
      const owed = this.#refreshOwed
      this.#refreshOwed = []
      for (const entry of owed) {
        // Skip an entry confirmed, expired, replaced or removed since the request became owed.
        if (entry.refresh !== 1 || entry.state !== REACHABLE || now >= entry.deadline || this.#entries.get(entry.ip) !== entry) continue
        entry.refresh = 2
        this.stats.requestsSent++
        this.stats.refreshRequests++
        emitRequest(entry.ip, entry.mac)
      }
    }
    for (let entry = this.#owed.head; entry !== undefined && entry.deadline <= now; entry = this.#owed.head) {
      this.#owed.remove(entry)
      this.#sendRequest(now, entry, emitRequest, retryInterval)
    }
    for (let entry = this.#retrying.head; entry !== undefined && entry.deadline <= now; entry = this.#retrying.head) {
      this.#retrying.remove(entry)
      if (entry.requestsSent > maxRetries) this.#fail(now, entry, drop)
      else this.#sendRequest(now, entry, emitRequest, retryInterval)
    }
    for (let entry = this.#reachable.head; entry !== undefined && entry.deadline <= now; entry = this.#reachable.head) this.#delete(entry)
    for (let entry = this.#failed.head; entry !== undefined && entry.deadline <= now; entry = this.#failed.head) this.#delete(entry)
  }

  /**
   * Forget every dynamic entry (static ones stay) and hand every waiting packet to `drop`, oldest first
   * (counted in `unresolvedDrops`). For shutdown, or after the interface address changed.
   */
  clear(drop: (packet: T) => void): void {
    const dynamic = [...this.#entries.values()].filter((entry) => entry.state !== STATIC)
    this.#refreshOwed = []
    for (const entry of dynamic) {
      const packets = this.#takeAll(entry)
      this.stats.unresolvedDrops += packets.length
      this.#delete(entry)
      for (const packet of packets) drop(packet)
    }
  }

  /** The live entry for `ip`: an entry past its deadline (reachable, failed) is deleted and undefined returned. */
  #current(now: Micros, ip: Ipv4Address): Entry<T> | undefined {
    const entry = this.#entries.get(ip)
    if (entry === undefined || !isExpired(now, entry)) return entry
    this.#delete(entry)
    return undefined
  }

  /** A new incomplete entry with a request owed now; undefined when the table is full. */
  #startResolution(now: Micros, ip: Ipv4Address): Entry<T> | undefined {
    const entry = this.#createEntry(INCOMPLETE, ip)
    if (entry === undefined) return undefined
    entry.deadline = now
    this.#owed.push(entry)
    return entry
  }

  /** A new dynamic entry, in the map but in no list; evicts the oldest failed or reachable entry when full. */
  #createEntry(state: number, ip: Ipv4Address): Entry<T> | undefined {
    if (this.#dynamicCount >= this.options.maxEntries) {
      const victim = this.#failed.head ?? this.#reachable.head
      if (victim === undefined) {
        this.stats.tableFull++
        return undefined
      }
      this.#delete(victim) // its queue is empty: only incomplete entries hold packets
    }
    const entry = new Entry<T>(ip, state)
    this.#entries.set(ip, entry)
    this.#dynamicCount++
    return entry
  }

  /** Make `entry` reachable with `mac` until `now + reachableTime`. @returns the stored MAC. */
  #confirm(now: Micros, entry: Entry<T>, mac: Uint8Array): Uint8Array {
    if (entry.mac === undefined || !macAddressEquals(entry.mac, mac)) {
      if (entry.mac !== undefined) this.stats.macChanges++
      entry.mac = copyMac(mac)
    }
    entry.list?.remove(entry)
    entry.state = REACHABLE
    entry.requestsSent = 0
    entry.refresh = 0
    entry.deadline = now + this.options.reachableTime
    this.#reachable.push(entry)
    this.stats.repliesLearned++
    return entry.mac
  }

  #sendRequest(now: Micros, entry: Entry<T>, emitRequest: (ip: Ipv4Address) => void, retryInterval: Micros): void {
    entry.requestsSent++
    entry.deadline = now + retryInterval
    this.#retrying.push(entry)
    this.stats.requestsSent++
    emitRequest(entry.ip)
  }

  #fail(now: Micros, entry: Entry<T>, drop: (packet: T) => void): void {
    this.stats.resolutionFailures++
    const hold = this.options.failedHoldTime
    const packets = this.#takeAll(entry)
    this.stats.unresolvedDrops += packets.length
    if (hold > 0) {
      entry.state = FAILED
      entry.requestsSent = 0
      entry.deadline = now + hold
      this.#failed.push(entry)
    } else {
      this.#delete(entry)
    }
    for (const packet of packets) drop(packet)
  }

  /** Remove a dynamic entry from the map and its list. Its queue must be empty. */
  #delete(entry: Entry<T>): void {
    entry.list?.remove(entry)
    this.#entries.delete(entry.ip)
    this.#dynamicCount--
  }

  #append(entry: Entry<T>, packet: T): void {
    const node = this.#freeNodes.pop() ?? new QueueNode<T>()
    node.packet = packet
    node.entry = entry
    node.next = undefined
    if (entry.queueTail === undefined) entry.queueHead = node
    else entry.queueTail.next = node
    entry.queueTail = node
    entry.queueLength++
    node.older = this.#newestQueued
    node.newer = undefined
    if (this.#newestQueued === undefined) this.#oldestQueued = node
    else this.#newestQueued.newer = node
    this.#newestQueued = node
    this.#queuedCount++
  }

  /** Take the oldest packet waiting on `entry` (which has one). */
  #dequeue(entry: Entry<T>): T {
    const node = entry.queueHead!
    entry.queueHead = node.next
    if (entry.queueHead === undefined) entry.queueTail = undefined
    entry.queueLength--
    if (node.older === undefined) this.#oldestQueued = node.newer
    else node.older.newer = node.newer
    if (node.newer === undefined) this.#newestQueued = node.older
    else node.newer.older = node.older
    this.#queuedCount--
    const packet = node.packet as T
    node.packet = node.entry = node.next = node.older = node.newer = undefined
    this.#freeNodes.push(node)
    return packet
  }

  /** Take every packet waiting on `entry`, oldest first, to be sent: counted in `packetsReleased`. */
  #release(entry: Entry<T>): readonly T[] {
    const packets = this.#takeAll(entry)
    this.stats.packetsReleased += packets.length
    return packets
  }

  /** Take every packet waiting on `entry`, oldest first. */
  #takeAll(entry: Entry<T>): readonly T[] {
    if (entry.queueLength === 0) return NOTHING
    const packets: T[] = []
    while (entry.queueLength > 0) packets.push(this.#dequeue(entry))
    return packets
  }
}

function isExpired(now: Micros, entry: Entry<unknown>): boolean {
  return (entry.state === REACHABLE || entry.state === FAILED) && now >= entry.deadline
}

function copyMac(mac: Uint8Array): Uint8Array {
  const copy = new Uint8Array(6)
  copy.set(mac)
  return copy
}

function checkIp(name: string, value: unknown): void {
  if (!isIpv4Address(value)) throw new ArpError('ERR_INVALID_ARG', `${name} must be an IPv4 address as an integer in [0, 4294967295], got ${String(value)}`)
}

function formatIp(ip: Ipv4Address): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`
}

function checkOption(setting: string, value: unknown, min: number, max: number, integer: boolean, unit = ''): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    const kind = integer ? 'an integer' : 'a number'
    throw new ArpError('ERR_INVALID_CONFIG', `${setting} must be ${kind} in [${min}, ${max}]${unit ? ` ${unit}` : ''}, got ${String(value)}`)
  }
  return value
}
