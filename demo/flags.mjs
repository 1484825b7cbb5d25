// Command-line flags for the demos: parsed with node:util, each number checked against its range.
import { parseArgs } from 'node:util'

/** Print `message` and exit with status 2 (a usage error). */
export function fail(message) {
  console.error(message)
  process.exit(2)
}

/** Parse `options` (node:util parseArgs form); a leading `--` from `pnpm demo -- …` is ignored. */
export function parseFlags(options) {
  try {
    return parseArgs({ args: process.argv.slice(2).filter((arg) => arg !== '--'), options }).values
  } catch (error) {
    fail(error.message)
  }
}

/** The number given for `--name`, or `fallback`; exits naming the flag and its range when it is out of range. */
export function numberFlag(values, name, fallback, min, max) {
  const raw = values[name]
  const value = raw === undefined ? fallback : Number(raw)
  if (!Number.isFinite(value) || value < min || value > max) fail(`--${name} must be a number in [${min}, ${max}], got ${raw}`)
  return value
}
