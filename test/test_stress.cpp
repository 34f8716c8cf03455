// The stress suite, tasks: cancellation storms over sleeping tasks, task
// chains, gathers and task groups, and eight threads posting at once. Every
// case checks its invariants (each task's frame ended exactly once, no call
// lost) and prints one line: scenario, size, counts.
//
// Sizes and seeds: see stress_support.hpp (CI sizes by default, a tenth in
// sanitizer or unoptimised builds, full sizes with ASYNCUV_STRESS=full).
#include <doctest/doctest.h>

#include <asyncuv/asyncuv.hpp>

#include "stress_support.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace asyncuv;
using namespace stress_support;

namespace {

Coro<void> sleep_for(double s) { co_await sleep(s); }

}  // namespace

TEST_CASE("stress: cancellation storm over sleeping tasks, half cancelled at random") {
  const int n = sized(1'000'000, 100'000);
  Tally tally(n);
  int cancel_calls = 0;
  const auto t0 = Clock::now();
  run([](Tally* tally, int n, int* cancel_calls) -> Coro<void> {
    std::mt19937 rng(14);
    std::vector<Task<void>> tasks;
    tasks.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      // Half sleep "forever", half finish after a millisecond on their own.
      const double delay = (rng() & 1) ? 100.0 : 0.001;
      tasks.push_back(create_task(counted(tally, i, [delay] { return sleep_for(delay); })));
    }
    co_await sleep(0);
    for (auto& t : tasks) {
      if (!t.done() && rng() % 4 != 0) *cancel_calls += t.cancel() ? 1 : 0;
    }
    // The stragglers (left sleeping 100 s by the 1-in-4 draw) go too.
    co_await sleep(0.005);
    for (auto& t : tasks) *cancel_calls += t.cancel() ? 1 : 0;
    auto outcomes = co_await gather(return_exceptions, tasks);
    int cancelled = 0;
    for (auto& o : outcomes) cancelled += o.has_value() ? 0 : 1;
    CHECK(cancelled == tally->cancelled);
    for (auto& t : tasks) CHECK(t.done());
  }(&tally, n, &cancel_calls));
  report("sleepers", n, tally, "cancel()=true " + std::to_string(cancel_calls), seconds_since(t0));
  check_every_frame_once(tally, n);
  CHECK(tally.cancelled == cancel_calls);
  CHECK(tally.failed == 0);
  CHECK(tally.cancelled > n / 4);
  CHECK(tally.completed > n / 16);
}

namespace {

// Level `depth` of a chain of tasks: each awaits a task running the next
// level; the last one sleeps.
Coro<void> chain_level(Tally* tally, int first, int depth) {
  if (depth == 1) co_return co_await counted(tally, first, [] { return sleep_for(100); });
  Task<void> next = create_task(chain_level(tally, first + 1, depth - 1));
  co_await counted(tally, first, [&next]() -> Coro<void> { co_await next; });
}

}  // namespace

TEST_CASE("stress: cancelling the heads of task chains cancels every level") {
  const int depth = full_size() ? 1000 : (sanitized() || unoptimised ? 100 : 500);
  const int chains = std::max(1, sized(1'000'000, 100'000) / depth);
  const int n = chains * depth;
  Tally tally(n);
  const auto t0 = Clock::now();
  run([](Tally* tally, int chains, int depth) -> Coro<void> {
    std::vector<Task<void>> heads;
    for (int c = 0; c < chains; ++c) heads.push_back(create_task(chain_level(tally, c * depth, depth)));
    // Let every level start and suspend: a level starts the pass after its parent.
    for (int i = 0; i < depth + 2; ++i) co_await sleep(0);
    for (auto& h : heads) CHECK(h.cancel());
    auto outcomes = co_await gather(return_exceptions, heads);
    for (auto& o : outcomes) CHECK_FALSE(o.has_value());
  }(&tally, chains, depth));
  report("task chains", n, tally, std::to_string(chains) + " chains x depth " + std::to_string(depth),
         seconds_since(t0));
  check_every_frame_once(tally, n);
  CHECK(tally.cancelled == n);
}

TEST_CASE("stress: cancelling tasks that await gathers cancels every child") {
  const int n = sized(1'000'000, 100'000);
  const int per_gather = 100;
  const int gathers = n / per_gather;
  Tally tally(n);
  int gather_cancelled = 0;
  const auto t0 = Clock::now();
  run([](Tally* tally, int gathers, int per_gather, int* gather_cancelled) -> Coro<void> {
    std::vector<Task<void>> waiters;
    for (int g = 0; g < gathers; ++g) {
      waiters.push_back(create_task([](Tally* tally, int first, int k, int* gather_cancelled) -> Coro<void> {
        std::vector<Coro<void>> children;
        for (int i = 0; i < k; ++i) children.push_back(counted(tally, first + i, [] { return sleep_for(100); }));
        try {
          co_await gather(std::move(children));
        } catch (const CancelledError&) {
          ++*gather_cancelled;
          throw;
        }
      }(tally, g * per_gather, per_gather, gather_cancelled)));
    }
    co_await sleep(0.001);
    for (auto& w : waiters) CHECK(w.cancel());
    auto outcomes = co_await gather(return_exceptions, waiters);
    for (auto& o : outcomes) CHECK_FALSE(o.has_value());
    // The gathers returned at the first cancelled child; the others end
    // within the same pass or the next.
    co_await sleep(0);
    co_await sleep(0);
  }(&tally, gathers, per_gather, &gather_cancelled));
  report("gathers", n, tally, std::to_string(gathers) + " gathers, " + std::to_string(gather_cancelled) + " cancelled",
         seconds_since(t0));
  check_every_frame_once(tally, n);
  CHECK(tally.cancelled == n);
  CHECK(gather_cancelled == gathers);
}

TEST_CASE("stress: task groups, one child failing in each, the rest cancelled; and an outer cancel") {
  const int n = sized(1'000'000, 100'000);
  const int per_group = 100;
  const int groups = n / per_group;
  Tally tally(n);
  int group_errors = 0;
  int outer_cancels = 0;
  const auto t0 = Clock::now();
  run([](Tally* tally, int groups, int per_group, int* group_errors, int* outer_cancels) -> Coro<void> {
    std::vector<Task<void>> owners;
    for (int g = 0; g < groups; ++g) {
      // Even groups: child 0 fails, which cancels its siblings. Odd
      // groups: no child fails; the owner is cancelled from outside.
      const bool fails = g % 2 == 0;
      owners.push_back(create_task([](Tally* tally, int first, int k, bool fails, int* group_errors,
                                      int* outer_cancels) -> Coro<void> {
        try {
          co_await task_group([&](TaskGroup& tg) -> Coro<void> {
            for (int i = 0; i < k; ++i) {
              if (fails && i == 0) {
                tg.create_task(counted(tally, first, []() -> Coro<void> {
                  co_await sleep(0.001);
                  throw std::runtime_error("child failed");
                }));
              } else {
                tg.create_task(counted(tally, first + i, [] { return sleep_for(100); }));
              }
            }
            co_return;
          });
        } catch (const ExceptionGroup& e) {
          if (e.exceptions().size() == 1) ++*group_errors;
        } catch (const CancelledError&) {
          ++*outer_cancels;
          throw;
        }
      }(tally, g * per_group, per_group, fails, group_errors, outer_cancels)));
    }
    co_await sleep(0.02);
    for (int g = 1; g < groups; g += 2) owners[static_cast<std::size_t>(g)].cancel();
    co_await gather(return_exceptions, owners);
  }(&tally, groups, per_group, &group_errors, &outer_cancels));
  report("task groups", n, tally,
         std::to_string(group_errors) + " ExceptionGroups, " + std::to_string(outer_cancels) + " outer cancels",
         seconds_since(t0));
  check_every_frame_once(tally, n);
  CHECK(tally.failed == (groups + 1) / 2);
  CHECK(tally.cancelled == n - tally.failed);
  CHECK(group_errors == (groups + 1) / 2);
  CHECK(outer_cancels == groups / 2);
}

namespace {

Coro<int> add_on_loop(int a, int b) {
  co_await sleep(0);
  co_return a + b;
}

}  // namespace

TEST_CASE("stress: 8 threads posting with call_soon_threadsafe and run_coroutine_threadsafe") {
  constexpr int threads = 8;
  const int posts = sized(1'000'000, 100'000) / threads;  // per thread
  const int coros = std::max(1, posts / 10);           // per thread
  // Filled on the loop's thread only: the order each thread's posts ran in.
  std::vector<std::vector<int>> ran(threads);
  std::atomic<int> wrong_results{0};
  std::atomic<int> results{0};
  const auto t0 = Clock::now();
  run([](std::vector<std::vector<int>>* ran, int posts, int coros, std::atomic<int>* wrong,
         std::atomic<int>* results) -> Coro<void> {
    EventLoop& loop = get_running_loop();
    Event all_ran;
    int to_run = threads * posts;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&loop, &all_ran, &to_run, ran, t, posts, coros, wrong, results] {
        std::vector<ConcurrentFuture<int>> futures;
        for (int i = 0; i < posts; ++i) {
          loop.call_soon_threadsafe([&all_ran, &to_run, ran, t, i] {
            (*ran)[static_cast<std::size_t>(t)].push_back(i);
            if (--to_run == 0) all_ran.set();
          });
          if (i % 10 == 0 && static_cast<int>(futures.size()) < coros) {
            futures.push_back(run_coroutine_threadsafe(add_on_loop(t, i), loop));
          }
        }
        for (std::size_t j = 0; j < futures.size(); ++j) {
          if (futures[j].result(60.0) != t + static_cast<int>(j) * 10) ++*wrong;
          ++*results;
        }
      });
    }
    co_await all_ran.wait();
    for (auto& th : pool) co_await to_thread([&th] { th.join(); });
  }(&ran, posts, coros, &wrong_results, &results));
  int in_order = 0;
  for (const auto& seq : ran) {
    bool ok = static_cast<int>(seq.size()) == posts;
    for (int i = 0; ok && i < posts; ++i) ok = seq[static_cast<std::size_t>(i)] == i;
    in_order += ok ? 1 : 0;
  }
  std::printf("stress %-26s size %7d  callbacks run %7zu  threads in order %d/%d  coroutine results %d (wrong %d)  %.2f s\n",
              "8 threads posting", threads * posts,
              [&] { std::size_t s = 0; for (const auto& r : ran) s += r.size(); return s; }(), in_order, threads,
              results.load(), wrong_results.load(), seconds_since(t0));
  std::fflush(stdout);
  CHECK(in_order == threads);  // each thread's posts ran once each, in the order posted
  CHECK(results.load() == threads * coros);
  CHECK(wrong_results.load() == 0);
}
