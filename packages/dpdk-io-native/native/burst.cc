// Burst reads and writes on TAP devices and AF_PACKET sockets (readBurst, writeBurst): recvmmsg/sendmmsg
// on a packet socket, readv/writev per frame on a TAP, or the socket's PACKET_MMAP rings (packet_ring.cc).
#include "burst.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "checksum.h"
#include "exports.h"
#include "fd_table.h"
#include "napi_util.h"
#include "packet_ring.h"

namespace mtcp {

const uint8_t kZeroHdr[kVnetHdrLen] = {0};

namespace {

constexpr unsigned kChunk = 64;  // frames per recvmmsg/sendmmsg call

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
bool GetSlots(napi_env env, napi_value* argv, Slots* s) {
  bool isArray = false;
  NAPI_CALL_BOOL(env, napi_is_array(env, argv[0], &isArray));
  if (!isArray) {
    ThrowArg(env, "buffers must be an array of Uint8Array");
    return false;
  }
  s->array = argv[0];
  NAPI_CALL_BOOL(env, napi_get_array_length(env, argv[0], &s->count));
  void* p;
  if (!GetTyped(env, argv[1], napi_int32_array, "offsets", &p, &s->offsetsLen)) return false;
  s->offsets = static_cast<int32_t*>(p);
  if (!GetTyped(env, argv[2], napi_int32_array, "lengths", &p, &s->lengthsLen)) return false;
  s->lengths = static_cast<int32_t*>(p);
  return true;
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
  if (!TypeOf(env, headersArg, &t)) return false;
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

}  // namespace

// buffers[i] as (data, byteLength); false after throwing. Builds no string unless it throws.
bool SlotBuffer(napi_env env, const Slots& s, uint32_t i, uint8_t** data, size_t* len) {
  napi_value el;
  NAPI_CALL_BOOL(env, napi_get_element(env, s.array, i, &el));
  bool is = false;
  NAPI_CALL_BOOL(env, napi_is_typedarray(env, el, &is));
  napi_typedarray_type type = napi_int8_array;
  void* p = nullptr;
  if (is) {
    napi_value ab;
    size_t off;
    NAPI_CALL_BOOL(env, napi_get_typedarray_info(env, el, &type, len, &p, &ab, &off));
  }
  if (!is || type != napi_uint8_array) {
    ThrowArg(env, "buffers[" + std::to_string(i) + "] must be a Uint8Array");
    return false;
  }
  *data = static_cast<uint8_t*>(p);
  return true;
}

std::string WriteFailure(int err, uint32_t frame, int fd) {
  return "writing frame " + std::to_string(frame) + " to fd " + std::to_string(fd) + " failed" +
         (err == EIO ? ": the TAP interface is down, bring it up with `ip link set <name> up`"
          : err == ENETDOWN ? ": the interface is down, bring it up with `ip link set <name> up`"
          : err == EINVAL || err == EMSGSIZE ? ": the frame is malformed or larger than the MTU allows; drop it" : "");
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
          if (aux.tp_status & TP_STATUS_CSUMNOTREADY) CompletePartialChecksum(static_cast<uint8_t*>(iov[j][0].iov_base), frame);
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



}  // namespace mtcp
