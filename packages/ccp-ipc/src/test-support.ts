// Test helpers: CCP-shaped datagrams and promises resolved by transport handlers (no sleeps).
import type { AgentTransport, DatapathTransport } from './transport.js'

/** A datagram with a valid header: type, len = size, sid; the body filled with `fill`. */
export function datagram(type: number, size: number, sid = 0, fill = 0): Uint8Array {
  const bytes = new Uint8Array(size).fill(fill)
  const view = new DataView(bytes.buffer)
  if (size >= 2) view.setUint16(0, type, true)
  if (size >= 4) view.setUint16(2, size & 0xffff, true)
  if (size >= 8) view.setUint32(4, sid, true)
  return bytes
}

/** READY (type 5, len 12, sid 0) carrying `id`. */
export function ready(id: number): Uint8Array {
  const bytes = datagram(5, 12)
  new DataView(bytes.buffer).setUint32(8, id, true)
  return bytes
}

/** The sid of a datagram. */
export function sidOf(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true)
}

/** Resolves with the next `count` messages the agent receives (handler replaced). */
export function agentReceives(agent: AgentTransport, count = 1): Promise<Array<{ bytes: Uint8Array; from: string }>> {
  return new Promise((resolve) => {
    const got: Array<{ bytes: Uint8Array; from: string }> = []
    agent.onMessage((bytes, from) => {
      got.push({ bytes, from })
      if (got.length === count) resolve(got)
    })
  })
}

/** Resolves with the next `count` messages the datapath receives (handler replaced). */
export function datapathReceives(datapath: DatapathTransport, count = 1): Promise<Uint8Array[]> {
  return new Promise((resolve) => {
    const got: Uint8Array[] = []
    datapath.onMessage((bytes) => {
      got.push(bytes)
      if (got.length === count) resolve(got)
    })
  })
}
