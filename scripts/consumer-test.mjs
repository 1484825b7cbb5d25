#!/usr/bin/env node
// The packages as a user gets them: pack every package (pnpm pack, so workspace: ranges become versions),
// install all the tarballs with plain npm into an empty directory outside the workspace, with no C/C++
// compiler, make or python on PATH (each is shadowed by a stub that fails loudly), then in that directory:
//
// - check that nothing was compiled and the native addon still loads (its prebuilt binary);
// - run each package README's example and check what it prints against the README (scripts/readme-example.mjs);
// - run each CLI's --help;
// - run a short perf pair over the emulated link (mtcp-perf with mtcp-recv's receiver) and check the counts.
//
//   node scripts/consumer-test.mjs        (pnpm test:consumer; CI runs it after the tests; needs the
//                                          packages built and @mtcp/dpdk-io-native's prebuilds)
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { differences, firstExample, instrument, loggedLines } from './readme-example.mjs'

const root = join(dirname(new URL(import.meta.url).pathname), '..')
const packages = ['packages', 'apps'].flatMap((group) =>
  readdirSync(join(root, group))
    .filter((name) => existsSync(join(root, group, name, 'package.json')))
    .map((name) => join(group, name)),
)
const work = mkdtempSync(join(tmpdir(), 'mtcp-consumer-'))
const failures = []
let checks = 0

function check(ok, what, detail = '') {
  checks++
  if (ok) console.log(`ok   ${what}`)
  else {
    console.log(`FAIL ${what}${detail ? `\n${detail.trimEnd().replace(/^/gm, '     ')}` : ''}`)
    failures.push(what)
  }
}

function run(command, args, options = {}) {
  return spawnSync(command, args, { encoding: 'utf8', timeout: 300_000, ...options })
}

try {
  // 1. Pack.
  const tarballs = join(work, 'tarballs')
  mkdirSync(tarballs)
  for (const name of packages) {
    const pack = run('pnpm', ['pack', '--pack-destination', tarballs], { cwd: join(root, name) })
    if (pack.status !== 0) throw new Error(`pnpm pack failed in ${name}:\n${pack.stdout}\n${pack.stderr}`)
  }
  const files = readdirSync(tarballs).filter((file) => file.endsWith('.tgz'))
  check(files.length === packages.length, `packed ${files.length} packages`)

  // 2. A PATH with no compiler: stubs that fail for every build tool.
  const stubs = join(work, 'no-compiler')
  mkdirSync(stubs)
  for (const tool of ['cc', 'gcc', 'g++', 'c++', 'clang', 'clang++', 'make', 'python', 'python3']) {
    writeFileSync(join(stubs, tool), `#!/bin/sh\necho "consumer test: ${tool} is not available here: nothing may compile" >&2\nexit 127\n`)
    chmodSync(join(stubs, tool), 0o755)
  }
  const env = { ...process.env, PATH: `${stubs}:${process.env.PATH}`, npm_config_node_gyp: '' }
  for (const key of Object.keys(env)) if (key.startsWith('npm_') || key.startsWith('PNPM_') || key === 'INIT_CWD') delete env[key]
  env.PATH = `${stubs}:${process.env.PATH}`
  check(run('sh', ['-c', 'g++ --version'], { env }).status === 127, 'no compiler on PATH (g++ is a failing stub)')

  // 3. Install with npm, outside the workspace.
  const app = join(work, 'app')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'mtcp-consumer', private: true, type: 'module' }, null, 2)}\n`)
  const install = run('npm', ['install', '--no-audit', '--no-fund', '--foreground-scripts', ...files.map((file) => join(tarballs, file))], { cwd: app, env })
  check(install.status === 0, 'npm install of every tarball, without a compiler', `${install.stdout}\n${install.stderr}`)
  // Which packages node-gyp ran in (its log names the directory).
  const compiled = [...new Set([...`${install.stdout}\n${install.stderr}`.matchAll(/gyp (?:info|ERR!) cwd (\S+)/g)].map((match) => match[1].split('node_modules/').at(-1)))]
  check(!compiled.some((name) => name.startsWith('@mtcp/')), 'no @mtcp package ran node-gyp during the install', compiled.join(', '))
  // Third-party optional addons may try and fail (unix-dgram, ccp-ipc's optional unix datagram addon, until it is replaced): said, not failed.
  for (const name of compiled.filter((name) => !name.startsWith('@mtcp/'))) console.log(`note ${name} (a third-party optional dependency) ran node-gyp during the install`)
  const installed = JSON.parse(run('npm', ['ls', '--all', '--json'], { cwd: app, env }).stdout || '{}')
  check(JSON.stringify(installed).includes('"node-gyp"') === false, 'node-gyp is not installed as a dependency')

  // 4. The native addon loads from its prebuilt binary.
  const addon = run(process.execPath, ['--input-type=module', '-e', "const m = await import('@mtcp/dpdk-io-native'); console.log(JSON.stringify({ available: m.nativeAvailable(), reason: m.nativeUnavailableReason() ?? null }))"], { cwd: app, env })
  const addonState = addon.status === 0 ? JSON.parse(addon.stdout) : undefined
  check(addonState?.available === true, `@mtcp/dpdk-io-native loads its prebuilt linux-${process.arch} addon`, addon.stderr || addon.stdout)
  check(!existsSync(join(app, 'node_modules', '@mtcp', 'dpdk-io-native', 'build')), '@mtcp/dpdk-io-native has no build/ directory: nothing was compiled')

  // 4b. pnpm: the native package installs without a build to approve (pnpm fails an install with
  // ERR_PNPM_IGNORED_BUILDS for a dependency that wants to build). Only the packages that need no
  // third-party addon: @mtcp/ccp-ipc's optional unix-dgram still compiles.
  const pnpmApp = join(work, 'pnpm-app')
  mkdirSync(pnpmApp)
  writeFileSync(join(pnpmApp, 'package.json'), `${JSON.stringify({ name: 'mtcp-consumer-pnpm', private: true, type: 'module' }, null, 2)}\n`)
  const nativeTarballs = files.filter((file) => /^mtcp-dpdk-io(-native)?-\d/.test(file)).map((file) => join(tarballs, file))
  // dpdk-io depends on @mtcp/primitives, which is not on the registry either: pnpm takes it from its tarball.
  const primitives = files.find((file) => /^mtcp-primitives-\d/.test(file))
  writeFileSync(join(pnpmApp, 'pnpm-workspace.yaml'), `overrides:\n  '@mtcp/primitives': 'file:${join(tarballs, primitives ?? 'missing')}'\n`)
  const pnpmAdd = run('pnpm', ['add', ...nativeTarballs], { cwd: pnpmApp, env })
  check(pnpmAdd.status === 0 && !/IGNORED_BUILDS/.test(`${pnpmAdd.stdout}${pnpmAdd.stderr}`), 'pnpm add @mtcp/dpdk-io and @mtcp/dpdk-io-native: no build to approve', `${pnpmAdd.stdout}\n${pnpmAdd.stderr}`)
  const pnpmAddon = run(process.execPath, ['--input-type=module', '-e', "const m = await import('@mtcp/dpdk-io-native'); console.log(m.nativeAvailable())"], { cwd: pnpmApp, env })
  check(pnpmAddon.stdout.trim() === 'true', '@mtcp/dpdk-io-native loads its prebuilt addon in the pnpm install', pnpmAddon.stderr)

  // 5. Every README example, as the user would paste it.
  for (const name of packages) {
    const readme = readFileSync(join(app, 'node_modules', JSON.parse(readFileSync(join(root, name, 'package.json'), 'utf8')).name, 'README.md'), 'utf8')
    const example = firstExample(readme)
    if (example === undefined) {
      check(false, `${name}: README has a js example`)
      continue
    }
    const { code, comments } = instrument(example)
    const file = join(app, `example-${name.replace(/\//g, '-')}.mjs`)
    writeFileSync(file, code)
    const result = run(process.execPath, [file], { cwd: app, env, timeout: 120_000 })
    check(result.status === 0, `${name}: README example runs`, result.stderr)
    if (result.status === 0) {
      const problems = differences(readme, comments, loggedLines(result.stderr), result.stdout)
      check(problems.length === 0, `${name}: README example prints what the README says`, problems.join('\n'))
    }
  }

  // 6. Every CLI's --help.
  for (const cli of ['mtcp-perf', 'mtcp-recv', 'mtcp-ccp']) {
    const help = run(join(app, 'node_modules', '.bin', cli), ['--help'], { cwd: app, env })
    check(help.status === 0 && /^usage: /.test(help.stdout), `${cli} --help prints the usage`, `${help.stdout}\n${help.stderr}`)
  }

  // 7. A short perf pair over the emulated link.
  const perf = run(join(app, 'node_modules', '.bin', 'mtcp-perf'), ['send', '10.0.0.2', '5001', '1', '--json', '--cc', 'reno'], { cwd: app, env })
  const result = perf.status === 0 ? JSON.parse(perf.stdout) : undefined
  check(result !== undefined && result.sender.reply === 'OK\n' && result.receiver.bytes === result.sender.bytesSent + 1 && result.sender.bytesSent > 0, 'mtcp-perf and the receiver: a 1 s transfer, every byte counted', `${perf.stdout}\n${perf.stderr}`)
} catch (error) {
  check(false, 'the consumer test ran to the end', String(error?.stack ?? error))
} finally {
  rmSync(work, { recursive: true, force: true })
}

console.log(`\nconsumer test: ${checks - failures.length} of ${checks} checks passed`)
process.exit(failures.length === 0 ? 0 : 1)
