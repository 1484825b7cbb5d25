// Docs that cannot go stale: every Markdown file of the repository (READMEs, docs/, decisions, guides) is
// checked against the code. Relative links must resolve; error codes named in backticks must exist in the
// sources; flags shown on mtcp-perf, mtcp-recv and mtcp-ccp command lines must be flags those programs
// accept (read from their built --help); TypeScript examples that are whole modules must type-check under
// the repository's strict settings.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative, resolve } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')

/** Every Markdown file in the repository, but not dependencies, build output or changesets (release notes of the past). */
function markdownFiles(directory = root): string[] {
  const files: string[] = []
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name === '.changeset' || entry.name.startsWith('.')) continue
    const path = join(directory, entry.name)
    if (entry.isDirectory()) files.push(...markdownFiles(path))
    else if (entry.name.endsWith('.md')) files.push(path)
  }
  return files
}

const docs = markdownFiles().map((path) => ({ path, name: relative(root, path), text: readFileSync(path, 'utf8') }))

/** The text outside fenced code blocks, line by line (links inside code are not links). */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, '')
}

/** The repository's address, from the root package's siblings' `repository` fields (all packages name the same). */
const REPOSITORY = (JSON.parse(readFileSync(join(root, 'apps', 'perf', 'package.json'), 'utf8')) as { repository: { url: string } }).repository.url.replace(/^git\+/, '').replace(/\.git$/, '')
const isPackageReadme = (name: string): boolean => /^(packages|apps)\/[^/]+\/README\.md$/.test(name)

describe('links', () => {
  it('knows the repository address', () => {
    expect(REPOSITORY).toMatch(/^https:\/\/github\.com\/[^/]+\/[^/]+$/)
  })

  it.each(docs.map((doc) => [doc.name, doc] as const))('%s: every link into the repository resolves', (_name, doc) => {
    const broken: string[] = []
    for (const match of prose(doc.text).matchAll(/\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = match[1]!
      if (target.startsWith('#')) continue
      // An absolute link to this repository's main branch is a path in it.
      const inRepository = new RegExp(`^${REPOSITORY.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/(?:blob|tree)/main/(.*)$`).exec(target)
      if (inRepository === null && /^[a-z][a-z0-9+.-]*:/i.test(target)) continue
      // A package README travels in the package's tarball, where relative links lead nowhere.
      if (inRepository === null && isPackageReadme(doc.name)) broken.push(`${target} (relative: use ${REPOSITORY}/blob/main/…)`)
      const path = decodeURIComponent((inRepository?.[1] ?? target).split('#')[0]!)
      if (!existsSync(inRepository === null ? resolve(dirname(doc.path), path) : join(root, path))) broken.push(target)
    }
    expect(broken, `${doc.name} links to files that do not exist`).toEqual([])
  })
})

/** Source files that can define an error code: everything under packages/ and apps/ but tests, dist and node_modules. */
function sourceText(): string {
  const parts: string[] = []
  const walk = (directory: string): void => {
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue
      const path = join(directory, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (/\.(ts|mts|js|mjs|cc|c|h)$/.test(entry.name) && !/\.test\.ts$/.test(entry.name)) parts.push(readFileSync(path, 'utf8'))
    }
  }
  for (const group of ['packages', 'apps', 'scripts', 'demo']) walk(join(root, group))
  return parts.join('\n')
}

describe('error codes', () => {
  const sources = sourceText()
  it.each(docs.map((doc) => [doc.name, doc] as const))('%s: every error code it names exists in the code', (_name, doc) => {
    const missing = new Set<string>()
    // `ERR_…` codes, and POSIX-style ones (`EAGAIN`, `ECONNRESET`, …) in backticks.
    for (const match of doc.text.matchAll(/`(ERR_[A-Z0-9_]+|E[A-Z]{3,})`/g)) {
      const code = match[1]!
      if (!new RegExp(`['"\`]${code}['"\`]|\\b${code}\\b`).test(sources)) missing.add(code)
    }
    expect([...missing], `${doc.name} names error codes no code has`).toEqual([])
  })
})

interface Program {
  /** How the docs invoke it. */
  invocations: RegExp
  /** Its built CLI. */
  cli: string
  flags: Set<string>
}

const programs: Program[] = [
  { invocations: /(?:^|[\s`(])(?:mtcp-perf|pnpm perf|node apps\/perf\/dist\/cli\.js) /, cli: 'apps/perf/dist/cli.js', flags: new Set() },
  { invocations: /(?:^|[\s`(])(?:mtcp-recv|pnpm recv|node apps\/recv\/dist\/cli\.js) /, cli: 'apps/recv/dist/cli.js', flags: new Set() },
  { invocations: /(?:^|[\s`(])(?:mtcp-ccp|node packages\/ccp-agent\/dist\/cli\.js) /, cli: 'packages/ccp-agent/dist/cli.js', flags: new Set() },
]

describe('command-line flags', () => {
  beforeAll(() => {
    for (const program of programs) {
      const cli = join(root, program.cli)
      if (!existsSync(cli)) throw new Error(`${program.cli} is missing: build first (pnpm build)`)
      const help = execFileSync(process.execPath, [cli, '--help'], { encoding: 'utf8' })
      for (const match of help.matchAll(/--([a-z][a-z0-9-]*)/g)) program.flags.add(match[1]!)
      expect(program.flags.size).toBeGreaterThan(1)
    }
  }, 60_000)

  it.each(docs.map((doc) => [doc.name, doc] as const))('%s: every flag on a command line of ours is one the program takes', (_name, doc) => {
    const unknown: string[] = []
    for (const line of doc.text.split('\n')) {
      // An inline code span or a whole line (in a code block), cut at the next command of a shell line.
      const segments = [...line.matchAll(/`([^`]+)`/g)].map((match) => match[1]!)
      if (!line.includes('`')) segments.push(line)
      for (const segment of segments) {
        for (const program of programs) {
          const start = program.invocations.exec(segment)
          if (start === null) continue
          const command = segment.slice(start.index).split(/&&|\|\||;|\|(?!\S*\|)|#/)[0]!
          for (const match of command.matchAll(/(?:^|\s)--([a-z][a-z0-9-]*)/g)) if (!program.flags.has(match[1]!)) unknown.push(`--${match[1]} in "${command.trim()}"`)
        }
      }
    }
    // The perf README's flag table: the first column of each row.
    if (doc.name === join('apps', 'perf', 'README.md')) {
      for (const row of doc.text.matchAll(/^\| ([^|]*)\|/gm)) {
        for (const match of row[1]!.matchAll(/`--([a-z][a-z0-9-]*)/g)) if (!programs[0]!.flags.has(match[1]!)) unknown.push(`--${match[1]} in the flag table`)
      }
    }
    expect(unknown, `${doc.name} shows flags the programs do not take`).toEqual([])
  })
})

// Each example is a tsc run of its own: a budget of their own, not vitest's 5 s.
describe('TypeScript examples', { timeout: 120_000 }, () => {
  // A ```ts block that starts with an import is a whole module: it must type-check as one. (Blocks that
  // continue an example, without imports, are read as fragments.)
  const examples = docs.flatMap((doc) =>
    [...doc.text.matchAll(/^```ts\n([\s\S]*?)^```/gm)]
      .map((match, index) => ({ doc, index, code: match[1]! }))
      .filter(({ code }) => code.startsWith('import ')),
  )

  it('finds the examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(4)
  })

  it.each(examples.map((example) => [`${example.doc.name} #${example.index + 1}`, example] as const))('%s type-checks under strict', (_name, example) => {
    // Inside the package whose README it is (so it imports the package by its own name), else at the root.
    const packageDir = existsSync(join(dirname(example.doc.path), 'package.json')) ? dirname(example.doc.path) : root
    const directory = mkdtempSync(join(packageDir, '.docs-ts-'))
    try {
      // .mts: an ES module whatever the package says, with no package.json of its own in between, so the
      // package's name still refers to itself.
      writeFileSync(join(directory, 'example.mts'), example.code)
      // A relative import (`./delay-aimd.js`) is the doc's ```js block that starts with `// delay-aimd.js`.
      for (const match of example.code.matchAll(/from '\.\/([\w.-]+\.js)'/g)) {
        const module = [...example.doc.text.matchAll(/^```js\n([\s\S]*?)^```/gm)].map((block) => block[1]!).find((code) => code.startsWith(`// ${match[1]}`))
        expect(module, `${example.doc.name}: no \`\`\`js block starts with // ${match[1]}`).toBeDefined()
        writeFileSync(join(directory, match[1]!), module!)
      }
      writeFileSync(
        join(directory, 'tsconfig.json'),
        JSON.stringify({ extends: relative(directory, join(root, 'tsconfig.base.json')), compilerOptions: { noEmit: true, declaration: false, sourceMap: false, allowJs: true, checkJs: false }, files: ['example.mts'] }),
      )
      const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc')
      const result = spawnSync(process.execPath, [tsc, '-p', directory], { encoding: 'utf8' })
      expect(result.stdout + result.stderr, `${example.doc.name}: the example does not type-check`).toBe('')
      expect(result.status).toBe(0)
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  })
})

it('checks every Markdown file of the repository', () => {
  expect(docs.length).toBeGreaterThanOrEqual(20)
  for (const doc of docs) expect(statSync(doc.path).isFile()).toBe(true)
})

describe('references', () => {
  // Comments and docs point into the repository (or to public sources by name), never to a design workspace
  // outside it that a reader of the repository does not have.
  const outside = new RegExp(['/work/', 'shared/notes', '\\.\\./shared', 'DESIGN\\.md', 'STYLE\\.md'].join('|'))
  it('no source, script, bench or doc refers to files outside the repository', () => {
    const offenders: string[] = []
    const walk = (directory: string): void => {
      for (const entry of readdirSync(directory, { withFileTypes: true })) {
        if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue
        const path = join(directory, entry.name)
        if (entry.isDirectory()) walk(path)
        else if (/\.(ts|mts|js|mjs|cc|c|h|sh|md|py|gyp|json)$/.test(entry.name) && path !== import.meta.filename) {
          readFileSync(path, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              if (outside.test(line)) offenders.push(`${relative(root, path)}:${i + 1}: ${line.trim()}`)
            })
        }
      }
    }
    for (const group of ['packages', 'apps', 'bench', 'demo', 'scripts', 'docs', 'test']) walk(join(root, group))
    walk(join(root, '.ci'))
    expect(offenders).toEqual([])
  })
})
