// The stress suite: cancellation storms (sleeping tasks, task chains,
// gathers, task groups, locks, semaphores, queues, conditions), a
// producer-consumer with random cancels, and eight threads posting at once.
// Every case checks its invariants (each task's frame ended exactly once,
// no item lost or duplicated, primitives idle and consistent afterwards)
// and prints one line: scenario, size, counts.
//
// Sizes: CI sizes by default, a tenth of them in sanitizer or unoptimised
// builds (which run several times slower), full sizes (10^5 tasks) with
// ASYNCUV_STRESS=full in the environment. Random choices come from a fixed
// seed, so a run is repeatable.
#include <doctest/doctest.h>

#include <asyncuv/asyncuv.hpp>

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

namespace {

#ifndef __OPTIMIZE__
constexpr bool unoptimised = true;
#else
constexpr bool unoptimised = false;
#endif

bool sanitized() { return support::sanitized_build; }

bool full_size() {
  const char* v = std::getenv("ASYNCUV_STRESS");
  return v && std::strcmp(v, "full") == 0;
}

// The size of a case: `full` with ASYNCUV_STRESS=full, else `ci`, divided
// by ten in builds that run several times slower.
int sized(int full, int ci) {
  if (full_size()) return full;
  return sanitized() || unoptimised ? std::max(1, ci / 10) : ci;
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// How each task of a storm ended. `frames[i]` counts the destruction of
// task i's frame, so after run() it must be exactly 1: less is a leak, more
// a double destruction.
struct Tally {
  explicit Tally(int n) : frames(static_cast<std::size_t>(n), 0) {}
  std::vector<std::uint8_t> frames;
  int completed = 0;
  int cancelled = 0;
  int failed = 0;

  int ended() const { return completed + cancelled + failed; }
  // Every frame destroyed exactly once; returns how many were not.
  int frames_not_once() const {
    return static_cast<int>(std::count_if(frames.begin(), frames.end(), [](std::uint8_t f) { return f != 1; }));
  }
};

// Lives in a coroutine frame: counts that frame's destruction.
struct FrameMark {
  Tally* tally;
  int index;
  ~FrameMark() { ++tally->frames[static_cast<std::size_t>(index)]; }
};

void report(const char* scenario, int size, const Tally& t, const std::string& extra, double secs) {
  std::printf("stress %-26s size %7d  completed %7d  cancelled %7d  failed %5d  frames-not-once %d  %s  %.2f s\n",
              scenario, size, t.completed, t.cancelled, t.failed, t.frames_not_once(), extra.c_str(), secs);
  std::fflush(stdout);
}

void check_every_frame_once(const Tally& t, int n) {
  CHECK(t.ended() == n);
  CHECK(t.frames_not_once() == 0);
}

// A task body that counts how it ended; `body` is what it awaits.
template <class Body>
Coro<void> counted(Tally* tally, int index, Body body) {
  FrameMark mark{tally, index};
  try {
    co_await body();
    ++tally->completed;
  } catch (const CancelledError&) {
    ++tally->cancelled;
    throw;
  } catch (...) {
    ++tally->failed;
    throw;
  }
}

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

// Holders of a lock or semaphore: how many hold it now, the most at once.
struct Occupancy {
  int now = 0;
  int most = 0;
  int entered = 0;
  void enter() {
    ++entered;
    most = std::max(most, ++now);
  }
  void leave() { --now; }
};

// Cancels `every` random tasks of `tasks` each pass until `until` is set;
// counts the tasks that cancel() accepted at least once (a task asked
// twice before it ends is cancelled once).
Coro<void> random_canceller(std::vector<Task<void>>* tasks, std::uint32_t seed, int every, const bool* until,
                            int* cancelled) {
  std::mt19937 rng(seed);
  std::vector<bool> asked(tasks->size(), false);
  while (!*until) {
    for (int i = 0; i < every; ++i) {
      const std::size_t k = rng() % tasks->size();
      if ((*tasks)[k].cancel() && !asked[k]) {
        asked[k] = true;
        ++*cancelled;
      }
    }
    co_await sleep(0);
  }
}

template <class Primitive>
Coro<void> hold_briefly(Primitive* p, Occupancy* occ, int passes) {
  co_await p->acquire();
  occ->enter();
  try {
    for (int i = 0; i < passes; ++i) co_await sleep(0);
  } catch (...) {
    occ->leave();
    p->release();
    throw;
  }
  occ->leave();
  p->release();
}

template <class Primitive>
void storm_on(const char* scenario, Primitive& primitive, int max_holders) {
  const int n = sized(1'000'000, 100'000);
  Tally tally(n);
  Occupancy occ;
  int cancel_calls = 0;
  const auto t0 = Clock::now();
  run([](Primitive* p, Tally* tally, Occupancy* occ, int n, int* cancel_calls) -> Coro<void> {
    std::vector<Task<void>> tasks;
    tasks.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      tasks.push_back(create_task(counted(tally, i, [p, occ, i] { return hold_briefly(p, occ, 1 + i % 3); })));
    }
    bool all_done = false;
    Task<void> canceller = create_task(random_canceller(&tasks, 14, 50, &all_done, cancel_calls));
    co_await gather(return_exceptions, tasks);
    all_done = true;
    co_await canceller;
  }(&primitive, &tally, &occ, n, &cancel_calls));
  report(scenario, n, tally,
         "acquired " + std::to_string(occ.entered) + ", most holders " + std::to_string(occ.most),
         seconds_since(t0));
  check_every_frame_once(tally, n);
  CHECK(tally.failed == 0);
  CHECK(tally.cancelled == cancel_calls);
  CHECK(tally.completed <= occ.entered);
  CHECK(occ.now == 0);
  CHECK(occ.most <= max_holders);
  CHECK(primitive.waiters() == 0);
  CHECK(tally.cancelled > 0);
  CHECK(tally.completed > 0);
}

}  // namespace

TEST_CASE("stress: cancellation storm on a Lock") {
  Lock lock;
  storm_on("lock", lock, 1);
  CHECK_FALSE(lock.locked());
}

TEST_CASE("stress: cancellation storm on a Semaphore(8)") {
  Semaphore sem(8);
  storm_on("semaphore(8)", sem, 8);
  CHECK(sem.value() == 8);
  CHECK_FALSE(sem.locked());
}

TEST_CASE("stress: cancellation storm on Condition waiters, the rest notified") {
  const int n = sized(1'000'000, 100'000);
  Tally tally(n);
  Condition cond;
  int cancel_calls = 0;
  int woke_holding = 0;
  const auto t0 = Clock::now();
  run([](Condition* cond, Tally* tally, int n, int* cancel_calls, int* woke_holding) -> Coro<void> {
    std::vector<Task<void>> tasks;
    tasks.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      tasks.push_back(create_task(counted(tally, i, [cond, woke_holding]() -> Coro<void> {
        auto guard = co_await cond->scoped();
        co_await cond->wait();  // cancelled or not, it returns holding the lock
        if (cond->locked()) ++*woke_holding;
      })));
    }
    co_await sleep(0.001);
    CHECK(cond->waiters() == static_cast<std::size_t>(n));
    std::mt19937 rng(14);
    for (auto& t : tasks) {
      if (rng() % 2 && t.cancel()) ++*cancel_calls;
    }
    {
      auto guard = co_await cond->scoped();
      cond->notify_all();
    }
    co_await gather(return_exceptions, tasks);
  }(&cond, &tally, n, &cancel_calls, &woke_holding));
  report("condition", n, tally, "woke holding the lock " + std::to_string(woke_holding), seconds_since(t0));
  check_every_frame_once(tally, n);
  CHECK(tally.cancelled == cancel_calls);
  CHECK(tally.completed == n - cancel_calls);
  CHECK(woke_holding == tally.completed);
  CHECK_FALSE(cond.locked());
  CHECK(cond.waiters() == 0);
}

TEST_CASE("stress: cancellation storm on Queue getters and putters") {
  const int n = sized(1'000'000, 100'000) / 2 * 2;
  Tally tally(n);
  Queue<int> q(10);
  int got = 0;
  const auto t0 = Clock::now();
  run([](Queue<int>* q, Tally* tally, int n, int* got) -> Coro<void> {
    // n/2 getters wait on an empty queue, n/2 putters on a full one (after
    // ten items fill it); every one is cancelled while it waits.
    for (int i = 0; i < 10; ++i) q->put_nowait(-1);
    std::vector<Task<void>> tasks;
    for (int i = 0; i < n; ++i) {
      tasks.push_back(create_task(counted(tally, i, [q, i]() -> Coro<void> { co_await q->put(i); })));
    }
    co_await sleep(0.001);
    for (auto& t : tasks) CHECK(t.cancel());
    co_await gather(return_exceptions, tasks);
    CHECK(q->qsize() == 10);
    while (!q->empty()) *got += q->get_nowait() == -1 ? 1 : 0;
    tasks.clear();
    for (int i = 0; i < n; ++i) {
      tasks.push_back(create_task(counted(tally, n + i, [q]() -> Coro<void> { (void)co_await q->get(); })));
    }
    co_await sleep(0.001);
    for (auto& t : tasks) CHECK(t.cancel());
    co_await gather(return_exceptions, tasks);
    q->put_nowait(7);  // no getter is left to take it
    CHECK(q->get_nowait() == 7);
  }(&q, &tally, n / 2, &got));
  report("queue waiters", n, tally, "fillers drained " + std::to_string(got), seconds_since(t0));
  check_every_frame_once(tally, n);
  CHECK(tally.cancelled == n);
  CHECK(got == 10);
  CHECK(q.empty());
}

namespace {

// The producer-consumer's shared state: for each item, how many puts
// succeeded and how many gets returned it.
struct Ledger {
  explicit Ledger(int items) : put(static_cast<std::size_t>(items), 0), got(static_cast<std::size_t>(items), 0) {}
  std::vector<int> put, got;
  int put_cancels = 0, get_cancels = 0;
  std::mt19937 rng{14};
};

Coro<void> put_one(Queue<int>* q, int item) { co_await q->put(item); }
Coro<int> get_one(Queue<int>* q) { co_return co_await q->get(); }

// One in four operations is cancelled: at once (before it starts), on the
// next pass (it may have finished, or wait), or after up to 0.2 ms.
template <class T>
void maybe_cancel(Ledger* l, Task<T> op) {
  const auto draw = l->rng() % 12;
  if (draw == 0) op.cancel();
  else if (draw == 1) get_running_loop().call_soon([op]() mutable { op.cancel(); });
  else if (draw == 2) get_running_loop().call_later(static_cast<double>(l->rng() % 200) * 1e-6, [op]() mutable { op.cancel(); });
}

Coro<void> producer(Queue<int>* q, Ledger* l, int first, int count) {
  for (int item = first; item < first + count;) {
    Task<void> op = create_task(put_one(q, item));
    maybe_cancel(l, op);
    try {
      co_await op;
      ++l->put[static_cast<std::size_t>(item)];
      ++item;
    } catch (const CancelledError&) {
      ++l->put_cancels;  // not in the queue: put it again
    }
  }
}

Coro<void> consumer(Queue<int>* q, Ledger* l) {
  for (;;) {
    Task<int> op = create_task(get_one(q));
    maybe_cancel(l, op);
    int item = 0;
    try {
      item = co_await op;
    } catch (const CancelledError&) {
      ++l->get_cancels;  // the item (if one was on its way) stays queued
      continue;
    }
    if (item < 0) co_return;  // the end sentinel
    ++l->got[static_cast<std::size_t>(item)];
    co_await sleep(0);  // slower than the producers: the queue fills, puts wait
  }
}

}  // namespace

TEST_CASE("stress: 100 producers, 100 consumers, a quarter of the puts and gets cancelled") {
  const int items = sized(1'000'000, 100'000);
  const int workers = 100;
  Ledger ledger(items);
  Queue<int> q(10);
  const auto t0 = Clock::now();
  run([](Queue<int>* q, Ledger* l, int items, int workers) -> Coro<void> {
    std::vector<Task<void>> producers, consumers;
    const int per = items / workers;
    for (int w = 0; w < workers; ++w) {
      producers.push_back(create_task(producer(q, l, w * per, w + 1 == workers ? items - w * per : per)));
      consumers.push_back(create_task(consumer(q, l)));
    }
    co_await gather(producers);
    for (int w = 0; w < workers; ++w) co_await q->put(-1);
    co_await gather(consumers);
  }(&q, &ledger, items, workers));
  const int put = static_cast<int>(std::count(ledger.put.begin(), ledger.put.end(), 1));
  const int got = static_cast<int>(std::count(ledger.got.begin(), ledger.got.end(), 1));
  std::printf("stress %-26s size %7d  put once %7d  got once %7d  put cancels %6d  get cancels %6d  left %zu  %.2f s\n",
              "producer-consumer", items, put, got, ledger.put_cancels, ledger.get_cancels, q.qsize(),
              seconds_since(t0));
  std::fflush(stdout);
  CHECK(put == items);  // every item put exactly once...
  CHECK(got == items);  // ...and taken exactly once: none lost, none duplicated
  CHECK(q.empty());
  CHECK(ledger.put_cancels > 0);
  CHECK(ledger.get_cancels > 0);
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
