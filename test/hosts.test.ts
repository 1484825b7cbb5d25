// `pnpm hosts`: two namespaces joined by a veth pair, made and removed by scripts/hosts.sh (root only).
import { execFileSync, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { skipReason, suiteTitle } from './support/environment.js'

const script = join(import.meta.dirname, '..', 'scripts', 'hosts.sh')
const env = { ...process.env, MTCP_NS_A: `mtcpt-a${process.pid}`, MTCP_NS_B: `mtcpt-b${process.pid}` }
const skip = skipReason({ root: true, tools: ['ip', 'ping'] })
const namespaces = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })

afterAll(() => {
  if (skip === undefined) spawnSync('bash', [script, 'down'], { env })
})

describe.skipIf(skip !== undefined)(suiteTitle('pnpm hosts', skip), () => {
  it('creates two namespaces whose kernels reach each other, and removes them', () => {
    execFileSync('bash', [script, 'up', '--kernel-a'], { env, stdio: 'pipe' })
    expect(namespaces()).toContain(env.MTCP_NS_A)
    expect(namespaces()).toContain(env.MTCP_NS_B)
    const ping = spawnSync('ip', ['netns', 'exec', env.MTCP_NS_B, 'ping', '-c', '1', '-W', '2', '10.200.0.1'], { encoding: 'utf8' })
    expect(ping.status).toBe(0)
    execFileSync('bash', [script, 'down'], { env, stdio: 'pipe' })
    expect(namespaces()).not.toContain(env.MTCP_NS_A)
    expect(namespaces()).not.toContain(env.MTCP_NS_B)
  })

  it('leaves A without a kernel address unless asked, so only a user-level stack answers for it', () => {
    execFileSync('bash', [script, 'up'], { env, stdio: 'pipe' })
    const addresses = execFileSync('ip', ['-n', env.MTCP_NS_A, '-brief', 'addr', 'show', 'mtcp-a0'], { encoding: 'utf8' })
    expect(addresses).not.toContain('10.200.0.1')
    execFileSync('bash', [script, 'down'], { env, stdio: 'pipe' })
  })
})
