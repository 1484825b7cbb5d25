/**
 * TIME-WAIT without sockets: once the application has closed a connection that is in TIME-WAIT, the stack
 * keeps a compact entry (4-tuple, SND.NXT, RCV.NXT, window, timestamp state, expiry: about 60 bytes) in
 * this table instead of the socket and its connection, and frees the socket id. The entry answers
 * segments as the connection would (tcp-core's rules/time-wait.ts: RFC 9293 §3.10.7.4, RFC 1337, RFC 7323
 * PAWS, RFC 6191 reuse) until 2·MSL is over.
 *
 * The table has a cap; an entry that does not fit is dropped (the connection simply ends, as Linux does
 * when `tcp_max_tw_buckets` is reached) and counted. Entries live in typed arrays indexed by slot, found by
 * 4-tuple through a FlowTable, and kept in a list by expiry (appended at the tail: every entry waits the
 * same 2·MSL), so expiring is O(1) per entry and nothing is allocated per entry once the arrays have grown.
 *
 * Connections over IPv6 have entries too, under the same cap and counters: their full 16-byte addresses
 * are kept in the entry (32 bytes per slot) and found through an Ipv6FlowTable that reads the segment's
 * addresses in place, so a keyed 32-bit digest never stands for an address when an entry answers.
 * @module
 */
import { FlowTable, Ipv6FlowTable } from '@mtcp/sid-map'
import { type Micros, OutboundSegment, TcpFlags, type TimeWaitHandoff, TimeWaitAction, timeWaitVerdict } from '@mtcp/tcp-core'

/** The TIME-WAIT table's counters. */
export interface TimeWaitStats {
  /** Entries added (connections whose TIME-WAIT the table took over). */
  added: number
  /** Connections that could not enter the table because it was full: their TIME-WAIT was cut short. */
  dropped: number
  /** Entries that ended after 2·MSL. */
  expired: number
  /** Entries ended early by a new SYN (RFC 6191), or by a `connect` reusing the 4-tuple. */
  reused: number
  /** ACKs sent from TIME-WAIT (a retransmitted FIN, old duplicates, PAWS). */
  acks: number
  /** ACKs not sent because of the per-entry rate limit. */
  acksRateLimited: number
  /** Resets ignored (RFC 1337 §3). */
  resetsIgnored: number
}

/** @internal A zeroed {@link TimeWaitStats}. */
export function createTimeWaitStats(): TimeWaitStats {
  return { added: 0, dropped: 0, expired: 0, reused: 0, acks: 0, acksRateLimited: 0, resetsIgnored: 0 }
}

/** Per entry, at most one ACK for out-of-window segments per this long (Linux's tcp_invalid_ratelimit, 500 ms). */
const ACK_INTERVAL: Micros = 500_000
/** Bytes of IPv6 addresses per slot: local, then remote. */
const ADDRESSES6 = 32

/** @internal Where an entry's ACKs go: IPv4 by the remote address, IPv6 by the entry's addresses (16 bytes each, valid during the call). */
export interface TimeWaitSender {
  send(segment: OutboundSegment, remoteIp: number, localPort: number, remotePort: number): void
  send6(segment: OutboundSegment, local: Uint8Array, remote: Uint8Array, localPort: number, remotePort: number, addressSum: number, flowLabel: number): void
}
const INITIAL_SLOTS = 1024
const NONE = -1

/** @internal */
export class TimeWaitTable {
  readonly limit: number
  readonly stats: TimeWaitStats
  readonly #index = new FlowTable<number>()
  /** IPv6 4-tuple → slot. */
  readonly #index6 = new Ipv6FlowTable<number>()
  #capacity = 0
  #localIp = new Uint32Array(0)
  #remoteIp = new Uint32Array(0)
  #ports = new Uint32Array(0)
  #sndNxt = new Uint32Array(0)
  #rcvNxt = new Uint32Array(0)
  #window = new Uint16Array(0)
  #timestamps = new Uint8Array(0)
  #tsRecent = new Uint32Array(0)
  #tsOffset = new Uint32Array(0)
  #endsAt = new Float64Array(0)
  #lastAckAt = new Float64Array(0)
  /** 6 for an entry of a connection over IPv6 (its addresses in #addresses6), else 4. */
  #family = new Uint8Array(0)
  /** Per slot: the local and the remote IPv6 address (32 bytes); the IPv6 pseudo-header sum and flow label. */
  #addresses6 = new Uint8Array(0)
  #addressSum = new Uint32Array(0)
  #flowLabel = new Uint32Array(0)
  /** The addresses of an IPv6 entry's ACK, copied out for the sender (no view per ACK). */
  readonly #local6 = new Uint8Array(16)
  readonly #remote6 = new Uint8Array(16)
  /** The expiry list (and, for free slots, the free list through #next). */
  #prev = new Int32Array(0)
  #next = new Int32Array(0)
  #head = NONE
  #tail = NONE
  #free = NONE
  #size = 0
  readonly #out = new OutboundSegment()

  constructor(limit: number, stats: TimeWaitStats) {
    this.limit = limit
    this.stats = stats
  }

  /** Entries in the table. */
  get size(): number {
    return this.#size
  }

  /** Slots allocated (grows by doubling up to the limit). */
  get capacity(): number {
    return this.#capacity
  }

  /** When the oldest entry expires, or undefined when the table is empty. */
  nextExpiry(): Micros | undefined {
    return this.#head === NONE ? undefined : this.#endsAt[this.#head]
  }

  /**
   * Take over a connection's TIME-WAIT. @returns false (counted in `dropped`) when the table is full, or
   * when the 4-tuple is already there (it cannot be: a flow and an entry never share a 4-tuple).
   */
  add(localIp: number, localPort: number, remoteIp: number, remotePort: number, state: TimeWaitHandoff): boolean {
    if (this.#size >= this.limit || this.#index.has(localIp, localPort, remoteIp, remotePort)) {
      this.stats.dropped++
      return false
    }
    const slot = this.#take(localIp, localPort, remoteIp, remotePort, state)
    this.#family[slot] = 4
    this.#index.insert(localIp, localPort, remoteIp, remotePort, slot)
    return true
  }

  /**
   * Take over the TIME-WAIT of a connection over IPv6 between `local` and `remote` (16 bytes each, copied);
   * `localDigest`, `remoteDigest` are their keyed digests (SocketRecord), `addressSum` and `flowLabel` what its
   * segments carried. The same cap and counters as {@link add}.
   */
  add6(local: Uint8Array, localDigest: number, localPort: number, remote: Uint8Array, remoteDigest: number, remotePort: number, addressSum: number, flowLabel: number, state: TimeWaitHandoff): boolean {
    if (this.#size >= this.limit || this.#index6.has(local, localPort, remote, remotePort)) {
      this.stats.dropped++
      return false
    }
    const slot = this.#take(localDigest, localPort, remoteDigest, remotePort, state)
    this.#family[slot] = 6
    const at = slot * ADDRESSES6
    this.#addresses6.set(local, at)
    this.#addresses6.set(remote, at + 16)
    this.#addressSum[slot] = addressSum
    this.#flowLabel[slot] = flowLabel
    this.#index6.insert(local, localPort, remote, remotePort, slot)
    return true
  }

  /** A free slot filled with the entry's state, appended to the expiry list and counted. */
  #take(localIp: number, localPort: number, remoteIp: number, remotePort: number, state: TimeWaitHandoff): number {
    if (this.#free === NONE) this.#grow()
    const slot = this.#free
    this.#free = this.#next[slot]!
    this.#localIp[slot] = localIp
    this.#remoteIp[slot] = remoteIp
    this.#ports[slot] = ((localPort << 16) | remotePort) >>> 0
    this.#sndNxt[slot] = state.sndNxt
    this.#rcvNxt[slot] = state.rcvNxt
    this.#window[slot] = state.window
    this.#timestamps[slot] = state.timestamps ? 1 : 0
    this.#tsRecent[slot] = state.tsRecent
    this.#tsOffset[slot] = state.tsOffset
    this.#endsAt[slot] = state.endsAt
    this.#lastAckAt[slot] = Number.NEGATIVE_INFINITY
    this.#append(slot)
    this.#size++
    this.stats.added++
    return slot
  }

  /** The slot of a 4-tuple's entry, or -1. */
  find(localIp: number, localPort: number, remoteIp: number, remotePort: number): number {
    return this.#index.get(localIp, localPort, remoteIp, remotePort) ?? NONE
  }

  /**
   * The slot of an IPv6 4-tuple's entry, or -1: the addresses are read in place (16 bytes at `localOffset`
   * of `local` and `remoteOffset` of `remote`, as in a received frame).
   */
  find6(local: Uint8Array, localOffset: number, localPort: number, remote: Uint8Array, remoteOffset: number, remotePort: number): number {
    return this.#index6.get(local, localPort, remote, remotePort, localOffset, remoteOffset) ?? NONE
  }

  /** When the entry in `slot` entered TIME-WAIT, given the 2·MSL it waits. */
  startedAt(slot: number, duration: Micros): Micros {
    return this.#endsAt[slot]! - duration
  }

  /** Whether the entry in `slot` had timestamps on. */
  hadTimestamps(slot: number): boolean {
    return this.#timestamps[slot] === 1
  }

  /** End an entry before its time (a reuse), counted in `reused`. */
  reuse(slot: number): void {
    this.stats.reused++
    this.#remove(slot)
  }

  /** End every entry whose 2·MSL is over at `now`. */
  expire(now: Micros): void {
    // Entries handed over late (the application closed long after TIME-WAIT began) may sit behind ones that
    // end later; they then wait a little longer, which is safe, and `input` treats them as over.
    while (this.#head !== NONE && this.#endsAt[this.#head]! <= now) {
      this.stats.expired++
      this.#remove(this.#head)
    }
  }

  /**
   * A segment for the entry in `slot`: answer it as TIME-WAIT does (rules/time-wait.ts). `sender` gets the
   * ACK to send, if any (by the entry's family). @returns the action taken; on {@link TimeWaitAction.Reuse} the entry is gone and the
   * caller treats the SYN as new.
   */
  input(now: Micros, slot: number, seq: number, flags: number, payloadLength: number, tsValue: number | undefined, timeWaitTimeout: Micros, sender: TimeWaitSender): TimeWaitAction {
    if (this.#endsAt[slot]! <= now) {
      // Over already (see expire): as if it had gone.
      this.stats.expired++
      this.#remove(slot)
      return TimeWaitAction.Reuse
    }
    const verdict = timeWaitVerdict(this.#rcvNxt[slot]!, this.#timestamps[slot] === 1, this.#tsRecent[slot]!, seq, flags, payloadLength, tsValue)
    switch (verdict) {
      case TimeWaitAction.IgnoreReset:
        this.stats.resetsIgnored++
        return verdict
      case TimeWaitAction.Reuse:
        this.reuse(slot)
        return verdict
      case TimeWaitAction.AckAndRestart:
        // RFC 7323 §4.3: the FIN's TSval becomes TS.Recent (it is at RCV.NXT − 1 ≤ Last.ACK.sent).
        if (this.#timestamps[slot] === 1 && tsValue !== undefined && ((tsValue - this.#tsRecent[slot]!) | 0) >= 0) this.#tsRecent[slot] = tsValue
        this.#endsAt[slot] = now + timeWaitTimeout
        this.#unlink(slot)
        this.#append(slot)
        this.#ack(now, slot, sender)
        return verdict
      case TimeWaitAction.Ack:
        if (now - this.#lastAckAt[slot]! < ACK_INTERVAL) {
          this.stats.acksRateLimited++
          return verdict
        }
        this.#ack(now, slot, sender)
        return verdict
      default:
        return verdict
    }
  }

  /** <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>, with timestamps when they were on. */
  #ack(now: Micros, slot: number, sender: TimeWaitSender): void {
    this.#lastAckAt[slot] = now
    this.stats.acks++
    const out = this.#out
    out.reset()
    out.seq = this.#sndNxt[slot]!
    out.ack = this.#rcvNxt[slot]!
    out.flags = TcpFlags.ACK
    out.window = this.#window[slot]!
    if (this.#timestamps[slot] === 1) {
      out.timestamps = true
      out.tsValue = (Math.floor(now / 1000) + this.#tsOffset[slot]!) >>> 0 // the connection's clock (rules/timestamps.ts)
      out.tsEcho = this.#tsRecent[slot]!
    }
    const ports = this.#ports[slot]!
    if (this.#family[slot] === 6) {
      const at = slot * ADDRESSES6
      const addresses = this.#addresses6
      for (let i = 0; i < 16; i++) {
        this.#local6[i] = addresses[at + i]!
        this.#remote6[i] = addresses[at + 16 + i]!
      }
      sender.send6(out, this.#local6, this.#remote6, ports >>> 16, ports & 0xffff, this.#addressSum[slot]!, this.#flowLabel[slot]!)
      return
    }
    sender.send(out, this.#remoteIp[slot]!, ports >>> 16, ports & 0xffff)
  }

  #remove(slot: number): void {
    const ports = this.#ports[slot]!
    if (this.#family[slot] === 6) {
      const at = slot * ADDRESSES6
      this.#index6.delete(this.#addresses6, ports >>> 16, this.#addresses6, ports & 0xffff, at, at + 16)
    } else {
      this.#index.delete(this.#localIp[slot]!, ports >>> 16, this.#remoteIp[slot]!, ports & 0xffff)
    }
    this.#unlink(slot)
    this.#next[slot] = this.#free
    this.#free = slot
    this.#size--
  }

  #append(slot: number): void {
    this.#prev[slot] = this.#tail
    this.#next[slot] = NONE
    if (this.#tail === NONE) this.#head = slot
    else this.#next[this.#tail] = slot
    this.#tail = slot
  }

  #unlink(slot: number): void {
    const prev = this.#prev[slot]!
    const next = this.#next[slot]!
    if (prev === NONE) this.#head = next
    else this.#next[prev] = next
    if (next === NONE) this.#tail = prev
    else this.#prev[next] = prev
  }

  #grow(): void {
    const old = this.#capacity
    const capacity = Math.min(this.limit, Math.max(INITIAL_SLOTS, old * 2))
    const grow = <A extends Uint32Array | Uint16Array | Uint8Array | Float64Array | Int32Array>(array: A, make: (n: number) => A): A => {
      const next = make(capacity)
      next.set(array)
      return next
    }
    this.#localIp = grow(this.#localIp, (n) => new Uint32Array(n))
    this.#remoteIp = grow(this.#remoteIp, (n) => new Uint32Array(n))
    this.#ports = grow(this.#ports, (n) => new Uint32Array(n))
    this.#sndNxt = grow(this.#sndNxt, (n) => new Uint32Array(n))
    this.#rcvNxt = grow(this.#rcvNxt, (n) => new Uint32Array(n))
    this.#window = grow(this.#window, (n) => new Uint16Array(n))
    this.#timestamps = grow(this.#timestamps, (n) => new Uint8Array(n))
    this.#tsRecent = grow(this.#tsRecent, (n) => new Uint32Array(n))
    this.#tsOffset = grow(this.#tsOffset, (n) => new Uint32Array(n))
    this.#endsAt = grow(this.#endsAt, (n) => new Float64Array(n))
    this.#lastAckAt = grow(this.#lastAckAt, (n) => new Float64Array(n))
    this.#prev = grow(this.#prev, (n) => new Int32Array(n))
    this.#next = grow(this.#next, (n) => new Int32Array(n))
    this.#family = grow(this.#family, (n) => new Uint8Array(n))
    const addresses6 = new Uint8Array(capacity * ADDRESSES6)
    addresses6.set(this.#addresses6)
    this.#addresses6 = addresses6
    this.#addressSum = grow(this.#addressSum, (n) => new Uint32Array(n))
    this.#flowLabel = grow(this.#flowLabel, (n) => new Uint32Array(n))
    // New slots onto the free list, lowest first.
    for (let slot = capacity - 1; slot >= old; slot--) {
      this.#next[slot] = this.#free
      this.#free = slot
    }
    this.#capacity = capacity
  }
}
