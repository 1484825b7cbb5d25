#!/usr/bin/env node
// Builds the prebuilt addons that ship inside the package, one per Linux architecture:
//
//   prebuilds/linux-x64/node.napi.glibc.node
//   prebuilds/linux-arm64/node.napi.glibc.node
//
// named as node-gyp-build looks for them (an N-API build runs on every Node with N-API 8, so one file per
// architecture serves Node 20, 22 and later). x64 is built with the host's compiler (on an x64 host); arm64
// is cross-compiled with Debian's aarch64-linux-gnu toolchain (apt-get install g++-aarch64-linux-gnu).
// The Node headers are the host's (/usr/include/node or next to the node binary): N-API headers do not
// depend on the architecture.
//
//   node scripts/prebuild.cjs [--arch x64,arm64]   build (default: both)
//   node scripts/prebuild.cjs --check               exit 1 unless both prebuilds are present (before publishing)
//
// The addon's own development build (native/build/Release, from `pnpm install` or `build:native`) is left as it was.
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const ARCHES = {
  x64: { cross: 'x86_64-linux-gnu' },
  arm64: { cross: 'aarch64-linux-gnu' },
}
const FILE = 'node.napi.glibc.node'

function fail(message) {
  console.error(`prebuild: ${message}`)
  process.exit(1)
}

const args = process.argv.slice(2)
if (args.includes('--check')) {
  const missing = Object.keys(ARCHES).filter((arch) => !fs.existsSync(path.join(root, 'prebuilds', `linux-${arch}`, FILE)))
  if (missing.length > 0) fail(`missing prebuilds for ${missing.map((arch) => `linux-${arch}`).join(', ')}: run \`pnpm --filter @mtcp/dpdk-io-native build:prebuilds\` first`)
  console.log('prebuild: linux-x64 and linux-arm64 present')
  process.exit(0)
}
const archIndex = args.indexOf('--arch')
const arches = archIndex >= 0 ? (args[archIndex + 1] ?? '').split(',') : Object.keys(ARCHES)
for (const arch of arches) if (!(arch in ARCHES)) fail(`--arch must be a comma-separated list of ${Object.keys(ARCHES).join(', ')}, got '${arch}'`)
if (process.platform !== 'linux') fail(`the prebuilds are for Linux, this is ${process.platform}`)

function which(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).stdout.trim() || undefined
}

function nodeDir() {
  for (const dir of [path.resolve(path.dirname(process.execPath), '..'), '/usr', '/usr/local']) {
    if (fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h')) && fs.existsSync(path.join(dir, 'include', 'node', 'common.gypi'))) return dir
  }
  return fail('Node headers not found (/usr/include/node or next to the node binary): install the Node development headers')
}

function nodeGyp() {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js')
  } catch {
    return fail('node-gyp not found: it is a devDependency of @mtcp/dpdk-io-native, run pnpm install')
  }
}

/** The compilers for `arch`: the host's when it is the host's architecture, else the cross toolchain's. */
function toolchain(arch) {
  if (arch === process.arch) return {}
  const prefix = ARCHES[arch].cross
  const cc = which(`${prefix}-gcc`)
  const cxx = which(`${prefix}-g++`)
  if (cc === undefined || cxx === undefined) fail(`no ${prefix} cross compiler on PATH: apt-get install g++-${prefix.replace(/_/g, '-')}`)
  return { CC: cc, CXX: cxx, LINK: cxx, AR: which(`${prefix}-ar`) ?? 'ar' }
}

// Build in a copy of the sources, so the development build in build/ is untouched.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dpdk-io-native-prebuild-'))
try {
  for (const entry of ['native', 'package.json']) fs.cpSync(path.join(root, entry), path.join(work, entry), { recursive: true, filter: (source) => !source.includes(`${path.sep}build`) })
  for (const arch of arches) {
    // libstdc++ stays dynamic: linked in statically it would pull in newer glibc symbols (arc4random, 2.36)
    // than the addon needs on its own (2.33).
    const env = { ...process.env, ...toolchain(arch) }
    const build = spawnSync(process.execPath, [nodeGyp(), 'rebuild', '--directory=native', `--arch=${arch}`, `--nodedir=${nodeDir()}`], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
    if (build.status !== 0) fail(`the linux-${arch} build failed:\n${build.stdout}\n${build.stderr}`)
    const target = path.join(root, 'prebuilds', `linux-${arch}`)
    fs.mkdirSync(target, { recursive: true })
    fs.copyFileSync(path.join(work, 'native', 'build', 'Release', 'dpdk_io_native.node'), path.join(target, FILE))
    const file = which('file') === undefined ? '' : spawnSync('file', ['-b', path.join(target, FILE)], { encoding: 'utf8' }).stdout.trim()
    console.log(`prebuild: prebuilds/linux-${arch}/${FILE}${file ? ` (${file.split(',').slice(0, 2).join(',')})` : ''}`)
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true })
}
