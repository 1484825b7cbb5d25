/**
 * Ethernet II framing and 802.1Q VLAN tags.
 *
 * - RFC 894 (IP datagrams over Ethernet) and IEEE 802.3 §3.2.6: destination, source, then a
 *   Length/Type field that is an EtherType when ≥ 0x0600 (values ≤ 1500 are 802.3 lengths with an
 *   LLC header, reported as `UNSUPPORTED`). The frame check sequence is not part of the frames here.
 * - IEEE 802.1Q §9.6: a VLAN tag is the TPID 0x8100 then a 16-bit TCI (3-bit priority code point,
 *   drop eligible indicator, 12-bit VLAN id), before the real EtherType.
 *
 * Choice: one 802.1Q tag is parsed (the view's `etherType` and `payload` are those inside the tag,
 * `vlan` tells the tag) and emitted again; a second tag (Q-in-Q) or an 802.1ad S-tag (TPID 0x88a8)
 * is `UNSUPPORTED`. A frame may carry padding after its payload (the 60-byte minimum); the layer
 * above trims it (IPv4 by its total length).
 *
 * MAC addresses are 6 bytes (`MacAddress` of `@mtcp/primitives`); a view's `dst` and `src` are windows
 * onto the frame, not copies.
 * @module
 */
import { BROADCAST_MAC, type MacAddress, writeMacAddress } from '@mtcp/primitives'
import { readMac, readUint16, writeUint16 } from './bytes.js'
import { checkRoom, WireError } from './errors.js'

/** EtherType values used by this stack (IEEE registry; RFC 894 for IPv4, RFC 826 for ARP). */
export const EtherType = {
  /** IPv4, RFC 894. */
  IPV4: 0x0800,
  /** ARP, RFC 826. */
  ARP: 0x0806,
  /** IEEE 802.1Q VLAN tag (C-tag). */
  VLAN: 0x8100,
  /** IPv6, RFC 2464 (recognised, not handled by this stack). */
  IPV6: 0x86dd,
  /** IEEE 802.1ad service tag (S-tag, Q-in-Q): `UNSUPPORTED`. */
  QINQ: 0x88a8,
} as const

/** Length of an untagged Ethernet II header. */
export const ETHERNET_HEADER_LENGTH = 14
/** Length of an 802.1Q VLAN tag. */
export const VLAN_TAG_LENGTH = 4

/** An 802.1Q tag's control information (IEEE 802.1Q §9.6). */
export interface VlanTag {
  /** Priority code point, 0..7. */
  priority: number
  /** Drop eligible indicator (formerly CFI). */
  dropEligible: boolean
  /** VLAN identifier, 0..4095 (0: priority tag only). */
  id: number
}

/** The meaning of an Ethernet II header. */
export interface EthernetRepr {
  /** Destination MAC address. */
  dst: MacAddress
  /** Source MAC address. */
  src: MacAddress
  /** EtherType of the payload (inside the VLAN tag when there is one), e.g. {@link EtherType}.IPV4. */
  etherType: number
  /** The 802.1Q tag, when the frame is tagged. */
  vlan?: VlanTag | undefined
}

/** Zero-copy view of an Ethernet II header at the start of a frame. */
export class EthernetView {
  readonly #tagged: boolean

  private constructor(
    /** The whole frame. */
    readonly bytes: Uint8Array,
  ) {
    this.#tagged = readUint16(this.bytes, 12) === EtherType.VLAN
  }

  /**
   * Check an untrusted frame: `TRUNCATED` when shorter than its header (14 bytes, 18 when tagged),
   * `UNSUPPORTED` for an S-tag or stacked tags. After this, no accessor reads out of bounds.
   */
  static checked(bytes: Uint8Array): EthernetView | WireError {
    if (bytes.byteLength < ETHERNET_HEADER_LENGTH) {
      return new WireError('ethernet', 'TRUNCATED', `frame of ${bytes.byteLength} bytes, header needs 14`)
    }
    const type = (bytes[12]! << 8) | bytes[13]!
    if (type === EtherType.QINQ) return new WireError('ethernet', 'UNSUPPORTED', '802.1ad service tag (Q-in-Q)')
    if (type === EtherType.VLAN) {
      if (bytes.byteLength < ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH) {
        return new WireError('ethernet', 'TRUNCATED', `tagged frame of ${bytes.byteLength} bytes, header needs 18`)
      }
      const inner = (bytes[16]! << 8) | bytes[17]!
      if (inner === EtherType.VLAN || inner === EtherType.QINQ) {
        return new WireError('ethernet', 'UNSUPPORTED', 'stacked VLAN tags')
      }
    }
    return new EthernetView(bytes)
  }

  /** Destination MAC address: a view onto the frame's bytes. */
  get dst(): MacAddress {
    return readMac(this.bytes, 0)
  }

  /** Source MAC address: a view onto the frame's bytes. */
  get src(): MacAddress {
    return readMac(this.bytes, 6)
  }

  /** True when the frame carries an 802.1Q tag. */
  get tagged(): boolean {
    return this.#tagged
  }

  /** The tag control information (priority, DEI, id), or undefined when untagged. */
  get vlanTci(): number | undefined {
    return this.#tagged ? readUint16(this.bytes, 14) : undefined
  }

  /** The EtherType of the payload: after the VLAN tag when tagged. */
  get etherType(): number {
    return readUint16(this.bytes, this.#tagged ? 16 : 12)
  }

  /** 14, or 18 with a VLAN tag. */
  get headerLength(): number {
    return this.#tagged ? ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH : ETHERNET_HEADER_LENGTH
  }

  /** The bytes after the header (a view, not a copy), padding included. */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength)
  }
}

/**
 * The meaning of a checked Ethernet header. `UNSUPPORTED` when the Length/Type field is an 802.3
 * length (< 0x0600, IEEE 802.3 §3.2.6) rather than an EtherType.
 */
export function parseEthernet(view: EthernetView): EthernetRepr | WireError {
  const etherType = view.etherType
  if (etherType < 0x0600) return new WireError('ethernet', 'UNSUPPORTED', `802.3 length field ${etherType}, not an EtherType`)
  const tci = view.vlanTci
  return {
    dst: view.dst,
    src: view.src,
    etherType,
    vlan: tci === undefined ? undefined : { priority: tci >>> 13, dropEligible: (tci & 0x1000) !== 0, id: tci & 0x0fff },
  }
}

/** Header length {@link emitEthernet} writes for `repr`: 14, or 18 with a VLAN tag. */
export function ethernetHeaderLength(repr: EthernetRepr): number {
  return repr.vlan === undefined ? ETHERNET_HEADER_LENGTH : ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH
}

/**
 * Write the header of `repr` at `buffer[offset]`; the payload follows at `offset + ` the returned length.
 * @returns the bytes written (14, or 18 with a VLAN tag)
 * @throws {@link WireEmitError} `ERR_BUFFER_TOO_SMALL`
 */
export function emitEthernet(repr: EthernetRepr, buffer: Uint8Array, offset = 0): number {
  const length = ethernetHeaderLength(repr)
  checkRoom('Ethernet header', buffer, offset, length)
  writeMacAddress(buffer, offset, repr.dst)
  writeMacAddress(buffer, offset + 6, repr.src)
  let at = offset + 12
  const vlan = repr.vlan
  if (vlan !== undefined) {
    writeUint16(buffer, at, EtherType.VLAN)
    writeUint16(buffer, at + 2, ((vlan.priority & 7) << 13) | (vlan.dropEligible ? 0x1000 : 0) | (vlan.id & 0x0fff))
    at += VLAN_TAG_LENGTH
  }
  writeUint16(buffer, at, repr.etherType)
  return length
}
