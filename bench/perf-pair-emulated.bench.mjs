// `pnpm demo`'s run as a benchmark: mtcp-perf against mtcp-recv's receiver over the emulated link
// (100 Mbit/s, 20 ms one way, 0.1% random loss each way, 1000-packet queue), 10 s on the virtual clock;
// goodput (the sender's Throughput line: bytes / time to the OK) as a fraction of the link rate.
// Native Reno and CCP-Reno (the embedded TypeScript agent), side by side with the same seeds; CUBIC,
// CCP-BBR and loss-free Reno for context. The target is one a loss-driven sender can meet: the Mathis bound
// (MSS / RTT × 1.22 / √p, about 0.11 of the link at 0.1% loss and 40 ms), not the link rate; the loss-free
// run has the link rate as its target.
import { parsePerfArgs, runPerf } from '@mtcp/perf'
import { report } from './lib.mjs'

const RATE = 100e6
const DEMO = ['send', '10.0.0.2', '5001', '10', '--io', 'memory', '--rate', '100M', '--delay', '20ms', '--loss', '0.1%']

async function fraction(...flags) {
  const result = await runPerf(parsePerfArgs([...DEMO, ...flags]))
  if (result.receiver.bytes !== result.sender.bytesSent + 1) throw new Error('the receiver and sender disagree on the byte count')
  return { fraction: (result.sender.mbps * 1e6) / RATE, result }
}

const reno = await fraction('--cc', 'reno')
const ccpReno = await fraction('--cc', 'ccp:reno')
const cubic = await fraction('--cc', 'cubic')
const ccpBbr = await fraction('--cc', 'ccp:bbr')
const lossless = await fraction('--cc', 'reno', '--loss', '0')
// Mathis et al.: a loss-driven AIMD sender cannot average more than MSS / RTT × 1.22 / √p.
const mss = reno.result.tcpInfo.mss
const mathis = ((mss * 8) / 0.04) * (1.22 / Math.sqrt(0.001))
console.log(
  `  native reno ${reno.fraction.toFixed(3)} (${reno.result.sender.mbps.toFixed(2)} Mbit/s, ${reno.result.tcpInfo.retransmittedSegments} retransmissions, ${reno.result.wallSeconds.toFixed(2)} s wall); ccp:reno ${ccpReno.fraction.toFixed(3)} (${ccpReno.result.wallSeconds.toFixed(2)} s wall); cubic ${cubic.fraction.toFixed(3)}; ccp:bbr ${ccpBbr.fraction.toFixed(3)}; reno without loss ${lossless.fraction.toFixed(3)}; Mathis bound at 0.1% loss ${(mathis / RATE).toFixed(3)}`,
)
report({
  id: 'perf-pair-emulated',
  metric: "the demo's goodput (mtcp-perf → mtcp-recv, CCP-Reno with the embedded agent, 100 Mbit/s, 20 ms, 0.1% loss, 10 s virtual) as a fraction of the link rate",
  unit: 'fraction',
  value: ccpReno.fraction,
  baseline: { name: 'the Mathis bound for this loss rate and RTT', value: mathis / RATE },
  target: 'ratio ≥ 0.9',
})
report({
  id: 'perf-pair-emulated-native',
  metric: 'the same with native Reno, as a fraction of the link rate',
  unit: 'fraction',
  value: reno.fraction,
  baseline: { name: 'the Mathis bound for this loss rate and RTT', value: mathis / RATE },
  target: 'ratio ≥ 0.9',
})
report({
  id: 'perf-pair-emulated-lossless',
  metric: 'the same with native Reno and no loss, as a fraction of the link rate',
  unit: 'fraction',
  value: lossless.fraction,
  baseline: { name: 'the link rate', value: 1 },
  target: 'ratio ≥ 0.9',
})
