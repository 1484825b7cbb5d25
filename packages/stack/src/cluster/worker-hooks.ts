/**
 * The stack hooks (../stack-hooks.ts) of one cluster worker: which ephemeral ports `connect` may use,
 * where a segment of another worker's flow goes, and sharing ARP entries. Kept apart from the thread
 * plumbing so the same rules run in one thread in the tests.
 * @module
 */
import { type PacketBuffer, portsFanoutHash } from '@mtcp/dpdk-io'
import type { StackHooks } from '../stack-hooks.js'
import type { FlowSteering } from './flow-hash.js'

/** A neighbour is shared again at most this often (ms) unless its MAC changes. */
const ARP_SHARE_INTERVAL_MS = 1000

/** What {@link createWorkerHooks} needs to know and do. */
export interface WorkerHooksOptions {
  index: number
  workers: number
  /** The cluster's address, uint32. */
  address: number
  /** The stack's ephemeral port range, inclusive. */
  ephemeralPorts: readonly [number, number]
  /**
   * The memory backend's flow steering: ports are chosen by its hash. Without it (kernel backends) the
   * ephemeral ports are partitioned, `port mod workers`, and segments forwarded to their owner.
   */
  steering?: FlowSteering
  /**
   * The AF_PACKET fanout group runs the addon's 'ports' program: a TCP flow with ports `a` and `b`
   * reaches member `portsFanoutHash(a, b) % workers`, and worker `index` is member `index` (the workers
   * join in index order). Ports
   * are chosen by that rule; a segment that still reaches another worker (the members were renumbered
   * after a worker exited) is forwarded to the owner the rule names. Ignored with `steering`.
   */
  portsFanout?: boolean
  /** Whether worker `index` is gone. */
  isDead(index: number): boolean
  /** Hand a copy of `frame` to worker `owner`. */
  forward(owner: number, frame: PacketBuffer): void
  /** Tell the other workers about a neighbour. */
  shareArp(ip: number, mac: Uint8Array): void
  /** Counters, updated in place. */
  counters: { forwarded: number; ownerDead: number; arpShared: number }
  /** Milliseconds, for ARP share pacing. Default `performance.now`. */
  now?: () => number
}

/** @internal The hooks of one worker's stack. A single worker needs none. */
export function createWorkerHooks(options: WorkerHooksOptions): StackHooks {
  const { index, workers, address, steering, counters } = options
  if (workers === 1) return {}
  const [low, high] = options.ephemeralPorts
  const now = options.now ?? (() => performance.now())
  const hooks: StackHooks = {}
  if (steering !== undefined) {
    // mTCP's mtcp_init_rss: a source port whose flow the dispatcher's hash brings back to this worker.
    // Over IPv6, by the 16-byte addresses the dispatcher hashes (the remote one's digest is no address).
    hooks.acceptEphemeralPort = (localPort, remoteIp, remotePort, remote6, local6) =>
      (remote6 === undefined || local6 === undefined ? steering.queueOf(remoteIp, address, remotePort, localPort) : steering.queueOf6(remote6, 0, local6, 0, remotePort, localPort)) === index
  } else {
    // With the 'ports' fanout program (net/packet/af_packet.c, fanout_demux_bpf: the program's value,
    // a hash of the two ports, modulo the member count) the owner is computable: choose ports it brings back
    // here. With the kernel's own fanout hash, keyed by a secret of its own, partition the ports instead.
    // Either way, whichever worker receives a segment for another's port forwards it (software steering).
    const ownerOf = options.portsFanout === true ? (localPort: number, remotePort: number) => portsFanoutHash(localPort, remotePort) % workers : (localPort: number) => localPort % workers
    hooks.acceptEphemeralPort = (localPort, _remoteIp, remotePort) => ownerOf(localPort, remotePort) === index
    hooks.unmatchedSegment = (frame, localPort, _remoteIp, remotePort) => {
      if (localPort < low || localPort > high) return false
      const owner = ownerOf(localPort, remotePort)
      if (owner === index) return false
      if (options.isDead(owner)) {
        counters.ownerDead++
        return false // reset, as a host that lost the connection would
      }
      options.forward(owner, frame)
      counters.forwarded++
      return true
    }
  }
  const shared = new Map<number, { mac: number; at: number }>()
  hooks.arpLearned = (ip, mac) => {
    const key = mac[0]! * 2 ** 40 + mac[1]! * 2 ** 32 + ((mac[2]! << 24) >>> 0) + (mac[3]! << 16) + (mac[4]! << 8) + mac[5]!
    const at = now()
    const last = shared.get(ip)
    if (last !== undefined && last.mac === key && at - last.at < ARP_SHARE_INTERVAL_MS) return
    shared.set(ip, { mac: key, at })
    options.shareArp(ip, mac)
    counters.arpShared++
  }
  return hooks
}
