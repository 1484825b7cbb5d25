/**
 * Stack configuration: addresses, sizes, TCP settings and congestion control, validated up front.
 * @module
 */
import { type BufferPool, MemoryPort, type Port } from '@mtcp/dpdk-io'
import type { ArpCacheOptions, NeighborCacheOptions } from '@mtcp/tcp-core'
import {
  type NativeCongestionControlName,
  NATIVE_CONGESTION_CONTROL_NAMES,
  parseCidr,
  parseIpv4Address,
  parseIpv6Address,
  type TcpConfig,
} from '@mtcp/tcp-core'
import { type CcpOptions, ccpLimitsProblem } from './ccp.js'
import { StackError } from './errors.js'
import type { ReassemblyOptions } from './ipv4-reassembly.js'
import type { StackHooks } from './stack-hooks.js'
import type { SynCookieMode } from './syn-queue.js'

/**
 * A connection's congestion control: a native controller, `'ccp'` (CCP with the stack's default
 * algorithm), or `'ccp:<algorithm>'` (the name sent in CREATE, e.g. `'ccp:bbr'`).
 */
export type CongestionControlChoice = NativeCongestionControlName | 'ccp' | `ccp:${string}`

/** Check a {@link CongestionControlChoice}; returns an error message or undefined. */
export function congestionControlProblem(value: unknown, ccpConfigured: boolean): string | undefined {
  if (typeof value === 'string' && (value === 'ccp' || value.startsWith('ccp:'))) {
    if (value.length > 4 + 63 || (value.startsWith('ccp:') && value.length === 4)) return `congestionControl 'ccp:<algorithm>' needs an algorithm name of 1 to 63 characters, got ${JSON.stringify(value)}`
    if (!ccpConfigured) return `congestionControl ${JSON.stringify(value)} needs CCP: create the stack with the ccp option (a transport to the agent)`
    return undefined
  }
  if (!NATIVE_CONGESTION_CONTROL_NAMES.includes(value as NativeCongestionControlName)) {
    return `congestionControl must be one of ${NATIVE_CONGESTION_CONTROL_NAMES.map((n) => `'${n}'`).join(', ')}, 'ccp' or 'ccp:<algorithm>', got ${JSON.stringify(value)}`
  }
  return undefined
}

/** TCP settings a stack applies to every connection unless a socket option overrides them. */
export type TcpOptions = Partial<Omit<TcpConfig, 'congestionControl'>>

/** Options of {@link createStack}. */
export interface StackOptions {
  /** The port the stack owns. */
  port: Port
  /** The stack's IPv4 address with its prefix, `'10.0.0.1/24'` (a bare address means /24). */
  address: string
  /** The default gateway, if any: packets off the local network go there. */
  gateway?: string
  /**
   * The stack's IPv6 address with its prefix, `'fd00::1/64'` (a bare address means /64): the stack then
   * speaks IPv6 too (RFC 8200), with a link-local address made from its MAC (RFC 4862 §5.3), Neighbor
   * Discovery (RFC 4861) and ICMPv6 echo (RFC 4443). Default none: IPv6 frames are counted and dropped.
   */
  ipv6?: string
  /** The IPv6 default gateway, if any (a neighbour's address, often link-local): IPv6 packets off the prefix go there. */
  ipv6Gateway?: string
  /** Neighbor Discovery cache settings (RFC 4861 §10 constants, queue bounds). Default: the cache's, with frames queued per unresolved neighbour up to the pool's size, as ARP. */
  neighbors?: NeighborCacheOptions
  /** Static neighbour entries: `{ ip: 'fd00::2', mac: Uint8Array }`. */
  staticNeighbors?: ReadonlyArray<{ ip: string; mac: Uint8Array }>
  /**
   * Duplicate Address Detection (RFC 4862 §5.4) for the IPv6 address and the link-local one: each is tentative
   * (packets to it dropped, packets from it held back) until a neighbor solicitation for it, sent after a
   * random delay of up to 1 s, went unanswered for RetransTimer (`neighbors.retransTimer`, 1 s); an address
   * another node holds is reported to {@link onError} (`ERR_DUPLICATE_ADDRESS`), counted in `stats.dad` and never
   * used. Default: true, except on a memory link (`createMemoryLink`), which joins only stacks of this program.
   */
  ipv6Dad?: boolean
  /**
   * Send router solicitations when the stack starts (RFC 4861 §6.3.7) to learn a default router and on-link
   * prefixes from router advertisements sooner. Advertisements are taken either way. Default: true when there
   * is no `ipv6Gateway`, except on a memory link.
   */
  ipv6RouterSolicitation?: boolean
  /**
   * Called with the errors the stack finds on its own, outside any call: today `ERR_DUPLICATE_ADDRESS` (an IPv6
   * address of the stack is in use elsewhere). The stack goes on either way. Default: `process.emitWarning`.
   */
  onError?: (error: StackError) => void
  /** IP MTU in bytes, in [576, the port's MTU]; the MSS offered is this minus 40. Default the port's MTU. */
  mtu?: number
  /** MAC address; default the port's. */
  mac?: Uint8Array
  /** Buffers for transmit and for the frames the port receives; default 16,384 slots sized for the MTU (or 64 KB with segmentation offload). */
  pool?: BufferPool
  /** Congestion control for new connections: `'reno'`, `'cubic'` (default), `'ccp'` or `'ccp:<algorithm>'` (needs {@link ccp}). */
  congestionControl?: CongestionControlChoice
  /** CCP: the transport to the agent and the default algorithm. One datapath per stack. */
  ccp?: CcpOptions
  /** TCP settings for every connection (buffer sizes, timers, Nagle, keepalive, …). */
  tcp?: TcpOptions
  /** Most sockets at once (listeners and connections), in [1, 8,388,608]. Default 65,536. */
  maxConnections?: number
  /** Static ARP entries: `{ ip: '10.0.0.2', mac: Uint8Array }`. */
  staticArp?: ReadonlyArray<{ ip: string; mac: Uint8Array }>
  /**
   * ARP cache settings (entry lifetime, retries, queue bounds). Default: the cache's, with frames queued
   * per unresolved next hop up to the pool's size (a burst of SYNs to one next hop waits, none is dropped).
   */
  arp?: ArpCacheOptions
  /**
   * Reassembly limits: timeout (default 30 s for IPv4, RFC 8200 §4.5's 60 s for IPv6), datagrams at once (64)
   * and per source (16; for IPv6, that many 64 KiB datagrams' worth of bytes).
   */
  reassembly?: ReassemblyOptions
  /** A token-bucket rate limit on everything the port sends: rate in bytes/s, burst in bytes. Default none. */
  rateLimit?: { rate: number; burst: number }
  /** Frames per receive burst, in [1, 512]. Default 32. */
  burstSize?: number
  /** Spin on the port instead of sleeping between events. Default false. */
  busyPoll?: boolean
  /** Ephemeral ports for `connect`, inclusive. Default [32768, 60999], as Linux. */
  ephemeralPorts?: readonly [number, number]
  /**
   * The initial send sequence number of each new connection, for tests and reproducible studies (an ISS
   * just below 2^31 or 2^32 exercises the wrap at once). Addresses are uint32 numbers, `now` the stack's
   * clock in µs. Default (and whenever the function throws or returns anything but an integer in
   * [0, 2^32 − 1]): RFC 6528's keyed hash plus a 4 µs timer, which off-path attackers cannot predict;
   * leave it unset outside tests.
   */
  initialSequenceNumber?: (now: number, localIp: number, localPort: number, remoteIp: number, remotePort: number) => number
  /**
   * Called with what an application callback (a `watch` watcher, a Node-style socket's event handler)
   * threw; the stack goes on either way. Default: thrown again from a microtask, so Node reports it as it
   * would any callback's error. It is counted in `stats.callbackErrors`.
   */
  onCallbackError?: (error: unknown) => void
  /** Hooks for a stack that is one worker of a cluster (`@mtcp/stack/cluster` sets them). Default none. */
  hooks?: StackHooks
  /**
   * The fewest half-open connections (SYN-RECEIVED) each listener keeps, in [1, 1,048,576]: its SYN queue
   * (syn-queue.ts) holds up to this or `listen`'s backlog, whichever is larger (Linux bounds the queue by the
   * backlog). They do not count against the backlog, which bounds only connections waiting for `accept`.
   * Default 256.
   */
  synBacklog?: number
  /**
   * SYN cookies (RFC 4987 §3.6): `'whenFull'` (default) answers with a cookie, keeping no state, when the
   * listener's SYN queue is full; `'always'` for every SYN; `'never'` drops SYNs the queue cannot take.
   */
  synCookies?: SynCookieMode
  /**
   * Connections in TIME-WAIT kept after their sockets are closed, as compact entries outside the socket
   * table (time-wait-table.ts), in [0, 16,777,216]. When full, a closing connection skips TIME-WAIT
   * (counted in `stats.timeWait.dropped`). Default 262,144 (Linux's usual `tcp_max_tw_buckets`).
   */
  timeWaitLimit?: number
  /**
   * The random source for the stack's secrets: fills the array it is given with random bytes (the
   * signature of `crypto.getRandomValues`, the default). Called once, at creation, with an array of 80
   * bytes; their layout (ISN key, RFC 6056 port keys and table, timestamp-offset key, SYN cookie keys) is
   * in the README. Give a fixed source only for tests and reproducible studies.
   */
  random?: (bytes: Uint8Array) => void
}

/** The options after validation, addresses as uint32 numbers. */
export interface ResolvedStackOptions {
  port: Port
  address: number
  prefixLength: number
  gateway: number | undefined
  /** The IPv6 address (16 bytes) and prefix length, when the stack speaks IPv6. */
  ipv6: { address: Uint8Array; prefixLength: number } | undefined
  /** The IPv6 default gateway (16 bytes), if any. */
  ipv6Gateway: Uint8Array | undefined
  /** Whether DAD runs on the IPv6 addresses. */
  ipv6Dad: boolean
  /** Whether router solicitations are sent at start. */
  ipv6RouterSolicitation: boolean
  mac: Uint8Array
  mtu: number
  congestionControl: CongestionControlChoice
  tcp: TcpOptions
  maxConnections: number
  burstSize: number
  busyPoll: boolean
  ephemeralPorts: readonly [number, number]
  synBacklog: number
  synCookies: SynCookieMode
  timeWaitLimit: number
  random: (bytes: Uint8Array) => void
}

function fail(message: string): never {
  throw new StackError('ERR_INVALID_CONFIG', message)
}

function integerIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) fail(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`)
  return value
}

/** @internal */
export function resolveStackOptions(options: StackOptions): ResolvedStackOptions {
  if (options === null || typeof options !== 'object' || options.port === undefined) fail('port is required: a @mtcp/dpdk-io Port')
  let address: number
  let prefixLength: number
  try {
    if (options.address.includes('/')) {
      const cidr = parseCidr(options.address)
      address = cidr.address
      prefixLength = cidr.prefixLength
    } else {
      address = parseIpv4Address(options.address)
      prefixLength = 24
    }
  } catch {
    fail(`address must be an IPv4 address with an optional prefix length, like '10.0.0.1/24', got ${JSON.stringify(options.address)}`)
  }
  let gateway: number | undefined
  if (options.gateway !== undefined) {
    try {
      gateway = parseIpv4Address(options.gateway)
    } catch {
      fail(`gateway must be an IPv4 address, got ${JSON.stringify(options.gateway)}`)
    }
  }
  const ipv6 = options.ipv6 === undefined ? undefined : parseIpv6Cidr(options.ipv6)
  let ipv6Gateway: Uint8Array | undefined
  if (options.ipv6Gateway !== undefined) {
    if (ipv6 === undefined) fail('ipv6Gateway needs the ipv6 option (the stack\'s IPv6 address)')
    ipv6Gateway = parseIpv6Address(options.ipv6Gateway)
    if (ipv6Gateway === undefined || ipv6Gateway[0] === 0xff) fail(`ipv6Gateway must be a unicast IPv6 address, got ${JSON.stringify(options.ipv6Gateway)}`)
  }
  for (const entry of options.staticNeighbors ?? []) {
    if (parseIpv6Address(entry?.ip) === undefined || !(entry.mac instanceof Uint8Array) || entry.mac.byteLength !== 6) fail(`staticNeighbors entries must be { ip: an IPv6 address, mac: a 6-byte Uint8Array }, got ${JSON.stringify(entry?.ip)}`)
  }
  const mac = options.mac ?? options.port.link.mac
  if (!(mac instanceof Uint8Array) || mac.byteLength !== 6) fail('mac must be a 6-byte Uint8Array')
  const congestionControl = options.congestionControl ?? 'cubic'
  if (options.ccp !== undefined && (typeof options.ccp.transport?.send !== 'function' || typeof options.ccp.transport.onMessage !== 'function')) {
    fail('ccp.transport must have send(bytes) and onMessage(handler): a DatapathTransport from @mtcp/ccp-ipc')
  }
  if (options.ccp !== undefined) {
    const limits = ccpLimitsProblem(options.ccp.limits)
    if (limits !== undefined) fail(limits)
    const resync = options.ccp.resyncIntervalUs
    if (resync !== undefined && !(typeof resync === 'number' && Number.isFinite(resync) && resync > 0)) fail(`ccp.resyncIntervalUs must be a number of µs above 0, got ${String(resync)}`)
    if (options.ccp.onControlChange !== undefined && typeof options.ccp.onControlChange !== 'function') fail('ccp.onControlChange must be a function (event) => void')
  }
  const problem = congestionControlProblem(congestionControl, options.ccp !== undefined)
  if (problem !== undefined) fail(problem)
  const ephemeralPorts = options.ephemeralPorts ?? [32768, 60999]
  integerIn('ephemeralPorts[0]', ephemeralPorts[0], 1, 65535)
  integerIn('ephemeralPorts[1]', ephemeralPorts[1], ephemeralPorts[0], 65535)
  if (options.onCallbackError !== undefined && typeof options.onCallbackError !== 'function') {
    fail(`onCallbackError must be a function (error) => void, got ${typeof options.onCallbackError}`)
  }
  const reassembly = options.reassembly
  if (reassembly !== undefined) {
    if (reassembly === null || typeof reassembly !== 'object') fail('reassembly must be an object { timeout?, maxDatagrams?, maxPerSource? }')
    if (reassembly.timeout !== undefined) integerIn('reassembly.timeout', reassembly.timeout, 1_000_000, 600_000_000)
    if (reassembly.maxDatagrams !== undefined) integerIn('reassembly.maxDatagrams', reassembly.maxDatagrams, 1, 4096)
    if (reassembly.maxPerSource !== undefined) integerIn('reassembly.maxPerSource', reassembly.maxPerSource, 1, 4096)
  }
  for (const name of ['ipv6Dad', 'ipv6RouterSolicitation'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'boolean') fail(`${name} must be a boolean, got ${typeof options[name]}`)
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') fail(`onError must be a function (error) => void, got ${typeof options.onError}`)
  // A memory link joins stacks of this program only: no other node can hold an address or advertise routes there.
  const emulated = options.port instanceof MemoryPort
  if (options.initialSequenceNumber !== undefined && typeof options.initialSequenceNumber !== 'function') {
    fail(`initialSequenceNumber must be a function (now, localIp, localPort, remoteIp, remotePort) => number, got ${typeof options.initialSequenceNumber}`)
  }
  const synCookies = options.synCookies ?? 'whenFull'
  if (synCookies !== 'whenFull' && synCookies !== 'always' && synCookies !== 'never') fail(`synCookies must be 'whenFull', 'always' or 'never', got ${JSON.stringify(synCookies)}`)
  if (options.random !== undefined && typeof options.random !== 'function') fail(`random must be a function (bytes: Uint8Array) => void, got ${typeof options.random}`)
  return {
    port: options.port,
    address,
    prefixLength,
    gateway,
    ipv6,
    ipv6Gateway,
    ipv6Dad: options.ipv6Dad ?? !emulated,
    ipv6RouterSolicitation: options.ipv6RouterSolicitation ?? (ipv6Gateway === undefined && !emulated),
    mac,
    mtu: integerIn('mtu', options.mtu ?? options.port.link.mtu, 576, options.port.link.mtu),
    congestionControl,
    tcp: { ...options.tcp },
    maxConnections: integerIn('maxConnections', options.maxConnections ?? 65536, 1, 8_388_608),
    burstSize: integerIn('burstSize', options.burstSize ?? 32, 1, 512),
    busyPoll: Boolean(options.busyPoll),
    ephemeralPorts,
    synBacklog: integerIn('synBacklog', options.synBacklog ?? 256, 1, 1 << 20),
    synCookies,
    timeWaitLimit: integerIn('timeWaitLimit', options.timeWaitLimit ?? 262_144, 0, 1 << 24),
    random: options.random ?? ((bytes) => crypto.getRandomValues(bytes)),
  }
}

/** `'fd00::1/64'` (a bare address means /64) as 16 bytes and a prefix length; `ERR_INVALID_CONFIG` otherwise. */
function parseIpv6Cidr(text: string): { address: Uint8Array; prefixLength: number } {
  const problem = `ipv6 must be a unicast IPv6 address with an optional prefix length in [1, 128], like 'fd00::1/64', got ${JSON.stringify(text)}`
  if (typeof text !== 'string') fail(problem)
  const slash = text.indexOf('/')
  const address = parseIpv6Address(slash < 0 ? text : text.slice(0, slash))
  const prefixText = slash < 0 ? '64' : text.slice(slash + 1)
  const prefixLength = /^[0-9]{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN
  if (address === undefined || !(prefixLength >= 1 && prefixLength <= 128)) fail(problem)
  // RFC 4291 §2.5.2, §2.7: neither the unspecified address nor a multicast one can be a host's address.
  if (address[0] === 0xff || address.every((byte) => byte === 0)) fail(problem)
  return { address, prefixLength }
}
