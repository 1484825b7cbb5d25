#!/usr/bin/env node
// `node scripts/build-quiet.mjs [<turbo filter>...]`: build with turbo and say nothing unless the build
// fails (then turbo's whole output goes to stderr and the exit status is turbo's). The root scripts that
// run a program (`pnpm perf`, `pnpm recv`, `pnpm demo`) build through this, so their output is the program's.
import { spawnSync } from 'node:child_process'

const filters = process.argv.slice(2).flatMap((filter) => ['--filter', filter])
const build = spawnSync('pnpm', ['exec', 'turbo', 'run', 'build', ...filters, '--output-logs=errors-only'], {
  encoding: 'utf8',
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', TURBO_NO_UPDATE_NOTIFIER: '1' },
})
if (build.error !== undefined) {
  console.error(`build: cannot run turbo: ${build.error.message}`)
  process.exit(1)
}
if (build.status !== 0) {
  process.stderr.write(build.stdout)
  process.stderr.write(build.stderr)
  process.exit(build.status ?? 1)
}
