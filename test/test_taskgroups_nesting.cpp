// TaskGroup: nested groups, a crash while the cancelled body cleans up, the
// body's own error, children adding children, asyncio 3.11's create_task
// rules and state errors, a timeout around a group, and run()'s shutdown
// (ported from CPython's test_taskgroups.py).
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
using support::value_after;
using namespace taskgroups_support;

namespace {

TEST_CASE("nested groups: an inner group's ExceptionGroup is one error of the outer (test_taskgroup_11/12)") {
  run([]() -> Coro<void> {
    auto r = create_task(task_group([](TaskGroup& g1) -> Coro<void> {
      g1.create_task(nap(10s));
      co_await task_group([](TaskGroup& g2) -> Coro<void> {
        for (int i = 0; i < 5; ++i) g2.create_task(crash_in_finally(10s));
        co_await sleep(10s);
      });
    }));
    co_await sleep(5ms);
    r.cancel();
    CHECK(co_await outcome(awaited(r)) == "EG{EG{ZeroDivisionError}}");
  }());
}

TEST_CASE("nested groups: which crash comes first decides the shape (test_taskgroup_13/14)") {
  run([]() -> Coro<void> {
    // The outer child crashes first: the inner group is cancelled, not failed.
    CHECK(co_await outcome(task_group([](TaskGroup& g1) -> Coro<void> {
      g1.create_task(crash_after(2ms));
      co_await task_group([](TaskGroup& g2) -> Coro<void> {
        g2.create_task(crash_after(10s));
        co_return;
      });
    })) == "EG{ZeroDivisionError}");
    // The inner child crashes first.
    CHECK(co_await outcome(task_group([](TaskGroup& g1) -> Coro<void> {
      g1.create_task(crash_after(10s));
      co_await task_group([](TaskGroup& g2) -> Coro<void> {
        g2.create_task(crash_after(2ms));
        co_return;
      });
    })) == "EG{EG{ZeroDivisionError}}");
  }());
}

TEST_CASE("a child crashes while the cancelled body cleans up (test_taskgroup_15/16)") {
  run([]() -> Coro<void> {
    auto body = [](TaskGroup& g) -> Coro<void> {
      g.create_task(crash_after(15ms));
      bool cancelled = false;
      try {
        co_await sleep(10s);
      } catch (const CancelledError&) {
        cancelled = true;
      }
      if (cancelled) {
        co_await sleep(30ms);
        throw CancelledError();
      }
    };
    auto r = create_task(task_group(body));
    co_await sleep(5ms);
    r.cancel();
    CHECK(co_await outcome(awaited(r)) == "EG{ZeroDivisionError}");
    // The same, one task further away.
    auto r2 = create_task([](decltype(body) b) -> Coro<void> {
      auto t = create_task(task_group(b));
      co_await t;
    }(body));
    co_await sleep(5ms);
    r2.cancel();
    CHECK(co_await outcome(awaited(r2)) == "EG{ZeroDivisionError}");
  }());
}

TEST_CASE("the body's own error joins the children's (test_taskgroup_19, _context_manager_exit_raises)") {
  run([]() -> Coro<void> {
    auto nested = []() -> Coro<void> {
      try {
        co_await sleep(10s);
      } catch (const CancelledError&) {
      }
      throw MyExc();
    };
    CHECK(co_await outcome(task_group([&](TaskGroup& g) -> Coro<void> {
      g.create_task(crash_after(2ms));
      co_await nested();
    })) == "EG{MyExc,ZeroDivisionError}");
    CHECK(current_task().cancelling() == 0);
    try {
      co_await task_group([&](TaskGroup& g) -> Coro<void> {
        g.create_task([]() -> Coro<void> {
          throw MyExc();
          co_return;
        }());
        co_await nested();
      });
    } catch (const ExceptionGroup& eg) {
      CHECK(eg.exceptions().size() == 2);
    }
    CHECK(current_task().cancelling() == 0);
  }());
}

TEST_CASE("finished children are dropped; children may add children (test_taskgroup_23/24/25)") {
  run([]() -> Coro<void> {
    co_await task_group([](TaskGroup& g) -> Coro<void> {
      for (int i = 0; i < 10; ++i) {
        co_await sleep(1ms);
        g.create_task(nap(3ms));
      }
      co_await sleep(20ms);
      CHECK(g.repr() == "<TaskGroup entered>");
    });
    int spawned = 0;
    co_await task_group([&](TaskGroup& g) -> Coro<void> {
      g.create_task([](TaskGroup& g, int* spawned) -> Coro<void> {
        co_await sleep(2ms);
        g.create_task([](int* s) -> Coro<void> {
          co_await sleep(2ms);
          ++*s;
        }(spawned));
      }(g, &spawned));
      co_return;
    });
    CHECK(spawned == 1);
    // Hydras keep spawning until Hercules fails and the group cancels them all.
    int nhydras = 0;
    struct Hydra {
      static Coro<void> run(TaskGroup& g, int* n) {
        ++*n;
        co_await sleep(1ms);
        if (*n > 100000) co_return;  // (never: Hercules wins long before)
        g.create_task(run(g, n));
        g.create_task(run(g, n));
      }
    };
    CHECK(co_await outcome(task_group([&](TaskGroup& g) -> Coro<void> {
      g.create_task(Hydra::run(g, &nhydras));
      g.create_task([](int* n) -> Coro<void> {
        while (*n < 10) co_await sleep(1ms);
        throw ZeroDivisionError();
      }(&nhydras));
      co_return;
    })) == "EG{ZeroDivisionError}");
    CHECK(nhydras >= 10);
  }());
}

TEST_CASE("many short-lived children in one group") {
  run([]() -> Coro<void> {
    int done = 0;
    co_await task_group([&](TaskGroup& g) -> Coro<void> {
      for (int i = 0; i < 2000; ++i) {
        g.create_task([](int* d) -> Coro<void> {
          co_await sleep(0);
          ++*d;
        }(&done));
        if (i % 100 == 0) co_await sleep(0);
      }
      co_return;
    });
    CHECK(done == 2000);
  }());
}

TEST_CASE("create_task names, and refuses once the group shuts down (test_taskgroup_no_create_task_after_failure)") {
  run([]() -> Coro<void> {
    std::string refused;
    CHECK(co_await outcome(task_group([&](TaskGroup& g) -> Coro<void> {
      auto t = g.create_task(nap(0ms), "yolo");
      CHECK(t.get_name() == "yolo");
      g.create_task(crash_after(1ms));
      g.create_task([](TaskGroup& g, std::string* refused) -> Coro<void> {
        try {
          co_await sleep(1s);
        } catch (const CancelledError&) {
          try {
            g.create_task(nap(0ms));
          } catch (const RuntimeError& e) {
            *refused = e.what();
          }
        }
      }(g, &refused));
      co_return;
    })) == "EG{ZeroDivisionError}");
    CHECK(refused == "TaskGroup <TaskGroup tasks=1 errors=1 cancelling> is shutting down");
  }());
}

TEST_CASE("TaskGroup state errors have asyncio's messages") {
  run([]() -> Coro<void> {
    TaskGroup tg;
    CHECK_THROWS_WITH_AS(tg.create_task(nap(0ms)), "TaskGroup <TaskGroup> has not been entered", RuntimeError);
    co_await tg.run([](TaskGroup& g) -> Coro<void> {
      CHECK(co_await outcome(g.run([](TaskGroup&) -> Coro<void> { co_return; })) ==
            "TaskGroup <TaskGroup entered> has already been entered");
    });
    CHECK(co_await outcome(tg.run([](TaskGroup&) -> Coro<void> { co_return; })) ==
          "TaskGroup <TaskGroup entered> has already been entered");
    CHECK_THROWS_WITH_AS(tg.create_task(nap(0ms)), "TaskGroup <TaskGroup entered> is finished", RuntimeError);
  }());
  TaskGroup outside;
  CHECK_THROWS_WITH_AS(outside.enter(), "no running event loop", RuntimeError);
  CHECK_THROWS_WITH_AS(outside.create_task(nap(0ms)), "TaskGroup <TaskGroup> has not been entered", RuntimeError);
  CHECK_THROWS_AS(ExceptionGroup("x", {}), std::invalid_argument);
  ExceptionGroup one("x", {std::make_exception_ptr(MyExc())});
  CHECK(std::string(one.what()) == "x (1 sub-exception)");
}

TEST_CASE("a timeout around a group: expiry cancels everything and becomes TimeoutError") {
  run([]() -> Coro<void> {
    int cancelled = 0;
    CHECK(co_await outcome(timeout(5ms, task_group([&](TaskGroup& g) -> Coro<void> {
      g.create_task(count_cancel(&cancelled, 10s));
      g.create_task(count_cancel(&cancelled, 10s));
      co_await count_cancel(&cancelled, 10s);
    }))) == "TimeoutError");
    CHECK(cancelled == 3);
    // A child failing inside an unexpired timeout is not a timeout.
    CHECK(co_await outcome(timeout(10s, task_group([](TaskGroup& g) -> Coro<void> {
      g.create_task(crash_after(1ms));
      co_await sleep(10s);
    }))) == "EG{ZeroDivisionError}");
    CHECK(current_task().cancelling() == 0);
  }());
}

TEST_CASE("run() shutdown cancels a task waiting in a group; nothing leaks") {
  int cancelled = 0;
  run([](int* n) -> Coro<void> {
    create_task(task_group([n](TaskGroup& g) -> Coro<void> {
      g.create_task(count_cancel(n, 10s));
      co_await count_cancel(n, 10s);
    }));
    co_await sleep(1ms);
  }(&cancelled));
  CHECK(cancelled == 2);
}

}  // namespace
