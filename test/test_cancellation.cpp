// Cancellation, asyncio's rules: where CancelledError lands, what catching it
// does, cancelling before the first step, self-cancel, cancelling through an
// awaited task and through a gather, and the error type hierarchy.
#include <doctest/doctest.h>

#include "test_support.hpp"

#include <asyncuv/asyncuv.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>


using namespace asyncuv;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Sleeps `d`, logging how it ends; `rethrow` decides what a cancel does.
Coro<int> worker(Log* log, std::string name, std::chrono::milliseconds d, bool rethrow = true) {
  try {
    co_await sleep(d);
  } catch (const CancelledError&) {
    log->push_back(name + " cancelled");
    if (rethrow) throw;
    co_return -1;
  }
  log->push_back(name + " finished");
  co_return 1;
}

TEST_CASE("cancelling a sleeping task raises CancelledError at the sleep") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto t = create_task(worker(log, "w", 10s));
    co_await sleep(1ms);
    auto t0 = Clock::now();
    CHECK(t.cancel());
    CHECK_FALSE(t.done());
    bool cancelled = false;
    try {
      co_await t;
    } catch (const CancelledError&) {
      cancelled = true;
    }
    CHECK(cancelled);
    CHECK(t.cancelled());
    CHECK(Clock::now() - t0 < 5s);
  }(&log));
  CHECK(log == Log{"w cancelled"});
}

TEST_CASE("a task that catches CancelledError may return a value instead") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto t = create_task(worker(log, "w", 10s, false));
    co_await sleep(1ms);
    t.cancel();
    CHECK(co_await t == -1);
    CHECK(t.done());
    CHECK_FALSE(t.cancelled());
    CHECK(t.result() == -1);
  }(&log));
  CHECK(log == Log{"w cancelled"});
}

TEST_CASE("a task that catches CancelledError, cleans up asynchronously and re-raises ends cancelled") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto t = create_task([](Log* log) -> Coro<void> {
      // (C++ forbids co_await inside a handler: keep the error, await after.)
      std::exception_ptr cancelled;
      try {
        co_await sleep(10s);
      } catch (const CancelledError&) {
        log->push_back("cleanup start");
        cancelled = std::current_exception();
      }
      co_await sleep(2ms);  // awaiting again while cancelled is fine
      log->push_back("cleanup end");
      std::rethrow_exception(cancelled);
    }(log));
    co_await sleep(1ms);
    t.cancel();
    try {
      co_await t;
    } catch (const CancelledError&) {
      log->push_back("main saw cancel");
    }
    CHECK(t.cancelled());
  }(&log));
  CHECK(log == Log{"cleanup start", "cleanup end", "main saw cancel"});
}

TEST_CASE("a task cancelled before it first runs never runs its body") {
  bool ran = false;
  run([](bool* ran) -> Coro<void> {
    auto t = create_task([](bool* ran) -> Coro<int> {
      *ran = true;
      co_return 1;
    }(ran));
    CHECK(t.cancel());
    CHECK(t.cancel());  // still pending: asyncio returns True again
    CHECK_FALSE(t.done());
    bool cancelled = false;
    try {
      co_await t;
    } catch (const CancelledError&) {
      cancelled = true;
    }
    CHECK(cancelled);
    CHECK(t.cancelled());
  }(&ran));
  CHECK_FALSE(ran);
}

TEST_CASE("self-cancel: the task runs on to its next suspension point") {
  Log log;
  auto self = std::make_shared<Task<int>>();
  run([](Log* log, std::shared_ptr<Task<int>> self) -> Coro<void> {
    *self = create_task([](Log* log, std::shared_ptr<Task<int>> self) -> Coro<int> {
      co_await sleep(0);
      CHECK(self->cancel());
      log->push_back("still running");
      try {
        co_await sleep(0);
      } catch (const CancelledError&) {
        log->push_back("cancelled at suspension");
        throw;
      }
      co_return 0;
    }(log, self));
    try {
      co_await *self;
    } catch (const CancelledError&) {
      log->push_back("main saw cancel");
    }
    CHECK(self->cancelled());
  }(&log, self));
  *self = Task<int>();
  CHECK(log == Log{"still running", "cancelled at suspension", "main saw cancel"});
}

TEST_CASE("self-cancel then return without suspending still ends cancelled") {
  auto self = std::make_shared<Task<int>>();
  bool returned = false;
  run([](std::shared_ptr<Task<int>> self, bool* returned) -> Coro<void> {
    *self = create_task([](std::shared_ptr<Task<int>> self, bool* returned) -> Coro<int> {
      co_await sleep(0);
      self->cancel();
      *returned = true;
      co_return 42;
    }(self, returned));
    try {
      co_await *self;
    } catch (const CancelledError&) {
    }
  }(self, &returned));
  CHECK(returned);
  CHECK(self->done());
  CHECK(self->cancelled());
  CHECK_THROWS_AS(self->result(), CancelledError);
  *self = Task<int>();
}

TEST_CASE("cancelling a task that awaits another task cancels that task too") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto inner = create_task(worker(log, "inner", 10s));
    auto outer = create_task([](Log* log, Task<int> inner) -> Coro<int> {
      try {
        co_return co_await inner;
      } catch (const CancelledError&) {
        log->push_back("outer cancelled");
        throw;
      }
    }(log, inner));
    co_await sleep(1ms);
    CHECK(outer.cancel());
    try {
      co_await outer;
    } catch (const CancelledError&) {
      log->push_back("main saw cancel");
    }
    CHECK(outer.cancelled());
    CHECK(inner.cancelled());
  }(&log));
  // The awaited task's handler runs before the awaiter's.
  CHECK(log == Log{"inner cancelled", "outer cancelled", "main saw cancel"});
}

TEST_CASE("if the awaited task swallows the cancel, its awaiter gets the value") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto inner = create_task(worker(log, "inner", 10s, false));
    auto outer = create_task([](Task<int> inner) -> Coro<int> { co_return co_await inner * 10; }(inner));
    co_await sleep(1ms);
    CHECK(outer.cancel());
    CHECK(co_await outer == -10);  // as asyncio: the cancel was handed on
    CHECK_FALSE(outer.cancelled());
  }(&log));
}

TEST_CASE("cancelling an awaited task raises CancelledError in its awaiter") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto inner = create_task(worker(log, "inner", 10s));
    auto outer = create_task([](Log* log, Task<int> inner) -> Coro<int> {
      try {
        co_return co_await inner;
      } catch (const CancelledError&) {
        log->push_back("outer got CancelledError");
        throw;
      }
    }(log, inner));
    co_await sleep(1ms);
    inner.cancel();
    try {
      co_await outer;
    } catch (const CancelledError&) {
    }
    CHECK(outer.cancelled());
  }(&log));
  CHECK(log == Log{"inner cancelled", "outer got CancelledError"});
}

TEST_CASE("cancelling a task in a gather cancels every child; their handlers run first") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto waiter = create_task([](Log* log) -> Coro<void> {
      try {
        co_await gather(worker(log, "a", 10s), worker(log, "b", 10s), worker(log, "c", 10s));
      } catch (const CancelledError&) {
        log->push_back("waiter cancelled");
        throw;
      }
    }(log));
    co_await sleep(1ms);
    CHECK(waiter.cancel());
    try {
      co_await waiter;
    } catch (const CancelledError&) {
      log->push_back("main saw cancel");
    }
    CHECK(waiter.cancelled());
  }(&log));
  CHECK(log == Log{"a cancelled", "b cancelled", "c cancelled", "waiter cancelled", "main saw cancel"});
}

TEST_CASE("a cancelled gather raises as soon as one child ends cancelled (asyncio)") {
  // A child that resists (cleans up slowly) does not hold the awaiter back;
  // it keeps running and finishes its cleanup later.
  Log log;
  run([](Log* log) -> Coro<void> {
    auto stubborn = [](Log* log) -> Coro<void> {
      std::exception_ptr cancelled;
      try {
        co_await sleep(10s);
      } catch (const CancelledError&) {
        log->push_back("stubborn caught");
        cancelled = std::current_exception();
      }
      co_await sleep(20ms);
      log->push_back("stubborn done");
      std::rethrow_exception(cancelled);
    };
    auto waiter = create_task([](Log* log, auto stubborn) -> Coro<void> {
      try {
        co_await gather(worker(log, "quick", 10s), stubborn(log));
      } catch (const CancelledError&) {
        log->push_back("waiter cancelled");
        throw;
      }
    }(log, stubborn));
    co_await sleep(1ms);
    waiter.cancel();
    try {
      co_await waiter;
    } catch (const CancelledError&) {
      log->push_back("main saw cancel");
    }
    co_await sleep(40ms);
  }(&log));
  CHECK(log == Log{"quick cancelled", "stubborn caught", "waiter cancelled", "main saw cancel", "stubborn done"});
}

TEST_CASE("a cancelled gather whose children all swallow the cancel still raises CancelledError") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto waiter = create_task([](Log* log) -> Coro<int> {
      auto [a, b] = co_await gather(worker(log, "a", 10s, false), worker(log, "b", 10s, false));
      co_return a + b;
    }(log));
    co_await sleep(1ms);
    waiter.cancel();
    bool cancelled = false;
    try {
      co_await waiter;
    } catch (const CancelledError&) {
      cancelled = true;
    }
    CHECK(cancelled);
  }(&log));
  CHECK(log == Log{"a cancelled", "b cancelled"});
}

TEST_CASE("cancelling a gather wrapped in a task cancels its children") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto g = create_task(gather(worker(log, "x", 10s), worker(log, "y", 10s)));
    co_await sleep(1ms);
    g.cancel();
    try {
      co_await g;
    } catch (const CancelledError&) {
      log->push_back("gather cancelled");
    }
    CHECK(g.cancelled());
  }(&log));
  CHECK(log == Log{"x cancelled", "y cancelled", "gather cancelled"});
}

TEST_CASE("a cancel arriving after the timer fired but before the step still lands") {
  Log log;
  run([](Log* log) -> Coro<void> {
    auto t = create_task(worker(log, "t", 1ms));
    co_await sleep(0);  // t is now sleeping
    // t's deadline passes while we hold the loop; we were scheduled first
    // (sleep(0)), so we run before t's step and cancel a woken task.
    auto until = Clock::now() + 5ms;
    while (Clock::now() < until) {
    }
    co_await sleep(0);
    if (!t.done()) {
      CHECK(t.cancel());
      try {
        co_await t;
      } catch (const CancelledError&) {
      }
      CHECK(t.cancelled());
      CHECK(*log == Log{"t cancelled"});
    }
  }(&log));
  CHECK(log.size() == 1);
}

TEST_CASE("CancelledError is not a std::exception") {
  static_assert(!std::is_base_of_v<std::exception, CancelledError>);
  bool by_exception = false, by_cancelled = false;
  try {
    try {
      throw CancelledError{};
    } catch (const std::exception&) {
      by_exception = true;
    }
  } catch (const CancelledError& e) {
    by_cancelled = true;
    CHECK(std::string(e.what()) == "CancelledError");
  }
  CHECK_FALSE(by_exception);
  CHECK(by_cancelled);
  CHECK(std::string(CancelledError("why").what()) == "why");

  // Inside a task too: catch (const std::exception&) cannot swallow a cancel.
  Log log;
  run([](Log* log) -> Coro<void> {
    auto t = create_task([](Log* log) -> Coro<void> {
      try {
        co_await sleep(10s);
      } catch (const std::exception&) {
        log->push_back("swallowed");
      }
      log->push_back("after");
    }(log));
    co_await sleep(1ms);
    t.cancel();
    try {
      co_await t;
    } catch (const CancelledError&) {
      log->push_back("cancelled");
    }
  }(&log));
  CHECK(log == Log{"cancelled"});
}

TEST_CASE("the error types follow asyncio's hierarchy and are user-constructible") {
  static_assert(std::is_base_of_v<std::runtime_error, TimeoutError>);
  static_assert(std::is_base_of_v<std::runtime_error, RuntimeError>);
  static_assert(std::is_base_of_v<std::logic_error, InvalidStateError>);
  static_assert(!std::is_base_of_v<std::exception, CancelledError>);
  CHECK(std::string(TimeoutError{}.what()) == "TimeoutError");
  CHECK(std::string(TimeoutError("late").what()) == "late");
  CHECK(std::string(RuntimeError("r").what()) == "r");
  CHECK(std::string(InvalidStateError("s").what()) == "s");
  CHECK(std::string(CancelledError{}.what()) == "CancelledError");
  // Polymorphic what() through the base.
  std::unique_ptr<CancelledError> p = std::make_unique<CancelledError>("m");
  CHECK(std::string(p->what()) == "m");
  CHECK_THROWS_AS(throw TimeoutError{}, std::exception);
  CHECK_THROWS_AS(throw InvalidStateError("x"), std::logic_error);
}

TEST_CASE("a CancelledError thrown by the body itself ends the task cancelled") {
  run([]() -> Coro<void> {
    auto t = create_task([]() -> Coro<int> {
      co_await sleep(0);
      throw CancelledError("by hand");
    }());
    try {
      co_await t;
    } catch (const CancelledError&) {
    }
    CHECK(t.cancelled());
  }());
}

}  // namespace
