/**
 * Ephemeral port selection, RFC 6056 §3.3.4 (Algorithm 4, "Double-Hash Port Selection"):
 *
 *     offset = F(local IP, remote IP, remote port, key1)
 *     index  = G(local IP, remote IP, remote port, key2)   (mod the table's length)
 *     for each of the range's ports:
 *       port = min + (offset + table[index]) mod count;  table[index]++
 *       if the port is suitable, take it
 *
 * F and G are tcp-core's keyed 4-tuple hash (local port 0) under two keys and two tweak words; the table
 * starts from the random source (secrets.ts). Successive connections to one peer walk the range from a
 * point an off-path attacker cannot guess, and connections to other peers use other table entries, so
 * ports are neither predictable nor reused sooner than needed (RFC 6056 §3.3.4's aims).
 * @module
 */
import { keyedTupleHash } from '@mtcp/tcp-core'
import { PORT_TABLE_LENGTH, type StackSecrets } from './secrets.js'

/** F's tweak word ("PRTF"). */
export const PORT_OFFSET_TWEAK = 0x50525446
/** G's tweak word ("PRTG"). */
export const PORT_INDEX_TWEAK = 0x50525447

/** @internal */
export class PortSelector {
  readonly #secrets: StackSecrets
  readonly #low: number
  readonly #count: number

  constructor(secrets: StackSecrets, range: readonly [number, number]) {
    this.#secrets = secrets
    this.#low = range[0]
    this.#count = range[1] - range[0] + 1
  }

  /**
   * The first port of the range, in the algorithm's order, that `suitable` accepts, or -1 after trying
   * them all. For a listener's port 0 give remote address and port 0.
   */
  select(localIp: number, remoteIp: number, remotePort: number, suitable: (port: number) => boolean): number {
    const secrets = this.#secrets
    const offset = keyedTupleHash(secrets.portOffset, localIp, 0, remoteIp, remotePort, PORT_OFFSET_TWEAK)
    const index = keyedTupleHash(secrets.portIndex, localIp, 0, remoteIp, remotePort, PORT_INDEX_TWEAK) % PORT_TABLE_LENGTH
    const table = secrets.portTable
    for (let tries = this.#count; tries > 0; tries--) {
      const port = this.#low + ((offset + table[index]!) % this.#count)
      // 32-bit entries (as Linux's perturbation table): with 16-bit ones the count would wrap every 65,536
      // ports and, 65,536 not being a multiple of the range, jump back and hand out recent ports again.
      table[index] = table[index]! + 1
      if (suitable(port)) return port
    }
    return -1
  }
}
