// Every package README's first ```js block is a runnable example: run it against the built package
// (packages/* and apps/*).
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')
const packages = ['packages', 'apps'].flatMap((group) =>
  readdirSync(join(root, group))
    .filter((name) => existsSync(join(root, group, name, 'package.json')))
    .map((name) => `${group}/${name}`),
)

describe('package README examples', () => {
  it.each(packages)('%s has a README with a runnable js example', (name) => {
    const readme = readFileSync(join(root, name, 'README.md'), 'utf8')
    const example = /```js\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(example, `${name}/README.md needs a \`\`\`js example`).toBeDefined()
    // Inside the package, so the example imports the package by its own name (a self-reference
    // through its `exports`) and its other `@mtcp/*` imports resolve to its workspace dependencies.
    const directory = mkdtempSync(join(root, name, '.example-'))
    try {
      const file = join(directory, 'example.mjs')
      writeFileSync(file, example!)
      execFileSync(process.execPath, [file], { stdio: 'pipe', timeout: 60_000 })
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  })
})
