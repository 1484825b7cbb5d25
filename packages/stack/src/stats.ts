/**
 * The stack's counters: every frame in, every frame out, and every drop by its reason (as gVisor's
 * netstack counts them).
 *
 * Every received frame is counted once by what became of it, so that
 * `rx.frames = rx.arp + rx.ipv4 + rx.ipv6 + rx.fragments + Σ rx.drops` (see {@link rxFramesAccounted}):
 * `rx.ipv4` and `rx.ipv6` count datagrams delivered (ICMP handled, TCP segments a connection or listener took),
 * `rx.fragments` fragments held for reassembly (the fragment that completes a datagram counts as
 * the datagram), and a segment a connection refused counts as a drop by its reason, not in `rx.tcp`.
 * @module
 */
import type { TcpConnectionStats } from '@mtcp/tcp-core'
import { createTimeWaitStats, type TimeWaitStats } from './time-wait-table.js'

/** Why an arriving frame was dropped. */
export interface RxDrops {
  /** Too short or otherwise not an Ethernet II frame. */
  malformedEthernet: number
  /** Addressed to another MAC. */
  notForUs: number
  /** An EtherType other than ARP, IPv4 and IPv6 (VLAN-tagged, …), or IPv6 on a stack without an IPv6 address. */
  unsupportedEtherType: number
  malformedArp: number
  malformedIpv4: number
  badIpv4Checksum: number
  /** A fragment that overlaps one held: its whole datagram is dropped (RFC 5722 §4 policy; ipv4-reassembly.ts). */
  fragmentOverlap: number
  /** An exact duplicate of a fragment held (RFC 8200 §4.5). */
  fragmentDuplicate: number
  /** A malformed fragment (not a multiple of 8 before the last, past 65,535 bytes, ends that disagree); its datagram is dropped when one was held. */
  fragmentMalformed: number
  /** A datagram in more pieces than reassembly takes (MAX_FRAGMENTS_PER_DATAGRAM); it is dropped. */
  fragmentTooMany: number
  /** A fragment of a new datagram from a source that has `reassembly.maxPerSource` datagrams in reassembly. */
  fragmentSourceLimit: number
  /** IPv4 or IPv6 to an address that is not the stack's (nor, for IPv6, a multicast group it is in). */
  notOurAddress: number
  /** An IP protocol other than ICMP and TCP. */
  unsupportedProtocol: number
  malformedIcmp: number
  /** An ICMP error quoting something other than a TCP segment we sent (too short, another protocol, not from us). */
  icmpUnusable: number
  /** An ICMP error quoting a TCP segment of no connection. */
  icmpNoConnection: number
  /** An ICMP error whose quoted sequence number is not in flight (RFC 5927 §4.1): forged or stale, ignored. */
  icmpOutOfWindow: number
  malformedTcp: number
  badTcpChecksum: number
  /** A TCP segment for no connection and no listener (answered with RST). */
  noSocket: number
  /** A reset for no connection: discarded (RFC 9293 §3.10.7.1). */
  resetNoSocket: number
  /** A SYN (or a cookie's ACK) for a listener whose accept queue was full. */
  listenOverflow: number
  /** A SYN for a listener whose SYN queue was full, with SYN cookies off (`synCookies: 'never'`). */
  synQueueOverflow: number
  /** A SYN that could not get a socket id (maximum connections). */
  tooManyConnections: number
  /** A segment a connection refused by the acceptability test (RFC 9293 §3.10.7.4): out of window or a duplicate. */
  outOfWindow: number
  /** A segment a connection refused by PAWS (RFC 7323 §5). */
  paws: number
  /** A segment without timestamps after they were negotiated (RFC 7323 §3.2). */
  missingTimestamps: number
  /** A reset ignored in TIME-WAIT (RFC 1337). */
  timeWaitReset: number
  /** An IPv6 header that is truncated or not version 6 (RFC 8200 §3). */
  malformedIpv6: number
  /** An IPv6 datagram whose extension headers were refused (a parameter problem, RFC 8200 §4; a discard option; truncated; No Next Header). */
  ipv6ExtensionHeaders: number
  /**
   * An IPv6 fragment (RFC 8200 §4.5) reassembly had no room for: more than its total memory bound alone
   * (ipv6-host.ts). The other refused fragments count under the `fragment…` reasons shared with IPv4.
   */
  ipv6Fragment: number
  /** An IPv6 datagram to one of our addresses that is tentative (RFC 4862 §5.4: silently discarded) or found duplicate (§5.4.5). */
  ipv6AddressNotReady: number
  /** An ICMPv6 message that is truncated or whose checksum fails (RFC 4443 §2.3), or an echo or error not usable. */
  malformedIcmpv6: number
  /** A Neighbor Discovery message that fails RFC 4861's validation (§6.1, §7.1), or a solicitation for an address not ours. */
  malformedNdp: number
}

/** ICMP messages received, by type (RFC 792; IANA "ICMP Type Numbers"). */
export interface IcmpInCounters {
  echoRequest: number
  echoReply: number
  /** Type 3, every code but 4. */
  destinationUnreachable: number
  /** Type 3 code 4, "fragmentation needed and DF set" (RFC 1191). */
  fragmentationNeeded: number
  /** Type 4, ignored (RFC 6633 §3). */
  sourceQuench: number
  /** Type 5, ignored (a host on a route table of its own). */
  redirect: number
  timeExceeded: number
  parameterProblem: number
  /** Any other type (timestamp, information, router advertisement, …), counted and ignored. */
  other: number
}

/** What ICMP errors for our connections did (RFC 1122 §4.2.3.9, RFC 1191). */
export interface IcmpErrorCounters {
  /** Fragmentation needed lowered a connection's segment size. */
  pathMtuLowered: number
  /** Fragmentation needed that would not lower the segment size (RFC 1191 §3: never raised). */
  pathMtuNotLower: number
  /** Other errors reported to a connection as a soft error (tcpInfo's `softError`). */
  softErrors: number
}

/** IPv4 reassembly's datagram counters (the frames are in rx.fragments and rx.drops). */
export interface ReassemblyCounters {
  /** Datagrams put back together. */
  reassembled: number
  /** Datagrams given up after the timeout (RFC 1122 §3.3.2). */
  timeouts: number
  /** Datagrams given up to make room for a new one (all slots taken). */
  evicted: number
  /** Datagrams dropped for an overlap or a malformed fragment. */
  discarded: number
}

/** Why a frame could not be sent. */
export interface TxDrops {
  /** The buffer pool was empty. */
  noBuffer: number
  /** No route to the destination. */
  noRoute: number
  /** ARP failed to resolve the next hop, or its queue overflowed. */
  arpUnresolved: number
  /** IPv6 frames whose next hop did not answer Neighbor Discovery (RFC 4861 §7.2.2), or that its queue could not hold. */
  neighborUnresolved: number
  /** The transmit backlog overflowed while the port refused frames. */
  backlogOverflow: number
  /**
   * IPv6 frames from an address that DAD found duplicate (RFC 4862 §5.4.5: not used), or from a tentative one
   * when the frames waiting for its DAD were already as many as the queue holds.
   */
  ipv6AddressNotReady: number
}

/** ICMPv6 errors the stack owed (RFC 4443 §2.4): sent, or suppressed by (e) or by the rate limit of (f). */
export interface Icmpv6ErrorOutCounters {
  /** Parameter problems sent (RFC 4443 §3.4, RFC 8200 §4, §4.5). */
  parameterProblem: number
  /** Time exceeded, code 1, sent (RFC 8200 §4.5: reassembly timed out after the first fragment came). */
  timeExceeded: number
  /** Not sent: RFC 4443 §2.4 (e) forbids it (about an ICMPv6 error, to multicast, from an unspecified or multicast source). */
  notAllowed: number
  /** Not sent: over the token bucket of RFC 4443 §2.4 (f). */
  rateLimited: number
}

/** Duplicate Address Detection of the stack's IPv6 addresses (RFC 4862 §5.4). */
export interface DadCounters {
  /** Neighbor solicitations sent as probes (§5.4.2). */
  probes: number
  /** Addresses found unique: preferred, in use. */
  preferred: number
  /** Addresses found duplicate (§5.4.3, §5.4.4): reported, never used. */
  duplicates: number
}

/** Router discovery (RFC 4861 §6.3). */
export interface RouterDiscoveryCounters {
  /** Router solicitations sent (§6.3.7). */
  solicitations: number
  /** Router advertisements taken (§6.3.4). */
  advertisements: number
}

/** SYN cookies (RFC 4987 §3.6): answers made, ACKs that brought a valid cookie back, ACKs whose cookie was not. */
export interface SynCookieStats {
  /** SYN-ACKs sent with a cookie instead of a SYN queue entry. */
  sent: number
  /** ACKs whose cookie was valid: connections established from a cookie. */
  validated: number
  /** ACKs checked as cookies that were not valid (forged, or older than two cookie periods); answered with RST. */
  failed: number
}

/** All counters of a stack. Plain numbers, read any time. */
export interface StackStats {
  rx: {
    frames: number
    bytes: number
    arp: number
    ipv4: number
    icmp: number
    tcp: number
    /** IPv6 datagrams delivered (ICMPv6 handled, TCP segments a connection or listener took). */
    ipv6: number
    /** ICMPv6 messages handled (echo, Neighbor Discovery, errors). */
    icmpv6: number
    /** Fragments held for reassembly (the one completing a datagram counts as the datagram). */
    fragments: number
    /** ICMP messages by type. */
    icmpIn: IcmpInCounters
    /** ICMP errors acted on. */
    icmpErrors: IcmpErrorCounters
    drops: RxDrops
  }
  /** IPv4 reassembly. */
  reassembly: ReassemblyCounters
  /** IPv6 reassembly (RFC 8200 §4.5); its fragments are in rx.fragments and rx.drops as IPv4's are. */
  reassembly6: ReassemblyCounters
  /** ICMPv6 errors owed by the stack: sent (also in tx.icmpv6) or suppressed. */
  icmpv6Errors: Icmpv6ErrorOutCounters
  /** Duplicate Address Detection. */
  dad: DadCounters
  /** IPv6 router discovery. */
  routerDiscovery: RouterDiscoveryCounters
  tx: {
    frames: number
    bytes: number
    arp: number
    icmp: number
    tcp: number
    resets: number
    /** ICMPv6 messages sent (echo replies, errors). */
    icmpv6: number
    /** Neighbor Discovery messages sent (solicitations, advertisements). */
    ndp: number
    drops: TxDrops
  }
  tcp: {
    activeOpens: number
    passiveOpens: number
    /** Connections that ended in CLOSED with an error (reset, timeout, refused). */
    failedConnections: number
    /** Connections that closed normally. */
    closedConnections: number
    /** Segments sent again (timeouts, fast retransmits, NewReno partial ACKs). */
    retransmittedSegments: number
  }
  /** Application callbacks (watchers, socket event handlers) that threw; each error is rethrown from a microtask. */
  callbackErrors: number
  /** SYN cookies sent and checked (syn-queue.ts). */
  synCookies: SynCookieStats
  /** The TIME-WAIT table (time-wait-table.ts). */
  timeWait: TimeWaitStats
}

/** A zeroed {@link StackStats}. */
export function createStackStats(): StackStats {
  return {
    rx: {
      frames: 0,
      bytes: 0,
      arp: 0,
      ipv4: 0,
      icmp: 0,
      tcp: 0,
      ipv6: 0,
      icmpv6: 0,
      fragments: 0,
      icmpIn: { echoRequest: 0, echoReply: 0, destinationUnreachable: 0, fragmentationNeeded: 0, sourceQuench: 0, redirect: 0, timeExceeded: 0, parameterProblem: 0, other: 0 },
      icmpErrors: { pathMtuLowered: 0, pathMtuNotLower: 0, softErrors: 0 },
      drops: {
        malformedEthernet: 0,
        notForUs: 0,
        unsupportedEtherType: 0,
        malformedArp: 0,
        malformedIpv4: 0,
        badIpv4Checksum: 0,
        fragmentOverlap: 0,
        fragmentDuplicate: 0,
        fragmentMalformed: 0,
        fragmentTooMany: 0,
        fragmentSourceLimit: 0,
        notOurAddress: 0,
        unsupportedProtocol: 0,
        malformedIcmp: 0,
        icmpUnusable: 0,
        icmpNoConnection: 0,
        icmpOutOfWindow: 0,
        malformedTcp: 0,
        badTcpChecksum: 0,
        noSocket: 0,
        resetNoSocket: 0,
        listenOverflow: 0,
        synQueueOverflow: 0,
        tooManyConnections: 0,
        outOfWindow: 0,
        paws: 0,
        missingTimestamps: 0,
        timeWaitReset: 0,
        malformedIpv6: 0,
        ipv6ExtensionHeaders: 0,
        ipv6Fragment: 0,
        ipv6AddressNotReady: 0,
        malformedIcmpv6: 0,
        malformedNdp: 0,
      },
    },
    reassembly: { reassembled: 0, timeouts: 0, evicted: 0, discarded: 0 },
    reassembly6: { reassembled: 0, timeouts: 0, evicted: 0, discarded: 0 },
    icmpv6Errors: { parameterProblem: 0, timeExceeded: 0, notAllowed: 0, rateLimited: 0 },
    dad: { probes: 0, preferred: 0, duplicates: 0 },
    routerDiscovery: { solicitations: 0, advertisements: 0 },
    tx: {
      frames: 0,
      bytes: 0,
      arp: 0,
      icmp: 0,
      tcp: 0,
      resets: 0,
      icmpv6: 0,
      ndp: 0,
      drops: { noBuffer: 0, noRoute: 0, arpUnresolved: 0, neighborUnresolved: 0, backlogOverflow: 0, ipv6AddressNotReady: 0 },
    },
    tcp: { activeOpens: 0, passiveOpens: 0, failedConnections: 0, closedConnections: 0, retransmittedSegments: 0 },
    callbackErrors: 0,
    synCookies: { sent: 0, validated: 0, failed: 0 },
    timeWait: createTimeWaitStats(),
  }
}

/** The sum of every receive drop reason. */
export function rxDropTotal(drops: RxDrops): number {
  let total = 0
  for (const reason in drops) total += drops[reason as keyof RxDrops]
  return total
}

/**
 * `rx.arp + rx.ipv4 + rx.ipv6 + rx.fragments + Σ rx.drops`: equal to `rx.frames` when every frame is accounted
 * for (each counted once, by what became of it).
 */
export function rxFramesAccounted(stats: StackStats): number {
  return stats.rx.arp + stats.rx.ipv4 + stats.rx.ipv6 + stats.rx.fragments + rxDropTotal(stats.rx.drops)
}

/**
 * The drops counted after a TCP segment left the IP layer (demultiplexing and the connection's own
 * checks): a segment counts in `rx.ipv4`/`rx.tcp` only when none of these moved while it was processed.
 * Every reason counted in the stack's TCP input belongs here.
 * @internal
 */
export function tcpLevelDrops(drops: RxDrops): number {
  return drops.noSocket + drops.resetNoSocket + drops.listenOverflow + drops.tooManyConnections + drops.outOfWindow + drops.paws + drops.missingTimestamps + drops.timeWaitReset
}

/**
 * @internal Counts what one connection refused of one segment, by reason: the connection's own counters
 * are read before and after `process` (no allocation).
 */
export class ConnectionDrops {
  #unacceptable = 0
  #paws = 0
  #missingTimestamps = 0
  #timeWaitResets = 0

  before(stats: TcpConnectionStats): void {
    this.#unacceptable = stats.unacceptableSegments
    this.#paws = stats.pawsRejected
    this.#missingTimestamps = stats.missingTimestamps
    this.#timeWaitResets = stats.timeWaitResetsIgnored
  }

  after(stats: TcpConnectionStats, drops: RxDrops): void {
    drops.outOfWindow += stats.unacceptableSegments - this.#unacceptable
    drops.paws += stats.pawsRejected - this.#paws
    drops.missingTimestamps += stats.missingTimestamps - this.#missingTimestamps
    drops.timeWaitReset += stats.timeWaitResetsIgnored - this.#timeWaitResets
  }
}
