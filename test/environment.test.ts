// The skip rule of environment-dependent suites: the reason names what is missing; CI never skips.
import { afterEach, describe, expect, it } from 'vitest'
import { skipReason, suiteTitle } from './support/environment.js'

const ci = process.env.CI

afterEach(() => {
  if (ci === undefined) delete process.env.CI
  else process.env.CI = ci
})

describe('skipReason', () => {
  it('names every missing tool and the addon, outside CI', () => {
    delete process.env.CI
    expect(skipReason({ tools: ['sh', 'no-such-tool-mtcp', 'no-such-either'], native: false })).toBe('needs no-such-tool-mtcp, no-such-either on PATH and the native addon (@mtcp/dpdk-io-native)')
    expect(skipReason({ tools: ['sh'], native: true })).toBeUndefined()
    expect(suiteTitle('suite', 'needs ping on PATH')).toBe('suite [skipped: needs ping on PATH]')
    expect(suiteTitle('suite', undefined)).toBe('suite')
  })

  it('never skips in CI, whatever is missing', () => {
    process.env.CI = '1'
    expect(skipReason({ root: true, tools: ['no-such-tool-mtcp'], native: false })).toBeUndefined()
  })
})
