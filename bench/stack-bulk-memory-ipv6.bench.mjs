// Issue 20 (5): goodput between two stacks in one process over an unimpaired memory link, over IPv6 against
// the same over IPv4, in the same run, alternating rounds (median of each). Both without checksum offload
// (the stack computes IPv6 checksums in software: the ports' offload flags describe IPv4), so the families
// do the same work but for their headers. The MSS is 1440 over IPv6 (1500 − 40 − 20) and 1460 over IPv4.
import { bulkTransfer, stackPair } from '@mtcp/stack/testing'
import { report } from './lib.mjs'

const BYTES = 200_000_000
const ROUNDS = 3

function goodput(family) {
  const pair = stackPair({ family, stack: { tcp: { sendBufferSize: 4 << 20, receiveBufferSize: 4 << 20 } } })
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
const four = []
const six = []
for (let round = 0; round < ROUNDS; round++) {
  four.push(goodput(4))
  six.push(goodput(6))
}
report({
  id: 'stack-bulk-memory-ipv6',
  metric: `goodput between two stacks in one process over IPv6, memory link, MSS 1440, no checksum offload (median of ${ROUNDS})`,
  unit: 'bit/s',
  value: median(six),
  baseline: { name: `the same over IPv4 (MSS 1460), alternating rounds in the same run (median of ${ROUNDS})`, value: median(four) },
  target: 'ratio ≥ 0.95 (within 5% of IPv4)',
})
