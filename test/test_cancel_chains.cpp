// Cancellation at depth and at scale: the head of a chain of tasks, each
// awaiting the next, or of nested gathers, is cancelled without recursing
// once per level (which overflowed the native stack); run()'s shutdown over
// such a chain is linear, not quadratic. (That a cancel costs no walk over
// the other pending tasks is test_detail_registry.cpp's: it reads the task
// registry's counters.)
#include <doctest/doctest.h>

#include "chains_support.hpp"
#include "test_support.hpp"

#include <asyncuv/asyncuv.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

using namespace asyncuv;
using namespace std::chrono_literals;
using namespace chains;

namespace {

constexpr int chain_depth = optimised ? 1'000'000 : 100'000;
constexpr int gather_depth = optimised ? 300'000 : 100'000;

// The same as chains::chain through gather(): each level a gather of one task.
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
