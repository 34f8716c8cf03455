// test_conditions.cpp — Condition: wait, wait_for, notify, notify_all, on its
// own or an explicit lock; many cases are ports of CPython 3.11's
// test_asyncio/test_locks.py (ConditionTests).
#include <doctest/doctest.h>

#include <asyncuv/asyncuv.hpp>

#include "locks_support.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

using asyncuv::CancelledError;
using asyncuv::Condition;
using asyncuv::Coro;
using asyncuv::Lock;
using asyncuv::RuntimeError;
using asyncuv::create_task;
using asyncuv::sleep;
using locks_support::message_of;
using support::ends_cancelled;

namespace {

// Python's create_task(lock.acquire()) and friends: a coroutine around one await.
Coro<bool> wait_of(Condition& c) { co_return co_await c.wait(); }

}  // namespace

// ============================== Condition ==============================

TEST_CASE("Condition: wait and notify (test_wait)") {
  asyncuv::run([]() -> Coro<void> {
    Condition cond;
    std::vector<int> result;
    auto c = [&](int n) -> Coro<bool> {
      co_await cond.acquire();
      if (co_await cond.wait()) result.push_back(n);
      co_return true;
    };
    auto t1 = create_task(c(1));
    auto t2 = create_task(c(2));
    auto t3 = create_task(c(3));
    co_await sleep(0);
    CHECK(result.empty());
    CHECK_FALSE(cond.locked());

    CHECK(co_await cond.acquire());
    cond.notify();
    co_await sleep(0);
    CHECK(result.empty());
    CHECK(cond.locked());

    cond.release();
    co_await sleep(0);
    CHECK(result == std::vector<int>{1});
    CHECK(cond.locked());

    cond.notify(2);
    co_await sleep(0);
    CHECK(result == std::vector<int>{1});
    CHECK(cond.locked());

    cond.release();
    co_await sleep(0);
    CHECK(result == std::vector<int>{1, 2});
    CHECK(cond.locked());

    cond.release();
    co_await sleep(0);
    CHECK(result == std::vector<int>{1, 2, 3});
    CHECK(cond.locked());
    CHECK((t1.done() && t1.result() && t2.done() && t2.result() && t3.done() && t3.result()));
    cond.release();
  }());
}

TEST_CASE("Condition: a cancelled wait re-acquires the lock first (test_wait_cancel)") {
  asyncuv::run([]() -> Coro<void> {
    Condition cond;
    co_await cond.acquire();
    auto wait = create_task(wait_of(cond));
    asyncuv::get_running_loop().call_soon([wait]() mutable { wait.cancel(); });
    CHECK(co_await ends_cancelled(wait));
    CHECK(cond.waiters() == 0);
    CHECK(cond.locked());
  }());
}

TEST_CASE("Condition: cancelled while the lock is contested, the wait still ends with it (test_wait_cancel_contested)") {
  asyncuv::run([]() -> Coro<void> {
    Condition cond;
    co_await cond.acquire();
    CHECK(cond.locked());
    auto wait_task = create_task(wait_of(cond));
    co_await sleep(0);
    CHECK_FALSE(cond.locked());

    co_await cond.acquire();
    CHECK(cond.locked());
    cond.notify();
    asyncuv::get_running_loop().call_soon([wait_task]() mutable { wait_task.cancel(); });
    asyncuv::get_running_loop().call_soon([&cond] { cond.release(); });
    try {
      co_await wait_task;
    } catch (const CancelledError&) {
      // asyncio: "should not happen, since no cancellation points" — either
      // way, the lock is held again afterwards.
    }
    CHECK(cond.locked());
  }());
}

TEST_CASE("Condition: cancelled after notify, the task ends cancelled once it has the lock (test_wait_cancel_after_notify)") {
  asyncuv::run([]() -> Coro<void> {
    Condition cond;
    bool waited = false;
    auto waiter_body = [&]() -> Coro<void> {
      auto guard = co_await cond.scoped();
      waited = true;
      co_await cond.wait();
    };
    auto waiter = create_task(waiter_body());
    co_await sleep(0);  // start waiting
    co_await cond.acquire();
    cond.notify();
    co_await sleep(0);  // it gets to acquire()
    waiter.cancel();
    co_await sleep(0);  // activate the cancellation
    cond.release();
    co_await sleep(0);  // the cancellation happens
    CHECK(waiter.cancelled());
    CHECK(waited);
    CHECK_FALSE(cond.locked());  // the guard released it on the way out
  }());
}

TEST_CASE("Condition: wait without the lock is RuntimeError (test_wait_unacquired)") {
  asyncuv::run([]() -> Coro<void> {
    Condition cond;
    std::string what;
    try {
      co_await cond.wait();
    } catch (const RuntimeError& e) {
      what = e.what();
    }
    CHECK(what == "cannot wait on un-acquired lock");
  }());
}

TEST_CASE("Condition: wait_for a predicate (test_wait_for)") {
  asyncuv::run([]() -> Coro<void> {
    Condition cond;
    bool presult = false;
    std::vector<int> result;
    auto t_body = [&]() -> Coro<bool> {
      co_await cond.acquire();
      if (co_await cond.wait_for([&] { return presult; })) {
        result.push_back(1);
        cond.release();
      }
      co_return true;
    };
    auto t = create_task(t_body());
    co_await sleep(0);
    CHECK(result.empty());

    co_await cond.acquire();
    cond.notify();
    cond.release();
    co_await sleep(0);
    CHECK(result.empty());

    presult = true;
    co_await cond.acquire();
    cond.notify();
    cond.release();
    co_await sleep(0);
    CHECK(result == std::vector<int>{1});
    CHECK((t.done() && t.result()));
  }());
}

TEST_CASE("Condition: wait_for returns the predicate's value; needs the lock only to wait (test_wait_for_unacquired)") {
  asyncuv::run([]() -> Coro<void> {
    Condition cond;
    auto res = co_await cond.wait_for([] { return std::vector<int>{1, 2, 3}.size(); });
    CHECK(res == 3);
    CHECK_FALSE(cond.locked());
    bool threw = false;
    try {
      co_await cond.wait_for([] { return false; });
    } catch (const RuntimeError&) {
      threw = true;
    }
    CHECK(threw);
  }());
}

TEST_CASE("Condition: notify(n) (test_notify)") {
  asyncuv::run([]() -> Coro<void> {
    Condition cond;
    std::vector<int> result;
    auto c = [&](int n) -> Coro<bool> {
      co_await cond.acquire();
      if (co_await cond.wait()) {
        result.push_back(n);
        cond.release();
      }
      co_return true;
    };
    auto t1 = create_task(c(1));
    auto t2 = create_task(c(2));
    auto t3 = create_task(c(3));
    co_await sleep(0);
    CHECK(result.empty());

    co_await cond.acquire();
    cond.notify(1);
    cond.release();
    co_await sleep(0);
    CHECK(result == std::vector<int>{1});

    co_await cond.acquire();
    cond.notify(1);
    cond.notify(2048);
    cond.release();
    co_await sleep(0);
    CHECK(result == std::vector<int>{1, 2, 3});
    CHECK((t1.done() && t1.result() && t2.done() && t2.result() && t3.done() && t3.result()));
  }());
}

TEST_CASE("Condition: notify_all (test_notify_all)") {
  asyncuv::run([]() -> Coro<void> {
    Condition cond;
    std::vector<int> result;
    auto c = [&](int n) -> Coro<bool> {
      co_await cond.acquire();
      if (co_await cond.wait()) {
        result.push_back(n);
        cond.release();
      }
      co_return true;
    };
    auto t1 = create_task(c(1));
    auto t2 = create_task(c(2));
    co_await sleep(0);
    CHECK(cond.waiters() == 2);
    co_await cond.acquire();
    cond.notify_all();
    CHECK(cond.waiters() == 0);
    cond.release();
    co_await sleep(0);
    CHECK(result == std::vector<int>{1, 2});
    CHECK((t1.done() && t1.result() && t2.done() && t2.result()));
  }());
}

TEST_CASE("Condition: notify without the lock is RuntimeError (test_notify_unacquired)") {
  Condition cond;
  CHECK(message_of<RuntimeError>([&] { cond.notify(); }) == "cannot notify on un-acquired lock");
  CHECK(message_of<RuntimeError>([&] { cond.notify_all(); }) == "cannot notify on un-acquired lock");
}

TEST_CASE("Condition: scoped() (test_context_manager)") {
  asyncuv::run([]() -> Coro<void> {
    Condition cond;
    CHECK_FALSE(cond.locked());
    {
      auto guard = co_await cond.scoped();
      CHECK(cond.locked());
    }
    CHECK_FALSE(cond.locked());
  }());
}

TEST_CASE("Condition: on an explicit lock (test_explicit_lock)") {
  asyncuv::run([]() -> Coro<void> {
    Lock lock;
    Condition cond(lock);
    CHECK(&cond.lock() == &lock);
    CHECK_FALSE(lock.locked());
    CHECK_FALSE(cond.locked());
    co_await lock.acquire();
    CHECK(lock.locked());
    CHECK(cond.locked());
    cond.release();
    CHECK_FALSE(lock.locked());

    // Two conditions sharing one lock.
    Condition cond2(lock);
    std::vector<int> woke;
    auto w = [&](Condition& c, int n) -> Coro<void> {
      auto guard = co_await c.scoped();
      co_await c.wait();
      woke.push_back(n);
    };
    auto t1 = create_task(w(cond, 1));
    auto t2 = create_task(w(cond2, 2));
    co_await sleep(0);
    {
      auto guard = co_await lock.scoped();
      cond2.notify();
    }
    co_await t2;
    CHECK(woke == std::vector<int>{2});
    {
      auto guard = co_await lock.scoped();
      cond.notify();
    }
    co_await t1;
    CHECK(woke == std::vector<int>{2, 1});
    CHECK_FALSE(lock.locked());
  }());
}

TEST_CASE("Condition: a producer/consumer handshake with wait_for") {
  asyncuv::run([]() -> Coro<void> {
    Condition cond;
    std::vector<int> items, consumed;
    auto consumer_body = [&]() -> Coro<void> {
      for (int i = 0; i < 5; ++i) {
        auto guard = co_await cond.scoped();
        co_await cond.wait_for([&] { return !items.empty(); });
        consumed.push_back(items.front());
        items.erase(items.begin());
      }
    };
    auto consumer = create_task(consumer_body());
    for (int i = 0; i < 5; ++i) {
      auto guard = co_await cond.scoped();
      items.push_back(i);
      cond.notify();
      guard.release();
      co_await sleep(0);
    }
    co_await consumer;
    CHECK(consumed == std::vector<int>{0, 1, 2, 3, 4});
  }());
}

