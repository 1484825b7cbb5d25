#!/usr/bin/env node
// Install step of @mtcp/unix-dgram-native. The package ships a prebuilt addon for linux-x64
// (prebuilds/linux-x64/node.napi.node, N-API: one build for every Node version); building from source
// is only the fallback, for other architectures:
// - the prebuild (or an earlier build) loads: nothing to do;
// - otherwise node-gyp, if one is at hand (this workspace's, or npm's bundled copy: node-gyp is not a
//   dependency), builds build/Release/unix_dgram_native.node against the Node headers on disk;
// - anything else prints one line saying why and exits 0: the addon is optional, and @mtcp/ccp-ipc
//   says what to do when a unix transport is opened without it.
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')

function unavailable(reason) {
  console.log(`@mtcp/unix-dgram-native: addon unavailable (${reason}); @mtcp/ccp-ipc's in-process channel works without it`)
  process.exit(0)
}

function loads() {
  try {
    require('node-gyp-build')(root)
    return true
  } catch {
    try {
      require(path.join(root, 'build', 'Release', 'unix_dgram_native.node'))
      return true
    } catch {
      return false
    }
  }
}

function findNodeGyp() {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js')
  } catch {}
  const bundled = [
    path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
  ]
  return bundled.find((file) => fs.existsSync(file))
}

function findNodeDir() {
  const candidates = [path.resolve(path.dirname(process.execPath), '..'), '/usr', '/usr/local']
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h')) && fs.existsSync(path.join(dir, 'include', 'node', 'common.gypi')))
}

/** Build from source; returns undefined on success, else why not. Used by prebuild.cjs too. */
function buildFromSource(verbose) {
  const nodeGyp = findNodeGyp()
  if (nodeGyp === undefined) return 'no prebuild for this platform and node-gyp not found (npm i -g node-gyp, then npm rebuild @mtcp/unix-dgram-native)'
  const nodeDir = findNodeDir()
  const args = [nodeGyp, 'rebuild', ...(nodeDir ? [`--nodedir=${nodeDir}`] : [])]
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: verbose ? 'inherit' : ['ignore', 'pipe', 'pipe'], encoding: 'utf8' })
  if (result.error) return `could not run node-gyp: ${result.error.message}`
  if (result.status !== 0) {
    const first = `${result.stdout ?? ''}\n${result.stderr ?? ''}`.split('\n').find((line) => /error|not found/i.test(line))
    return `node-gyp rebuild failed (exit ${result.status}${first ? `: ${first.trim().slice(0, 160)}` : ''}): a C compiler, make and python3 are needed`
  }
  return undefined
}

module.exports = { buildFromSource, root }

if (require.main === module) {
  try {
    if (process.platform !== 'linux') unavailable(`unix datagram sockets with credentials need Linux, this is ${process.platform}`)
    if (loads()) process.exit(0)
    const why = buildFromSource(false)
    if (why !== undefined) unavailable(why)
    if (!loads()) unavailable('the addon was built but does not load in this Node')
  } catch (error) {
    unavailable(`install script error: ${error && error.message}`)
  }
}
