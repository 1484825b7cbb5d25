#!/usr/bin/env node
// Builds the @mtcp/dpdk-io-dpdk addon from source, only where libdpdk is found (the workspace's postinstall
// runs it; a user runs it once after installing: DPDK's libraries are the system's, so no prebuild fits).
//
// - Not Linux, or `pkg-config libdpdk` fails: prints one line naming libdpdk-dev and exits 0 (the
//   DPDK backend is optional; nothing else needs it).
// - Otherwise runs node-gyp rebuild with --nodedir pointing at this machine's Node headers.
// - A failed build prints why and still exits 0, unless --strict is given (`pnpm build:native`).
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const strict = process.argv.includes('--strict')

function unavailable(reason) {
  console.log(`@mtcp/dpdk-io-dpdk: DPDK backend unavailable (${reason})`)
  process.exit(strict ? 1 : 0)
}

if (process.platform !== 'linux') unavailable('DPDK backend is built on Linux only')
const probe = spawnSync('pkg-config', ['--modversion', 'libdpdk'], { encoding: 'utf8' })
if (probe.status !== 0) unavailable('libdpdk not found by pkg-config: install libdpdk-dev (Debian/Ubuntu: apt-get install dpdk libdpdk-dev libxdp-dev)')

function findNodeDir() {
  for (const dir of [path.resolve(path.dirname(process.execPath), '..'), '/usr', '/usr/local']) {
    if (fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h')) && fs.existsSync(path.join(dir, 'include', 'node', 'common.gypi'))) return dir
  }
  return undefined
}

let gyp
try {
  gyp = require.resolve('node-gyp/bin/node-gyp.js')
} catch {
  unavailable('node-gyp is not installed: npm i -D node-gyp, or npx node-gyp rebuild in this package\'s native/ directory')
}
const nodedir = process.env.npm_config_nodedir || findNodeDir()
const args = [gyp, 'rebuild']
if (nodedir) args.push(`--nodedir=${nodedir}`)
const build = spawnSync(process.execPath, args, { cwd: path.join(root, 'native'), stdio: strict ? 'inherit' : 'pipe', encoding: 'utf8' })
if (build.status !== 0) {
  if (!strict) process.stdout.write((build.stdout || '') + (build.stderr || ''))
  unavailable(`node-gyp failed with DPDK ${probe.stdout.trim()}`)
}
console.log(`@mtcp/dpdk-io-dpdk: built against DPDK ${probe.stdout.trim()}`)
