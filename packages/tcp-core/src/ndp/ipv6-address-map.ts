/**
 * A hash map keyed by IPv6 address that looks up by the 16 bytes in place (in a received datagram, at any
 * offset) without making a key: the shape decision 0070 gives the stack's connection table. Buckets are
 * arrays of entries holding a copy of their key; the hash is {@link ipv6AddressHash} with a per-map seed.
 * @module
 */
import { IPV6_ADDRESS_LENGTH, type Ipv6Address, ipv6AddressEquals, ipv6AddressHash } from '../wire/ipv6-address.js'

interface Slot<V> {
  readonly key: Uint8Array
  value: V
}

/**
 * IPv6 address → `V`. {@link Ipv6AddressMap.get} takes the address as bytes and an offset, so the receive path
 * looks up `datagram[24, 40)` directly; keys are copied on insertion.
 */
export class Ipv6AddressMap<V> {
  readonly #buckets = new Map<number, Slot<V>[]>()
  #size = 0

  /** @param seed - mixed into the hash; give a random one where remote peers choose the addresses. */
  constructor(readonly seed = 0) {}

  /** Number of entries. */
  get size(): number {
    return this.#size
  }

  /** The value for the address at `bytes[offset, offset + 16)`, or undefined. Allocates nothing. */
  get(bytes: Uint8Array, offset = 0): V | undefined {
    const bucket = this.#buckets.get(ipv6AddressHash(bytes, offset, this.seed))
    if (bucket === undefined) return undefined
    for (const slot of bucket) if (ipv6AddressEquals(slot.key, bytes, 0, offset)) return slot.value
    return undefined
  }

  /** Set the value for `address` (16 bytes; copied). */
  set(address: Ipv6Address, value: V): void {
    if (address.byteLength !== IPV6_ADDRESS_LENGTH) throw new RangeError(`an IPv6 address is 16 bytes, got ${address.byteLength}`)
    const hash = ipv6AddressHash(address, 0, this.seed)
    let bucket = this.#buckets.get(hash)
    if (bucket === undefined) this.#buckets.set(hash, (bucket = []))
    for (const slot of bucket) {
      if (ipv6AddressEquals(slot.key, address)) {
        slot.value = value
        return
      }
    }
    bucket.push({ key: address.slice(), value })
    this.#size++
  }

  /** Remove the entry for the address at `bytes[offset]`. @returns whether there was one. */
  delete(bytes: Uint8Array, offset = 0): boolean {
    const hash = ipv6AddressHash(bytes, offset, this.seed)
    const bucket = this.#buckets.get(hash)
    if (bucket === undefined) return false
    const index = bucket.findIndex((slot) => ipv6AddressEquals(slot.key, bytes, 0, offset))
    if (index < 0) return false
    if (bucket.length === 1) this.#buckets.delete(hash)
    else bucket.splice(index, 1)
    this.#size--
    return true
  }

  /** Every entry as `[address copy, value]`, in no particular order. */
  *entries(): IterableIterator<[Ipv6Address, V]> {
    for (const bucket of this.#buckets.values()) for (const slot of bucket) yield [slot.key.slice(), slot.value]
  }

  /** Every value, in no particular order. */
  *values(): IterableIterator<V> {
    for (const bucket of this.#buckets.values()) for (const slot of bucket) yield slot.value
  }

  /** Remove every entry. */
  clear(): void {
    this.#buckets.clear()
    this.#size = 0
  }
}
