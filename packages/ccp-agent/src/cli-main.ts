/**
 * The `mtcp-ccp` command: `mtcp-ccp <reno|cubic|bbr> [--dir /tmp/ccp] [--name portus] [--verbose]`.
 *
 * Like a portus algorithm binary, it runs one algorithm for every flow (whatever the CREATE asks for),
 * bound at `<dir>/<name>`. Bad arguments print one line saying what was wrong and exit 2; SIGINT and SIGTERM
 * close the agent (which unlinks the socket) and exit 0.
 * @module
 */
import { parseArgs } from 'node:util'
import { openUnixAgent, type AgentTransport, type LogHook } from '@mtcp/ccp-ipc'
import { Agent } from './agent.js'
import { Bbr } from './algorithms/bbr.js'
import { Cubic } from './algorithms/cubic.js'
import { Reno } from './algorithms/reno.js'
import type { CongestionAlgorithm } from './flow.js'

/** The algorithms the command offers. @internal */
export const CLI_ALGORITHMS: Readonly<Record<string, () => CongestionAlgorithm<any>>> = {
  reno: () => new Reno(),
  cubic: () => new Cubic(),
  bbr: () => new Bbr(),
}

/** The usage text. @internal */
export const USAGE = `usage: mtcp-ccp <reno|cubic|bbr> [--dir <directory>] [--name <name>] [--verbose]

Runs a CCP agent speaking portus's protocol, bound at <directory>/<name>.
  reno | cubic | bbr   the algorithm for every flow
  --dir <directory>    the socket directory (default /tmp/ccp)
  --name <name>        the agent's socket name (default portus)
  --verbose, -v        log every message
  --help, -h           this text`

/** Parsed command line. @internal */
export interface CliOptions {
  algorithm: string
  dir: string
  name: string
  verbose: boolean
}

/** A usage error: what was wrong with the arguments. @internal */
export class UsageError extends Error {}

const FLAGS = {
  dir: { type: 'string' },
  name: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const

const ACCEPTED_FLAGS = 'accepted flags are --dir <directory>, --name <name>, --verbose, --help'

/** `node:util` `parseArgs`'s error, said as which flag is wrong and what it takes. */
function describeParseError(error: unknown): string {
  const { code, message } = error as { code?: string; message: string }
  // The option as parseArgs quotes it: '--name', '-x', or '-v, --verbose' for one with an alias.
  const inQuotes = /'([^']*)'/.exec(message)?.[1] ?? ''
  const flag = /--[A-Za-z0-9-]+/.exec(inQuotes)?.[0] ?? /-[A-Za-z0-9]/.exec(inQuotes)?.[0] ?? '?'
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown flag ${flag}: ${ACCEPTED_FLAGS}`
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (flag === '--dir') return '--dir needs a directory, e.g. --dir /tmp/ccp'
    if (flag === '--name') return '--name needs a socket name, e.g. --name portus'
    return `${flag} takes no value`
  }
  return message.split('\n')[0]!
}

/**
 * Parse the arguments (without `node` and the script) with `node:util` `parseArgs`. Returns `'help'` for
 * `--help` (or `-h`) anywhere.
 * @throws {UsageError} naming the flag and its accepted values.
 * @internal
 */
export function parseCliArguments(argv: readonly string[]): CliOptions | 'help' {
  const args = argv.filter((argument) => argument !== '--')
  if (args.includes('--help') || args.includes('-h')) return 'help'
  let parsed: { values: { dir?: string; name?: string; verbose?: boolean }; positionals: string[] }
  try {
    parsed = parseArgs({ args, options: FLAGS, allowPositionals: true, strict: true })
  } catch (error) {
    throw new UsageError(describeParseError(error))
  }
  const { values, positionals } = parsed
  if (values.dir === '') throw new UsageError('--dir needs a directory, e.g. --dir /tmp/ccp')
  if (values.name === '') throw new UsageError('--name needs a socket name, e.g. --name portus')
  if (values.name !== undefined && (values.name.includes('/') || values.name === '.' || values.name === '..')) {
    throw new UsageError(`--name must be a file name inside --dir (no '/'), got '${values.name}'`)
  }
  const algorithms = Object.keys(CLI_ALGORITHMS).join(', ')
  const [algorithm, second] = positionals
  if (algorithm === undefined) throw new UsageError(`missing the algorithm: one of ${algorithms}`)
  if (!(algorithm in CLI_ALGORITHMS)) throw new UsageError(`unknown algorithm '${algorithm}': one of ${algorithms}`)
  if (second !== undefined) throw new UsageError(`one algorithm only (got '${algorithm}' and '${second}'): one of ${algorithms}`)
  return { algorithm, dir: values.dir ?? '/tmp/ccp', name: values.name ?? 'portus', verbose: values.verbose === true }
}

/** What the command touches of the process, so a test can stand in for it. @internal */
export interface CliProcess {
  readonly argv: readonly string[]
  writeOut(text: string): void
  writeErr(text: string): void
  onSignal(signal: 'SIGINT' | 'SIGTERM', handler: () => void): void
  exit(code: number): void
  /** Open the agent's transport (default: `openUnixAgent`). */
  openTransport?(options: { dir: string; name: string; log: LogHook }): AgentTransport
}

function formatLog(level: string, message: string, detail?: Record<string, unknown>): string {
  const time = new Date().toISOString()
  return `${time} ${level.padEnd(5)} ${message}${detail === undefined ? '' : ` ${JSON.stringify(detail)}`}\n`
}

/**
 * Run the command. Returns the running agent (undefined when it exited at once: help, usage error, bind
 * failure). @internal
 */
export function runCli(io: CliProcess): Agent | undefined {
  let options: CliOptions | 'help'
  try {
    options = parseCliArguments(io.argv)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    // One line: what is wrong and where to look; the usage itself is for --help.
    io.writeErr(`mtcp-ccp: ${error.message} (mtcp-ccp --help lists the flags)\n`)
    io.exit(2)
    return undefined
  }
  if (options === 'help') {
    io.writeOut(`${USAGE}\n`)
    io.exit(0)
    return undefined
  }
  const verbose = options.verbose
  const log: LogHook = (level, message, detail) => {
    if (level === 'debug' && !verbose) return
    io.writeErr(formatLog(level, message, detail))
  }
  let agent: Agent
  try {
    const open = io.openTransport ?? openUnixAgent
    const transport = open({ dir: options.dir, name: options.name, log })
    agent = new Agent({ transport, algorithms: [CLI_ALGORITHMS[options.algorithm]!()], log, traceMessages: verbose })
  } catch (error) {
    const code = (error as { code?: string }).code
    io.writeErr(`mtcp-ccp: cannot start the agent at ${options.dir}/${options.name}: ${(error as Error).message}${code ? ` (${code})` : ''}\n`)
    io.exit(1)
    return undefined
  }
  agent.start()
  io.writeErr(`mtcp-ccp: ${options.algorithm} listening at ${agent.address}\n`)
  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    agent.close()
    const { flowsCreated, reports, errors, readies, recreated, deferred } = agent.stats
    io.writeErr(`mtcp-ccp: closed after ${flowsCreated} flows, ${reports} reports, ${errors} errors (${readies} READY, ${recreated} re-created, ${deferred} deferred)\n`)
    io.exit(0)
  }
  io.onSignal('SIGINT', stop)
  io.onSignal('SIGTERM', stop)
  return agent
}
