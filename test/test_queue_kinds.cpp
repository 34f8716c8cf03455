// test_queue_kinds.cpp — LifoQueue and PriorityQueue order, join()/task_done()
// on each kind, and queues under contention, cancellation and shutdown; many
// cases are ports of CPython 3.11's test_asyncio/test_queues.py.
#include <doctest/doctest.h>

#include <asyncuv/asyncuv.hpp>

#include "queues_support.hpp"
#include "test_support.hpp"

#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using asyncuv::CancelledError;
using asyncuv::Coro;
using asyncuv::LifoQueue;
using asyncuv::PriorityQueue;
using asyncuv::Queue;
using asyncuv::Task;
using asyncuv::create_task;
using asyncuv::sleep;
using queues_support::get_of;
using support::ends_cancelled;

// ========================= Lifo and Priority =========================

TEST_CASE("LifoQueue: last in, first out (test_order)") {
  asyncuv::run([]() -> Coro<void> {
    LifoQueue<int> q;
    for (int i : {1, 3, 2}) co_await q.put(i);
    std::vector<int> items;
    for (int i = 0; i < 3; ++i) items.push_back(co_await q.get());
    CHECK(items == std::vector<int>{2, 3, 1});
  }());
}

TEST_CASE("PriorityQueue: smallest first (test_order)") {
  asyncuv::run([]() -> Coro<void> {
    PriorityQueue<int> q;
    for (int i : {1, 3, 2}) co_await q.put(i);
    std::vector<int> items;
    for (int i = 0; i < 3; ++i) items.push_back(co_await q.get());
    CHECK(items == std::vector<int>{1, 2, 3});
  }());
}

namespace {
// Compares by priority only, so that ties show the heap's own order.
struct Job {
  int priority;
  int id;
  bool operator<(const Job& o) const { return priority < o.priority; }
};
}  // namespace

TEST_CASE("PriorityQueue: ties come out in heapq's order") {
  // The order of equal-priority items is heapq's (not FIFO); this sequence
  // was produced by CPython:
  //   q = asyncio.PriorityQueue(); [q.put_nowait(Job(p, i)) for i, p in enumerate(ps)]
  const std::vector<int> ps = {3, 1, 3, 1, 2, 3, 1, 2, 2, 3, 1, 1};
  PriorityQueue<Job> q;
  for (int i = 0; i < static_cast<int>(ps.size()); ++i) q.put_nowait(Job{ps[static_cast<std::size_t>(i)], i});
  std::vector<int> ids;
  while (!q.empty()) ids.push_back(q.get_nowait().id);
  CHECK(ids == std::vector<int>{1, 6, 11, 3, 10, 4, 7, 8, 2, 5, 9, 0});
}

TEST_CASE("PriorityQueue: (priority, data) pairs and a custom comparator") {
  PriorityQueue<std::pair<int, std::string>> q;
  q.put_nowait({2, "b"});
  q.put_nowait({1, "a"});
  q.put_nowait({3, "c"});
  CHECK(q.get_nowait().second == "a");
  CHECK(q.get_nowait().second == "b");
  CHECK(q.get_nowait().second == "c");

  PriorityQueue<int, std::greater<int>> largest_first;
  for (int i : {1, 3, 2}) largest_first.put_nowait(i);
  CHECK(largest_first.get_nowait() == 3);
  CHECK(largest_first.get_nowait() == 2);
}

// ========================= join / task_done =========================

TEST_CASE_TEMPLATE("join/task_done: underflow is ValueError (test_task_done_underflow)", Q, Queue<int>, LifoQueue<int>,
                   PriorityQueue<int>) {
  Q q;
  CHECK_THROWS_WITH_AS(q.task_done(), "task_done() called too many times", std::invalid_argument);
}

TEST_CASE_TEMPLATE("join/task_done: join waits for every task_done (test_task_done)", Q, Queue<int>, LifoQueue<int>,
                   PriorityQueue<int>) {
  asyncuv::run([]() -> Coro<void> {
    Q q;
    for (int i = 0; i < 100; ++i) q.put_nowait(i);
    CHECK(q.unfinished_tasks() == 100);
    int accumulator = 0;
    bool running = true;
    auto worker = [&]() -> Coro<void> {
      while (running) {
        int item = co_await q.get();
        accumulator += item;
        q.task_done();
      }
    };
    auto w1 = create_task(worker());
    auto w2 = create_task(worker());
    co_await q.join();
    CHECK(accumulator == 4950);
    CHECK(q.unfinished_tasks() == 0);
    running = false;
    q.put_nowait(0);
    q.put_nowait(0);
    co_await asyncuv::gather(w1, w2);
  }());
}

TEST_CASE_TEMPLATE("join/task_done: join on an empty queue returns at once (test_join_empty_queue)", Q, Queue<int>,
                   LifoQueue<int>, PriorityQueue<int>) {
  asyncuv::run([]() -> Coro<void> {
    Q q;
    co_await q.join();
    co_await q.join();
    q.put_nowait(1);
    auto joiner = [&]() -> Coro<void> { co_await q.join(); };
    auto t = create_task(joiner());
    co_await sleep(0);
    CHECK_FALSE(t.done());
    q.get_nowait();
    co_await sleep(0);
    CHECK_FALSE(t.done());  // got, but not done with
    q.task_done();
    co_await sleep(0);
    CHECK(t.done());
  }());
}

TEST_CASE("join: a cancelled join leaves the queue usable") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q;
    q.put_nowait(1);
    auto joiner = [&]() -> Coro<void> { co_await q.join(); };
    auto t = create_task(joiner());
    co_await sleep(0);
    t.cancel();
    CHECK(co_await ends_cancelled(t));
    q.get_nowait();
    q.task_done();
    co_await q.join();
  }());
}

// ============================ lifetimes ============================

TEST_CASE("Queue: tasks blocked on a queue are cancelled cleanly at shutdown") {
  int cancelled = 0;
  asyncuv::run([&]() -> Coro<void> {
    Queue<int> q(1);
    q.put_nowait(0);
    auto g = [&]() -> Coro<void> {
      try {
        co_await q.put(1);
      } catch (const CancelledError&) {
        ++cancelled;
        throw;
      }
    };
    create_task(g());
    co_await sleep(0);
    CHECK(q.putters() == 1);
  }());
  CHECK(cancelled == 1);
}

TEST_CASE("Queue: a queue destroyed with a getter queued detaches it") {
  asyncuv::run([]() -> Coro<void> {
    Task<int> t;
    {
      Queue<int> q;
      t = create_task(get_of(q));
      co_await sleep(0);
    }
    co_await sleep(0);
    CHECK_FALSE(t.done());
    t.cancel();
    CHECK(co_await ends_cancelled(t));
  }());
}

TEST_CASE("Queue: a contended producer/consumer passes every item once, in order") {
  asyncuv::run([]() -> Coro<void> {
    Queue<std::int64_t> q(100);
    constexpr std::int64_t n = 100000;
    auto producer = [&]() -> Coro<void> {
      for (std::int64_t i = 0; i < n; ++i) co_await q.put(i);
    };
    auto consumer = [&]() -> Coro<std::int64_t> {
      std::int64_t sum = 0, expect = 0;
      for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t v = co_await q.get();
        if (v != expect++) co_return -1;
        sum += v;
      }
      co_return sum;
    };
    auto [p, sum] = co_await asyncuv::gather(producer(), consumer());
    (void)p;
    CHECK(sum == n * (n - 1) / 2);
    CHECK(q.empty());
  }());
}

TEST_CASE("Queue: several producers and consumers with random cancellations lose nothing") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q(3);
    std::vector<int> received;
    auto consumer = [&]() -> Coro<void> {
      for (;;) received.push_back(co_await q.get());
    };
    auto producer = [&](int base) -> Coro<void> {
      for (int i = 0; i < 50; ++i) co_await q.put(base + i);
    };
    asyncuv::random::seed(7);
    std::vector<Task<void>> consumers;
    for (int i = 0; i < 4; ++i) consumers.push_back(create_task(consumer()));
    auto producers = create_task(asyncuv::gather(producer(0), producer(1000), producer(2000)));
    // Cancel and replace consumers at random moments.
    for (int round = 0; round < 40; ++round) {
      co_await sleep(0);
      auto& c = consumers[static_cast<std::size_t>(asyncuv::random::randint(0, 3))];
      c.cancel();
      c = create_task(consumer());
    }
    co_await producers;
    while (!q.empty()) co_await sleep(0);
    for (auto& c : consumers) c.cancel();
    std::multiset<int> got(received.begin(), received.end());
    CHECK(got.size() == 150);
    std::multiset<int> want;
    for (int base : {0, 1000, 2000})
      for (int i = 0; i < 50; ++i) want.insert(base + i);
    CHECK(got == want);
  }());
}
