// A consumer that compiles as C++23: asyncuv's build flags (asyncuv.pc's
// Cflags, asyncuv::asyncuv's compile features) must not pull it back to C++20.
#include <asyncuv/asyncuv.hpp>

#include <cstdio>

static_assert(__cplusplus > 202002L, "asyncuv's flags downgraded a C++23 consumer to C++20");

asyncuv::Coro<int> answer() {
  co_await asyncuv::sleep(std::chrono::milliseconds(1));
  co_return 23;
}

int main() {
  std::printf("newer standard: %d\n", asyncuv::run(answer()));
  return 0;
}
