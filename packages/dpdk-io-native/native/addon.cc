// @mtcp/dpdk-io-native: raw Linux packet I/O for @mtcp/dpdk-io, TAP devices and AF_PACKET sockets.
//
// One file per part: napi_util (errors, arguments, the N-API status checks), fd_table (what we know of
// each descriptor we opened), checksum (virtio-net headers, software checksums), tap (TAP devices),
// af_packet (AF_PACKET sockets, their fanout program and counters), packet_ring (PACKET_MMAP rings),
// burst (burst reads and writes), watch (libuv readiness, close). This file registers the functions.
#include <node_api.h>

#include "exports.h"
#include "napi_util.h"

namespace mtcp {
namespace {

napi_value Init(napi_env env, napi_value exports) {
  const struct {
    const char* name;
    napi_callback fn;
  } fns[] = {
      {"tapOpen", TapOpen}, {"packetOpen", PacketOpen}, {"readBurst", ReadBurst}, {"writeBurst", WriteBurst},
      {"watch", WatchFd},   {"unwatch", UnwatchFd},     {"close", CloseFd},     {"ringStats", RingStats}, {"kernelDrops", KernelDrops},
  };
  for (const auto& f : fns) {
    napi_value v;
    NAPI_CALL(env, napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &v));
    NAPI_CALL(env, napi_set_named_property(env, exports, f.name, v));
  }
  return exports;
}

}  // namespace
}  // namespace mtcp

NAPI_MODULE(NODE_GYP_MODULE_NAME, mtcp::Init)
