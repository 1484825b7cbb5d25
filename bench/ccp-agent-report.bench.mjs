// ns per report handled by @mtcp/ccp-agent: a MEASURE of generic-cong-avoid's default program arrives
// (in-process channel, synchronous), the agent decodes it, Reno computes the window in congestion
// avoidance, and the UPDATE_FIELDS goes back to the datapath. 64 flows in turn. Baseline: the wire work
// alone (decode that MEASURE, encode that UPDATE_FIELDS), so the ratio is the agent's cost over the codec's.
import { Agent, Reno } from '@mtcp/ccp-agent'
import { InProcessHub } from '@mtcp/ccp-ipc'
import { decodeMessage, encodeMessage, MessageType } from '@mtcp/libccp'
import { report, timeLoop } from './lib.mjs'

const FLOWS = 64
const REPORTS_PER_STEP = 256
const SECONDS = 2

function agentCost() {
  const hub = new InProcessHub({ synchronous: true })
  // A slow-start threshold of one window: every report exercises Reno's increase, not slow start.
  const agent = new Agent({ transport: hub.agent(), algorithms: [new Reno({ ssThresh: 14480 })] })
  agent.start()
  const datapath = hub.datapath('bench')
  let answers = 0
  datapath.onMessage(() => answers++)
  datapath.send(encodeMessage({ type: MessageType.Ready, sid: 0, id: 0 }))
  const uid = agent.programs.indexOf('DatapathIntervalRTTProg') + 1
  const measures = []
  for (let sid = 1; sid <= FLOWS; sid++) {
    datapath.send(encodeMessage({ type: MessageType.Create, sid, initCwnd: 14480, mss: 1448, srcIp: 0, srcPort: sid, dstIp: 0, dstPort: 80, congAlg: 'reno' }))
    measures.push(encodeMessage({ type: MessageType.Measure, sid, programUid: uid, fields: [14480, 0, 0, 0, 10000, 10] }))
  }
  answers = 0
  let next = 0
  const { count, seconds } = timeLoop(() => {
    for (let i = 0; i < REPORTS_PER_STEP; i++) {
      datapath.send(measures[next])
      next = next + 1 === FLOWS ? 0 : next + 1
    }
    return REPORTS_PER_STEP
  }, SECONDS)
  // The warm-up sends reports too: at least one answer per timed report.
  if (answers < count || agent.stats.errors !== 0) throw new Error(`expected ${count} answers, got ${answers} (${agent.stats.errors} errors)`)
  agent.close()
  return (seconds * 1e9) / count
}

function codecCost() {
  const measures = []
  for (let sid = 1; sid <= FLOWS; sid++) measures.push(encodeMessage({ type: MessageType.Measure, sid, programUid: 2, fields: [14480, 0, 0, 0, 10000, 10] }))
  let next = 0
  let sink = 0
  const { count, seconds } = timeLoop(() => {
    for (let i = 0; i < REPORTS_PER_STEP; i++) {
      const message = decodeMessage(measures[next])
      sink += encodeMessage({ type: MessageType.UpdateFields, sid: message.sid, updates: [{ regType: 2, regIndex: 4, value: message.fields[0] + 1448 }] }).length
      next = next + 1 === FLOWS ? 0 : next + 1
    }
    return REPORTS_PER_STEP
  }, SECONDS)
  if (sink === 0) throw new Error('nothing encoded')
  return (seconds * 1e9) / count
}

const codec = codecCost()
const agent = agentCost()
report({
  id: 'ccp-agent-report',
  metric: 'ns per report handled by the agent (decode MEASURE, Reno, encode and send UPDATE_FIELDS, in-process)',
  unit: 'ns',
  value: agent,
  baseline: { name: 'codec alone (decode MEASURE + encode UPDATE_FIELDS)', value: codec },
})
