// Transmit-only AF_XDP in C, two ways over the same veth: through DPDK 22.11's net_af_xdp driver
// (rte_eth_tx_burst) and through an AF_XDP socket of our own (libxdp's xsk rings). Both write the same
// 1514-byte frame into each buffer (one memcpy), send bursts of 32, reap completions, and kick the kernel
// with sendto() when it asks (need_wakeup); both sockets are in copy mode (XDP_COPY, veth has no zero copy).
// The frame is addressed to a MAC nobody has, so the peer drops it on arrival and the figures are those of
// the transmit path. Driven by bench/dpdk-afxdp-tx.bench.mjs; prints one JSON line.
//   dpdk-afxdp-tx dpdk|dpdk-unpacked|direct <interface> <frames>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <xdp/xsk.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>

#define FRAME_LEN 1514
#define BURST 32

static uint8_t frame[FRAME_LEN];

static void build_frame(void) {
  static const uint8_t head[] = {
      0x02, 0x00, 0x00, 0x00, 0x00, 0x01,  // destination: nobody's
      0x02, 0x00, 0x00, 0x00, 0x00, 0x02,  // source
      0x08, 0x00,                          // IPv4
      0x45, 0x00, 0x05, 0xdc, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,  // 1500 bytes, UDP
      0x30, 0x39, 0x30, 0x39, 0x05, 0xc8, 0, 0,                                        // ports 12345, length 1480
  };
  memset(frame, 0x61, sizeof(frame));
  memcpy(frame, head, sizeof(head));
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char* mode, uint64_t frames, double seconds, const struct rusage* before) {
  struct rusage after;
  getrusage(RUSAGE_SELF, &after);
  double user = (double)(after.ru_utime.tv_sec - before->ru_utime.tv_sec) * 1e6 + (double)(after.ru_utime.tv_usec - before->ru_utime.tv_usec);
  double sys = (double)(after.ru_stime.tv_sec - before->ru_stime.tv_sec) * 1e6 + (double)(after.ru_stime.tv_usec - before->ru_stime.tv_usec);
  printf("{\"mode\":\"%s\",\"frames\":%llu,\"seconds\":%.6f,\"userUs\":%.0f,\"systemUs\":%.0f}\n", mode, (unsigned long long)frames, seconds, user, sys);
}

// packed = 0 makes the pool as rte_pktmbuf_pool_create does (objects kept inside 4 KB pages with --no-huge),
// to show what decision 0032 fixed: frames sent from mbufs beyond the driver's umem never reach the veth. It has
// no per-lcore cache, so its ring hands out every mbuf in turn (FIFO), as a stack with megabytes in flight does;
// with a cache the same few hundred mbufs would circulate.
static int run_dpdk(const char* ifname, uint64_t total, int packed) {
  char vdev[128];
  snprintf(vdev, sizeof(vdev), "--vdev=net_af_xdp0,iface=%s", ifname);
  char* argv[] = {"dpdk-afxdp-tx", "--no-huge", "-m", "256", "--no-pci", "-l", "0", "--no-shconf", "--no-telemetry", "--log-level=lib.eal:error", vdev, NULL};
  if (rte_eal_init(11, argv) < 0) return fprintf(stderr, "rte_eal_init failed\n"), 1;
  // Packed as @mtcp/dpdk-io-dpdk packs it (decision 0032), or net_af_xdp would lose frames.
  struct rte_pktmbuf_pool_private priv = {.mbuf_data_room_size = RTE_PKTMBUF_HEADROOM + 2048, .mbuf_priv_size = 0};
  struct rte_mempool* mp = rte_mempool_create_empty("tx", 8192, sizeof(struct rte_mbuf) + priv.mbuf_data_room_size, packed ? 256 : 0, sizeof(priv), 0, packed ? RTE_MEMPOOL_F_NO_IOVA_CONTIG : 0);
  if (mp == NULL || rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL) != 0) return fprintf(stderr, "mempool failed\n"), 1;
  rte_pktmbuf_pool_init(mp, &priv);
  if (rte_mempool_populate_default(mp) < 0) return fprintf(stderr, "populate failed\n"), 1;
  rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
  struct rte_eth_conf conf;
  memset(&conf, 0, sizeof(conf));
  if (rte_eth_dev_configure(0, 1, 1, &conf) != 0 || rte_eth_rx_queue_setup(0, 0, 1024, 0, NULL, mp) != 0 || rte_eth_tx_queue_setup(0, 0, 1024, 0, NULL) != 0 ||
      rte_eth_dev_start(0) != 0) {
    return fprintf(stderr, "port setup failed\n"), 1;
  }
  // What the pool holds with the receive fill ring stocked: every sent frame has completed when it is back.
  const unsigned idle = rte_mempool_avail_count(mp);
  struct rusage before;
  getrusage(RUSAGE_SELF, &before);
  double start = now_seconds();
  uint64_t sent = 0;
  struct rte_mbuf* m[BURST];
  while (sent < total) {
    unsigned n = total - sent < BURST ? (unsigned)(total - sent) : BURST;
    if (rte_pktmbuf_alloc_bulk(mp, m, n) != 0) {
      rte_eth_tx_burst(0, 0, m, 0);  // reaps completions
      continue;
    }
    for (unsigned i = 0; i < n; i++) {
      memcpy(rte_pktmbuf_mtod(m[i], void*), frame, FRAME_LEN);
      m[i]->data_len = FRAME_LEN;
      m[i]->pkt_len = FRAME_LEN;
    }
    uint16_t done = rte_eth_tx_burst(0, 0, m, (uint16_t)n);
    if (done < n) rte_pktmbuf_free_bulk(&m[done], n - done);
    sent += done;
  }
  while (rte_mempool_avail_count(mp) < idle) rte_eth_tx_burst(0, 0, m, 0);
  report(packed ? "dpdk" : "dpdk-unpacked", sent, now_seconds() - start, &before);
  rte_eth_dev_stop(0);
  rte_eth_dev_close(0);
  return 0;
}

#define NUM_FRAMES 4096
#define DIRECT_FRAME XSK_UMEM__DEFAULT_FRAME_SIZE

static int run_direct(const char* ifname, uint64_t total) {
  size_t size = (size_t)NUM_FRAMES * DIRECT_FRAME;
  void* area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (area == MAP_FAILED) return perror("mmap"), 1;
  struct xsk_ring_prod fq, tx;
  struct xsk_ring_cons cq;
  struct xsk_umem* umem = NULL;
  struct xsk_umem_config ucfg = {.fill_size = 2048, .comp_size = 2048, .frame_size = DIRECT_FRAME, .frame_headroom = 0, .flags = 0};
  int rc = xsk_umem__create(&umem, area, size, &fq, &cq, &ucfg);
  if (rc != 0) return fprintf(stderr, "xsk_umem__create: %s\n", strerror(-rc)), 1;
  struct xsk_socket_config cfg = {
      .rx_size = 0,
      .tx_size = 2048,
      .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,  // transmit only: no XDP program is needed
      .xdp_flags = XDP_FLAGS_SKB_MODE,
      .bind_flags = XDP_COPY | XDP_USE_NEED_WAKEUP,
  };
  struct xsk_socket* xsk = NULL;
  rc = xsk_socket__create(&xsk, ifname, 0, umem, NULL, &tx, &cfg);
  if (rc != 0) return fprintf(stderr, "xsk_socket__create: %s\n", strerror(-rc)), 1;
  uint64_t free_frames[NUM_FRAMES];
  unsigned nfree = 0;
  for (unsigned i = 0; i < NUM_FRAMES; i++) free_frames[nfree++] = (uint64_t)i * DIRECT_FRAME;
  int fd = xsk_socket__fd(xsk);
  struct rusage before;
  getrusage(RUSAGE_SELF, &before);
  double start = now_seconds();
  uint64_t sent = 0, completed = 0;
  while (completed < total) {
    uint32_t idx = 0;
    unsigned done = xsk_ring_cons__peek(&cq, 2048, &idx);
    for (unsigned i = 0; i < done; i++) free_frames[nfree++] = *xsk_ring_cons__comp_addr(&cq, idx + i);
    xsk_ring_cons__release(&cq, done);
    completed += done;
    unsigned n = total - sent < BURST ? (unsigned)(total - sent) : BURST;
    if (n > nfree) n = nfree;
    if (n > 0 && xsk_ring_prod__reserve(&tx, n, &idx) == n) {
      for (unsigned i = 0; i < n; i++) {
        struct xdp_desc* d = xsk_ring_prod__tx_desc(&tx, idx + i);
        d->addr = free_frames[--nfree];
        d->len = FRAME_LEN;
        memcpy(xsk_umem__get_data(area, d->addr), frame, FRAME_LEN);
      }
      xsk_ring_prod__submit(&tx, n);
      sent += n;
    }
    // One kick per burst when the kernel asks; a refused kick (EAGAIN: completions to reap) is retried next turn.
    if (xsk_ring_prod__needs_wakeup(&tx) && sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN && errno != EBUSY && errno != EINTR) {
      return perror("sendto"), 1;
    }
  }
  report("direct", completed, now_seconds() - start, &before);
  xsk_socket__delete(xsk);
  xsk_umem__delete(umem);
  munmap(area, size);
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 4) return fprintf(stderr, "usage: %s dpdk|dpdk-unpacked|direct <interface> <frames>\n", argv[0]), 2;
  build_frame();
  uint64_t total = strtoull(argv[3], NULL, 10);
  if (strcmp(argv[1], "dpdk") == 0) return run_dpdk(argv[2], total, 1);
  if (strcmp(argv[1], "dpdk-unpacked") == 0) return run_dpdk(argv[2], total, 0);
  if (strcmp(argv[1], "direct") == 0) return run_direct(argv[2], total);
  return fprintf(stderr, "unknown mode %s\n", argv[1]), 2;
}
