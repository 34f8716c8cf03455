// test_event_primitive.cpp — asyncio.Event, the synchronisation primitive (the
// loop's callback API is test_events.cpp); many cases are ports of CPython
// 3.11's test_asyncio/test_locks.py (EventTests).
#include <doctest/doctest.h>

#include <asyncuv/asyncuv.hpp>

#include "locks_support.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

using asyncuv::Coro;
using asyncuv::Event;
using asyncuv::create_task;
using asyncuv::sleep;
using support::ends_cancelled;

namespace {

// Python's create_task(lock.acquire()) and friends: a coroutine around one await.
Coro<bool> wait_of(Event& e) { co_return co_await e.wait(); }

}  // namespace

// ================================ Event ================================

TEST_CASE("Event: wait wakes every waiter (test_wait)") {
  asyncuv::run([]() -> Coro<void> {
    Event ev;
    CHECK_FALSE(ev.is_set());
    std::vector<int> result;
    auto c = [&](int n) -> Coro<bool> {
      if (co_await ev.wait()) result.push_back(n);
      co_return true;
    };
    auto t1 = create_task(c(1));
    auto t2 = create_task(c(2));
    co_await sleep(0);
    CHECK(result.empty());
    CHECK(ev.waiters() == 2);
    auto t3 = create_task(c(3));
    ev.set();
    co_await sleep(0);
    CHECK(result == std::vector<int>{3, 1, 2});
    CHECK((t1.done() && t1.result() && t2.done() && t2.result() && t3.done() && t3.result()));
  }());
}

TEST_CASE("Event: wait on a set event returns at once (test_wait_on_set)") {
  asyncuv::run([]() -> Coro<void> {
    Event ev;
    ev.set();
    bool other_ran = false;
    auto t = create_task([](bool& ran) -> Coro<void> {
      ran = true;
      co_return;
    }(other_ran));
    CHECK(co_await ev.wait());
    CHECK_FALSE(other_ran);
    co_await t;
  }());
}

TEST_CASE("Event: a cancelled wait leaves no waiter (test_wait_cancel)") {
  asyncuv::run([]() -> Coro<void> {
    Event ev;
    auto wait = create_task(wait_of(ev));
    asyncuv::get_running_loop().call_soon([wait]() mutable { wait.cancel(); });
    CHECK(co_await ends_cancelled(wait));
    CHECK(ev.waiters() == 0);
  }());
}

TEST_CASE("Event: clear (test_clear)") {
  Event ev;
  CHECK_FALSE(ev.is_set());
  ev.set();
  CHECK(ev.is_set());
  ev.clear();
  CHECK_FALSE(ev.is_set());
}

TEST_CASE("Event: waiters woken by set() return even if clear() comes first (test_clear_with_waiters)") {
  asyncuv::run([]() -> Coro<void> {
    Event ev;
    std::vector<int> result;
    auto t_body = [&]() -> Coro<bool> {
      if (co_await ev.wait()) result.push_back(1);
      co_return true;
    };
    auto t = create_task(t_body());
    co_await sleep(0);
    CHECK(result.empty());
    ev.set();
    ev.clear();
    CHECK_FALSE(ev.is_set());
    ev.set();
    ev.set();
    CHECK(ev.waiters() == 0);
    co_await sleep(0);
    CHECK(result == std::vector<int>{1});
    CHECK(ev.waiters() == 0);
    CHECK((t.done() && t.result()));
  }());
}

TEST_CASE("Event: a waiter woken and then cancelled ends cancelled") {
  asyncuv::run([]() -> Coro<void> {
    Event ev;
    auto t = create_task(wait_of(ev));
    co_await sleep(0);
    ev.set();
    t.cancel();
    CHECK(co_await ends_cancelled(t));
    CHECK(ev.is_set());
  }());
}

