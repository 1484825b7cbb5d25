// The load generator of the workers benchmarks in C (built at run time with the C compiler the native
// addon already needs; bench/workers-lib.mjs falls back to tx-clients.mjs without one): one thread, one
// epoll, `concurrency` connections each doing small transactions back to back (non-blocking connect,
// 64-byte request, 64-byte response, close).
//   tx-clients <host> <port> <concurrency> <warm-up s> <seconds> [http]
// prints the same JSON line as tx-clients.mjs. With `http`, each transaction is an HTTP/1.1 POST of a
// 64-byte body with `Connection: close`, done when the server closes after a `200` response (what a
// node:http client with `agent: false` does, at a fraction of its CPU cost: kernel-short-connections uses
// it so that the client is not the bottleneck).
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { CONNECTING, WAITING };

struct conn {
  int fd;
  int state;
  int got;
  int ok;
};

static struct sockaddr_in target;
static char request[256];
static size_t requestLength = 64;
static int http;
static long long transactions, allTransactions, errors;
static int counting;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

static void start(int ep, struct conn* c) {
  for (;;) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
      perror("socket");
      exit(1);
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->state = CONNECTING;
    c->got = 0;
    c->ok = 0;
    int r = connect(c->fd, (struct sockaddr*)&target, sizeof target);
    if (r == 0 || errno == EINPROGRESS) break;
    if (counting) errors++;
    close(c->fd);  // e.g. EADDRNOTAVAIL: no free port right now; try again
  }
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void restart(int ep, struct conn* c, int failed) {
  if (failed && counting) errors++;
  close(c->fd);  // a close removes it from the epoll set
  start(ep, c);
}

int main(int argc, char** argv) {
  if (argc != 6 && !(argc == 7 && strcmp(argv[6], "http") == 0)) {
    fprintf(stderr, "usage: %s host port concurrency warmup seconds [http]\n", argv[0]);
    return 2;
  }
  memset(&target, 0, sizeof target);
  target.sin_family = AF_INET;
  target.sin_port = htons(atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &target.sin_addr) != 1) return 2;
  int concurrency = atoi(argv[3]);
  double warmup = atof(argv[4]), seconds = atof(argv[5]);
  http = argc == 7;
  memset(request, 0x71, sizeof request);
  if (http) {
    static const char head[] = "POST / HTTP/1.1\r\nHost: bench\r\nContent-Length: 64\r\nConnection: close\r\n\r\n";
    memcpy(request, head, sizeof head - 1);
    requestLength = sizeof head - 1 + 64;  // the head, then 64 bytes of 'q'
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct conn* conns = calloc(concurrency, sizeof *conns);
  for (int i = 0; i < concurrency; i++) start(ep, &conns[i]);
  struct epoll_event events[256];
  double begin = now(), windowStart = 0, cpuStart = 0;
  for (;;) {
    double t = now();
    if (!counting && windowStart == 0 && t - begin >= warmup) {
      counting = 1;
      windowStart = t;
      cpuStart = cpu();
    }
    if (counting && t - windowStart >= seconds) break;
    int n = epoll_wait(ep, events, 256, 10);
    for (int i = 0; i < n; i++) {
      struct conn* c = events[i].data.ptr;
      if (c->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (events[i].events & (EPOLLERR | EPOLLHUP))) {
          restart(ep, c, 1);
          continue;
        }
        if (!(events[i].events & EPOLLOUT)) continue;
        if (write(c->fd, request, requestLength) != (ssize_t)requestLength) {
          restart(ep, c, 1);
          continue;
        }
        c->state = WAITING;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        continue;
      }
      char buffer[512];
      ssize_t r = read(c->fd, buffer, sizeof buffer);
      if (r < 0 && errno == EAGAIN) continue;
      if (http) {
        // Done when the server closes after a response that began with a 200 status line.
        if (r > 0 && c->got == 0) c->ok = r >= 12 && memcmp(buffer, "HTTP/1.1 200", 12) == 0;
        if (r > 0) {
          c->got += (int)r;
          continue;
        }
        if (r == 0 && c->ok) {
          allTransactions++;
          if (counting) transactions++;
          restart(ep, c, 0);
        } else {
          restart(ep, c, 1);
        }
        continue;
      }
      if (r <= 0) {
        restart(ep, c, 1);
        continue;
      }
      c->got += (int)r;
      if (c->got >= 64) {
        allTransactions++;
        if (counting) transactions++;
        restart(ep, c, 0);  // close: FIN, as the Node generator's end()
      }
    }
  }
  double elapsed = now() - windowStart;
  printf("{\"transactions\":%lld,\"allTransactions\":%lld,\"seconds\":%.6f,\"errors\":%lld,\"cpuSeconds\":%.6f}\n", transactions, allTransactions, elapsed, errors, cpu() - cpuStart);
  return 0;
}
