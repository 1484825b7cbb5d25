/**
 * Neighbor Discovery messages (RFC 4861): router solicitation and advertisement, neighbor solicitation and
 * advertisement, and their options, parsed (with the validity checks a receiver must make) and built.
 *
 * - RFC 4861 §4.1-§4.4 (message formats), §4.6 (options: type, length in units of 8 octets, never 0;
 *   unknown options are skipped), §4.6.1 (source/target link-layer address; 6 bytes on Ethernet, RFC 2464 §8),
 *   §4.6.2 (prefix information), §4.6.4 (MTU).
 * - RFC 4861 §6.1.1 (RS validation), §6.1.2 (RA validation), §7.1.1 (NS validation), §7.1.2 (NA validation):
 *   hop limit 255, code 0, minimum lengths, no option of length 0, link-local RA source, non-multicast target,
 *   the unspecified-source rules; a failure is a {@link Ipv6WireError} with code `BAD_FIELD` / `BAD_LENGTH`.
 * - RFC 3971 §5.3.2 nonce option (type 14), as used by RFC 7527 for looped-back DAD probes: reported, not required.
 * Redirect (type 137, §4.5) is not parsed: a host may ignore it (it only optimises the first hop).
 * @module
 */
import { readUint16, readUint32, writeUint16, writeUint32 } from './bytes.js'
import { checkRoom, WireEmitError } from './errors.js'
import { emitIcmpv6, Icmpv6Type } from './icmpv6.js'
import { emitIpv6, IPV6_HEADER_LENGTH, Ipv6NextHeader } from './ipv6.js'
import { type Ipv6Address, isLinkLocalIpv6, isMulticastIpv6, isUnspecifiedIpv6 } from './ipv6-address.js'
import { Ipv6WireError } from './ipv6-errors.js'

/** Neighbor Discovery option types (RFC 4861 §4.6; RFC 3971 §5.3.2). */
export const NdpOptionType = {
  /** Source link-layer address, §4.6.1. */
  SOURCE_LINK_LAYER_ADDRESS: 1,
  /** Target link-layer address, §4.6.1. */
  TARGET_LINK_LAYER_ADDRESS: 2,
  /** Prefix information, §4.6.2. */
  PREFIX_INFORMATION: 3,
  /** Redirected header, §4.6.3. */
  REDIRECTED_HEADER: 4,
  /** MTU, §4.6.4. */
  MTU: 5,
  /** Nonce, RFC 3971 §5.3.2. */
  NONCE: 14,
} as const

/** The hop limit every Neighbor Discovery message is sent and must be received with (RFC 4861 §6.1, §7.1). */
export const NDP_HOP_LIMIT = 255

/** A prefix information option (RFC 4861 §4.6.2). Lifetimes are seconds; 0xffffffff is infinity. */
export interface NdpPrefixInformation {
  /** Prefix length, 0..128. */
  prefixLength: number
  /** L: the prefix is on-link. */
  onLink: boolean
  /** A: the prefix may be used for stateless address autoconfiguration (RFC 4862 §5.5.3). */
  autonomous: boolean
  /** Valid lifetime, seconds. */
  validLifetime: number
  /** Preferred lifetime, seconds. */
  preferredLifetime: number
  /** The prefix (16 bytes; the bits after `prefixLength` are 0 when sent). A view when parsed. */
  prefix: Ipv6Address
}

/** The options of a Neighbor Discovery message that this stack uses; unknown ones are skipped. */
export interface NdpOptions {
  /** Source link-layer address (6 bytes), a view when parsed. */
  sourceLinkLayerAddress?: Uint8Array | undefined
  /** Target link-layer address (6 bytes), a view when parsed. */
  targetLinkLayerAddress?: Uint8Array | undefined
  /** The MTU option's value. */
  mtu?: number | undefined
  /** Prefix information options, in order. */
  prefixes?: readonly NdpPrefixInformation[] | undefined
  /** The nonce option's bytes (RFC 3971 §5.3.2, at least 6), a view when parsed. */
  nonce?: Uint8Array | undefined
}

/** A router solicitation (RFC 4861 §4.1). */
export interface RouterSolicitationRepr {
  /** Type 133. */
  kind: 'routerSolicitation'
  /** Options. */
  options: NdpOptions
}

/** A router advertisement (RFC 4861 §4.2). */
export interface RouterAdvertisementRepr {
  /** Type 134. */
  kind: 'routerAdvertisement'
  /** Cur Hop Limit: the hop limit hosts should use; 0 = unspecified. */
  curHopLimit: number
  /** M: addresses are available via DHCPv6. */
  managed: boolean
  /** O: other configuration is available via DHCPv6. */
  other: boolean
  /** Router lifetime in seconds as a default router; 0 = not a default router. */
  routerLifetime: number
  /** Reachable time in ms; 0 = unspecified. */
  reachableTime: number
  /** Retrans timer in ms; 0 = unspecified. */
  retransTimer: number
  /** Options. */
  options: NdpOptions
}

/** A neighbor solicitation (RFC 4861 §4.3). */
export interface NeighborSolicitationRepr {
  /** Type 135. */
  kind: 'neighborSolicitation'
  /** The address whose link-layer address is wanted (or that DAD checks). A view when parsed. */
  target: Ipv6Address
  /** Options. */
  options: NdpOptions
}

/** A neighbor advertisement (RFC 4861 §4.4). */
export interface NeighborAdvertisementRepr {
  /** Type 136. */
  kind: 'neighborAdvertisement'
  /** R: the sender is a router. */
  router: boolean
  /** S: sent in response to a solicitation. */
  solicited: boolean
  /** O: override an existing cache entry. */
  override: boolean
  /** The address advertised. A view when parsed. */
  target: Ipv6Address
  /** Options. */
  options: NdpOptions
}

/** The meaning of a Neighbor Discovery message. */
export type NdpRepr = RouterSolicitationRepr | RouterAdvertisementRepr | NeighborSolicitationRepr | NeighborAdvertisementRepr

const FIXED_LENGTH: Record<number, number> = { 133: 8, 134: 16, 135: 24, 136: 24 }

/**
 * Parse and validate the ICMPv6 message `message` (checksum already verified, e.g. by `Icmpv6View.checked`) as
 * Neighbor Discovery, given the IPv6 header's hop limit and addresses (RFC 4861 §6.1.1, §6.1.2, §7.1.1, §7.1.2).
 * Types other than 133-136 are `UNSUPPORTED`. Never throws.
 */
export function parseNdp(message: Uint8Array, hopLimit: number, src: Ipv6Address, dst: Ipv6Address): NdpRepr | Ipv6WireError {
  if (message.byteLength < 4) return new Ipv6WireError('ndp', 'TRUNCATED', `message of ${message.byteLength} bytes`)
  const type = message[0]!
  const fixed = FIXED_LENGTH[type]
  if (fixed === undefined) return new Ipv6WireError('ndp', 'UNSUPPORTED', `ICMPv6 type ${type}`)
  if (hopLimit !== NDP_HOP_LIMIT) return new Ipv6WireError('ndp', 'BAD_FIELD', `hop limit ${hopLimit}, must be 255`)
  if (message[1] !== 0) return new Ipv6WireError('ndp', 'BAD_FIELD', `code ${message[1]}, must be 0`)
  if (message.byteLength < fixed) return new Ipv6WireError('ndp', 'BAD_LENGTH', `type ${type} needs ${fixed} bytes, got ${message.byteLength}`)
  const options: NdpOptions = {}
  const optionProblem = parseOptions(message, fixed, options)
  if (optionProblem !== undefined) return optionProblem
  const srcUnspecified = isUnspecifiedIpv6(src)
  switch (type) {
    case Icmpv6Type.ROUTER_SOLICITATION:
      // RFC 4861 §6.1.1: with an unspecified source, no source link-layer address option.
      if (srcUnspecified && options.sourceLinkLayerAddress !== undefined) return new Ipv6WireError('ndp', 'BAD_FIELD', 'RS from :: with a source link-layer address')
      return { kind: 'routerSolicitation', options }
    case Icmpv6Type.ROUTER_ADVERTISEMENT: {
      // RFC 4861 §6.1.2: the source is link-local.
      if (!isLinkLocalIpv6(src)) return new Ipv6WireError('ndp', 'BAD_FIELD', 'RA source is not link-local')
      const flags = message[5]!
      return {
        kind: 'routerAdvertisement',
        curHopLimit: message[4]!,
        managed: (flags & 0x80) !== 0,
        other: (flags & 0x40) !== 0,
        routerLifetime: readUint16(message, 6),
        reachableTime: readUint32(message, 8),
        retransTimer: readUint32(message, 12),
        options,
      }
    }
    case Icmpv6Type.NEIGHBOR_SOLICITATION: {
      const target = message.subarray(8, 24)
      // RFC 4861 §7.1.1: the target is not multicast; from ::, the destination is a solicited-node address and
      // there is no source link-layer address option.
      if (isMulticastIpv6(target)) return new Ipv6WireError('ndp', 'BAD_FIELD', 'NS target is multicast')
      if (srcUnspecified && !isSolicitedNode(dst)) return new Ipv6WireError('ndp', 'BAD_FIELD', 'NS from :: not sent to a solicited-node address')
      if (srcUnspecified && options.sourceLinkLayerAddress !== undefined) return new Ipv6WireError('ndp', 'BAD_FIELD', 'NS from :: with a source link-layer address')
      return { kind: 'neighborSolicitation', target, options }
    }
    default: {
      const flags = message[4]!
      const target = message.subarray(8, 24)
      const solicited = (flags & 0x40) !== 0
      // RFC 4861 §7.1.2: the target is not multicast; to a multicast destination, S is 0.
      if (isMulticastIpv6(target)) return new Ipv6WireError('ndp', 'BAD_FIELD', 'NA target is multicast')
      if (solicited && isMulticastIpv6(dst)) return new Ipv6WireError('ndp', 'BAD_FIELD', 'solicited NA to a multicast address')
      return { kind: 'neighborAdvertisement', router: (flags & 0x80) !== 0, solicited, override: (flags & 0x20) !== 0, target, options }
    }
  }
}

function isSolicitedNode(address: Ipv6Address): boolean {
  // RFC 4291 §2.7.1: ff02:0:0:0:0:1:ff00::/104.
  for (let i = 2; i < 11; i++) if (address[i] !== 0) return false
  return address[0] === 0xff && address[1] === 0x02 && address[11] === 0x01 && address[12] === 0xff
}

function parseOptions(message: Uint8Array, from: number, out: NdpOptions): Ipv6WireError | undefined {
  let prefixes: NdpPrefixInformation[] | undefined
  for (let at = from; at < message.byteLength; ) {
    if (at + 2 > message.byteLength) return new Ipv6WireError('ndp', 'BAD_LENGTH', `option at ${at} cut short`)
    const type = message[at]!
    const length = message[at + 1]! * 8
    // RFC 4861 §4.6: "Nodes MUST silently discard an ND packet that contains an option with length zero."
    if (length === 0) return new Ipv6WireError('ndp', 'BAD_LENGTH', `option type ${type} of length 0`)
    if (at + length > message.byteLength) return new Ipv6WireError('ndp', 'BAD_LENGTH', `option type ${type} runs past the message`)
    switch (type) {
      case NdpOptionType.SOURCE_LINK_LAYER_ADDRESS:
        out.sourceLinkLayerAddress = message.subarray(at + 2, at + 8)
        break
      case NdpOptionType.TARGET_LINK_LAYER_ADDRESS:
        out.targetLinkLayerAddress = message.subarray(at + 2, at + 8)
        break
      case NdpOptionType.MTU:
        if (length === 8) out.mtu = readUint32(message, at + 4) // §4.6.4: length 1
        break
      case NdpOptionType.PREFIX_INFORMATION:
        if (length === 32) { // §4.6.2: length 4; other lengths are skipped as malformed
          const flags = message[at + 3]!
          ;(prefixes ??= []).push({
            prefixLength: message[at + 2]!,
            onLink: (flags & 0x80) !== 0,
            autonomous: (flags & 0x40) !== 0,
            validLifetime: readUint32(message, at + 4),
            preferredLifetime: readUint32(message, at + 8),
            prefix: message.subarray(at + 16, at + 32),
          })
        }
        break
      case NdpOptionType.NONCE:
        out.nonce = message.subarray(at + 2, at + length)
        break
      default: // §4.6: unrecognised options are ignored
    }
    at += length
  }
  if (prefixes !== undefined) out.prefixes = prefixes
  return undefined
}

/** Length of the ICMPv6 message {@link emitNdp} writes for `repr`. */
export function ndpLength(repr: NdpRepr): number {
  const o = repr.options
  return FIXED_LENGTH[kindType(repr)]! +
    (o.sourceLinkLayerAddress !== undefined ? 8 : 0) +
    (o.targetLinkLayerAddress !== undefined ? 8 : 0) +
    (o.mtu !== undefined ? 8 : 0) +
    (o.prefixes?.length ?? 0) * 32 +
    (o.nonce !== undefined ? nonceOptionLength(o.nonce) : 0)
}

function nonceOptionLength(nonce: Uint8Array): number {
  return Math.ceil((nonce.byteLength + 2) / 8) * 8
}

function kindType(repr: NdpRepr): number {
  switch (repr.kind) {
    case 'routerSolicitation':
      return Icmpv6Type.ROUTER_SOLICITATION
    case 'routerAdvertisement':
      return Icmpv6Type.ROUTER_ADVERTISEMENT
    case 'neighborSolicitation':
      return Icmpv6Type.NEIGHBOR_SOLICITATION
    default:
      return Icmpv6Type.NEIGHBOR_ADVERTISEMENT
  }
}

/**
 * Write the Neighbor Discovery message for `repr` at `buffer[offset]` as an ICMPv6 message with its checksum over
 * the pseudo-header of `src` → `dst`. Options are written in the order source link-layer address, target
 * link-layer address, MTU, prefixes, nonce.
 * @returns the bytes written, {@link ndpLength}
 * @throws {@link WireEmitError} `ERR_BUFFER_TOO_SMALL`, or `ERR_INVALID_FIELD` (a link-layer address not 6 bytes, a target not 16)
 */
export function emitNdp(repr: NdpRepr, buffer: Uint8Array, offset: number, src: Ipv6Address, dst: Ipv6Address): number {
  const length = ndpLength(repr)
  checkRoom('NDP message', buffer, offset, length)
  const o = repr.options
  for (const mac of [o.sourceLinkLayerAddress, o.targetLinkLayerAddress]) {
    if (mac !== undefined && mac.byteLength !== 6) throw new WireEmitError('ERR_INVALID_FIELD', 'an NDP link-layer address must be 6 bytes (Ethernet, RFC 2464 §8)')
  }
  const body = buffer.subarray(offset + 4, offset + length)
  body.fill(0)
  switch (repr.kind) {
    case 'routerAdvertisement':
      body[0] = repr.curHopLimit
      body[1] = (repr.managed ? 0x80 : 0) | (repr.other ? 0x40 : 0)
      writeUint16(body, 2, repr.routerLifetime)
      writeUint32(body, 4, repr.reachableTime)
      writeUint32(body, 8, repr.retransTimer)
      break
    case 'neighborAdvertisement':
    case 'neighborSolicitation':
      // §4.3/§4.4: 4 bytes of flags (NA) or reserved (NS), then the target.
      if (repr.kind === 'neighborAdvertisement') body[0] = (repr.router ? 0x80 : 0) | (repr.solicited ? 0x40 : 0) | (repr.override ? 0x20 : 0)
      if (repr.target.byteLength !== 16) throw new WireEmitError('ERR_INVALID_FIELD', 'an NDP target must be 16 bytes')
      body.set(repr.target, 4)
      break
    default:
  }
  let at = FIXED_LENGTH[kindType(repr)]! - 4
  const linkOption = (type: number, mac: Uint8Array): void => {
    body[at] = type
    body[at + 1] = 1
    body.set(mac, at + 2)
    at += 8
  }
  if (o.sourceLinkLayerAddress !== undefined) linkOption(NdpOptionType.SOURCE_LINK_LAYER_ADDRESS, o.sourceLinkLayerAddress)
  if (o.targetLinkLayerAddress !== undefined) linkOption(NdpOptionType.TARGET_LINK_LAYER_ADDRESS, o.targetLinkLayerAddress)
  if (o.mtu !== undefined) {
    body[at] = NdpOptionType.MTU
    body[at + 1] = 1
    writeUint32(body, at + 4, o.mtu)
    at += 8
  }
  for (const p of o.prefixes ?? []) {
    body[at] = NdpOptionType.PREFIX_INFORMATION
    body[at + 1] = 4
    body[at + 2] = p.prefixLength
    body[at + 3] = (p.onLink ? 0x80 : 0) | (p.autonomous ? 0x40 : 0)
    writeUint32(body, at + 4, p.validLifetime)
    writeUint32(body, at + 8, p.preferredLifetime)
    body.set(p.prefix.subarray(0, 16), at + 16)
    at += 32
  }
  if (o.nonce !== undefined) {
    body[at] = NdpOptionType.NONCE
    body[at + 1] = nonceOptionLength(o.nonce) / 8
    body.set(o.nonce, at + 2)
  }
  return emitIcmpv6({ kind: 'other', type: kindType(repr), code: 0, body }, buffer, offset, src, dst)
}

/** Link-layer and IP addressing of a Neighbor Discovery frame built by {@link emitNdpFrame}. */
export interface NdpFrameAddressing {
  /** Ethernet destination (6 bytes): a neighbour's MAC, or the multicast MAC of `dst` (RFC 2464 §7). */
  dstMac: Uint8Array
  /** Ethernet source (6 bytes): ours. */
  srcMac: Uint8Array
  /** IPv6 source: ours, or :: for DAD. */
  src: Ipv6Address
  /** IPv6 destination. */
  dst: Ipv6Address
}

/**
 * Write a whole Ethernet frame carrying `repr`: Ethernet II header (EtherType 0x86dd, RFC 2464 §3), IPv6 header
 * with hop limit 255 (RFC 4861 §6.1, §7.1), the message. What the neighbour cache and DAD ask the driver to send.
 * @returns the frame length
 * @throws {@link WireEmitError} as {@link emitNdp}
 */
export function emitNdpFrame(repr: NdpRepr, addressing: NdpFrameAddressing, buffer: Uint8Array, offset = 0): number {
  const length = ndpLength(repr)
  checkRoom('NDP frame', buffer, offset, 14 + IPV6_HEADER_LENGTH + length)
  if (addressing.dstMac.byteLength !== 6 || addressing.srcMac.byteLength !== 6) throw new WireEmitError('ERR_INVALID_FIELD', 'MAC addresses must be 6 bytes')
  buffer.set(addressing.dstMac, offset)
  buffer.set(addressing.srcMac, offset + 6)
  writeUint16(buffer, offset + 12, 0x86dd)
  emitIpv6({ src: addressing.src, dst: addressing.dst, nextHeader: Ipv6NextHeader.ICMPV6, hopLimit: NDP_HOP_LIMIT, payloadLength: length }, buffer, offset + 14)
  emitNdp(repr, buffer, offset + 14 + IPV6_HEADER_LENGTH, addressing.src, addressing.dst)
  return 14 + IPV6_HEADER_LENGTH + length
}
