// What the addon knows about the descriptors it opened (TAP or AF_PACKET, virtio-net headers, PACKET_MMAP
// rings, watchers, kernel drop counts), shared by every thread of the process under one lock.
#ifndef MTCP_DPDK_IO_NATIVE_FD_TABLE_H_
#define MTCP_DPDK_IO_NATIVE_FD_TABLE_H_

#include <node_api.h>

#include <cstddef>
#include <cstdint>

namespace mtcp {

enum class Kind { Tap, Packet };

// PACKET_MMAP rings of one AF_PACKET socket (TPACKET_V2, one frame per slot; Documentation/networking/
// packet_mmap.rst). The RX ring comes first in the mapping, then the TX ring. See packet_ring.h.
struct Ring {
  uint8_t* map = nullptr;
  size_t mapLength = 0;
  unsigned rxSlots = 0, txSlots = 0;
  unsigned frameSize = 0;  // bytes per slot, a power of two or a multiple of the page size
  bool vnet = false;       // slots carry a virtio-net header before the frame (PACKET_VNET_HDR)
  bool userVnet = false;   // the caller exchanges those headers (vnetHeader); else the addon writes them
  unsigned rxHead = 0;     // next RX slot to look at
  unsigned txHead = 0;     // next TX slot to fill
  // Counters since open (ringStats).
  uint64_t rxFrames = 0, txFrames = 0, txRefused = 0, txKicks = 0, txWrongFormat = 0, rxKernelDrops = 0;
  uint8_t* rx(unsigned i) const { return map + static_cast<size_t>(i) * frameSize; }
  uint8_t* tx(unsigned i) const { return map + (static_cast<size_t>(rxSlots) + i) * frameSize; }
};

// Unmaps and frees a ring (packet_ring.cc); nullptr is fine.
void FreeRing(Ring* ring);

// Records a descriptor this addon opened; the table owns `ring`.
void Remember(int fd, Kind kind, bool vnet, Ring* ring = nullptr);

// Returns false after throwing. Unknown descriptors are probed with fstat() (`*known` false). `*ring` is
// the descriptor's rings, or nullptr. A ring is only used by the thread that owns the descriptor (one
// port per worker), so it is not locked.
bool Lookup(napi_env env, int fd, Kind* kind, bool* known, bool* vnet, Ring** ring = nullptr);

// Watchers of a descriptor (close refuses a watched one).
void AddWatcher(int fd);
void ForgetWatcher(int fd);

// Frames the kernel dropped on a packet socket before we read them, since it was opened.
// PACKET_STATISTICS resets the kernel's counters on every read, so they are accumulated per descriptor.
uint64_t AccumulateKernelDrops(int fd);

// Forgets `fd` (freeing its rings) before it is closed. Returns false, forgetting nothing, while it is watched.
bool Forget(int fd);

}  // namespace mtcp

#endif  // MTCP_DPDK_IO_NATIVE_FD_TABLE_H_
