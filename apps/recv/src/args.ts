/**
 * The command line of `mtcp-recv`, parsed with {@link parseCommandLine} (`node:util` `parseArgs`, in Node
 * since 18.3).
 * @module
 */
import { isIP } from 'node:net'
import { type CommandLineFlag, parseCommandLine } from './command-line.js'
import { RecvError } from './errors.js'

/** The usage text. */
export const USAGE = `usage: mtcp-recv wait <ip> <port> [--once] [--idle-timeout <secs>] [--json]
       mtcp-recv send <ip> <port> [--idle-timeout <secs>] [--json]

  wait <ip> <port>        listen on ip:port and receive from every sender that connects (until killed);
                          port 0 picks a free port, printed as "Listening on <ip>:<port>"
  send <ip> <port>        connect to a sender waiting on ip:port and receive one transfer
  --once                  (wait) exit after the first transfer
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
  json: boolean
  /** Seconds a connection may stay silent before it is dropped; 0: never. */
  idleTimeout: number
}

const FLAGS: Record<string, CommandLineFlag> = {
  once: { type: 'boolean' },
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
  if (host === undefined) throw usageError('missing <ip>: an IPv4 or IPv6 address')
  if (isIP(host) === 0) throw usageError(`<ip> must be an IPv4 or IPv6 address, got ${JSON.stringify(host)}`)
  if (portText === undefined) throw usageError('missing <port>: an integer in [1, 65535]')
  const port = Number(portText)
  const lowest = mode === 'wait' ? 0 : 1
  if (!/^\d+$/.test(portText) || port < lowest || port > 65535) throw usageError(`<port> must be an integer in [${lowest}, 65535], got ${JSON.stringify(portText)}`)
  if (rest.length > 0) throw usageError(`unexpected argument ${JSON.stringify(rest[0])}`)
  const once = values.has('once')
  if (once && mode === 'send') throw usageError('--once applies to wait only (send always receives one transfer)')
  const idleText = values.get('idle-timeout')
  let idleTimeout = 30
  if (idleText !== undefined) {
    idleTimeout = Number(idleText)
    const valid = /^(\d+(\.\d*)?|\.\d+)$/.test(idleText) && (idleTimeout === 0 || (idleTimeout >= 0.1 && idleTimeout <= 86400))
    if (!valid) throw usageError(`--idle-timeout must be a number of seconds in [0.1, 86400], or 0 for never, got ${JSON.stringify(idleText)}`)
  }
  return { mode, host, port, once, json: values.has('json'), idleTimeout }
}
