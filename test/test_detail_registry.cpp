// The task registry (detail/task_registry.hpp) keeps its sweeps amortised:
// a cancel, a never-retrieved exception, or a deep chain cancelled with its
// handles dropped costs no walk over the other pending tasks (each used to
// trigger a sweep over all of them). Its sweep_visits() counter says how
// many tasks the sweeps walked over.
#include <doctest/doctest.h>

#include "chains_support.hpp"
#include "test_support.hpp"

#include <asyncuv/asyncuv.hpp>
#include <asyncuv/detail/task_registry.hpp>

#include <cstdint>
#include <stdexcept>
#include <vector>

using namespace asyncuv;
using namespace std::chrono_literals;
using namespace chains;

namespace {

// Tasks the running loop's registry has swept over so far.
std::uint64_t sweep_visits() { return detail::TaskRegistry::of(get_running_loop()).sweep_visits(); }

Coro<void> sleep_long() { co_await sleep(1h); }

TEST_CASE("a cancel costs no walk over the other pending tasks") {
  // A cancelled task whose last handle goes is not "an exception nobody
  // retrieved": it used to trigger a sweep over every task, each time.
  constexpr int others = slow_build ? 20'000 : 100'000;
  constexpr int cancels = 2'000;
  std::uint64_t visits = 0;
  double per_cancel_us = 0;
  run([](std::uint64_t* visits, double* per_cancel_us) -> Coro<void> {
    std::vector<Task<void>> sleepers;
    for (int i = 0; i < others; ++i) sleepers.push_back(create_task(sleep_long()));
    co_await sleep(0);
    const std::uint64_t before = sweep_visits();
    const auto t0 = Clock::now();
    for (int i = 0; i < cancels; ++i) {
      auto t = create_task(sleep_long());
      co_await sleep(0);
      t.cancel();
      try {
        co_await t;
      } catch (const CancelledError&) {
      }
    }
    *per_cancel_us = seconds_since(t0) / cancels * 1e6;
    *visits = sweep_visits() - before;
    for (auto& s : sleepers) s.cancel();
  }(&visits, &per_cancel_us));
  // Amortised sweeping walks the registry only once as many tasks have
  // finished as are pending: not once here. (It was once per cancel: 2*10^8.)
  CHECK(visits <= 4u * (others + cancels));
  MESSAGE("with " << others << " pending: " << per_cancel_us << " us per cancel, " << visits << " tasks swept");
}

TEST_CASE("a never-retrieved exception is reported promptly without a walk over the pending tasks") {
  constexpr int others = slow_build ? 20'000 : 100'000;
  constexpr int failures = 100;
  std::uint64_t visits = 0;
  int reported = 0;
  run([](std::uint64_t* visits, int* reported) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    loop.set_exception_handler([reported](const ExceptionContext& c) {
      if (c.message == "Task exception was never retrieved") ++*reported;
    });
    std::vector<Task<void>> sleepers;
    for (int i = 0; i < others; ++i) sleepers.push_back(create_task(sleep_long()));
    co_await sleep(0);
    const std::uint64_t before = sweep_visits();
    for (int i = 0; i < failures; ++i) {
      create_task([]() -> Coro<void> { throw std::runtime_error("lost"); co_return; }());
      // It fails; it is reported once that loop iteration ends.
      for (int k = 0; *reported <= i && k < 2000; ++k) co_await sleep(0.001);
      CHECK(*reported == i + 1);
    }
    *visits = sweep_visits() - before;
    for (auto& s : sleepers) s.cancel();
  }(&visits, &reported));
  CHECK(reported == failures);
  CHECK(visits <= 4u * (others + failures));
}

TEST_CASE("cancelling a 3*10^5-deep chain with its handles dropped ends in linear time") {
  // Each cancelled level's handle went when its awaiter resumed: a sweep of
  // the whole registry per level, quadratic (it did not finish in 100 s).
  constexpr int depth = optimised ? 300'000 : 30'000;
  Seen seen;
  std::uint64_t visits = 0;
  run([](Seen* seen, std::uint64_t* visits) -> Coro<void> {
    auto head = create_task(chain(seen, 0, depth));
    co_await wait_for_chain(seen, depth);
    const std::uint64_t before = sweep_visits();
    head.cancel();
    try {
      co_await head;
    } catch (const CancelledError&) {
    }
    *visits = sweep_visits() - before;
  }(&seen, &visits));
  check_innermost_first(seen, depth);
  CHECK(visits <= 4u * depth);
}

}  // namespace
