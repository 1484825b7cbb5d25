// Every package README's first ```js block is a runnable example: run it against the built package
// (packages/* and apps/*), and check what it prints against what the README says it prints: the comment at
// the end of a `console.log(…) // <output>` line, and the README's "Output" block after the example if it
// has one (numbers there vary from run to run, so every number is compared as N). The same check runs
// against the installed tarballs in scripts/consumer-test.mjs.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { differences, firstExample, instrument, loggedLines } from '../scripts/readme-example.mjs'

const root = join(import.meta.dirname, '..')
const packages = ['packages', 'apps'].flatMap((group) =>
  readdirSync(join(root, group))
    .filter((name) => existsSync(join(root, group, name, 'package.json')))
    .map((name) => `${group}/${name}`),
)

// Each example runs in a Node of its own (perf's for a second or more): a budget of their own, not vitest's 5 s.
describe('package README examples', { timeout: 120_000 }, () => {
  it.each(packages)('%s has a README with a runnable js example that prints what the README says', (name) => {
    const readme = readFileSync(join(root, name, 'README.md'), 'utf8')
    const example = firstExample(readme)
    expect(example, `${name}/README.md needs a \`\`\`js example`).toBeDefined()
    const { code, comments } = instrument(example!)
    // Inside the package, so the example imports the package by its own name (a self-reference
    // through its `exports`) and its other `@mtcp/*` imports resolve to its workspace dependencies.
    const directory = mkdtempSync(join(root, name, '.example-'))
    try {
      const file = join(directory, 'example.mjs')
      writeFileSync(file, code)
      const run = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 })
      expect(run.status, `${name}: the example failed:\n${run.stderr}`).toBe(0)
      expect(differences(readme, comments, loggedLines(run.stderr), run.stdout), `${name}: the example does not print what the README says`).toEqual([])
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  })
})
