/**
 * Replays a recorded libccp ↔ portus session (src/fixtures/session-*.json, copied from the shared CCP
 * vectors) through a {@link Datapath} on a fake clock: the agent's messages are fed at their recorded times,
 * and ACKs are generated as the vectors' README says the recording datapath generated them. Test-only.
 * @module
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Connection, Datapath } from '../datapath.js'
import { createMeasurements } from '../measurements.js'
import { type CreateMessage, decodeMessage, type MeasureMessage, MessageType } from '../wire.js'

/** One entry of a recorded session. */
export interface RecordedEntry {
  dir: 'dp->agent' | 'agent->dp' | 'datapath-callback'
  tUs: number
  type?: number
  sid?: number
  hex?: string
  call?: 'set_cwnd' | 'set_rate'
  value?: number
}

/** A recorded session file. */
export interface RecordedSession {
  source: string
  messages: RecordedEntry[]
}

/** Load `src/fixtures/session-<name>.json`. */
export function loadSession(name: string): RecordedSession {
  return JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', `session-${name}.json`), 'utf8')) as RecordedSession
}

/** Load `src/fixtures/programs.json`. */
export function loadPrograms(): { programs: Array<{ name: string; dsl: string; installHex: string; events: unknown[] }> } {
  return JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'programs.json'), 'utf8'))
}

/** Hex to bytes. */
export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'))
}

/** What the replayed datapath did. */
export interface ReplayResult {
  /** `set_cwnd` / `set_rate` calls that changed the flow's value, in order (the recording logs changes). */
  callbacks: Array<{ tUs: number; call: 'set_cwnd' | 'set_rate'; value: number }>
  /** Every message the datapath sent, decoded, with its time and whether the fake transport took it. */
  sent: Array<{ tUs: number; delivered: boolean; message: ReturnType<typeof decodeMessage> }>
  datapath: Datapath<FlowState>
  connection: Connection<FlowState>
}

/** The fake stack's per-flow state. */
export interface FlowState {
  cwnd: number
  rate: number
}

/** The recorded datapath's ACK spacing (vectors README: "one ACK about every 200 µs"). */
export const ACK_INTERVAL_US = 200
/** How often the fake stack calls `tick()`. */
export const TICK_INTERVAL_US = 10_000

/**
 * Replay `session`. The fake transport refuses sends until the agent was up: from the last datapath message
 * before the agent's first message (the one it answered), or from `agentUpAtUs` when given.
 */
export function replaySession(session: RecordedSession, options: { compile?: boolean; agentUpAtUs?: number } = {}): ReplayResult {
  const entries = session.messages
  const fromAgent = entries.filter((entry) => entry.dir === 'agent->dp')
  const fromDatapath = entries.filter((entry) => entry.dir === 'dp->agent')
  const firstAgent = fromAgent[0]?.tUs ?? Number.POSITIVE_INFINITY
  const agentUpAt = options.agentUpAtUs ?? Math.max(0, ...fromDatapath.filter((entry) => entry.tUs < firstAgent).map((entry) => entry.tUs))
  const ready = fromDatapath.find((entry) => entry.type === MessageType.Ready)!
  const create = decodeMessage(fromHex(fromDatapath.find((entry) => entry.type === MessageType.Create)!.hex!)) as CreateMessage
  const createAt = fromDatapath.find((entry) => entry.type === MessageType.Create)!.tUs
  const close = fromDatapath.find((entry) => entry.type === MessageType.Measure && (decodeMessage(fromHex(entry.hex!)) as MeasureMessage).fields.length === 0)
  const endAt = close?.tUs ?? entries[entries.length - 1]!.tUs
  const lossAt = endAt / 2 // README: "halfway through the run it set lost_pkts_sample = 1 for one ACK"

  let now = 0
  const result: ReplayResult = { callbacks: [], sent: [], datapath: undefined!, connection: undefined! }
  const datapath = new Datapath<FlowState>(
    {
      now: () => now,
      sendMsg(bytes) {
        const delivered = now >= agentUpAt
        result.sent.push({ tUs: now, delivered, message: decodeMessage(bytes) })
        return delivered ? 0 : -111 // ECONNREFUSED
      },
      setCwnd(connection, bytes) {
        if (bytes !== connection.context.cwnd) result.callbacks.push({ tUs: now, call: 'set_cwnd', value: bytes })
        connection.context.cwnd = bytes
      },
      setRateAbs(connection, rate) {
        if (rate !== connection.context.rate) result.callbacks.push({ tUs: now, call: 'set_rate', value: rate })
        connection.context.rate = rate
      },
    },
    { compile: options.compile ?? true },
  )
  result.datapath = datapath

  let next = 0
  const deliverUntil = (t: number): void => {
    while (next < fromAgent.length && fromAgent[next]!.tUs <= t) {
      now = fromAgent[next]!.tUs
      datapath.receive(fromHex(fromAgent[next]!.hex!))
      next++
    }
  }

  deliverUntil(ready.tUs)
  now = ready.tUs
  datapath.start()
  for (let t = 0; t < createAt; t += TICK_INTERVAL_US) {
    deliverUntil(t)
    now = Math.max(now, t)
    datapath.tick()
  }
  deliverUntil(createAt)
  now = createAt
  const state: FlowState = { cwnd: create.initCwnd, rate: 0 }
  const connection = datapath.connectionStart(create, state)
  result.connection = connection

  const m = createMeasurements()
  let lossDone = false
  let nextTick = createAt + TICK_INTERVAL_US
  for (let t = createAt + ACK_INTERVAL_US; t < endAt; t += ACK_INTERVAL_US) {
    deliverUntil(t)
    now = t
    if (t >= nextTick) {
      datapath.tick()
      nextTick += TICK_INTERVAL_US
    }
    m.bytesAcked = 1448
    m.packetsAcked = 1
    m.rttSampleUs = 10_000
    m.cwnd = state.cwnd
    m.rate = state.rate
    m.packetsInFlight = Math.floor(state.cwnd / 1448)
    m.bytesInFlight = state.cwnd
    m.rateOutgoing = state.cwnd * 100
    m.rateIncoming = state.cwnd * 100
    m.lostPktsSample = !lossDone && t >= lossAt ? 1 : 0
    if (m.lostPktsSample === 1) lossDone = true
    connection.invoke(m)
  }
  deliverUntil(endAt)
  now = endAt
  if (close !== undefined) connection.free()
  return result
}

/** The recorded callbacks of a session (`set_cwnd` / `set_rate`), in order. */
export function recordedCallbacks(session: RecordedSession): Array<{ tUs: number; call: string; value: number }> {
  return session.messages
    .filter((entry) => entry.dir === 'datapath-callback')
    .map((entry) => ({ tUs: entry.tUs, call: entry.call!, value: entry.value! }))
}

/** The recorded MEASUREs of a session, decoded. */
export function recordedMeasures(session: RecordedSession): Array<{ tUs: number; message: MeasureMessage }> {
  return session.messages
    .filter((entry) => entry.dir === 'dp->agent' && entry.type === MessageType.Measure)
    .map((entry) => ({ tUs: entry.tUs, message: decodeMessage(fromHex(entry.hex!)) as MeasureMessage }))
}
