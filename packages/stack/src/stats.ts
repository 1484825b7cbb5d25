/**
 * The stack's counters: every frame in, every frame out, and every drop by its reason (as gVisor's
 * netstack counts them).
 * @module
 */
import { createTimeWaitStats, type TimeWaitStats } from './time-wait-table.js'

/** Why an arriving frame was dropped. */
export interface RxDrops {
  /** Too short or otherwise not an Ethernet II frame. */
  malformedEthernet: number
  /** Addressed to another MAC. */
  notForUs: number
  /** An EtherType other than ARP and IPv4 (IPv6, VLAN-tagged, …). */
  unsupportedEtherType: number
  malformedArp: number
  malformedIpv4: number
  badIpv4Checksum: number
  /** IPv4 fragments: not reassembled, counted and dropped. */
  fragments: number
  /** IPv4 to an address that is not the stack's. */
  notOurAddress: number
  /** An IP protocol other than ICMP and TCP. */
  unsupportedProtocol: number
  malformedIcmp: number
  malformedTcp: number
  badTcpChecksum: number
  /** A TCP segment for no connection and no listener (answered with RST). */
  noSocket: number
  /** A SYN (or a cookie's ACK) for a listener whose accept queue was full. */
  listenOverflow: number
  /** A SYN for a listener whose SYN queue was full, with SYN cookies off (`synCookies: 'never'`). */
  synQueueOverflow: number
  /** A SYN that could not get a socket id (maximum connections). */
  tooManyConnections: number
}

/** Why a frame could not be sent. */
export interface TxDrops {
  /** The buffer pool was empty. */
  noBuffer: number
  /** No route to the destination. */
  noRoute: number
  /** ARP failed to resolve the next hop, or its queue overflowed. */
  arpUnresolved: number
  /** The transmit backlog overflowed while the port refused frames. */
  backlogOverflow: number
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
    drops: RxDrops
  }
  tx: {
    frames: number
    bytes: number
    arp: number
    icmp: number
    tcp: number
    resets: number
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
      drops: {
        malformedEthernet: 0,
        notForUs: 0,
        unsupportedEtherType: 0,
        malformedArp: 0,
        malformedIpv4: 0,
        badIpv4Checksum: 0,
        fragments: 0,
        notOurAddress: 0,
        unsupportedProtocol: 0,
        malformedIcmp: 0,
        malformedTcp: 0,
        badTcpChecksum: 0,
        noSocket: 0,
        listenOverflow: 0,
        synQueueOverflow: 0,
        tooManyConnections: 0,
      },
    },
    tx: {
      frames: 0,
      bytes: 0,
      arp: 0,
      icmp: 0,
      tcp: 0,
      resets: 0,
      drops: { noBuffer: 0, noRoute: 0, arpUnresolved: 0, backlogOverflow: 0 },
    },
    tcp: { activeOpens: 0, passiveOpens: 0, failedConnections: 0, closedConnections: 0, retransmittedSegments: 0 },
    callbackErrors: 0,
    synCookies: { sent: 0, validated: 0, failed: 0 },
    timeWait: createTimeWaitStats(),
  }
}
