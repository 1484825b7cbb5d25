// The worked example of docs/guides/writing-a-ccp-algorithm.md (its first ```js block) runs against the
// built package and prints what the guide says it prints.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'

const packageDir = join(import.meta.dirname, '..')
const guide = join(packageDir, '..', '..', 'docs', 'guides', 'writing-a-ccp-algorithm.md')

it('the guide’s delay-based AIMD settles where the guide says', () => {
  const example = /```js\n([\s\S]*?)```/.exec(readFileSync(guide, 'utf8'))?.[1]
  expect(example).toBeDefined()
  const expected = [...example!.matchAll(/console\.log\(.*\) \/\/ ([\d ]+)/g)].map((m) => m[1]!.trim())
  expect(expected).toEqual(['107 109', '415'])
  // Inside the package, so that '@mtcp/ccp-agent' resolves to itself and its dependencies to the workspace.
  const directory = mkdtempSync(join(packageDir, '.guide-'))
  try {
    const file = join(directory, 'example.mjs')
    writeFileSync(file, example!)
    const output = execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 })
    expect(output.trim().split('\n')).toEqual(expected)
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
})
