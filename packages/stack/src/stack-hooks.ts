/**
 * Hooks for a stack that is one of several sharing an address (a worker of `@mtcp/stack/cluster`):
 * which source ports `connect` may take, what to do with a segment of a flow another worker owns, and
 * telling the others about neighbours learned from ARP. A stack alone needs none of them.
 * @module
 */
import type { PacketBuffer } from '@mtcp/dpdk-io'

/** `StackOptions.hooks`. Every hook is optional and runs synchronously inside the stack's loop. */
export interface StackHooks {
  /**
   * `connect` on a socket with no bound port: may it use `localPort` towards `remoteIp:remotePort`?
   * A cluster worker accepts only ports whose replies the flow spreading brings back to it (as mTCP's
   * `mtcp_init_rss` chose them). Default: every free port. Over IPv6, `remote6` and `local6` are the
   * connection's 16-byte addresses (valid during the call only) and `remoteIp` a keyed digest of `remote6`.
   */
  acceptEphemeralPort?(localPort: number, remoteIp: number, remotePort: number, remote6?: Uint8Array, local6?: Uint8Array): boolean
  /**
   * A TCP segment matched no connection here and is not a SYN for a listener here. Return true when the
   * hook took it (forwarded it to the worker that owns the flow): the stack then drops it without a
   * reset. `frame` is only valid during the call: copy what you keep. Default: answer with a reset (RFC
   * 9293 §3.10.7.1).
   */
  unmatchedSegment?(frame: PacketBuffer, localPort: number, remoteIp: number, remotePort: number): boolean
  /** An ARP packet the stack received taught it `ip` → `mac` (added or confirmed). `mac` must not be changed; copy it to keep it. */
  arpLearned?(ip: number, mac: Uint8Array): void
}
