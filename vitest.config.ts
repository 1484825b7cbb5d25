import { defineConfig } from 'vitest/config'

// CI sets VITEST_JSON_OUTPUT to a path and reads the totals from vitest's JSON report there.
const jsonOutput = process.env.VITEST_JSON_OUTPUT

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    ...(jsonOutput ? { reporters: ['default', 'json'], outputFile: { json: jsonOutput } } : {}),
  },
})
