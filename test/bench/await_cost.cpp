// await_cost — what one `co_await` of a Coro costs, through the trampoline.
//
// asyncuv never resumes a child coroutine from inside await_suspend (that
// would grow the native stack unless the compiler emits a tail call, which
// g++ 12 only does at -O2 without sanitizers); the task's driver loop resumes
// it instead. This measures the price of that choice:
//   flat N   — one task awaits a trivial Coro N times (create + await + destroy)
//   deep N   — one chain of N nested awaits, each level returning +1
// Output: `await_cost flat n=N ns_per_await=X` (one line per mode).
#include <asyncuv/asyncuv.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

asyncuv::Coro<long> one() { co_return 1; }

// (Not `co_return n == 0 ? 0 : 1 + co_await ...`: g++ 12 evaluates a co_await
// inside ?: whichever branch is taken, which recurses without end here.)
asyncuv::Coro<long> deep(long n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await deep(n - 1);
}

asyncuv::Coro<long> flat(long n) {
  long sum = 0;
  for (long i = 0; i < n; ++i) sum += co_await one();
  co_return sum;
}

template <class F>
int measure(const char* mode, long n, F make) {
  const auto t0 = std::chrono::steady_clock::now();
  const long got = asyncuv::run(make(n));
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  if (got != n) {
    std::fprintf(stderr, "await_cost: %s: got %ld, expected %ld\n", mode, got, n);
    return 1;
  }
  std::printf("await_cost %s n=%ld ns_per_await=%.1f\n", mode, n, n ? ns / static_cast<double>(n) : 0.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 1'000'000;
  if (n < 0) {
    std::fprintf(stderr, "usage: await_cost [N]\n");
    return 2;
  }
  return measure("flat", n, flat) | measure("deep", n, deep);
}
