// The stress suite, synchronisation: cancellation storms on a Lock, a
// Semaphore, Condition waiters and Queue getters and putters, and a
// producer-consumer with random cancels. Every case checks its invariants
// (each task's frame ended exactly once, no item lost or duplicated,
// primitives idle and consistent afterwards) and prints one line: scenario,
// size, counts.
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
