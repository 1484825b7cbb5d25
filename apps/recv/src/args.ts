/**
 * The command line of `mtcp-recv`, parsed with {@link parseCommandLine} (`node:util` `parseArgs`, in Node
 * since 18.3).
 * @module
 */
import { isIP } from 'node:net'
import { splitHostPort } from './address.js'
import { type CommandLineFlag, parseCommandLine } from './command-line.js'
import { RecvError } from './errors.js'

/** The usage text. */
export const USAGE = `usage: mtcp-recv wait <ip> <port> [--once] [--ipv6-only] [--idle-timeout <secs>] [--json]
       mtcp-recv send <ip> <port> [--idle-timeout <secs>] [--json]

  wait <ip> <port>        listen on ip:port and receive from every sender that connects (until killed);
                          port 0 picks a free port, printed as "Listening on <ip>:<port>"
  send <ip> <port>        connect to a sender waiting on ip:port and receive one transfer
  <ip> <port>             IPv4 (0.0.0.0, 10.0.0.1) or IPv6 (::, ::1, fe80::1%eth0), IPv6 also in brackets
                          ([::1]); or one argument <ip>:<port>: 10.0.0.1:5001, [::1]:5001
  --once                  (wait) exit after the first transfer
  --ipv6-only             (wait on an IPv6 address) take IPv6 senders only; without it, waiting on ::
                          also takes IPv4 senders, reported as ::ffff:<ipv4>
  --idle-timeout <secs>   drop a connection that sends nothing for this long, in [0.1, 86400],
                          or 0 for never (default 30)
  --json                  one JSON object per line instead of recv.py's text
  --help, -h              this text`

/** A parsed command line. */
export interface RecvCommand {
  mode: 'wait' | 'send'
  host: string
  port: number
  once: boolean
  /** Wait for IPv6 senders only (no IPv4-mapped ones on `::`). */
  ipv6Only: boolean
  json: boolean
  /** Seconds a connection may stay silent before it is dropped; 0: never. */
  idleTimeout: number
}

const FLAGS: Record<string, CommandLineFlag> = {
  once: { type: 'boolean' },
  'ipv6-only': { type: 'boolean' },
  'idle-timeout': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
}

function usageError(message: string): RecvError {
  return new RecvError('ERR_USAGE', message)
}

/**
 * Parse `argv` (without the node and script paths). A lone `--` (from `pnpm recv -- …`) is ignored.
 * @returns the command, or `'help'` for `--help` (or `-h`) anywhere.
 * @throws `RecvError` `ERR_USAGE` naming the argument or flag and what it accepts (one line, no usage).
 */
export function parseRecvArgs(argv: readonly string[]): RecvCommand | 'help' {
  let parsed
  try {
    parsed = parseCommandLine(argv, FLAGS)
  } catch (error) {
    throw usageError((error as Error).message)
  }
  if (parsed === 'help') return 'help'
  const { positionals, values } = parsed
  const [mode, host, portText, ...rest] = positionals
  if (mode === undefined) throw usageError('missing <mode>: wait or send')
  if (mode !== 'wait' && mode !== 'send') throw usageError(`<mode> must be wait or send, got ${JSON.stringify(mode)}`)
  if (host === undefined) throw usageError(`missing <ip>: ${IP_FORMS}`)
  const address = splitHostPort(host)
  if (address === undefined) throw usageError(`<ip> must be ${IP_FORMS}, got ${JSON.stringify(host)}`)
  // A port in the address argument (10.0.0.1:5001, [::1]:5001) takes the place of <port>.
  if (address.port !== undefined) rest.unshift(...(portText === undefined ? [] : [portText]))
  const port = parsePort(mode, address.port ?? portText, address.host)
  if (rest.length > 0) throw usageError(`unexpected argument ${JSON.stringify(rest[0])}`)
  const once = values.has('once')
  if (once && mode === 'send') throw usageError('--once applies to wait only (send always receives one transfer)')
  const ipv6Only = values.has('ipv6-only')
  if (ipv6Only && (mode !== 'wait' || isIP(address.host) !== 6)) {
    throw usageError(`--ipv6-only applies to wait on an IPv6 address (wait :: <port>), got ${mode} ${JSON.stringify(host)}`)
  }
  const idleText = values.get('idle-timeout')
  let idleTimeout = 30
  if (idleText !== undefined) {
    idleTimeout = Number(idleText)
    const valid = /^(\d+(\.\d*)?|\.\d+)$/.test(idleText) && (idleTimeout === 0 || (idleTimeout >= 0.1 && idleTimeout <= 86400))
    if (!valid) throw usageError(`--idle-timeout must be a number of seconds in [0.1, 86400], or 0 for never, got ${JSON.stringify(idleText)}`)
  }
  return { mode, host: address.host, port, once, ipv6Only, json: values.has('json'), idleTimeout }
}

/** The accepted forms of `<ip>`, for error messages. */
const IP_FORMS = 'an IPv4 address (10.0.0.1) or an IPv6 address (::1, or bracketed [::1]), optionally with :<port> (10.0.0.1:5001, [::1]:5001)'

/** `<port>` (or the port of `<ip>:<port>`), checked for the mode: wait may take 0 (any free port). */
function parsePort(mode: 'wait' | 'send', portText: string | undefined, host: string): number {
  const lowest = mode === 'wait' ? 0 : 1
  if (portText === undefined) {
    // `::1:5001` is an IPv6 address, not ::1 and a port: say so when that may be what was meant.
    const hint = isIP(host) === 6 ? `; after an IPv6 address, give the port as the next argument or write [${host}]:<port>` : ''
    throw usageError(`missing <port>: an integer in [${lowest}, 65535]${hint}`)
  }
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port < lowest || port > 65535) throw usageError(`<port> must be an integer in [${lowest}, 65535], got ${JSON.stringify(portText)}`)
  return port
}
