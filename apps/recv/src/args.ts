/**
 * The command line of `mtcp-recv`, parsed without `node:util` (so it runs on every Node 18).
 * @module
 */
import { isIP } from 'node:net'
import { RecvError } from './errors.js'

/** The usage text. */
export const USAGE = `usage: mtcp-recv wait <ip> <port> [--once] [--json]
       mtcp-recv send <ip> <port> [--json]

  wait <ip> <port>   listen on ip:port and receive from every sender that connects (until killed)
  send <ip> <port>   connect to a sender waiting on ip:port and receive one transfer
  --once             (wait) exit after the first transfer
  --json             one JSON object per line instead of recv.py's text
  --help             this text`

/** A parsed command line. */
export interface RecvCommand {
  mode: 'wait' | 'send'
  host: string
  port: number
  once: boolean
  json: boolean
}

const FLAGS = ['--once', '--json', '--help']

function usageError(message: string): RecvError {
  return new RecvError('ERR_USAGE', `mtcp-recv: ${message}\n${USAGE}`)
}

/**
 * Parse `argv` (without the node and script paths). A lone `--` (from `pnpm recv -- …`) is ignored.
 * @returns the command, or `'help'` for `--help`.
 * @throws `RecvError` `ERR_USAGE` naming the argument or flag and what it accepts.
 */
export function parseRecvArgs(argv: readonly string[]): RecvCommand | 'help' {
  const positional: string[] = []
  let once = false
  let json = false
  for (const arg of argv) {
    if (arg === '--') continue
    if (arg === '--help' || arg === '-h') return 'help'
    if (arg.startsWith('-') && !/^-\d/.test(arg)) {
      const name = arg.split('=')[0]!
      if (!FLAGS.includes(name)) throw usageError(`unknown flag ${name}; accepted: ${FLAGS.join(', ')}`)
      if (arg.includes('=')) throw usageError(`${name} takes no value, got ${arg}`)
      if (name === '--once') once = true
      if (name === '--json') json = true
      continue
    }
    positional.push(arg)
  }
  const [mode, host, portText, ...rest] = positional
  if (mode === undefined) throw usageError('missing <mode>: wait or send')
  if (mode !== 'wait' && mode !== 'send') throw usageError(`<mode> must be wait or send, got ${JSON.stringify(mode)}`)
  if (host === undefined) throw usageError('missing <ip>: an IPv4 or IPv6 address')
  if (isIP(host) === 0) throw usageError(`<ip> must be an IPv4 or IPv6 address, got ${JSON.stringify(host)}`)
  if (portText === undefined) throw usageError('missing <port>: an integer in [1, 65535]')
  const port = Number(portText)
  const lowest = mode === 'wait' ? 0 : 1
  if (!/^\d+$/.test(portText) || port < lowest || port > 65535) throw usageError(`<port> must be an integer in [${lowest}, 65535], got ${JSON.stringify(portText)}`)
  if (rest.length > 0) throw usageError(`unexpected argument ${JSON.stringify(rest[0])}`)
  if (once && mode === 'send') throw usageError('--once applies to wait only (send always receives one transfer)')
  return { mode, host, port, once, json }
}
