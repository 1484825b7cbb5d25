// Virtio-net headers and software checksum completion (RFC 1071), for descriptors without virtio-net
// headers and for frames a local sender handed over checksum-partial.
#ifndef MTCP_DPDK_IO_NATIVE_CHECKSUM_H_
#define MTCP_DPDK_IO_NATIVE_CHECKSUM_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace mtcp {

constexpr size_t kVnetHdrLen = 10;  // struct virtio_net_hdr, without num_buffers
// From <linux/virtio_net.h>, which does not compile as C++.
constexpr uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
constexpr uint8_t VIRTIO_NET_HDR_GSO_NONE = 0;

// A little-endian 16-bit field (virtio-net headers on the little-endian machines TAP and AF_PACKET serve here).
inline uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// The folded one's complement sum of `n` bytes, in native order (RFC 1071 §2 (B), §4.1).
uint32_t FoldedSum(const uint8_t* p, size_t n);

// Applies one virtio-net header's checksum request to `frame[0 .. len)`. Returns false (and why) when
// the header asks for what software cannot do here (segmentation) or points outside the frame.
bool CompleteChecksum(const uint8_t* header, uint8_t* frame, size_t len, std::string* why);

// Completes the TCP or UDP checksum of an IPv4 or IPv6 frame that arrived checksum-partial (TP_STATUS_CSUMNOTREADY).
void CompletePartialChecksum(uint8_t* frame, size_t len);

}  // namespace mtcp

#endif  // MTCP_DPDK_IO_NATIVE_CHECKSUM_H_
