/**
 * The command line of `mtcp-perf`: mTCP's `client wait|send <ip> <port> <secs>`, plus flags for what the
 * original hard-coded (backend, addresses, buffers, congestion control) and what it lacked (link
 * emulation, capture, JSON, plots). Every value is checked; a bad one is a usage error that names the
 * flag and what it accepts.
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net'
import { parseCommandLine } from '@mtcp/recv'
import { formatIpv6Address, isUnicastMacAddress, parseIpv6Address, parseMacAddress } from '@mtcp/tcp-core'
import { ccpAlgorithmProblem, ccpClockProblem } from './ccp.js'
import { checkEal } from './dpdk.js'
import { PerfError } from './errors.js'
import type { ServeMode } from './serve.js'

/** Packet I/O backends: the emulated link, a Linux TAP device, or an existing interface through AF_PACKET. */
export type PerfIo = 'memory' | 'tap' | 'af-packet' | 'dpdk'

/** Congestion control of the sending connection. */
export type PerfCongestionControl =
  | { kind: 'native'; name: 'reno' | 'cubic' }
  | {
      kind: 'ccp'
      /** The algorithm the agent runs for the flow (sent in CREATE), e.g. `'reno'`. */
      algorithm: string
      /** `'embedded'`: the TypeScript agent in this process; `'external'`: an agent (portus, `mtcp-ccp`) on unix sockets. */
      agent: 'embedded' | 'external'
      /** The directory of the unix sockets for an external agent. Default `/tmp/ccp`. */
      dir: string
    }

/** The emulated link's settings (`--io memory`), both directions alike. Times in µs, rate in bit/s. */
export interface PerfLinkOptions {
  rate: number
  delay: number
  jitter: number
  loss: number
  reorder: number
  duplicate: number
  corrupt: number
  queuePackets: number
}

/** Everything a perf run needs, validated. Build with {@link parsePerfArgs} (the command line's words and defaults). */
export interface PerfOptions {
  /**
   * `'send'`: connect to ip:port; `'wait'`: listen on ip:port (our own address) for one connection;
   * `'serve'`: serve every connection to ip:port with {@link PerfOptions.serveMode} (see `runServe`).
   */
  mode: 'wait' | 'send' | 'serve'
  /** What `serve` does with each connection (default `'discard'`). */
  serveMode: ServeMode
  /** `send`'s protocol: mTCP perf's (`'perf'`, default) or an iperf3 client test (`'iperf3'`, see `runIperf3`). */
  protocol: 'perf' | 'iperf3'
  ip: string
  /** 6 when `<ip>` is an IPv6 address (then {@link PerfOptions.address} and {@link PerfOptions.gateway} are IPv6 too). */
  family: 4 | 6
  port: number
  /** Seconds to keep writing (`serve`: to serve; 0 until interrupted). */
  seconds: number
  io: PerfIo
  /** The interface (`af-packet`), TAP device (`tap`) or DPDK port name or id (`dpdk`, default 0). */
  dev: string | undefined
  /** EAL arguments (`dpdk`), as given. */
  eal: string | undefined
  /** Our stack's address with prefix, e.g. `'10.0.0.1/24'` (or `'fd00::1/64'` over IPv6). */
  address: string
  mac: Uint8Array | undefined
  /** The default gateway, of the family of {@link PerfOptions.ip}. */
  gateway: string | undefined
  /** Segmentation and checksum offload on the port. */
  offloads: boolean
  /** The congestion control of the run (the first of {@link PerfOptions.congestionControls}). */
  congestionControl: PerfCongestionControl
  /**
   * Every controller `--cc` names (comma-separated), in order: with more than one, `mtcp-perf` runs one
   * transfer per controller over the same emulated link and seed and compares them ({@link runComparison}).
   */
  congestionControls: PerfCongestionControl[]
  link: PerfLinkOptions
  /** Seed of the emulated link's random draws. */
  seed: number
  /** `'virtual'` runs the emulated link faster than real time; the Linux backends are always `'real'`. */
  clock: 'virtual' | 'real'
  sendBufferSize: number
  receiveBufferSize: number
  /** Capture our side's frames into this pcap file. */
  pcap: string | undefined
  /** Write the HTML report here. */
  report: string | undefined
  /** Print one JSON document at the end instead of text. */
  json: boolean
  /** Seconds between progress lines. */
  interval: number
  /** Seconds to wait for the connection to be set up. */
  connectTimeout: number
}

/** The groups of flags, in the order the usage lists them. */
export type PerfFlagGroup = 'Network' | 'Congestion control' | 'Emulated link (memory only; both directions)' | 'Server (serve only)' | 'Buffers and output'

/**
 * One flag of `mtcp-perf`: its spelling for `node:util`'s `parseArgs`, and its lines in the usage. To add a
 * flag, add an entry here (the usage and the parser follow) and read it in {@link parsePerfArgs}.
 */
export interface PerfFlag {
  /** The long name, without `--`. */
  readonly name: string
  /** `'string'`: takes a value (`--name value` or `--name=value`); `'boolean'`: takes none. */
  readonly type: 'string' | 'boolean'
  /** A one-letter alias, without `-`. */
  readonly short?: string
  readonly group: PerfFlagGroup
  /** The usage's left column, e.g. `'--io memory|tap|af-packet'` (default: `--name`). */
  readonly synopsis?: string
  /** The usage's right column; `\n` starts another line. */
  readonly help: string
  /** Only with `--io memory` (the emulated link). */
  readonly memoryOnly?: boolean
}

/** Every flag of `mtcp-perf`, in usage order. */
export const PERF_FLAGS: readonly PerfFlag[] = [
  { name: 'io', type: 'string', group: 'Network', synopsis: '--io memory|tap|af-packet|dpdk', help: 'packet I/O (default memory: an emulated link with mtcp-recv\'s receiver on a second stack)' },
  { name: 'dev', type: 'string', group: 'Network', synopsis: '--dev <name>', help: 'the TAP device (tap) or interface (af-packet) to own, or the DPDK port\n(dpdk: name or id, default 0)' },
  {
    name: 'eal',
    type: 'string',
    group: 'Network',
    synopsis: "--eal='<args>'",
    help: "DPDK's EAL arguments (dpdk), after '=' since they start with '-', e.g.\n--eal='--no-huge -m 256 --no-pci -l 0 --vdev=net_af_xdp0,iface=veth1'",
  },
  { name: 'address', type: 'string', group: 'Network', synopsis: '--address <ip/prefix>', help: 'our address (default for wait: <ip>/24, or /64 for IPv6;\nfor memory: next to <ip>)' },
  { name: 'mac', type: 'string', group: 'Network', synopsis: '--mac <aa:bb:cc:dd:ee:ff>', help: "our MAC (default: the port's, random for tap/af-packet)" },
  { name: 'gateway', type: 'string', group: 'Network', synopsis: '--gateway <ip>', help: 'default gateway for addresses off the local network (IPv6 with an\nIPv6 <ip>, often link-local)' },
  {
    name: 'offloads',
    type: 'string',
    group: 'Network',
    synopsis: '--offloads on|off',
    help: 'checksum and segmentation offload: virtio-net headers on tap and\naf-packet (default on: needed on veth, whose checksums are left partial),\nsoftware offloads on memory (default off)',
  },
  {
    name: 'cc',
    type: 'string',
    group: 'Congestion control',
    synopsis: '--cc <cc>[,<cc>...]',
    help: 'reno, cubic (default) or ccp:<alg>; several, comma-separated, run one\nafter another over the same emulated link and seed (memory only)',
  },
  { name: 'ccp-agent', type: 'string', group: 'Congestion control', synopsis: '--ccp-agent embedded|external', help: 'the TypeScript agent in this process (default) or one on unix sockets' },
  { name: 'ccp-dir', type: 'string', group: 'Congestion control', synopsis: '--ccp-dir <dir>', help: 'the unix socket directory of an external agent (default /tmp/ccp)' },
  { name: 'rate', type: 'string', group: 'Emulated link (memory only; both directions)', memoryOnly: true, synopsis: '--rate <bit/s>', help: 'e.g. 100M, 1G, 2.5e9 (default 100M)' },
  { name: 'delay', type: 'string', group: 'Emulated link (memory only; both directions)', memoryOnly: true, synopsis: '--delay <time>', help: 'one-way delay, e.g. 20ms, 500us (default 20ms)' },
  { name: 'jitter', type: 'string', group: 'Emulated link (memory only; both directions)', memoryOnly: true, synopsis: '--jitter <time>', help: 'uniform jitter within ±time (default 0)' },
  { name: 'loss', type: 'string', group: 'Emulated link (memory only; both directions)', memoryOnly: true, synopsis: '--loss <p>', help: 'frame loss probability, e.g. 0.001 or 0.1% (default 0.1%)' },
  { name: 'reorder', type: 'string', group: 'Emulated link (memory only; both directions)', memoryOnly: true, synopsis: '--reorder <p>', help: 'reordering probability (default 0)' },
  { name: 'duplicate', type: 'string', group: 'Emulated link (memory only; both directions)', memoryOnly: true, synopsis: '--duplicate <p>', help: 'duplication probability (default 0)' },
  { name: 'corrupt', type: 'string', group: 'Emulated link (memory only; both directions)', memoryOnly: true, synopsis: '--corrupt <p>', help: 'corruption probability (default 0)' },
  { name: 'queue', type: 'string', group: 'Emulated link (memory only; both directions)', memoryOnly: true, synopsis: '--queue <packets>', help: 'drop-tail queue limit (default 1000)' },
  { name: 'seed', type: 'string', group: 'Emulated link (memory only; both directions)', memoryOnly: true, synopsis: '--seed <n>', help: 'random seed (default 1)' },
  { name: 'clock', type: 'string', group: 'Emulated link (memory only; both directions)', memoryOnly: true, synopsis: '--clock virtual|real', help: 'simulate faster than real time (default virtual; real with --ccp-agent external)' },
  {
    name: 'protocol',
    type: 'string',
    group: 'Network',
    synopsis: '--protocol perf|iperf3',
    help: 'send only: mTCP perf\'s protocol (default), or a test as an iperf3 client\n(against a stock `iperf3 -s`; on memory, our iperf3 server on the far stack)',
  },
  {
    name: 'mode',
    type: 'string',
    group: 'Server (serve only)',
    synopsis: '--mode discard|echo|http|iperf3',
    help: 'what each connection gets (default discard): read and count, echo, an HTTP\nresponder, or iperf3\'s server (a stock `iperf3 -c` measures the stack)',
  },
  { name: 'sndbuf', type: 'string', group: 'Buffers and output', synopsis: '--sndbuf <bytes>', help: 'send buffer, e.g. 4M (default 4M)' },
  { name: 'rcvbuf', type: 'string', group: 'Buffers and output', synopsis: '--rcvbuf <bytes>', help: 'receive buffer, e.g. 4M (default 4M)' },
  { name: 'interval', type: 'string', group: 'Buffers and output', synopsis: '--interval <secs>', help: 'progress interval (default 1)' },
  { name: 'connect-timeout', type: 'string', group: 'Buffers and output', synopsis: '--connect-timeout <secs>', help: 'give up connecting after this long (default 10)' },
  { name: 'pcap', type: 'string', group: 'Buffers and output', synopsis: '--pcap <file>', help: "capture our side's frames (first 128 bytes of each)" },
  { name: 'report', type: 'string', group: 'Buffers and output', synopsis: '--report <file.html>', help: 'write a self-contained HTML report with plots' },
  { name: 'json', type: 'boolean', group: 'Buffers and output', help: 'print one JSON document at the end instead of text' },
  { name: 'help', type: 'boolean', short: 'h', group: 'Buffers and output', synopsis: '--help, -h', help: 'this text' },
]

const FLAGS: ReadonlyMap<string, PerfFlag> = new Map(PERF_FLAGS.map((flag) => [flag.name, flag]))

function usageText(): string {
  const lines = [
    'usage: mtcp-perf wait <ip> <port> <secs> [flags]   listen on ip:port (our address), send for secs',
    '       mtcp-perf send <ip> <port> <secs> [flags]   connect to ip:port, send for secs',
    '       mtcp-perf serve <ip> <port> [secs] [flags]  serve every connection to ip:port (our address) with --mode,',
    '                                                   for secs or until Ctrl-C (memory: a built-in client load)',
  ]
  const groups = [...new Set(PERF_FLAGS.map((flag) => flag.group))]
  for (const group of groups) {
    lines.push('', `${group}:`)
    for (const flag of PERF_FLAGS.filter((candidate) => candidate.group === group)) {
      const [first, ...more] = flag.help.split('\n')
      const left = `  ${flag.synopsis ?? `--${flag.name}`}`
      lines.push(left.length < 31 ? `${left.padEnd(31)}${first}` : `${left}\n${' '.repeat(31)}${first}`)
      for (const line of more) lines.push(`${' '.repeat(31)}${line}`)
    }
  }
  return lines.join('\n')
}

/** The usage text (what `--help` prints), made from {@link PERF_FLAGS}. */
export const USAGE: string = usageText()

function usage(message: string): PerfError {
  return new PerfError('ERR_USAGE', message)
}

function got(text: string): string {
  return JSON.stringify(text)
}

/** Decimal multipliers for rates: k, M, G, T. */
const RATE_SUFFIX: Record<string, number> = { '': 1, k: 1e3, K: 1e3, m: 1e6, M: 1e6, g: 1e9, G: 1e9, t: 1e12, T: 1e12 }
/** Binary multipliers for sizes: K, M, G (KiB, MiB, GiB). */
const SIZE_SUFFIX: Record<string, number> = { '': 1, k: 1024, K: 1024, m: 1 << 20, M: 1 << 20, g: 1 << 30, G: 1 << 30 }
/** Time units to µs. */
const TIME_UNIT: Record<string, number> = { '': 1000, ms: 1000, us: 1, µs: 1, s: 1e6 }

const NUMBER = '(\\d+(?:\\.\\d*)?(?:[eE][+-]?\\d+)?|\\.\\d+(?:[eE][+-]?\\d+)?)'

function inRange(flag: string, value: number, min: number, max: number, accepts: string, text: string): number {
  if (!Number.isFinite(value) || value < min || value > max) throw usage(`${flag} must be ${accepts}, got ${got(text)}`)
  return value
}

/** `100M`, `1G`, `2.5e9`, `100Mbit`: bit/s in [1000, 1e12]. */
export function parseRate(flag: string, text: string): number {
  const accepts = 'a rate in bit/s in [1000, 1e12], like 100M, 1G or 2.5e9'
  const match = new RegExp(`^${NUMBER}([kKmMgGtT]?)(?:bit|bps|bit/s)?$`).exec(text)
  if (match === null) throw usage(`${flag} must be ${accepts}, got ${got(text)}`)
  return inRange(flag, Number(match[1]) * RATE_SUFFIX[match[2]!]!, 1000, 1e12, accepts, text)
}

/** `20`, `20ms`, `500us`, `0.1s`: µs in [0, 10 s]; a bare number is milliseconds. */
export function parseTime(flag: string, text: string): number {
  const accepts = 'a time in [0, 10s], like 20ms, 500us or 0.1s (a bare number is ms)'
  const match = new RegExp(`^${NUMBER}(ms|us|µs|s)?$`).exec(text)
  if (match === null) throw usage(`${flag} must be ${accepts}, got ${got(text)}`)
  return inRange(flag, Number(match[1]) * TIME_UNIT[match[2] ?? '']!, 0, 10_000_000, accepts, text)
}

/** `0.001` or `0.1%`: a probability in [0, 1]. */
export function parseProbability(flag: string, text: string): number {
  const accepts = 'a probability in [0, 1], like 0.001 or 0.1%'
  const match = new RegExp(`^${NUMBER}(%?)$`).exec(text)
  if (match === null) throw usage(`${flag} must be ${accepts}, got ${got(text)}`)
  return inRange(flag, Number(match[1]) / (match[2] === '%' ? 100 : 1), 0, 1, accepts, text)
}

/** `4M`, `512K`, `1048576`: bytes (binary suffixes) in [min, max]. */
export function parseSize(flag: string, text: string, min: number, max: number): number {
  const accepts = `a size in bytes in [${min}, ${max}], like 4M or 512K`
  const match = new RegExp(`^${NUMBER}([kKmMgG]?)(?:B|iB)?$`).exec(text)
  if (match === null) throw usage(`${flag} must be ${accepts}, got ${got(text)}`)
  return Math.round(inRange(flag, Number(match[1]) * SIZE_SUFFIX[match[2]!]!, min, max, accepts, text))
}

function parseInteger(flag: string, text: string, min: number, max: number): number {
  const accepts = `an integer in [${min}, ${max}]`
  if (!/^\d+$/.test(text)) throw usage(`${flag} must be ${accepts}, got ${got(text)}`)
  return inRange(flag, Number(text), min, max, accepts, text)
}

function parseSeconds(flag: string, text: string, min: number, max: number): number {
  const accepts = `a number of seconds in [${min}, ${max}]`
  if (!new RegExp(`^${NUMBER}$`).test(text)) throw usage(`${flag} must be ${accepts}, got ${got(text)}`)
  return inRange(flag, Number(text), min, max, accepts, text)
}

function parseChoice<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if (!choices.includes(text as T)) throw usage(`${flag} must be one of ${choices.join(', ')}, got ${got(text)}`)
  return text as T
}

/** `aa:bb:cc:dd:ee:ff` (or with `-`). */
export function parseMac(flag: string, text: string): Uint8Array {
  let mac: Uint8Array
  try {
    mac = parseMacAddress(text)
  } catch {
    throw usage(`${flag} must be a MAC address like 02:00:00:00:00:01, got ${got(text)}`)
  }
  if (!isUnicastMacAddress(mac)) throw usage(`${flag} must be a unicast MAC address (first octet even, not all zeros), got ${got(text)}`)
  return mac
}

function parseAddress(flag: string, text: string): string {
  const [ip, prefix, ...rest] = text.split('/')
  const accepts = 'an IPv4 address with an optional prefix length, like 10.0.0.1/24'
  if (rest.length > 0 || ip === undefined || !isIPv4(ip)) throw usage(`${flag} must be ${accepts}, got ${got(text)}`)
  if (prefix === undefined) return `${ip}/24`
  if (!/^\d+$/.test(prefix) || Number(prefix) > 32) throw usage(`${flag} must be ${accepts} (prefix in [0, 32]), got ${got(text)}`)
  return `${ip}/${Number(prefix)}`
}

/** An IPv6 address with an optional prefix length (default /64), for `--address` over IPv6. */
function parseAddress6(flag: string, text: string): string {
  const [ip, prefix, ...rest] = text.split('/')
  const accepts = 'an IPv6 address with an optional prefix length, like fd00::1/64 (the same family as <ip>)'
  if (rest.length > 0 || ip === undefined || !isIPv6(ip)) throw usage(`${flag} must be ${accepts}, got ${got(text)}`)
  if (prefix === undefined) return `${ip}/64`
  if (!/^\d+$/.test(prefix) || Number(prefix) < 1 || Number(prefix) > 128) throw usage(`${flag} must be ${accepts} (prefix in [1, 128]), got ${got(text)}`)
  return `${ip}/${Number(prefix)}`
}

/**
 * `<ip>`, alone or with its port: `10.0.0.2`, `fd00::2`, `[fd00::2]`, `10.0.0.2:5001` or `[fd00::2]:5001`
 * (an IPv6 address with a port needs the brackets, RFC 3986 §3.2.2). Errors name `flag`.
 */
function parseEndpoint(flag: string, text: string): { ip: string; port: string | undefined } {
  const accepts = 'an IPv4 or IPv6 address, optionally with its port (10.0.0.2:5001, [fd00::2]:5001)'
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text)
  if (bracketed !== null) {
    if (!isIPv6(bracketed[1]!)) throw usage(`${flag} must be ${accepts}: brackets hold an IPv6 address, got ${got(text)}`)
    if (bracketed[2] !== undefined && bracketed[2].length === 0) throw usage(`${flag} must be ${accepts}: a port after the colon, got ${got(text)}`)
    return { ip: bracketed[1]!, port: bracketed[2] }
  }
  if (isIPv4(text) || isIPv6(text)) return { ip: text, port: undefined }
  const colon = text.lastIndexOf(':')
  if (colon > 0 && isIPv4(text.slice(0, colon))) return { ip: text.slice(0, colon), port: text.slice(colon + 1) }
  if (text.split(':').length > 2) throw usage(`${flag} must be ${accepts}; an IPv6 address with a port goes in brackets, got ${got(text)}`)
  throw usage(`${flag} must be ${accepts}, got ${got(text)}`)
}

function parseIp6(flag: string, text: string): string {
  if (!isIPv6(text)) throw usage(`${flag} must be an IPv6 address (the family of <ip>), got ${got(text)}`)
  return text
}

function parseIp(flag: string, text: string): string {
  if (!isIPv4(text)) throw usage(`${flag} must be an IPv4 address, got ${got(text)}`)
  return text
}

/** `reno`, `cubic`, `ccp:<alg>` (algorithm names of 1 to 63 letters, digits, `_`, `-`, `.`). */
function parseCongestionControl(text: string): { kind: 'native'; name: 'reno' | 'cubic' } | { kind: 'ccp'; algorithm: string } {
  if (text === 'reno' || text === 'cubic') return { kind: 'native', name: text }
  const match = /^ccp:([A-Za-z0-9_.-]{1,63})$/.exec(text)
  if (match === null) throw usage(`--cc must be reno, cubic or ccp:<algorithm> (e.g. ccp:reno, ccp:cubic, ccp:bbr), or several of them comma-separated, got ${got(text)}`)
  const problem = ccpAlgorithmProblem(match[1]!)
  if (problem !== undefined) throw usage(problem)
  return { kind: 'ccp', algorithm: match[1]! }
}

/**
 * The address next to `ip` for the other end of an emulated link: in its /24 (.1 ↔ .2, else .1), or for
 * IPv6 in its /64 (::1 ↔ ::2 in the last group, else ::1), in RFC 5952 text.
 */
export function neighbourAddress(ip: string): string {
  if (ip.includes(':')) {
    const address = parseIpv6Address(ip)!
    address[15] = address[14] === 0 && address[15] === 1 ? 2 : 1
    address[14] = 0
    return formatIpv6Address(address)
  }
  const octets = ip.split('.').map(Number)
  octets[3] = octets[3] === 1 ? 2 : 1
  return octets.join('.')
}

/**
 * Parse `argv` (without the node and script paths) with `node:util` `parseArgs` and the table
 * {@link PERF_FLAGS} (`@mtcp/recv`'s `parseCommandLine`). A lone `--` (from `pnpm perf -- …`) is ignored. Flags take their value as the next
 * argument or after `=`; a flag given twice takes the last value (so a script's defaults can be overridden
 * by appending).
 * @returns the options, or `'help'` for `--help` (or `-h`) anywhere.
 * @throws `PerfError` `ERR_USAGE` naming the argument or flag and what it accepts.
 */
export function parsePerfArgs(argv: readonly string[]): PerfOptions | 'help' {
  let parsed
  try {
    parsed = parseCommandLine(argv, Object.fromEntries(FLAGS))
  } catch (error) {
    throw usage((error as Error).message)
  }
  if (parsed === 'help') return 'help'
  return resolveArgs(parsed.positionals, parsed.values)
}

function resolveArgs(positionals: string[], values: Map<string, string>): PerfOptions {
  const [mode, ipText] = positionals
  if (mode === undefined) throw usage('missing <mode>: wait, send or serve')
  if (mode !== 'wait' && mode !== 'send' && mode !== 'serve') throw usage(`<mode> must be wait, send or serve, got ${got(mode)}`)
  if (ipText === undefined) throw usage('missing <ip>: an IPv4 or IPv6 address')
  // `<ip> <port>`, or the two in one: `10.0.0.2:5001`, `[fd00::2]:5001` (RFC 3986 §3.2.2's brackets).
  const endpoint = parseEndpoint('<ip>', ipText)
  const ip = endpoint.ip
  const [portText, secondsText, ...rest] = endpoint.port === undefined ? positionals.slice(2) : [endpoint.port, ...positionals.slice(2)]
  const family = isIPv6(ip) ? 6 : 4
  if (portText === undefined) throw usage('missing <port>: an integer in [1, 65535]')
  const port = parseInteger('<port>', portText, 1, 65535)
  const io0 = values.get('io') ?? 'memory'
  let seconds: number
  if (secondsText === undefined) {
    if (mode !== 'serve') throw usage('missing <secs>: a number of seconds in [0.001, 86400]')
    // serve: until Ctrl-C, but the emulated link's built-in load needs an end.
    seconds = io0 === 'memory' ? 10 : 0
  } else seconds = parseSeconds('<secs>', secondsText, 0.001, 86400)
  if (mode !== 'serve' && values.has('mode')) throw usage(`--mode applies to serve only (what each connection gets), not ${mode}`)
  const serveMode = parseChoice('--mode', values.get('mode') ?? 'discard', ['discard', 'echo', 'http', 'iperf3'] as const)
  if (mode !== 'send' && values.has('protocol')) throw usage(`--protocol applies to send only, not ${mode}`)
  const protocol = parseChoice('--protocol', values.get('protocol') ?? 'perf', ['perf', 'iperf3'] as const)
  if (mode === 'serve' && serveMode === 'iperf3' && io0 === 'memory') throw usage('--mode iperf3 serves a stock iperf3 client on a real link: use --io tap or --io af-packet')
  if (rest.length > 0) throw usage(`unexpected argument ${got(rest[0]!)}`)

  const io = parseChoice('--io', values.get('io') ?? 'memory', ['memory', 'tap', 'af-packet', 'dpdk'] as const)
  if (io !== 'memory') {
    for (const name of values.keys()) if (FLAGS.get(name)!.memoryOnly) throw usage(`--${name} applies to --io memory only (the emulated link), not --io ${io}`)
  }
  const dev = values.get('dev')
  if (io === 'memory' && dev !== undefined) throw usage('--dev applies to --io tap and --io af-packet, not the emulated link')
  if (io !== 'memory' && io !== 'dpdk' && dev === undefined) throw usage(`--io ${io} needs --dev <name>: the ${io === 'tap' ? 'TAP device' : 'interface'} to own`)
  const eal = checkEal(io, values.get('eal'))
  if (dev !== undefined && !/^[A-Za-z0-9_.:-]{1,15}$/.test(dev)) throw usage(`--dev must be an interface name of 1 to 15 characters, got ${got(dev)}`)

  const addressText = values.get('address')
  const hostBits = family === 6 ? 64 : 24
  let address: string
  if (addressText !== undefined) address = family === 6 ? parseAddress6('--address', addressText) : parseAddress('--address', addressText)
  else if (mode === 'wait' || mode === 'serve') address = `${ip}/${hostBits}`
  else if (io === 'memory') address = `${neighbourAddress(ip)}/${hostBits}`
  else throw usage(`send with --io ${io} needs --address <ip/prefix>: the address our stack owns on ${dev}`)
  if (mode !== 'send' && address.split('/')[0] !== ip) throw usage(`${mode} listens on our own address: --address ${address} must have the address <ip> ${ip}`)
  if (mode === 'send' && address.split('/')[0] === ip) throw usage(`--address ${address} is the peer's <ip>: our stack needs an address of its own`)

  const ccText = values.get('cc') ?? 'cubic'
  const ccs = ccText.split(',').map((text) => parseCongestionControl(text))
  if (ccs.length > 1 && io !== 'memory') throw usage(`--cc with several controllers (${ccText}) compares them over the emulated link: it needs --io memory, not --io ${io}`)
  if (ccs.length > 1 && values.has('pcap')) throw usage(`--pcap captures one run: with several --cc controllers (${ccText}), capture them one at a time`)
  if (new Set(ccText.split(',')).size !== ccs.length) throw usage(`--cc names a controller twice, got ${got(ccText)}`)
  if (ccs.every((cc) => cc.kind === 'native') && (values.has('ccp-agent') || values.has('ccp-dir'))) throw usage(`--ccp-agent and --ccp-dir apply to --cc ccp:<algorithm>, not --cc ${ccText}`)
  const agent = parseChoice('--ccp-agent', values.get('ccp-agent') ?? 'embedded', ['embedded', 'external'] as const)
  if (agent === 'embedded' && values.has('ccp-dir')) throw usage('--ccp-dir applies to --ccp-agent external (the embedded agent uses no sockets)')
  const dir = values.get('ccp-dir') ?? '/tmp/ccp'
  if (dir.length === 0) throw usage('--ccp-dir must be a directory path, got ""')
  const congestionControls: PerfCongestionControl[] = ccs.map((cc) => (cc.kind === 'native' ? cc : { kind: 'ccp', algorithm: cc.algorithm, agent, dir }))
  const congestionControl = congestionControls[0]!

  const flag = (name: string): string | undefined => values.get(name)
  const link: PerfLinkOptions = {
    rate: flag('rate') === undefined ? 100e6 : parseRate('--rate', flag('rate')!),
    delay: flag('delay') === undefined ? 20_000 : parseTime('--delay', flag('delay')!),
    jitter: flag('jitter') === undefined ? 0 : parseTime('--jitter', flag('jitter')!),
    loss: flag('loss') === undefined ? 0.001 : parseProbability('--loss', flag('loss')!),
    reorder: flag('reorder') === undefined ? 0 : parseProbability('--reorder', flag('reorder')!),
    duplicate: flag('duplicate') === undefined ? 0 : parseProbability('--duplicate', flag('duplicate')!),
    corrupt: flag('corrupt') === undefined ? 0 : parseProbability('--corrupt', flag('corrupt')!),
    queuePackets: flag('queue') === undefined ? 1000 : parseInteger('--queue', flag('queue')!, 1, 1_000_000),
  }
  if (link.jitter > link.delay) throw usage(`--jitter must not exceed --delay (${link.delay / 1000} ms), got ${got(flag('jitter')!)}`)
  const offloads = flag('offloads') === undefined ? io !== 'memory' : parseChoice('--offloads', flag('offloads')!, ['on', 'off'] as const) === 'on'

  return {
    mode,
    serveMode,
    protocol,
    ip,
    family,
    port,
    seconds,
    io,
    dev,
    address,
    mac: flag('mac') === undefined ? undefined : parseMac('--mac', flag('mac')!),
    gateway: flag('gateway') === undefined ? undefined : family === 6 ? parseIp6('--gateway', flag('gateway')!) : parseIp('--gateway', flag('gateway')!),
    offloads,
    eal,
    congestionControl,
    congestionControls,
    link,
    seed: flag('seed') === undefined ? 1 : parseInteger('--seed', flag('seed')!, 0, 2 ** 32 - 1),
    clock: io === 'memory' ? parseClock(flag('clock'), congestionControl) : 'real',
    sendBufferSize: flag('sndbuf') === undefined ? 4 << 20 : parseSize('--sndbuf', flag('sndbuf')!, 4096, 1 << 30),
    receiveBufferSize: flag('rcvbuf') === undefined ? 4 << 20 : parseSize('--rcvbuf', flag('rcvbuf')!, 4096, 1 << 30),
    pcap: emptyCheck('--pcap', flag('pcap')),
    report: emptyCheck('--report', flag('report')),
    json: values.has('json'),
    interval: flag('interval') === undefined ? 1 : parseSeconds('--interval', flag('interval')!, 0.1, 3600),
    connectTimeout: flag('connect-timeout') === undefined ? 10 : parseSeconds('--connect-timeout', flag('connect-timeout')!, 0.1, 3600),
  }
}

/** `--clock`: virtual by default, real with an external CCP agent (which refuses an explicit virtual). */
function parseClock(text: string | undefined, cc: PerfCongestionControl): 'virtual' | 'real' {
  const agent = cc.kind === 'ccp' ? cc.agent : 'embedded'
  const clock = text === undefined ? (agent === 'external' ? 'real' : 'virtual') : parseChoice('--clock', text, ['virtual', 'real'] as const)
  const problem = ccpClockProblem(agent, clock, text !== undefined)
  if (problem !== undefined) throw usage(problem)
  return clock
}

function emptyCheck(flag: string, value: string | undefined): string | undefined {
  if (value !== undefined && value.length === 0) throw usage(`${flag} must be a file path, got ""`)
  return value
}
