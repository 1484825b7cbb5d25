import { execFileSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { dpdkAvailable, dpdkBinding } from './index.js'

const root = join(import.meta.dirname, '..')
const built = dpdkAvailable()
const inCI = process.env.CI !== undefined

describe('@mtcp/dpdk-io-dpdk', () => {
  it("runs the README's example and prints what it says", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    const code = /```js\n([\s\S]*?)```/.exec(readme)![1]!
    const file = join(root, `readme-example-${process.pid}.mjs`)
    writeFileSync(file, code)
    try {
      const output = execFileSync(process.execPath, [file], { encoding: 'utf8' }).trim()
      expect(output).toBe(built ? 'DPDK backend available' : 'DPDK backend unavailable: install libdpdk-dev')
    } finally {
      rmSync(file, { force: true })
    }
  })

  it.runIf(!built && !inCI)('without the addon, the binding throws ERR_DPDK_UNAVAILABLE naming libdpdk-dev', () => {
    expect(() => dpdkBinding()).toThrow(expect.objectContaining({ code: 'ERR_DPDK_UNAVAILABLE', message: expect.stringContaining('libdpdk-dev') }))
  })

  // CI installs libdpdk-dev: the addon must have been built there.
  it.runIf(built || inCI)('is built, and checks its arguments before touching DPDK', () => {
    expect(built).toBe(true)
    const binding = dpdkBinding()
    expect(() => binding.ealInit('--no-huge' as unknown as string[])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
    expect(() => binding.portCount()).toThrow(expect.objectContaining({ code: 'ERR_EAL_NOT_READY' }))
    expect(() => binding.poolAlloc(0, 600, new Int32Array(600))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }))
  })

  // Decision 0032: DPDK 22.11's net_af_xdp registers count x objectSize bytes from the pool's first chunk as
  // its umem, so every mbuf must lie inside that span (with --no-huge and page-bounded objects, 42% did not,
  // and the kernel dropped the frames sent from them). Its own process: the EAL starts once per process.
  it.runIf(built || inCI)('packs a pool in one chunk when no device DMAs: every mbuf inside count x objectSize bytes', () => {
    const script = [
      `const { dpdkBinding } = await import(${JSON.stringify(join(root, 'dist/index.js'))})`,
      'const b = dpdkBinding()',
      "b.ealInit(['mtcp', '--no-huge', '-m', '128', '--no-pci', '-l', '0', '--no-shconf', '--no-telemetry', '--log-level=lib.eal:error'])",
      "const pool = b.poolCreate('packed', 4096, 128 + 2048, 256)",
      'let end = 0',
      'for (let i = 0; i < pool.count; i++) end = Math.max(end, pool.slots[4 * i + 1] + pool.slots[4 * i + 2])',
      'console.log(JSON.stringify({ chunks: pool.chunks.length, count: pool.count, objectSize: pool.objectSize, end }))',
    ].join('\n')
    const result = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).trim().split('\n').at(-1)!) as {
      chunks: number
      count: number
      objectSize: number
      end: number
    }
    expect(result.count).toBe(4096)
    expect(result.chunks).toBe(1)
    expect(result.objectSize).toBeGreaterThan(2048 + 128)
    expect(result.end).toBeLessThanOrEqual(result.count * result.objectSize)
  })
})
