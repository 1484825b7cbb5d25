// PACKET_MMAP rings (packet_ring.h).
#include "packet_ring.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "checksum.h"
#include "napi_util.h"

namespace mtcp {

// PACKET_MMAP rings (TPACKET_V2). Why V2 in both directions: V3's RX blocks are handed to user space
// only when full or when the block timer (milliseconds) retires them, which would hold back every ACK
// of a TCP sender; V2 hands over each frame as soon as it is written.

constexpr size_t kTxData = TPACKET_ALIGN(sizeof(struct tpacket2_hdr));  // TX data offset (no PACKET_TX_HAS_OFF)
// RX: the kernel puts the MAC header at TPACKET_ALIGN(TPACKET2_HDRLEN + 16) + vnet - 14 (tpacket_rcv).
constexpr size_t kRxHeadroom = TPACKET_ALIGN(TPACKET2_HDRLEN + 16) + kVnetHdrLen;

void FreeRing(Ring* ring) {
  if (ring == nullptr) return;
  if (ring->map != nullptr) munmap(ring->map, ring->mapLength);
  delete ring;
}

// Both rings (`rxFrames` and `txFrames` slots, rounded up to whole blocks), every slot big enough for a
// `maxFrame`-byte frame. Returns 0 or the errno, with the failing call in *syscall. Call before bind().
int SetUpRing(int fd, unsigned rxFrames, unsigned txFrames, unsigned maxFrame, bool vnet, Ring** out, const char** syscall) {
  long page = sysconf(_SC_PAGESIZE);
  if (page <= 0) page = 4096;
  size_t need = std::max(kRxHeadroom, kTxData + kVnetHdrLen) + maxFrame;
  size_t slot = 64;
  while (slot < need && slot < static_cast<size_t>(page)) slot <<= 1;
  if (slot < need) slot = (need + page - 1) / page * page;  // larger than a page: whole pages
  size_t block = std::max(slot, static_cast<size_t>(page));
  size_t perBlock = block / slot;
  size_t rxBlocks = (rxFrames + perBlock - 1) / perBlock, txBlocks = (txFrames + perBlock - 1) / perBlock;

  // Headers on a socket whose caller has none: the addon writes them, to ask for a linear copy (RingWrite).
  // Best effort, and only possible before the rings exist.
  int one = 1;
  bool kernelVnet = vnet || setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) == 0;
  int version = TPACKET_V2;
  if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) != 0) {
    *syscall = "setsockopt(PACKET_VERSION)";
    return errno;
  }
  struct tpacket_req req;
  req.tp_block_size = static_cast<unsigned>(block);
  req.tp_frame_size = static_cast<unsigned>(slot);
  req.tp_block_nr = static_cast<unsigned>(rxBlocks);
  req.tp_frame_nr = static_cast<unsigned>(rxBlocks * perBlock);
  if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0) {
    *syscall = "setsockopt(PACKET_RX_RING)";
    return errno;
  }
  req.tp_block_nr = static_cast<unsigned>(txBlocks);
  req.tp_frame_nr = static_cast<unsigned>(txBlocks * perBlock);
  if (setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof req) != 0) {
    *syscall = "setsockopt(PACKET_TX_RING)";
    return errno;
  }
  size_t length = (rxBlocks + txBlocks) * block;
  void* map = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (map == MAP_FAILED) {
    *syscall = "mmap";
    return errno;
  }
  // Frames in flight count against the send buffer: let the whole TX ring be in flight where the
  // system allows it (net.core.wmem_max caps it silently); otherwise the kernel just takes fewer.
  int sndbuf = static_cast<int>(std::min<size_t>(txBlocks * block, 1 << 30));
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  Ring* ring = new Ring();
  ring->map = static_cast<uint8_t*>(map);
  ring->mapLength = length;
  ring->rxSlots = static_cast<unsigned>(rxBlocks * perBlock);
  ring->txSlots = static_cast<unsigned>(txBlocks * perBlock);
  ring->frameSize = static_cast<unsigned>(slot);
  ring->userVnet = vnet;
  ring->vnet = kernelVnet;
  *out = ring;
  return 0;
}

static uint32_t LoadStatus(const uint8_t* slot) {
  return __atomic_load_n(&reinterpret_cast<const struct tpacket2_hdr*>(slot)->tp_status, __ATOMIC_ACQUIRE);
}
static void StoreStatus(uint8_t* slot, uint32_t status) {
  __atomic_store_n(&reinterpret_cast<struct tpacket2_hdr*>(slot)->tp_status, status, __ATOMIC_RELEASE);
}

// One kick hands every TP_STATUS_SEND_REQUEST slot from the kernel's head on to the device. With
// MSG_DONTWAIT it never sleeps; it stops early (frames left in SEND_REQUEST) when the send buffer is
// full (EAGAIN/ENOBUFS) or a frame is malformed (marked TP_STATUS_WRONG_FORMAT).
static int Kick(int fd, Ring* ring) {
  for (;;) {
    ssize_t r = send(fd, nullptr, 0, MSG_DONTWAIT);
    if (r < 0 && errno == EINTR) continue;
    ring->txKicks++;
    return r < 0 ? errno : 0;
  }
}
// Moves up to `max` frames out of the RX ring: each frame is copied into the caller's slot and its ring
// slot handed straight back to the kernel, so a slow consumer never holds ring memory. Copying costs
// less than exposing the ring to JavaScript would save: the stack releases every received buffer to its
// own pool, and a slot held past the kernel's head makes it drop. Returns the count, or -1 after throwing.
int64_t RingRead(napi_env env, Ring* ring, const Slots& s, uint32_t max, bool userVnet, uint8_t* vnetOut) {
  uint32_t got = 0;
  while (got < max) {
    uint8_t* slot = ring->rx(ring->rxHead);
    uint32_t status = LoadStatus(slot);
    if ((status & TP_STATUS_USER) == 0) break;
    uint8_t* data;
    size_t len;
    if (!SlotBuffer(env, s, got, &data, &len)) return -1;
    int32_t off = s.offsets[got];
    if (off < 0 || static_cast<size_t>(off) > len) {
      ThrowArg(env, "offsets[" + std::to_string(got) + "] is outside buffers[" + std::to_string(got) + "]");
      return -1;
    }
    size_t cap = len - static_cast<size_t>(off);
    const struct tpacket2_hdr* h = reinterpret_cast<const struct tpacket2_hdr*>(slot);
    size_t mac = h->tp_mac, snap = h->tp_snaplen, full = h->tp_len;
    bool sane = mac >= TPACKET2_HDRLEN + (ring->vnet ? kVnetHdrLen : 0) && mac + snap <= ring->frameSize;
    if (!sane || snap < full || full > cap) {
      // Cut by the ring (larger than its slots) or by the caller's slot: the full length negated, to drop.
      s.lengths[got] = -static_cast<int32_t>(std::min<size_t>(std::max<size_t>(full, 1), INT32_MAX));
    } else {
      memcpy(data + off, slot + mac, full);
      // A caller without virtio-net headers gets frames whose checksums are final: complete partial ones,
      // from the slot's own header when the ring carries one, else by parsing the frame.
      if (!ring->userVnet && (status & TP_STATUS_CSUMNOTREADY)) {
        std::string why;
        if (!ring->vnet || !CompleteChecksum(slot + mac - kVnetHdrLen, data + off, full, &why)) CompletePartialChecksum(data + off, full);
      }
      s.lengths[got] = static_cast<int32_t>(full);
    }
    if (userVnet && vnetOut != nullptr) {
      uint8_t* to = vnetOut + static_cast<size_t>(got) * kVnetHdrLen;
      if (sane) memcpy(to, slot + mac - kVnetHdrLen, kVnetHdrLen);  // tpacket_rcv puts it right before the MAC header
      else memset(to, 0, kVnetHdrLen);
    }
    StoreStatus(slot, TP_STATUS_KERNEL);
    ring->rxHead = ring->rxHead + 1 == ring->rxSlots ? 0 : ring->rxHead + 1;
    ring->rxFrames++;
    got++;
  }
  return got;
}

// Fills TX ring slots in order from `buffers` (one copy each, from the caller's pool into the slot),
// kicks once, and gives back the slots the kernel did not take, so that (as with sendmmsg) the return
// value is exactly the frames the kernel accepted and the ring never holds a frame the caller still owns.
// Returns the count, or -1 after throwing.
//
// The kernel attaches the slot's page to the skb and returns the slot (TP_STATUS_AVAILABLE) when the skb
// is freed or orphaned. Before orphaning or cloning it copies such user pages (skb_zcopy_set_nouarg, then
// skb_orphan_frags in the forwarding path: "packet: copy user buffers before orphan or clone", Linux
// 4.20), so reusing a returned slot never changes data a local receiver (a veth peer) still holds.
int64_t RingWrite(napi_env env, int fd, Ring* ring, const Slots& s, uint32_t count, bool software, const uint8_t* vnetIn) {
  const unsigned start = ring->txHead;
  const size_t header = ring->vnet ? kVnetHdrLen : 0;
  const size_t room = ring->frameSize - kTxData - header;
  uint32_t placed = 0;
  auto rollBack = [&]() {
    for (uint32_t k = 0; k < placed; k++) StoreStatus(ring->tx((start + k) % ring->txSlots), TP_STATUS_AVAILABLE);
    ring->txHead = start;
  };
  while (placed < count) {
    uint8_t* slot = ring->tx(ring->txHead);
    if (LoadStatus(slot) & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING | TP_STATUS_WRONG_FORMAT)) break;  // ring full: backpressure
    uint32_t i = placed;
    uint8_t* data;
    size_t len;
    if (!SlotBuffer(env, s, i, &data, &len)) return rollBack(), -1;
    int32_t off = s.offsets[i], flen = s.lengths[i];
    if (off < 0 || flen < 0 || static_cast<size_t>(off) + static_cast<size_t>(flen) > len) {
      rollBack();
      ThrowArg(env, "offsets[" + std::to_string(i) + "] + lengths[" + std::to_string(i) + "] is outside buffers[" + std::to_string(i) + "]");
      return -1;
    }
    if (static_cast<size_t>(flen) > room) {
      if (placed > 0) break;  // the next call reports it as its first frame
      ThrowErrno(env, EMSGSIZE, "send", "frame 0 of " + std::to_string(flen) + " bytes does not fit the ring's " + std::to_string(room) +
                                            "-byte slots: open the port with a larger ringFrameSize, or drop it");
      return -1;
    }
    uint8_t* frame = slot + kTxData + header;
    memcpy(frame, data + off, static_cast<size_t>(flen));
    const uint8_t* given = vnetIn != nullptr ? vnetIn + static_cast<size_t>(i) * kVnetHdrLen : kZeroHdr;
    if (software) {
      std::string why;
      if (!CompleteChecksum(given, frame, static_cast<size_t>(flen), &why)) {
        rollBack();
        ThrowArg(env, "vnetIn[" + std::to_string(i) + "]: " + why);
        return -1;
      }
    }
    if (ring->vnet) {
      uint8_t* vh = slot + kTxData;
      memcpy(vh, ring->userVnet && !software ? given : kZeroHdr, kVnetHdrLen);
      // hdr_len = the whole frame (not for GSO): tpacket_snd copies it into the skb's linear part (copylen =
      // hdr_len), one small slab allocation, instead of attaching the slot's page, which the kernel would
      // copy again into a fresh page before the veth peer orphans it, or linearize without scatter-gather.
      if (vh[1] == VIRTIO_NET_HDR_GSO_NONE && Le16(vh + 2) < flen) vh[2] = static_cast<uint8_t>(flen & 0xff), vh[3] = static_cast<uint8_t>((flen >> 8) & 0xff);
    }
    struct tpacket2_hdr* h = reinterpret_cast<struct tpacket2_hdr*>(slot);
    h->tp_len = static_cast<uint32_t>(header + static_cast<size_t>(flen));
    h->tp_snaplen = h->tp_len;
    StoreStatus(slot, TP_STATUS_SEND_REQUEST);
    ring->txHead = ring->txHead + 1 == ring->txSlots ? 0 : ring->txHead + 1;
    placed++;
  }
  if (placed == 0) {
    ring->txRefused += count;
    return 0;
  }
  int err = Kick(fd, ring);
  // tpacket_snd walks the ring in order and stops at the first frame it cannot take (send buffer full:
  // left in SEND_REQUEST; malformed: marked WRONG_FORMAT, and its head stays there), so the frames not
  // taken are a suffix of those placed. Give them back; the kernel's head is then our head.
  uint32_t taken = placed;
  bool wrongFormat = false;
  while (taken > 0) {
    uint8_t* slot = ring->tx((start + taken - 1) % ring->txSlots);
    uint32_t status = LoadStatus(slot);
    if (status == TP_STATUS_SEND_REQUEST) {
    } else if (status & TP_STATUS_WRONG_FORMAT) {
      wrongFormat = true;
    } else {
      break;
    }
    StoreStatus(slot, TP_STATUS_AVAILABLE);
    taken--;
  }
  if (wrongFormat) ring->txWrongFormat++;
  ring->txHead = (start + taken) % ring->txSlots;
  ring->txFrames += taken;
  ring->txRefused += count - taken;
  if (taken == 0 && err != 0 && err != EAGAIN && err != EWOULDBLOCK && err != ENOBUFS) {
    ThrowErrno(env, err, "send", WriteFailure(err, 0, fd));
    return -1;
  }
  return taken;
}

}  // namespace mtcp
