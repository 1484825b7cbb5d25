/**
 * The IPv6 neighbour cache: address resolution and neighbour unreachability detection (RFC 4861 §7.2, §7.3),
 * with the packets that wait for a resolution. Sans-I/O like the ARP cache: it never sends, never reads a
 * clock and arms no timer. The driver passes `now` (µs), hands it what Neighbor Discovery messages say
 * ({@link NeighborCache.onAdvertisement}, {@link NeighborCache.onLinkLayerAddress}), asks it for link-layer
 * addresses ({@link NeighborCache.resolve}) and calls {@link NeighborCache.poll} at
 * {@link NeighborCache.pollAt} to have solicitations to send and failures to report.
 *
 * States (RFC 4861 §7.3.2), with the transitions of Appendix C:
 * - **incomplete**: resolution in progress; a multicast solicitation to the solicited-node group is owed at
 *   once (§7.2.2), repeated every RetransTimer up to MAX_MULTICAST_SOLICIT (3); then the entry is deleted and
 *   its waiting packets handed back (the driver should answer each with an ICMPv6 destination unreachable,
 *   code 3, RFC 4861 §7.2.2).
 * - **reachable**: confirmed within ReachableTime (a solicited advertisement, or an upper-layer hint, §7.3.1).
 * - **stale**: not known to be reachable; nothing is done until a packet is sent to it (§7.3.3).
 * - **delay**: a packet was sent to a stale entry; wait DELAY_FIRST_PROBE_TIME (5 s) for an upper-layer hint.
 * - **probe**: unicast solicitations to the cached address every RetransTimer, up to MAX_UNICAST_SOLICIT (3);
 *   unanswered, the entry is deleted (§7.3.3).
 * - **static**: configured; never changes.
 *
 * ReachableTime is BaseReachableTime (30 s, or an RA's value) times a random factor in [0.5, 1.5) (§6.3.2),
 * drawn from the injected `random` and redrawn when the base changes.
 *
 * Timers are kept per entry; {@link NeighborCache.pollAt} and {@link NeighborCache.poll} scan the entries
 * (O(n) in the number of neighbours, a few on a host's link). Lookups are O(1) and allocate nothing.
 * @module
 */
import { isMacAddress, macAddressEquals, type Micros } from '@mtcp/primitives'
import { IPV6_ADDRESS_LENGTH, type Ipv6Address, ipv6MulticastMac, isMulticastIpv6, isUnspecifiedIpv6, solicitedNodeAddress } from '../wire/ipv6-address.js'
import { Ipv6AddressMap } from './ipv6-address-map.js'
import { NdpError } from './ndp-error.js'

/** The state of a neighbour cache entry (RFC 4861 §7.3.2), or `static`. */
export type NeighborState = 'incomplete' | 'reachable' | 'stale' | 'delay' | 'probe' | 'static'

/** Tuning of a {@link NeighborCache}. Times are µs; the defaults are RFC 4861 §10's constants. */
export interface NeighborCacheOptions {
  /** BaseReachableTime. Default 30 s (REACHABLE_TIME); in [1000, 3600000000] µs (an RA may change it later). */
  baseReachableTime?: Micros | undefined
  /** RetransTimer, between solicitations. Default 1 s (RETRANS_TIMER); in [1000, 3600000000] µs. */
  retransTimer?: Micros | undefined
  /** DELAY_FIRST_PROBE_TIME. Default 5 s; in [0, 3600000000] µs. */
  delayFirstProbeTime?: Micros | undefined
  /** MAX_MULTICAST_SOLICIT. Default 3; integer in [1, 255]. */
  maxMulticastSolicit?: number | undefined
  /** MAX_UNICAST_SOLICIT. Default 3; integer in [1, 255]. */
  maxUnicastSolicit?: number | undefined
  /** Packets that may wait for one neighbour (RFC 4861 §7.2.2 "a small queue"). Default 3; integer in [1, 65536]. */
  maxQueuedPerNeighbor?: number | undefined
  /** Dynamic entries. Default 1024; integer in [1, 16777216]. A new one evicts the least recently confirmed stale entry. */
  maxEntries?: number | undefined
  /** Uniform random numbers in [0, 1) for ReachableTime's factor (§6.3.2). Default `Math.random`; inject one for tests. */
  random?: (() => number) | undefined
}

/** {@link NeighborCacheOptions} with every default applied. */
export interface ResolvedNeighborCacheOptions {
  /** See {@link NeighborCacheOptions.baseReachableTime}. */
  readonly baseReachableTime: Micros
  /** See {@link NeighborCacheOptions.retransTimer}. */
  readonly retransTimer: Micros
  /** See {@link NeighborCacheOptions.delayFirstProbeTime}. */
  readonly delayFirstProbeTime: Micros
  /** See {@link NeighborCacheOptions.maxMulticastSolicit}. */
  readonly maxMulticastSolicit: number
  /** See {@link NeighborCacheOptions.maxUnicastSolicit}. */
  readonly maxUnicastSolicit: number
  /** See {@link NeighborCacheOptions.maxQueuedPerNeighbor}. */
  readonly maxQueuedPerNeighbor: number
  /** See {@link NeighborCacheOptions.maxEntries}. */
  readonly maxEntries: number
  /** See {@link NeighborCacheOptions.random}. */
  readonly random: () => number
}

/** Counters of a {@link NeighborCache}. */
export interface NeighborCacheStats {
  /** {@link NeighborCache.resolve} calls answered with a link-layer address. */
  hits: number
  /** {@link NeighborCache.resolve} calls that found none. */
  misses: number
  /** Multicast solicitations owed (address resolution, §7.2.2). */
  multicastSolicitations: number
  /** Unicast solicitations owed (probes, §7.3.3). */
  unicastSolicitations: number
  /** Resolutions that failed after MAX_MULTICAST_SOLICIT solicitations. */
  resolutionFailures: number
  /** Entries deleted after MAX_UNICAST_SOLICIT unanswered probes. */
  probeFailures: number
  /** Packets handed back because their neighbour did not resolve, or a queue was full. */
  droppedPackets: number
  /** Advertisements ignored (no entry, or no link-layer address for an incomplete one, §7.2.5). */
  ignoredAdvertisements: number
  /** Stale entries evicted to make room. */
  evictions: number
}

/** A solicitation {@link NeighborCache.poll} asks the driver to send (RFC 4861 §7.2.2, §7.3.3). */
export interface NeighborSolicitationRequest {
  /** The address being resolved or probed: the NS target. */
  readonly target: Ipv6Address
  /** IPv6 destination: the target's solicited-node group (resolution) or the target itself (probe). */
  readonly dst: Ipv6Address
  /** Ethernet destination: the group's multicast MAC (RFC 2464 §7) or the cached MAC. */
  readonly dstMac: Uint8Array
  /** Whether this is a unicast probe of a known MAC. */
  readonly unicast: boolean
}

/** What a message taught the cache. */
export interface NeighborInput<T> {
  /** The link-layer address now stored for the neighbour, or undefined when nothing was learned. */
  readonly mac: Uint8Array | undefined
  /** Packets that waited for this neighbour, oldest first: send each to {@link NeighborInput.mac}. */
  readonly ready: readonly T[]
  /**
   * The neighbour was a router and its advertisement now says it is not (R clear): remove it from the default
   * router list (`RouterDiscovery.removeRouter`, RFC 4861 §7.2.5).
   */
  readonly routerLost: boolean
}

/** The fields of a validated neighbor advertisement the cache needs (RFC 4861 §7.2.5). */
export interface NeighborAdvertisementInfo {
  /** Target address. */
  target: Ipv6Address
  /** R flag. */
  router: boolean
  /** S flag. */
  solicited: boolean
  /** O flag. */
  override: boolean
  /** Target link-layer address option, if present. */
  targetLinkLayerAddress?: Uint8Array | undefined
}

const INCOMPLETE = 0
const REACHABLE = 1
const STALE = 2
const DELAY = 3
const PROBE = 4
const STATIC = 5
const STATE_NAMES: readonly NeighborState[] = ['incomplete', 'reachable', 'stale', 'delay', 'probe', 'static']
const NOTHING: readonly never[] = Object.freeze([])
const NOTHING_LEARNED: NeighborInput<never> = Object.freeze({ mac: undefined, ready: NOTHING, routerLost: false })

class Neighbor<T> {
  mac: Uint8Array | undefined = undefined
  /** When the next thing happens: a solicitation (incomplete, probe), the move to stale (reachable) or probe (delay). */
  deadline = Number.POSITIVE_INFINITY
  solicitationsSent = 0
  /** A solicitation is owed at `deadline`. */
  owed = false
  isRouter = false
  /** Last confirmation or learning, for eviction. */
  touched = 0
  queue: T[] = []
  /** Where the entry sits in the cache's list of entries (for the scans of pollAt and poll). */
  index = -1
  constructor(
    readonly address: Ipv6Address,
    public state: number,
  ) {}
}

/**
 * A sans-I/O IPv6 neighbour cache (RFC 4861 §7). Addresses are 16-byte arrays, MACs 6-byte arrays; MACs kept
 * are copies that the cache never modifies (a changed MAC gets a new array). `now` must never decrease.
 *
 * @typeParam T - what waits for resolution (e.g. pool buffers); opaque, but not `undefined` or `null`.
 *
 * @example
 * ```ts
 * const cache = new NeighborCache<Buffer>()
 * const mac = cache.resolve(now, nextHop)            // transmit path
 * if (mac !== undefined) send(mac, frame)
 * else cache.enqueue(now, nextHop, frame)            // a dropped packet comes back
 * cache.poll(now, (ns) => sendSolicitation(ns), (frame) => sendAddressUnreachable(frame))
 * ```
 */
export class NeighborCache<T extends {}> {
  /** The options in force, defaults applied (BaseReachableTime and RetransTimer may change, see the setters). */
  readonly options: ResolvedNeighborCacheOptions
  /** Counters. */
  readonly stats: NeighborCacheStats = {
    hits: 0,
    misses: 0,
    multicastSolicitations: 0,
    unicastSolicitations: 0,
    resolutionFailures: 0,
    probeFailures: 0,
    droppedPackets: 0,
    ignoredAdvertisements: 0,
    evictions: 0,
  }

  readonly #entries = new Ipv6AddressMap<Neighbor<T>>((Math.random() * 0x1_0000_0000) >>> 0) // seeded: peers choose the addresses
  /** The same entries as a plain list, scanned by index: pollAt runs every driver iteration and must not allocate an iterator. */
  readonly #list: Neighbor<T>[] = []
  #dynamicCount = 0
  #baseReachableTime: Micros
  #retransTimer: Micros
  #reachableTime: Micros

  /** @throws {@link NdpError} `ERR_INVALID_CONFIG` naming the setting and its range when an option is out of range. */
  constructor(options: NeighborCacheOptions = {}) {
    const random = options.random ?? Math.random
    if (typeof random !== 'function') throw new NdpError('ERR_INVALID_CONFIG', 'random must be a function returning numbers in [0, 1)')
    this.options = Object.freeze({
      baseReachableTime: checkOption('baseReachableTime', options.baseReachableTime ?? 30_000_000, 1000, 3_600_000_000, false),
      retransTimer: checkOption('retransTimer', options.retransTimer ?? 1_000_000, 1000, 3_600_000_000, false),
      delayFirstProbeTime: checkOption('delayFirstProbeTime', options.delayFirstProbeTime ?? 5_000_000, 0, 3_600_000_000, false),
      maxMulticastSolicit: checkOption('maxMulticastSolicit', options.maxMulticastSolicit ?? 3, 1, 255, true),
      maxUnicastSolicit: checkOption('maxUnicastSolicit', options.maxUnicastSolicit ?? 3, 1, 255, true),
      maxQueuedPerNeighbor: checkOption('maxQueuedPerNeighbor', options.maxQueuedPerNeighbor ?? 3, 1, 65_536, true),
      maxEntries: checkOption('maxEntries', options.maxEntries ?? 1024, 1, 16_777_216, true),
      random,
    })
    this.#baseReachableTime = this.options.baseReachableTime
    this.#retransTimer = this.options.retransTimer
    this.#reachableTime = this.#drawReachableTime()
  }

  /** Number of entries, static ones included. */
  get size(): number {
    return this.#entries.size
  }

  /** The current ReachableTime (µs): BaseReachableTime times a random factor in [0.5, 1.5) (RFC 4861 §6.3.2). */
  get reachableTime(): Micros {
    return this.#reachableTime
  }

  /** The current RetransTimer (µs). */
  get retransTimer(): Micros {
    return this.#retransTimer
  }

  /**
   * Take a new BaseReachableTime (from a router advertisement, RFC 4861 §6.3.4) and redraw ReachableTime (§6.3.2).
   * @throws {@link NdpError} `ERR_INVALID_ARG` outside [1000, 3600000000] µs
   */
  setBaseReachableTime(time: Micros): void {
    this.#baseReachableTime = checkOption('baseReachableTime', time, 1000, 3_600_000_000, false, 'ERR_INVALID_ARG')
    this.#reachableTime = this.#drawReachableTime()
  }

  /**
   * Take a new RetransTimer (from a router advertisement, RFC 4861 §6.3.4).
   * @throws {@link NdpError} `ERR_INVALID_ARG` outside [1000, 3600000000] µs
   */
  setRetransTimer(time: Micros): void {
    this.#retransTimer = checkOption('retransTimer', time, 1000, 3_600_000_000, false, 'ERR_INVALID_ARG')
  }

  /**
   * The link-layer address to send to `address` (at `bytes[offset]`, read in place) (RFC 4861 §7.2.2, §7.3.3).
   * A miss on an unknown address starts resolution (an incomplete entry; a multicast solicitation is owed now).
   * A hit on a stale entry moves it to delay (the probe timer starts). Reachable entries past ReachableTime are
   * stale. Queue the packet with {@link NeighborCache.enqueue} on a miss.
   * @returns the MAC (do not modify it), or undefined.
   * @throws {@link NdpError} `ERR_INVALID_ARG` for a multicast or unspecified address (they need no resolution).
   */
  resolve(now: Micros, bytes: Uint8Array, offset = 0): Uint8Array | undefined {
    let entry = this.#entries.get(bytes, offset)
    if (entry === undefined) {
      checkUnicast(bytes, offset)
      entry = this.#create(now, bytes.slice(offset, offset + IPV6_ADDRESS_LENGTH), INCOMPLETE)
      if (entry !== undefined) this.#startResolution(now, entry)
      this.stats.misses++
      return undefined
    }
    this.#age(now, entry)
    if (entry.state === INCOMPLETE) {
      this.stats.misses++
      return undefined
    }
    if (entry.state === STALE) {
      // RFC 4861 §7.3.3: "The first time a node sends a packet to a neighbor whose entry is STALE, the sender
      // changes the state to DELAY and sets a timer to expire in DELAY_FIRST_PROBE_TIME seconds."
      entry.state = DELAY
      entry.deadline = now + this.options.delayFirstProbeTime
    }
    this.stats.hits++
    return entry.mac
  }

  /**
   * Queue `packet` until `address` resolves (RFC 4861 §7.2.2: the newest packets are kept when the queue is full).
   * @returns a packet dropped to make room (the oldest), or `packet` itself when the table could not hold an
   * entry; undefined when nothing was dropped.
   * @throws {@link NdpError} `ERR_INVALID_STATE` when the address resolves (send instead)
   */
  enqueue(now: Micros, address: Ipv6Address, packet: T): T | undefined {
    checkAddress('address', address)
    const entry = this.#entries.get(address)
    if (entry === undefined) {
      this.stats.droppedPackets++
      return packet
    }
    if (entry.state !== INCOMPLETE) throw new NdpError('ERR_INVALID_STATE', 'the address resolves: send the packet instead of queueing it')
    entry.queue.push(packet)
    if (entry.queue.length > this.options.maxQueuedPerNeighbor) {
      this.stats.droppedPackets++
      return entry.queue.shift()
    }
    return undefined
  }

  /** Packets waiting for `address`. */
  queuedFor(address: Ipv6Address): number {
    return this.#entries.get(address)?.queue.length ?? 0
  }

  /**
   * A neighbor advertisement arrived (validated per RFC 4861 §7.1.2). Applies §7.2.5: ignored without an entry;
   * an incomplete entry takes the target link-layer address (reachable if solicited, else stale) and its waiting
   * packets are released; otherwise the Override and Solicited flags decide whether the address is replaced and
   * the entry confirmed.
   */
  onAdvertisement(now: Micros, na: NeighborAdvertisementInfo): NeighborInput<T> {
    checkAddress('target', na.target)
    const mac = na.targetLinkLayerAddress
    if (mac !== undefined && !isMacAddress(mac)) throw new NdpError('ERR_INVALID_ARG', 'targetLinkLayerAddress must be 6 bytes')
    const entry = this.#entries.get(na.target)
    if (entry === undefined || entry.state === STATIC) {
      this.stats.ignoredAdvertisements++
      return NOTHING_LEARNED // §7.2.5: "If no entry exists, the advertisement SHOULD be silently discarded."
    }
    this.#age(now, entry)
    if (entry.state === INCOMPLETE) {
      // §7.2.5: no link-layer address → discard; else record it, REACHABLE if S else STALE, send the queue.
      if (mac === undefined) {
        this.stats.ignoredAdvertisements++
        return NOTHING_LEARNED
      }
      entry.mac = mac.slice()
      entry.isRouter = na.router
      if (na.solicited) this.#makeReachable(now, entry)
      else this.#makeStale(now, entry)
      return { mac: entry.mac, ready: this.#release(entry), routerLost: false }
    }
    const differs = mac !== undefined && !macAddressEquals(mac, entry.mac!)
    if (!na.override && differs) {
      // §7.2.5: O clear and a different address: a REACHABLE entry becomes STALE; nothing else changes.
      if (entry.state === REACHABLE) this.#makeStale(now, entry)
      return NOTHING_LEARNED
    }
    // §7.2.5: O set, or the same address, or none given.
    if (differs) entry.mac = mac.slice()
    if (na.solicited) this.#makeReachable(now, entry)
    else if (differs) this.#makeStale(now, entry)
    // §7.2.5: the IsRouter flag follows R; a router that stops being one leaves the default router list.
    const routerLost = entry.isRouter && !na.router
    entry.isRouter = na.router
    return { mac: entry.mac, ready: NOTHING, routerLost }
  }

  /**
   * A neighbor solicitation, router solicitation, router advertisement or redirect carried the sender's
   * link-layer address (RFC 4861 §7.2.3, §6.3.4, §6.2.6): create a stale entry, or update one whose address
   * differs (making it stale); an incomplete entry takes it and releases its waiting packets.
   * Messages from the unspecified address teach nothing (pass nothing for them).
   */
  onLinkLayerAddress(now: Micros, address: Ipv6Address, mac: Uint8Array, isRouter?: boolean): NeighborInput<T> {
    checkAddress('address', address)
    if (!isMacAddress(mac)) throw new NdpError('ERR_INVALID_ARG', 'mac must be 6 bytes')
    if (isUnspecifiedIpv6(address) || isMulticastIpv6(address)) return NOTHING_LEARNED
    let entry = this.#entries.get(address)
    if (entry === undefined) {
      entry = this.#create(now, address.slice(), STALE)
      if (entry === undefined) return NOTHING_LEARNED
      entry.mac = mac.slice()
      if (isRouter !== undefined) entry.isRouter = isRouter
      this.#makeStale(now, entry)
      return { mac: entry.mac, ready: NOTHING, routerLost: false }
    }
    if (entry.state === STATIC) return NOTHING_LEARNED
    if (isRouter !== undefined) entry.isRouter = isRouter
    if (entry.state === INCOMPLETE) {
      entry.mac = mac.slice()
      this.#makeStale(now, entry)
      return { mac: entry.mac, ready: this.#release(entry), routerLost: false }
    }
    if (!macAddressEquals(entry.mac!, mac)) {
      entry.mac = mac.slice()
      this.#makeStale(now, entry)
    }
    return { mac: entry.mac, ready: NOTHING, routerLost: false }
  }

  /**
   * An upper layer confirmed forward progress with `address` (RFC 4861 §7.3.1, e.g. TCP acknowledged new
   * data): a known entry becomes reachable. @returns whether there was an entry to confirm.
   */
  confirm(now: Micros, address: Ipv6Address): boolean {
    const entry = this.#entries.get(address)
    if (entry === undefined || entry.state === INCOMPLETE || entry.state === STATIC) return false
    this.#makeReachable(now, entry)
    return true
  }

  /** Whether the neighbour at `address` said it is a router (the R flag, RFC 4861 §7.2.5). */
  isRouter(address: Ipv6Address): boolean {
    return this.#entries.get(address)?.isRouter ?? false
  }

  /**
   * Add (or replace) a static entry; packets waiting on a dynamic one are returned, to be sent to `mac`.
   * @throws {@link NdpError} `ERR_INVALID_ARG` for a malformed address or MAC
   */
  addStatic(address: Ipv6Address, mac: Uint8Array): readonly T[] {
    checkAddress('address', address)
    checkUnicast(address, 0)
    if (!isMacAddress(mac)) throw new NdpError('ERR_INVALID_ARG', 'mac must be 6 bytes')
    const entry = this.#entries.get(address)
    let ready: readonly T[] = NOTHING
    if (entry !== undefined && entry.state !== STATIC) {
      ready = this.#release(entry)
      this.#dynamicCount--
    }
    if (entry !== undefined) this.#unlist(entry)
    const fresh = new Neighbor<T>(address.slice(), STATIC)
    fresh.mac = mac.slice()
    this.#insert(fresh)
    return ready
  }

  /**
   * Until when (µs, exclusive) the entry for the address at `bytes[offset]` stays REACHABLE (+∞ for a
   * static one), so that a sender may go on using the MAC {@link resolve} gave it without asking again
   * (RFC 4861 §7.3.3: nothing is owed for a REACHABLE entry until ReachableTime runs out); undefined unless
   * it is REACHABLE now. The answer holds until the cache next takes an advertisement, a solicitation or a
   * {@link poll}. Changes nothing; allocates nothing.
   */
  reachableUntil(now: Micros, bytes: Uint8Array, offset = 0): Micros | undefined {
    const entry = this.#entries.get(bytes, offset)
    if (entry === undefined) return undefined
    if (entry.state === STATIC) return Number.POSITIVE_INFINITY
    return entry.state === REACHABLE && now < entry.deadline ? entry.deadline : undefined
  }

  /** The state of the entry for `address` at `now`, or undefined. Changes nothing. */
  state(now: Micros, address: Ipv6Address): NeighborState | undefined {
    const entry = this.#entries.get(address)
    if (entry === undefined) return undefined
    if (entry.state === REACHABLE && now >= entry.deadline) return 'stale'
    return STATE_NAMES[entry.state]
  }

  /** When {@link NeighborCache.poll} has work next (a solicitation owed or due, a timer); undefined when idle. */
  pollAt(): Micros | undefined {
    let at = Number.POSITIVE_INFINITY
    const list = this.#list
    for (let i = 0; i < list.length; i++) {
      const entry = list[i]!
      if (entry.deadline < at && entry.state !== REACHABLE) at = entry.deadline
    }
    return at === Number.POSITIVE_INFINITY ? undefined : at
  }

  /**
   * Do the work due at `now` (RFC 4861 §7.2.2, §7.3.3): send owed and repeated solicitations (`solicit`), move
   * delay entries to probe, delete entries whose solicitations went unanswered, handing their waiting packets to
   * `unreachable` (the driver answers each with an ICMPv6 destination unreachable, code 3, and frees it).
   * The callbacks must not call back into the cache.
   */
  poll(now: Micros, solicit: (request: NeighborSolicitationRequest) => void, unreachable: (packet: T, address: Ipv6Address) => void): void {
    const retrans = this.#retransTimer
    const list = this.#list
    // By index, with no copy: an entry deleted here is replaced at its index by the last one, which the
    // next round looks at (so every entry is seen once; the callbacks cannot add any).
    for (let i = 0; i < list.length; i++) {
      const entry = list[i]!
      if (entry.deadline > now) continue
      switch (entry.state) {
        case INCOMPLETE:
          if (entry.solicitationsSent >= this.options.maxMulticastSolicit) {
            this.stats.resolutionFailures++
            this.#delete(entry)
            i--
            const packets = entry.queue
            entry.queue = []
            this.stats.droppedPackets += packets.length
            for (const packet of packets) unreachable(packet, entry.address)
            break
          }
          entry.solicitationsSent++
          entry.deadline = now + retrans
          this.stats.multicastSolicitations++
          {
            const group = solicitedNodeAddress(entry.address)
            solicit({ target: entry.address, dst: group, dstMac: ipv6MulticastMac(group), unicast: false })
          }
          break
        case DELAY:
        case PROBE:
          if (entry.state === DELAY) {
            // §7.3.3: DELAY_FIRST_PROBE_TIME without a confirmation → PROBE, first unicast solicitation now.
            entry.state = PROBE
            entry.solicitationsSent = 0
          }
          if (entry.solicitationsSent >= this.options.maxUnicastSolicit) {
            this.stats.probeFailures++
            this.#delete(entry) // §7.3.3: "the entry SHOULD be deleted"
            i--
            break
          }
          entry.solicitationsSent++
          entry.deadline = now + retrans
          this.stats.unicastSolicitations++
          solicit({ target: entry.address, dst: entry.address, dstMac: entry.mac!, unicast: true })
          break
        default:
          break
      }
    }
  }

  /** Forget every dynamic entry; waiting packets go to `drop`. */
  clear(drop: (packet: T) => void): void {
    const list = this.#list
    for (let i = list.length - 1; i >= 0; i--) {
      const entry = list[i]!
      if (entry.state === STATIC) continue
      this.#delete(entry)
      for (const packet of entry.queue) drop(packet)
      entry.queue = []
    }
  }

  #drawReachableTime(): Micros {
    // RFC 4861 §6.3.2: uniformly distributed between MIN_RANDOM_FACTOR (0.5) and MAX_RANDOM_FACTOR (1.5) times the base.
    const factor = 0.5 + Math.min(Math.max(this.options.random(), 0), 0.999999)
    return Math.max(1, Math.round(this.#baseReachableTime * factor))
  }

  /** A reachable entry past ReachableTime is stale (§7.3.3). */
  #age(now: Micros, entry: Neighbor<T>): void {
    if (entry.state === REACHABLE && now >= entry.deadline) this.#makeStale(now, entry)
  }

  #makeReachable(now: Micros, entry: Neighbor<T>): void {
    entry.state = REACHABLE
    entry.deadline = now + this.#reachableTime
    entry.solicitationsSent = 0
    entry.touched = now
  }

  #makeStale(now: Micros, entry: Neighbor<T>): void {
    entry.state = STALE
    entry.deadline = Number.POSITIVE_INFINITY
    entry.solicitationsSent = 0
    entry.touched = now
  }

  #startResolution(now: Micros, entry: Neighbor<T>): void {
    entry.state = INCOMPLETE
    entry.solicitationsSent = 0
    entry.deadline = now // §7.2.2: a solicitation is owed at once
  }

  #create(now: Micros, address: Ipv6Address, state: number): Neighbor<T> | undefined {
    if (this.#dynamicCount >= this.options.maxEntries) {
      let victim: Neighbor<T> | undefined
      for (const entry of this.#list) {
        if (entry.state === STALE && (victim === undefined || entry.touched < victim.touched)) victim = entry
      }
      if (victim === undefined) return undefined
      this.stats.evictions++
      this.#delete(victim)
    }
    const entry = new Neighbor<T>(address, state)
    entry.touched = now
    this.#insert(entry)
    this.#dynamicCount++
    return entry
  }

  #delete(entry: Neighbor<T>): void {
    this.#entries.delete(entry.address)
    this.#unlist(entry)
    if (entry.state !== STATIC) this.#dynamicCount--
  }

  #insert(entry: Neighbor<T>): void {
    this.#entries.set(entry.address, entry)
    entry.index = this.#list.length
    this.#list.push(entry)
  }

  /** Take `entry` off the list: the last entry moves to its index. */
  #unlist(entry: Neighbor<T>): void {
    const list = this.#list
    const last = list.pop()!
    if (last !== entry) {
      list[entry.index] = last
      last.index = entry.index
    }
    entry.index = -1
  }

  #release(entry: Neighbor<T>): readonly T[] {
    if (entry.queue.length === 0) return NOTHING
    const packets = entry.queue
    entry.queue = []
    return packets
  }
}

function checkAddress(name: string, value: unknown): void {
  if (!(value instanceof Uint8Array) || value.byteLength !== IPV6_ADDRESS_LENGTH) throw new NdpError('ERR_INVALID_ARG', `${name} must be a 16-byte Uint8Array`)
}

function checkUnicast(bytes: Uint8Array, offset: number): void {
  if (!(bytes instanceof Uint8Array) || !(offset >= 0) || offset + IPV6_ADDRESS_LENGTH > bytes.byteLength) throw new NdpError('ERR_INVALID_ARG', 'an IPv6 address needs 16 bytes')
  if (isMulticastIpv6(bytes, offset) || isUnspecifiedIpv6(bytes, offset)) throw new NdpError('ERR_INVALID_ARG', 'multicast and unspecified addresses are not resolved by Neighbor Discovery')
}

function checkOption(setting: string, value: unknown, min: number, max: number, integer: boolean, code: 'ERR_INVALID_CONFIG' | 'ERR_INVALID_ARG' = 'ERR_INVALID_CONFIG'): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new NdpError(code, `${setting} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${String(value)}`)
  }
  return value
}
