// `pnpm demo:link` (demo/tcp-over-link.mjs): the average it prints is the average of its own per-second
// lines, not the bytes of the whole run (which go on arriving while the send buffer drains after the close).
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { expect, it } from 'vitest'

const demo = join(import.meta.dirname, '..', 'demo', 'tcp-over-link.mjs')

it('reports as its average the mean of the per-second goodput lines, and the drain after the close apart', { timeout: 120_000 }, () => {
  const run = spawnSync(process.execPath, [demo, '--seconds', '4', '--loss', '0.002'], { encoding: 'utf8', timeout: 120_000 })
  expect(run.status, run.stderr).toBe(0)
  const perSecond = [...run.stdout.matchAll(/^ +\d+ s +(\d+\.\d{3}) /gm)].map((match) => Number(match[1]))
  expect(perSecond).toHaveLength(4)
  const mean = perSecond.reduce((a, b) => a + b, 0) / perSecond.length
  const average = Number(/ (\d+\.\d) Mbit\/s on average/.exec(run.stdout)![1])
  // Both printed rounded: the lines to 0.001, the average to 0.1.
  expect(Math.abs(average - mean)).toBeLessThanOrEqual(0.05 + 0.001)
  const drained = /^then (\d+\.\d) MB more while the send buffer drained after the close$/m.exec(run.stdout)
  expect(drained, run.stdout).not.toBeNull()
  expect(Number(drained![1])).toBeGreaterThan(0)
})
