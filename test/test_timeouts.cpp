// timeout() / timeout_at() / Timeout: expiry, TimeoutError vs CancelledError,
// nested scopes, reschedule, the state errors (ported from CPython's
// test_timeouts.py). (wait_for: test_wait_for.cpp.)
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <asyncuv/asyncuv.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace asyncuv;
using namespace std::chrono_literals;

using support::awaited;
using support::nap;
using support::now;
using support::outcome;
using support::value_after;

namespace {

// asyncio.sleep() is a coroutine; ours is a plain awaiter.

Coro<void> sleep_logged(Log* log, std::string name, std::chrono::milliseconds d) {
  try {
    co_await sleep(d);
  } catch (const CancelledError&) {
    log->push_back(name + " cancelled");
    throw;
  }
  log->push_back(name + " done");
}

// ---------------- timeout scopes ----------------

TEST_CASE("timeout: the deadline passes -> TimeoutError, expired(), the body saw CancelledError") {
  run([]() -> Coro<void> {
    Log log;
    Timeout cm = timeout(10ms);
    const double t0 = now();
    CHECK(co_await outcome(cm.run(sleep_logged(&log, "body", 10s))) == "TimeoutError");
    CHECK(now() - t0 >= 0.009);
    CHECK(now() - t0 < 5.0);
    CHECK(cm.expired());
    CHECK(log == Log{"body cancelled"});
    CHECK(cm.repr() == "<Timeout [expired]>");
    // The task itself is not cancelled afterwards.
    CHECK(current_task().cancelling() == 0);
    co_await sleep(1ms);
  }());
}

TEST_CASE("timeout: a body that finishes in time returns its value and the timer is gone") {
  run([]() -> Coro<void> {
    Timeout cm = timeout(10.0);
    const double t1 = now();
    int v = co_await cm.run(value_after(7, 1ms));
    CHECK(v == 7);
    CHECK_FALSE(cm.expired());
    CHECK(*cm.when() > t1);
    CHECK(cm.repr() == "<Timeout [finished]>");
    // The shorthand forms.
    CHECK(co_await timeout(1s, value_after(8, 1ms)) == 8);
    CHECK(co_await timeout(5.0, [](Timeout& t) -> Coro<int> {
      CHECK(t.when().has_value());
      co_return 9;
    }) == 9);
  }());
}

TEST_CASE("timeout_at: an absolute deadline in loop time; when() keeps it") {
  run([]() -> Coro<void> {
    const double deadline = now() + 0.01;
    Timeout cm = timeout_at(deadline);
    CHECK(co_await outcome(cm.run(nap(10s))) == "TimeoutError");
    CHECK(cm.expired());
    CHECK(cm.when() == deadline);
    CHECK(co_await outcome(timeout_at(now() + 0.005, nap(10s))) == "TimeoutError");
    CHECK(co_await outcome(timeout_at(std::nullopt, value_after(3, 1ms))) == "value 3");
  }());
}

TEST_CASE("timeout(None) never expires") {
  run([]() -> Coro<void> {
    Timeout cm = timeout(std::nullopt);
    CHECK(co_await outcome(cm.run(value_after(1, 10ms))) == "value 1");
    CHECK_FALSE(cm.expired());
    CHECK_FALSE(cm.when().has_value());
    co_await timeout(std::nullopt, [](Timeout& t) -> Coro<void> {
      CHECK(t.repr() == "<Timeout [active] when=None>");
      co_return;
    });
  }());
}

TEST_CASE("timeout(0) and a deadline in the past expire at the next suspension, even sleep(0)") {
  run([]() -> Coro<void> {
    const double t0 = now();
    Timeout zero = timeout(0);
    CHECK(co_await outcome(zero.run(nap(10s))) == "TimeoutError");
    CHECK(zero.expired());
    CHECK(t0 <= *zero.when());
    CHECK(*zero.when() <= now());
    Timeout zero2 = timeout(0.0);
    CHECK(co_await outcome(zero2.run(nap(0))) == "TimeoutError");
    Timeout past = timeout(-11);
    CHECK(co_await outcome(past.run(nap(0))) == "TimeoutError");
    CHECK(*past.when() < t0);
    // No suspension inside: nothing to interrupt (asyncio: the callback never ran).
    Timeout quick = timeout(0);
    CHECK(co_await quick.run([](Timeout&) -> Coro<int> { co_return 5; }) == 5);
    CHECK_FALSE(quick.expired());
  }());
}

TEST_CASE("timeout: a foreign exception passes through unchanged, also when it replaces the cancel") {
  run([]() -> Coro<void> {
    Timeout cm = timeout(0.01);
    CHECK(co_await outcome(cm.run([](Timeout&) -> Coro<void> {
      throw std::out_of_range("key");
      co_return;
    })) == "error key");
    CHECK_FALSE(cm.expired());
    // test_foreign_exception_on_timeout: the body's cleanup raises instead.
    CHECK(co_await outcome(timeout(10ms, []() -> Coro<void> {
      try {
        co_await sleep(1s);
      } catch (const CancelledError&) {
      }
      throw std::domain_error("division by zero");
    }())) == "error division by zero");
  }());
}

TEST_CASE("timeout: an outer cancel of a scope that has not expired stays CancelledError") {
  run([]() -> Coro<void> {
    Timeout cm = timeout(10.0);
    CHECK(co_await outcome(cm.run([](Timeout&) -> Coro<void> {
      current_task().cancel();
      co_await sleep(10s);
    })) == "CancelledError");
    CHECK_FALSE(cm.expired());
    current_task().uncancel();
  }());
  // Cancelled from another task while inside the scope.
  run([]() -> Coro<void> {
    Log log;
    auto t = create_task(timeout(10s, sleep_logged(&log, "inner", 10s)));
    co_await sleep(2ms);
    t.cancel();
    CHECK(co_await outcome(awaited(t)) == "CancelledError");
    CHECK(t.cancelled());
    CHECK(log == Log{"inner cancelled"});
  }());
}

TEST_CASE("nested timeouts with the same deadline: only the outermost raises TimeoutError") {
  run([]() -> Coro<void> {
    const double deadline = now() + 0.01;
    Timeout cm1 = timeout_at(deadline);
    Timeout cm2 = timeout_at(deadline);
    bool inner_saw_cancel = false;
    CHECK(co_await outcome(cm1.run([&](Timeout&) -> Coro<void> {
      try {
        co_await cm2.run(nap(10s));
      } catch (const CancelledError&) {
        inner_saw_cancel = true;
        throw;
      }
    })) == "TimeoutError");
    CHECK(inner_saw_cancel);
    CHECK(cm1.expired());
    CHECK(cm2.expired());
  }());
}

TEST_CASE("nested timeouts: the inner expires first and the outer body goes on") {
  run([]() -> Coro<void> {
    Timeout outer = timeout(10s);
    Timeout inner = timeout(5ms);
    int v = co_await outer.run([&](Timeout&) -> Coro<int> {
      std::string r = co_await outcome(inner.run(nap(10s)));
      CHECK(r == "TimeoutError");
      co_return co_await value_after(4, 1ms);
    });
    CHECK(v == 4);
    CHECK(inner.expired());
    CHECK_FALSE(outer.expired());
  }());
}

TEST_CASE("nested timeouts: the outer expires first; the inner passes CancelledError through") {
  run([]() -> Coro<void> {
    Timeout outer = timeout(5ms);
    Timeout inner = timeout(10s);
    std::string inner_result;
    CHECK(co_await outcome(outer.run([&](Timeout&) -> Coro<void> {
      inner_result = co_await outcome(inner.run(nap(10s)));
      if (inner_result == "CancelledError") throw CancelledError();
    })) == "TimeoutError");
    CHECK(inner_result == "CancelledError");
    CHECK(outer.expired());
    CHECK_FALSE(inner.expired());
  }());
}

TEST_CASE("nested timeouts, loop busy: both deadlines pass at once, the outer one converts") {
  run([]() -> Coro<void> {
    const double t0 = now();
    Timeout outer = timeout(0.05);
    Timeout inner = timeout(0.005);
    std::string inner_result;
    CHECK(co_await outcome(outer.run([&](Timeout&) -> Coro<void> {
      inner_result = co_await outcome(inner.run([](Timeout&) -> Coro<void> {
        std::this_thread::sleep_for(60ms);  // the loop is busy past both deadlines
        co_await sleep(1s);
      }));
      if (inner_result == "CancelledError") throw CancelledError();
      co_await sleep(10s);
    })) == "TimeoutError");
    // Two cancel requests were pending when the inner scope exited (asyncio
    // gives the same): the inner one passes the CancelledError on.
    CHECK(inner_result == "CancelledError");
    CHECK(now() - t0 < 5.0);
  }());
}

TEST_CASE("timeout inside the cleanup of an expired timeout (test_nested_timeout_in_finally)") {
  run([]() -> Coro<void> {
    std::string cleanup;
    CHECK(co_await outcome(timeout(5ms, [&](Timeout&) -> Coro<void> {
      bool cancelled = false;
      try {
        co_await sleep(1s);
      } catch (const CancelledError&) {
        cancelled = true;
      }
      cleanup = co_await outcome(timeout(5ms, nap(10s)));
      if (cancelled) throw CancelledError();
    })) == "TimeoutError");
    CHECK(cleanup == "TimeoutError");
  }());
}

TEST_CASE("a timeout after the task swallowed a cancel still works; a cancel inside it is a CancelledError") {
  run([]() -> Coro<void> {
    AnyTask self = current_task();
    self.cancel();
    std::string first = co_await outcome(nap(1s));
    CHECK(first == "CancelledError");
    CHECK(self.cancelling() == 1);  // asyncio: cancelling() stays 1
    CHECK(co_await outcome(timeout(0.0, nap(1s))) == "TimeoutError");
    CHECK(co_await outcome(timeout(1.0, [&](Timeout&) -> Coro<void> {
      self.cancel();
      co_await sleep(2s);
    })) == "CancelledError");
    CHECK(self.cancelling() == 2);
  }());
}

TEST_CASE("the task around an expired timeout is not cancelled (test_outer_task_is_not_cancelled)") {
  run([]() -> Coro<void> {
    auto t = create_task([]() -> Coro<int> {
      std::string r = co_await outcome(timeout(1ms, nap(10s)));
      co_return r == "TimeoutError" ? 1 : 0;
    }());
    CHECK(co_await t == 1);
    CHECK(t.done());
    CHECK_FALSE(t.cancelled());
    CHECK(t.cancelling() == 0);
  }());
}

TEST_CASE("reschedule moves the deadline later, earlier, to never and into the past") {
  run([]() -> Coro<void> {
    const double d1 = now() + 10;
    Timeout cm = timeout_at(d1);
    CHECK(co_await outcome(cm.run([&](Timeout& t) -> Coro<void> {
      CHECK(t.when() == d1);
      t.reschedule(d1 + 20);
      CHECK(t.when() == d1 + 20);
      t.reschedule(std::nullopt);
      CHECK_FALSE(t.when().has_value());
      co_await sleep(5ms);  // nothing fires
      t.reschedule(now() + 0.005);
      co_await sleep(10s);
    })) == "TimeoutError");
    CHECK(cm.expired());
    Timeout past = timeout(10s);
    CHECK(co_await outcome(past.run([&](Timeout& t) -> Coro<void> {
      t.reschedule(now() - 1);
      co_await sleep(0);
    })) == "TimeoutError");
  }());
}

TEST_CASE("reschedule from another task; cancelling that task then is a CancelledError (test_reschedule)") {
  run([]() -> Coro<void> {
    Timeout* cm = nullptr;
    std::string seen;
    auto t = create_task([](Timeout** out, std::string* seen) -> Coro<void> {
      Timeout scope = timeout(10s);
      *seen = co_await outcome(scope.run([out](Timeout& s) -> Coro<void> {
        *out = &s;
        co_await sleep(50s);
      }));
      *seen += scope.expired() ? " expired" : " not expired";
      throw CancelledError();
    }(&cm, &seen));
    co_await sleep(1ms);
    REQUIRE(cm != nullptr);
    cm->reschedule(now() + 30);
    cm->reschedule(std::nullopt);
    CHECK_FALSE(cm->when().has_value());
    t.cancel();
    CHECK(co_await outcome(awaited(t)) == "CancelledError");
    CHECK(seen == "CancelledError not expired");
  }());
}

TEST_CASE("Timeout state errors have asyncio's messages") {
  run([]() -> Coro<void> {
    Timeout fresh = timeout(0.01);
    CHECK(fresh.repr() == "<Timeout [created]>");
    CHECK_THROWS_WITH_AS(fresh.reschedule(1.0), "Timeout has not been entered", RuntimeError);

    Timeout finished = timeout(0.01);
    co_await finished.run([](Timeout& t) -> Coro<void> {
      CHECK_THROWS_WITH_AS(t.enter(), "Timeout has already been entered", RuntimeError);
      CHECK(t.repr().rfind("<Timeout [active] when=", 0) == 0);
      co_return;
    });
    CHECK_THROWS_WITH_AS(finished.reschedule(1.0), "Cannot change state of finished Timeout", RuntimeError);
    CHECK(co_await outcome(finished.run(value_after(1, 0ms))) == "error Timeout has already been entered");

    Timeout expired = timeout(0.001);
    CHECK(co_await outcome(expired.run(nap(1s))) == "TimeoutError");
    CHECK_THROWS_WITH_AS(expired.reschedule(1.0), "Cannot change state of expired Timeout", RuntimeError);

    Timeout expiring = timeout(0.001);
    co_await expiring.run([](Timeout& t) -> Coro<void> {
      CHECK(co_await outcome(nap(1s)) == "CancelledError");
      CHECK(t.expired());
      CHECK_THROWS_WITH_AS(t.reschedule(1.0), "Cannot change state of expiring Timeout", RuntimeError);
    });  // the body swallowed the cancel: no TimeoutError
    CHECK(expiring.expired());
  }());
  Timeout no_task(1.0);
  CHECK_THROWS_WITH_AS(no_task.enter(), "Timeout should be used inside a task", RuntimeError);
  CHECK_THROWS_WITH_AS(no_task.reschedule(2.0), "Timeout has not been entered", RuntimeError);
  CHECK_THROWS_WITH_AS(timeout(1.0), "no running event loop", RuntimeError);
  CHECK_THROWS_AS(run([]() -> Coro<void> { co_await timeout(std::nan(""), nap(0)); }()), std::invalid_argument);
}

TEST_CASE("Task::cancelling() and uncancel() count cancel requests") {
  run([]() -> Coro<void> {
    auto t = create_task(nap(1s));
    CHECK(t.cancelling() == 0);
    t.cancel();
    t.cancel();
    CHECK(t.cancelling() == 2);
    CHECK(t.uncancel() == 1);
    CHECK(co_await outcome(awaited(t)) == "CancelledError");
    CHECK_FALSE(t.cancel());  // done: not counted
    CHECK(t.cancelling() == 1);
  }());
}

}  // namespace
