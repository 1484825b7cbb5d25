// Reading a package README's runnable example and what it says the example prints; shared by the README
// test (test/readme-examples.test.ts, against the workspace) and the consumer test (scripts/consumer-test.mjs,
// against the packed tarballs installed with npm).

/** The README's first ```js block: its runnable example. @param {string} readme @returns {string | undefined} */
export function firstExample(readme) {
  return /```js\n([\s\S]*?)```/.exec(readme)?.[1]
}

const normalize = (text) => text.replace(/\s+/g, ' ').trim()

/**
 * Whether `comment` states `printed`: the same text, that text followed by an explanation after `: ` or ` (`,
 * or the printed line's tail. @param {string} comment @param {string} printed @returns {boolean}
 */
export function states(comment, printed) {
  const c = normalize(comment)
  const p = normalize(printed)
  return c === p || c.startsWith(`${p}: `) || c.startsWith(`${p} (`) || (p.endsWith(c) && c.length > 0)
}

/**
 * The example with every `console.log(…) // comment` line recording what it prints under its line number
 * (and still printing it); at exit the records go to stderr after `__LOGGED__`.
 * @param {string} example
 * @returns {{ code: string, comments: Map<number, string> }}
 */
export function instrument(example) {
  const comments = new Map()
  const lines = example.split('\n').map((line, index) => {
    const start = line.indexOf('console.log(')
    const end = line.lastIndexOf(') // ')
    if (start < 0 || end < start) return line
    comments.set(index + 1, line.slice(end + 5))
    return `${line.slice(0, start)}__log(${index + 1}, ${line.slice(start + 'console.log('.length, end)})`
  })
  const body = lines.join('\n')
  // Imports stay first in a module: the helpers go after the example's last import.
  const lastImport = [...body.matchAll(/^import\b[\s\S]*?from\s*['"][^'"]+['"]/gm)].at(-1)
  const split = lastImport === undefined ? 0 : lastImport.index + lastImport[0].length
  const helpers = [
    'const __logged = new Map()',
    'function __log(line, ...args) { if (!__logged.has(line)) __logged.set(line, __format(...args)); console.log(...args) }',
    "process.on('exit', () => process.stderr.write(`\\n__LOGGED__${JSON.stringify([...__logged])}\\n`))",
  ]
  return { code: `import { format as __format } from 'node:util'\n${body.slice(0, split)}\n${helpers.join('\n')}\n${body.slice(split)}`, comments }
}

/** What an instrumented example recorded, from its stderr. @param {string} stderr @returns {Map<number, string>} */
export function loggedLines(stderr) {
  return new Map(JSON.parse(/^__LOGGED__(.*)$/m.exec(stderr)?.[1] ?? '[]'))
}

/** The ```text block after the first example under a paragraph starting with "Output", if any. @param {string} readme */
export function outputBlock(readme) {
  const afterExample = readme.slice(readme.indexOf('```js'))
  const section = afterExample.slice(afterExample.indexOf('\n```\n') + 5).split(/^## /m)[0]
  return /^Output[^\n]*\n+```text\n([\s\S]*?)```/m.exec(section)?.[1]
}

/** A line with every number as N (numbers vary from run to run). @param {string} line */
export const asNumbers = (line) => line.replace(/\d+(\.\d+)?(e[+-]?\d+)?/g, 'N')

/**
 * Every way the example's output differs from what the README says: a commented line that never printed or
 * printed something else, and the Output block's lines (numbers as N).
 * @param {string} readme @param {Map<number, string>} comments @param {Map<number, string>} logged @param {string} stdout
 * @returns {string[]}
 */
export function differences(readme, comments, logged, stdout) {
  const problems = []
  for (const [line, comment] of comments) {
    if (!logged.has(line)) problems.push(`line ${line} of the example never printed (its comment says ${JSON.stringify(comment)})`)
    else if (!states(comment, logged.get(line))) problems.push(`line ${line} printed ${JSON.stringify(logged.get(line))}, the README says ${JSON.stringify(comment)}`)
  }
  const output = outputBlock(readme)
  if (output !== undefined) {
    const expected = output.trimEnd().split('\n').map(asNumbers)
    const actual = stdout.trimEnd().split('\n').map(asNumbers)
    if (JSON.stringify(expected) !== JSON.stringify(actual)) problems.push(`the output differs from the README's Output block:\n${stdout}`)
  }
  return problems
}
