/*
 * queue_raw.c - the queue workload of asyncuv-bench with plain libuv
 * callbacks: the floor for a producer/consumer hand-off on a libuv loop.
 *
 * Usage: queue_raw [queue] N
 * Prints one line:
 *   peer=libuv workload=queue n=N ns_per_op=X wall_ms=Y
 * Exits 1 if the result check fails, 2 on bad arguments.
 *
 * The natural callback equivalent of one producer task and one consumer
 * task sharing a Queue(maxsize=100): a ring buffer of capacity 100; the
 * producer is a uv_idle callback that puts 0, 1, 2, ... until the ring is
 * full (or all N are in), the consumer a uv_check callback that takes
 * everything in the ring and sums it. Each loop iteration therefore moves
 * up to 100 items, as the coroutine versions do between two switches. The
 * idle handle stays active until the consumer has all N (so that the poll
 * phase never blocks); the consumer then stops both handles.
 * ns_per_op = wall / N, timed from before the handles start until the
 * consumer has the last item. Built by test/bench/compare.sh:
 *   gcc -std=gnu11 -O3 -DNDEBUG queue_raw.c $(pkg-config --cflags --libs libuv)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define QUEUE_SIZE 100

static int64_t ring[QUEUE_SIZE];
static int head, count;
static int64_t n_items, produced, consumed, sum;
static uint64_t t1;
static uv_idle_t producer;
static uv_check_t consumer;

static void check_uv(int rc, const char *what) {
  if (rc != 0) {
    fprintf(stderr, "queue_raw: %s: %s\n", what, uv_strerror(rc));
    exit(3);
  }
}

static void producer_cb(uv_idle_t *h) {
  (void)h;
  while (count < QUEUE_SIZE && produced < n_items) {
    int tail = head + count;
    if (tail >= QUEUE_SIZE) tail -= QUEUE_SIZE;
    ring[tail] = produced++;
    count++;
  }
}

static void consumer_cb(uv_check_t *h) {
  (void)h;
  while (count > 0) {
    sum += ring[head];
    if (++head == QUEUE_SIZE) head = 0;
    count--;
    consumed++;
  }
  if (consumed == n_items) {
    t1 = uv_hrtime();
    uv_idle_stop(&producer);
    uv_check_stop(&consumer);
  }
}

int main(int argc, char **argv) {
  const char *arg = NULL;
  if (argc == 2) arg = argv[1];
  else if (argc == 3 && strcmp(argv[1], "queue") == 0) arg = argv[2];
  else {
    fprintf(stderr, "usage: %s [queue] N\n", argv[0]);
    return 2;
  }
  char *end = NULL;
  errno = 0;
  long long n = strtoll(arg, &end, 10);
  if (errno || end == arg || *end || n < 0) {
    fprintf(stderr, "queue_raw: N must be a non-negative integer, got '%s'\n", arg);
    return 2;
  }
  n_items = n;
  uv_loop_t *loop = uv_default_loop();
  check_uv(uv_idle_init(loop, &producer), "uv_idle_init");
  check_uv(uv_check_init(loop, &consumer), "uv_check_init");
  uint64_t t0 = uv_hrtime();
  if (n > 0) {
    check_uv(uv_idle_start(&producer, producer_cb), "uv_idle_start");
    check_uv(uv_check_start(&consumer, consumer_cb), "uv_check_start");
  } else {
    t1 = t0;
  }
  check_uv(uv_run(loop, UV_RUN_DEFAULT), "uv_run");
  uv_close((uv_handle_t *)&producer, NULL);
  uv_close((uv_handle_t *)&consumer, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  if (uv_loop_close(loop) != 0) {
    fprintf(stderr, "queue_raw: loop still has open handles\n");
    return 1;
  }
  if (consumed != n || sum != n * (n - 1) / 2) {
    fprintf(stderr, "queue_raw: queue check failed: sum=%" PRId64 " expected=%lld consumed=%" PRId64 "\n", sum,
            n * (n - 1) / 2, consumed);
    return 1;
  }
  double wall_ns = (double)(t1 - t0);
  printf("peer=libuv workload=queue n=%lld ns_per_op=%.1f wall_ms=%.1f\n", n, n ? wall_ns / (double)n : 0.0,
         wall_ns / 1e6);
  return 0;
}
