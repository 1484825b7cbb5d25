/**
 * The demultiplexing order for an arriving TCP segment (RFC 9293 §3.10.7): the connection named by the exact
 * 4-tuple first, then a listener on the exact local address, then a listener on the wildcard address.
 * @module
 */
import type { FlowTable } from './flow-table.js'
import type { ListenerTable } from './listener-table.js'

/**
 * Find what owns a segment sent from `remoteIp`:`remotePort` to `localIp`:`localPort`: the flow with that
 * 4-tuple, else the listener on `localIp`:`localPort`, else the listener on 0.0.0.0:`localPort`, else
 * `undefined`. Allocates nothing. Both tables usually hold socket ids; the socket's state tells a
 * connection from a listener.
 *
 * @example
 * ```ts
 * const owner = demultiplex(flows, listeners, segment.dstIp, segment.dstPort, segment.srcIp, segment.srcPort)
 * if (owner === undefined) sendReset(segment) // RFC 9293 §3.10.7.1: CLOSED
 * ```
 */
export function demultiplex<T>(
  flows: FlowTable<T>,
  listeners: ListenerTable<T>,
  localIp: number,
  localPort: number,
  remoteIp: number,
  remotePort: number,
): T | undefined {
  const flow = flows.get(localIp, localPort, remoteIp, remotePort)
  return flow !== undefined ? flow : listeners.lookup(localIp, localPort)
}
