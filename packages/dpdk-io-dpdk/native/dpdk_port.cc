// @mtcp/dpdk-io-dpdk: DPDK ethdev ports for @mtcp/dpdk-io, zero copy.
//
// JavaScript sees mbuf data through one external ArrayBuffer per memory chunk of a mempool (not one per
// packet). Every mbuf carries its index in its private area; rxBurst and txBurst move indices, offsets,
// lengths and offload fields through Int32Arrays, never frame bytes. Every N-API status is checked.
#include <node_api.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>
#include <rte_tcp.h>
#include <rte_thash.h>
#include <rte_udp.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

namespace {

// ---------------------------------------------------------------------------------------------------
// N-API helpers: every call's status is checked; a failure throws (or leaves the pending exception).

#define NAPI_OK(call)                                                   \
  do {                                                                  \
    napi_status status_ = (call);                                       \
    if (status_ != napi_ok) {                                           \
      ThrowStatus(env, status_, #call);                                 \
      return nullptr;                                                   \
    }                                                                   \
  } while (0)

void ThrowStatus(napi_env env, napi_status status, const char* what) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  const napi_extended_error_info* info = nullptr;
  std::string message = "N-API call failed: ";
  message += what;
  if (napi_get_last_error_info(env, &info) == napi_ok && info != nullptr && info->error_message != nullptr) {
    message += " (";
    message += info->error_message;
    message += ")";
  }
  message += " (status " + std::to_string(static_cast<int>(status)) + ")";
  // The last resort: if throwing fails too there is nothing left to report with.
  (void)napi_throw_error(env, "ERR_NAPI", message.c_str());
}

napi_value Throw(napi_env env, const char* code, const std::string& message) {
  napi_value error = nullptr, msg = nullptr, code_value = nullptr;
  if (napi_create_string_utf8(env, message.c_str(), NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value) != napi_ok ||
      napi_create_error(env, code_value, msg, &error) != napi_ok ||
      napi_set_named_property(env, error, "code", code_value) != napi_ok || napi_throw(env, error) != napi_ok) {
    // The error object could not be made or thrown: a plain one with the same code and message (the last resort).
    (void)napi_throw_error(env, code, message.c_str());
  }
  return nullptr;
}

napi_value ThrowDpdk(napi_env env, const char* what, int err) {
  if (err < 0) err = -err;
  return Throw(env, "ERR_DPDK", std::string(what) + " failed: " + rte_strerror(err) + " (" + std::to_string(err) + ")");
}

bool GetArgs(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) {
    ThrowStatus(env, napi_generic_failure, "napi_get_cb_info");
    return false;
  }
  if (argc < want) {
    Throw(env, "ERR_INVALID_ARG", "expected " + std::to_string(want) + " arguments, got " + std::to_string(argc));
    return false;
  }
  return true;
}

bool GetU32(napi_env env, napi_value value, const char* name, uint32_t max, uint32_t* out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number) {
    Throw(env, "ERR_INVALID_ARG", std::string(name) + " must be a number");
    return false;
  }
  double d = 0;
  if (napi_get_value_double(env, value, &d) != napi_ok || !(d >= 0) || d > max || d != static_cast<double>(static_cast<uint32_t>(d))) {
    Throw(env, "ERR_INVALID_ARG", std::string(name) + " must be an integer in [0, " + std::to_string(max) + "]");
    return false;
  }
  *out = static_cast<uint32_t>(d);
  return true;
}

bool GetString(napi_env env, napi_value value, const char* name, std::string* out) {
  size_t length = 0;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_string) {
    Throw(env, "ERR_INVALID_ARG", std::string(name) + " must be a string");
    return false;
  }
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &length) != napi_ok) {
    ThrowStatus(env, napi_generic_failure, "napi_get_value_string_utf8");
    return false;
  }
  out->resize(length + 1);
  if (napi_get_value_string_utf8(env, value, &(*out)[0], length + 1, &length) != napi_ok) {
    ThrowStatus(env, napi_generic_failure, "napi_get_value_string_utf8");
    return false;
  }
  out->resize(length);
  return true;
}

// An Int32Array argument with at least `min` elements.
bool GetInt32Array(napi_env env, napi_value value, const char* name, size_t min, int32_t** data) {
  bool is_typed = false;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) {
    Throw(env, "ERR_INVALID_ARG", std::string(name) + " must be an Int32Array");
    return false;
  }
  napi_typedarray_type type;
  size_t length = 0;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, value, &type, &length, &raw, nullptr, nullptr) != napi_ok) {
    ThrowStatus(env, napi_generic_failure, "napi_get_typedarray_info");
    return false;
  }
  if (type != napi_int32_array) {
    Throw(env, "ERR_INVALID_ARG", std::string(name) + " must be an Int32Array");
    return false;
  }
  if (length < min) {
    Throw(env, "ERR_INVALID_ARG", std::string(name) + " holds " + std::to_string(length) + " elements, needs " + std::to_string(min));
    return false;
  }
  *data = static_cast<int32_t*>(raw);
  return true;
}

bool SetNumber(napi_env env, napi_value object, const char* key, double number) {
  napi_value value = nullptr;
  if (napi_create_double(env, number, &value) != napi_ok || napi_set_named_property(env, object, key, value) != napi_ok) {
    ThrowStatus(env, napi_generic_failure, "napi_set_named_property");
    return false;
  }
  return true;
}

bool SetBool(napi_env env, napi_value object, const char* key, bool flag) {
  napi_value value = nullptr;
  if (napi_get_boolean(env, flag, &value) != napi_ok || napi_set_named_property(env, object, key, value) != napi_ok) {
    ThrowStatus(env, napi_generic_failure, "napi_set_named_property");
    return false;
  }
  return true;
}

bool SetString(napi_env env, napi_value object, const char* key, const char* text) {
  napi_value value = nullptr;
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value) != napi_ok || napi_set_named_property(env, object, key, value) != napi_ok) {
    ThrowStatus(env, napi_generic_failure, "napi_set_named_property");
    return false;
  }
  return true;
}

napi_value Undefined(napi_env env) {
  napi_value value = nullptr;
  NAPI_OK(napi_get_undefined(env, &value));
  return value;
}

napi_value Number(napi_env env, double number) {
  napi_value value = nullptr;
  NAPI_OK(napi_create_double(env, number, &value));
  return value;
}

// ---------------------------------------------------------------------------------------------------
// State: EAL once per process; mempools live until the process exits (JS holds views onto them).

bool g_eal_ready = false;
std::vector<std::string> g_eal_args;

struct Pool {
  rte_mempool* mempool;
  std::vector<rte_mbuf*> mbufs;                   // by index
  std::vector<std::pair<char*, size_t>> chunks;  // the mempool's memory chunks
};
// Pools are made in one thread and used from others (a cluster's workers): a fixed table that only grows,
// so the burst calls read it without a lock (a slot is written before the count that publishes it).
constexpr uint32_t kMaxPools = 1024;
Pool* g_pools[kMaxPools];
std::atomic<uint32_t> g_pool_count{0};
std::mutex g_pools_lock;  // serialises poolCreate

// The index of an mbuf lives in its private area (priv_size 8).
inline uint32_t& MbufIndex(rte_mbuf* m) { return *static_cast<uint32_t*>(rte_mbuf_to_priv(m)); }

// Copies of frame bytes made by this addon (software checksums read but never copy): stays 0.
uint64_t g_copies = 0;

// ealInit(args: string[]): initialise the EAL once; a second call must pass the same arguments.
napi_value EalInit(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  napi_valuetype type;
  NAPI_OK(napi_typeof(env, argv[0], &type));
  if (type == napi_undefined) {
    // No arguments: the EAL must be up already (another port, or another thread, initialised it).
    if (!g_eal_ready) return Throw(env, "ERR_EAL_NOT_READY", "the EAL is not initialised yet: give EAL arguments (eal) to the first port opened in the process");
    return Undefined(env);
  }
  bool is_array = false;
  NAPI_OK(napi_is_array(env, argv[0], &is_array));
  if (!is_array) return Throw(env, "ERR_INVALID_ARG", "EAL arguments must be an array of strings");
  uint32_t length = 0;
  NAPI_OK(napi_get_array_length(env, argv[0], &length));
  std::vector<std::string> args;
  args.push_back("mtcp");
  for (uint32_t i = 0; i < length; i++) {
    napi_value item = nullptr;
    NAPI_OK(napi_get_element(env, argv[0], i, &item));
    std::string arg;
    if (!GetString(env, item, "EAL argument", &arg)) return nullptr;
    args.push_back(arg);
  }
  if (g_eal_ready) {
    if (args != g_eal_args) {
      std::string was;
      for (size_t i = 1; i < g_eal_args.size(); i++) was += (i > 1 ? " " : "") + g_eal_args[i];
      return Throw(env, "ERR_EAL_ALREADY", "the EAL is initialised once per process, already with: " + was);
    }
    return Undefined(env);
  }
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(&a[0]);
  cargv.push_back(nullptr);
  int rc = rte_eal_init(static_cast<int>(args.size()), cargv.data());
  if (rc < 0) {
    return Throw(env, "ERR_EAL_INIT", std::string("rte_eal_init failed: ") + rte_strerror(rte_errno) + " (root? hugepages or --no-huge? vdev interface present?)");
  }
  g_eal_ready = true;
  g_eal_args = args;
  return Undefined(env);
}

bool RequireEal(napi_env env) {
  if (!g_eal_ready) {
    Throw(env, "ERR_EAL_NOT_READY", "call ealInit first");
    return false;
  }
  return true;
}

// threadRegister(): register the calling thread (a worker thread) with DPDK, so it gets an lcore id
// and its own mempool cache. Idempotent per thread.
napi_value ThreadRegister(napi_env env, napi_callback_info /*info*/) {
  if (!RequireEal(env)) return nullptr;
  if (rte_lcore_id() == LCORE_ID_ANY) {
    if (rte_thread_register() != 0) return ThrowDpdk(env, "rte_thread_register", rte_errno);
  }
  return Number(env, rte_lcore_id());
}

// portCount(): the number of ethdev ports.
napi_value PortCount(napi_env env, napi_callback_info /*info*/) {
  if (!RequireEal(env)) return nullptr;
  return Number(env, rte_eth_dev_count_avail());
}

// portByName(name): the port id of a device name (net_af_packet0, 0000:01:00.0), or -1.
napi_value PortByName(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv) || !RequireEal(env)) return nullptr;
  std::string name;
  if (!GetString(env, argv[0], "name", &name)) return nullptr;
  uint16_t id = 0;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) return Number(env, -1);
  return Number(env, id);
}

bool GetPort(napi_env env, napi_value value, uint16_t* port) {
  uint32_t id = 0;
  if (!GetU32(env, value, "port", RTE_MAX_ETHPORTS - 1, &id)) return false;
  if (!rte_eth_dev_is_valid_port(static_cast<uint16_t>(id))) {
    Throw(env, "ERR_INVALID_ARG", "no DPDK port " + std::to_string(id));
    return false;
  }
  *port = static_cast<uint16_t>(id);
  return true;
}

// portInfo(port): name, driver, MAC, MTU, queue limits and offload capabilities.
napi_value PortInfo(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv) || !RequireEal(env)) return nullptr;
  uint16_t port = 0;
  if (!GetPort(env, argv[0], &port)) return nullptr;
  rte_eth_dev_info dev{};
  int rc = rte_eth_dev_info_get(port, &dev);
  if (rc != 0) return ThrowDpdk(env, "rte_eth_dev_info_get", rc);
  char name[RTE_ETH_NAME_MAX_LEN] = {0};
  rc = rte_eth_dev_get_name_by_port(port, name);
  if (rc != 0) return ThrowDpdk(env, "rte_eth_dev_get_name_by_port", rc);
  rte_ether_addr mac{};
  rc = rte_eth_macaddr_get(port, &mac);
  if (rc != 0) return ThrowDpdk(env, "rte_eth_macaddr_get", rc);
  uint16_t mtu = 0;
  rc = rte_eth_dev_get_mtu(port, &mtu);
  if (rc != 0) return ThrowDpdk(env, "rte_eth_dev_get_mtu", rc);
  napi_value out = nullptr;
  NAPI_OK(napi_create_object(env, &out));
  if (!SetString(env, out, "name", name) || !SetString(env, out, "driver", dev.driver_name != nullptr ? dev.driver_name : "") ||
      !SetNumber(env, out, "mtu", mtu) || !SetNumber(env, out, "minMtu", dev.min_mtu) || !SetNumber(env, out, "maxMtu", dev.max_mtu) ||
      !SetNumber(env, out, "maxRxPktLen", dev.max_rx_pktlen) || !SetNumber(env, out, "maxRxQueues", dev.max_rx_queues) ||
      !SetNumber(env, out, "maxTxQueues", dev.max_tx_queues) || !SetNumber(env, out, "retaSize", dev.reta_size) ||
      !SetNumber(env, out, "hashKeySize", dev.hash_key_size) ||
      !SetNumber(env, out, "rssHashFunctions", static_cast<double>(dev.flow_type_rss_offloads)) ||
      !SetBool(env, out, "txIpv4Checksum", (dev.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0) ||
      !SetBool(env, out, "txTcpChecksum", (dev.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) != 0) ||
      !SetBool(env, out, "txUdpChecksum", (dev.tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0) ||
      !SetBool(env, out, "txTcpTso", (dev.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_TSO) != 0) ||
      !SetBool(env, out, "rxIpv4Checksum", (dev.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0) ||
      !SetBool(env, out, "rxTcpChecksum", (dev.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_CKSUM) != 0)) {
    return nullptr;
  }
  napi_value mac_value = nullptr;
  void* mac_data = nullptr;
  NAPI_OK(napi_create_buffer_copy(env, RTE_ETHER_ADDR_LEN, mac.addr_bytes, &mac_data, &mac_value));
  NAPI_OK(napi_set_named_property(env, out, "mac", mac_value));
  return out;
}

// poolCreate(name, count, dataRoom, cache): an mbuf mempool on this socket. Returns { id, count, chunks:
// ArrayBuffer[], slots: Int32Array (per mbuf: chunk, offset of buf_addr in the chunk, buf_len, data_off) }.
// poolAttach(id): the same description of an existing pool for the calling thread (a worker thread gets
// its own ArrayBuffers over the same memory; the mempool itself is process-wide).
void CollectChunk(rte_mempool* /*mp*/, void* opaque, rte_mempool_memhdr* memhdr, unsigned /*idx*/) {
  static_cast<Pool*>(opaque)->chunks.emplace_back(static_cast<char*>(memhdr->addr), memhdr->len);
}

void CollectMbuf(rte_mempool* /*mp*/, void* opaque, void* obj, unsigned /*idx*/) {
  static_cast<Pool*>(opaque)->mbufs.push_back(static_cast<rte_mbuf*>(obj));
}

napi_value DescribePool(napi_env env, uint32_t id) {
  const Pool* pool = g_pools[id];
  napi_value out = nullptr, chunks = nullptr, slots = nullptr, slots_buffer = nullptr;
  NAPI_OK(napi_create_object(env, &out));
  NAPI_OK(napi_create_array_with_length(env, pool->chunks.size(), &chunks));
  for (size_t i = 0; i < pool->chunks.size(); i++) {
    napi_value ab = nullptr;
    // Views onto DPDK memory: the pool lives until the process exits, so no finaliser frees it.
    NAPI_OK(napi_create_external_arraybuffer(env, pool->chunks[i].first, pool->chunks[i].second, nullptr, nullptr, &ab));
    NAPI_OK(napi_set_element(env, chunks, static_cast<uint32_t>(i), ab));
  }
  void* raw = nullptr;
  size_t n = pool->mbufs.size();
  NAPI_OK(napi_create_arraybuffer(env, n * 4 * sizeof(int32_t), &raw, &slots_buffer));
  NAPI_OK(napi_create_typedarray(env, napi_int32_array, n * 4, slots_buffer, 0, &slots));
  auto* slot = static_cast<int32_t*>(raw);
  for (size_t i = 0; i < n; i++) {
    const rte_mbuf* m = pool->mbufs[i];
    const char* buf = static_cast<const char*>(m->buf_addr);
    int32_t chunk = -1;
    for (size_t c = 0; c < pool->chunks.size(); c++) {
      if (buf >= pool->chunks[c].first && buf + m->buf_len <= pool->chunks[c].first + pool->chunks[c].second) {
        chunk = static_cast<int32_t>(c);
        break;
      }
    }
    if (chunk < 0) return Throw(env, "ERR_DPDK", "an mbuf's data lies outside its mempool's memory chunks");
    slot[i * 4] = chunk;
    slot[i * 4 + 1] = static_cast<int32_t>(buf - pool->chunks[chunk].first);
    slot[i * 4 + 2] = m->buf_len;
    slot[i * 4 + 3] = RTE_PKTMBUF_HEADROOM;
  }
  NAPI_OK(napi_set_named_property(env, out, "chunks", chunks));
  NAPI_OK(napi_set_named_property(env, out, "slots", slots));
  const double object_size = rte_mempool_calc_obj_size(pool->mempool->elt_size, pool->mempool->flags, nullptr);
  if (!SetNumber(env, out, "id", id) || !SetNumber(env, out, "count", static_cast<double>(n)) || !SetNumber(env, out, "objectSize", object_size)) return nullptr;
  return out;
}

// Whether some probed device may DMA into mbufs: any port that is not on the vdev bus (a NIC, or a device
// hot-plugged later is not seen here: pools are made after the EAL probed every device it was given).
bool SomeDeviceDmas() {
  uint16_t port = 0;
  RTE_ETH_FOREACH_DEV(port) {
    rte_eth_dev_info dev{};
    if (rte_eth_dev_info_get(port, &dev) != 0 || dev.device == nullptr) return true;
    const rte_bus* bus = rte_dev_bus(dev.device);
    if (bus == nullptr || std::strcmp(rte_bus_name(bus), "vdev") != 0) return true;
  }
  return false;
}

// An mbuf mempool, as rte_pktmbuf_pool_create makes one, but with RTE_MEMPOOL_F_NO_IOVA_CONTIG when no
// device DMAs (decision 0032). Without that flag, an object may not cross a page of the EAL's memory, so with
// --no-huge (4 KB pages) every 2.3 KB mbuf takes a page of its own; DPDK 22.11's net_af_xdp (before 24.07)
// registers as its umem only populated_size x object size bytes from the first chunk, and the mbufs beyond
// that are refused by the kernel as invalid descriptors: frames sent from them are lost, though counted as sent.
rte_mempool* CreateMbufPool(const std::string& name, uint32_t count, uint32_t cache, uint16_t data_room) {
  const uint32_t flags = SomeDeviceDmas() ? 0u : RTE_MEMPOOL_F_NO_IOVA_CONTIG;
  rte_pktmbuf_pool_private priv{};
  priv.mbuf_data_room_size = data_room;
  priv.mbuf_priv_size = 8;
  const unsigned elt_size = sizeof(rte_mbuf) + priv.mbuf_priv_size + data_room;
  rte_mempool* mp = rte_mempool_create_empty(name.c_str(), count, elt_size, cache, sizeof(priv), static_cast<int>(rte_socket_id()), flags);
  if (mp == nullptr) return nullptr;
  int rc = rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), nullptr);
  if (rc == 0) {
    rte_pktmbuf_pool_init(mp, &priv);
    rc = rte_mempool_populate_default(mp);
    rc = rc < 0 ? rc : 0;
  }
  if (rc != 0) {
    rte_mempool_free(mp);
    rte_errno = -rc;
    return nullptr;
  }
  rte_mempool_obj_iter(mp, rte_pktmbuf_init, nullptr);
  return mp;
}

// net_af_xdp in DPDK before 24.07 takes the pool's memory as one umem starting at the page of its first chunk
// and populated_size x object size long. Returns false if some mbuf lies outside it (the kernel would refuse it).
bool FitsAfXdpUmem(const Pool* pool) {
  const rte_mempool* mp = pool->mempool;
  const rte_mempool_memhdr* first = STAILQ_FIRST(&mp->mem_list);
  if (first == nullptr) return false;
  const uintptr_t page = static_cast<uintptr_t>(getpagesize());
  const uintptr_t start = reinterpret_cast<uintptr_t>(first->addr);
  const uintptr_t base = start & ~(page - 1);
  const uint64_t size = static_cast<uint64_t>(mp->populated_size) * rte_mempool_calc_obj_size(mp->elt_size, mp->flags, nullptr) + (start - base);
  for (const rte_mbuf* m : pool->mbufs) {
    const uintptr_t end = reinterpret_cast<uintptr_t>(m->buf_addr) + m->buf_len;
    if (reinterpret_cast<uintptr_t>(m) < base || end - base > size) return false;
  }
  return true;
}

napi_value PoolCreate(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!GetArgs(env, info, 4, argv) || !RequireEal(env)) return nullptr;
  std::string name;
  uint32_t count = 0, data_room = 0, cache = 0;
  if (!GetString(env, argv[0], "name", &name) || !GetU32(env, argv[1], "count", 1u << 24, &count) ||
      !GetU32(env, argv[2], "dataRoom", UINT16_MAX, &data_room) || !GetU32(env, argv[3], "cache", RTE_MEMPOOL_CACHE_MAX_SIZE, &cache)) {
    return nullptr;
  }
  if (data_room < RTE_PKTMBUF_HEADROOM + 64) return Throw(env, "ERR_INVALID_ARG", "dataRoom must be at least " + std::to_string(RTE_PKTMBUF_HEADROOM + 64));
  if (g_pool_count.load(std::memory_order_acquire) == kMaxPools) return Throw(env, "ERR_DPDK", "too many mempools (" + std::to_string(kMaxPools) + ")");
  rte_mempool* mp = CreateMbufPool(name, count, cache, static_cast<uint16_t>(data_room));
  if (mp == nullptr) return ThrowDpdk(env, "rte_mempool_create_empty/populate", rte_errno);
  auto* pool = new Pool{mp, {}, {}};
  pool->mbufs.reserve(count);
  rte_mempool_obj_iter(mp, CollectMbuf, pool);
  rte_mempool_mem_iter(mp, CollectChunk, pool);
  for (size_t i = 0; i < pool->mbufs.size(); i++) MbufIndex(pool->mbufs[i]) = static_cast<uint32_t>(i);
  uint32_t id = 0;
  {
    std::lock_guard<std::mutex> lock(g_pools_lock);
    id = g_pool_count.load(std::memory_order_relaxed);
    if (id == kMaxPools) return Throw(env, "ERR_DPDK", "too many mempools (" + std::to_string(kMaxPools) + ")");
    g_pools[id] = pool;
    g_pool_count.store(id + 1, std::memory_order_release);
  }
  return DescribePool(env, id);
}

napi_value PoolAttach(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv) || !RequireEal(env)) return nullptr;
  uint32_t id = 0;
  if (!GetU32(env, argv[0], "pool", UINT16_MAX, &id)) return nullptr;
  if (id >= g_pool_count.load(std::memory_order_acquire)) return Throw(env, "ERR_INVALID_ARG", "no pool " + std::to_string(id));
  return DescribePool(env, id);
}

bool GetPool(napi_env env, napi_value value, Pool** pool) {
  uint32_t id = 0;
  if (!GetU32(env, value, "pool", UINT16_MAX, &id)) return false;
  if (id >= g_pool_count.load(std::memory_order_acquire)) {
    Throw(env, "ERR_INVALID_ARG", "no pool " + std::to_string(id));
    return false;
  }
  *pool = g_pools[id];
  return true;
}

// poolAlloc(pool, count, out: Int32Array): all or none (rte_pktmbuf_alloc_bulk); writes indices; returns count or 0.
napi_value PoolAlloc(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!GetArgs(env, info, 3, argv)) return nullptr;
  Pool* pool = nullptr;
  uint32_t count = 0;
  int32_t* out = nullptr;
  if (!GetPool(env, argv[0], &pool) || !GetU32(env, argv[1], "count", 512, &count) || !GetInt32Array(env, argv[2], "out", count, &out)) return nullptr;
  rte_mbuf* mbufs[512];
  if (count == 0 || rte_pktmbuf_alloc_bulk(pool->mempool, mbufs, count) != 0) return Number(env, 0);
  for (uint32_t i = 0; i < count; i++) out[i] = static_cast<int32_t>(MbufIndex(mbufs[i]));
  return Number(env, count);
}

// poolFree(pool, count, indices: Int32Array): return mbufs to the mempool.
napi_value PoolFree(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!GetArgs(env, info, 3, argv)) return nullptr;
  Pool* pool = nullptr;
  uint32_t count = 0;
  int32_t* in = nullptr;
  if (!GetPool(env, argv[0], &pool) || !GetU32(env, argv[1], "count", 512, &count) || !GetInt32Array(env, argv[2], "indices", count, &in)) return nullptr;
  // Check every index before freeing any, so a bad argument frees nothing.
  for (uint32_t i = 0; i < count; i++) {
    if (in[i] < 0 || static_cast<size_t>(in[i]) >= pool->mbufs.size()) return Throw(env, "ERR_INVALID_ARG", "mbuf index " + std::to_string(in[i]) + " out of range");
  }
  rte_mbuf* mbufs[512];
  for (uint32_t i = 0; i < count; i++) mbufs[i] = pool->mbufs[in[i]];
  rte_pktmbuf_free_bulk(mbufs, count);
  return Undefined(env);
}

// poolAvailable(pool): mbufs in the mempool (its caches included).
napi_value PoolAvailable(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  Pool* pool = nullptr;
  if (!GetPool(env, argv[0], &pool)) return nullptr;
  return Number(env, rte_mempool_avail_count(pool->mempool));
}

// portStart(port, { rxQueues, txQueues, rxDescriptors, txDescriptors, mtu, pools: number[] (one per RX queue),
//   txChecksum, tso, rss }): configure, set up queues and start. Offloads are enabled only where the device has them.
bool GetOption(napi_env env, napi_value object, const char* key, const char* name, uint32_t max, uint32_t* out) {
  napi_value value = nullptr;
  if (napi_get_named_property(env, object, key, &value) != napi_ok) {
    ThrowStatus(env, napi_generic_failure, "napi_get_named_property");
    return false;
  }
  return GetU32(env, value, name, max, out);
}

bool GetBoolOption(napi_env env, napi_value object, const char* key, bool* out) {
  napi_value value = nullptr;
  if (napi_get_named_property(env, object, key, &value) != napi_ok) {
    ThrowStatus(env, napi_generic_failure, "napi_get_named_property");
    return false;
  }
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_boolean) {
    Throw(env, "ERR_INVALID_ARG", std::string(key) + " must be a boolean");
    return false;
  }
  if (napi_get_value_bool(env, value, out) != napi_ok) {
    ThrowStatus(env, napi_generic_failure, "napi_get_value_bool");
    return false;
  }
  return true;
}

// Per port: the TX offloads enabled at start, so txBurst knows what to do in software.
struct PortState {
  uint64_t tx_offloads = 0;
  bool started = false;
  bool queues_set_up = false;  // net_af_xdp (DPDK 22.11) sets its queues up once per process
};
PortState g_ports[RTE_MAX_ETHPORTS];

napi_value PortStart(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv) || !RequireEal(env)) return nullptr;
  uint16_t port = 0;
  uint32_t rxq = 0, txq = 0, rxd = 0, txd = 0, mtu = 0;
  bool txcsum = false, tso = false, rss = false;
  if (!GetPort(env, argv[0], &port) || !GetOption(env, argv[1], "rxQueues", "rxQueues", 1024, &rxq) ||
      !GetOption(env, argv[1], "txQueues", "txQueues", 1024, &txq) || !GetOption(env, argv[1], "rxDescriptors", "rxDescriptors", 65535, &rxd) ||
      !GetOption(env, argv[1], "txDescriptors", "txDescriptors", 65535, &txd) || !GetOption(env, argv[1], "mtu", "mtu", 65535, &mtu) ||
      !GetBoolOption(env, argv[1], "txChecksum", &txcsum) || !GetBoolOption(env, argv[1], "tso", &tso) || !GetBoolOption(env, argv[1], "rss", &rss)) {
    return nullptr;
  }
  napi_value pools = nullptr;
  NAPI_OK(napi_get_named_property(env, argv[1], "pools", &pools));
  uint32_t npools = 0;
  bool is_array = false;
  NAPI_OK(napi_is_array(env, pools, &is_array));
  if (!is_array) return Throw(env, "ERR_INVALID_ARG", "pools must be an array");
  NAPI_OK(napi_get_array_length(env, pools, &npools));
  if (npools != rxq) return Throw(env, "ERR_INVALID_ARG", "one pool per RX queue");
  rte_eth_dev_info dev{};
  int rc = rte_eth_dev_info_get(port, &dev);
  if (rc != 0) return ThrowDpdk(env, "rte_eth_dev_info_get", rc);
  if (rxq == 0 || rxq > dev.max_rx_queues) return Throw(env, "ERR_INVALID_ARG", "rxQueues must be in [1, " + std::to_string(dev.max_rx_queues) + "] for this device");
  if (txq == 0 || txq > dev.max_tx_queues) return Throw(env, "ERR_INVALID_ARG", "txQueues must be in [1, " + std::to_string(dev.max_tx_queues) + "] for this device");
  rte_eth_conf conf{};
  uint64_t want = 0;
  if (txcsum) want |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
  if (tso) want |= RTE_ETH_TX_OFFLOAD_TCP_TSO;
  conf.txmode.offloads = want & dev.tx_offload_capa;
  conf.rxmode.offloads = (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM) & dev.rx_offload_capa;
  // rssKey: the Toeplitz key (hashKeySize bytes), or absent for the driver's own. With a key, the hash is
  // the one the cluster's workers compute to choose source ports (the symmetric 0x6d5a key: both
  // directions of a flow reach one queue).
  napi_value key_value = nullptr;
  NAPI_OK(napi_get_named_property(env, argv[1], "rssKey", &key_value));
  napi_valuetype key_type;
  NAPI_OK(napi_typeof(env, key_value, &key_type));
  std::vector<uint8_t> key;
  if (key_type != napi_undefined && key_type != napi_null) {
    bool is_typed = false;
    NAPI_OK(napi_is_typedarray(env, key_value, &is_typed));
    napi_typedarray_type key_array_type = napi_int8_array;
    size_t key_length = 0;
    void* key_data = nullptr;
    if (is_typed) NAPI_OK(napi_get_typedarray_info(env, key_value, &key_array_type, &key_length, &key_data, nullptr, nullptr));
    if (!is_typed || key_array_type != napi_uint8_array) return Throw(env, "ERR_INVALID_ARG", "rssKey must be a Uint8Array");
    if (key_length != dev.hash_key_size) {
      return Throw(env, "ERR_INVALID_ARG", "rssKey must be " + std::to_string(dev.hash_key_size) + " bytes for this device, got " + std::to_string(key_length));
    }
    key.assign(static_cast<uint8_t*>(key_data), static_cast<uint8_t*>(key_data) + key_length);
  }
  uint64_t rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & dev.flow_type_rss_offloads;
  bool rss_on = rss && rxq > 1 && rss_hf != 0;
  if (rss_on) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = key.empty() ? nullptr : key.data();
    conf.rx_adv_conf.rss_conf.rss_key_len = static_cast<uint8_t>(key.size());
    conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
  }
  // DPDK 22.11's net_af_xdp binds a new XDP socket to the queue at every queue setup and frees the old one only
  // when the device is closed, so a second setup fails with EINVAL deep inside: say so plainly.
  if (g_ports[port].queues_set_up && dev.driver_name != nullptr && std::strcmp(dev.driver_name, "net_af_xdp") == 0) {
    return Throw(env, "ERR_DPDK", "net_af_xdp cannot set up its queues again in this process (DPDK 22.11 keeps the first XDP socket bound until the device is closed): open it once per process");
  }
  if (g_ports[port].started) {
    rc = rte_eth_dev_stop(port);
    if (rc != 0) return ThrowDpdk(env, "rte_eth_dev_stop", rc);
    g_ports[port].started = false;
  }
  rc = rte_eth_dev_configure(port, static_cast<uint16_t>(rxq), static_cast<uint16_t>(txq), &conf);
  if (rc != 0) return ThrowDpdk(env, "rte_eth_dev_configure", rc);
  uint16_t nb_rxd = static_cast<uint16_t>(rxd), nb_txd = static_cast<uint16_t>(txd);
  rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
  if (rc != 0) return ThrowDpdk(env, "rte_eth_dev_adjust_nb_rx_tx_desc", rc);
  if (mtu != 0) {
    rc = rte_eth_dev_set_mtu(port, static_cast<uint16_t>(mtu));
    if (rc != 0 && rc != -ENOTSUP) return ThrowDpdk(env, "rte_eth_dev_set_mtu", rc);
  }
  int socket = rte_eth_dev_socket_id(port);
  if (socket < 0) socket = 0;
  for (uint32_t q = 0; q < rxq; q++) {
    napi_value pool_value = nullptr;
    NAPI_OK(napi_get_element(env, pools, q, &pool_value));
    Pool* pool = nullptr;
    if (!GetPool(env, pool_value, &pool)) return nullptr;
    if (dev.driver_name != nullptr && std::strcmp(dev.driver_name, "net_af_xdp") == 0 && !FitsAfXdpUmem(pool)) {
      return Throw(env, "ERR_DPDK",
                   "mempool " + std::string(pool->mempool->name) +
                       " is not packed in one chunk: net_af_xdp (DPDK < 24.07) would register only part of it as its umem, and the kernel would drop "
                       "frames sent from the rest (make the pools while every device is a vdev, or use a DPDK with rte_mempool_get_mem_range)");
    }
    rte_eth_rxconf rxconf = dev.default_rxconf;
    rxconf.offloads = conf.rxmode.offloads;
    rc = rte_eth_rx_queue_setup(port, static_cast<uint16_t>(q), nb_rxd, static_cast<unsigned>(socket), &rxconf, pool->mempool);
    if (rc != 0) return ThrowDpdk(env, "rte_eth_rx_queue_setup", rc);
    g_ports[port].queues_set_up = true;
  }
  for (uint32_t q = 0; q < txq; q++) {
    rte_eth_txconf txconf = dev.default_txconf;
    txconf.offloads = conf.txmode.offloads;
    rc = rte_eth_tx_queue_setup(port, static_cast<uint16_t>(q), nb_txd, static_cast<unsigned>(socket), &txconf);
    if (rc != 0) return ThrowDpdk(env, "rte_eth_tx_queue_setup", rc);
  }
  rc = rte_eth_dev_start(port);
  if (rc != 0) return ThrowDpdk(env, "rte_eth_dev_start", rc);
  // Frames for the stack's own MAC, which is not the device's: promiscuous (not every vdev supports it).
  rc = rte_eth_promiscuous_enable(port);
  if (rc != 0 && rc != -ENOTSUP) return ThrowDpdk(env, "rte_eth_promiscuous_enable", rc);
  g_ports[port].tx_offloads = conf.txmode.offloads;
  g_ports[port].started = true;
  napi_value out = nullptr;
  NAPI_OK(napi_create_object(env, &out));
  if (!SetBool(env, out, "txIpv4Checksum", (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0) ||
      !SetBool(env, out, "txTcpChecksum", (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) != 0) ||
      !SetBool(env, out, "txUdpChecksum", (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0) ||
      !SetBool(env, out, "tso", (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_TCP_TSO) != 0) ||
      !SetBool(env, out, "rxChecksum", (conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_TCP_CKSUM) != 0) ||
      !SetBool(env, out, "rss", rss_on) || !SetBool(env, out, "rssKey", rss_on && !key.empty()) ||
      !SetNumber(env, out, "rxDescriptors", nb_rxd) || !SetNumber(env, out, "txDescriptors", nb_txd)) {
    return nullptr;
  }
  return out;
}

// portStop(port): stop the port (queues keep their mbufs until the port is started again or closed).
napi_value PortStop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv) || !RequireEal(env)) return nullptr;
  uint16_t port = 0;
  if (!GetPort(env, argv[0], &port)) return nullptr;
  if (g_ports[port].started) {
    int rc = rte_eth_dev_stop(port);
    if (rc != 0) return ThrowDpdk(env, "rte_eth_dev_stop", rc);
    g_ports[port].started = false;
  }
  return Undefined(env);
}

// Receive strides: [index, data_off, data_len, flags] per frame.
constexpr int RX_STRIDE = 4;
// JS offload flag bits (OffloadFlags in @mtcp/dpdk-io).
constexpr int32_t TX_IP_CHECKSUM = 1 << 0, TX_TCP_CHECKSUM = 1 << 1, TX_UDP_CHECKSUM = 1 << 2, TX_TCP_SEGMENTATION = 1 << 3;
constexpr int32_t RX_IP_CHECKSUM_GOOD = 1 << 8, RX_L4_CHECKSUM_GOOD = 1 << 9;
// Receive result flags beyond the offload bits: the frame arrived in more than one segment (dropped by JS).
constexpr int32_t RX_CHAINED = 1 << 16, RX_CHECKSUM_BAD = 1 << 17;

// rxBurst(port, queue, max, out: Int32Array): receive; writes RX_STRIDE ints per frame; returns n.
// Mbufs of a chain (a frame larger than one mbuf) are freed here and reported with RX_CHAINED.
napi_value RxBurst(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!GetArgs(env, info, 4, argv)) return nullptr;
  uint16_t port = 0;
  uint32_t queue = 0, max = 0;
  int32_t* out = nullptr;
  if (!GetPort(env, argv[0], &port) || !GetU32(env, argv[1], "queue", 1023, &queue) || !GetU32(env, argv[2], "max", 512, &max) ||
      !GetInt32Array(env, argv[3], "out", static_cast<size_t>(max) * RX_STRIDE, &out)) {
    return nullptr;
  }
  if (!g_ports[port].started) return Number(env, 0);
  rte_mbuf* mbufs[512];
  uint16_t n = rte_eth_rx_burst(port, static_cast<uint16_t>(queue), mbufs, static_cast<uint16_t>(max));
  for (uint16_t i = 0; i < n; i++) {
    rte_mbuf* m = mbufs[i];
    int32_t flags = 0;
    uint64_t ol = m->ol_flags;
    if ((ol & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD) flags |= RX_IP_CHECKSUM_GOOD;
    if ((ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD) flags |= RX_L4_CHECKSUM_GOOD;
    if ((ol & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD || (ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_BAD) flags |= RX_CHECKSUM_BAD;
    if (m->nb_segs > 1) {
      flags |= RX_CHAINED;
      // Keep the first segment for JS to count and free; free the rest now.
      rte_pktmbuf_free(m->next);
      m->next = nullptr;
      m->nb_segs = 1;
    }
    out[i * RX_STRIDE] = static_cast<int32_t>(MbufIndex(m));
    out[i * RX_STRIDE + 1] = m->data_off;
    out[i * RX_STRIDE + 2] = static_cast<int32_t>(m->pkt_len);
    out[i * RX_STRIDE + 3] = flags;
  }
  return Number(env, n);
}

// Transmit stride: [index, data_off, length, flags, l2, l3, l4, segment size] per frame.
constexpr int TX_STRIDE = 8;

// Prepare one mbuf for transmit: its offload fields as DPDK wants them, and in software what the
// device was not asked to (or cannot) do. RFC 791 §3.1 (IPv4 header checksum), RFC 9293 §3.1 (TCP checksum).
void PrepareTx(rte_mbuf* m, const int32_t* d, uint64_t device) {
  m->data_off = static_cast<uint16_t>(d[1]);
  m->data_len = static_cast<uint16_t>(d[2]);
  m->pkt_len = static_cast<uint32_t>(d[2]);
  m->nb_segs = 1;
  m->next = nullptr;
  m->ol_flags = 0;
  int32_t flags = d[3];
  if ((flags & (TX_IP_CHECKSUM | TX_TCP_CHECKSUM | TX_UDP_CHECKSUM | TX_TCP_SEGMENTATION)) == 0) return;
  m->l2_len = static_cast<uint64_t>(d[4]);
  m->l3_len = static_cast<uint64_t>(d[5]);
  m->l4_len = static_cast<uint64_t>(d[6]);
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, d[4]);
  uint64_t ol = RTE_MBUF_F_TX_IPV4;
  if (flags & (TX_IP_CHECKSUM | TX_TCP_SEGMENTATION)) {
    if (device & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
      ip->hdr_checksum = 0;
      ol |= RTE_MBUF_F_TX_IP_CKSUM;
    } else {
      ip->hdr_checksum = 0;
      ip->hdr_checksum = rte_ipv4_cksum(ip);
    }
  }
  if (flags & TX_TCP_SEGMENTATION) {
    // Only offered when the device has TSO: the pseudo-header sum without the length, as DPDK wants.
    auto* tcp = reinterpret_cast<rte_tcp_hdr*>(reinterpret_cast<char*>(ip) + d[5]);
    ol |= RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IP_CKSUM;
    ip->hdr_checksum = 0;
    m->tso_segsz = static_cast<uint16_t>(d[7]);
    m->ol_flags = ol;
    tcp->cksum = rte_ipv4_phdr_cksum(ip, ol);
    return;
  }
  if (flags & TX_TCP_CHECKSUM) {
    auto* tcp = reinterpret_cast<rte_tcp_hdr*>(reinterpret_cast<char*>(ip) + d[5]);
    if (device & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) {
      ol |= RTE_MBUF_F_TX_TCP_CKSUM;
      tcp->cksum = rte_ipv4_phdr_cksum(ip, ol);
    } else {
      tcp->cksum = 0;
      tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
    }
  } else if (flags & TX_UDP_CHECKSUM) {
    auto* udp = reinterpret_cast<rte_udp_hdr*>(reinterpret_cast<char*>(ip) + d[5]);
    if (device & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) {
      ol |= RTE_MBUF_F_TX_UDP_CKSUM;
      udp->dgram_cksum = rte_ipv4_phdr_cksum(ip, ol);
    } else {
      udp->dgram_cksum = 0;
      udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
      if (udp->dgram_cksum == 0) udp->dgram_cksum = 0xffff;  // RFC 768: zero means "no checksum"
    }
  }
  if (ol & (RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM)) m->ol_flags = ol;
}

// txBurst(port, queue, pool, count, in: Int32Array): transmit mbufs by index; returns how many the device took
// (the rest stay with the caller). Every index is checked before anything is sent.
napi_value TxBurst(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!GetArgs(env, info, 5, argv)) return nullptr;
  uint16_t port = 0;
  uint32_t queue = 0, count = 0;
  Pool* pool = nullptr;
  int32_t* in = nullptr;
  if (!GetPort(env, argv[0], &port) || !GetU32(env, argv[1], "queue", 1023, &queue) || !GetPool(env, argv[2], &pool) ||
      !GetU32(env, argv[3], "count", 512, &count) || !GetInt32Array(env, argv[4], "frames", static_cast<size_t>(count) * TX_STRIDE, &in)) {
    return nullptr;
  }
  if (!g_ports[port].started) return Throw(env, "ERR_PORT_CLOSED", "the port is stopped");
  rte_mbuf* mbufs[512];
  for (uint32_t i = 0; i < count; i++) {
    const int32_t* d = in + i * TX_STRIDE;
    if (d[0] < 0 || static_cast<size_t>(d[0]) >= pool->mbufs.size()) return Throw(env, "ERR_INVALID_ARG", "mbuf index " + std::to_string(d[0]) + " out of range");
    rte_mbuf* m = pool->mbufs[d[0]];
    if (d[1] < 0 || d[2] < 0 || d[1] + d[2] > m->buf_len) return Throw(env, "ERR_INVALID_ARG", "frame outside its mbuf");
    mbufs[i] = m;
  }
  uint64_t device = g_ports[port].tx_offloads;
  for (uint32_t i = 0; i < count; i++) PrepareTx(mbufs[i], in + i * TX_STRIDE, device);
  uint16_t sent = rte_eth_tx_burst(port, static_cast<uint16_t>(queue), mbufs, static_cast<uint16_t>(count));
  return Number(env, sent);
}

// linkStatus(port): { up, speed (Mbit/s), fullDuplex }.
napi_value LinkStatus(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv) || !RequireEal(env)) return nullptr;
  uint16_t port = 0;
  if (!GetPort(env, argv[0], &port)) return nullptr;
  rte_eth_link link{};
  int rc = rte_eth_link_get_nowait(port, &link);
  if (rc != 0) return ThrowDpdk(env, "rte_eth_link_get_nowait", rc);
  napi_value out = nullptr;
  NAPI_OK(napi_create_object(env, &out));
  if (!SetBool(env, out, "up", link.link_status == RTE_ETH_LINK_UP) ||
      !SetNumber(env, out, "speed", link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN ? 0 : link.link_speed) ||
      !SetBool(env, out, "fullDuplex", link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX)) {
    return nullptr;
  }
  return out;
}

// stats(port): rte_eth_stats and every xstat as { name: value }.
napi_value Stats(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv) || !RequireEal(env)) return nullptr;
  uint16_t port = 0;
  if (!GetPort(env, argv[0], &port)) return nullptr;
  rte_eth_stats s{};
  int rc = rte_eth_stats_get(port, &s);
  if (rc != 0) return ThrowDpdk(env, "rte_eth_stats_get", rc);
  napi_value out = nullptr, xout = nullptr;
  NAPI_OK(napi_create_object(env, &out));
  if (!SetNumber(env, out, "ipackets", static_cast<double>(s.ipackets)) || !SetNumber(env, out, "opackets", static_cast<double>(s.opackets)) ||
      !SetNumber(env, out, "ibytes", static_cast<double>(s.ibytes)) || !SetNumber(env, out, "obytes", static_cast<double>(s.obytes)) ||
      !SetNumber(env, out, "imissed", static_cast<double>(s.imissed)) || !SetNumber(env, out, "ierrors", static_cast<double>(s.ierrors)) ||
      !SetNumber(env, out, "oerrors", static_cast<double>(s.oerrors)) || !SetNumber(env, out, "rxNoMbuf", static_cast<double>(s.rx_nombuf)) ||
      !SetNumber(env, out, "copies", static_cast<double>(g_copies))) {
    return nullptr;
  }
  NAPI_OK(napi_create_object(env, &xout));
  int n = rte_eth_xstats_get_names(port, nullptr, 0);
  if (n > 0) {
    std::vector<rte_eth_xstat_name> names(static_cast<size_t>(n));
    std::vector<rte_eth_xstat> values(static_cast<size_t>(n));
    int got = rte_eth_xstats_get_names(port, names.data(), static_cast<unsigned>(n));
    int vals = rte_eth_xstats_get(port, values.data(), static_cast<unsigned>(n));
    if (got == n && vals == n) {
      for (int i = 0; i < n; i++) {
        if (values[i].id >= static_cast<uint64_t>(n)) continue;
        if (!SetNumber(env, xout, names[values[i].id].name, static_cast<double>(values[i].value))) return nullptr;
      }
    }
  }
  NAPI_OK(napi_set_named_property(env, out, "xstats", xout));
  return out;
}

// rssReta(port, queues): fill the redirection table as the cluster's FlowSteering fills its own 128
// entries (entry i -> queue (i mod 128) mod queues), so that with a table of 128 entries or a multiple of
// 128 the device and the workers agree on every flow's queue. Returns the table size, or 0 where the
// device has no table.
napi_value RssReta(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv) || !RequireEal(env)) return nullptr;
  uint16_t port = 0;
  uint32_t queues = 0;
  if (!GetPort(env, argv[0], &port) || !GetU32(env, argv[1], "queues", 1024, &queues)) return nullptr;
  rte_eth_dev_info dev{};
  int rc = rte_eth_dev_info_get(port, &dev);
  if (rc != 0) return ThrowDpdk(env, "rte_eth_dev_info_get", rc);
  if (dev.reta_size == 0 || queues == 0) return Number(env, 0);
  std::vector<rte_eth_rss_reta_entry64> reta(dev.reta_size / RTE_ETH_RETA_GROUP_SIZE + 1);
  for (uint16_t i = 0; i < dev.reta_size; i++) {
    reta[i / RTE_ETH_RETA_GROUP_SIZE].mask |= 1ULL << (i % RTE_ETH_RETA_GROUP_SIZE);
    reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE] = static_cast<uint16_t>((i % 128) % queues);
  }
  rc = rte_eth_dev_rss_reta_update(port, reta.data(), dev.reta_size);
  if (rc != 0) return ThrowDpdk(env, "rte_eth_dev_rss_reta_update", rc);
  return Number(env, dev.reta_size);
}

// softRss(key: Uint8Array (>= 16 bytes), srcIp, dstIp, srcPort, dstPort): DPDK's own software Toeplitz hash
// (rte_softrss) of an IPv4 4-tuple, addresses as uint32 in host order; the reference the cluster's
// ToeplitzHash is tested against. Needs no EAL.
napi_value SoftRss(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!GetArgs(env, info, 5, argv)) return nullptr;
  bool is_typed = false;
  NAPI_OK(napi_is_typedarray(env, argv[0], &is_typed));
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  if (is_typed) NAPI_OK(napi_get_typedarray_info(env, argv[0], &type, &length, &data, nullptr, nullptr));
  // rte_softrss reads key word j + 1 for input word j: 3 words of input need 16 bytes of key.
  if (!is_typed || type != napi_uint8_array || length < 4 * (RTE_THASH_V4_L4_LEN + 1)) return Throw(env, "ERR_INVALID_ARG", "key must be a Uint8Array of at least 16 bytes");
  uint32_t src = 0, dst = 0, sport = 0, dport = 0;
  if (!GetU32(env, argv[1], "srcIp", UINT32_MAX, &src) || !GetU32(env, argv[2], "dstIp", UINT32_MAX, &dst) || !GetU32(env, argv[3], "srcPort", UINT16_MAX, &sport) ||
      !GetU32(env, argv[4], "dstPort", UINT16_MAX, &dport)) {
    return nullptr;
  }
  alignas(4) uint8_t key[4 * (RTE_THASH_V4_L4_LEN + 1)];
  std::memcpy(key, data, sizeof(key));  // aligned for rte_softrss's 32-bit reads
  rte_ipv4_tuple tuple{};
  tuple.src_addr = src;
  tuple.dst_addr = dst;
  tuple.sport = static_cast<uint16_t>(sport);
  tuple.dport = static_cast<uint16_t>(dport);
  return Number(env, rte_softrss(reinterpret_cast<uint32_t*>(&tuple), RTE_THASH_V4_L4_LEN, key));
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"ealInit", nullptr, EalInit, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"threadRegister", nullptr, ThreadRegister, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"portCount", nullptr, PortCount, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"portByName", nullptr, PortByName, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"portInfo", nullptr, PortInfo, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"poolCreate", nullptr, PoolCreate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"poolAttach", nullptr, PoolAttach, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"poolAlloc", nullptr, PoolAlloc, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"poolFree", nullptr, PoolFree, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"poolAvailable", nullptr, PoolAvailable, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"portStart", nullptr, PortStart, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"portStop", nullptr, PortStop, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"rxBurst", nullptr, RxBurst, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"txBurst", nullptr, TxBurst, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"linkStatus", nullptr, LinkStatus, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"stats", nullptr, Stats, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"rssReta", nullptr, RssReta, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"softRss", nullptr, SoftRss, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  NAPI_OK(napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
