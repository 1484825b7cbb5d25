// The addon's functions, one file per backend: tap.cc (TAP devices), af_packet.cc (AF_PACKET sockets and
// their rings' counters), burst.cc (burst reads and writes on either), watch.cc (libuv readiness, close).
#ifndef MTCP_DPDK_IO_NATIVE_EXPORTS_H_
#define MTCP_DPDK_IO_NATIVE_EXPORTS_H_

#include <node_api.h>

namespace mtcp {

napi_value TapOpen(napi_env env, napi_callback_info info);
napi_value PacketOpen(napi_env env, napi_callback_info info);
napi_value KernelDrops(napi_env env, napi_callback_info info);
napi_value RingStats(napi_env env, napi_callback_info info);
napi_value ReadBurst(napi_env env, napi_callback_info info);
napi_value WriteBurst(napi_env env, napi_callback_info info);
napi_value WatchFd(napi_env env, napi_callback_info info);
napi_value UnwatchFd(napi_env env, napi_callback_info info);
napi_value CloseFd(napi_env env, napi_callback_info info);

}  // namespace mtcp

#endif  // MTCP_DPDK_IO_NATIVE_EXPORTS_H_
