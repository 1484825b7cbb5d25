#!/usr/bin/env node
// Builds the @mtcp/dpdk-io-native addon from source, into native/build/Release (which the package loads
// before the prebuilt addons in prebuilds/). The gyp file is native/binding.gyp, not at the package root:
// a binding.gyp there makes npm and pnpm build the package at install (pnpm then demands a build approval). The published package has no install script: it carries prebuilt
// addons for linux-x64 and linux-arm64, so installing it compiles nothing and needs no build approval
// (pnpm's allowBuilds). This script is for everywhere else, run by hand (the addon's "unavailable" reason
// prints the command), and for this repository's own `pnpm install` (the root postinstall) and `build:native`.
//
// - Not Linux: prints one line and exits 0 (the addon is optional; @mtcp/dpdk-io works without it).
// - A prebuild or an earlier build that loads: nothing to do (unless --force).
// - Otherwise runs node-gyp rebuild with --nodedir pointing at this machine's Node headers, found
//   without environment variables: /usr/include/node (distribution packages) or
//   <dirname(process.execPath)>/../include/node (official tarballs, nvm, fnm, volta).
// - A failed build prints one line saying why and still exits 0, unless --strict is given
//   (`build:native` and the command the addon prints use --strict, so the failure shows).
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const args = process.argv.slice(2)
const force = args.includes('--force')
const strict = args.includes('--strict')
const verbose = strict || args.includes('--verbose') || !!process.env.npm_config_verbose

function unavailable(reason) {
  console.log(`@mtcp/dpdk-io-native: native backends unavailable (${reason}); @mtcp/dpdk-io falls back to its pure JS backends`)
  process.exit(strict ? 1 : 0)
}

/** Whether a build from source loads (the prebuilt addons do not count: --force or not, this script builds). */
function loads() {
  try {
    require(path.join(root, 'native', 'build', 'Release', 'dpdk_io_native.node'))
    return true
  } catch {
    return false
  }
}

/** A directory D such that D/include/node/node_api.h exists, or undefined. */
function findNodeDir() {
  const candidates = [
    path.resolve(path.dirname(process.execPath), '..'),
    '/usr',
    '/usr/local',
  ]
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h')) && fs.existsSync(path.join(dir, 'include', 'node', 'common.gypi'))) return dir
  }
  return undefined
}

function findNodeGyp() {
  // npm and pnpm tell scripts where their own node-gyp is.
  if (process.env.npm_config_node_gyp && fs.existsSync(process.env.npm_config_node_gyp)) return process.env.npm_config_node_gyp
  try {
    return require.resolve('node-gyp/bin/node-gyp.js')
  } catch {}
  // npm's bundled copy, next to the running node.
  const bundled = [
    path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
  ]
  return bundled.find((f) => fs.existsSync(f))
}

function main() {
  if (process.platform !== 'linux') unavailable(`raw packet I/O needs Linux, this is ${process.platform}`)
  if (!force && loads()) {
    if (verbose) console.log('@mtcp/dpdk-io-native: native addon already built')
    return
  }
  const nodeGyp = findNodeGyp()
  if (!nodeGyp) unavailable('node-gyp not found: install it (npm install -g node-gyp) and run this again')
  const nodeDir = findNodeDir()
  const gypArgs = [nodeGyp, 'rebuild', '--directory=native']
  // Without headers on disk node-gyp would try to download them; let it, but say so if that fails.
  if (nodeDir) gypArgs.push(`--nodedir=${nodeDir}`)
  const result = spawnSync(process.execPath, gypArgs, {
    cwd: root,
    stdio: verbose ? 'inherit' : ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  })
  if (result.error || result.status !== 0) {
    const output = `${result.stdout ?? ''}\n${result.stderr ?? ''}`
    let why
    const errLines = output.split('\n').filter((l) => /gyp ERR!|error|not found|No such file/i.test(l))
    const errText = errLines.join('\n')
    if (result.error) why = `could not run node-gyp: ${result.error.message}`
    else if (/gyp ERR! find Python/.test(errText)) why = 'node-gyp needs python3: install python3'
    else if (/make[^\n]*(not found|ENOENT)|spawn make/i.test(errText)) why = 'make is missing: install make and g++'
    else if (/(g\+\+|c\+\+|cc)[^\n]*(not found|No such file)|No such file[^\n]*(g\+\+|c\+\+)/i.test(errText)) why = 'no C++ compiler: install g++'
    else if (!nodeDir) why = 'Node headers not found in /usr/include/node or next to the node binary and could not be downloaded: install the Node development headers'
    else {
      const first = errLines.find((l) => /error/i.test(l) && !/gyp ERR! (stack|System|command|cwd|node -v|node-gyp -v|not ok)/.test(l))
      why = `node-gyp rebuild failed (exit ${result.status}${first ? `: ${first.trim().slice(0, 160)}` : ''}); run \`node ${path.join(root, 'scripts', 'install.cjs')} --strict\` to see the compiler output`
    }
    unavailable(why)
  }
  if (!loads()) unavailable('the addon was built but does not load in this Node')
  if (verbose) console.log(`@mtcp/dpdk-io-native: native addon built${nodeDir ? ` (headers from ${nodeDir}/include/node)` : ''}`)
}

if (require.main === module) {
  try {
    main()
  } catch (err) {
    unavailable(`install script error: ${err && err.message}`)
  }
}

// For scripts/asan.cjs, which builds the same addon with AddressSanitizer.
module.exports = { findNodeDir, findNodeGyp }
