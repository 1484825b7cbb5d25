// Software checksum completion (checksum.h).
#include "checksum.h"

#include <netinet/in.h>
#include <string.h>

namespace mtcp {

// Software checksum completion, for descriptors without virtio-net headers: a caller that passes
// headers anyway asks the addon to do what the kernel would do for VIRTIO_NET_HDR_F_NEEDS_CSUM (virtio
// spec 5.1.6.2: sum from csum_start to the end, store at csum_start + csum_offset). In C this costs a
// small fraction of the JavaScript loop it replaces.

// RFC 1071 §2 (B): the one's complement sum is byte-order independent, so sum native-order words and
// store the result in native order. §4.1: an odd last byte is the high half of a zero-padded word.
uint32_t FoldedSum(const uint8_t* p, size_t n) {
  uint64_t sum = 0;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    sum += (w & 0xffffffffu) + (w >> 32);
  }
  if (n >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    sum += w;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    sum += w;
    p += 2;
    n -= 2;
  }
  if (n == 1) {
    uint8_t last[2] = {*p, 0};
    uint16_t w;
    memcpy(&w, last, 2);
    sum += w;
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint32_t>(sum);
}

// Applies one header's checksum request to `frame[0 .. len)`. Returns false (and why) when the header
// asks for what software cannot do here (segmentation) or points outside the frame.
bool CompleteChecksum(const uint8_t* header, uint8_t* frame, size_t len, std::string* why) {
  // struct virtio_net_hdr, little-endian fields as TAP and AF_PACKET use them on x86/arm: flags, gso_type,
  // hdr_len, gso_size, csum_start, csum_offset.
  if (header[1] != VIRTIO_NET_HDR_GSO_NONE) {
    *why = "segmentation (gsoType) needs a descriptor opened with vnetHeader";
    return false;
  }
  if ((header[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) == 0) return true;
  size_t start = Le16(header + 6), offset = Le16(header + 8);
  if (start + offset + 2 > len) {
    *why = "csumStart + csumOffset is outside the frame";
    return false;
  }
  uint16_t sum = static_cast<uint16_t>(~FoldedSum(frame + start, len - start));
  if (sum == 0 && offset == 6) sum = 0xffff;  // RFC 768: a computed UDP checksum of 0 is sent as all ones
  memcpy(frame + start + offset, &sum, 2);
  return true;
}

// A frame a local sender (a veth peer, a TAP's kernel side) handed over with CHECKSUM_PARTIAL arrives on a
// packet socket without virtio-net headers flagged TP_STATUS_CSUMNOTREADY (packet(7)): its TCP or UDP
// checksum field holds only the pseudo-header sum. Complete it here, as the device would have, so the
// frame reads as sent. IPv4 (RFC 791 §3.1: the transport header follows IHL words) and IPv6 with TCP or
// UDP directly behind the fixed header (RFC 8200 §3: Payload Length at octet 4, Next Header at 6; the
// kernel sends TCP so); anything else is left alone.
void CompletePartialChecksum(uint8_t* f, size_t len) {
  size_t start, end;
  uint8_t proto;
  if (len >= 14 + 20 && f[12] == 0x08 && f[13] == 0x00 && (f[14] >> 4) == 4) {
    size_t ihl = static_cast<size_t>(f[14] & 0x0f) * 4;
    if (ihl < 20) return;
    start = 14 + ihl;
    end = 14 + ((static_cast<size_t>(f[16]) << 8) | f[17]);
    proto = f[14 + 9];
  } else if (len >= 14 + 40 && f[12] == 0x86 && f[13] == 0xdd && (f[14] >> 4) == 6) {
    start = 14 + 40;
    end = start + ((static_cast<size_t>(f[18]) << 8) | f[19]);  // a jumbogram (Payload Length 0) ends below
    proto = f[20];
  } else {
    return;
  }
  size_t offset = proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 0;
  if (offset == 0 || end > len || start + offset + 2 > end) return;
  uint16_t sum = static_cast<uint16_t>(~FoldedSum(f + start, end - start));
  // RFC 768 (IPv4), RFC 8200 §8.1 (IPv6): a computed UDP checksum of 0 is sent as all ones.
  if (sum == 0 && proto == IPPROTO_UDP) sum = 0xffff;
  memcpy(f + start + offset, &sum, 2);
}

}  // namespace mtcp
