// Every package README's first ```js block is a runnable example: run it against the built package
// (packages/* and apps/*), and check what it prints against what the README says it prints: the comment at
// the end of a `console.log(…) // <output>` line, and the README's "Output" block after the example if it
// has one (numbers there vary from run to run, so they are compared as numbers, not digit by digit).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')
const packages = ['packages', 'apps'].flatMap((group) =>
  readdirSync(join(root, group))
    .filter((name) => existsSync(join(root, group, name, 'package.json')))
    .map((name) => `${group}/${name}`),
)

const normalize = (text: string): string => text.replace(/\s+/g, ' ').trim()

/** Whether `comment` states `printed`: the same text, that text and then an explanation after `:` or `(`, or its tail. */
function states(comment: string, printed: string): boolean {
  const c = normalize(comment)
  const p = normalize(printed)
  return c === p || c.startsWith(`${p}: `) || c.startsWith(`${p} (`) || (p.endsWith(c) && c.length > 0)
}

/**
 * The example with every `console.log(…) // comment` line recording what it prints under its line number
 * (and still printing it). @returns the code and the comments by line.
 */
function instrument(example: string): { code: string; comments: Map<number, string> } {
  const comments = new Map<number, string>()
  const lines = example.split('\n').map((line, index) => {
    const start = line.indexOf('console.log(')
    const end = line.lastIndexOf(') // ')
    if (start < 0 || end < start) return line
    comments.set(index + 1, line.slice(end + 5))
    return `${line.slice(0, start)}__log(${index + 1}, ${line.slice(start + 'console.log('.length, end)})`
  })
  const prelude = [
    "import { format as __format } from 'node:util'",
    'const __logged = new Map()',
    'function __log(line, ...args) { if (!__logged.has(line)) __logged.set(line, __format(...args)); console.log(...args) }',
    "process.on('exit', () => process.stderr.write(`\\n__LOGGED__${JSON.stringify([...__logged])}\\n`))",
  ]
  // Imports must stay first in a module: the prelude's import goes on top, the rest after the example's imports.
  const body = lines.join('\n')
  const lastImport = [...body.matchAll(/^import\b[\s\S]*?from\s*['"][^'"]+['"]/gm)].at(-1)
  const split = lastImport === undefined ? 0 : lastImport.index! + lastImport[0].length
  return { code: `${prelude[0]}\n${body.slice(0, split)}\n${prelude.slice(1).join('\n')}\n${body.slice(split)}`, comments }
}

/** The ```text block that follows the first ```js block under a paragraph starting with "Output", if any. */
function outputBlock(readme: string): string | undefined {
  const afterExample = readme.slice(readme.indexOf('```js'))
  const section = afterExample.slice(afterExample.indexOf('\n```\n') + 5).split(/^## /m)[0]!
  const match = /^Output[^\n]*\n+```text\n([\s\S]*?)```/m.exec(section)
  return match?.[1]
}

const asNumbers = (line: string): string => line.replace(/\d+(\.\d+)?(e[+-]?\d+)?/g, 'N')

describe('package README examples', () => {
  it.each(packages)('%s has a README with a runnable js example that prints what the README says', (name) => {
    const readme = readFileSync(join(root, name, 'README.md'), 'utf8')
    const example = /```js\n([\s\S]*?)```/.exec(readme)?.[1]
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
      const logged = new Map<number, string>(JSON.parse(/^__LOGGED__(.*)$/m.exec(run.stderr)?.[1] ?? '[]'))
      for (const [line, comment] of comments) {
        expect(logged.has(line), `${name}: line ${line} of the example never printed (its comment says ${comment})`).toBe(true)
        expect(states(comment, logged.get(line)!), `${name}: line ${line} printed ${JSON.stringify(logged.get(line))}, the README says ${JSON.stringify(comment)}`).toBe(true)
      }
      const output = outputBlock(readme)
      if (output !== undefined) {
        // Numbers vary (ports, times, counts under loss): compare the lines with every number as N.
        expect(run.stdout.trimEnd().split('\n').map(asNumbers), `${name}: the example's output differs from the README's Output block`).toEqual(output.trimEnd().split('\n').map(asNumbers))
      }
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  })
})
