/*
 * The C baseline of ccp-ipc-rtt.bench.mjs, built and run by it in the same run: a 64-byte datagram
 * round trip over unix datagram sockets between two processes (this one and a forked echo), as portus and
 * a C datapath (libccp) exchange them. Prints "p50 p99" in microseconds over `rounds` round trips after
 * `warmup` more. Usage: unix-dgram-rtt <directory> <rounds> <warmup>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int bound(const char *path) {
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  if (fd < 0) { perror("socket"); exit(1); }
  snprintf(address.sun_path, sizeof address.sun_path, "%s", path);
  unlink(path);
  if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0) { perror("bind"); exit(1); }
  return fd;
}

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: unix-dgram-rtt <directory> <rounds> <warmup>\n"); return 2; }
  int rounds = atoi(argv[2]), warmup = atoi(argv[3]);
  char agent[96], datapath[96];
  if (strlen(argv[1]) > 80) { fprintf(stderr, "directory path too long for a unix socket\n"); return 2; }
  snprintf(agent, sizeof agent, "%s/portus", argv[1]);
  snprintf(datapath, sizeof datapath, "%s/datapath", argv[1]);
  int agent_fd = bound(agent);
  pid_t child = fork();
  if (child == 0) {
    /* The echo: answer every datagram to its sender, until told to stop by an empty one. */
    unsigned char bytes[2048];
    struct sockaddr_un from;
    for (;;) {
      socklen_t length = sizeof from;
      ssize_t n = recvfrom(agent_fd, bytes, sizeof bytes, 0, (struct sockaddr *)&from, &length);
      if (n <= 0) _exit(0);
      sendto(agent_fd, bytes, n, 0, (struct sockaddr *)&from, length);
    }
  }
  close(agent_fd);
  int fd = bound(datapath);
  struct sockaddr_un to = {.sun_family = AF_UNIX};
  snprintf(to.sun_path, sizeof to.sun_path, "%s", agent);
  unsigned char message[64] = {1, 0, 64, 0, 1};
  unsigned char reply[2048];
  double *samples = malloc(sizeof(double) * rounds);
  for (int i = -warmup; i < rounds; i++) {
    double start = now_us();
    if (sendto(fd, message, sizeof message, 0, (struct sockaddr *)&to, sizeof to) != sizeof message) { perror("sendto"); return 1; }
    if (recv(fd, reply, sizeof reply, 0) != sizeof message) { perror("recv"); return 1; }
    if (i >= 0) samples[i] = now_us() - start;
  }
  sendto(fd, message, 0, 0, (struct sockaddr *)&to, sizeof to);
  waitpid(child, NULL, 0);
  qsort(samples, rounds, sizeof(double), by_value);
  printf("%.2f %.2f\n", samples[rounds / 2], samples[(int)(rounds * 0.99)]);
  unlink(agent);
  unlink(datapath);
  return 0;
}
