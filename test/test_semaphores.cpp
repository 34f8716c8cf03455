// test_semaphores.cpp — Semaphore and BoundedSemaphore; many cases are ports
// of CPython 3.11's test_asyncio/test_locks.py (SemaphoreTests,
// BoundedSemaphoreTests).
#include <doctest/doctest.h>

#include <asyncuv/asyncuv.hpp>

#include "locks_support.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

using asyncuv::BoundedSemaphore;
using asyncuv::CancelledError;
using asyncuv::Coro;
using asyncuv::Semaphore;
using asyncuv::Task;
using asyncuv::create_task;
using asyncuv::sleep;
using locks_support::message_of;
using support::ends_cancelled;

namespace {

// Python's create_task(lock.acquire()) and friends: a coroutine around one await.
Coro<bool> acquire_of(Semaphore& s) { co_return co_await s.acquire(); }

Coro<void> yield_n(int n) {
  for (int i = 0; i < n; ++i) co_await sleep(0);
}

}  // namespace

// ============================== Semaphore ==============================

TEST_CASE("Semaphore: initial value zero is locked (test_initial_value_zero)") {
  Semaphore sem(0);
  CHECK(sem.locked());
  CHECK(sem.value() == 0);
}

TEST_CASE("Semaphore: acquire and release (test_semaphore)") {
  asyncuv::run([]() -> Coro<void> {
    Semaphore sem;
    CHECK(sem.value() == 1);
    CHECK(co_await sem.acquire());
    CHECK(sem.locked());
    CHECK(sem.value() == 0);
    sem.release();
    CHECK_FALSE(sem.locked());
    CHECK(sem.value() == 1);
  }());
}

TEST_CASE("Semaphore: a negative initial value is ValueError (test_semaphore_value)") {
  CHECK(message_of<std::invalid_argument>([] { Semaphore s(-1); }) == "Semaphore initial value must be >= 0");
  CHECK(message_of<std::invalid_argument>([] { BoundedSemaphore s(-1); }) == "Semaphore initial value must be >= 0");
}

TEST_CASE("Semaphore: waiters and units (test_acquire)") {
  asyncuv::run([]() -> Coro<void> {
    Semaphore sem(3);
    std::vector<int> result;
    CHECK(co_await sem.acquire());
    CHECK(co_await sem.acquire());
    CHECK_FALSE(sem.locked());
    auto c = [&](int n) -> Coro<bool> {
      co_await sem.acquire();
      result.push_back(n);
      co_return true;
    };
    auto t1 = create_task(c(1));
    auto t2 = create_task(c(2));
    auto t3 = create_task(c(3));
    co_await sleep(0);
    CHECK(result == std::vector<int>{1});
    CHECK(sem.locked());
    CHECK(sem.waiters() == 2);
    CHECK(sem.value() == 0);

    auto t4 = create_task(c(4));
    sem.release();
    sem.release();
    CHECK(sem.value() == 0);  // both units reserved for the woken waiters
    co_await sleep(0);
    CHECK(sem.value() == 0);
    CHECK(result.size() == 3);
    CHECK(sem.locked());
    CHECK(sem.waiters() == 1);
    CHECK((t1.done() && t1.result()));
    int done = int(t2.done()) + int(t3.done()) + int(t4.done());
    CHECK(done == 2);
    sem.release();
    co_await asyncuv::gather(t2, t3, t4);
  }());
}

TEST_CASE("Semaphore: a cancelled acquire (test_acquire_cancel)") {
  asyncuv::run([]() -> Coro<void> {
    Semaphore sem;
    co_await sem.acquire();
    auto acquire = create_task(acquire_of(sem));
    asyncuv::get_running_loop().call_soon([acquire]() mutable { acquire.cancel(); });
    CHECK(co_await ends_cancelled(acquire));
    CHECK(sem.waiters() == 0);
    CHECK(sem.value() == 0);
  }());
}

TEST_CASE("Semaphore: cancelled waiters do not eat the unit (test_acquire_cancel_before_awoken)") {
  asyncuv::run([]() -> Coro<void> {
    Semaphore sem(0);
    auto t1 = create_task(acquire_of(sem));
    auto t2 = create_task(acquire_of(sem));
    auto t3 = create_task(acquire_of(sem));
    auto t4 = create_task(acquire_of(sem));
    co_await sleep(0);
    t1.cancel();
    t2.cancel();
    sem.release();
    co_await sleep(0);
    co_await sleep(0);
    CHECK(t3.done());
    CHECK_FALSE(t4.done());
    t3.cancel();
    t4.cancel();
    co_await sleep(0);
    CHECK(t4.cancelled());
  }());
}

TEST_CASE("Semaphore: no hang when the first waiter is cancelled (test_acquire_hang)") {
  asyncuv::run([]() -> Coro<void> {
    Semaphore sem(0);
    auto t1 = create_task(acquire_of(sem));
    auto t2 = create_task(acquire_of(sem));
    co_await sleep(0);
    t1.cancel();
    sem.release();
    co_await sleep(0);
    co_await sleep(0);
    CHECK(sem.locked());
    CHECK(t2.done());
  }());
}

TEST_CASE("Semaphore: a woken waiter cancelled before it runs gives the unit back (test_acquire_no_hang)") {
  asyncuv::run([]() -> Coro<void> {
    Semaphore sem(1);
    Task<void> t2;
    auto c1 = [&]() -> Coro<void> {
      {
        auto guard = co_await sem.scoped();
        co_await sleep(0);
      }
      t2.cancel();
    };
    bool c2_got_it = false;
    auto c2 = [&]() -> Coro<void> {
      auto guard = co_await sem.scoped();
      c2_got_it = true;
    };
    auto t1 = create_task(c1());
    t2 = create_task(c2());
    auto [r1, r2] = co_await asyncuv::gather(asyncuv::return_exceptions, t1, t2);
    CHECK(r1.has_value());
    bool r2_cancelled = false;
    try {
      std::rethrow_exception(r2.error());
    } catch (const CancelledError&) {
      r2_cancelled = true;
    }
    CHECK(r2_cancelled);
    CHECK_FALSE(c2_got_it);
    CHECK_FALSE(sem.locked());
    CHECK(sem.value() == 1);
    CHECK(co_await sem.acquire());
  }());
}

TEST_CASE("BoundedSemaphore: releasing beyond the initial value is ValueError (test_release_not_acquired)") {
  BoundedSemaphore sem;
  CHECK(message_of<std::invalid_argument>([&] { sem.release(); }) == "BoundedSemaphore released too many times");
  asyncuv::run([&]() -> Coro<void> {
    BoundedSemaphore two(2);
    co_await two.acquire();
    {
      auto guard = co_await two.scoped();
      CHECK(two.value() == 0);
    }
    two.release();
    CHECK(two.value() == 2);
    CHECK_THROWS_WITH_AS(two.release(), "BoundedSemaphore released too many times", std::invalid_argument);
    Semaphore& base = two;  // the bound holds through a Semaphore& too
    CHECK_THROWS_AS(base.release(), std::invalid_argument);
    co_return;
  }());
}

TEST_CASE("Semaphore: release without waiters (test_release_no_waiters)") {
  asyncuv::run([]() -> Coro<void> {
    Semaphore sem;
    co_await sem.acquire();
    CHECK(sem.locked());
    sem.release();
    CHECK_FALSE(sem.locked());
    sem.release();  // an unbounded semaphore just counts up
    CHECK(sem.value() == 2);
  }());
}

TEST_CASE("Semaphore: FIFO across repeated acquires (test_acquire_fifo_order)") {
  asyncuv::run([]() -> Coro<void> {
    Semaphore sem(1);
    std::vector<std::string> result;
    auto coro = [&](std::string tag) -> Coro<void> {
      co_await sem.acquire();
      result.push_back(tag + "_1");
      co_await sleep(0.01);
      sem.release();
      co_await sem.acquire();
      result.push_back(tag + "_2");
      co_await sleep(0.01);
      sem.release();
    };
    co_await asyncuv::gather(coro("c1"), coro("c2"), coro("c3"));
    CHECK(result == std::vector<std::string>{"c1_1", "c2_1", "c3_1", "c1_2", "c2_2", "c3_2"});
  }());
}

TEST_CASE("Semaphore: a re-acquire queues behind earlier waiters (test_acquire_fifo_order_2)") {
  asyncuv::run([]() -> Coro<void> {
    Semaphore sem(1);
    std::vector<int> result;
    auto c1 = [&]() -> Coro<bool> {
      co_await sem.acquire();
      result.push_back(1);
      co_return true;
    };
    auto c2 = [&]() -> Coro<bool> {
      co_await sem.acquire();
      result.push_back(2);
      sem.release();
      co_await sem.acquire();
      result.push_back(4);
      co_return true;
    };
    auto c3 = [&]() -> Coro<bool> {
      co_await sem.acquire();
      result.push_back(3);
      co_return true;
    };
    auto t1 = create_task(c1());
    auto t2 = create_task(c2());
    auto t3 = create_task(c3());
    co_await sleep(0);
    sem.release();
    sem.release();
    co_await asyncuv::gather(t1, t2, t3);
    CHECK(result == std::vector<int>{1, 2, 3, 4});
  }());
}

TEST_CASE("Semaphore: units skip a cancelled waiter (test_acquire_fifo_order_3)") {
  asyncuv::run([]() -> Coro<void> {
    Semaphore sem(0);
    std::vector<int> result;
    auto c = [&](int n) -> Coro<bool> {
      co_await sem.acquire();
      result.push_back(n);
      co_return true;
    };
    auto t1 = create_task(c(1));
    auto t2 = create_task(c(2));
    auto t3 = create_task(c(3));
    co_await sleep(0);
    t1.cancel();
    co_await sleep(0);
    sem.release();
    sem.release();
    co_await asyncuv::gather(asyncuv::return_exceptions, t1, t2, t3);
    CHECK(result == std::vector<int>{2, 3});
    CHECK(t1.cancelled());
  }());
}

TEST_CASE("Semaphore: an arriving acquirer does not take a unit reserved for a waiter") {
  asyncuv::run([]() -> Coro<void> {
    Semaphore sem(0);
    std::vector<std::string> order;
    auto w = [&](std::string name) -> Coro<void> {
      co_await sem.acquire();
      order.push_back(name);
    };
    auto t1 = create_task(w("waiter"));
    co_await sleep(0);
    sem.release();
    CHECK(sem.value() == 0);  // reserved for the waiter
    CHECK(sem.locked());
    auto t2 = create_task(w("newcomer"));
    co_await sleep(0);
    CHECK(order == std::vector<std::string>{"waiter"});
    CHECK_FALSE(t2.done());
    sem.release();
    co_await t2;
    CHECK(order == std::vector<std::string>{"waiter", "newcomer"});
    co_await t1;
  }());
}

TEST_CASE("Semaphore: scoped() bounds concurrency") {
  asyncuv::run([]() -> Coro<void> {
    Semaphore sem(2);
    int inside = 0, peak = 0;
    auto worker = [&]() -> Coro<void> {
      auto guard = co_await sem.scoped();
      peak = std::max(peak, ++inside);
      co_await sleep(0.001);
      --inside;
    };
    std::vector<Coro<void>> ws;
    for (int i = 0; i < 6; ++i) ws.push_back(worker());
    co_await asyncuv::gather(std::move(ws));
    CHECK(peak == 2);
    CHECK(sem.value() == 2);
    CHECK(sem.waiters() == 0);
  }());
}

TEST_CASE("Semaphore: every other waiter cancelled, each unit still reaches a live waiter") {
  asyncuv::run([]() -> Coro<void> {
    Semaphore sem(0);
    std::vector<Task<bool>> ts;
    for (int i = 0; i < 10; ++i) ts.push_back(create_task(acquire_of(sem)));
    co_await sleep(0);
    for (int i = 0; i < 10; i += 2) ts[static_cast<std::size_t>(i)].cancel();
    for (int i = 0; i < 5; ++i) sem.release();
    co_await yield_n(3);
    int got = 0;
    for (int i = 1; i < 10; i += 2) got += ts[static_cast<std::size_t>(i)].done() ? 1 : 0;
    CHECK(got == 5);
    CHECK(sem.value() == 0);
    CHECK(sem.waiters() == 0);
  }());
}
