// Pacing accuracy: bytes a greedy sender of 1514-byte frames gets through the pacer over 10 simulated seconds,
// divided by rate × 10 s, at 10 Mbit/s, 1 Gbit/s and 10 Gbit/s. Virtual time only: the result does not
// depend on the machine. Baseline: the target rate itself (a ratio of 1).
import { Pacer } from '@mtcp/pacer'
import { report } from './lib.mjs'

const FRAME = 1514
const SIMULATED_SECONDS = 10
const RATES = [
  ['10 Mbit/s', 10e6],
  ['1 Gbit/s', 1e9],
  ['10 Gbit/s', 10e9],
]

let worst = 1
for (const [name, bitsPerSecond] of RATES) {
  const rate = bitsPerSecond / 8 // the pacer counts bytes
  const pacer = new Pacer({ rate })
  const end = SIMULATED_SECONDS * 1e6
  let now = 0
  let sent = 0
  while (now < end) {
    while (pacer.canSend(now, FRAME)) {
      pacer.onSend(FRAME, now)
      sent += FRAME
    }
    now = pacer.nextSendAt(now, FRAME)
  }
  const ratio = sent / (rate * SIMULATED_SECONDS)
  if (Math.abs(ratio - 1) > Math.abs(worst - 1)) worst = ratio
  console.log(`${name}: ${((sent * 8) / SIMULATED_SECONDS / 1e6).toFixed(3)} Mbit/s achieved, achieved/target ${ratio.toFixed(6)}`)
}
report({
  id: 'pacer-accuracy',
  metric: `worst achieved/target rate over ${SIMULATED_SECONDS} simulated s, 1514-byte frames, 10 Mbit/s to 10 Gbit/s`,
  unit: 'x',
  value: worst,
  baseline: { name: 'target rate', value: 1 },
  target: 'within 1%',
})
if (Math.abs(worst - 1) > 0.01) throw new Error(`pacing off by ${((worst - 1) * 100).toFixed(2)}%`)
