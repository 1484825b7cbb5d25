#!/usr/bin/env node
// `pnpm build`: compile the addon and put it where node-gyp-build looks first,
// prebuilds/<platform>-<arch>/node.napi.node (N-API 8: one binary for every Node ≥ 20). The published
// package carries the linux-x64 one; on another platform this builds that platform's.
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const { buildFromSource, root } = require('./install.cjs')

if (process.platform !== 'linux') {
  console.log(`@mtcp/unix-dgram-native: nothing to build on ${process.platform}`)
  process.exit(0)
}
const why = buildFromSource(true)
if (why !== undefined) {
  console.error(`@mtcp/unix-dgram-native: ${why}`)
  process.exit(1)
}
const target = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`)
fs.mkdirSync(target, { recursive: true })
fs.copyFileSync(path.join(root, 'build', 'Release', 'unix_dgram_native.node'), path.join(target, 'node.napi.node'))
console.log(`@mtcp/unix-dgram-native: prebuilds/${process.platform}-${process.arch}/node.napi.node`)
