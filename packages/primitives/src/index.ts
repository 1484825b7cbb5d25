/**
 * The shared vocabulary of the mtcp packages, owned here so that every package speaks it the same way
 * (docs/decisions/0012-one-vocabulary.md): time as {@link Micros}, the Internet checksum, MAC addresses
 * as 6 bytes, and the keyed hash {@link halfSipHash}. No dependencies, nothing allocated on the hot paths.
 * @module
 */
export { foldChecksum, internetChecksum, ipv4PseudoHeaderSum, onesComplementSum, updateChecksum } from './checksum.js'
export { PrimitiveError, type PrimitiveErrorCode } from './errors.js'
export {
  halfSipHash,
  halfSipHash13,
  halfSipHash13Words,
  halfSipHash24,
  halfSipHash24x4,
  type HalfSipHashKey,
  randomHalfSipHashKey,
} from './half-siphash.js'
export {
  BROADCAST_MAC,
  describeMacArgument,
  formatMacAddress,
  isMacAddress,
  isUnicastMacAddress,
  MAC_ADDRESS_LENGTH,
  type MacAddress,
  macAddressAt,
  macAddressEquals,
  parseMacAddress,
  writeMacAddress,
} from './mac-address.js'
export { MICROS_PER_MILLISECOND, MICROS_PER_SECOND, type Micros } from './time.js'
