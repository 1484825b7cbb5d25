// AF_PACKET sockets (packetOpen): bound to one interface, optional virtio-net headers, PACKET_MMAP rings
// (packet_ring.cc) and fanout groups; and their counters (kernelDrops, ringStats).
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "checksum.h"
#include "exports.h"
#include "fd_table.h"
#include "napi_util.h"
#include "packet_ring.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif
#ifndef PACKET_FANOUT_FLAG_IGNORE_OUTGOING
#define PACKET_FANOUT_FLAG_IGNORE_OUTGOING 0x4000  // linux/if_packet.h since 6.3
#endif
#ifndef PACKET_FANOUT_DATA
#define PACKET_FANOUT_DATA 22  // linux/if_packet.h since 4.6
#endif
#ifndef PACKET_FANOUT_CBPF
#define PACKET_FANOUT_CBPF 6  // linux/if_packet.h since 4.6
#endif

namespace mtcp {
namespace {

constexpr int64_t kMaxPlainFrame = 1518;          // default ring frame: 1500-byte MTU + Ethernet + VLAN tag
constexpr int64_t kMaxVnetFrame = 65535 + 14 + 4;  // default ring frame with offloads: a 64 KB GSO/GRO frame
constexpr int64_t kMaxRingFrames = 65536;

// The 'ports' fanout program (PACKET_FANOUT_CBPF): a hash of the TCP ports that user space can compute.
//
// net/packet/af_packet.c, fanout_demux_bpf: the member is `bpf_prog_run(prog, skb) % num_members`,
// f->arr[] holding the members in the order they joined (a member that leaves is replaced by the last).
// For TCP over IPv4 or IPv6 the program returns ((srcPort ^ dstPort) * 0x9e3779b1 mod 2^32) >> 16: the XOR
// is the same for both directions of a flow, and the multiplication (Knuth's multiplicative hash) brings
// every bit of it into the result's low bits, which matter for `% members` (Linux clients connect from
// even ports only, so the XOR's low bit alone would send every client of one listener to one member).
// IPv4: the ports follow the header (IHL, RFC 791 §3.1) of a first or only fragment. IPv6: TCP directly
// behind the fixed header (Next Header 6 at octet 6, ports at octet 40, RFC 8200 §3), which is how every
// TCP segment of a connection travels; behind extension headers (a fragment, a Hop-by-Hop option) the
// ports are not where a classic BPF program can find them without a loop, so those go to member 0.
// Everything else returns 0 (the first member): ARP, ICMP, ICMPv6 (neighbour discovery), UDP, IPv4
// fragments after the first, and VLAN-tagged frames (skb->protocol is then 802.1Q unless the device
// stripped the tag). Loads are relative to the network header (SKF_NET_OFF) and the EtherType is
// skb->protocol (SKF_AD_PROTOCOL), so it does not depend on where skb->data points when the demux runs.
// Jump offsets count from the next instruction.

constexpr uint32_t kNet = static_cast<uint32_t>(SKF_NET_OFF);
const struct sock_filter kPortsProgram[] = {
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_PROTOCOL)),  // 0: A = EtherType
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 9),                                       // 1: IPv4, else 11
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, kNet + 9),                                              // 2: A = IP protocol
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 18),                                             // 3: TCP, else 22
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, kNet + 6),                                              // 4: A = flags, fragment offset
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 16, 0),                                       // 5: a later fragment: 22
    BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, kNet + 0),                                             // 6: X = IP header length
    BPF_STMT(BPF_LD | BPF_H | BPF_IND, kNet + 0),                                              // 7: A = source port
    BPF_STMT(BPF_ST, 0),                                                                       // 8: M[0] = A
    BPF_STMT(BPF_LD | BPF_H | BPF_IND, kNet + 2),                                              // 9: A = destination port
    BPF_STMT(BPF_JMP | BPF_JA, 6),                                                             // 10: to 17
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, 10),                                    // 11: IPv6, else 22
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, kNet + 6),                                              // 12: A = Next Header
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 8),                                              // 13: TCP, else 22
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, kNet + 40),                                             // 14: A = source port
    BPF_STMT(BPF_ST, 0),                                                                       // 15: M[0] = A
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, kNet + 42),                                             // 16: A = destination port
    BPF_STMT(BPF_LDX | BPF_W | BPF_MEM, 0),                                                    // 17: X = M[0]
    BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),                                                    // 18: A = source ^ destination
    BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 0x9e3779b1u),                                          // 19: A *= 0x9e3779b1 (32 bits)
    BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),                                                   // 20: A >>= 16
    BPF_STMT(BPF_RET | BPF_A, 0),                                                              // 21: return A
    BPF_STMT(BPF_RET | BPF_K, 0),                                                              // 22: anything else: member 0
};

// ---------------------------------------------------------------------------------------------
}  // namespace

// packetOpen(ifname, { vnetHeader, qdiscBypass?, fanoutGroup?, fanoutMode? }) -> fd

napi_value PacketOpen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  std::string name;
  if (!GetString(env, argv[0], "ifname", &name)) return nullptr;
  bool vnet;
  if (!GetBoolOpt(env, argv[1], "vnetHeader", false, &vnet)) return nullptr;
  bool bypass = false;
  if (!GetBoolOpt(env, argv[1], "qdiscBypass", false, &bypass)) return nullptr;
  napi_valuetype t;
  napi_value v;
  bool fanout = false;
  int64_t group = 0;
  if (!GetOpt(env, argv[1], "fanoutGroup", &v) || !TypeOf(env, v, &t)) return nullptr;
  if (t != napi_undefined) {
    if (!GetInt(env, v, "options.fanoutGroup", 0, 0xffff, &group)) return nullptr;
    fanout = true;
  }
  bool ports = false;
  if (!GetOpt(env, argv[1], "fanoutMode", &v) || !TypeOf(env, v, &t)) return nullptr;
  if (t != napi_undefined) {
    std::string mode;
    if (t != napi_string) return ThrowArg(env, "options.fanoutMode must be 'hash' or 'ports'");
    if (!GetString(env, v, "options.fanoutMode", &mode)) return nullptr;
    if (mode != "hash" && mode != "ports") return ThrowArg(env, "options.fanoutMode must be 'hash' or 'ports'");
    ports = mode == "ports";
    if (ports && !fanout) return ThrowArg(env, "options.fanoutMode 'ports' needs options.fanoutGroup");
  }
  int64_t ringRx = 0, ringTx = 0, ringFrameSize = vnet ? kMaxVnetFrame : kMaxPlainFrame;
  if (!GetOpt(env, argv[1], "ringRxFrames", &v) || !TypeOf(env, v, &t)) return nullptr;
  if (t != napi_undefined && !GetInt(env, v, "options.ringRxFrames", 0, kMaxRingFrames, &ringRx)) return nullptr;
  if (!GetOpt(env, argv[1], "ringTxFrames", &v) || !TypeOf(env, v, &t)) return nullptr;
  if (t != napi_undefined && !GetInt(env, v, "options.ringTxFrames", 0, kMaxRingFrames, &ringTx)) return nullptr;
  if ((ringRx == 0) != (ringTx == 0) || ringRx == 1 || ringTx == 1)
    return ThrowArg(env, "options.ringRxFrames and options.ringTxFrames must both be 0 (no rings) or both at least 2");
  if (!GetOpt(env, argv[1], "ringFrameSize", &v) || !TypeOf(env, v, &t)) return nullptr;
  if (t != napi_undefined && !GetInt(env, v, "options.ringFrameSize", 60, 262144, &ringFrameSize)) return nullptr;
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
  // Asked for: hand frames straight to the driver, past the interface's queueing discipline (Linux 3.14+).
  if (bypass && setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) != 0) {
    int e = errno;
    FreeRing(ring);
    close(fd);
    return ThrowErrno(env, e, "setsockopt(PACKET_QDISC_BYPASS)", "the kernel refused to bypass the queueing discipline (Linux 3.14+): open it without qdiscBypass");
  }
  // Without virtio-net headers, learn which frames arrive checksum-partial (CompletePartialChecksum).
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
  NAPI_CALL(env, napi_create_object(env, &out));
  const struct {
    const char* name;
    uint64_t value;
  } fields[] = {
      {"rxSlots", ring->rxSlots}, {"txSlots", ring->txSlots}, {"frameSize", ring->frameSize}, {"rxFrames", ring->rxFrames},
      {"rxKernelDrops", ring->rxKernelDrops}, {"txFrames", ring->txFrames}, {"txRefused", ring->txRefused},
      {"txWrongFormat", ring->txWrongFormat}, {"txKicks", ring->txKicks},
  };
  for (auto& f : fields) {
    napi_value value = Int(env, static_cast<int64_t>(f.value));
    if (value == nullptr) return nullptr;
    NAPI_CALL(env, napi_set_named_property(env, out, f.name, value));
  }
  return out;
}

}  // namespace mtcp
