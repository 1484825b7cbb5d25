// ns per `connection.invoke` of generic-cong-avoid's default program (portus 0.8.0's
// DatapathIntervalRTTProg, from the CCP vectors), the program compiled to JavaScript vs the interpreter.
// Both run the whole invoke: Cwnd/Rate load, the expressions, set_cwnd, and a MEASURE about once per RTT
// (ACKs every 200 µs of virtual time, RTT 10 ms, as in the recorded sessions). Baseline: the interpreter.
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createMeasurements, Datapath, decodeMessage, encodeMessage } from '@mtcp/libccp'
import { report, timeLoop } from './lib.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const vectors = JSON.parse(readFileSync(join(here, '..', 'packages', 'libccp', 'src', 'fixtures', 'programs.json'), 'utf8'))
const install = decodeMessage(Buffer.from(vectors.programs.find((p) => p.name === 'gca_DatapathIntervalRTTProg').installHex, 'hex'))
install.sid = 0
install.programUid = 1

const FLOWS = 64 // a few flows in turn, so no single flow's state stays in registers between invokes
const INVOKES_PER_STEP = 1024
const SECONDS = 2

function measure(compile) {
  let now = 0
  let cwndCalls = 0
  let reports = 0
  const datapath = new Datapath(
    {
      now: () => now,
      sendMsg: (bytes) => {
        if (bytes[0] === 1) reports++
        return 0
      },
      setCwnd: () => {
        cwndCalls++
      },
      setRateAbs: () => {},
    },
    { compile },
  )
  datapath.receive(encodeMessage(install))
  const flows = []
  for (let i = 0; i < FLOWS; i++) {
    const connection = datapath.connectionStart({ initCwnd: 14480, mss: 1448, srcIp: 0, srcPort: i, dstIp: 0, dstPort: 80, congAlg: 'reno' }, null)
    datapath.receive(encodeMessage({ type: 4, sid: connection.sid, programUid: 1, updates: [] }))
    flows.push(connection)
  }
  if (datapath.programs.get(1).compiled !== compile) throw new Error('compile option not honoured')
  const m = createMeasurements()
  m.bytesAcked = 1448
  m.packetsAcked = 1
  m.rttSampleUs = 10_000
  m.cwnd = 14480
  m.packetsInFlight = 10
  m.bytesInFlight = 14480
  m.rateOutgoing = m.rateIncoming = 1_448_000
  let next = 0
  const step = () => {
    for (let i = 0; i < INVOKES_PER_STEP; i++) {
      if (next === 0) now += 200 // one ACK per flow every 200 µs
      flows[next].invoke(m)
      next = next + 1 === FLOWS ? 0 : next + 1
    }
    return INVOKES_PER_STEP
  }
  const { count, seconds } = timeLoop(step, SECONDS)
  if (cwndCalls < count || reports === 0) throw new Error('the program did not run')
  const ns = (seconds * 1e9) / count
  console.log(`${compile ? 'compiled   ' : 'interpreted'}: ${ns.toFixed(1)} ns per invoke (${count} invokes, ${reports} MEASUREs)`)
  return ns
}

const interpreted = measure(false)
const compiled = measure(true)
report({
  id: 'ccp-invoke',
  metric: "ns per invoke of generic-cong-avoid's default program (DatapathIntervalRTTProg), compiled",
  unit: 'ns',
  value: compiled,
  baseline: { name: 'interpreted', value: interpreted },
  target: '≤ 100 ns compiled',
})
