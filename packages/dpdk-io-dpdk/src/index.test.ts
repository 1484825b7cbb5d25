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
})
