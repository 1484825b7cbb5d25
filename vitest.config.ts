import { defineConfig } from 'vitest/config'

// CI sets VITEST_JSON_OUTPUT to a path and reads the totals from vitest's JSON report there.
const jsonOutput = process.env.VITEST_JSON_OUTPUT

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    // A hang guard, not a speed limit: virtual-clock transfers that take 1–2 s on a quiet 2-core machine
    // took over vitest's default 5 s when other work shared the cores.
    testTimeout: 30_000,
    ...(jsonOutput ? { reporters: ['default', 'json'], outputFile: { json: jsonOutput } } : {}),
  },
})
