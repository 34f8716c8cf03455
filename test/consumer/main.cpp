// The smallest real asyncuv program: what a user of the library writes.
#include <asyncuv/asyncuv.hpp>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

asyncuv::Coro<int> twice(int x) {
  co_await asyncuv::sleep(5ms);
  co_return 2 * x;
}

asyncuv::Coro<int> amain() {
  auto [a, b] = co_await asyncuv::gather(twice(20), twice(1));
  asyncuv::random::seed(42);
  co_return a + b + static_cast<int>(asyncuv::random::randint(0, 0));
}

int main() {
  std::printf("consumer: %d\n", asyncuv::run(amain()));
  return 0;
}
