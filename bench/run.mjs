// `pnpm bench [id…]`: run every benchmark under bench/ (or only the named ones), each in its own process.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const all = readdirSync(here)
  .filter((name) => name.endsWith('.bench.mjs'))
  .map((name) => name.slice(0, -'.bench.mjs'.length))
  .sort()
const wanted = process.argv.slice(2).filter((arg) => arg !== '--')
const unknown = wanted.filter((id) => !all.includes(id))
if (unknown.length > 0) {
  console.error(`unknown benchmark id: ${unknown.join(', ')}; known: ${all.join(', ')}`)
  process.exit(2)
}
let failed = 0
for (const id of wanted.length > 0 ? wanted : all) {
  const result = spawnSync(process.execPath, ['--expose-gc', join(here, `${id}.bench.mjs`)], { stdio: 'inherit' })
  if (result.status !== 0) {
    console.error(`${id}: failed (exit ${result.status})`)
    failed++
  }
}
process.exit(failed > 0 ? 1 : 0)
