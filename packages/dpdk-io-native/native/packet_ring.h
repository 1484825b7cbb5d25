// PACKET_MMAP rings (TPACKET_V2) of an AF_PACKET socket: set-up, and the burst reads and writes on them.
#ifndef MTCP_DPDK_IO_NATIVE_PACKET_RING_H_
#define MTCP_DPDK_IO_NATIVE_PACKET_RING_H_

#include <node_api.h>

#include <cstdint>

#include "burst.h"
#include "fd_table.h"

namespace mtcp {

// Both rings (`rxFrames` and `txFrames` slots, rounded up to whole blocks), every slot big enough for a
// `maxFrame`-byte frame. Returns 0 or the errno, with the failing call in *syscall. Call before bind().
int SetUpRing(int fd, unsigned rxFrames, unsigned txFrames, unsigned maxFrame, bool vnet, Ring** out, const char** syscall);

// Moves up to `max` frames out of the RX ring into the caller's slots. Returns the count, or -1 after throwing.
int64_t RingRead(napi_env env, Ring* ring, const Slots& s, uint32_t max, bool userVnet, uint8_t* vnetOut);

// Puts up to `count` frames on the TX ring and kicks once. Returns how many the kernel took, or -1 after throwing.
int64_t RingWrite(napi_env env, int fd, Ring* ring, const Slots& s, uint32_t count, bool software, const uint8_t* vnetIn);

}  // namespace mtcp

#endif  // MTCP_DPDK_IO_NATIVE_PACKET_RING_H_
