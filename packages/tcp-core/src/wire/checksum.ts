/**
 * The Internet checksum as the wire layer uses it. The arithmetic (RFC 1071, RFC 1624, the IPv4
 * pseudo-header of RFC 9293 §3.1) lives in `@mtcp/primitives`, shared with `@mtcp/dpdk-io`'s software
 * offloads (docs/decisions/0012-one-vocabulary.md); this module adds what receivers and emitters choose.
 * @module
 */
export { foldChecksum, internetChecksum, ipv4PseudoHeaderSum, onesComplementSum, updateChecksum } from '@mtcp/primitives'

/** How a receiver treats a checksum: `verify` it, or `skip` it because the NIC already did (receive offload). */
export type RxChecksum = 'verify' | 'skip'

/**
 * How an emitter fills a checksum: `compute` it, or `offload` it to the NIC. With `offload`, IPv4 and
 * ICMP leave the field 0; TCP stores the folded pseudo-header sum, as Linux (CHECKSUM_PARTIAL) and
 * virtio-net (VIRTIO_NET_HDR_F_NEEDS_CSUM) expect, so the device only sums the segment into it.
 */
export type TxChecksum = 'compute' | 'offload'
