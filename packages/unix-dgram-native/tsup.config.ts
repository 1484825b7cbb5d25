import { defineConfig } from 'tsup'

export default defineConfig({
  entry: ['src/index.ts'],
  // ESM, and CommonJS for @mtcp/ccp-ipc, which loads this optional package synchronously with require.
  format: ['esm', 'cjs'],
  shims: true,
  target: 'node20',
  dts: true,
  sourcemap: true,
  clean: true,
})
