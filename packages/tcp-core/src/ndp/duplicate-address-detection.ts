/**
 * Duplicate Address Detection for the addresses an interface configures (RFC 4862 §5.4), as a sans-I/O state
 * machine: the driver adds an address ({@link DuplicateAddressDetection.start}), sends the probes
 * {@link DuplicateAddressDetection.poll} asks for, reports the Neighbor Discovery messages that name a tentative
 * address, and gets each address's outcome: `preferred` (unique, usable) or `duplicate` (must not be used).
 *
 * - §5.4: an address is tentative until DupAddrDetectTransmits solicitations, RetransTimer apart, went
 *   unanswered for RetransTimer after the last one; a tentative address is not used as a source, and the node
 *   neither answers solicitations for it nor accepts packets to it ({@link DuplicateAddressDetection.isTentative}).
 * - §5.4.2: a probe is a neighbor solicitation from :: to the address's solicited-node group, the address as
 *   target, no source link-layer address option; the first one waits a random delay in
 *   [0, MAX_RTR_SOLICITATION_DELAY] (1 s) when the interface starts; DupAddrDetectTransmits 0 disables DAD.
 *   Before sending, the node joins the all-nodes and solicited-node groups (the driver accepts the multicast MACs).
 * - §5.4.3: a solicitation for a tentative target from :: means another node is probing it: duplicate; from a
 *   unicast source it is ignored. A probe that comes back with the nonce we sent (RFC 7527 §4.1, a looped
 *   interface) is ours, not a duplicate.
 * - §5.4.4: an advertisement for a tentative target: duplicate.
 * - §5.4.5: on a duplicate the address is not used; logging and recovery are the driver's.
 * @module
 */
import type { Micros } from '@mtcp/primitives'
import { IPV6_ADDRESS_LENGTH, type Ipv6Address, ipv6MulticastMac, isMulticastIpv6, isUnspecifiedIpv6, solicitedNodeAddress } from '../wire/ipv6-address.js'
import { Ipv6AddressMap } from './ipv6-address-map.js'
import { NdpError } from './ndp-error.js'

/** Where an address stands in Duplicate Address Detection. */
export type DadState = 'tentative' | 'preferred' | 'duplicate'

/** Tuning of {@link DuplicateAddressDetection}. */
export interface DadOptions {
  /** DupAddrDetectTransmits (RFC 4862 §5.1). Default 1; 0 disables DAD (addresses are preferred at once). Integer in [0, 255]. */
  dupAddrDetectTransmits?: number | undefined
  /** RetransTimer (RFC 4861 §10). Default 1 s; in [1000, 3600000000] µs. */
  retransTimer?: Micros | undefined
  /** The longest random delay before the first probe (MAX_RTR_SOLICITATION_DELAY, RFC 4862 §5.4.2). Default 1 s; in [0, 60000000] µs. */
  maxInitialDelay?: Micros | undefined
  /** Uniform random numbers in [0, 1), for the initial delay and the nonces. Default `Math.random`. */
  random?: (() => number) | undefined
}

/** A probe {@link DuplicateAddressDetection.poll} asks the driver to send (RFC 4862 §5.4.2). */
export interface DadProbe {
  /** The tentative address: the NS target. The IPv6 source is :: and the hop limit 255. */
  readonly target: Ipv6Address
  /** The target's solicited-node group: the IPv6 destination. */
  readonly dst: Ipv6Address
  /** The group's multicast MAC (RFC 2464 §7): the Ethernet destination. */
  readonly dstMac: Uint8Array
  /** A nonce option to include (RFC 7527 §4.1), 6 bytes, so that a looped-back probe is recognised. */
  readonly nonce: Uint8Array
}

/** The outcome of DAD for one address. */
export interface DadResult {
  /** The address. */
  readonly address: Ipv6Address
  /** `preferred`: unique, may be used. `duplicate`: in use elsewhere, must not be used (RFC 4862 §5.4.5). */
  readonly state: 'preferred' | 'duplicate'
}

class Tentative {
  state: DadState = 'tentative'
  probesSent = 0
  deadline: Micros
  readonly nonce = new Uint8Array(6)
  constructor(
    readonly address: Ipv6Address,
    deadline: Micros,
  ) {
    this.deadline = deadline
  }
}

/** Duplicate Address Detection (RFC 4862 §5.4) for the addresses of one interface. `now` must never decrease. */
export class DuplicateAddressDetection {
  readonly #addresses = new Ipv6AddressMap<Tentative>()
  readonly #transmits: number
  readonly #retransTimer: Micros
  readonly #maxInitialDelay: Micros
  readonly #random: () => number
  readonly #results: DadResult[] = []

  /** @throws {@link NdpError} `ERR_INVALID_CONFIG` naming the setting when an option is out of range. */
  constructor(options: DadOptions = {}) {
    this.#transmits = check('dupAddrDetectTransmits', options.dupAddrDetectTransmits ?? 1, 0, 255, true)
    this.#retransTimer = check('retransTimer', options.retransTimer ?? 1_000_000, 1000, 3_600_000_000, false)
    this.#maxInitialDelay = check('maxInitialDelay', options.maxInitialDelay ?? 1_000_000, 0, 60_000_000, false)
    this.#random = options.random ?? Math.random
  }

  /**
   * Start DAD for `address` (RFC 4862 §5.4): it is tentative until {@link DuplicateAddressDetection.poll} reports
   * it preferred. With `delayFirstProbe` (the interface just started, §5.4.2) the first probe waits a random
   * delay. Restarting an address starts over.
   * @throws {@link NdpError} `ERR_INVALID_ARG` for a malformed, multicast or unspecified address
   */
  start(now: Micros, address: Ipv6Address, delayFirstProbe = false): void {
    if (!(address instanceof Uint8Array) || address.byteLength !== IPV6_ADDRESS_LENGTH || isMulticastIpv6(address) || isUnspecifiedIpv6(address)) {
      throw new NdpError('ERR_INVALID_ARG', 'address must be a 16-byte unicast IPv6 address')
    }
    const delay = delayFirstProbe ? Math.floor(this.#random() * this.#maxInitialDelay) : 0
    const entry = new Tentative(address.slice(), now + delay)
    for (let i = 0; i < 6; i++) entry.nonce[i] = Math.floor(this.#random() * 256)
    this.#addresses.set(address, entry)
  }

  /** Stop tracking `address` (removed from the interface). */
  remove(address: Ipv6Address): boolean {
    return this.#addresses.delete(address)
  }

  /** The DAD state of `address`, or undefined when it is not tracked. */
  state(address: Ipv6Address): DadState | undefined {
    return this.#addresses.get(address)?.state
  }

  /**
   * Whether the address at `bytes[offset]` is tentative: not to be used as a source, not answered for, and
   * packets to it are dropped (RFC 4862 §5.4). Allocates nothing.
   */
  isTentative(bytes: Uint8Array, offset = 0): boolean {
    return this.#addresses.get(bytes, offset)?.state === 'tentative'
  }

  /**
   * A valid neighbor solicitation arrived (RFC 4861 §7.1.1). For a tentative target: from :: it is another
   * node's probe, so the address is a duplicate (RFC 4862 §5.4.3) unless it carries our own nonce (a loop,
   * RFC 7527 §4.2); from a unicast source it is ignored.
   * @returns whether the address was just found duplicate
   */
  onSolicitation(src: Ipv6Address, target: Ipv6Address, nonce?: Uint8Array): boolean {
    const entry = this.#addresses.get(target)
    if (entry === undefined || entry.state !== 'tentative' || !isUnspecifiedIpv6(src)) return false
    if (nonce !== undefined && nonce.byteLength === 6 && nonce.every((b, i) => b === entry.nonce[i])) return false
    return this.#duplicate(entry)
  }

  /**
   * A valid neighbor advertisement arrived (RFC 4861 §7.1.2): for a tentative target, the address is a
   * duplicate (RFC 4862 §5.4.4).
   * @returns whether the address was just found duplicate
   */
  onAdvertisement(target: Ipv6Address): boolean {
    const entry = this.#addresses.get(target)
    if (entry === undefined || entry.state !== 'tentative') return false
    return this.#duplicate(entry)
  }

  /** When {@link DuplicateAddressDetection.poll} has work next; undefined when no address is tentative. */
  pollAt(): Micros | undefined {
    let at = Number.POSITIVE_INFINITY
    for (const entry of this.#addresses.values()) if (entry.state === 'tentative' && entry.deadline < at) at = entry.deadline
    return at === Number.POSITIVE_INFINITY ? undefined : at
  }

  /**
   * Send the probes due (`probe`), and declare preferred the addresses whose last probe went unanswered for
   * RetransTimer (RFC 4862 §5.4). @returns the outcomes decided since the last call (duplicates found by
   * `onSolicitation`/`onAdvertisement` included), in order.
   */
  poll(now: Micros, probe: (request: DadProbe) => void): readonly DadResult[] {
    for (const entry of this.#addresses.values()) {
      if (entry.state !== 'tentative' || entry.deadline > now) continue
      if (entry.probesSent >= this.#transmits) {
        entry.state = 'preferred'
        this.#results.push({ address: entry.address, state: 'preferred' })
        continue
      }
      entry.probesSent++
      entry.deadline = now + this.#retransTimer
      const group = solicitedNodeAddress(entry.address)
      probe({ target: entry.address, dst: group, dstMac: ipv6MulticastMac(group), nonce: entry.nonce })
    }
    return this.#results.splice(0)
  }

  #duplicate(entry: Tentative): boolean {
    entry.state = 'duplicate'
    this.#results.push({ address: entry.address, state: 'duplicate' })
    return true
  }
}

function check(setting: string, value: unknown, min: number, max: number, integer: boolean): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new NdpError('ERR_INVALID_CONFIG', `${setting} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${String(value)}`)
  }
  return value
}
