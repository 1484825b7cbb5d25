/**
 * The `mtcp-ccp` command: `mtcp-ccp <reno|cubic|bbr> [--dir /tmp/ccp] [--name portus] [--verbose]`.
 *
 * Like a portus algorithm binary, it runs one algorithm for every flow (whatever the CREATE asks for),
 * bound at `<dir>/<name>`. Bad arguments print the usage with what was wrong and exit 2; SIGINT and SIGTERM
 * close the agent (which unlinks the socket) and exit 0.
 * @module
 */
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

/**
 * Parse the arguments (without `node` and the script). Returns `'help'` for `--help`.
 * @throws {UsageError} naming the flag and its accepted values.
 * @internal
 */
export function parseCliArguments(argv: readonly string[]): CliOptions | 'help' {
  const options: Partial<CliOptions> = { dir: '/tmp/ccp', name: 'portus', verbose: false }
  const algorithms = Object.keys(CLI_ALGORITHMS).join(', ')
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i]!
    if (argument === '--help' || argument === '-h') return 'help'
    if (argument === '--verbose' || argument === '-v') {
      options.verbose = true
      continue
    }
    const valued = /^--(dir|name)(?:=(.*))?$/.exec(argument)
    if (valued) {
      const flag = valued[1] as 'dir' | 'name'
      const value = valued[2] ?? argv[++i]
      if (value === undefined || value === '' || (valued[2] === undefined && value.startsWith('-'))) {
        throw new UsageError(flag === 'dir' ? '--dir needs a directory, e.g. --dir /tmp/ccp' : '--name needs a socket name, e.g. --name portus')
      }
      if (flag === 'name' && (value.includes('/') || value === '.' || value === '..')) {
        throw new UsageError(`--name must be a file name inside --dir (no '/'), got '${value}'`)
      }
      options[flag] = value
      continue
    }
    if (argument.startsWith('-')) {
      throw new UsageError(`unknown flag ${argument}: accepted flags are --dir <directory>, --name <name>, --verbose, --help`)
    }
    if (options.algorithm !== undefined) throw new UsageError(`one algorithm only (got '${options.algorithm}' and '${argument}'): one of ${algorithms}`)
    if (!(argument in CLI_ALGORITHMS)) throw new UsageError(`unknown algorithm '${argument}': one of ${algorithms}`)
    options.algorithm = argument
  }
  if (options.algorithm === undefined) throw new UsageError(`missing the algorithm: one of ${algorithms}`)
  return options as CliOptions
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
    io.writeErr(`mtcp-ccp: ${error.message}\n\n${USAGE}\n`)
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
