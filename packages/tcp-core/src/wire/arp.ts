/**
 * ARP for IPv4 over Ethernet (RFC 826, "An Ethernet Address Resolution Protocol").
 *
 * Packet format (RFC 826 "Packet format"): ar$hrd (hardware space, 1 = Ethernet), ar$pro (protocol
 * space, the EtherType 0x0800), ar$hln = 6, ar$pln = 4, ar$op (1 request, 2 reply), then sender
 * hardware and protocol addresses (ar$sha, ar$spa) and target ones (ar$tha, ar$tpa): 28 bytes.
 * Other hardware or protocol spaces, and other operations (RARP, InARP), are `UNSUPPORTED`.
 * @module
 */
import { type MacAddress, writeMacAddress } from '@mtcp/primitives'
import { readMac, readUint16, readUint32, writeUint16, writeUint32 } from './bytes.js'
import { checkRoom, WireError } from './errors.js'
import { EtherType } from './ethernet.js'
import type { Ipv4Address } from './ipv4.js'

/** Length of an ARP packet for IPv4 over Ethernet. */
export const ARP_LENGTH = 28

/** ar$hrd for Ethernet (RFC 826; IANA "Hardware Types"). */
const HARDWARE_ETHERNET = 1
/** ar$op values (RFC 826). */
const OPERATION_REQUEST = 1
const OPERATION_REPLY = 2

/** An ARP operation this stack handles. */
export type ArpOperation = 'request' | 'reply'

/** The meaning of an ARP packet for IPv4 over Ethernet. */
export interface ArpRepr {
  /** ar$op: a request asks who has {@link ArpRepr.targetProtocolAddress}; a reply answers it. */
  operation: ArpOperation
  /** ar$sha. */
  senderHardwareAddress: MacAddress
  /** ar$spa. */
  senderProtocolAddress: Ipv4Address
  /** ar$tha (ignored in requests, usually 0). */
  targetHardwareAddress: MacAddress
  /** ar$tpa. */
  targetProtocolAddress: Ipv4Address
}

/** Zero-copy view of an ARP packet for IPv4 over Ethernet. */
export class ArpView {

  private constructor(
    /** The bytes the view was checked over (may include Ethernet padding after the 28 bytes). */
    readonly bytes: Uint8Array,
  ) {
  }

  /**
   * Check an untrusted ARP packet: `TRUNCATED` when shorter than 8 bytes (the fixed part) or than
   * 28; `UNSUPPORTED` unless Ethernet hardware (1, length 6) and IPv4 protocol (0x0800, length 4).
   * After this, no accessor reads out of bounds.
   */
  static checked(bytes: Uint8Array): ArpView | WireError {
    if (bytes.byteLength < 8) return new WireError('arp', 'TRUNCATED', `packet of ${bytes.byteLength} bytes, fixed part needs 8`)
    const hardware = (bytes[0]! << 8) | bytes[1]!
    const protocol = (bytes[2]! << 8) | bytes[3]!
    if (hardware !== HARDWARE_ETHERNET || protocol !== EtherType.IPV4 || bytes[4] !== 6 || bytes[5] !== 4) {
      return new WireError(
        'arp',
        'UNSUPPORTED',
        `hardware ${hardware}/${bytes[4]!}, protocol 0x${protocol.toString(16)}/${bytes[5]!}: only Ethernet/IPv4`,
      )
    }
    if (bytes.byteLength < ARP_LENGTH) return new WireError('arp', 'TRUNCATED', `packet of ${bytes.byteLength} bytes, needs 28`)
    return new ArpView(bytes)
  }

  /** ar$hrd: 1 (Ethernet) after {@link ArpView.checked}. */
  get hardwareType(): number {
    return readUint16(this.bytes, 0)
  }

  /** ar$pro: 0x0800 (IPv4) after {@link ArpView.checked}. */
  get protocolType(): number {
    return readUint16(this.bytes, 2)
  }

  /** ar$op as a number (1 request, 2 reply, others unsupported). */
  get operation(): number {
    return readUint16(this.bytes, 6)
  }

  /** ar$sha. */
  get senderHardwareAddress(): MacAddress {
    return readMac(this.bytes, 8)
  }

  /** ar$spa. */
  get senderProtocolAddress(): Ipv4Address {
    return readUint32(this.bytes, 14)
  }

  /** ar$tha. */
  get targetHardwareAddress(): MacAddress {
    return readMac(this.bytes, 18)
  }

  /** ar$tpa. */
  get targetProtocolAddress(): Ipv4Address {
    return readUint32(this.bytes, 24)
  }
}

/** The meaning of a checked ARP packet; `UNSUPPORTED` for operations other than request and reply. */
export function parseArp(view: ArpView): ArpRepr | WireError {
  const op = view.operation
  if (op !== OPERATION_REQUEST && op !== OPERATION_REPLY) return new WireError('arp', 'UNSUPPORTED', `operation ${op}`)
  return {
    operation: op === OPERATION_REQUEST ? 'request' : 'reply',
    senderHardwareAddress: view.senderHardwareAddress,
    senderProtocolAddress: view.senderProtocolAddress,
    targetHardwareAddress: view.targetHardwareAddress,
    targetProtocolAddress: view.targetProtocolAddress,
  }
}

/**
 * Write the 28-byte ARP packet of `repr` at `buffer[offset]` (no Ethernet padding).
 * @returns the bytes written: 28
 * @throws {@link WireEmitError} `ERR_BUFFER_TOO_SMALL`
 */
export function emitArp(repr: ArpRepr, buffer: Uint8Array, offset = 0): number {
  checkRoom('ARP packet', buffer, offset, ARP_LENGTH)
  writeUint16(buffer, offset, HARDWARE_ETHERNET)
  writeUint16(buffer, offset + 2, EtherType.IPV4)
  buffer[offset + 4] = 6
  buffer[offset + 5] = 4
  writeUint16(buffer, offset + 6, repr.operation === 'request' ? OPERATION_REQUEST : OPERATION_REPLY)
  writeMacAddress(buffer, offset + 8, repr.senderHardwareAddress)
  writeUint32(buffer, offset + 14, repr.senderProtocolAddress)
  writeMacAddress(buffer, offset + 18, repr.targetHardwareAddress)
  writeUint32(buffer, offset + 24, repr.targetProtocolAddress)
  return ARP_LENGTH
}
