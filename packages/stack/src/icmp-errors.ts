/**
 * ICMP errors for our TCP connections (RFC 1122 §4.2.3.9, RFC 1191, RFC 5927).
 *
 * - The quoted TCP header names the connection; its sequence number must lie in SND.UNA..SND.NXT
 *   (RFC 5927 §4.1) or the message is ignored and counted (`rx.drops.icmpOutOfWindow`): a blind attacker
 *   cannot guess it, so forged errors neither shrink segments nor raise errors.
 * - "Fragmentation needed and DF set" (type 3 code 4) lowers the connection's segment size to the
 *   next-hop MTU it reports (RFC 1191 §3–§5; tcp-core's rules/path-mtu.ts), and what was in flight is
 *   sent again in segments of the new size.
 * - Every other destination unreachable, time exceeded and parameter problem is a soft error: reported
 *   on the connection (tcpInfo's `softError`) and never aborts it (RFC 1122 §4.2.3.9: "SHOULD NOT abort"
 *   for codes 0, 1 and 5; RFC 5461 §4 extends that to every code for a synchronized connection, as Linux
 *   does, since ICMP is easy to forge).
 * @module
 */
import { IcmpType, reportedNextHopMtu, type TcpConnection } from '@mtcp/tcp-core'
import type { StackStats } from './stats.js'

/** The ICMP error as the frame reader left it (frames.ts `FrameReader.quoted`). */
export interface QuotedError {
  type: number
  code: number
  nextHopMtu: number
  seq: number
  totalLength: number
}

/** The soft error an ICMP error becomes (Linux's icmp_err_convert, as errno names). */
function softErrorOf(type: number, code: number): string {
  if (type === IcmpType.TIME_EXCEEDED) return 'EHOSTUNREACH'
  if (type === 12) return 'EPROTO' // parameter problem
  switch (code) {
    case 0: // net unreachable
    case 6: // destination network unknown
    case 9: // network administratively prohibited
    case 11: // network unreachable for ToS
      return 'ENETUNREACH'
    case 2: // protocol unreachable
    case 3: // port unreachable
      return 'ECONNREFUSED'
    case 13: // communication administratively prohibited (RFC 1812)
      return 'EACCES'
    default:
      return 'EHOSTUNREACH'
  }
}

/**
 * Act on an ICMP error quoting a segment of `connection` (undefined when the quoted ports name none).
 * @returns true when it was taken (counted in `rx.icmpErrors`), false when dropped (counted by reason)
 */
export function icmpErrorInput(quoted: QuotedError, connection: TcpConnection | undefined, stats: StackStats): boolean {
  const drops = stats.rx.drops
  if (connection === undefined) {
    drops.icmpNoConnection++
    return false
  }
  // RFC 5927 §4.1: only for data in flight.
  if (!connection.icmpSequenceAcceptable(quoted.seq)) {
    drops.icmpOutOfWindow++
    return false
  }
  if (quoted.type === IcmpType.DESTINATION_UNREACHABLE && quoted.code === 4) {
    // RFC 1191 §4/§5: the next-hop MTU, or a plateau below the quoted datagram's length when it is 0.
    const mtu = reportedNextHopMtu(quoted.nextHopMtu, quoted.totalLength)
    if (connection.pathMtuChanged(mtu)) stats.rx.icmpErrors.pathMtuLowered++
    else stats.rx.icmpErrors.pathMtuNotLower++
    return true
  }
  connection.softError = softErrorOf(quoted.type, quoted.code)
  stats.rx.icmpErrors.softErrors++
  return true
}
