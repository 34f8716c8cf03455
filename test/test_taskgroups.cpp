// TaskGroup and ExceptionGroup: waiting for children, the first failure
// cancelling siblings and body, errors reported together, parent
// cancellation (ported from CPython's test_taskgroups.py). (Nesting and the
// group's rules: test_taskgroups_nesting.cpp.)
#include <doctest/doctest.h>

#include "taskgroups_support.hpp"
#include "test_support.hpp"

#include <asyncuv/asyncuv.hpp>

#include <algorithm>
#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

using namespace asyncuv;
using namespace std::chrono_literals;

using support::awaited;
using support::nap;
using support::now;
using support::value_after;
using namespace taskgroups_support;

namespace {

TEST_CASE("the group waits for every child (test_taskgroup_01/02)") {
  run([]() -> Coro<void> {
    Task<int> t1, t2, t3;
    const double t0 = now();
    co_await task_group([&](TaskGroup& g) -> Coro<void> {
      t1 = g.create_task(value_after(42, 10ms));
      t2 = g.create_task(value_after(11, 20ms));
      co_await sleep(15ms);
      t3 = g.create_task(value_after(7, 20ms));
    });
    CHECK(now() - t0 >= 0.034);
    CHECK(t1.result() == 42);
    CHECK(t2.result() == 11);
    CHECK(t3.result() == 7);
  }());
}

TEST_CASE("the scope returns the body's value; a Coro body and a user-owned group") {
  run([]() -> Coro<void> {
    int v = co_await task_group([](TaskGroup& g) -> Coro<int> {
      auto t = g.create_task(value_after(2, 1ms));
      co_return 40 + co_await t;
    });
    CHECK(v == 42);
    TaskGroup tg;
    CHECK(tg.repr() == "<TaskGroup>");
    Task<int> child;
    int w = co_await tg.run([](TaskGroup* g, Task<int>* child) -> Coro<int> {
      CHECK(g->repr() == "<TaskGroup entered>");
      *child = g->create_task(value_after(5, 2ms));
      CHECK(g->repr() == "<TaskGroup tasks=1 entered>");
      co_return 1;
    }(&tg, &child));
    CHECK(w == 1);
    CHECK(child.result() == 5);
    CHECK(tg.repr() == "<TaskGroup entered>");
  }());
}

TEST_CASE("cancelling one child explicitly is not an error (test_taskgroup_03)") {
  run([]() -> Coro<void> {
    Task<int> t1, t2;
    co_await task_group([&](TaskGroup& g) -> Coro<void> {
      t1 = g.create_task(value_after(42, 1s));
      co_await sleep(2ms);
      t1.cancel();
      t2 = g.create_task(value_after(11, 5ms));
    });
    CHECK(t1.cancelled());
    CHECK(t2.result() == 11);
  }());
}

TEST_CASE("a failing child cancels its siblings and the body (test_cancel_children_on_child_error)") {
  run([]() -> Coro<void> {
    int num = 0, t2_cancel = 0, runner_cancel = 0;
    Task<void> t2;
    auto runner = create_task([](int* num, int* t2_cancel, int* runner_cancel, Task<void>* t2) -> Coro<void> {
      co_await task_group([&](TaskGroup& g) -> Coro<void> {
        g.create_task(crash_after(5ms));
        g.create_task(crash_after(5ms));
        g.create_task(crash_after(5ms));
        *t2 = g.create_task(count_cancel(t2_cancel, 5s));
        co_await count_cancel(runner_cancel, 10s);
      });
      *num += 10;
    }(&num, &t2_cancel, &runner_cancel, &t2));
    CHECK(co_await outcome(awaited(runner)) == "EG{ZeroDivisionError}");
    CHECK(num == 0);
    CHECK(t2_cancel == 1);
    CHECK(runner_cancel == 1);
    CHECK(t2.cancelled());
    CHECK(runner.cancelling() == 0);  // the group took its cancel back
  }());
}

TEST_CASE("several failures are reported together, in completion order") {
  run([]() -> Coro<void> {
    try {
      co_await task_group([](TaskGroup& g) -> Coro<void> {
        g.create_task([]() -> Coro<void> {  // cleans up slowly, then fails
          try {
            co_await sleep(1s);
          } catch (const CancelledError&) {
          }
          co_await sleep(2ms);
          throw std::out_of_range("second");
        }());
        g.create_task([]() -> Coro<void> {
          co_await sleep(1ms);
          throw std::invalid_argument("first");
        }());
        // This one swallows the cancel and fails in its place.
        g.create_task(crash_in_finally(1s));
        co_return;
      });
      FAIL("no ExceptionGroup");
    } catch (const ExceptionGroup& eg) {
      CHECK(std::string(eg.what()) == "unhandled errors in a TaskGroup (3 sub-exceptions)");
      CHECK(eg.message() == "unhandled errors in a TaskGroup");
      REQUIRE(eg.exceptions().size() == 3);
      CHECK(describe(eg.exceptions()[0]) == "first");
      CHECK(describe(eg.exceptions()[1]) == "ZeroDivisionError");
      CHECK(describe(eg.exceptions()[2]) == "second");
    }
  }());
}

TEST_CASE("cancelling the parent cancels the children and the body (test_cancellation, test_taskgroup_07/22)") {
  run([]() -> Coro<void> {
    int num = 0;
    auto r = create_task([](int* num) -> Coro<void> {
      co_await task_group([num](TaskGroup& g) -> Coro<void> {
        for (int i = 0; i < 5; ++i) g.create_task(count_cancel(num, 5s));
        int body = 0;
        try {
          co_await count_cancel(&body, 10s);
        } catch (const CancelledError&) {
          *num += 10 * body;
          throw;
        }
      });
    }(&num));
    co_await sleep(5ms);
    CHECK_FALSE(r.done());
    r.cancel();
    CHECK(co_await outcome(awaited(r)) == "CancelledError");
    CHECK(num == 15);
    // Cancelled while the group waits in its exit (the body is done).
    auto r2 = create_task(task_group([](TaskGroup& g) -> Coro<void> {
      g.create_task(value_after(42, 1s));
      g.create_task(value_after(11, 2s));
      co_return;
    }));
    co_await sleep(5ms);
    r2.cancel();
    CHECK(co_await outcome(awaited(r2)) == "CancelledError");
    CHECK(r2.cancelled());
  }());
}

TEST_CASE("an empty group whose parent is cancelled raises CancelledError (test_taskgroup_17)") {
  run([]() -> Coro<void> {
    int num = 0;
    auto r = create_task(task_group([&num](TaskGroup&) -> Coro<void> { co_await count_cancel(&num, 10s); }));
    co_await sleep(2ms);
    r.cancel();
    CHECK(co_await outcome(awaited(r)) == "CancelledError");
    CHECK(num == 1);
  }());
}

TEST_CASE("failures beat the parent's cancellation (test_taskgroup_08/18)") {
  run([]() -> Coro<void> {
    auto r = create_task(task_group([](TaskGroup& g) -> Coro<void> {
      for (int i = 0; i < 5; ++i) g.create_task(crash_in_finally(10s));
      co_await sleep(10s);
    }));
    co_await sleep(5ms);
    r.cancel();
    CHECK(co_await outcome(awaited(r)) == "EG{ZeroDivisionError}");
    // The body turns the CancelledError into another error.
    auto r2 = create_task(task_group([](TaskGroup&) -> Coro<void> {
      bool cancelled = false;
      try {
        co_await sleep(10s);
      } catch (const CancelledError&) {
        cancelled = true;
      }
      if (cancelled) throw MyExc();
    }));
    co_await sleep(2ms);
    r2.cancel();
    CHECK(co_await outcome(awaited(r2)) == "EG{MyExc}");
  }());
}

TEST_CASE("a failing body cancels the children (test_taskgroup_09/10)") {
  run([]() -> Coro<void> {
    Task<int> t1, t2;
    CHECK(co_await outcome(task_group([&](TaskGroup& g) -> Coro<void> {
      t1 = g.create_task(value_after(42, 1s));
      t2 = g.create_task(value_after(11, 2s));
      co_await sleep(2ms);
      throw ZeroDivisionError();
    })) == "EG{ZeroDivisionError}");
    CHECK(t1.cancelled());
    CHECK(t2.cancelled());
    CHECK(co_await outcome(task_group([&](TaskGroup& g) -> Coro<void> {
      t1 = g.create_task(value_after(42, 1s));
      throw ZeroDivisionError();
      co_return;
    })) == "EG{ZeroDivisionError}");
    CHECK(t1.cancelled());
  }());
}

}  // namespace
