// Issue 20 (5): goodput between two stacks in one process over an unimpaired memory link, over IPv6 against
// the same over IPv4, in the same run, alternating rounds and which family goes first (median of each).
// The reported figure uses stack-bulk-memory's own configuration: checksum offload on the memory link (as on
// Linux's veth and loopback), which covers IPv6 since the ports say `txChecksum.tcp6` (decision 0105), so
// neither family computes a checksum. The same comparison without offload (each side computes its
// checksums in software) is printed too. Fair because the two families run the same transfer through the
// same code, alternately, in one process; they differ in their headers and the MSS, 1440 over IPv6
// (1500 − 40 − 20) against 1460 over IPv4, which the ratio includes (1.4% of it).
import { bulkTransfer, stackPair } from '@mtcp/stack/testing'
import { report } from './lib.mjs'

const BYTES = 200_000_000
const ROUNDS = 3

function goodput(family, checksum) {
  const pair = stackPair({ family, link: { offloads: { checksum } }, stack: { tcp: { sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } } })
  const check = bulkTransfer(pair, 10_000_000) // warm-up, with the data checked by SHA-256
  if (check.receivedHash !== check.sentHash) throw new Error('data corrupted')
  if (family === 6 && pair.a.stats.rx.ipv6 === 0) throw new Error('not over IPv6')
  const start = performance.now()
  const result = bulkTransfer(pair, BYTES, 5002, 64 * 1024, false)
  const seconds = (performance.now() - start) / 1000
  if (result.bytes !== BYTES) throw new Error('bytes lost')
  return (BYTES * 8) / seconds
}

const median = (values) => values.slice().sort((x, y) => x - y)[Math.floor(values.length / 2)]
const runs = { true: { 4: [], 6: [] }, false: { 4: [], 6: [] } }
for (let round = 0; round < ROUNDS; round++) {
  for (const checksum of [true, false]) {
    for (const family of round % 2 === 0 ? [4, 6] : [6, 4]) runs[checksum][family].push(goodput(family, checksum))
  }
}
const ratios = (checksum) => runs[checksum][6].map((six, i) => six / runs[checksum][4][i])
const spread = (values) => values.slice().sort((x, y) => x - y).map((v) => v.toFixed(2)).join('/')
console.log(`  IPv6/IPv4 per round, min/median/max: with checksum offload ${spread(ratios(true))}; without ${spread(ratios(false))}`)
report({
  id: 'stack-bulk-memory-ipv6',
  metric: `goodput between two stacks in one process over IPv6, memory link with checksum offload (stack-bulk-memory's configuration), MSS 1440 (median of ${ROUNDS})`,
  unit: 'bit/s',
  value: median(runs.true[6]),
  baseline: { name: `the same over IPv4 (MSS 1460), alternating rounds in the same run (median of ${ROUNDS})`, value: median(runs.true[4]) },
  target: 'ratio ≥ 0.95 (within 5% of IPv4)',
})
