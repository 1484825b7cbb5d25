// TAP devices (tapOpen): /dev/net/tun with IFF_TAP, optional virtio-net headers, multi-queue and offloads.
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <string>

#include "checksum.h"
#include "exports.h"
#include "fd_table.h"
#include "napi_util.h"

namespace mtcp {

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
}  // namespace mtcp
