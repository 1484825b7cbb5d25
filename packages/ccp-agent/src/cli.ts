#!/usr/bin/env node
/**
 * The `mtcp-ccp` executable: see `cli-main.ts`.
 * @module
 */
import { runCli } from './cli-main.js'

runCli({
  argv: process.argv.slice(2),
  writeOut: (text) => process.stdout.write(text),
  writeErr: (text) => process.stderr.write(text),
  onSignal: (signal, handler) => process.on(signal, handler),
  exit: (code) => {
    // Writes to a terminal, file or pipe are synchronous on Linux: nothing is lost by exiting now.
    process.exitCode = code
    setImmediate(() => process.exit(code))
  },
})
