/* udp_pingpong_client.c — the load generator of the UDP ping-pong benchmark.
 *
 * C clients, each a UDP socket connected to 127.0.0.1:PORT (never any other
 * address), send one datagram of SIZE bytes and wait for its echo before
 * the next (request/response). A datagram carries its client's number and a
 * sequence number; an echo is checked byte for byte. A request unanswered
 * after 200 ms counts as lost and the client sends the next one (UDP loses
 * datagrams: the loss is reported, not hidden).
 *
 *   udp_pingpong_client PEER PORT SIZE CLIENTS SECONDS [SERVER_PID]
 *
 * Prints one line, in the echo benchmark's format:
 *   peer=P workload=udp_pingpong size=S clients=C n=N req_per_s=R p50_us=A
 *   p99_us=B wall_ms=W srv_cpu_us=X cli_cpu_us=Y lost=L
 * srv_cpu_us is the server process's CPU time (all its threads, from
 * /proc/PID/task/TID/schedstat) over the measured phase, per request.
 * A warm-up of 0.5 s comes first. Exit status 0 ok, 1 run failed, 2 usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU time of every thread of pid, in ns (-1 if unreadable). */
static int64_t process_cpu_ns(long pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/task", pid);
  DIR *d = opendir(path);
  if (!d) return -1;
  int64_t sum = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p2[128];
    snprintf(p2, sizeof p2, "/proc/%ld/task/%s/schedstat", pid, e->d_name);
    FILE *f = fopen(p2, "r");
    if (!f) continue;
    unsigned long long run = 0;
    if (fscanf(f, "%llu", &run) == 1) sum += (int64_t)run;
    fclose(f);
  }
  closedir(d);
  return sum;
}

static int64_t self_cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
         ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

struct client {
  int fd;
  uint32_t seq;
  int64_t sent_at;
};

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static void fill(char *buf, size_t size, uint32_t id, uint32_t seq) {
  for (size_t i = 0; i < size; ++i) buf[i] = (char)('a' + (i + seq) % 26);
  if (size >= 8) {
    memcpy(buf, &id, 4);
    memcpy(buf + 4, &seq, 4);
  }
}

static int send_request(struct client *c, uint32_t id, char *buf, size_t size) {
  c->seq++;
  fill(buf, size, id, c->seq);
  c->sent_at = now_ns();
  return send(c->fd, buf, size, 0) == (ssize_t)size || errno == ECONNREFUSED ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s PEER PORT SIZE CLIENTS SECONDS [SERVER_PID]\n", argv[0]);
    return 2;
  }
  const char *peer = argv[1];
  const int port = atoi(argv[2]);
  const size_t size = (size_t)atol(argv[3]);
  const int clients = atoi(argv[4]);
  const double seconds = atof(argv[5]);
  const long server_pid = argc > 6 ? atol(argv[6]) : 0;
  if (port <= 0 || size < 8 || size > 65507 || clients <= 0 || seconds <= 0) return 2;

  int ep = epoll_create1(0);
  struct client *cs = calloc((size_t)clients, sizeof *cs);
  char *buf = malloc(size), *expect = malloc(size), *in = malloc(65536);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  for (int i = 0; i < clients; ++i) {
    cs[i].fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (cs[i].fd < 0 || connect(cs[i].fd, (struct sockaddr *)&to, sizeof to) != 0) return 1;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
  }

  const int64_t warmup_end = now_ns() + 500000000LL;
  const int64_t end = warmup_end + (int64_t)(seconds * 1e9);
  size_t lat_cap = 1 << 20, n = 0;
  int64_t *lat = malloc(lat_cap * sizeof *lat);
  long lost = 0;
  int measuring = 0;
  int64_t srv0 = 0, cli0 = 0, t0 = 0;

  for (int i = 0; i < clients; ++i) send_request(&cs[i], (uint32_t)i, buf, size);
  struct epoll_event evs[256];
  for (;;) {
    const int64_t now = now_ns();
    if (!measuring && now >= warmup_end) {
      measuring = 1;
      t0 = now;
      srv0 = server_pid ? process_cpu_ns(server_pid) : 0;
      cli0 = self_cpu_ns();
    }
    if (now >= end) break;
    int k = epoll_wait(ep, evs, 256, 10);
    for (int e = 0; e < k; ++e) {
      struct client *c = &cs[evs[e].data.u32];
      const uint32_t id = evs[e].data.u32;
      for (;;) {
        ssize_t r = recv(c->fd, in, 65536, 0);
        if (r < 0) break;
        fill(expect, size, id, c->seq);
        if ((size_t)r != size || memcmp(in, expect, size) != 0) continue; /* a late echo of a lost one */
        const int64_t t = now_ns();
        if (measuring) {
          if (n == lat_cap) lat = realloc(lat, (lat_cap *= 2) * sizeof *lat);
          lat[n++] = t - c->sent_at;
        }
        send_request(c, id, buf, size);
      }
    }
    const int64_t t = now_ns();
    for (int i = 0; i < clients; ++i) {
      if (t - cs[i].sent_at > 200000000LL) { /* 200 ms: lost */
        if (measuring) ++lost;
        send_request(&cs[i], (uint32_t)i, buf, size);
      }
    }
  }
  const int64_t wall = now_ns() - t0;
  const int64_t srv = server_pid ? process_cpu_ns(server_pid) - srv0 : -1;
  const int64_t cli = self_cpu_ns() - cli0;
  if (n == 0) return 1;
  qsort(lat, n, sizeof *lat, cmp_i64);
  char srv_text[32] = "-";
  if (srv >= 0) snprintf(srv_text, sizeof srv_text, "%.2f", srv / 1e3 / (double)n);
  printf("peer=%s workload=udp_pingpong size=%zu clients=%d n=%zu req_per_s=%.1f p50_us=%.1f p99_us=%.1f "
         "wall_ms=%.1f srv_cpu_us=%s cli_cpu_us=%.2f lost=%ld\n",
         peer, size, clients, n, n / (wall / 1e9), lat[n / 2] / 1e3, lat[n * 99 / 100] / 1e3, wall / 1e6, srv_text,
         cli / 1e3 / (double)n, lost);
  return 0;
}
