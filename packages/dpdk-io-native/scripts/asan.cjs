#!/usr/bin/env node
// The addon's tests under AddressSanitizer (`pnpm --filter @mtcp/dpdk-io-native test:asan`; CI runs it):
//
// 1. builds native/build/Release with -fsanitize=address (and frame pointers, for readable reports);
// 2. checks that the build is instrumented (it references the ASan runtime);
// 3. runs the tests that exercise the addon (this package's, and @mtcp/dpdk-io's Linux port tests over
//    it) with libasan preloaded: Node itself is not instrumented, so the runtime must be loaded first.
//    An invalid access in the addon aborts the test process with ASan's report, which fails the run.
//    Leak detection is off: V8 and Node keep allocations for the life of the process by design;
// 4. rebuilds the ordinary addon, also when something failed, so nothing is left instrumented.
//
// Exit status: the tests' (non-zero also when the build or the check failed).
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { findNodeDir, findNodeGyp } = require('./install.cjs')

const root = path.resolve(__dirname, '..')
const repo = path.resolve(root, '..', '..')
const addon = path.join(root, 'native', 'build', 'Release', 'dpdk_io_native.node')
const TESTS = ['packages/dpdk-io-native/src/native.test.ts', 'packages/dpdk-io-native/src/ring.test.ts', 'packages/dpdk-io/src/linux/']

function fail(message) {
  console.error(`test:asan: ${message}`)
  return 1
}

function run(command, args, options) {
  const result = spawnSync(command, args, { stdio: 'inherit', encoding: 'utf8', ...options })
  if (result.error) return fail(`could not run ${command}: ${result.error.message}`)
  // A quiet step's output is shown only when it failed.
  if (result.status !== 0 && options.stdio === 'pipe') process.stderr.write(`${result.stdout}${result.stderr}`)
  return result.status ?? 1
}

function asanRuntime() {
  const result = spawnSync(process.env.CXX || 'g++', ['-print-file-name=libasan.so'], { encoding: 'utf8' })
  const file = (result.stdout || '').trim()
  // g++ prints the bare name when it has no such library.
  if (result.status !== 0 || !path.isAbsolute(file) || !fs.existsSync(file)) return undefined
  return fs.realpathSync(file)
}

function main() {
  if (process.platform !== 'linux') return fail('AddressSanitizer runs of the addon need Linux')
  const libasan = asanRuntime()
  if (libasan === undefined) return fail('libasan not found (`g++ -print-file-name=libasan.so`): install g++ (Debian: libasan is part of its toolchain)')
  const nodeGyp = findNodeGyp()
  if (nodeGyp === undefined) return fail('node-gyp not found: it is a devDependency of @mtcp/dpdk-io-native, run pnpm install')
  const nodeDir = findNodeDir()
  const flags = '-fsanitize=address -fno-omit-frame-pointer -g'
  let status = run(process.execPath, [nodeGyp, 'rebuild', '--directory=native', ...(nodeDir ? [`--nodedir=${nodeDir}`] : [])], {
    cwd: root,
    env: { ...process.env, CFLAGS: flags, CXXFLAGS: flags, LDFLAGS: '-fsanitize=address' },
    stdio: 'pipe',
  })
  if (status !== 0) return fail(`the AddressSanitizer build failed (exit ${status})`)
  const symbols = spawnSync('nm', ['-D', '--undefined-only', addon], { encoding: 'utf8' })
  if (symbols.status !== 0 || !/__asan_/.test(symbols.stdout)) return fail(`${addon} is not instrumented (no __asan_ symbols): the compiler flags did not reach the build`)
  console.log(`test:asan: ${path.relative(repo, addon)} built with ${flags}; running ${TESTS.join(' ')} with LD_PRELOAD=${libasan}`)
  status = run('pnpm', ['exec', 'vitest', 'run', ...TESTS], {
    cwd: repo,
    env: {
      ...process.env,
      LD_PRELOAD: libasan,
      // Node's own allocations live until exit; Node handles SIGSEGV itself (WebAssembly bounds checks).
      ASAN_OPTIONS: 'detect_leaks=0:allow_user_segv_handler=1:abort_on_error=1:print_summary=1',
    },
  })
  if (status !== 0) fail(`the tests failed under AddressSanitizer (exit ${status})`)
  return status
}

let status = 1
try {
  status = main()
} finally {
  // Back to the ordinary build, whatever happened.
  const rebuilt = spawnSync(process.execPath, [path.join(__dirname, 'install.cjs'), '--force', '--strict'], { cwd: root, encoding: 'utf8' })
  if (rebuilt.status !== 0) {
    process.stderr.write(`${rebuilt.stdout}${rebuilt.stderr}`)
    console.error('test:asan: rebuilding the ordinary addon failed: run `pnpm --filter @mtcp/dpdk-io-native build:native`')
    status = status || 1
  }
}
process.exit(status)
