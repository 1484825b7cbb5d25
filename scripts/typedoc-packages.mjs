// A TypeDoc plugin for the one API site of all packages (typedoc.json): each entry point's module is named
// after its package and export path (`@mtcp/stack`, `@mtcp/stack/cluster`) instead of its source folder, and a
// package entry whose file has no module comment gets the package's `description`, so every module says
// what it is.
import { readFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Comment, Converter, ReflectionKind } from 'typedoc'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** `packages/stack/src/cluster/index.ts` → `{ name: '@mtcp/stack/cluster', description }`, from the package's `exports`. */
function packageEntry(sourceFile) {
  const path = relative(root, sourceFile)
  const [group, folder] = path.split('/')
  const manifest = JSON.parse(readFileSync(join(root, group, folder, 'package.json'), 'utf8'))
  const inPackage = path.slice(`${group}/${folder}/`.length)
  const built = `./${inPackage.replace(/^src\//, 'dist/').replace(/\.ts$/, '.js')}`
  // tsup may name `src/cluster/index.ts` `dist/cluster.js` or `dist/cluster/index.js`.
  const candidates = [built, built.replace(/\/index\.js$/, '.js')]
  for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
    const file = typeof target === 'string' ? target : target.default
    if (candidates.includes(file)) return { name: subpath === '.' ? manifest.name : `${manifest.name}${subpath.slice(1)}`, description: manifest.description }
  }
  return { name: manifest.name, description: manifest.description }
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const module of context.project.getReflectionsByKind(ReflectionKind.Module)) {
      const file = module.sources?.[0]?.fullFileName ?? context.project.getSymbolFromReflection?.(module)?.declarations?.[0]?.getSourceFile().fileName
      if (file === undefined) continue
      const entry = packageEntry(file)
      module.name = entry.name
      if (module.comment === undefined && entry.description !== undefined) module.comment = new Comment([{ kind: 'text', text: entry.description }])
    }
  })
}
