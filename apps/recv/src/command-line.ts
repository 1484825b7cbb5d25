/**
 * The command-line parser of the mtcp programs (`mtcp-recv`, `mtcp-perf`): `node:util` `parseArgs` in
 * strict mode, with its errors reworded to name the flag and what to do, `--help`/`-h` found anywhere, and
 * a lone `--` (from `pnpm <script> -- …`) ignored.
 * @module
 */
import { parseArgs } from 'node:util'

/** One flag: its `parseArgs` type and an optional one-letter alias (without `-`). */
export interface CommandLineFlag {
  readonly type: 'string' | 'boolean'
  readonly short?: string
}

/** What {@link parseCommandLine} found. */
export interface ParsedCommandLine {
  /** The arguments that are not flags, in order. */
  positionals: string[]
  /** Each flag given, by long name: its value (`'true'` for a boolean flag). A flag given twice keeps the last value. */
  values: Map<string, string>
}

/**
 * Parse `argv` against `flags` (long names without `--`). A `help` flag given anywhere answers `'help'`,
 * whatever else is wrong.
 * @returns the positionals and values, or `'help'`.
 * @throws `Error` whose message names the flag and the problem (an unknown flag lists the accepted
 * ones; a missing value says how to give one that starts with `-`). The caller wraps it in its own error code.
 *
 * @example
 * ```ts
 * const parsed = parseCommandLine(['wait', '0.0.0.0', '5001', '--once'], { once: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } })
 * // parsed.positionals: ['wait', '0.0.0.0', '5001']; parsed.values: Map { 'once' => 'true' }
 * ```
 */
export function parseCommandLine(argv: readonly string[], flags: Readonly<Record<string, CommandLineFlag>>): ParsedCommandLine | 'help' {
  const args = argv.filter((arg) => arg !== '--')
  const help = flags.help
  if (help !== undefined && (args.includes('--help') || (help.short !== undefined && args.includes(`-${help.short}`)))) return 'help'
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {}
  for (const [name, flag] of Object.entries(flags)) options[name] = flag.short === undefined ? { type: flag.type } : { type: flag.type, short: flag.short }
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] }
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true }) as typeof parsed
  } catch (error) {
    throw new Error(describeParseError(error, flags))
  }
  const values = new Map<string, string>()
  for (const [name, value] of Object.entries(parsed.values)) if (value !== undefined) values.set(name, String(value))
  return { positionals: parsed.positionals, values }
}

function describeParseError(error: unknown, flags: Readonly<Record<string, CommandLineFlag>>): string {
  const { code, message } = error as { code?: string; message: string }
  // The option as parseArgs quotes it: '--name', '-x', or '-v, --verbose' for one with an alias.
  const inQuotes = /'([^']*)'/.exec(message)?.[1] ?? ''
  const quoted = /--[A-Za-z0-9-]+/.exec(inQuotes)?.[0] ?? /-[A-Za-z0-9]/.exec(inQuotes)?.[0] ?? '?'
  const accepted = Object.keys(flags)
    .map((name) => `--${name}`)
    .join(', ')
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    return quoted.startsWith('--') ? `unknown flag ${quoted}; accepted: ${accepted}` : `unknown flag ${quoted}; flags are spelled --name (accepted: ${accepted})`
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const name = quoted.replace(/^-+/, '')
    const flag = flags[name] ?? Object.values(flags).find((candidate) => candidate.short === name)
    if (flag?.type === 'boolean') return `${quoted} takes no value`
    if (/ambiguous/.test(message)) return `${quoted} needs a value (for a value starting with '-', write ${quoted}=<value>)`
    return `${quoted} needs a value`
  }
  return message.split('\n')[0]!
}
