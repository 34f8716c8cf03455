// Cancellation at depth and at scale: the head of a chain of tasks, each
// awaiting the next, or of nested gathers, is cancelled without recursing
// once per level (which overflowed the native stack); run()'s shutdown over
// such a chain is linear, not quadratic; and a cancel costs the same however
// many other tasks are pending (it used to trigger a walk over all of them).
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <asyncuv/asyncuv.hpp>
#include <asyncuv/detail/task_registry.hpp>  // the sweep counters: how much a cancel walks

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace asyncuv;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Sanitizers and unoptimised builds are slower; depths that overflowed the
// stack through the old recursion in every build still do at these sizes.
constexpr bool slow_build = support::sanitized_build;

// Tasks the registry's sweeps have walked over so far (the registry is an
// internal: these cases check that its cost stays amortised).
std::uint64_t sweep_visits() { return detail::TaskRegistry::of(get_running_loop()).sweep_visits(); }

#ifdef __OPTIMIZE__
constexpr bool optimised = !slow_build;
#else
constexpr bool optimised = false;
#endif

constexpr int chain_depth = optimised ? 1'000'000 : 100'000;
constexpr int gather_depth = optimised ? 300'000 : 100'000;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// What the tasks of a chain saw when their cancel arrived.
struct Seen {
  std::vector<int> depths;     // in the order the tasks caught CancelledError
  std::vector<int> cancelling;  // their cancelling() then, same order
  int started = 0;              // levels that have begun (and gone on to wait)
  void record(int depth) {
    depths.push_back(depth);
    cancelling.push_back(current_task().cancelling());
  }
};

// Level `depth` of a chain: a task awaiting a task... awaiting a sleep.
Coro<void> chain(Seen* seen, int depth, int levels) {
  ++seen->started;
  try {
    if (depth == levels) co_await sleep(1h);
    else co_await create_task(chain(seen, depth + 1, levels));
  } catch (const CancelledError&) {
    seen->record(depth);
    throw;
  }
}

// The same through gather(): each level a gather of one task.
Coro<void> gather_chain(Seen* seen, int depth, int levels) {
  ++seen->started;
  try {
    if (depth == levels) co_await sleep(1h);
    else co_await gather(gather_chain(seen, depth + 1, levels));
  } catch (const CancelledError&) {
    seen->record(depth);
    throw;
  }
}

// Every level caught the cancel once, innermost first (each awaiter learns
// of its target's end the pass after it), as asyncio orders them.
void check_innermost_first(const Seen& seen, int levels) {
  REQUIRE(seen.depths.size() == static_cast<std::size_t>(levels) + 1);
  bool ordered = true;
  for (int i = 0; i <= levels; ++i) ordered = ordered && seen.depths[i] == levels - i;
  CHECK(ordered);
}

Coro<void> sleep_long() { co_await sleep(1h); }

// Until all `levels + 1` levels of a chain have started: the innermost
// then sleeps and every other one awaits the level below.
Coro<void> wait_for_chain(const Seen* seen, int levels) {
  while (seen->started < levels + 1) co_await sleep(0);
  co_await sleep(0);  // the innermost, started, is asleep by now
}

TEST_CASE("cancelling the head of a deep task chain does not recurse once per level") {
  Seen seen;
  double cancel_s = 0, end_s = 0;
  run([](Seen* seen, double* cancel_s, double* end_s) -> Coro<void> {
    auto head = create_task(chain(seen, 0, chain_depth));
    co_await wait_for_chain(seen, chain_depth);
    const auto t0 = Clock::now();
    CHECK(head.cancel());
    *cancel_s = seconds_since(t0);
    CHECK(head.cancelling() == 1);
    try {
      co_await head;
    } catch (const CancelledError&) {
    }
    *end_s = seconds_since(t0);
    CHECK(head.cancelled());
  }(&seen, &cancel_s, &end_s));
  check_innermost_first(seen, chain_depth);
  // One cancel request each: the head's own, handed down once per level.
  CHECK(std::all_of(seen.cancelling.begin(), seen.cancelling.end(), [](int c) { return c == 1; }));
  MESSAGE("chain of " << chain_depth << ": cancel() " << cancel_s << " s, head ended after " << end_s << " s");
}

TEST_CASE("cancelling the head of deeply nested gathers does not recurse once per level") {
  Seen seen;
  run([](Seen* seen) -> Coro<void> {
    auto head = create_task(gather_chain(seen, 0, gather_depth));
    co_await wait_for_chain(seen, gather_depth);
    CHECK(head.cancel());
    try {
      co_await head;
    } catch (const CancelledError&) {
    }
    CHECK(head.cancelled());
  }(&seen));
  check_innermost_first(seen, gather_depth);
}

TEST_CASE("run()'s shutdown over a deep sleeping chain visits each task a bounded number of times") {
  // asyncio cancels every task, and each cancel walks down through what the
  // task awaits: n^2/2 visits over a chain (minutes for 10^5 tasks). Here a
  // task is walked through once per round, so it sees its own cancel plus
  // one from its awaiter: cancelling() is at most 2.
  constexpr int depth = slow_build ? 20'000 : 100'000;
  Seen seen;
  Clock::time_point t0;
  run([](Seen* seen, Clock::time_point* t0) -> Coro<void> {
    create_task(chain(seen, 0, depth));
    co_await wait_for_chain(seen, depth);
    *t0 = Clock::now();
  }(&seen, &t0));
  const double shutdown_s = seconds_since(t0);
  check_innermost_first(seen, depth);
  CHECK(*std::max_element(seen.cancelling.begin(), seen.cancelling.end()) <= 2);
  MESSAGE("shutdown over a sleeping chain of " << depth << ": " << shutdown_s << " s");
}

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

TEST_CASE("a cancel keeps its counts and outcomes through a gather of chains") {
  // Depth first, as the recursion (and asyncio) went: the first child's
  // chain is cancelled before the second's, and both are handed on to.
  Log log;
  run([](Log* log) -> Coro<void> {
    auto leaf = [](Log* log, std::string name) -> Coro<void> {
      try {
        co_await sleep(1h);
      } catch (const CancelledError&) {
        log->push_back(name + " " + std::to_string(current_task().cancelling()));
        throw;
      }
    };
    auto mid = [](Log* log, std::string name, Task<void> inner) -> Coro<void> {
      try {
        co_await inner;
      } catch (const CancelledError&) {
        log->push_back(name + " " + std::to_string(current_task().cancelling()));
        throw;
      }
    };
    auto a_leaf = create_task(leaf(log, "a-leaf"));
    auto b_leaf = create_task(leaf(log, "b-leaf"));
    auto a = create_task(mid(log, "a", a_leaf));
    auto b = create_task(mid(log, "b", b_leaf));
    // b_leaf is awaited twice: by b and by the gather directly.
    auto g = create_task([](Task<void> a, Task<void> b, Task<void> b_leaf) -> Coro<void> {
      co_await gather(a, b, b_leaf);
    }(a, b, b_leaf));
    co_await sleep(0.002);
    CHECK(g.cancel());
    CHECK_FALSE(g.done());
    try {
      co_await g;
    } catch (const CancelledError&) {
    }
    CHECK(g.cancelled());
    CHECK(a.cancelled());
    CHECK(b.cancelled());
  }(&log));
  CHECK(log == Log{"a-leaf 1", "b-leaf 2", "a 1", "b 1"});
}

}  // namespace
