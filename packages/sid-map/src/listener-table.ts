/**
 * Listening sockets by local address and port, with the wildcard address 0.0.0.0 (`INADDR_ANY`).
 *
 * A segment that matches no connection in the {@link FlowTable} goes to a listener (RFC 9293 §3.10.7.2,
 * LISTEN state): first one bound to the segment's exact local address, then one bound to the wildcard.
 * Both may be present for the same port; which binds are allowed to coexist is the stack's policy, not
 * this table's.
 * @module
 */
import type { SocketId } from './socket-table.js'
import { checkIpv4, checkPort, formatIpv4, SidMapError } from './errors.js'
import { FlowTable, type FlowTableOptions } from './flow-table.js'

/** The wildcard local address 0.0.0.0: a listener bound to it accepts on every local address. */
export const INADDR_ANY = 0

/** Sizing and hashing of a {@link ListenerTable}: the same options as a {@link FlowTable}, default 16 entries. */
export type ListenerTableOptions = FlowTableOptions

/**
 * Listeners by (local address, local port), with lookup that falls back to the wildcard address.
 *
 * @example
 * ```ts
 * const listeners = new ListenerTable<SocketId>()
 * listeners.insert(INADDR_ANY, 80, webId)
 * listeners.insert(0x7f000001, 80, localOnlyId)
 * listeners.lookup(0x7f000001, 80) // localOnlyId: the exact address wins
 * listeners.lookup(0x0a000001, 80) // webId: the wildcard
 * ```
 */
export class ListenerTable<T = SocketId> {
  // A flow table whose remote address and port are always 0.
  readonly #table: FlowTable<T>

  constructor(options: ListenerTableOptions = {}) {
    this.#table = new FlowTable<T>({ initialCapacity: 16, ...options })
  }

  /** Listeners in the table. */
  get size(): number {
    return this.#table.size
  }

  /**
   * Add a listener on `localIp` (or {@link INADDR_ANY}) and `localPort`. Throws `EADDRINUSE` if that exact
   * address and port are already taken, `ERR_INVALID_ARG` for a bad address or port.
   */
  insert(localIp: number, localPort: number, value: T): void {
    checkIpv4('localIp', localIp)
    checkPort('localPort', localPort)
    if (this.#table.has(localIp, localPort, 0, 0)) {
      throw new SidMapError('EADDRINUSE', `a listener is already bound to ${formatIpv4(localIp)}:${localPort}`)
    }
    this.#table.insert(localIp, localPort, 0, 0, value)
  }

  /** The listener bound to exactly this address and port (no wildcard fallback), or `undefined`. */
  get(localIp: number, localPort: number): T | undefined {
    return this.#table.get(localIp, localPort, 0, 0)
  }

  /**
   * The listener for a segment to `localIp`:`localPort`: the one bound to exactly that address, else the one
   * bound to {@link INADDR_ANY} on that port, else `undefined`. Allocates nothing.
   */
  lookup(localIp: number, localPort: number): T | undefined {
    const exact = this.#table.get(localIp, localPort, 0, 0)
    if (exact !== undefined || localIp === INADDR_ANY) return exact
    return this.#table.get(INADDR_ANY, localPort, 0, 0)
  }

  /** Whether a listener is bound to exactly this address and port. */
  has(localIp: number, localPort: number): boolean {
    return this.#table.has(localIp, localPort, 0, 0)
  }

  /** Remove the listener bound to exactly this address and port; `false` if there was none. */
  delete(localIp: number, localPort: number): boolean {
    return this.#table.delete(localIp, localPort, 0, 0)
  }

  /** Call `callback` for every listener; the same rules as {@link FlowTable.forEach}. */
  forEach(callback: (value: T, localIp: number, localPort: number) => void): void {
    this.#table.forEach((value, localIp, localPort) => callback(value, localIp, localPort))
  }
}
