// wait_for(): a result in time, cancel-and-wait on expiry, asyncio 3.11's
// rules for an inner task that swallows or races the cancel, and cancelling
// the awaiter (ported from CPython's test_waitfor.py).
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

// ---------------- wait_for ----------------

TEST_CASE("wait_for: a result in time, from a Coro or a Task, with any timeout spelling") {
  run([]() -> Coro<void> {
    CHECK(co_await wait_for(value_after(1, 1ms), 1.0) == 1);
    CHECK(co_await wait_for(value_after(2, 1ms), 1s) == 2);
    auto t = create_task(value_after(3, 1ms));
    CHECK(co_await wait_for(t, 500ms) == 3);
    CHECK(co_await wait_for(create_task(value_after(4, 1ms)), 1) == 4);
    co_await wait_for(nap(1ms), 0.5);
  }());
}

TEST_CASE("wait_for: on timeout the task is cancelled and awaited before TimeoutError") {
  run([]() -> Coro<void> {
    Log log;
    auto slow = [](Log* log) -> Coro<int> {
      try {
        co_await sleep(10s);
        co_return 1;
      } catch (const CancelledError&) {
        log->push_back("cancelled");
      }
      co_await sleep(10ms);  // a slow cleanup: wait_for must wait for it
      log->push_back("cleaned up");
      throw CancelledError();
    };
    const double t0 = now();
    auto t = create_task(slow(&log));
    CHECK(co_await outcome(wait_for(t, 0.01)) == "TimeoutError");
    CHECK(log == Log{"cancelled", "cleaned up"});
    CHECK(t.cancelled());
    CHECK(now() - t0 >= 0.019);
    CHECK(co_await outcome(wait_for(slow(&log), 5ms)) == "TimeoutError");
    CHECK(log.size() == 4);
  }());
}

TEST_CASE("wait_for: an inner task that swallows the cancel gives its value (asyncio 3.11)") {
  run([]() -> Coro<void> {
    auto inner = []() -> Coro<int> {
      try {
        co_await sleep(1s);
      } catch (const CancelledError&) {
      }
      co_return 1;
    };
    CHECK(co_await wait_for(inner(), 0.01) == 1);
    // With a timeout of 0 a coroutine is cancelled before it starts.
    CHECK(co_await outcome(wait_for(inner(), 0)) == "TimeoutError");
    auto started = create_task(inner());
    co_await sleep(0);
    CHECK(co_await wait_for(started, 0) == 1);
  }());
}

TEST_CASE("wait_for: an exception raised while cancelling is re-raised") {
  run([]() -> Coro<void> {
    auto inner = []() -> Coro<int> {
      try {
        co_await sleep(1s);
      } catch (const CancelledError&) {
      }
      throw std::out_of_range("zero division");
    };
    CHECK(co_await outcome(wait_for(inner(), 0.01)) == "error zero division");
    // An error before the timeout is just that error.
    CHECK(co_await outcome(wait_for([]() -> Coro<int> {
      co_await sleep(1ms);
      throw std::logic_error("early");
    }(), 1.0)) == "error early");
  }());
}

TEST_CASE("wait_for with a timeout <= 0: a done task's result, else cancel and TimeoutError") {
  run([]() -> Coro<void> {
    auto done = create_task(value_after(5, 0ms));
    co_await sleep(1ms);
    CHECK(co_await wait_for(done, 0) == 5);
    CHECK(co_await wait_for(done, -1) == 5);
    // A coroutine never starts (test_..._coroutine_do_not_started).
    bool started = false;
    CHECK(co_await outcome(wait_for([](bool* s) -> Coro<int> {
      *s = true;
      co_return 1;
    }(&started), 0)) == "TimeoutError");
    CHECK_FALSE(started);
    auto running = create_task(value_after(6, 1s));
    co_await sleep(1ms);
    CHECK(co_await outcome(wait_for(running, -0.5)) == "TimeoutError");
    CHECK(running.cancelled());
  }());
}

TEST_CASE("wait_for(aw, None) waits as long as it takes; a Coro runs inline in the task") {
  run([]() -> Coro<void> {
    const AnyTask me = current_task();
    AnyTask inside;
    int v = co_await wait_for([](AnyTask* inside) -> Coro<int> {
      *inside = current_task();
      co_await sleep(5ms);
      co_return 8;
    }(&inside), std::nullopt);
    CHECK(v == 8);
    CHECK(inside == me);
    auto t = create_task(value_after(9, 5ms));
    CHECK(co_await wait_for(t, std::nullopt) == 9);
  }());
}

TEST_CASE("cancelling a task in wait_for cancels the inner task and waits for it (test_cancel_wait_for)") {
  run([]() -> Coro<void> {
    Log log;
    auto inner = create_task([](Log* log) -> Coro<int> {
      try {
        co_await sleep(10s);
        co_return 1;
      } catch (const CancelledError&) {
      }
      co_await sleep(5ms);
      log->push_back("inner cleaned up");
      throw CancelledError();
    }(&log));
    auto outer = create_task([](Task<int> inner, Log* log) -> Coro<void> {
      std::string r = co_await outcome(wait_for(inner, 10.0));
      log->push_back("wait_for: " + r);
      if (r == "CancelledError") throw CancelledError();
    }(inner, &log));
    co_await sleep(2ms);
    outer.cancel();
    CHECK(co_await outcome(awaited(outer)) == "CancelledError");
    CHECK(inner.cancelled());
    CHECK(log == Log{"inner cleaned up", "wait_for: CancelledError"});
  }());
}

TEST_CASE("wait_for itself stays cancellable while the inner task holds up its cancellation") {
  // test_wait_for_self_cancellation, in milliseconds.
  run([]() -> Coro<void> {
    auto inner = create_task([]() -> Coro<int> {
      bool cancelled = false;
      try {
        co_await sleep(30ms);
      } catch (const CancelledError&) {
        cancelled = true;
      }
      if (cancelled) {
        try {
          co_await sleep(30ms);
        } catch (const CancelledError&) {
        }
        co_await sleep(30ms);
      }
      co_return 42;
    }());
    auto waiter = create_task(wait_for(inner, 0.01));
    co_await sleep(20ms);
    waiter.cancel();
    CHECK(co_await outcome(awaited(waiter)) == "CancelledError");
    CHECK_FALSE(inner.done());
    CHECK(co_await inner == 42);
  }());
}

TEST_CASE("wait_for: the task finishing as the cancel arrives gives its result (3.11's race rule)") {
  run([]() -> Coro<void> {
    auto inner = create_task(value_after(7, 5ms));
    auto outer = create_task(wait_for(inner, 10.0));
    // Cancel the waiter in the same loop pass as the inner task finishes:
    // from a done callback of the inner task.
    inner.add_done_callback([outer](const Task<int>&) mutable { outer.cancel(); });
    CHECK(co_await outcome(awaited(outer)) == "value 7");
    CHECK_FALSE(outer.cancelled());
  }());
}

}  // namespace
