// test_locks.cpp — Lock and its scoped() Guard; many cases are ports of
// CPython 3.11's test_asyncio/test_locks.py (LockTests).
#include <doctest/doctest.h>

#include <asyncuv/asyncuv.hpp>

#include "locks_support.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

using asyncuv::CancelledError;
using asyncuv::Coro;
using asyncuv::Event;
using asyncuv::Lock;
using asyncuv::RuntimeError;
using asyncuv::Task;
using asyncuv::create_task;
using asyncuv::sleep;
using locks_support::message_of;
using support::ends_cancelled;

namespace {

// Python's create_task(lock.acquire()) and friends: a coroutine around one await.
Coro<bool> acquire_of(Lock& l) { co_return co_await l.acquire(); }

}  // namespace

// ================================ Lock ================================

TEST_CASE("Lock: acquire, locked, release (test_lock)") {
  asyncuv::run([]() -> Coro<void> {
    Lock lock;
    CHECK_FALSE(lock.locked());
    CHECK(co_await lock.acquire());
    CHECK(lock.locked());
    lock.release();
    CHECK_FALSE(lock.locked());
  }());
}

TEST_CASE("Lock: acquiring a free lock does not yield to the loop") {
  asyncuv::run([]() -> Coro<void> {
    Lock lock;
    bool other_ran = false;
    auto t = create_task([](bool& ran) -> Coro<void> {
      ran = true;
      co_return;
    }(other_ran));
    co_await lock.acquire();
    CHECK_FALSE(other_ran);  // a suspension would have let it run
    lock.release();
    co_await t;
    CHECK(other_ran);
  }());
}

TEST_CASE("Lock: release of an unlocked lock is RuntimeError, also outside a loop") {
  Lock lock;  // created with no loop running (asyncio >= 3.10 allows it)
  CHECK(message_of<RuntimeError>([&] { lock.release(); }) == "Lock is not acquired.");
  asyncuv::run([&]() -> Coro<void> {
    CHECK_THROWS_AS(lock.release(), RuntimeError);
    co_await lock.acquire();
    lock.release();
    CHECK_THROWS_WITH_AS(lock.release(), "Lock is not acquired.", RuntimeError);
  }());
}

TEST_CASE("Lock: waiters acquire in FIFO order (test_acquire)") {
  asyncuv::run([]() -> Coro<void> {
    Lock lock;
    std::vector<int> result;
    CHECK(co_await lock.acquire());
    auto c = [&](int n) -> Coro<bool> {
      if (co_await lock.acquire()) result.push_back(n);
      co_return true;
    };
    auto t1 = create_task(c(1));
    auto t2 = create_task(c(2));
    co_await sleep(0);
    CHECK(result.empty());
    CHECK(lock.waiters() == 2);

    lock.release();
    co_await sleep(0);
    CHECK(result == std::vector<int>{1});
    co_await sleep(0);
    CHECK(result == std::vector<int>{1});

    auto t3 = create_task(c(3));
    lock.release();
    co_await sleep(0);
    CHECK(result == std::vector<int>{1, 2});
    lock.release();
    co_await sleep(0);
    CHECK(result == std::vector<int>{1, 2, 3});
    CHECK((t1.done() && t1.result() && t2.done() && t2.result() && t3.done() && t3.result()));
    lock.release();
  }());
}

TEST_CASE("Lock: an arriving acquirer does not barge past a woken waiter") {
  asyncuv::run([]() -> Coro<void> {
    Lock lock;
    std::vector<std::string> order;
    co_await lock.acquire();
    auto waiter_body = [&]() -> Coro<void> {
      co_await lock.acquire();
      order.push_back("waiter");
      lock.release();
    };
    auto waiter = create_task(waiter_body());
    co_await sleep(0);
    lock.release();  // handed to `waiter`, which has not run yet
    CHECK_FALSE(lock.locked());
    // We find the lock unlocked, but must queue behind the waiter.
    co_await lock.acquire();
    order.push_back("main");
    lock.release();
    co_await waiter;
    CHECK(order == std::vector<std::string>{"waiter", "main"});
    CHECK_FALSE(lock.locked());
  }());
}

TEST_CASE("Lock: a cancelled acquire leaves no waiter (test_acquire_cancel)") {
  asyncuv::run([]() -> Coro<void> {
    Lock lock;
    CHECK(co_await lock.acquire());
    auto task = create_task(acquire_of(lock));
    asyncuv::get_running_loop().call_soon([task]() mutable { task.cancel(); });
    CHECK(co_await ends_cancelled(task));
    CHECK(lock.waiters() == 0);
    CHECK(lock.locked());  // still ours
    lock.release();
  }());
}

TEST_CASE("Lock: cancel and release in the same iteration (test_cancel_race)") {
  asyncuv::run([]() -> Coro<void> {
    Lock lock;
    Event fa;
    auto lockit = [&](Event* blocker) -> Coro<void> {
      co_await lock.acquire();
      try {
        if (blocker) co_await blocker->wait();
      } catch (...) {
        lock.release();
        throw;
      }
      lock.release();
    };
    auto ta = create_task(lockit(&fa));
    co_await sleep(0);
    CHECK(lock.locked());
    auto tb = create_task(lockit(nullptr));
    co_await sleep(0);
    CHECK(lock.waiters() == 1);
    auto tc = create_task(lockit(nullptr));
    co_await sleep(0);
    CHECK(lock.waiters() == 2);

    fa.set();
    tb.cancel();
    co_await sleep(0);
    CHECK_FALSE(lock.locked());
    CHECK(ta.done());
    CHECK(tb.cancelled());
    co_await tc;
    CHECK_FALSE(lock.locked());
  }());
}

TEST_CASE("Lock: a waiter cancelled right before the release takes nothing (test_cancel_release_race)") {
  asyncuv::run([]() -> Coro<void> {
    Lock lock;
    int lock_count = 0, call_count = 0;
    auto lockit = [&]() -> Coro<void> {
      ++call_count;
      co_await lock.acquire();
      ++lock_count;
    };
    co_await lock.acquire();
    auto t1 = create_task(lockit());
    auto t2 = create_task(lockit());
    auto t3 = create_task(lockit());
    co_await sleep(0);
    asyncuv::get_running_loop().call_soon([&] {
      t1.cancel();
      lock.release();
    });
    CHECK(co_await ends_cancelled(t1));
    CHECK(lock_count == 1);  // only one of t2, t3 got it
    CHECK(call_count == 3);
    CHECK(t1.cancelled());
    CHECK(t2.done());
    t3.cancel();
    co_await sleep(0);
    CHECK(t3.cancelled());
  }());
}

TEST_CASE("Lock: a woken waiter cancelled before it runs passes the lock on (test_finished_waiter_cancelled)") {
  asyncuv::run([]() -> Coro<void> {
    Lock lock;
    co_await lock.acquire();
    auto tb = create_task(acquire_of(lock));
    co_await sleep(0);
    CHECK(lock.waiters() == 1);
    auto tc = create_task(acquire_of(lock));
    tb.cancel();
    lock.release();
    co_await sleep(0);
    CHECK(lock.locked());
    CHECK(tb.cancelled());
    CHECK(co_await tc);
    lock.release();
  }());
}

TEST_CASE("Lock: the lock handed to a waiter that is then cancelled goes to the next one") {
  asyncuv::run([]() -> Coro<void> {
    Lock lock;
    co_await lock.acquire();
    auto t1 = create_task(acquire_of(lock));
    auto t2 = create_task(acquire_of(lock));
    co_await sleep(0);
    lock.release();  // t1 is woken: the lock is its
    t1.cancel();     // ... but it is cancelled before it runs
    CHECK(co_await ends_cancelled(t1));
    CHECK(co_await t2);  // t2 got it instead
    CHECK(lock.locked());
    CHECK(lock.waiters() == 0);
    lock.release();
    CHECK_FALSE(lock.locked());
  }());
}

TEST_CASE("Lock: a cancellation pending before the wait is delivered at it, leaving nothing behind") {
  asyncuv::run([]() -> Coro<void> {
    Lock lock;
    co_await lock.acquire();
    Task<void> t;
    t = create_task([](Lock& l, Task<void>* self) -> Coro<void> {
      self->cancel();        // asyncio.current_task().cancel()
      co_await l.acquire();  // the lock is taken: a real wait, where the cancel lands
    }(lock, &t));
    CHECK(co_await ends_cancelled(t));
    CHECK(lock.waiters() == 0);
    lock.release();
    CHECK_FALSE(lock.locked());
  }());
}

TEST_CASE("Lock: acquiring a free lock is not a cancellation point (as in asyncio)") {
  asyncuv::run([]() -> Coro<void> {
    Lock lock;
    int stage = 0;
    Task<void> t;
    t = create_task([](Lock& l, Task<void>* self, int& stage) -> Coro<void> {
      self->cancel();
      co_await l.acquire();  // free: no suspension, so the cancel waits...
      stage = 1;
      try {
        co_await sleep(0);  // ... for this one
        stage = 2;
      } catch (const CancelledError&) {
        l.release();
        throw;
      }
    }(lock, &t, stage));
    CHECK(co_await ends_cancelled(t));
    CHECK(stage == 1);
    CHECK_FALSE(lock.locked());
  }());
}

TEST_CASE("Lock: scoped() guard releases at scope exit (test_context_manager)") {
  asyncuv::run([]() -> Coro<void> {
    Lock lock;
    CHECK_FALSE(lock.locked());
    {
      auto guard = co_await lock.scoped();
      CHECK(guard.owns());
      CHECK(lock.locked());
    }
    CHECK_FALSE(lock.locked());

    // On an exception too.
    try {
      auto guard = co_await lock.scoped();
      throw std::runtime_error("boom");
    } catch (const std::runtime_error&) {
    }
    CHECK_FALSE(lock.locked());

    // Moved, released early.
    auto g1 = co_await lock.scoped();
    auto g2 = std::move(g1);
    CHECK_FALSE(g1.owns());
    CHECK(g2.owns());
    g2.release();
    CHECK_FALSE(g2.owns());
    CHECK_FALSE(lock.locked());
  }());
}

TEST_CASE("Lock: scoped() waits in line like acquire()") {
  asyncuv::run([]() -> Coro<void> {
    Lock lock;
    std::vector<int> order;
    auto worker = [&](int n) -> Coro<void> {
      auto guard = co_await lock.scoped();
      order.push_back(n);
      co_await sleep(0.001);
      order.push_back(-n);
    };
    co_await asyncuv::gather(worker(1), worker(2), worker(3));
    CHECK(order == std::vector<int>{1, -1, 2, -2, 3, -3});
    CHECK_FALSE(lock.locked());
  }());
}

TEST_CASE("Lock: a guard whose lock was released by hand reports to the exception handler") {
  std::vector<std::string> reports;
  asyncuv::run([&]() -> Coro<void> {
    asyncuv::get_running_loop().set_exception_handler([&](const asyncuv::ExceptionContext& ctx) {
      try {
        std::rethrow_exception(ctx.exception);
      } catch (const RuntimeError& e) {
        reports.push_back(ctx.message + ": " + e.what());
      }
    });
    Lock lock;
    {
      auto guard = co_await lock.scoped();
      lock.release();
    }
    CHECK_FALSE(lock.locked());
  }());
  CHECK(reports == std::vector<std::string>{"Exception in Guard release: Lock is not acquired."});
}

TEST_CASE("Lock: usable in successive runs; a waiter blocked at shutdown is cancelled cleanly") {
  Lock lock;
  for (int round = 0; round < 2; ++round) {
    asyncuv::run([&]() -> Coro<void> {
      co_await lock.acquire();
      create_task(acquire_of(lock));  // still waiting when main returns
      co_await sleep(0);
      CHECK(lock.waiters() == 1);
    }());
    CHECK(lock.locked());  // main kept it; the waiter was cancelled by run()
    lock.release();
    CHECK(lock.waiters() == 0);
    CHECK_FALSE(lock.locked());
  }
}

TEST_CASE("Lock: a lock destroyed with a waiter queued detaches it") {
  asyncuv::run([]() -> Coro<void> {
    Task<bool> t;
    {
      Lock lock;
      co_await lock.acquire();
      t = create_task(acquire_of(lock));
      co_await sleep(0);
    }  // t still waits; it must not touch the dead lock
    co_await sleep(0);
    CHECK_FALSE(t.done());
    t.cancel();
    CHECK(co_await ends_cancelled(t));
  }());
}

