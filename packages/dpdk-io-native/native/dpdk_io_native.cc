// Raw Linux packet I/O for @mtcp/dpdk-io: TAP devices and AF_PACKET sockets.
//
// Written against plain Node-API (node_api.h), so it needs no npm dependency to build. No C++
// exceptions are used (-fno-exceptions); every failure is thrown into JS as an Error whose `code` is
// the errno name ('EPERM', 'ENODEV', ...) and whose message names the cause and the fix.
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <unordered_map>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

namespace {

constexpr size_t kVnetHdrLen = 10;  // struct virtio_net_hdr, without num_buffers
// From <linux/virtio_net.h>, which does not compile as C++.
constexpr uint8_t VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
constexpr uint8_t VIRTIO_NET_HDR_GSO_NONE = 0;
#ifndef PACKET_FANOUT_FLAG_IGNORE_OUTGOING
#define PACKET_FANOUT_FLAG_IGNORE_OUTGOING 0x4000  // linux/if_packet.h since 6.3
#endif

#ifndef PACKET_FANOUT_DATA
#define PACKET_FANOUT_DATA 22  // linux/if_packet.h since 4.6
#endif
#ifndef PACKET_FANOUT_CBPF
#define PACKET_FANOUT_CBPF 6  // linux/if_packet.h since 4.6
#endif

constexpr unsigned kChunk = 64;     // frames per recvmmsg/sendmmsg call
constexpr int64_t kMaxPlainFrame = 1518;          // default ring frame: 1500-byte MTU + Ethernet + VLAN tag
constexpr int64_t kMaxVnetFrame = 65535 + 14 + 4;  // default ring frame with offloads: a 64 KB GSO/GRO frame
constexpr int64_t kMaxRingFrames = 65536;

// ---------------------------------------------------------------------------------------------
// Errors

const char* ErrnoName(int e) {
  switch (e) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case ENOTTY: return "ENOTTY";
    case ENOSPC: return "ENOSPC";
    case ERANGE: return "ERANGE";
    case ENOTSOCK: return "ENOTSOCK";
    case EMSGSIZE: return "EMSGSIZE";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EADDRINUSE: return "EADDRINUSE";
    case ENETDOWN: return "ENETDOWN";
    case ENETUNREACH: return "ENETUNREACH";
    case ENOBUFS: return "ENOBUFS";
    default: return "EUNKNOWN";
  }
}

// Throws a JS Error { code, errno, syscall, message }. Returns nullptr for convenient `return Throw(...)`.
napi_value Throw(napi_env env, const char* code, int err, const char* syscall, const std::string& message) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return nullptr;
  napi_value msg, codeValue, error;
  napi_create_string_utf8(env, message.c_str(), message.size(), &msg);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &codeValue);
  napi_create_error(env, nullptr, msg, &error);
  napi_set_named_property(env, error, "code", codeValue);
  if (err != 0) {
    napi_value errnoValue;
    napi_create_int32(env, -err, &errnoValue);
    napi_set_named_property(env, error, "errno", errnoValue);
  }
  if (syscall != nullptr) {
    napi_value sc;
    napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
    napi_set_named_property(env, error, "syscall", sc);
  }
  napi_throw(env, error);
  return nullptr;
}

napi_value ThrowErrno(napi_env env, int err, const char* syscall, const std::string& message) {
  return Throw(env, ErrnoName(err), err, syscall, message + " (" + strerror(err) + ")");
}

napi_value ThrowArg(napi_env env, const std::string& message) {
  return Throw(env, "ERR_INVALID_ARG", 0, nullptr, message);
}

napi_value Undefined(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

napi_value Int(napi_env env, int64_t n) {
  napi_value v;
  napi_create_int64(env, n, &v);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Argument helpers. Each returns false after throwing.

bool GetArgs(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return false;
  for (size_t i = argc; i < want; i++) napi_get_undefined(env, &argv[i]);
  return true;
}

bool GetFd(napi_env env, napi_value v, int* fd) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  int32_t n = -1;
  if (t != napi_number || napi_get_value_int32(env, v, &n) != napi_ok || n < 0) {
    ThrowArg(env, "fd must be a non-negative integer file descriptor from tapOpen() or packetOpen()");
    return false;
  }
  *fd = n;
  return true;
}

bool GetInt(napi_env env, napi_value v, const char* what, int64_t min, int64_t max, int64_t* out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  double d = 0;
  if (t != napi_number || napi_get_value_double(env, v, &d) != napi_ok || d != static_cast<double>(static_cast<int64_t>(d)) ||
      d < static_cast<double>(min) || d > static_cast<double>(max)) {
    ThrowArg(env, std::string(what) + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    return false;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

bool GetString(napi_env env, napi_value v, const char* what, std::string* out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_string) {
    ThrowArg(env, std::string(what) + " must be a string");
    return false;
  }
  size_t len = 0;
  napi_get_value_string_utf8(env, v, nullptr, 0, &len);
  out->resize(len);
  napi_get_value_string_utf8(env, v, &(*out)[0], len + 1, &len);
  return true;
}

// Reads opts[name] as a boolean; undefined/missing is `def`.
bool GetBoolOpt(napi_env env, napi_value opts, const char* name, bool def, bool* out) {
  *out = def;
  napi_valuetype t;
  napi_typeof(env, opts, &t);
  if (t == napi_undefined || t == napi_null) return true;
  if (t != napi_object) {
    ThrowArg(env, "options must be an object");
    return false;
  }
  napi_value v;
  napi_get_named_property(env, opts, name, &v);
  napi_typeof(env, v, &t);
  if (t == napi_undefined) return true;
  if (t != napi_boolean) {
    ThrowArg(env, std::string("options.") + name + " must be a boolean");
    return false;
  }
  napi_get_value_bool(env, v, out);
  return true;
}

bool GetBool(napi_env env, napi_value v, const char* what, bool* out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_boolean) {
    ThrowArg(env, std::string(what) + " must be a boolean");
    return false;
  }
  napi_get_value_bool(env, v, out);
  return true;
}

// A typed array of the wanted type; `elements` is its length in elements.
bool GetTyped(napi_env env, napi_value v, napi_typedarray_type want, const char* what, void** data, size_t* elements) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  if (!is || napi_get_typedarray_info(env, v, &type, elements, data, &ab, &off) != napi_ok || type != want) {
    ThrowArg(env, std::string(what) + (want == napi_int32_array ? " must be an Int32Array" : " must be a Uint8Array"));
    return false;
  }
  if (*elements == 0) *data = nullptr;
  return true;
}

bool ValidIfName(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ || name == "." || name == "..") return false;
  for (unsigned char c : name) {
    if (c == '/' || c == ':' || c <= ' ' || c == 0x7f) return false;
  }
  return true;
}

std::string BadNameMessage(const std::string& name) {
  return "invalid interface name '" + name + "': use 1-" + std::to_string(IFNAMSIZ - 1) +
         " characters without '/', ':' or whitespace";
}

// ---------------------------------------------------------------------------------------------
// What we know about descriptors we opened. Unknown descriptors are probed with fstat().

enum class Kind { Tap, Packet };

// PACKET_MMAP rings of one AF_PACKET socket (TPACKET_V2, one frame per slot; Documentation/networking/
// packet_mmap.rst). The RX ring comes first in the mapping, then the TX ring.
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

struct FdInfo {
  Kind kind;
  bool vnet;
  int watchers;
  Ring* ring;  // owned; nullptr without PACKET_MMAP
  uint64_t kernelDrops;  // PACKET_STATISTICS tp_drops, accumulated (the kernel resets them on each read)
};

std::mutex g_mutex;
std::unordered_map<int, FdInfo> g_fds;

void Remember(int fd, Kind kind, bool vnet, Ring* ring = nullptr) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_fds[fd] = FdInfo{kind, vnet, 0, ring, 0};
}

// Returns false after throwing. `*ring` is the descriptor's rings, or nullptr. A ring is only used by
// the thread that owns the descriptor (one port per worker), so it is not locked.
bool Lookup(napi_env env, int fd, Kind* kind, bool* known, bool* vnet, Ring** ring = nullptr) {
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

// ---------------------------------------------------------------------------------------------
// One burst of `n` prepared messages: recvmmsg/sendmmsg on a packet socket, readv/writev per frame on
// a TAP (which has no batched call). Returns how many completed, each with its length in msg_len;
// `*err` gets the errno that stopped the burst, or 0. EINTR is retried.

enum class Direction { Receive, Send };

unsigned TransferBurst(int fd, Kind kind, struct mmsghdr* msgs, unsigned n, Direction direction, int* err) {
  *err = 0;
  if (kind == Kind::Packet) {
    for (;;) {
      int r = direction == Direction::Send ? sendmmsg(fd, msgs, n, MSG_DONTWAIT)
                                           : recvmmsg(fd, msgs, n, MSG_DONTWAIT | MSG_TRUNC, nullptr);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        *err = errno;
        return 0;
      }
      return static_cast<unsigned>(r);
    }
  }
  unsigned done = 0;
  while (done < n) {
    struct msghdr& header = msgs[done].msg_hdr;
    int count = static_cast<int>(header.msg_iovlen);
    ssize_t r = direction == Direction::Send ? writev(fd, header.msg_iov, count) : readv(fd, header.msg_iov, count);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      *err = errno;
      break;
    }
    msgs[done].msg_len = static_cast<unsigned>(r);
    done++;
  }
  return done;
}

// ---------------------------------------------------------------------------------------------
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

uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

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
// frame reads as sent. IPv4 only (the stack's protocol); anything else is left alone.
void CompletePartialIpv4(uint8_t* f, size_t len) {
  if (len < 14 + 20 || f[12] != 0x08 || f[13] != 0x00 || (f[14] >> 4) != 4) return;
  size_t ihl = static_cast<size_t>(f[14] & 0x0f) * 4;
  size_t total = (static_cast<size_t>(f[16]) << 8) | f[17];
  size_t start = 14 + ihl, end = 14 + total;
  uint8_t proto = f[14 + 9];
  size_t offset = proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 0;
  if (ihl < 20 || offset == 0 || end > len || start + offset + 2 > end) return;
  uint16_t sum = static_cast<uint16_t>(~FoldedSum(f + start, end - start));
  if (sum == 0 && proto == IPPROTO_UDP) sum = 0xffff;  // RFC 768
  memcpy(f + start + offset, &sum, 2);
}

// ---------------------------------------------------------------------------------------------
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

uint32_t LoadStatus(const uint8_t* slot) {
  return __atomic_load_n(&reinterpret_cast<const struct tpacket2_hdr*>(slot)->tp_status, __ATOMIC_ACQUIRE);
}
void StoreStatus(uint8_t* slot, uint32_t status) {
  __atomic_store_n(&reinterpret_cast<struct tpacket2_hdr*>(slot)->tp_status, status, __ATOMIC_RELEASE);
}

// One kick hands every TP_STATUS_SEND_REQUEST slot from the kernel's head on to the device. With
// MSG_DONTWAIT it never sleeps; it stops early (frames left in SEND_REQUEST) when the send buffer is
// full (EAGAIN/ENOBUFS) or a frame is malformed (marked TP_STATUS_WRONG_FORMAT).
int Kick(int fd, Ring* ring) {
  for (;;) {
    ssize_t r = send(fd, nullptr, 0, MSG_DONTWAIT);
    if (r < 0 && errno == EINTR) continue;
    ring->txKicks++;
    return r < 0 ? errno : 0;
  }
}

// ---------------------------------------------------------------------------------------------
// tapOpen(name, { vnetHeader, multiQueue, offloads }) -> fd

napi_value TapOpen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  std::string name;
  if (!GetString(env, argv[0], "name", &name)) return nullptr;
  bool vnet, multiQueue, offloads;
  if (!GetBoolOpt(env, argv[1], "vnetHeader", false, &vnet) || !GetBoolOpt(env, argv[1], "multiQueue", false, &multiQueue) ||
      !GetBoolOpt(env, argv[1], "offloads", false, &offloads))
    return nullptr;
  if (!ValidIfName(name)) return Throw(env, "EINVAL", EINVAL, "ioctl(TUNSETIFF)", BadNameMessage(name));
  if (offloads && !vnet)
    return Throw(env, "EINVAL", EINVAL, "ioctl(TUNSETOFFLOAD)",
                 "offloads need vnetHeader: without a virtio-net header the kernel cannot describe checksum-partial or GSO frames; pass { vnetHeader: true, offloads: true }");

  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT || e == ENXIO || e == ENODEV)
      return ThrowErrno(env, e, "open", "cannot open /dev/net/tun: load the tun module (modprobe tun) or create the device node (mkdir -p /dev/net && mknod /dev/net/tun c 10 200)");
    if (e == EACCES || e == EPERM)
      return ThrowErrno(env, e, "open", "no permission to open /dev/net/tun: run as root, or give the process CAP_NET_ADMIN and read/write access to /dev/net/tun");
    return ThrowErrno(env, e, "open", "cannot open /dev/net/tun");
  }

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0) | (multiQueue ? IFF_MULTI_QUEUE : 0);
  memcpy(ifr.ifr_name, name.data(), name.size());
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    int e = errno;
    close(fd);
    if (e == EPERM || e == EACCES)
      return ThrowErrno(env, e, "ioctl(TUNSETIFF)", "cannot create or attach TAP '" + name +
                                                        "': needs CAP_NET_ADMIN (run as root), or create it persistently for this user with `ip tuntap add mode tap user $USER name " + name + "`");
    if (e == EBUSY)
      return ThrowErrno(env, e, "ioctl(TUNSETIFF)", "TAP '" + name + "' is busy: another process has it open (use multiQueue on both sides to share it) or a non-TAP device has that name");
    if (e == EINVAL)
      return ThrowErrno(env, e, "ioctl(TUNSETIFF)", "cannot attach TAP '" + name +
                                                        "': the name is invalid, names an existing non-TAP device, or the device was created with different flags (multi_queue / vnet_hdr must match `ip tuntap add` options)");
    return ThrowErrno(env, e, "ioctl(TUNSETIFF)", "cannot create or attach TAP '" + name + "'");
  }

  if (vnet) {
    int size = static_cast<int>(kVnetHdrLen);
    if (ioctl(fd, TUNSETVNETHDRSZ, &size) != 0) {
      int e = errno;
      close(fd);
      return ThrowErrno(env, e, "ioctl(TUNSETVNETHDRSZ)", "the kernel refused a 10-byte virtio-net header on TAP '" + name + "': open it without vnetHeader");
    }
  }
  if (offloads) {
    unsigned long full = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
    if (ioctl(fd, TUNSETOFFLOAD, full) != 0 && ioctl(fd, TUNSETOFFLOAD, static_cast<unsigned long>(TUN_F_CSUM | TUN_F_TSO4)) != 0) {
      int e = errno;
      close(fd);
      return ThrowErrno(env, e, "ioctl(TUNSETOFFLOAD)", "the kernel refused checksum/TSO offloads on TAP '" + name + "': open it with offloads: false");
    }
  }
  // O_NONBLOCK was set at open(); make sure (an attached persistent device keeps the file's flags).
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
    int e = errno;
    close(fd);
    return ThrowErrno(env, e, "fcntl", "cannot make the TAP descriptor non-blocking");
  }
  Remember(fd, Kind::Tap, vnet);
  return Int(env, fd);
}

// ---------------------------------------------------------------------------------------------
// The 'ports' fanout program (PACKET_FANOUT_CBPF): a hash of the TCP ports that user space can compute.
//
// net/packet/af_packet.c, fanout_demux_bpf: the member is `bpf_prog_run(prog, skb) % num_members`,
// f->arr[] holding the members in the order they joined (a member that leaves is replaced by the last).
// For TCP over IPv4 the program returns ((srcPort ^ dstPort) * 0x9e3779b1 mod 2^32) >> 16: the XOR is
// the same for both directions of a flow, and the multiplication (Knuth's multiplicative hash) brings
// every bit of it into the result's low bits, which matter for `% members` (Linux clients connect from
// even ports only, so the XOR's low bit alone would send every client of one listener to one member).
// Everything else returns 0 (the first member): ARP, ICMP, UDP, IPv6, IP fragments after the first,
// and VLAN-tagged frames (skb->protocol is then 802.1Q unless the device stripped the tag).
// Loads are relative to the network header (SKF_NET_OFF) and the EtherType is skb->protocol
// (SKF_AD_PROTOCOL), so it does not depend on where skb->data points when the demux runs.

constexpr uint32_t kNet = static_cast<uint32_t>(SKF_NET_OFF);
const struct sock_filter kPortsProgram[] = {
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_PROTOCOL)),  // 0: A = EtherType
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 13),                                      // 1: IPv4, else 15
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, kNet + 9),                                              // 2: A = IP protocol
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 11),                                             // 3: TCP, else 15
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, kNet + 6),                                              // 4: A = flags, fragment offset
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 9, 0),                                        // 5: a later fragment: 15
    BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, kNet + 0),                                             // 6: X = IP header length
    BPF_STMT(BPF_LD | BPF_H | BPF_IND, kNet + 0),                                              // 7: A = source port
    BPF_STMT(BPF_ST, 0),                                                                       // 8: M[0] = A
    BPF_STMT(BPF_LD | BPF_H | BPF_IND, kNet + 2),                                              // 9: A = destination port
    BPF_STMT(BPF_LDX | BPF_W | BPF_MEM, 0),                                                    // 10: X = M[0]
    BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),                                                    // 11: A = source ^ destination
    BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 0x9e3779b1u),                                          // 12: A *= 0x9e3779b1 (32 bits)
    BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),                                                   // 13: A >>= 16
    BPF_STMT(BPF_RET | BPF_A, 0),                                                              // 14: return A
    BPF_STMT(BPF_RET | BPF_K, 0),                                                              // 15: anything else: member 0
};

// ---------------------------------------------------------------------------------------------
// packetOpen(ifname, { vnetHeader, fanoutGroup?, fanoutMode? }) -> fd

napi_value PacketOpen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  std::string name;
  if (!GetString(env, argv[0], "ifname", &name)) return nullptr;
  bool vnet;
  if (!GetBoolOpt(env, argv[1], "vnetHeader", false, &vnet)) return nullptr;
  bool fanout = false;
  int64_t group = 0;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t == napi_object) {
    napi_value g;
    napi_get_named_property(env, argv[1], "fanoutGroup", &g);
    napi_typeof(env, g, &t);
    if (t != napi_undefined) {
      if (!GetInt(env, g, "options.fanoutGroup", 0, 0xffff, &group)) return nullptr;
      fanout = true;
    }
  }
  bool ports = false;
  napi_typeof(env, argv[1], &t);
  if (t == napi_object) {
    napi_value m;
    napi_get_named_property(env, argv[1], "fanoutMode", &m);
    napi_typeof(env, m, &t);
    if (t != napi_undefined) {
      std::string mode;
      if (t != napi_string || !GetString(env, m, "options.fanoutMode", &mode) || (mode != "hash" && mode != "ports")) {
        bool pending = false;
        napi_is_exception_pending(env, &pending);
        if (pending) return nullptr;
        return ThrowArg(env, "options.fanoutMode must be 'hash' or 'ports'");
      }
      ports = mode == "ports";
      if (ports && !fanout) return ThrowArg(env, "options.fanoutMode 'ports' needs options.fanoutGroup");
    }
  }
  int64_t ringRx = 0, ringTx = 0, ringFrameSize = vnet ? kMaxVnetFrame : kMaxPlainFrame;
  napi_typeof(env, argv[1], &t);
  if (t == napi_object) {
    napi_value v;
    napi_get_named_property(env, argv[1], "ringRxFrames", &v);
    napi_typeof(env, v, &t);
    if (t != napi_undefined && !GetInt(env, v, "options.ringRxFrames", 0, kMaxRingFrames, &ringRx)) return nullptr;
    napi_get_named_property(env, argv[1], "ringTxFrames", &v);
    napi_typeof(env, v, &t);
    if (t != napi_undefined && !GetInt(env, v, "options.ringTxFrames", 0, kMaxRingFrames, &ringTx)) return nullptr;
    if ((ringRx == 0) != (ringTx == 0) || ringRx == 1 || ringTx == 1)
      return ThrowArg(env, "options.ringRxFrames and options.ringTxFrames must both be 0 (no rings) or both at least 2");
    napi_get_named_property(env, argv[1], "ringFrameSize", &v);
    napi_typeof(env, v, &t);
    if (t != napi_undefined && !GetInt(env, v, "options.ringFrameSize", 60, 262144, &ringFrameSize)) return nullptr;
  }
  if (!ValidIfName(name)) return Throw(env, "EINVAL", EINVAL, "if_nametoindex", BadNameMessage(name));
  unsigned ifindex = if_nametoindex(name.c_str());
  if (ifindex == 0) {
    int e = errno == 0 ? ENODEV : errno;
    return ThrowErrno(env, e, "if_nametoindex", "no network interface named '" + name + "' in this network namespace: check the name with `ip link show`");
  }

  // Protocol 0 until bound, so that no frame of another interface is queued before bind().
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    if (e == EPERM || e == EACCES)
      return ThrowErrno(env, e, "socket", "cannot open an AF_PACKET socket: needs CAP_NET_RAW (run as root or `setcap cap_net_raw+ep $(command -v node)`)");
    if (e == EAFNOSUPPORT)
      return ThrowErrno(env, e, "socket", "AF_PACKET is not available: load the af_packet module (modprobe af_packet)");
    return ThrowErrno(env, e, "socket", "cannot open an AF_PACKET socket");
  }
  int one = 1;
  if (vnet && setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0) {
    int e = errno;
    close(fd);
    return ThrowErrno(env, e, "setsockopt(PACKET_VNET_HDR)", "the kernel refused virtio-net headers on AF_PACKET: open it without vnetHeader");
  }
  Ring* ring = nullptr;
  if (ringRx > 0) {
    const char* syscall = nullptr;
    int e = SetUpRing(fd, static_cast<unsigned>(ringRx), static_cast<unsigned>(ringTx), static_cast<unsigned>(ringFrameSize), vnet, &ring, &syscall);
    if (e != 0) {
      close(fd);
      return ThrowErrno(env, e, syscall, std::string("cannot set up PACKET_MMAP rings on '") + name + "'" +
                                             (e == ENOMEM ? ": not enough memory for the rings, use fewer ring frames" :
                                              e == EINVAL || e == ENOPROTOOPT ? (vnet ? ": this kernel lacks TPACKET_V2 rings with virtio-net headers (Linux 5.8+); open it without rings"
                                                                                     : ": this kernel lacks TPACKET_V2 rings; open it without rings") : ""));
    }
  }
  // Best effort (Linux >= 4.20): do not receive our own transmissions.
  (void)setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  // Without virtio-net headers, learn which frames arrive checksum-partial (CompletePartialIpv4).
  if (!vnet) (void)setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one);
  // Without a ring the socket's receive queue is the only buffer between two bursts: the default (~208 KB)
  // overflows while the stack sends a long burst, and the kernel peer retransmits what it dropped. 8 MB,
  // forced when we may (CAP_NET_ADMIN), else as much as net.core.rmem_max allows.
  if (ring == nullptr) {
    int bytes = 8 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0) (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }

  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(ifindex);
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&sll), sizeof sll) != 0) {
    int e = errno;
    FreeRing(ring);
    close(fd);
    return ThrowErrno(env, e, "bind", "cannot bind the AF_PACKET socket to '" + name + "'" + (e == ENETDOWN ? ": bring it up with `ip link set " + name + " up`" : std::string()));
  }
  if (fanout) {
    // A member of a fanout group receives the group's own transmissions even with PACKET_IGNORE_OUTGOING;
    // PACKET_FANOUT_FLAG_IGNORE_OUTGOING (Linux 6.3+) stops that. Older kernels refuse the flag: join without.
    const int type = ports ? PACKET_FANOUT_CBPF : PACKET_FANOUT_HASH;
    const char* modeName = ports ? "ports" : "hash";
    int arg = static_cast<int>(group) | ((type | PACKET_FANOUT_FLAG_IGNORE_OUTGOING) << 16);
    int r = setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg);
    if (r != 0 && errno == EINVAL) {
      arg = static_cast<int>(group) | (type << 16);
      r = setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg);
    }
    if (r != 0) {
      int e = errno;
      FreeRing(ring);
      close(fd);
      return ThrowErrno(env, e, "setsockopt(PACKET_FANOUT)", "cannot join fanout group " + std::to_string(group) + " on '" + name +
                                                                 "' in " + modeName + " mode: every member must use the same mode and interface" +
                                                                 (ports ? " (and 'ports' needs PACKET_FANOUT_CBPF, Linux 4.6+)" : "") + "; pick another group id");
    }
    if (ports) {
      // The program belongs to the group (af_packet.c, fanout_set_data: only once joined). Every member
      // sets the same one, so the group has it whichever member joined first and whoever is left.
      struct sock_fprog prog;
      prog.len = static_cast<unsigned short>(sizeof kPortsProgram / sizeof kPortsProgram[0]);
      prog.filter = const_cast<struct sock_filter*>(kPortsProgram);
      if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT_DATA, &prog, sizeof prog) != 0) {
        int e = errno;
        FreeRing(ring);
        close(fd);
        return ThrowErrno(env, e, "setsockopt(PACKET_FANOUT_DATA)", "the kernel refused the 'ports' fanout program on '" + name + "': use fanoutMode 'hash'");
      }
    }
  }
  Remember(fd, Kind::Packet, vnet, ring);
  return Int(env, fd);
}

// ---------------------------------------------------------------------------------------------
// Burst I/O

struct Slots {
  napi_value array;
  uint32_t count;
  int32_t* offsets;
  size_t offsetsLen;
  int32_t* lengths;
  size_t lengthsLen;
};

bool GetSlots(napi_env env, napi_value* argv, Slots* s) {
  bool isArray = false;
  napi_is_array(env, argv[0], &isArray);
  if (!isArray) {
    ThrowArg(env, "buffers must be an array of Uint8Array");
    return false;
  }
  s->array = argv[0];
  napi_get_array_length(env, argv[0], &s->count);
  void* p;
  if (!GetTyped(env, argv[1], napi_int32_array, "offsets", &p, &s->offsetsLen)) return false;
  s->offsets = static_cast<int32_t*>(p);
  if (!GetTyped(env, argv[2], napi_int32_array, "lengths", &p, &s->lengthsLen)) return false;
  s->lengths = static_cast<int32_t*>(p);
  return true;
}

// buffers[i] as (data, byteLength); false after throwing. Builds no string unless it throws.
bool SlotBuffer(napi_env env, const Slots& s, uint32_t i, uint8_t** data, size_t* len) {
  napi_value el;
  napi_get_element(env, s.array, i, &el);
  bool is = false;
  napi_is_typedarray(env, el, &is);
  napi_typedarray_type type;
  void* p = nullptr;
  napi_value ab;
  size_t off;
  if (!is || napi_get_typedarray_info(env, el, &type, len, &p, &ab, &off) != napi_ok || type != napi_uint8_array) {
    ThrowArg(env, "buffers[" + std::to_string(i) + "] must be a Uint8Array");
    return false;
  }
  *data = static_cast<uint8_t*>(p);
  return true;
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
        if (!ring->vnet || !CompleteChecksum(slot + mac - kVnetHdrLen, data + off, full, &why)) CompletePartialIpv4(data + off, full);
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

// The arguments readBurst and writeBurst share: (fd, buffers, offsets, lengths, count, …, headers), with
// `count` (named `countName`) checked against the three arrays and `headers`, an optional Uint8Array of
// virtio-net headers (named `headersName`), checked to hold one per frame when `checkHeaders` and not empty.
// Returns false after throwing.
struct BurstArgs {
  int fd;
  Slots slots;
  int64_t count;
  uint8_t* headers = nullptr;
  size_t headersLength = 0;
};

bool GetBurstArgs(napi_env env, napi_value* argv, napi_value headersArg, const char* countName, const char* headersName, bool checkHeaders, BurstArgs* out) {
  if (!GetFd(env, argv[0], &out->fd)) return false;
  if (!GetSlots(env, argv + 1, &out->slots)) return false;
  if (!GetInt(env, argv[4], countName, 0, 1 << 20, &out->count)) return false;
  napi_valuetype t;
  napi_typeof(env, headersArg, &t);
  if (t != napi_undefined) {
    void* p;
    if (!GetTyped(env, headersArg, napi_uint8_array, headersName, &p, &out->headersLength)) return false;
    out->headers = static_cast<uint8_t*>(p);
  }
  const Slots& s = out->slots;
  const uint64_t count = static_cast<uint64_t>(out->count);
  if (count > s.count || count > s.offsetsLen || count > s.lengthsLen) {
    ThrowArg(env, std::string(countName) + " exceeds buffers.length, offsets.length or lengths.length");
    return false;
  }
  if (checkHeaders && out->headersLength != 0 && out->headersLength < count * kVnetHdrLen) {
    ThrowArg(env, std::string(headersName) + " must hold 10 bytes per packet (" + countName + " * 10) or be empty");
    return false;
  }
  return true;
}

// readBurst(fd, buffers, offsets, lengths, max, vnetHeader, vnetOut) -> count
napi_value ReadBurst(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!GetArgs(env, info, 7, argv)) return nullptr;
  bool vnet;
  if (!GetBool(env, argv[5], "vnetHeader", &vnet)) return nullptr;
  BurstArgs args;
  if (!GetBurstArgs(env, argv, argv[6], "max", "vnetOut", vnet, &args)) return nullptr;
  const int fd = args.fd;
  const Slots& s = args.slots;
  const int64_t max = args.count;
  uint8_t* vnetOut = args.headers;
  const size_t vnetOutLen = args.headersLength;
  Kind kind;
  bool known, fdVnet;
  Ring* ring;
  if (!Lookup(env, fd, &kind, &known, &fdVnet, &ring)) return nullptr;
  if (known && fdVnet != vnet)
    return Throw(env, "EINVAL", EINVAL, nullptr, std::string("fd ") + std::to_string(fd) + (fdVnet ? " was opened with vnetHeader: pass vnetHeader = true" : " was opened without vnetHeader: pass vnetHeader = false"));
  if (ring != nullptr) {
    int64_t got = RingRead(env, ring, s, static_cast<uint32_t>(max), vnet, vnetOutLen != 0 ? vnetOut : nullptr);
    return got < 0 ? nullptr : Int(env, got);
  }

  // Gather the slots first: N-API calls are not allowed to interleave with a half-done burst's bookkeeping.
  uint8_t scratch[kVnetHdrLen];
  uint32_t done = 0;
  while (done < max) {
    unsigned n = static_cast<unsigned>(std::min<int64_t>(kChunk, max - done));
    struct iovec iov[kChunk][2];
    struct mmsghdr msgs[kChunk];
    size_t caps[kChunk];
    // Without virtio-net headers, PACKET_AUXDATA tells which frames still need their checksum completed.
    alignas(struct cmsghdr) uint8_t control[kChunk][CMSG_SPACE(sizeof(struct tpacket_auxdata))];
    const bool auxdata = kind == Kind::Packet && !vnet;
    for (unsigned j = 0; j < n; j++) {
      uint32_t i = done + j;
      uint8_t* data;
      size_t len;
      if (!SlotBuffer(env, s, i, &data, &len)) return nullptr;
      int32_t off = s.offsets[i];
      if (off < 0 || static_cast<size_t>(off) > len) return ThrowArg(env, "offsets[" + std::to_string(i) + "] is outside buffers[" + std::to_string(i) + "]");
      caps[j] = len - static_cast<size_t>(off);
      int k = 0;
      if (vnet) {
        iov[j][k].iov_base = vnetOut ? vnetOut + static_cast<size_t>(i) * kVnetHdrLen : scratch;
        iov[j][k].iov_len = kVnetHdrLen;
        k++;
      }
      iov[j][k].iov_base = data + off;
      iov[j][k].iov_len = caps[j];
      k++;
      memset(&msgs[j], 0, sizeof msgs[j]);
      msgs[j].msg_hdr.msg_iov = iov[j];
      msgs[j].msg_hdr.msg_iovlen = static_cast<size_t>(k);
      if (auxdata) {
        msgs[j].msg_hdr.msg_control = control[j];
        msgs[j].msg_hdr.msg_controllen = sizeof control[j];
      }
    }
    size_t hdr = vnet ? kVnetHdrLen : 0;
    int err = 0;
    unsigned got = TransferBurst(fd, kind, msgs, n, Direction::Receive, &err);
    for (unsigned j = 0; j < got; j++) {
      size_t total = msgs[j].msg_len;
      size_t frame = total > hdr ? total - hdr : 0;
      // A frame longer than its slot was cut: report the full length negated so the caller can drop it.
      s.lengths[done + j] = frame > caps[j] ? -static_cast<int32_t>(frame) : static_cast<int32_t>(frame);
      if (auxdata && frame <= caps[j]) {
        for (struct cmsghdr* c = CMSG_FIRSTHDR(&msgs[j].msg_hdr); c != nullptr; c = CMSG_NXTHDR(&msgs[j].msg_hdr, c)) {
          if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA) continue;
          struct tpacket_auxdata aux;
          memcpy(&aux, CMSG_DATA(c), sizeof aux);
          if (aux.tp_status & TP_STATUS_CSUMNOTREADY) CompletePartialIpv4(static_cast<uint8_t*>(iov[j][0].iov_base), frame);
        }
      }
    }
    done += got;
    if (err != 0) {
      if (err == EAGAIN || err == EWOULDBLOCK || done > 0) break;
      if (err == ENETDOWN) break;  // interface went down: nothing to read
      return ThrowErrno(env, err, kind == Kind::Packet ? "recvmmsg" : "read", "reading frames from fd " + std::to_string(fd) + " failed" +
                                                                        (err == EBADFD || err == EBADF ? ": the TAP is not attached or the descriptor was closed" : ""));
    }
    if (got < n) break;
  }
  return Int(env, done);
}

const uint8_t kZeroHdr[kVnetHdrLen] = {0};

std::string WriteFailure(int err, uint32_t frame, int fd) {
  return "writing frame " + std::to_string(frame) + " to fd " + std::to_string(fd) + " failed" +
         (err == EIO ? ": the TAP interface is down, bring it up with `ip link set <name> up`"
          : err == ENETDOWN ? ": the interface is down, bring it up with `ip link set <name> up`"
          : err == EINVAL || err == EMSGSIZE ? ": the frame is malformed or larger than the MTU allows; drop it" : "");
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

// writeBurst(fd, buffers, offsets, lengths, count, vnetIn) -> sent
napi_value WriteBurst(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!GetArgs(env, info, 6, argv)) return nullptr;
  BurstArgs args;
  if (!GetBurstArgs(env, argv, argv[5], "count", "vnetIn", true, &args)) return nullptr;
  const int fd = args.fd;
  const Slots& s = args.slots;
  const int64_t count = args.count;
  uint8_t* vnetIn = args.headersLength == 0 ? nullptr : args.headers;
  Kind kind;
  bool known, fdVnet;
  Ring* ring;
  if (!Lookup(env, fd, &kind, &known, &fdVnet, &ring)) return nullptr;
  // Headers for a descriptor of ours opened without them: the addon applies their checksum requests itself.
  bool software = known && !fdVnet && vnetIn != nullptr;
  bool vnet = !software && (vnetIn != nullptr || (known && fdVnet));  // a vnet descriptor with empty vnetIn gets zero headers
  if (ring != nullptr) {
    int64_t sent = RingWrite(env, fd, ring, s, static_cast<uint32_t>(count), software, vnetIn);
    return sent < 0 ? nullptr : Int(env, sent);
  }

  uint32_t sent = 0;
  while (sent < count) {
    unsigned n = static_cast<unsigned>(std::min<int64_t>(kChunk, count - sent));
    struct iovec iov[kChunk][2];
    struct mmsghdr msgs[kChunk];
    for (unsigned j = 0; j < n; j++) {
      uint32_t i = sent + j;
      uint8_t* data;
      size_t len;
      if (!SlotBuffer(env, s, i, &data, &len)) return nullptr;
      int32_t off = s.offsets[i], flen = s.lengths[i];
      if (off < 0 || flen < 0 || static_cast<size_t>(off) + static_cast<size_t>(flen) > len)
        return ThrowArg(env, "offsets[" + std::to_string(i) + "] + lengths[" + std::to_string(i) + "] is outside buffers[" + std::to_string(i) + "]");
      if (software) {
        std::string why;
        if (!CompleteChecksum(vnetIn + static_cast<size_t>(i) * kVnetHdrLen, data + off, static_cast<size_t>(flen), &why))
          return ThrowArg(env, "vnetIn[" + std::to_string(i) + "]: " + why);
      }
      int k = 0;
      if (vnet) {
        iov[j][k].iov_base = const_cast<uint8_t*>(vnetIn ? vnetIn + static_cast<size_t>(i) * kVnetHdrLen : kZeroHdr);
        iov[j][k].iov_len = kVnetHdrLen;
        k++;
      }
      iov[j][k].iov_base = data + off;
      iov[j][k].iov_len = static_cast<size_t>(flen);
      k++;
      memset(&msgs[j], 0, sizeof msgs[j]);
      msgs[j].msg_hdr.msg_iov = iov[j];
      msgs[j].msg_hdr.msg_iovlen = static_cast<size_t>(k);
    }
    int err = 0;
    unsigned put = TransferBurst(fd, kind, msgs, n, Direction::Send, &err);
    sent += put;
    if (err != 0) {
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || sent > 0) break;
      return ThrowErrno(env, err, kind == Kind::Packet ? "sendmmsg" : "writev", WriteFailure(err, sent, fd));
    }
    if (put < n && kind == Kind::Packet) continue;  // sendmmsg stopped early: the next call reports why
  }
  return Int(env, sent);
}

// ringStats(fd) -> { rxSlots, txSlots, frameSize, rxFrames, rxKernelDrops, txFrames, txRefused, txWrongFormat, txKicks } or undefined
// Frames the kernel dropped on a packet socket before we read them (a full receive ring or socket queue).
// PACKET_STATISTICS resets the kernel's counters on every read, so they are accumulated per descriptor.
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

// kernelDrops(fd) -> frames the kernel dropped on this packet socket since it was opened (0 for a TAP).
napi_value KernelDrops(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  int fd;
  if (!GetFd(env, argv[0], &fd)) return nullptr;
  Kind kind;
  bool known, vnet;
  if (!Lookup(env, fd, &kind, &known, &vnet)) return nullptr;
  if (kind != Kind::Packet) return Int(env, 0);
  return Int(env, static_cast<int64_t>(AccumulateKernelDrops(fd)));
}

napi_value RingStats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  int fd;
  if (!GetFd(env, argv[0], &fd)) return nullptr;
  Kind kind;
  bool known, vnet;
  Ring* ring;
  if (!Lookup(env, fd, &kind, &known, &vnet, &ring)) return nullptr;
  if (ring == nullptr) return Undefined(env);
  ring->rxKernelDrops = AccumulateKernelDrops(fd);
  napi_value out;
  napi_create_object(env, &out);
  const struct {
    const char* name;
    uint64_t value;
  } fields[] = {
      {"rxSlots", ring->rxSlots}, {"txSlots", ring->txSlots}, {"frameSize", ring->frameSize}, {"rxFrames", ring->rxFrames},
      {"rxKernelDrops", ring->rxKernelDrops}, {"txFrames", ring->txFrames}, {"txRefused", ring->txRefused},
      {"txWrongFormat", ring->txWrongFormat}, {"txKicks", ring->txKicks},
  };
  for (auto& f : fields) napi_set_named_property(env, out, f.name, Int(env, static_cast<int64_t>(f.value)));
  return out;
}

// ---------------------------------------------------------------------------------------------
// watch(fd, callback) -> handle; unwatch(handle)

struct Watch {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  napi_async_cleanup_hook_handle cleanup;
  int fd;
  bool active;     // poll handle started and not yet closed
  bool tearingDown;
};

void ForgetWatcher(int fd) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_fds.find(fd);
  if (it != g_fds.end() && it->second.watchers > 0) it->second.watchers--;
}

void OnPollClosed(uv_handle_t* h) {
  Watch* w = static_cast<Watch*>(h->data);
  if (w->tearingDown) napi_remove_async_cleanup_hook(w->cleanup);
  delete w;
}

// Stop and close the poll handle; idempotent. Releases JS references unless the env is going away.
void StopWatch(Watch* w) {
  if (!w->active) return;
  w->active = false;
  ForgetWatcher(w->fd);
  uv_poll_stop(&w->poll);
  if (!w->tearingDown) {
    napi_remove_async_cleanup_hook(w->cleanup);
    napi_delete_reference(w->env, w->callback);
    napi_async_destroy(w->env, w->async);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnPollClosed);
}

void OnEnvTeardown(napi_async_cleanup_hook_handle handle, void* arg) {
  Watch* w = static_cast<Watch*>(arg);
  w->tearingDown = true;
  StopWatch(w);
}

void OnPoll(uv_poll_t* handle, int status, int events) {
  Watch* w = static_cast<Watch*>(handle->data);
  if (!w->active) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, result;
  napi_get_reference_value(env, w->callback, &cb);
  napi_get_global(env, &recv);  // napi_make_callback needs an object receiver
  napi_value argv[1];
  size_t argc = 0;
  if (status < 0) {
    // The fd is broken (closed behind our back, ...): report it once and stop watching.
    napi_value msg, code, err;
    std::string m = "watching fd " + std::to_string(w->fd) + " failed: " + uv_strerror(status) + "; call unwatch() and reopen the device";
    napi_create_string_utf8(env, m.c_str(), m.size(), &msg);
    napi_create_string_utf8(env, ErrnoName(-status), NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, nullptr, msg, &err);
    napi_set_named_property(env, err, "code", code);
    argv[0] = err;
    argc = 1;
    uv_poll_stop(&w->poll);
  }
  if (cb != nullptr) {
    napi_status st = napi_make_callback(env, w->async, recv, cb, argc, argv, &result);
    if (st != napi_ok) {
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value ex;
        napi_get_and_clear_last_exception(env, &ex);
        napi_fatal_exception(env, ex);  // -> process 'uncaughtException', like any other callback
      }
    }
  }
  napi_close_handle_scope(env, scope);
}

// What JS holds: freed by GC; unwatch() clears `watch`. A dropped handle leaves its watch running.
constexpr uint32_t kTokenMagic = 0x6d746370;
struct WatchToken {
  uint32_t magic;
  Watch* watch;
};

void FinalizeToken(napi_env, void* data, void*) {
  WatchToken* token = static_cast<WatchToken*>(data);
  token->magic = 0;
  delete token;
}

napi_value WatchFd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  int fd;
  if (!GetFd(env, argv[0], &fd)) return nullptr;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t != napi_function) return ThrowArg(env, "callback must be a function");
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return Throw(env, "ERR_NO_LOOP", 0, nullptr, "no libuv event loop for this environment");

  Watch* w = new Watch();
  w->env = env;
  w->fd = fd;
  int r = uv_poll_init(loop, &w->poll, fd);
  if (r != 0) {
    delete w;
    return Throw(env, ErrnoName(-r), -r, "uv_poll_init", "cannot watch fd " + std::to_string(fd) + ": " + uv_strerror(r) + "; pass a descriptor from tapOpen() or packetOpen()");
  }
  w->poll.data = w;
  r = uv_poll_start(&w->poll, UV_READABLE, OnPoll);
  if (r != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), [](uv_handle_t* h) { delete static_cast<Watch*>(h->data); });
    return Throw(env, ErrnoName(-r), -r, "uv_poll_start", "cannot watch fd " + std::to_string(fd) + ": " + uv_strerror(r));
  }
  napi_create_reference(env, argv[1], 1, &w->callback);
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "mtcp:dpdk-io-native:watch", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &w->async);
  napi_add_async_cleanup_hook(env, OnEnvTeardown, w, &w->cleanup);
  w->active = true;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_fds.find(fd);
    if (it != g_fds.end()) it->second.watchers++;
  }
  napi_value handle;
  WatchToken* token = new WatchToken{kTokenMagic, w};
  napi_create_external(env, token, FinalizeToken, nullptr, &handle);
  return handle;
}

napi_value UnwatchFd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  if (t != napi_external) return ThrowArg(env, "handle must be the value returned by watch()");
  void* p = nullptr;
  napi_get_value_external(env, argv[0], &p);
  WatchToken* token = static_cast<WatchToken*>(p);
  if (token == nullptr || token->magic != kTokenMagic) return ThrowArg(env, "handle must be the value returned by watch()");
  Watch* w = token->watch;
  if (w == nullptr) return Undefined(env);  // already unwatched: idempotent
  token->watch = nullptr;
  StopWatch(w);
  return Undefined(env);
}

// close(fd)
napi_value CloseFd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  int fd;
  if (!GetFd(env, argv[0], &fd)) return nullptr;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_fds.find(fd);
    if (it != g_fds.end()) {
      if (it->second.watchers > 0)
        return Throw(env, "EBUSY", EBUSY, "close", "fd " + std::to_string(fd) + " is still watched: call unwatch(handle) before close(fd)");
      FreeRing(it->second.ring);  // unmapped before close: frames still in flight keep their pages
      g_fds.erase(it);
    }
  }
  if (close(fd) != 0 && errno != EINTR) return ThrowErrno(env, errno, "close", "closing fd " + std::to_string(fd) + " failed");
  return Undefined(env);
}

napi_value Init(napi_env env, napi_value exports) {
  struct {
    const char* name;
    napi_callback fn;
  } fns[] = {
      {"tapOpen", TapOpen}, {"packetOpen", PacketOpen}, {"readBurst", ReadBurst}, {"writeBurst", WriteBurst},
      {"watch", WatchFd},   {"unwatch", UnwatchFd},     {"close", CloseFd},     {"ringStats", RingStats}, {"kernelDrops", KernelDrops},
  };
  for (auto& f : fns) {
    napi_value v;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.fn, nullptr, &v);
    napi_set_named_property(env, exports, f.name, v);
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
