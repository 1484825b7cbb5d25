// The descriptor table (fd_table.h).
#include "fd_table.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <mutex>
#include <string>
#include <unordered_map>

#include "napi_util.h"

namespace mtcp {
namespace {

struct FdInfo {
  Kind kind;
  bool vnet;
  int watchers;
  Ring* ring;            // owned; nullptr without PACKET_MMAP
  uint64_t kernelDrops;  // PACKET_STATISTICS tp_drops, accumulated (the kernel resets them on each read)
};

std::mutex g_mutex;
std::unordered_map<int, FdInfo> g_fds;

}  // namespace

void Remember(int fd, Kind kind, bool vnet, Ring* ring) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_fds[fd] = FdInfo{kind, vnet, 0, ring, 0};
}

bool Lookup(napi_env env, int fd, Kind* kind, bool* known, bool* vnet, Ring** ring) {
  if (ring != nullptr) *ring = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_fds.find(fd);
    if (it != g_fds.end()) {
      *kind = it->second.kind;
      *vnet = it->second.vnet;
      if (ring != nullptr) *ring = it->second.ring;
      *known = true;
      return true;
    }
  }
  *known = false;
  *vnet = false;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    ThrowErrno(env, errno, "fstat", "fd " + std::to_string(fd) + " is not open: use a descriptor returned by tapOpen() or packetOpen() and not yet closed");
    return false;
  }
  *kind = S_ISSOCK(st.st_mode) ? Kind::Packet : Kind::Tap;
  return true;
}

void AddWatcher(int fd) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_fds.find(fd);
  if (it != g_fds.end()) it->second.watchers++;
}

void ForgetWatcher(int fd) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_fds.find(fd);
  if (it != g_fds.end() && it->second.watchers > 0) it->second.watchers--;
}

uint64_t AccumulateKernelDrops(int fd) {
  struct tpacket_stats st;
  socklen_t len = sizeof st;
  bool read = getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0;
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_fds.find(fd);
  if (it == g_fds.end()) return read ? st.tp_drops : 0;
  if (read) it->second.kernelDrops += st.tp_drops;
  return it->second.kernelDrops;
}

bool Forget(int fd) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_fds.find(fd);
  if (it == g_fds.end()) return true;
  if (it->second.watchers > 0) return false;
  FreeRing(it->second.ring);  // unmapped before close: frames still in flight keep their pages
  g_fds.erase(it);
  return true;
}

}  // namespace mtcp
