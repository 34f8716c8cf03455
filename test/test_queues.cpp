// test_queues.cpp — Queue: sizes and order, get and put, their waiters and
// cancellation; many cases are ports of CPython 3.11's
// test_asyncio/test_queues.py.
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

using asyncuv::Coro;
using asyncuv::Event;
using asyncuv::Queue;
using asyncuv::QueueEmpty;
using asyncuv::QueueFull;
using asyncuv::Task;
using asyncuv::create_task;
using asyncuv::sleep;
using queues_support::get_of;
using support::ends_cancelled;

namespace {

// Python's create_task(q.put(x)).
template <class Q>
Coro<void> put_of(Q& q, typename Q::value_type v) {
  co_await q.put(std::move(v));
}

// loop.call_later(delay, f)
template <class F>
Coro<void> later(double delay, F f) {
  co_await sleep(delay);
  f();
}

}  // namespace

// ============================== basics ==============================

TEST_CASE("Queue: empty (test_empty)") {
  Queue<int> q;  // created outside a loop
  CHECK(q.empty());
  q.put_nowait(1);
  CHECK_FALSE(q.empty());
  CHECK(q.get_nowait() == 1);
  CHECK(q.empty());
}

TEST_CASE("Queue: full (test_full)") {
  Queue<int> q;
  CHECK_FALSE(q.full());
  Queue<int> q1(1);
  q1.put_nowait(1);
  CHECK(q1.full());
}

TEST_CASE("Queue: FIFO order (test_order)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q;
    for (int i : {1, 3, 2}) co_await q.put(i);
    std::vector<int> items;
    for (int i = 0; i < 3; ++i) items.push_back(co_await q.get());
    CHECK(items == std::vector<int>{1, 3, 2});
  }());
}

TEST_CASE("Queue: maxsize blocks the putter (test_maxsize)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q(2);
    CHECK(q.maxsize() == 2);
    std::vector<int> have_been_put;
    auto putter = [&]() -> Coro<bool> {
      for (int i = 0; i < 3; ++i) {
        co_await q.put(i);
        have_been_put.push_back(i);
      }
      co_return true;
    };
    auto t = create_task(putter());
    for (int i = 0; i < 2; ++i) co_await sleep(0);
    CHECK(have_been_put == std::vector<int>{0, 1});
    CHECK(co_await q.get() == 0);
    co_await sleep(0);
    CHECK(have_been_put == std::vector<int>{0, 1, 2});
    CHECK(co_await q.get() == 1);
    CHECK(co_await q.get() == 2);
    CHECK(t.done());
    CHECK(t.result());
  }());
}

TEST_CASE("Queue: maxsize <= 0 is unbounded; qsize counts") {
  Queue<int> q(-1);
  CHECK(q.maxsize() == -1);
  for (int i = 0; i < 1000; ++i) q.put_nowait(i);
  CHECK_FALSE(q.full());
  CHECK(q.qsize() == 1000);
  for (int i = 0; i < 1000; ++i) REQUIRE(q.get_nowait() == i);
  CHECK(q.qsize() == 0);
}

TEST_CASE("Queue: the ring buffer keeps order across wrap-around and growth") {
  Queue<std::string> q;
  int next_in = 0, next_out = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < round % 23 + 1; ++i) q.put_nowait(std::to_string(next_in++));
    for (int i = 0; i < round % 17 && !q.empty(); ++i) REQUIRE(q.get_nowait() == std::to_string(next_out++));
  }
  while (!q.empty()) REQUIRE(q.get_nowait() == std::to_string(next_out++));
  CHECK(next_in == next_out);
}

TEST_CASE("Queue: move-only items") {
  asyncuv::run([]() -> Coro<void> {
    Queue<std::unique_ptr<int>> q(1);
    co_await q.put(std::make_unique<int>(7));
    auto t = create_task(put_of(q, std::make_unique<int>(8)));
    co_await sleep(0);
    CHECK(q.putters() == 1);
    auto a = co_await q.get();
    auto b = co_await q.get();
    CHECK(*a == 7);
    CHECK(*b == 8);
    co_await t;
  }());
}

// ============================== get ==============================

TEST_CASE("Queue: get of a ready item does not yield (test_blocking_get)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q;
    q.put_nowait(1);
    bool other_ran = false;
    auto t = create_task([](bool& ran) -> Coro<void> {
      ran = true;
      co_return;
    }(other_ran));
    CHECK(co_await q.get() == 1);
    CHECK_FALSE(other_ran);
    co_await t;
  }());
}

TEST_CASE("Queue: get waits for a put (test_blocking_get_wait)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q;
    Event started;
    bool finished = false;
    auto queue_get = [&]() -> Coro<int> {
      started.set();
      int res = co_await q.get();
      finished = true;
      co_return res;
    };
    auto t = create_task(queue_get());
    co_await started.wait();
    CHECK_FALSE(finished);
    create_task(later(0.01, [&] { q.put_nowait(1); }));
    CHECK(co_await t == 1);
    CHECK(finished);
  }());
}

TEST_CASE("Queue: get_nowait (test_nonblocking_get, test_nonblocking_get_exception)") {
  Queue<int> q;
  q.put_nowait(1);
  CHECK(q.get_nowait() == 1);
  CHECK_THROWS_AS(q.get_nowait(), QueueEmpty);
  CHECK_THROWS_AS(q.get_nowait(), std::runtime_error);  // catchable as std::exception
}

TEST_CASE("Queue: a cancelled getter does not take the next item (test_get_cancelled_race)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<std::string> q;
    auto t1 = create_task(get_of(q));
    auto t2 = create_task(get_of(q));
    co_await sleep(0);
    t1.cancel();
    co_await sleep(0);
    CHECK(t1.done());
    CHECK(q.getters() == 1);
    co_await q.put("a");
    co_await sleep(0);
    CHECK(co_await t2 == "a");
  }());
}

TEST_CASE("Queue: get wakes waiting putters in order (test_get_with_waiting_putters)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<std::string> q(1);
    auto a = create_task(put_of(q, "a"));
    auto b = create_task(put_of(q, "b"));
    CHECK(co_await q.get() == "a");
    CHECK(co_await q.get() == "b");
    co_await asyncuv::gather(a, b);
  }());
}

TEST_CASE("Queue: producer and consumer through a queue of one (test_why_are_getters_waiting)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q(1);
    std::vector<int> got;
    auto consumer = [&](int n) -> Coro<void> {
      for (int i = 0; i < n; ++i) got.push_back(co_await q.get());
    };
    auto producer = [&](int n) -> Coro<void> {
      for (int i = 0; i < n; ++i) co_await q.put(i);
    };
    co_await asyncuv::gather(producer(5), consumer(5));
    CHECK(got == std::vector<int>{0, 1, 2, 3, 4});
    CHECK(q.getters() == 0);
    CHECK(q.putters() == 0);
  }());
}

TEST_CASE("Queue: a cancelled getter leaves the getters list (test_cancelled_getters_not_being_held_in_self_getters)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q(5);
    auto t = create_task(get_of(q));
    co_await sleep(0);
    CHECK(q.getters() == 1);
    t.cancel();
    CHECK(q.getters() == 0);  // O(1) unlink, at once
    CHECK(co_await ends_cancelled(t));
  }());
}

TEST_CASE("Queue: a woken getter cancelled before it runs loses no item (test_get_cancel_drop_one_pending_reader)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q;
    auto reader = create_task(get_of(q));
    co_await sleep(0);
    q.put_nowait(1);
    q.put_nowait(2);
    reader.cancel();
    int result = 0;
    if (co_await ends_cancelled(reader)) {
      reader = create_task(get_of(q));
    }
    result = co_await reader;
    CHECK(result == 1);  // 2 would mean 1 got dropped
    CHECK(q.qsize() == 1);
  }());
}

TEST_CASE("Queue: cancelling one of many woken readers passes its wake-up on (test_get_cancel_drop_many_pending_readers)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q;
    auto r1 = create_task(get_of(q));
    auto r2 = create_task(get_of(q));
    auto r3 = create_task(get_of(q));
    co_await sleep(0);
    q.put_nowait(1);
    q.put_nowait(2);
    r1.cancel();
    CHECK(co_await ends_cancelled(r1));
    co_await r3;
    co_await r2;
    CHECK(std::set<int>{r2.result(), r3.result()} == std::set<int>{1, 2});
    CHECK(q.empty());
  }());
}

TEST_CASE("Queue: an item is stolen from a woken getter, which waits again (asyncio's `while self.empty()`)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q;
    auto t = create_task(get_of(q));
    co_await sleep(0);
    q.put_nowait(5);
    CHECK(q.qsize() == 1);  // the item stays in the queue until the getter runs
    CHECK(q.get_nowait() == 5);
    co_await sleep(0);
    CHECK_FALSE(t.done());
    CHECK(q.getters() == 1);  // queued again
    q.put_nowait(6);
    co_await sleep(0);
    CHECK(t.done());
    CHECK(t.result() == 6);
  }());
}

TEST_CASE("Queue: getters are served first come, first served") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q;
    std::vector<std::pair<int, int>> got;
    auto getter = [&](int id) -> Coro<void> { got.emplace_back(id, co_await q.get()); };
    std::vector<Task<void>> ts;
    for (int i = 0; i < 5; ++i) ts.push_back(create_task(getter(i)));
    co_await sleep(0);
    for (int i = 0; i < 5; ++i) q.put_nowait(100 + i);
    co_await asyncuv::gather(ts);
    CHECK(got == std::vector<std::pair<int, int>>{{0, 100}, {1, 101}, {2, 102}, {3, 103}, {4, 104}});
  }());
}

// ============================== put ==============================

TEST_CASE("Queue: put into a non-full queue does not yield (test_blocking_put)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q;
    co_await q.put(1);
    CHECK(q.qsize() == 1);
    CHECK(q.get_nowait() == 1);
  }());
}

TEST_CASE("Queue: put waits for room (test_blocking_put_wait)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q(1);
    Event started;
    bool finished = false;
    auto queue_put = [&]() -> Coro<void> {
      started.set();
      co_await q.put(1);
      co_await q.put(2);
      finished = true;
    };
    create_task(later(0.01, [&] { q.get_nowait(); }));
    auto t = create_task(queue_put());
    co_await started.wait();
    CHECK_FALSE(finished);
    co_await t;
    CHECK(finished);
    CHECK(q.get_nowait() == 2);
  }());
}

TEST_CASE("Queue: put_nowait on a full queue is QueueFull (test_nonblocking_put, test_nonblocking_put_exception)") {
  Queue<int> q(1);
  q.put_nowait(1);
  CHECK_THROWS_AS(q.put_nowait(2), QueueFull);
  CHECK(q.qsize() == 1);
  CHECK(q.get_nowait() == 1);
}

TEST_CASE("Queue: a cancelled putter adds nothing, a retried one does (test_put_cancel_drop)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q(1);
    q.put_nowait(1);
    auto writer = create_task(put_of(q, 2));
    co_await sleep(0);
    CHECK(q.get_nowait() == 1);
    writer.cancel();
    if (co_await ends_cancelled(writer)) {
      writer = create_task(put_of(q, 2));
      co_await writer;
    }
    CHECK(q.get_nowait() == 2);
    CHECK(q.qsize() == 0);
  }());
}

TEST_CASE("Queue: a putter woken and cancelled passes the room on") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q(1);
    q.put_nowait(0);
    auto p1 = create_task(put_of(q, 1));
    auto p2 = create_task(put_of(q, 2));
    co_await sleep(0);
    CHECK(q.putters() == 2);
    CHECK(q.get_nowait() == 0);  // wakes p1
    p1.cancel();
    CHECK(co_await ends_cancelled(p1));
    co_await p2;
    CHECK(q.get_nowait() == 2);
    CHECK(q.empty());
  }());
}

TEST_CASE("Queue: put returns once the item is in (test_put_cancelled)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q;
    auto queue_put = [&]() -> Coro<bool> {
      co_await q.put(1);
      co_return true;
    };
    auto t = create_task(queue_put());
    CHECK(co_await q.get() == 1);
    CHECK(t.done());
    CHECK(t.result());
  }());
}

TEST_CASE("Queue: a cancelled waiting putter does not jump the line (test_put_cancelled_race)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<std::string> q(1);
    auto put_a = create_task(put_of(q, "a"));
    auto put_b = create_task(put_of(q, "b"));
    auto put_c = create_task(put_of(q, "X"));
    co_await sleep(0);
    CHECK(put_a.done());
    CHECK_FALSE(put_b.done());
    put_c.cancel();
    co_await sleep(0);
    CHECK(put_c.done());
    CHECK(q.get_nowait() == "a");
    co_await sleep(0);
    CHECK(q.get_nowait() == "b");
    co_await put_b;
  }());
}

TEST_CASE("Queue: put wakes a waiting getter (test_put_with_waiting_getters)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<std::string> q;
    auto t = create_task(get_of(q));
    co_await sleep(0);
    co_await q.put("a");
    CHECK(co_await t == "a");
  }());
}

TEST_CASE("Queue: putters drained by get_nowait all finish (test_why_are_putters_waiting)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q(2);
    auto getter = [&]() -> Coro<void> {
      co_await sleep(0);
      const std::size_t num = q.qsize();
      for (std::size_t i = 0; i < num; ++i) q.get_nowait();
    };
    co_await asyncuv::gather(getter(), put_of(q, 0), put_of(q, 1), put_of(q, 2), put_of(q, 3));
    CHECK(q.qsize() == 2);
    CHECK(q.putters() == 0);
  }());
}

TEST_CASE("Queue: a cancelled putter leaves the putters list (test_cancelled_puts_not_being_held_in_self_putters)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q(1);
    q.put_nowait(1);
    auto put_task = create_task(put_of(q, 1));
    co_await sleep(0);
    CHECK(q.putters() == 1);
    put_task.cancel();
    CHECK(co_await ends_cancelled(put_task));
    CHECK(q.putters() == 0);
  }());
}

TEST_CASE("Queue: a putter woken by get_nowait then cancelled ends cancelled (test_cancelled_put_silence_value_error_exception)") {
  asyncuv::run([]() -> Coro<void> {
    Queue<int> q(1);
    q.put_nowait(1);
    auto put_task = create_task(put_of(q, 1));
    co_await sleep(0);
    q.get_nowait();
    put_task.cancel();
    CHECK(co_await ends_cancelled(put_task));
    CHECK(q.empty());
  }());
}

