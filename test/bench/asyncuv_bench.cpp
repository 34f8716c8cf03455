// asyncuv_bench.cpp — asyncuv's side of the peer benchmarks (../shared/peers).
//
// Usage: asyncuv-bench spawn|sleepers|yield|queue N
//
// Prints one line, in the peers' format and field order:
//   peer=asyncuv workload=W n=N ns_per_op=X wall_ms=Y [overhead_ms=Z] [bytes_per_task=B]
// Exit status: 0 ok, 1 a result check failed (reason on stderr, no result
// line), 2 bad arguments, 3 out of memory.
//
// The workloads are written the way the asyncio peer writes them, with
// asyncuv's equivalents of the same calls:
//   spawn    N x create_task(leaf(i)) with `Coro<int64_t> leaf(i) { co_return i; }`
//            into a std::vector<Task<int64_t>> (reserved up front), then
//            `co_await gather(std::move(tasks))`;
//            checks sum == N*(N-1)/2 and that every task is done.
//            ns_per_op = wall / N.
//   sleepers N x create_task(sleeper(i)), sleeper = `co_await sleep(0.05);
//            co_return i;` (asyncio.sleep(0.05); g++ keeps the temporary of
//            sleep(50ms) in the frame, 8 bytes more per task), then gather;
//            checks the sum and that the phase took at least 49 ms.
//            overhead_ms = wall - 50, ns_per_op = overhead / N.
//   yield    K = 100 tasks, each doing `co_await sleep(0)` N/K times (the
//            remainder spread over the first tasks), then gather; checks that
//            the yields add up to N. ns_per_op = wall / N.
//   queue    a contended producer/consumer: one task puts 0..N-1 into a
//            Queue<int64_t>(maxsize=100) with `co_await q.put(i)`, another
//            gets N items with `co_await q.get()` and sums them (it counts,
//            no sentinel); both created with create_task and gathered;
//            checks sum == N*(N-1)/2. ns_per_op = wall / N. The same
//            workload for asyncio/uvloop is test/bench/queue_peers.py, for
//            raw libuv test/bench/queue_raw.c.
//
// Measurement, as in every peer: the clock (std::chrono::steady_clock) is read
// inside the main coroutine, so creating the loop and the main task is not
// timed; spawn and sleepers are timed from before the first create_task until
// the gathered results are in hand. bytes_per_task = (VmHWM after the phase -
// VmRSS before it) / N from /proc/self/status, the peak being reset just
// before the phase by writing "5" to /proc/self/clear_refs (skipped silently
// where that is not allowed). It includes the task vector, gather's own
// bookkeeping and the result vector.
//
// Build it in release mode (meson setup --buildtype=release): test/bench/compare.sh
// does that in its own build directory.
#include <asyncuv/asyncuv.hpp>

#include "echo_server.hpp"

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using asyncuv::Coro;
using asyncuv::Task;

constexpr int kSleepMs = 50;
constexpr int kYieldTasks = 100;
constexpr int kQueueSize = 100;

// ---- memory: /proc/self/status, in kB ----

long status_kb(const char* key) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  const std::size_t klen = std::strlen(key);
  long kb = -1;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, key, klen) == 0 && line[klen] == ':') {
      kb = std::strtol(line + klen + 1, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return kb;
}

// VmHWM := VmRSS, so that the peak read after the phase is the phase's own.
void reset_peak() {
  if (std::FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);
    std::fclose(f);
  }
}

// ---- the coroutines under test ----

Coro<std::int64_t> leaf(std::int64_t i) { co_return i; }

Coro<std::int64_t> sleeper(std::int64_t i) {
  co_await asyncuv::sleep(kSleepMs / 1000.0);  // asyncio.sleep(0.05)
  co_return i;
}

Coro<std::int64_t> yielder(std::int64_t m) {
  for (std::int64_t j = 0; j < m; ++j) co_await asyncuv::sleep(0);
  co_return m;
}

Coro<void> queue_producer(asyncuv::Queue<std::int64_t>& q, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) co_await q.put(i);
}

Coro<std::int64_t> queue_consumer(asyncuv::Queue<std::int64_t>& q, std::int64_t n) {
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += co_await q.get();
  co_return sum;
}

// ---- the measured phases ----

struct Result {
  bool ok = false;
  std::string why;        // when !ok
  std::int64_t wall_ns = 0;
  long mem_bytes = -1;    // -1: not measured (yield)
};

std::int64_t elapsed_ns(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
}

// spawn and sleepers: N tasks of make(i), gathered; results in index order.
template <class Make>
Coro<Result> spawn_and_gather(std::int64_t n, Make make) {
  Result r;
  const long rss0 = status_kb("VmRSS");
  reset_peak();
  const auto t0 = Clock::now();

  std::vector<Task<std::int64_t>> tasks;
  tasks.reserve(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) tasks.push_back(asyncuv::create_task(make(i)));
  std::vector<std::int64_t> results = co_await asyncuv::gather(std::move(tasks));

  const auto t1 = Clock::now();
  const long hwm1 = status_kb("VmHWM");

  r.wall_ns = elapsed_ns(t0, t1);
  r.mem_bytes = (rss0 >= 0 && hwm1 >= 0) ? (hwm1 - rss0) * 1024 : -1;
  std::int64_t sum = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i] != static_cast<std::int64_t>(i)) {
      r.why = "result " + std::to_string(i) + " is " + std::to_string(results[i]);
      co_return r;
    }
    sum += results[i];
  }
  if (static_cast<std::int64_t>(results.size()) != n || sum != n * (n - 1) / 2) {
    r.why = "sum=" + std::to_string(sum) + " expected=" + std::to_string(n * (n - 1) / 2) +
            " results=" + std::to_string(results.size());
    co_return r;
  }
  r.ok = true;
  co_return r;
}

Coro<Result> bench_spawn(std::int64_t n) {
  co_return co_await spawn_and_gather(n, [](std::int64_t i) { return leaf(i); });
}

Coro<Result> bench_sleepers(std::int64_t n) {
  co_return co_await spawn_and_gather(n, [](std::int64_t i) { return sleeper(i); });
}

Coro<Result> bench_yield(std::int64_t n) {
  Result r;
  const std::int64_t per = n / kYieldTasks, extra = n % kYieldTasks;
  const auto t0 = Clock::now();

  std::vector<Task<std::int64_t>> tasks;
  tasks.reserve(kYieldTasks);
  for (int k = 0; k < kYieldTasks; ++k) tasks.push_back(asyncuv::create_task(yielder(per + (k < extra ? 1 : 0))));
  std::vector<std::int64_t> done = co_await asyncuv::gather(tasks);

  const auto t1 = Clock::now();
  r.wall_ns = elapsed_ns(t0, t1);
  std::int64_t total = 0;
  for (std::int64_t d : done) total += d;
  if (total != n) {
    r.why = "switches=" + std::to_string(total) + " expected=" + std::to_string(n);
    co_return r;
  }
  r.ok = true;
  co_return r;
}

Coro<Result> bench_queue(std::int64_t n) {
  Result r;
  asyncuv::Queue<std::int64_t> q(kQueueSize);
  const auto t0 = Clock::now();

  Task<void> producer = asyncuv::create_task(queue_producer(q, n));
  Task<std::int64_t> consumer = asyncuv::create_task(queue_consumer(q, n));
  auto [done, sum] = co_await asyncuv::gather(producer, consumer);
  (void)done;

  const auto t1 = Clock::now();
  r.wall_ns = elapsed_ns(t0, t1);
  if (sum != n * (n - 1) / 2 || !q.empty()) {
    r.why = "sum=" + std::to_string(sum) + " expected=" + std::to_string(n * (n - 1) / 2) +
            " left=" + std::to_string(q.qsize());
    co_return r;
  }
  r.ok = true;
  co_return r;
}

int usage(const char* msg) {
  if (msg) std::fprintf(stderr, "asyncuv-bench: %s\n", msg);
  std::fprintf(stderr, "usage: asyncuv-bench spawn|sleepers|yield|queue N | echo-server tcp PORT | echo-server unix PATH\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "echo-server") return echo_server_main(argc, argv);
  if (argc != 3) return usage(nullptr);
  const std::string workload = argv[1];
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(argv[2], &end, 10);
  if (errno || end == argv[2] || *end || n < 0) return usage("N must be a non-negative integer");

  Coro<Result> (*bench)(std::int64_t) = nullptr;
  if (workload == "spawn") bench = bench_spawn;
  else if (workload == "sleepers") bench = bench_sleepers;
  else if (workload == "yield") bench = bench_yield;
  else if (workload == "queue") bench = bench_queue;
  else return usage("unknown workload (spawn|sleepers|yield|queue)");

  Result r;
  try {
    r = asyncuv::run(bench(n));
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "asyncuv-bench: out of memory\n");
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "asyncuv-bench: %s failed: %s\n", workload.c_str(), e.what());
    return 1;
  } catch (...) {
    std::fprintf(stderr, "asyncuv-bench: %s failed: unknown exception\n", workload.c_str());
    return 1;
  }
  if (!r.ok) {
    std::fprintf(stderr, "asyncuv-bench: %s check failed (n=%lld): %s\n", workload.c_str(), n, r.why.c_str());
    return 1;
  }

  const double nd = static_cast<double>(n);
  const double wall_ms = static_cast<double>(r.wall_ns) / 1e6;
  if (workload == "sleepers") {
    if (n > 0 && wall_ms < kSleepMs - 1) {  // libuv's clock has 1 ms resolution
      std::fprintf(stderr, "asyncuv-bench: sleepers finished early: %.3f ms\n", wall_ms);
      return 1;
    }
    const double overhead_ms = wall_ms - kSleepMs;
    std::printf("peer=asyncuv workload=sleepers n=%lld ns_per_op=%.1f wall_ms=%.1f overhead_ms=%.1f", n,
                n ? overhead_ms * 1e6 / nd : 0.0, wall_ms, overhead_ms);
  } else {
    std::printf("peer=asyncuv workload=%s n=%lld ns_per_op=%.1f wall_ms=%.1f", workload.c_str(), n,
                n ? static_cast<double>(r.wall_ns) / nd : 0.0, wall_ms);
  }
  if (r.mem_bytes >= 0) std::printf(" bytes_per_task=%.0f", n ? static_cast<double>(r.mem_bytes) / nd : 0.0);
  std::printf("\n");
  return 0;
}
