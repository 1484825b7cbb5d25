// Shared helpers for benchmarks: the result file format and the one-line summary.
import { mkdirSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), 'results')

/** "<cpu model>, <count>", as every result records it. */
export function machine() {
  const list = cpus()
  return `${list[0]?.model?.trim() ?? 'unknown cpu'}, ${list.length}`
}

/**
 * Write bench/results/<id>.json and print one summary line.
 * @param {{ id: string, metric: string, unit: string, value: number, baseline: { name: string, value: number } | null, target?: string }} result
 */
export function report(result) {
  const ratio = result.baseline && result.baseline.value > 0 ? result.value / result.baseline.value : null
  const record = {
    id: result.id,
    metric: result.metric,
    unit: result.unit,
    value: result.value,
    baseline: result.baseline,
    ratio,
    machine: machine(),
  }
  mkdirSync(resultsDir, { recursive: true })
  writeFileSync(join(resultsDir, `${result.id}.json`), `${JSON.stringify(record, null, 2)}\n`)
  const base = result.baseline ? `; ${result.baseline.name}: ${format(result.baseline.value)} ${result.unit}; ratio ${ratio?.toFixed(2)}` : ''
  const target = result.target ? ` (target ${result.target})` : ''
  console.log(`${result.id}: ${result.metric} ${format(result.value)} ${result.unit}${base}${target}`)
  return record
}

function format(value) {
  if (Math.abs(value) >= 1e6) return `${(value / 1e6).toFixed(3)}M`
  if (Math.abs(value) >= 1e3) return `${(value / 1e3).toFixed(2)}k`
  return value.toFixed(3)
}

/** Run `step` repeatedly for about `seconds` after `warmup` seconds; returns { count, seconds } where count sums step's return values. */
export function timeLoop(step, seconds, warmup = 0.5) {
  const warmEnd = performance.now() + warmup * 1000
  while (performance.now() < warmEnd) step()
  const start = performance.now()
  const end = start + seconds * 1000
  let count = 0
  let now = start
  while (now < end) {
    for (let i = 0; i < 64; i++) count += step()
    now = performance.now()
  }
  return { count, seconds: (now - start) / 1000 }
}

/** The short-connection benchmarks' node:http handler: read the request, answer 64 bytes, close. */
export function shortConnectionHandler(request, response) {
  request.resume()
  request.on('end', () => {
    response.setHeader('connection', 'close')
    response.end('x'.repeat(64))
  })
}

/**
 * node:http transactions per second for `seconds`: `concurrency` workers, each making one request after
 * another (a 64-byte POST, `connect()` giving the request's connection options), until the time is up.
 */
export async function httpTransactionRate(connect, seconds, concurrency) {
  let done = 0
  let failed = 0
  const end = performance.now() + seconds * 1000
  const worker = async () => {
    while (performance.now() < end) {
      try {
        await new Promise((resolve, reject) => {
          const request = http.request({ method: 'POST', path: '/', headers: { host: 'bench', 'content-length': 64 }, ...connect() }, (response) => {
            response.resume()
            response.on('end', resolve)
          })
          request.on('error', reject)
          request.end('x'.repeat(64))
        })
        done++
      } catch {
        failed++
      }
    }
  }
  const start = performance.now()
  await Promise.all(Array.from({ length: concurrency }, worker))
  if (failed > 0) console.error(`  ${failed} requests failed`)
  return done / ((performance.now() - start) / 1000)
}
