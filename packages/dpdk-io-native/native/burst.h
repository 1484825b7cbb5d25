// The frame slots of one burst call: `buffers` (an array of Uint8Array), `offsets` and `lengths` (Int32Array).
#ifndef MTCP_DPDK_IO_NATIVE_BURST_H_
#define MTCP_DPDK_IO_NATIVE_BURST_H_

#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "checksum.h"

namespace mtcp {

struct Slots {
  napi_value array;
  uint32_t count;
  int32_t* offsets;
  size_t offsetsLen;
  int32_t* lengths;
  size_t lengthsLen;
};

// buffers[i] as (data, byteLength); false after throwing. Builds no string unless it throws.
bool SlotBuffer(napi_env env, const Slots& s, uint32_t i, uint8_t** data, size_t* len);

// The message of a failed write of frame `frame` to `fd`, with the fix for the usual causes.
std::string WriteFailure(int err, uint32_t frame, int fd);

// A zero virtio-net header (no offload requested).
extern const uint8_t kZeroHdr[kVnetHdrLen];

}  // namespace mtcp

#endif  // MTCP_DPDK_IO_NATIVE_BURST_H_
