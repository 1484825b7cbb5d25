// Every package README's first ```js block is a runnable example: run it against the built package.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')
const packages = readdirSync(join(root, 'packages')).filter((name) => existsSync(join(root, 'packages', name, 'package.json')))

describe('package README examples', () => {
  it.each(packages)('%s has a README with a runnable js example', (name) => {
    const readme = readFileSync(join(root, 'packages', name, 'README.md'), 'utf8')
    const example = /```js\n([\s\S]*?)```/.exec(readme)?.[1]
    expect(example, `packages/${name}/README.md needs a \`\`\`js example`).toBeDefined()
    // Inside the package, so the example imports the package by its own name (a self-reference
    // through its `exports`) and its other `@mtcp/*` imports resolve to its workspace dependencies.
    const directory = mkdtempSync(join(root, 'packages', name, '.example-'))
    try {
      const file = join(directory, 'example.mjs')
      writeFileSync(file, example!)
      execFileSync(process.execPath, [file], { stdio: 'pipe', timeout: 60_000 })
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  })
})
