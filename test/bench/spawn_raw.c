/* spawn_raw.c — raw libuv: uv_spawn("true") and wait for its exit, N times
 * in sequence (the exit callback closes the handle and spawns the next).
 * The baseline of spawn_rate.sh; prints one key=value line.
 *   spawn_raw N */
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <uv.h>

static long remaining;
static long failures;
static uv_process_options_t options;
static char* args[] = {"true", NULL};

static void spawn_next(uv_loop_t* loop);

/* This process's CPU time (user + system, the children's excluded), µs. */
static double cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static void on_closed(uv_handle_t* h) {
  uv_loop_t* loop = h->loop;
  free(h);
  if (remaining > 0) spawn_next(loop);
}

static void on_exit_cb(uv_process_t* p, int64_t status, int sig) {
  if (status != 0 || sig != 0) ++failures;
  uv_close((uv_handle_t*)p, on_closed);
}

static void spawn_next(uv_loop_t* loop) {
  uv_process_t* p = malloc(sizeof *p);
  --remaining;
  int rc = uv_spawn(loop, p, &options);
  if (rc != 0) {
    fprintf(stderr, "uv_spawn: %s\n", uv_strerror(rc));
    exit(1);
  }
}

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000;
  uv_stdio_container_t stdio[3] = {{UV_INHERIT_FD, {.fd = 0}}, {UV_INHERIT_FD, {.fd = 1}}, {UV_INHERIT_FD, {.fd = 2}}};
  options.file = "true";
  options.args = args;
  options.exit_cb = on_exit_cb;
  options.stdio = stdio;
  options.stdio_count = 3;
  uv_loop_t* loop = uv_default_loop();
  remaining = n;
  double c0 = cpu_us();
  uint64_t t0 = uv_hrtime();
  spawn_next(loop);
  uv_run(loop, UV_RUN_DEFAULT);
  double wall_ms = (double)(uv_hrtime() - t0) / 1e6;
  double cpu = (cpu_us() - c0) / n;
  if (failures) {
    fprintf(stderr, "%ld children failed\n", failures);
    return 1;
  }
  printf("peer=libuv workload=spawn_process n=%ld us_per_op=%.1f wall_ms=%.1f per_s=%.0f cpu_us=%.1f\n", n,
         wall_ms * 1000 / n, wall_ms, n / (wall_ms / 1000), cpu);
  return 0;
}
