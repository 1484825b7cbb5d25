/**
 * Receive-side scaling in software: the Toeplitz hash of an IPv4 or IPv6 4-tuple, as NICs compute it, and
 * the redirection table that turns a hash into a queue (one queue per worker).
 *
 * The hash follows Microsoft's RSS specification ("RSS hashing functions": the input is source address,
 * destination address, source port, destination port, in network order; for every set bit of the input
 * the 32 key bits starting at that bit position are XORed into the result). With the default key, the
 * 16-bit pattern 0x6d5a repeated (Woo and Park, "Scalable TCP Session Monitoring with Symmetric
 * Receive-side Scaling", 2012), the hash is symmetric: both directions of a flow land on the same queue,
 * so a worker can pick a source port for `connect` whose replies come back to it, as mTCP's
 * `mtcp_init_rss` did.
 * @module
 */
import { RssHash } from '@mtcp/dpdk-io'

/** Bytes of a Toeplitz key: 40, as NICs use (enough for IPv6 4-tuples; IPv4 needs 16). */
export const TOEPLITZ_KEY_BYTES = 40

/** The symmetric key: 0x6d5a repeated. */
export const SYMMETRIC_RSS_KEY: Uint8Array = Uint8Array.from({ length: TOEPLITZ_KEY_BYTES }, (_, i) => (i % 2 === 0 ? 0x6d : 0x5a))

/** Entries of the redirection table (RETA), indexed by the low 7 bits of the hash, as on most NICs. */
export const REDIRECTION_TABLE_SIZE = 128

/** Input bytes of an IPv4 4-tuple: 4 + 4 + 2 + 2. */
const INPUT_BYTES = 12

/**
 * The Toeplitz hash over IPv4 4-tuples for one key: `@mtcp/dpdk-io`'s {@link RssHash} (the one Toeplitz
 * table, for IPv4 and IPv6, checked against Microsoft's verification vectors and DPDK's `rte_softrss`),
 * kept under this name for the cluster's steering. 12 lookups per hash, no allocation.
 */
export class ToeplitzHash {
  readonly #rss: RssHash

  /** @param key - at least 16 bytes (default {@link SYMMETRIC_RSS_KEY}). */
  constructor(key: Uint8Array = SYMMETRIC_RSS_KEY) {
    if (!(key instanceof Uint8Array) || key.byteLength < INPUT_BYTES + 4) {
      throw new RangeError(`a Toeplitz key for IPv4 4-tuples needs at least ${INPUT_BYTES + 4} bytes`)
    }
    this.#rss = new RssHash(key)
  }

  /** The hash of (source address, destination address, source port, destination port), uint32. Addresses are uint32s. */
  hash(srcIp: number, dstIp: number, srcPort: number, dstPort: number): number {
    return this.#rss.ipv4(srcIp, dstIp, srcPort, dstPort)
  }

  /**
   * The hash of an IPv6 4-tuple (Microsoft's TCP_IPV6 input: the 16-byte addresses at `src[srcOffset]` and
   * `dst[dstOffset]`, read in place, then the ports), uint32.
   */
  hash6(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number, srcPort: number, dstPort: number): number {
    return this.#rss.ipv6(src, srcOffset, dst, dstOffset, srcPort, dstPort)
  }

  /** The hash of a received Ethernet frame as a NIC hashing IP, TCP and UDP would take it (`RssHash.frame`), or -1 when it has nothing to hash. */
  frame(data: Uint8Array, offset: number, length: number): number {
    return this.#rss.frame(data, offset, length)
  }
}

/**
 * Which queue a flow goes to: the Toeplitz hash, then a 128-entry redirection table filled round-robin
 * over the live queues (a queue marked dead gets no entry, so its flows move to the others). Both the
 * side that dispatches frames and the workers that choose source ports build the same table.
 */
export class FlowSteering {
  readonly queues: number
  readonly #hash: ToeplitzHash
  readonly #table = new Uint16Array(REDIRECTION_TABLE_SIZE)
  readonly #alive: boolean[]

  constructor(queues: number, key?: Uint8Array) {
    if (!Number.isInteger(queues) || queues < 1 || queues > REDIRECTION_TABLE_SIZE) {
      throw new RangeError(`queues must be an integer in [1, ${REDIRECTION_TABLE_SIZE}], got ${String(queues)}`)
    }
    this.queues = queues
    this.#hash = new ToeplitzHash(key)
    this.#alive = new Array<boolean>(queues).fill(true)
    this.#fill()
  }

  /** Whether queue `index` still gets flows. */
  isAlive(index: number): boolean {
    return this.#alive[index] === true
  }

  /** Take queue `index` out of the table (its worker died): its flows spread over the others. The last live queue stays. */
  markDead(index: number): void {
    if (this.#alive[index] !== true) return
    if (this.#alive.filter(Boolean).length === 1) return
    this.#alive[index] = false
    this.#fill()
  }

  /** The queue of the flow (symmetric with the default key: swapping both ends gives the same queue). */
  queueOf(srcIp: number, dstIp: number, srcPort: number, dstPort: number): number {
    return this.#table[this.#hash.hash(srcIp, dstIp, srcPort, dstPort) & (REDIRECTION_TABLE_SIZE - 1)]!
  }

  /** The queue of an IPv6 flow: {@link queueOf} over 16-byte addresses read in place (symmetric with the default key). */
  queueOf6(src: Uint8Array, srcOffset: number, dst: Uint8Array, dstOffset: number, srcPort: number, dstPort: number): number {
    return this.#table[this.#hash.hash6(src, srcOffset, dst, dstOffset, srcPort, dstPort) & (REDIRECTION_TABLE_SIZE - 1)]!
  }

  /**
   * The queue of a received Ethernet frame, by the hash a NIC configured for IP, TCP and UDP computes
   * (`RssHash.frame` of `@mtcp/dpdk-io`): TCP and UDP by their 4-tuple, over IPv4 (not a fragment) or IPv6
   * (Next Header TCP or UDP); other IPv4 and IPv6 (ICMP, ICMPv6, fragments) by the address pair; ARP by the
   * sender and target addresses; anything else the first live queue (as NICs do with traffic they cannot
   * hash). Never reads outside `[offset, offset + length)`.
   */
  queueOfFrame(data: Uint8Array, offset: number, length: number): number {
    const hash = this.#hash.frame(data, offset, length)
    return hash === -1 ? this.#firstAlive() : this.#table[hash & (REDIRECTION_TABLE_SIZE - 1)]!
  }

  #firstAlive(): number {
    const index = this.#alive.indexOf(true)
    return index < 0 ? 0 : index
  }

  #fill(): void {
    const live: number[] = []
    for (let i = 0; i < this.queues; i++) if (this.#alive[i]) live.push(i)
    for (let i = 0; i < REDIRECTION_TABLE_SIZE; i++) this.#table[i] = live[i % live.length]!
  }
}

