/**
 * Path MTU discovery for TCP over IPv4 (RFC 1191, RFC 1122 §3.2.2.1 and §4.2.3.9), with the ICMP
 * validation of RFC 5927. The stack sets Don't Fragment on every TCP segment; a router that cannot
 * forward one answers with ICMP "fragmentation needed and DF set" (type 3, code 4) carrying its next-hop
 * MTU. The stack finds the connection from the quoted TCP header and calls
 * `TcpConnection.pathMtuChanged`, which uses these functions.
 *
 * The estimate is per connection (the stack keeps no per-destination cache): a new connection starts
 * from the interface MTU and learns again. It only goes down; increases (RFC 1191 §3's probing after 10
 * minutes, or RFC 4821/8899 PLPMTUD) are not done.
 * @module
 */
import { seqLe, seqLt } from '../../wire/seq.js'
import type { ConnectionState } from '../connection-state.js'
import { TIMESTAMPS_OPTION_LENGTH } from './segment-size.js'

/**
 * The smallest path MTU this stack believes: 576 bytes, the datagram every IPv4 host must accept
 * (RFC 791 §3.1 "Total Length", RFC 1122 §3.3.3 EMTU_R), and above RFC 1191 §3's absolute floor of 68.
 * A report below it is taken as this floor (RFC 8201 §4 has IPv6 refuse reports below its minimum link
 * MTU, 1280; RFC 5927 §7 warns that forged reports can otherwise shrink segments to a few bytes — Linux
 * keeps a similar `min_pmtu` of 552).
 */
export const MIN_PATH_MTU = 576

/** IPv4 header (20) + TCP header (20) without options: what an MTU holds besides the MSS (RFC 9293 §3.7.1). */
const IPV4_TCP_HEADERS = 40

/**
 * RFC 1191 §7's table of MTU plateaus, highest first: the guess for an old router's report whose
 * Next-Hop MTU field is 0 (RFC 1191 §5).
 */
const PLATEAUS = [65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68] as const

/**
 * The next-hop MTU a "fragmentation needed" message reports: its field (RFC 1191 §4), or when that is 0
 * (a router older than RFC 1191) the largest plateau below the quoted datagram's total length (§5).
 */
export function reportedNextHopMtu(nextHopMtu: number, quotedTotalLength: number): number {
  if (nextHopMtu !== 0) return nextHopMtu
  for (const plateau of PLATEAUS) if (plateau < quotedTotalLength) return plateau
  return 68
}

/**
 * RFC 5927 §4.1 (TCP sequence number checking): an ICMP error is acted on only when the sequence number
 * of the quoted segment lies in SND.UNA ≤ SEG.SEQ < SND.NXT, i.e. it names data that is in flight.
 * SND.NXT here is the highest sent (SND.MAX: a retransmission may have pulled SND.NXT back).
 */
export function icmpSequenceAcceptable(seq: number, sndUna: number, sndMax: number): boolean {
  return seqLe(sndUna, seq) && seqLt(seq, sndMax)
}

/**
 * The payload per segment (MSS less the timestamps option, when on) for a path MTU of `mtu`, or
 * undefined when it would not lower `current` (RFC 1191 §3: an estimate never grows from a Datagram Too
 * Big message). The MTU is taken no lower than {@link MIN_PATH_MTU}.
 */
export function loweredPayload(mtu: number, current: number, optionBytes: number): number | undefined {
  const pathMtu = Math.max(MIN_PATH_MTU, mtu)
  const payload = pathMtu - IPV4_TCP_HEADERS - optionBytes
  return payload < current ? payload : undefined
}

/**
 * RFC 1191 §3 for a connection: the path carries datagrams of at most `mtu` bytes. When that lowers the
 * segment size, SND.MSS goes down and everything in flight goes again from SND.UNA in segments of the new
 * size, without a congestion response.
 * @returns whether the segment size went down
 * @internal
 */
export function pathMtuLowered(s: ConnectionState, mtu: number): boolean {
  if (s.state === 'CLOSED' || s.state === 'LISTEN' || s.state === 'SYN-SENT') return false
  const payload = loweredPayload(mtu, s.payloadMax, s.ts.on ? TIMESTAMPS_OPTION_LENGTH : 0)
  if (payload === undefined) return false
  s.payloadMax = payload
  s.congestion.setMss(payload)
  if (seqLt(s.sndUna, s.sndNxt)) {
    s.recovery.onTimeout() // the recovery's lists name segments of the old size: start again from SND.UNA
    s.sndNxt = s.sndUna
  }
  return true
}
