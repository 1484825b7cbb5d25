/**
 * Router and prefix discovery for a host (RFC 4861 §6.3), with optional stateless address autoconfiguration
 * (RFC 4862 §5.5), sans-I/O: the driver hands it validated router advertisements, asks it for the next hop
 * ({@link RouterDiscovery.nextHop}), sends the router solicitations {@link RouterDiscovery.poll} asks for,
 * and acts on the events (a default router, an on-link prefix, an autoconfigured address to run DAD on).
 *
 * - RFC 4861 §6.3.4: Cur Hop Limit, Reachable Time and Retrans Timer are taken when non-zero; a router lifetime
 *   adds, refreshes or (0) removes the default router; a prefix with L set (not link-local) adds, refreshes or
 *   (valid lifetime 0) removes an on-link prefix; an MTU option is taken if in [1280, the link's MTU].
 * - RFC 4861 §5.2 / §6.3.6: next-hop determination: link-local and on-link destinations are neighbours,
 *   anything else goes to a default router (the first one reachable in the list).
 * - RFC 4861 §6.3.7: up to MAX_RTR_SOLICITATIONS (3) solicitations, RTR_SOLICITATION_INTERVAL (4 s) apart,
 *   after a random delay in [0, MAX_RTR_SOLICITATION_DELAY (1 s)]; they stop once an advertisement arrives.
 * - RFC 4862 §5.5.3 (SLAAC, when `interfaceMac` is given): a prefix with A set, not link-local, preferred
 *   lifetime not above valid, length 64 (the interface identifier is 64 bits, RFC 4291 §2.5.1) forms
 *   prefix + modified EUI-64 (RFC 2464 §4); a known address's valid lifetime follows rule (e), the "two hours" rule.
 * Lifetimes are seconds on the wire, 0xffffffff meaning infinity (RFC 4861 §4.2, §4.6.2).
 * @module
 */
import type { Micros } from '@mtcp/primitives'
import { type Ipv6Address, ipv6AddressEquals, ipv6AddressFromMac, ipv6PrefixMatches, isLinkLocalIpv6, isMulticastIpv6 } from '../wire/ipv6-address.js'
import { IPV6_MIN_MTU } from '../wire/ipv6.js'
import type { RouterAdvertisementRepr } from '../wire/ndp.js'
import { NdpError } from './ndp-error.js'

/** What a router advertisement or the passing of time changed. */
export type RouterDiscoveryEvent =
  /** A default router was added (RFC 4861 §6.3.4). */
  | { readonly kind: 'routerAdded'; readonly router: Ipv6Address }
  /** A default router's lifetime ended, or it advertised lifetime 0. */
  | { readonly kind: 'routerRemoved'; readonly router: Ipv6Address }
  /** An on-link prefix was added. */
  | { readonly kind: 'prefixAdded'; readonly prefix: Ipv6Address; readonly prefixLength: number }
  /** An on-link prefix's valid lifetime ended, or it was advertised with valid lifetime 0. */
  | { readonly kind: 'prefixRemoved'; readonly prefix: Ipv6Address; readonly prefixLength: number }
  /** SLAAC formed an address (RFC 4862 §5.5.3 (d)): run DAD on it before use. */
  | { readonly kind: 'addressAdded'; readonly address: Ipv6Address; readonly validUntil: Micros; readonly preferredUntil: Micros }
  /** An autoconfigured address's valid lifetime ended (RFC 4862 §5.5.4): stop using it. */
  | { readonly kind: 'addressRemoved'; readonly address: Ipv6Address }

/** The link parameters an advertisement set (RFC 4861 §6.3.4); a field is absent when the advertisement left it alone. */
export interface RouterAdvertisementUpdate {
  /** The hop limit to send with (Cur Hop Limit), when non-zero. */
  readonly hopLimit?: number | undefined
  /** BaseReachableTime in µs, when non-zero: give it to `NeighborCache.setBaseReachableTime`. */
  readonly baseReachableTime?: Micros | undefined
  /** RetransTimer in µs, when non-zero: give it to `NeighborCache.setRetransTimer`. */
  readonly retransTimer?: Micros | undefined
  /** The link MTU, when the MTU option was acceptable. */
  readonly mtu?: number | undefined
  /** What changed in the router, prefix and address lists. */
  readonly events: readonly RouterDiscoveryEvent[]
}

/** Tuning of {@link RouterDiscovery}. */
export interface RouterDiscoveryOptions {
  /** The link's MTU: an MTU option above it is ignored (RFC 4861 §6.3.4). Default 1500; integer in [1280, 65535]. */
  linkMtu?: number | undefined
  /** The interface's MAC: when given, SLAAC forms addresses (RFC 4862 §5.5.3). */
  interfaceMac?: Uint8Array | undefined
  /** MAX_RTR_SOLICITATIONS. Default 3; 0 sends none. Integer in [0, 255]. */
  maxRouterSolicitations?: number | undefined
  /** RTR_SOLICITATION_INTERVAL. Default 4 s; in [1000, 3600000000] µs. */
  routerSolicitationInterval?: Micros | undefined
  /** MAX_RTR_SOLICITATION_DELAY. Default 1 s; in [0, 60000000] µs. */
  maxRouterSolicitationDelay?: Micros | undefined
  /** Uniform random numbers in [0, 1). Default `Math.random`. */
  random?: (() => number) | undefined
}

/** A default router in the Default Router List (RFC 4861 §5.1). */
export interface DefaultRouter {
  /** The router's link-local address (the advertisement's source). */
  readonly address: Ipv6Address
  /** When its lifetime ends (µs). */
  readonly expires: Micros
}

/** An on-link prefix in the Prefix List (RFC 4861 §5.1). */
export interface OnLinkPrefix {
  /** The prefix, bits past `prefixLength` zeroed. */
  readonly prefix: Ipv6Address
  /** Prefix length. */
  readonly prefixLength: number
  /** When its valid lifetime ends (µs; Infinity for 0xffffffff). */
  readonly expires: Micros
}

interface AutoAddress {
  address: Ipv6Address
  validUntil: Micros
  preferredUntil: Micros
}

const INFINITE = 0xffffffff
const TWO_HOURS = 7200 * 1_000_000

/** Host-side router discovery (RFC 4861 §6.3) and SLAAC (RFC 4862 §5.5). `now` must never decrease. */
export class RouterDiscovery {
  #routers: { address: Ipv6Address; expires: Micros }[] = []
  #prefixes: { prefix: Ipv6Address; prefixLength: number; expires: Micros }[] = []
  #addresses: AutoAddress[] = []
  readonly #linkMtu: number
  readonly #mac: Uint8Array | undefined
  readonly #maxSolicitations: number
  readonly #interval: Micros
  readonly #maxDelay: Micros
  readonly #random: () => number
  #solicitationsSent = 0
  #nextSolicitation = Number.POSITIVE_INFINITY

  /** @throws {@link NdpError} `ERR_INVALID_CONFIG` naming the setting when an option is out of range. */
  constructor(options: RouterDiscoveryOptions = {}) {
    this.#linkMtu = check('linkMtu', options.linkMtu ?? 1500, IPV6_MIN_MTU, 65535, true)
    if (options.interfaceMac !== undefined && !(options.interfaceMac instanceof Uint8Array && options.interfaceMac.byteLength === 6)) {
      throw new NdpError('ERR_INVALID_CONFIG', 'interfaceMac must be 6 bytes')
    }
    this.#mac = options.interfaceMac?.slice()
    this.#maxSolicitations = check('maxRouterSolicitations', options.maxRouterSolicitations ?? 3, 0, 255, true)
    this.#interval = check('routerSolicitationInterval', options.routerSolicitationInterval ?? 4_000_000, 1000, 3_600_000_000, false)
    this.#maxDelay = check('maxRouterSolicitationDelay', options.maxRouterSolicitationDelay ?? 1_000_000, 0, 60_000_000, false)
    this.#random = options.random ?? Math.random
  }

  /** Start soliciting routers (the interface came up, RFC 4861 §6.3.7): the first after a random delay. */
  start(now: Micros): void {
    this.#solicitationsSent = 0
    this.#nextSolicitation = this.#maxSolicitations > 0 ? now + Math.floor(this.#random() * this.#maxDelay) : Number.POSITIVE_INFINITY
  }

  /**
   * A validated router advertisement (`parseNdp` checked RFC 4861 §6.1.2) from `source`, its link-local address.
   * Its source link-layer address option is for the neighbour cache (`NeighborCache.onLinkLayerAddress`, with
   * isRouter), not handled here.
   */
  onAdvertisement(now: Micros, source: Ipv6Address, ra: RouterAdvertisementRepr): RouterAdvertisementUpdate {
    if (!isLinkLocalIpv6(source)) throw new NdpError('ERR_INVALID_ARG', 'a router advertisement comes from a link-local address (RFC 4861 §6.1.2)')
    const events: RouterDiscoveryEvent[] = []
    this.#nextSolicitation = Number.POSITIVE_INFINITY // §6.3.7: an advertisement ends the solicitations
    // §6.3.4: the router lifetime.
    const index = this.#routers.findIndex((r) => ipv6AddressEquals(r.address, source))
    if (ra.routerLifetime !== 0) {
      const expires = now + ra.routerLifetime * 1_000_000
      if (index < 0) {
        const address = source.slice()
        this.#routers.push({ address, expires })
        events.push({ kind: 'routerAdded', router: address })
      } else {
        this.#routers[index]!.expires = expires
      }
    } else if (index >= 0) {
      const [removed] = this.#routers.splice(index, 1)
      events.push({ kind: 'routerRemoved', router: removed!.address })
    }
    for (const p of ra.options.prefixes ?? []) {
      if (p.prefixLength > 128 || isLinkLocalIpv6(p.prefix) || isMulticastIpv6(p.prefix)) continue // §6.3.4: ignore link-local prefixes
      const prefix = maskPrefix(p.prefix, p.prefixLength)
      if (p.onLink) this.#onLinkPrefix(now, prefix, p.prefixLength, p.validLifetime, events)
      if (p.autonomous && this.#mac !== undefined) this.#autoconfigure(now, prefix, p.prefixLength, p.validLifetime, p.preferredLifetime, events)
    }
    const mtu = ra.options.mtu
    return {
      hopLimit: ra.curHopLimit !== 0 ? ra.curHopLimit : undefined,
      baseReachableTime: ra.reachableTime !== 0 ? ra.reachableTime * 1000 : undefined,
      retransTimer: ra.retransTimer !== 0 ? ra.retransTimer * 1000 : undefined,
      // §6.3.4: accept an MTU in [minimum link MTU, the link's maximum].
      mtu: mtu !== undefined && mtu >= IPV6_MIN_MTU && mtu <= this.#linkMtu ? mtu : undefined,
      events,
    }
  }

  /**
   * Remove `router` from the default router list: its neighbour entry's IsRouter flag went from true to false
   * (RFC 4861 §7.2.5, `NeighborInput.routerLost`). @returns the removal event, or undefined when it was not listed.
   */
  removeRouter(router: Ipv6Address): RouterDiscoveryEvent | undefined {
    const index = this.#routers.findIndex((r) => ipv6AddressEquals(r.address, router))
    if (index < 0) return undefined
    const [removed] = this.#routers.splice(index, 1)
    return { kind: 'routerRemoved', router: removed!.address }
  }

  /** Whether `address` is on-link: link-local, or inside an on-link prefix that has not expired (RFC 4861 §5.2). */
  isOnLink(now: Micros, address: Ipv6Address): boolean {
    if (isLinkLocalIpv6(address)) return true
    return this.#prefixes.some((p) => p.expires > now && ipv6PrefixMatches(address, p.prefix, p.prefixLength))
  }

  /**
   * The next hop for `destination` (RFC 4861 §5.2): the destination itself when on-link (or multicast), else the
   * first default router whose lifetime has not ended; undefined when there is none (no route, RFC 4861 §5.2
   * does not assume on-link, per RFC 4943).
   */
  nextHop(now: Micros, destination: Ipv6Address): Ipv6Address | undefined {
    if (isMulticastIpv6(destination) || this.isOnLink(now, destination)) return destination
    return this.defaultRouter(now)
  }

  /** The first default router whose lifetime has not ended (RFC 4861 §6.3.6, without reachability preference). */
  defaultRouter(now: Micros): Ipv6Address | undefined {
    return this.#routers.find((r) => r.expires > now)?.address
  }

  /** The Default Router List. */
  routers(): readonly DefaultRouter[] {
    return this.#routers.map((r) => ({ address: r.address, expires: r.expires }))
  }

  /** The Prefix List. */
  prefixes(): readonly OnLinkPrefix[] {
    return this.#prefixes.map((p) => ({ prefix: p.prefix, prefixLength: p.prefixLength, expires: p.expires }))
  }

  /** When {@link RouterDiscovery.poll} has work next; undefined when none. */
  pollAt(): Micros | undefined {
    let at = this.#nextSolicitation
    for (const r of this.#routers) at = Math.min(at, r.expires)
    for (const p of this.#prefixes) at = Math.min(at, p.expires)
    for (const a of this.#addresses) at = Math.min(at, a.validUntil)
    return at === Number.POSITIVE_INFINITY ? undefined : at
  }

  /**
   * Send a router solicitation when one is due (`solicit`: to all-routers ff02::2, with our link-layer address
   * when our source is not ::, RFC 4861 §6.3.7), and expire routers, prefixes and autoconfigured addresses.
   * @returns what expired
   */
  poll(now: Micros, solicit: () => void): readonly RouterDiscoveryEvent[] {
    const events: RouterDiscoveryEvent[] = []
    if (this.#nextSolicitation <= now) {
      this.#solicitationsSent++
      this.#nextSolicitation = this.#solicitationsSent < this.#maxSolicitations ? now + this.#interval : Number.POSITIVE_INFINITY
      solicit()
    }
    this.#routers = this.#routers.filter((r) => r.expires > now || (events.push({ kind: 'routerRemoved', router: r.address }), false))
    this.#prefixes = this.#prefixes.filter((p) => p.expires > now || (events.push({ kind: 'prefixRemoved', prefix: p.prefix, prefixLength: p.prefixLength }), false))
    this.#addresses = this.#addresses.filter((a) => a.validUntil > now || (events.push({ kind: 'addressRemoved', address: a.address }), false))
    return events
  }

  #onLinkPrefix(now: Micros, prefix: Ipv6Address, prefixLength: number, validLifetime: number, events: RouterDiscoveryEvent[]): void {
    const index = this.#prefixes.findIndex((p) => p.prefixLength === prefixLength && ipv6AddressEquals(p.prefix, prefix))
    if (validLifetime === 0) {
      // §6.3.4: "If the prefix is already present ... and the received Valid Lifetime is zero, time out the prefix immediately."
      if (index >= 0) {
        this.#prefixes.splice(index, 1)
        events.push({ kind: 'prefixRemoved', prefix, prefixLength })
      }
      return
    }
    const expires = lifetimeEnd(now, validLifetime)
    if (index >= 0) {
      this.#prefixes[index]!.expires = expires
      return
    }
    this.#prefixes.push({ prefix, prefixLength, expires })
    events.push({ kind: 'prefixAdded', prefix, prefixLength })
  }

  #autoconfigure(now: Micros, prefix: Ipv6Address, prefixLength: number, valid: number, preferred: number, events: RouterDiscoveryEvent[]): void {
    // RFC 4862 §5.5.3 (c): preferred above valid → ignore; the prefix plus the 64-bit identifier must make 128 bits.
    if (preferred > valid || prefixLength !== 64) return
    const address = ipv6AddressFromMac(prefix, this.#mac!)
    const known = this.#addresses.find((a) => ipv6AddressEquals(a.address, address))
    if (known === undefined) {
      // (d): a new prefix with a non-zero valid lifetime forms an address.
      if (valid === 0) return
      const entry = { address, validUntil: lifetimeEnd(now, valid), preferredUntil: lifetimeEnd(now, preferred) }
      this.#addresses.push(entry)
      events.push({ kind: 'addressAdded', address, validUntil: entry.validUntil, preferredUntil: entry.preferredUntil })
      return
    }
    // (e): the preferred lifetime is reset; the valid lifetime only per the two-hours rule.
    known.preferredUntil = lifetimeEnd(now, preferred)
    const received = lifetimeEnd(now, valid)
    const remaining = known.validUntil - now
    if (received - now > TWO_HOURS || received > known.validUntil) known.validUntil = received
    else if (remaining > TWO_HOURS) known.validUntil = now + TWO_HOURS
    // else: remaining ≤ 2 hours, ignore the received valid lifetime
  }
}

function lifetimeEnd(now: Micros, seconds: number): Micros {
  return seconds === INFINITE ? Number.POSITIVE_INFINITY : now + seconds * 1_000_000
}

function maskPrefix(prefix: Ipv6Address, length: number): Ipv6Address {
  const out = prefix.slice(0, 16)
  for (let bit = length; bit < 128; bit++) out[bit >>> 3] = out[bit >>> 3]! & ~(0x80 >>> (bit & 7))
  return out
}

function check(setting: string, value: unknown, min: number, max: number, integer: boolean): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new NdpError('ERR_INVALID_CONFIG', `${setting} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${String(value)}`)
  }
  return value
}
