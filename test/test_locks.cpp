// test_locks.cpp — Event, Lock, Semaphore, BoundedSemaphore, Condition and
// Guard; many cases are ports of CPython 3.11's test_asyncio/test_locks.py.
#include <doctest/doctest.h>

#include <asyncuv/asyncuv.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

using asyncuv::BoundedSemaphore;
using asyncuv::CancelledError;
using asyncuv::Condition;
using asyncuv::Coro;
using asyncuv::Event;
using asyncuv::Lock;
using asyncuv::RuntimeError;
using asyncuv::Semaphore;
using asyncuv::Task;
using asyncuv::create_task;
using asyncuv::sleep;

namespace {

// Python's create_task(lock.acquire()) and friends: a coroutine around one await.
Coro<bool> acquire_of(Lock& l) { co_return co_await l.acquire(); }
Coro<bool> acquire_of(Semaphore& s) { co_return co_await s.acquire(); }
Coro<bool> wait_of(Event& e) { co_return co_await e.wait(); }
Coro<bool> wait_of(Condition& c) { co_return co_await c.wait(); }

// Runs `coro` to completion and says whether it ended in CancelledError.
template <class T>
Coro<bool> ends_cancelled(Task<T> t) {
  try {
    co_await t;
  } catch (const CancelledError&) {
    co_return true;
  }
  co_return false;
}

Coro<void> yield_n(int n) {
  for (int i = 0; i < n; ++i) co_await sleep(0);
}

// The message of the std::exception that f() throws ("" when none does).
template <class E, class F>
std::string message_of(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

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
