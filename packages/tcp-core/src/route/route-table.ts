/**
 * The IPv4 routing table: longest-prefix match with metrics, as mTCP's `route.conf` (`ip/prefix dev`)
 * plus gateways and a default route.
 *
 * Route selection follows the pruning rules of RFC 1812 §5.2.4.3 ("Next Hop Address"): of the routes
 * whose prefix matches the destination (Basic Match), keep those with the longest prefix (Longest
 * Match), then the one with the lowest metric (Best Metric). Weak TOS is not implemented (RFC 2474
 * redefined the TOS field as DSCP), nor are administrative preferences. A route without a gateway is directly connected: the destination is adjacent
 * (RFC 1812 §5.2.4.2) and the next hop is the destination address itself (§5.2.4.3, first paragraph);
 * a route with a gateway forwards to the gateway.
 *
 * Lookup: one `Map` per prefix length, keyed by the network address, holding that prefix's routes sorted
 * by metric; the non-empty prefix lengths are kept in a list, longest first. A lookup masks the address
 * with each listed length and stops at the first hit, so it costs at most one `Map.get` per distinct
 * prefix length in the table (33 at worst, typically 2–4: host routes, a few subnets, the default), however
 * many routes there are. Adding and removing are O(routes with the same prefix) to keep metric order.
 * @module
 */
import { formatCidr, formatIpv4Address, isIpv4Address, isPrefixLength, networkAddress, type Ipv4Address } from './ipv4-address.js'
import { RouteError } from './route-error.js'

/** The largest metric, as in Linux (a `u32`). */
const MAX_METRIC = 0xffff_ffff
/** The largest port id: DPDK port ids are `uint16_t`. */
const MAX_PORT = 0xffff

/** A route as given to {@link RouteTable.add}. */
export interface RouteSpec {
  /** The destination network address. Bits beyond `prefixLength` must be clear. */
  destination: Ipv4Address
  /** Number of leading bits of `destination` that a packet's address must match, 0..32 (0 is the default route). */
  prefixLength: number
  /** The router to forward to; omit for a directly connected network (the next hop is then the packet's destination). */
  gateway?: Ipv4Address | undefined
  /** The id of the port (interface) to send on, 0..65535, or undefined when the stack has a single port. */
  port?: number | undefined
  /** Preference among routes with the same prefix: lower wins (RFC 1812 §5.2.4.3 Best Metric). Integer 0..2^32 − 1, default 0. */
  metric?: number | undefined
}

/** A route in the table: a validated, frozen copy of a {@link RouteSpec} with defaults applied. */
export interface Route {
  /** The destination network address, host bits clear. */
  readonly destination: Ipv4Address
  /** Prefix length, 0..32. */
  readonly prefixLength: number
  /** The gateway, or undefined for a directly connected route. */
  readonly gateway: Ipv4Address | undefined
  /** The port id, or undefined. */
  readonly port: number | undefined
  /** The metric, 0 when not given. */
  readonly metric: number
}

/** The result of {@link RouteTable.lookup}. */
export interface RouteLookup {
  /** The address to resolve with ARP: the route's gateway, or for a connected route the destination itself. */
  readonly nextHop: Ipv4Address
  /** The route that matched. */
  readonly route: Route
}

/**
 * An IPv4 routing table with longest-prefix-match lookup (RFC 1812 §5.2.4.3).
 *
 * Duplicate routes (same destination, prefix length and metric) are rejected with `EEXIST`; the same
 * prefix may appear with different metrics, and the lowest metric is used.
 *
 * @example
 * ```ts
 * const table = new RouteTable()
 * table.add({ destination: parseIpv4Address('10.0.0.0'), prefixLength: 24, port: 0 })      // connected
 * table.add({ destination: 0, prefixLength: 0, gateway: parseIpv4Address('10.0.0.1') })      // default route
 * table.lookup(parseIpv4Address('10.0.0.7'))?.nextHop  // 10.0.0.7 (on-link)
 * table.lookup(parseIpv4Address('8.8.8.8'))?.nextHop   // 10.0.0.1 (the gateway)
 * ```
 */
export class RouteTable {
  /** `#byLength[n]`: network address → routes of prefix `/n` for it, sorted by ascending metric. */
  readonly #byLength: (Map<Ipv4Address, Route[]> | undefined)[] = Array.from({ length: 33 }, () => undefined)
  /** Prefix lengths with at least one route, longest first. */
  #lengths: number[] = []
  #size = 0

  /** Number of routes. */
  get size(): number {
    return this.#size
  }

  /**
   * Add a route.
   * @returns the stored {@link Route}.
   * @throws {@link RouteError} `ERR_INVALID_ARG` naming the field and value when a field is invalid, including
   * a destination with bits set beyond the prefix (it is not silently masked: `10.0.0.1/24` is more
   * likely a typo for a host route or an interface address than a network, and Linux refuses it too);
   * `EEXIST` when a route with the same destination, prefix length and metric exists.
   */
  add(spec: RouteSpec): Route {
    const route = validate(spec)
    let map = this.#byLength[route.prefixLength]
    if (map === undefined) {
      map = new Map()
      this.#byLength[route.prefixLength] = map
      this.#lengths.push(route.prefixLength)
      this.#lengths.sort((a, b) => b - a)
    }
    const routes = map.get(route.destination)
    if (routes === undefined) {
      map.set(route.destination, [route])
    } else {
      let index = 0
      while (index < routes.length && routes[index]!.metric < route.metric) index++
      if (routes[index]?.metric === route.metric) {
        throw new RouteError('EEXIST', `a route to ${formatCidr(route.destination, route.prefixLength)} with metric ${route.metric} already exists`)
      }
      routes.splice(index, 0, route)
    }
    this.#size++
    return route
  }

  /**
   * Remove the route with this destination, prefix length and metric (default 0, as in {@link add}).
   * @returns the removed route, or undefined when there was none.
   * @throws {@link RouteError} `ERR_INVALID_ARG` when an argument is malformed.
   */
  remove(destination: Ipv4Address, prefixLength: number, metric = 0): Route | undefined {
    checkAddress('destination', destination)
    checkPrefixLength(prefixLength)
    checkInteger('metric', metric, MAX_METRIC)
    const map = this.#byLength[prefixLength]
    const routes = map?.get(destination)
    if (map === undefined || routes === undefined) return undefined
    const index = routes.findIndex((route) => route.metric === metric)
    if (index < 0) return undefined
    const [removed] = routes.splice(index, 1)
    if (routes.length === 0) map.delete(destination)
    if (map.size === 0) {
      this.#byLength[prefixLength] = undefined
      this.#lengths = this.#lengths.filter((length) => length !== prefixLength)
    }
    this.#size--
    return removed
  }

  /**
   * Find the route for `address` (RFC 1812 §5.2.4.3: longest prefix, then lowest metric) and its next hop.
   * @returns undefined when no route matches (no default route and no covering prefix): the destination is unreachable.
   * @throws {@link RouteError} `ERR_INVALID_ARG` when `address` is not a uint32.
   */
  lookup(address: Ipv4Address): RouteLookup | undefined {
    const route = this.lookupRoute(address)
    if (route === undefined) return undefined
    return { nextHop: route.gateway ?? address, route }
  }

  /**
   * Like {@link lookup} but returns only the route, allocating nothing; the next hop is
   * `route.gateway ?? address`.
   * @throws {@link RouteError} `ERR_INVALID_ARG` when `address` is not a uint32.
   */
  lookupRoute(address: Ipv4Address): Route | undefined {
    checkAddress('address', address)
    const lengths = this.#lengths
    for (let i = 0; i < lengths.length; i++) {
      const length = lengths[i]!
      const routes = this.#byLength[length]!.get(networkAddress(address, length))
      // RFC 1812 §5.2.4.3: the first hit has the longest prefix; routes[0] has the best (lowest) metric.
      if (routes !== undefined) return routes[0]
    }
    return undefined
  }

  /** Every route, longest prefix first, then by network address and metric. */
  *routes(): IterableIterator<Route> {
    for (const length of this.#lengths) {
      const map = this.#byLength[length]!
      const destinations = [...map.keys()].sort((a, b) => a - b)
      for (const destination of destinations) yield* map.get(destination)!
    }
  }

  /** Remove every route. */
  clear(): void {
    this.#byLength.fill(undefined)
    this.#lengths = []
    this.#size = 0
  }
}

function validate(spec: RouteSpec): Route {
  if (typeof spec !== 'object' || spec === null) throw new RouteError('ERR_INVALID_ARG', `route must be an object, got ${String(spec)}`)
  const { destination, prefixLength, gateway, port, metric = 0 } = spec
  checkAddress('destination', destination)
  checkPrefixLength(prefixLength)
  if (networkAddress(destination, prefixLength) !== destination) {
    const network = formatCidr(networkAddress(destination, prefixLength), prefixLength)
    throw new RouteError(
      'ERR_INVALID_ARG',
      `destination ${formatIpv4Address(destination)} has bits set beyond the /${prefixLength} prefix (did you mean ${network}?)`,
    )
  }
  if (gateway !== undefined) {
    checkAddress('gateway', gateway)
    if (gateway === 0) throw new RouteError('ERR_INVALID_ARG', 'gateway must not be 0.0.0.0: omit it for a directly connected route')
  }
  if (port !== undefined) checkInteger('port', port, MAX_PORT)
  checkInteger('metric', metric, MAX_METRIC)
  return Object.freeze({ destination, prefixLength, gateway, port, metric })
}

function checkAddress(name: string, value: unknown): void {
  if (!isIpv4Address(value)) throw new RouteError('ERR_INVALID_ARG', `${name} must be an IPv4 address as an integer in [0, 4294967295], got ${String(value)}`)
}

function checkPrefixLength(value: unknown): void {
  if (!isPrefixLength(value)) throw new RouteError('ERR_INVALID_ARG', `prefixLength must be an integer in [0, 32], got ${String(value)}`)
}

function checkInteger(name: string, value: unknown, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new RouteError('ERR_INVALID_ARG', `${name} must be an integer in [0, ${max}], got ${String(value)}`)
  }
}
