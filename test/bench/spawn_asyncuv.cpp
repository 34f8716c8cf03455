// spawn_asyncuv.cpp — asyncuv: create_subprocess_exec("true") + wait(), N
// times in sequence (spawn_rate.sh's workload); one key=value line.
//   spawn-asyncuv N
#include <asyncuv/asyncuv.hpp>

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>

using namespace asyncuv;

// This process's CPU time (user + system, the children's excluded), µs.
double cpu_us() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

Coro<int> spawn_and_wait(long n) {
  int failures = 0;
  for (long i = 0; i < n; ++i) {
    auto p = co_await create_subprocess_exec("true");
    failures += co_await p.wait() != 0;
  }
  co_return failures;
}

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 1000;
  const double c0 = cpu_us();
  const std::uint64_t t0 = uv_hrtime();
  const int failures = run(spawn_and_wait(n));
  const double wall_ms = static_cast<double>(uv_hrtime() - t0) / 1e6;
  const double cpu = (cpu_us() - c0) / static_cast<double>(n);
  if (failures) {
    std::fprintf(stderr, "%d children failed\n", failures);
    return 1;
  }
  std::printf("peer=asyncuv workload=spawn_process n=%ld us_per_op=%.1f wall_ms=%.1f per_s=%.0f cpu_us=%.1f\n",
              n, wall_ms * 1000 / static_cast<double>(n), wall_ms, static_cast<double>(n) / (wall_ms / 1000), cpu);
}
